"""Bone-length consistency between two poses of one body (skelcl.losses.bone_consistency).

Oracles: a float64 NumPy loop over the H36M-17 parents written from the definition, scipy's
random rotations for invariance, and real motion capture (frames of one Bandai clip share their
bones, frames of a stretched skeleton do not)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from skelcl.losses import bone_length_consistency_loss, relative_bone_lengths
from skelcl.skeleton import COCO17

from conftest import devices

PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]


def numpy_relative(p: np.ndarray) -> np.ndarray:
    """Relative bone lengths of one H36M-17 pose ``(17, C)``, float64, by explicit loops."""
    length = [float(np.sqrt(((p[j] - p[PARENTS[j]]) ** 2).sum())) for j in range(1, 17)]
    mean = sum(length) / 16
    return np.array([l / mean for l in length])


@settings(deadline=None)
@given(seed=st.integers(0, 2**31 - 1), channels=st.sampled_from([2, 3]))
def test_matches_a_float64_loop_with_and_without_a_bone_mask(seed, channels):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal((2, 5, 17, channels))
    valid = rng.random((5, 16)) < 0.6
    diff = np.array([np.abs(numpy_relative(a[i]) - numpy_relative(b[i])) for i in range(5)])
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    np.testing.assert_allclose(relative_bone_lengths(ta).numpy(),
                               [numpy_relative(p) for p in a], rtol=1e-10)
    np.testing.assert_allclose(float(bone_length_consistency_loss(ta, tb)), diff.mean(), rtol=1e-10)
    np.testing.assert_allclose(bone_length_consistency_loss(ta, tb, reduction="none").numpy(), diff,
                               rtol=1e-10, atol=1e-14)
    mv = torch.from_numpy(valid)
    expect = diff[valid].mean() if valid.any() else 0.0
    np.testing.assert_allclose(float(bone_length_consistency_loss(ta, tb, valid=mv)), expect,
                               rtol=1e-10, atol=1e-14)
    none = bone_length_consistency_loss(ta, tb, valid=mv, reduction="none").numpy()
    np.testing.assert_allclose(none, np.where(valid, diff, 0.0), rtol=1e-10, atol=1e-14)


@settings(deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-3, 1e3))
def test_zero_for_one_skeleton_seen_anew_and_positive_for_a_stretched_bone(seed, scale):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((17, 3))
    R = Rotation.random(random_state=seed).as_matrix()
    q = scale * p @ R.T + rng.standard_normal(3)
    a, b = torch.from_numpy(p), torch.from_numpy(q)
    assert float(bone_length_consistency_loss(a, b)) < 1e-9
    # re-articulate the left elbow (rotate the forearm about the elbow): the bones are the same
    elbow, wrist = q[12], q[13]
    art = q.copy()
    art[13] = elbow + Rotation.random(random_state=seed + 1).as_matrix() @ (wrist - elbow)
    assert float(bone_length_consistency_loss(a, torch.from_numpy(art))) < 1e-9
    # lengthen the forearm by 40 %: the loss sees it, and only through relative lengths
    st_ = art.copy()
    st_[13] = elbow + 1.4 * (art[13] - elbow)
    rel = np.abs(numpy_relative(p) - numpy_relative(st_)).mean()
    got = float(bone_length_consistency_loss(a, torch.from_numpy(st_)))
    assert got > 1e-3
    np.testing.assert_allclose(got, rel, rtol=1e-8)


def test_real_frames_of_one_clip_agree_and_a_foreign_skeleton_does_not(bandai_poses_mm):
    """Bandai frames share one skeleton (data README), however far apart in time: the loss is
    at the level of the 1 mm quantisation; a skeleton with longer shins is far from it."""
    x = bandai_poses_mm
    a, b = x[:2000:7], x[50_000:52_000:7][: len(x[:2000:7])]
    same = float(bone_length_consistency_loss(a, b))
    assert same < 1e-2
    longer = b.clone()
    for knee, ankle in ((2, 3), (5, 6)):
        longer[:, ankle] = longer[:, knee] + 1.25 * (b[:, ankle] - b[:, knee])
    assert float(bone_length_consistency_loss(a, longer)) > 5 * same


def test_gradient_reaches_both_poses_and_matches_finite_differences():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 17, 3, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(3, 17, 3, dtype=torch.float64, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda u, v: bone_length_consistency_loss(u, v), (a, b))
    bone_length_consistency_loss(a, b).backward()
    assert a.grad.abs().sum() > 0 and b.grad.abs().sum() > 0


def test_degenerate_poses_give_zeros_not_nan():
    z = torch.zeros(2, 17, 3, requires_grad=True)
    assert torch.equal(relative_bone_lengths(z), torch.zeros(2, 16))
    loss = bone_length_consistency_loss(z, torch.randn(2, 17, 3))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(z.grad).all()
    # no valid bone anywhere: 0, not NaN
    none = torch.zeros(2, 16, dtype=torch.bool)
    assert float(bone_length_consistency_loss(torch.randn(2, 17, 3), torch.randn(2, 17, 3), valid=none)) == 0.0


@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
@pytest.mark.parametrize("device", devices())
def test_shapes_dtypes_devices(batch, dtype, device):
    a = torch.randn(*batch, 17, 3, device=device).to(dtype)
    b = torch.randn(*batch, 17, 3, device=device).to(dtype)
    assert relative_bone_lengths(a).shape == (*batch, 16)
    none = bone_length_consistency_loss(a, b, reduction="none")
    assert none.shape == (*batch, 16) and none.dtype == dtype and none.device.type == device
    mean = bone_length_consistency_loss(a, b)
    assert mean.shape == () and torch.isfinite(mean.float())


def test_other_layouts():
    a, b = torch.randn(4, 17, 2), torch.randn(4, 17, 2)
    assert bone_length_consistency_loss(a, b, layout=COCO17, reduction="none").shape == (4, COCO17.num_joints - 1)


def test_compiles():
    fn = torch.compile(bone_length_consistency_loss, backend="eager")
    a, b = torch.randn(4, 17, 3), torch.randn(4, 17, 3)
    torch.testing.assert_close(fn(a, b, validate=False), bone_length_consistency_loss(a, b))


def test_errors_name_the_argument():
    a = torch.randn(4, 17, 3)
    with pytest.raises(TypeError, match="pose_a"):
        bone_length_consistency_loss(a.long(), a)
    with pytest.raises(TypeError, match="pose_b"):
        bone_length_consistency_loss(a, a.numpy())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pose_a.*17"):
        bone_length_consistency_loss(torch.randn(4, 16, 3), torch.randn(4, 16, 3))
    with pytest.raises(ValueError, match="pose_b.*shape of pose_a"):
        bone_length_consistency_loss(a, torch.randn(3, 17, 3))
    with pytest.raises(ValueError, match="valid"):
        bone_length_consistency_loss(a, a, valid=torch.ones(4, 17, dtype=torch.bool))
    with pytest.raises(ValueError, match="valid"):
        bone_length_consistency_loss(a, a, valid=torch.ones(4, 16))
    with pytest.raises(ValueError, match="reduction"):
        bone_length_consistency_loss(a, a, reduction="sum")
    with pytest.raises(ValueError, match="empty"):
        bone_length_consistency_loss(torch.zeros(0, 17, 3), torch.zeros(0, 17, 3))
    bad = a.clone()
    bad[1, 3, 0] = float("nan")
    with pytest.raises(ValueError, match="pose_b.*NaN"):
        bone_length_consistency_loss(a, bad)
    with pytest.raises(ValueError, match="pose.*shape"):
        relative_bone_lengths(torch.randn(4, 17, 4))
