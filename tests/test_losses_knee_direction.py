"""Body frame, signed knee bend and the backward-knee prior (skelcl.losses.knee_direction).

Oracles: hand-built poses with known geometry, a float64 NumPy re-implementation written from the
definition, scipy's random rotations for invariance, and real motion capture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from skelcl.losses import body_forward, knee_bend, knee_direction_loss
from skelcl.skeleton import COCO17, H36M17, MPI_INF_3DHP17

I = H36M17.index


def standing(bend: float = 0.2) -> torch.Tensor:
    """A person facing +z (left = +x, up = +y), knees pushed forward by ``bend`` (float64)."""
    p = torch.zeros(17, 3, dtype=torch.float64)
    for side, x in (("l", 0.15), ("r", -0.15)):
        p[I(f"{side}_hip")] = torch.tensor([x, 0.0, 0.0])
        p[I(f"{side}_knee")] = torch.tensor([x, -0.45, bend])
        p[I(f"{side}_ankle")] = torch.tensor([x, -0.9, 0.0])
        p[I(f"{side}_shoulder")] = torch.tensor([1.3 * x, 0.5, 0.0])
    p[I("thorax")] = torch.tensor([0.0, 0.5, 0.0])
    p[I("spine")] = torch.tensor([0.0, 0.25, 0.0])
    return p


def numpy_knee_bend(p: np.ndarray) -> np.ndarray:
    """The definition, in float64 NumPy, one pose (17, 3) -> (2,)."""
    j = {n: H36M17.index(n) for n in H36M17.names}
    lr = p[j["l_hip"]] - p[j["r_hip"]] + p[j["l_shoulder"]] - p[j["r_shoulder"]]
    up = (p[j["l_shoulder"]] + p[j["r_shoulder"]]) / 2 - (p[j["l_hip"]] + p[j["r_hip"]]) / 2
    f = np.cross(lr, up)
    f = f / np.linalg.norm(f)
    out = []
    for s in ("l", "r"):
        h, k, a = p[j[f"{s}_hip"]], p[j[f"{s}_knee"]], p[j[f"{s}_ankle"]]
        v, d = k - h, a - h
        perp = v - (v @ d) / (d @ d) * d
        out.append(perp @ f / (np.linalg.norm(k - h) + np.linalg.norm(a - k)))
    return np.array(out)


def test_hand_built_pose_faces_plus_z_and_bends_forward():
    p = standing(0.2)
    torch.testing.assert_close(body_forward(p), torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))
    leg = 2 * float(np.hypot(0.45, 0.2))
    torch.testing.assert_close(knee_bend(p), torch.full((2,), 0.2 / leg, dtype=torch.float64))
    assert float(knee_direction_loss(p)) == 0.0
    back = standing(-0.2)  # hyperextended knees
    torch.testing.assert_close(knee_direction_loss(back), torch.tensor(0.2 / leg, dtype=torch.float64))
    assert float(knee_direction_loss(standing(0.0))) == 0.0  # straight legs: no bend, no loss


@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 100.0))
def test_invariant_to_similarity_and_flips_under_reflection(seed, scale):
    rng = np.random.default_rng(seed)
    p = standing(0.1).numpy() + 0.05 * rng.standard_normal((17, 3))
    R = Rotation.random(random_state=seed).as_matrix()
    q = torch.from_numpy(scale * p @ R.T + rng.standard_normal(3))
    ref = numpy_knee_bend(p)
    np.testing.assert_allclose(knee_bend(q).numpy(), ref, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(knee_bend(torch.from_numpy(p)).numpy(), ref, rtol=1e-12, atol=1e-14)
    mirrored = q.clone()
    mirrored[..., 2] = -mirrored[..., 2]  # mirror image in depth
    np.testing.assert_allclose(knee_bend(mirrored).numpy(), -ref, rtol=1e-9, atol=1e-12)
    fwd = body_forward(q).numpy()
    assert abs(np.linalg.norm(fwd) - 1.0) < 1e-12


@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_dtypes_and_reduction(batch, dtype):
    g = torch.Generator().manual_seed(0)
    p = (standing(0.1) + 0.02 * torch.randn(*batch, 17, 3, generator=g, dtype=torch.float64)).to(dtype)
    assert knee_bend(p).shape == (*batch, 2) and knee_bend(p).dtype == dtype
    assert body_forward(p).shape == (*batch, 3)
    assert knee_direction_loss(p, reduction="none").shape == (*batch, 2)
    assert knee_direction_loss(p).shape == ()


def test_gradient_pushes_backward_knees_forward():
    p = standing(-0.1).requires_grad_(True)
    knee_direction_loss(p).backward()
    for k in ("l_knee", "r_knee"):
        assert float(p.grad[I(k), 2]) < 0  # descending the loss moves the knee towards +z
    assert torch.isfinite(p.grad).all()
    # degenerate torso (all joints at one point): zero bend, finite zero gradient
    z = torch.zeros(17, 3, dtype=torch.float64, requires_grad=True)
    knee_direction_loss(z, margin=0.1).backward()
    assert torch.isfinite(z.grad).all()


def test_margin_penalises_small_forward_bends():
    p = standing(0.05)
    b = float(knee_bend(p)[0])
    assert float(knee_direction_loss(p)) == 0.0
    assert float(knee_direction_loss(p, margin=0.1)) == pytest.approx(0.1 - b)


def test_other_layouts_by_joint_name():
    h36m = standing(0.2)
    for layout in (COCO17, MPI_INF_3DHP17):
        q = torch.zeros(layout.num_joints, 3, dtype=torch.float64)
        for role in ("hip", "knee", "ankle", "shoulder"):
            for s, long in (("l", "left"), ("r", "right")):
                name = f"{s}_{role}" if f"{s}_{role}" in layout.names else f"{long}_{role}"
                q[layout.index(name)] = h36m[I(f"{s}_{role}")]
        torch.testing.assert_close(knee_bend(q, layout), knee_bend(h36m))


def test_bad_input_is_refused_with_the_argument_name():
    with pytest.raises(ValueError, match=r"pose_3d: expected shape \(\.\.\., 17, 3\)"):
        knee_bend(torch.zeros(16, 3))
    with pytest.raises(ValueError, match="pose_3d"):
        knee_bend(torch.zeros(17, 2))
    with pytest.raises(TypeError, match="pose_3d"):
        knee_bend(torch.zeros(17, 3, dtype=torch.long))
    bad = standing()
    bad[I("l_knee"), 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        knee_direction_loss(bad)
    with pytest.raises(ValueError, match="empty"):
        knee_direction_loss(torch.zeros(0, 17, 3))
    with pytest.raises(ValueError, match="margin"):
        knee_direction_loss(standing(), margin=0.7)
    with pytest.raises(ValueError, match="reduction"):
        knee_direction_loss(standing(), reduction="sum")
    from skelcl.skeleton import Skeleton

    legless = Skeleton("legless", ("a", "b"), (-1, 0), (), ())
    with pytest.raises(ValueError, match="l_hip"):
        knee_bend(torch.zeros(2, 3), legless)


def test_real_motion_capture_bends_forward_and_its_mirror_backward(bandai_poses_mm):
    p = bandai_poses_mm[::50]
    b = knee_bend(p)
    assert float((b > 0).double().mean()) > 0.99
    assert float(knee_direction_loss(p)) < 1e-3
    m = p.clone()
    m[..., 2] = -m[..., 2]
    assert float((knee_bend(m) < 0).double().mean()) > 0.99
    assert float(knee_direction_loss(m)) > 0.05


def test_mirror_diagnostic_report_on_real_poses(bandai_poses_mm):
    """``examples/ocr_pose/experiments/mirror_diagnostic.py``: a perfect prediction is not
    mirrored, its mirror image is recognised as one (and scored by P-MPJPE, which excludes
    reflections)."""
    from examples.ocr_pose.experiments.mirror_diagnostic import mirror_report

    gt = bandai_poses_mm[::400]
    ok = mirror_report(gt / 1000.0, gt)
    assert ok["p_mpjpe"] == 0.0 and ok["frac_mirror_better"] == 0.0 and ok["backward_knees"] < 0.02
    assert ok["depth_spread_pred"] == ok["depth_spread_gt"]
    bad = mirror_report(gt * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64), gt)
    assert bad["mirrored"] == 0.0 and bad["frac_mirror_better"] > 0.95 and bad["backward_knees"] > 0.98
    assert bad["p_mpjpe"] > 20.0 and bad["best_of_both"] == 0.0
