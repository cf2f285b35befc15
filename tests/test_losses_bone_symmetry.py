"""Left/right bone-length symmetry (skelcl.losses.bone_symmetry).

Oracles: a float64 NumPy loop over the H36M-17 parents written from the definition, scipy's
random rotations for invariance, mirror-built symmetric skeletons, and real motion capture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from skelcl.losses import bone_asymmetry, bone_pairs, bone_symmetry_loss
from skelcl.skeleton import COCO17, H36M17, Skeleton, flip_horizontal

PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
PAIRS = [(4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16)]  # METHOD.md §1, (left, right)


def numpy_asymmetry(p: np.ndarray) -> np.ndarray:
    """The definition for one H36M-17 pose ``(17, C)``, float64, by explicit loops."""
    length = {j: float(np.sqrt(((p[j] - p[PARENTS[j]]) ** 2).sum())) for j in range(1, 17)}
    mean = sum(length.values()) / 16
    return np.array([(length[l] - length[r]) / mean for l, r in PAIRS])


def symmetric_pose(rng: np.random.Generator) -> np.ndarray:
    """A random skeleton whose right side is the mirror image (x -> -x) of its left side."""
    p = np.zeros((17, 3))
    for j in (7, 8, 9, 10):  # spine, thorax, neck, head on the mid-plane
        p[j] = p[PARENTS[j]] + np.array([0.0, *rng.uniform(0.1, 0.3, 2)])
    for l, r in PAIRS:
        step = rng.standard_normal(3) * 0.2
        p[l] = p[PARENTS[l]] + step
        p[r] = p[PARENTS[r]] + step * np.array([-1.0, 1.0, 1.0])
    return p


def test_bone_pairs_of_h36m17_follow_the_method_conventions():
    bones = H36M17.bones()
    got = [(bones[a][0], bones[b][0]) for a, b in bone_pairs(H36M17)]
    assert got == PAIRS
    assert len(bone_pairs(COCO17)) >= 4  # any layout with left/right limbs


@settings(deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-3, 1e3))
def test_matches_a_float64_loop_and_is_invariant_to_similarity_transforms(seed, scale):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal((17, 3))
    ref = numpy_asymmetry(p)
    np.testing.assert_allclose(bone_asymmetry(torch.from_numpy(p)).numpy(), ref, rtol=1e-10, atol=1e-12)
    R = Rotation.random(random_state=seed).as_matrix()
    q = torch.from_numpy(scale * p @ R.T + rng.standard_normal(3))
    np.testing.assert_allclose(bone_asymmetry(q).numpy(), ref, rtol=1e-8, atol=1e-10)
    # a left/right flip (mirror the x axis, swap the labels) negates every pair's asymmetry
    np.testing.assert_allclose(bone_asymmetry(flip_horizontal(q, H36M17)).numpy(), -ref,
                               rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(float(bone_symmetry_loss(q)), np.abs(ref).mean(), rtol=1e-8)


@settings(deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_a_mirror_symmetric_skeleton_has_zero_loss_and_a_stretched_limb_does_not(seed):
    rng = np.random.default_rng(seed)
    p = torch.from_numpy(symmetric_pose(rng))
    assert float(bone_symmetry_loss(p)) < 1e-12
    q = p.clone()
    q[13] = q[12] + 1.5 * (q[13] - q[12])  # left forearm 1.5x as long
    asym = bone_asymmetry(q)
    assert float(asym[5]) > 0 and torch.all(asym[:5].abs() < 1e-12)
    assert float(bone_symmetry_loss(q)) > 0


@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("channels", [2, 3])
def test_shapes_dtypes_and_reduction(batch, dtype, channels):
    g = torch.Generator().manual_seed(0)
    p = torch.randn(*batch, 17, channels, generator=g, dtype=torch.float64).to(dtype)
    a = bone_asymmetry(p)
    assert a.shape == (*batch, 6) and a.dtype == dtype
    assert bone_symmetry_loss(p, reduction="none").shape == (*batch, 6)
    assert bone_symmetry_loss(p).shape == () and bone_symmetry_loss(p).dtype == dtype


def test_gradient_shortens_the_longer_bone_and_is_finite_at_degenerate_poses():
    rng = np.random.default_rng(3)
    p = torch.from_numpy(symmetric_pose(rng))
    p[13] = p[12] + 1.5 * (p[13] - p[12])
    p.requires_grad_(True)
    bone_symmetry_loss(p).backward()
    forearm = (p[13] - p[12]).detach()
    assert float(p.grad[13] @ forearm) > 0  # descending moves the wrist towards the elbow
    z = torch.zeros(17, 3, dtype=torch.float64, requires_grad=True)  # every bone of length 0
    loss = bone_symmetry_loss(z)
    loss.backward()
    assert float(loss.detach()) == 0.0 and torch.isfinite(z.grad).all()


def test_bad_input_is_refused_with_the_argument_name():
    with pytest.raises(ValueError, match=r"pose: expected shape \(\.\.\., 17, 2 or 3\)"):
        bone_asymmetry(torch.zeros(16, 3))
    with pytest.raises(ValueError, match="pose"):
        bone_asymmetry(torch.zeros(17, 4))
    with pytest.raises(TypeError, match="pose"):
        bone_asymmetry(torch.zeros(17, 3, dtype=torch.long))
    bad = torch.randn(17, 3)
    bad[5, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        bone_symmetry_loss(bad)
    with pytest.raises(ValueError, match="empty"):
        bone_symmetry_loss(torch.zeros(0, 17, 3))
    with pytest.raises(ValueError, match="reduction"):
        bone_symmetry_loss(torch.randn(17, 3), reduction="sum")
    chain = Skeleton("chain", ("a", "b"), (-1, 0), (), ())
    with pytest.raises(ValueError, match="no left/right pair"):
        bone_pairs(chain)


def test_real_motion_capture_is_symmetric(bandai_poses_mm):
    p = bandai_poses_mm[::50]
    med = bone_asymmetry(p).abs().median(dim=0).values
    assert float(med.max()) < 0.05  # every pair within 5 % of the mean bone
    assert float(bone_symmetry_loss(p)) < 0.03
    lopsided = p.clone()
    lopsided[:, 13] = lopsided[:, 12] + 1.3 * (lopsided[:, 13] - lopsided[:, 12])
    assert float(bone_symmetry_loss(lopsided)) > float(bone_symmetry_loss(p)) + 0.01
