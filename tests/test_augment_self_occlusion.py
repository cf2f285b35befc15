"""Tests of SelfOcclusionMask against a brute-force float64 oracle of the documented rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from skelcl.augment import SelfOcclusionMask, body_segments

BONES = [(1, 0), (2, 1), (3, 2), (4, 0), (5, 4), (6, 5), (7, 0), (8, 7), (9, 8), (10, 9),
         (11, 8), (12, 11), (13, 12), (14, 8), (15, 14), (16, 15)]
TORSO = {0, 7, 8, 1, 4, 11, 14}  # torso group + hips + shoulders
SEGMENTS = BONES + [(4, 11), (1, 14)]  # + the two torso sides


def oracle(x, r_limb, r_torso, margin, n=2001):
    """Brute force: closest axis point to each line of sight by dense sampling, then the rule.

    Returns (hidden (J,), ambiguous (J,)) where ambiguous marks joints within 1e-3 of a
    threshold, where the sampled minimum may legitimately disagree.
    """
    x = np.asarray(x, np.float64)
    ts = np.linspace(0.0, 1.0, n)
    hidden = np.zeros(17, bool)
    ambiguous = np.zeros(17, bool)
    for j in range(17):
        xn = np.linalg.norm(x[j])
        u = x[j] / xn
        for a, b in SEGMENTS:
            if j in (a, b):
                continue
            r = r_torso if (a in TORSO and b in TORSO) else r_limb
            y = x[a][None] + ts[:, None] * (x[b] - x[a])[None]
            s = y @ u
            d = np.sqrt(np.maximum((y * y).sum(1) - s * s, 0))
            k = int(np.argmin(d))
            if d[k] < r and 0 < s[k] < xn - margin:
                hidden[j] = True
            if abs(d[k] - r) < 1e-3 or abs(s[k] - (xn - margin)) < 1e-3:
                ambiguous[j] = True
        if x[j, 2] <= 0:
            hidden[j] = True
    return hidden, ambiguous


def test_segments_documented():
    segs, is_torso = body_segments()
    assert sorted(segs) == sorted(SEGMENTS)
    assert [s for s, t in zip(segs, is_torso) if t] == [s for s in segs if set(s) <= TORSO]


@given(seed=st.integers(0, 2**16), spread=st.floats(0.1, 0.6))
def test_matches_bruteforce_oracle(seed, spread):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 17, 3, generator=g, dtype=torch.float64) * spread
    x[..., 2] += 3.0
    aug = SelfOcclusionMask(limb_radius=0.08, torso_radius=0.15, margin=0.05)
    _, vis = aug(x[..., :2] / x[..., 2:], points_3d=x)
    for i in range(3):
        hidden, amb = oracle(x[i].numpy(), 0.08, 0.15, 0.05)
        np.testing.assert_array_equal((~vis[i]).numpy()[~amb], hidden[~amb])


def _standing_pose():
    """A frontal T-less standing pose in metres, camera frame (facing the camera at z = 4)."""
    p = np.zeros((17, 3))
    p[0] = [0, 0, 0]
    p[1], p[4] = [-0.12, 0, 0], [0.12, 0, 0]
    p[2], p[5] = [-0.12, 0.45, 0], [0.12, 0.45, 0]
    p[3], p[6] = [-0.12, 0.9, 0], [0.12, 0.9, 0]
    p[7], p[8], p[9], p[10] = [0, -0.25, 0], [0, -0.5, 0], [0, -0.6, 0], [0, -0.7, 0]
    p[11], p[14] = [0.18, -0.48, 0], [-0.18, -0.48, 0]
    p[12], p[15] = [0.2, -0.2, 0], [-0.2, -0.2, 0]
    p[13], p[16] = [0.2, 0.05, 0], [-0.2, 0.05, 0]
    p[:, 2] += 4.0
    return torch.tensor(p)


def test_hand_in_front_of_pelvis_hides_it():
    p = _standing_pose()
    aug = SelfOcclusionMask()
    _, vis = aug(p[:, :2], points_3d=p)
    assert bool(vis.all())  # frontal, arms at the sides: nothing hidden
    p2 = p.clone()
    p2[15] = torch.tensor([-0.1, -0.1, 3.7], dtype=p.dtype)  # right forearm across the belly
    p2[16] = torch.tensor([0.1, 0.05, 3.7], dtype=p.dtype)
    _, vis = aug(p2[:, :2], points_3d=p2)
    assert not bool(vis[0])  # pelvis behind the forearm
    assert bool(vis[16]) and bool(vis[15])  # the occluders stay visible


def test_side_view_hides_far_arm_and_rotation_context():
    p = _standing_pose()
    # seen from the subject's left (+x): the right arm (x < 0) is behind the torso
    side = p.clone()
    side[:, 0], side[:, 2] = p[:, 2] - 4.0, -p[:, 0] + 4.0
    aug = SelfOcclusionMask()
    _, vis = aug(side[:, :2], points_3d=side)
    assert not bool(vis[[15, 16]].all())
    assert bool(vis[[12, 13]].all())
    # the same view through the rotation context (root at (0, 0, distance))
    rot = torch.tensor([[0.0, 0, 1], [0, 1, 0], [-1, 0, 0]], dtype=p.dtype)  # x' = z, z' = -x
    aug_r = SelfOcclusionMask(distance=4.0)
    _, vis_r = aug_r(side[:, :2], points_3d=p, rotation=rot)
    assert torch.equal(vis_r, vis)


def test_behind_camera_hidden():
    p = _standing_pose()
    p[3, 2] = -1.0
    _, vis = SelfOcclusionMask()(p[:, :2], points_3d=p)
    assert not bool(vis[3])


def test_errors():
    with pytest.raises(ValueError, match="limb_radius"):
        SelfOcclusionMask(limb_radius=-1.0)
    p = _standing_pose()
    bad = p.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="points_3d"):
        SelfOcclusionMask()(p[:, :2], points_3d=bad)
