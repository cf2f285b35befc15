"""Tests of skelcl.skeleton.convert_to_h36m17 against hand-written midpoint rules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import devices
from skelcl.skeleton import (
    BODY25,
    BODY25B,
    COCO17,
    DEFAULT_HEAD_EXTENSION,
    H36M17,
    MPI_INF_3DHP17,
    conversion_matrix,
    convert_to_h36m17,
)

finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)
H = {n: i for i, n in enumerate(H36M17.names)}


def _mid(*xs):
    return sum(xs) / len(xs)


def _expected_body25b(x):
    """Hand-written BODY_25B -> H36M-17 (data README rule), numpy, by BODY_25B index."""
    nose, leye, reye, lear, rear, lsh, rsh, lel, rel, lwr, rwr, lhip, rhip, lkn, rkn, lan, ran, \
        neck, head = (x[..., i, :] for i in range(19))
    pelvis, thorax = _mid(lhip, rhip), _mid(lsh, rsh)
    out = [pelvis, rhip, rkn, ran, lhip, lkn, lan, _mid(pelvis, thorax), thorax, nose, head,
           lsh, lel, lwr, rsh, rel, rwr]
    return np.stack(out, axis=-2)


def _expected_coco(x, k):
    nose, leye, reye, lear, rear, lsh, rsh, lel, rel, lwr, rwr, lhip, rhip, lkn, rkn, lan, ran = (
        x[..., i, :] for i in range(17))
    pelvis, thorax = _mid(lhip, rhip), _mid(lsh, rsh)
    face = _mid(leye, reye, lear, rear)
    head = face + k * (face - thorax)
    out = [pelvis, rhip, rkn, ran, lhip, lkn, lan, _mid(pelvis, thorax), thorax, nose, head,
           lsh, lel, lwr, rsh, rel, rwr]
    return np.stack(out, axis=-2)


@given(data=st.data())
def test_body25b_matches_hand_computed_midpoints(data):
    c = data.draw(st.sampled_from([2, 3]))
    shape = data.draw(st.sampled_from([(), (3,), (2, 2)]))
    x = data.draw(arrays(np.float64, shape + (25, c), elements=finite))
    res = convert_to_h36m17(x, "body25b")
    assert res.keypoints.shape == shape + (17, c) and res.confidence is None
    np.testing.assert_allclose(res.keypoints.numpy(), _expected_body25b(x), rtol=1e-12, atol=1e-9)
    assert res.synthesized.tolist() == [n in ("pelvis", "spine", "thorax") for n in H36M17.names]


@given(data=st.data(), k=st.floats(0.0, 2.0))
def test_coco_matches_hand_computed_rule(data, k):
    x = data.draw(arrays(np.float64, (2, 17, 3), elements=finite))
    res = convert_to_h36m17(torch.from_numpy(x), "coco17", head_extension=k)
    np.testing.assert_allclose(res.keypoints.numpy(), _expected_coco(x, k), rtol=1e-10, atol=1e-7)
    assert res.synthesized.tolist() == [
        n in ("pelvis", "spine", "thorax", "head") for n in H36M17.names]


def test_body25_uses_hips_not_midhip_and_names():
    x = torch.randn(25, 2, dtype=torch.float64)
    res = convert_to_h36m17(x, BODY25).keypoints
    idx = BODY25.index
    torch.testing.assert_close(res[H["pelvis"]], (x[idx("LHip")] + x[idx("RHip")]) / 2)
    torch.testing.assert_close(res[H["r_wrist"]], x[idx("RWrist")])
    torch.testing.assert_close(res[H["neck_nose"]], x[idx("Nose")])
    face = (x[idx("LEye")] + x[idx("REye")] + x[idx("LEar")] + x[idx("REar")]) / 4
    thorax = (x[idx("LShoulder")] + x[idx("RShoulder")]) / 2
    torch.testing.assert_close(res[H["head"]], face + DEFAULT_HEAD_EXTENSION * (face - thorax))


def test_mpi_and_identity_by_name():
    x = torch.randn(4, 17, 3)
    assert torch.equal(convert_to_h36m17(x, H36M17).keypoints, x)
    res = convert_to_h36m17(x, MPI_INF_3DHP17)
    mapping = {"thorax": "neck", "neck_nose": "head", "head": "head_top"}
    for i, n in enumerate(H36M17.names):
        assert torch.equal(res.keypoints[:, i], x[:, MPI_INF_3DHP17.index(mapping.get(n, n))])
    assert not res.synthesized.any()


@pytest.mark.parametrize("layout", [COCO17, BODY25, BODY25B])
def test_min_confidence_rule(layout):
    g = torch.Generator().manual_seed(0)
    conf = torch.rand(5, layout.num_joints, generator=g)
    res = convert_to_h36m17(torch.randn(5, layout.num_joints, 2, generator=g), layout, conf)
    c = lambda *names: torch.stack([conf[:, layout.index(n)] for n in names]).amin(0)  # noqa: E731
    left, right = ("left_", "right_") if layout is COCO17 else ("L", "R")
    hips = (left + "hip", right + "hip") if layout is COCO17 else ("LHip", "RHip")
    sh = (left + "shoulder", right + "shoulder") if layout is COCO17 else ("LShoulder", "RShoulder")
    torch.testing.assert_close(res.confidence[:, H["pelvis"]], c(*hips))
    torch.testing.assert_close(res.confidence[:, H["thorax"]], c(*sh))
    torch.testing.assert_close(res.confidence[:, H["spine"]], c(*hips, *sh))
    torch.testing.assert_close(res.confidence[:, H["r_hip"]], c(hips[1]))
    # Copied joints keep their confidence; synthesised ones are never above any source.
    assert res.confidence.shape == (5, 17)


def test_rows_are_affine_and_equivariant():
    for layout in (COCO17, BODY25, BODY25B, MPI_INF_3DHP17):
        w = conversion_matrix(layout)
        torch.testing.assert_close(w.sum(1), torch.ones(17, dtype=torch.float64))
    # Translation equivariance on real detections-shaped data.
    x = torch.randn(3, 25, 2, dtype=torch.float64)
    shift = torch.tensor([5.0, -2.0], dtype=torch.float64)
    a = convert_to_h36m17(x + shift, BODY25B).keypoints
    torch.testing.assert_close(a, convert_to_h36m17(x, BODY25B).keypoints + shift)


def test_nan_in_unused_joint_stays_local():
    x = torch.randn(25, 2)
    x[BODY25B.index("LBigToe")] = float("nan")  # not used by the conversion
    x[BODY25B.index("LWrist")] = float("nan")   # used only by l_wrist
    out = convert_to_h36m17(x, BODY25B).keypoints
    nan = torch.isnan(out).any(-1)
    assert nan.tolist() == [n == "l_wrist" for n in H36M17.names]


def test_real_pose2sim_detections(data_dir):
    d = np.load(data_dir / "pose2sim" / "pose2sim_balancing_openpose_body25b.npz")
    kp = d["keypoints_2d"][:, :, 0]  # (cams, frames, 25, 3), first person slot
    res = convert_to_h36m17(kp[..., :2], BODY25B, kp[..., 2])
    assert res.keypoints.shape == kp.shape[:2] + (17, 2)
    # Head top above the pelvis in the image (y down) wherever both are confident.
    ok = (res.confidence[..., H["head"]] > 0.3) & (res.confidence[..., H["pelvis"]] > 0.3)
    assert ok.sum() > 50
    up = res.keypoints[..., H["head"], 1] < res.keypoints[..., H["pelvis"], 1]
    assert up[ok].float().mean() > 0.95


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
@pytest.mark.parametrize("device", devices())
def test_dtype_device_grad(dtype, device):
    x = torch.randn(2, 17, 3, dtype=dtype, device=device, requires_grad=True)
    out = convert_to_h36m17(x, COCO17).keypoints
    assert out.dtype == dtype and out.device.type == device
    out.float().sum().backward()
    assert torch.isfinite(x.grad).all()


def test_errors():
    with pytest.raises(ValueError, match="keypoints"):
        convert_to_h36m17(torch.zeros(2, 17, 3), BODY25B)
    with pytest.raises(ValueError, match="keypoints"):
        convert_to_h36m17(torch.zeros(2, 25, 4), BODY25B)
    with pytest.raises(ValueError, match="confidence"):
        convert_to_h36m17(torch.zeros(2, 25, 2), BODY25B, torch.zeros(2, 24))
    with pytest.raises(ValueError, match="layout"):
        from skelcl.skeleton import Skeleton
        convert_to_h36m17(torch.zeros(2, 2), Skeleton("x", ("a", "b"), (-1, 0)))
    with pytest.raises(TypeError, match="keypoints"):
        convert_to_h36m17("no", COCO17)  # type: ignore[arg-type]
