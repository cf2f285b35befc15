"""Synthetic poses: bone lengths, joint limits, left/right, variety, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from skelcl.data import POSTURES, synthetic_mocap

PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
PAIRS = [(4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16)]


def _bones(p: np.ndarray) -> np.ndarray:
    """(F, 16) bone lengths, float64, written independently of the generator."""
    return np.stack([np.linalg.norm(p[:, j] - p[:, PARENTS[j]], axis=-1) for j in range(1, 17)], -1)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    cos = (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


@pytest.fixture(scope="module")
def clips():
    return synthetic_mocap(3000, clip_length=50, generator=torch.Generator().manual_seed(0))


def test_shapes_names_and_bookkeeping():
    c = synthetic_mocap(130, clip_length=60, generator=torch.Generator().manual_seed(1))
    assert c.poses.shape == (130, 17, 3) and c.poses.dtype == torch.float32
    assert c.clip_lengths.tolist() == [60, 60, 10]
    assert c.clip_starts.tolist() == [0, 60, 120]
    assert all("synthetic" in n for n in c.clip_names)
    assert set(c.metadata["source"]) == {"synthetic"}
    assert set(c.metadata["action"]) <= set(POSTURES)
    assert c.fps == 30.0 and torch.isfinite(c.poses).all()


def test_bone_lengths_constant_per_clip_symmetric_and_adult(clips):
    p = clips.poses.double().numpy()
    bones = _bones(p)
    for s, n in zip(clips.clip_starts, clips.clip_lengths):
        b = bones[s:s + n]
        np.testing.assert_allclose(b, np.broadcast_to(b[0], b.shape), atol=2e-6)
    # left == right
    for left, right in PAIRS:
        np.testing.assert_allclose(bones[:, left - 1], bones[:, right - 1], atol=2e-6)
    thigh, shank = bones[:, 1], bones[:, 2]
    upper, fore = bones[:, 11], bones[:, 12]
    # anthropometric ranges for adults (metres)
    assert 0.33 <= thigh.min() and thigh.max() <= 0.55
    assert 0.33 <= shank.min() and shank.max() <= 0.56
    assert 0.18 <= upper.min() and upper.max() <= 0.33
    assert 0.17 <= fore.min() and fore.max() <= 0.31
    assert (0.7 < thigh / shank).all() and (thigh / shank < 1.4).all()
    # standing height proxy: legs + torso + neck + head
    height = thigh + shank + bones[:, 6] + bones[:, 7] + bones[:, 8] + bones[:, 9] + 0.08
    assert 1.35 < height.min() and height.max() < 2.1
    # variety of bodies
    assert np.unique(np.round(thigh, 4)).size > 0.8 * clips.num_clips


def test_knees_bend_backwards_and_joint_angles_in_limits(clips):
    p = clips.poses.double().numpy()
    left = p[:, 4] - p[:, 1]
    left /= np.linalg.norm(left, axis=-1, keepdims=True)
    for hip, knee, ankle in ((1, 2, 3), (4, 5, 6)):
        thigh, shank = p[:, knee] - p[:, hip], p[:, ankle] - p[:, knee]
        flex = _angle(thigh, shank)
        assert flex.max() <= 150.0 + 1e-3
        bent = flex > 5
        side = (np.cross(thigh, shank) * left).sum(-1)
        assert (side[bent] > 0).all(), "a knee bends forward"
    for sh, el, wr in ((11, 12, 13), (14, 15, 16)):
        flex = _angle(p[:, el] - p[:, sh], p[:, wr] - p[:, el])
        assert flex.max() <= 145.0 + 1e-3
    # the head stays above the pelvis, and above the thorax unless crouching (leaning forward)
    upright = clips.per_frame("action") != "crouching"
    assert (p[upright, 10, 1] > p[upright, 8, 1]).all()
    assert (p[:, 10, 1] > p[:, 0, 1]).all() and (p[:, 8, 1] > p[:, 0, 1]).all()
    # spine flexion relative to the vertical stays below 90 degrees
    assert (_angle(p[:, 8] - p[:, 0], np.array([0.0, 1.0, 0.0])) < 90).all()


def test_feet_on_floor_and_smooth_motion(clips):
    p = clips.poses.double().numpy()
    np.testing.assert_allclose(p[..., 1].min(-1), 0.08, atol=1e-5)
    for s, n in zip(clips.clip_starts, clips.clip_lengths):
        step = np.linalg.norm(np.diff(p[s:s + n], axis=0), axis=-1)
        assert step.max() < 0.25  # < 7.5 m/s for any joint at 30 fps


def test_walking_left_right_consistent_with_travel(clips):
    walking = np.flatnonzero(clips.metadata["action"] == "walking")
    assert walking.size > 0
    for c in walking:
        q = clips.clip(int(c)).double().numpy()
        travel = q[-1, 0] - q[0, 0]
        travel[1] = 0
        facing = np.cross(q[:, 4] - q[:, 1], np.array([0.0, 1.0, 0.0])).mean(0)
        assert np.dot(facing, travel) > 0, clips.clip_names[c]
        speed = np.linalg.norm(travel) / ((len(q) - 1) / 30.0)
        assert 0.7 < speed < 2.0


def test_postures_are_varied(clips):
    act = clips.per_frame("action")
    counts = {p: int((act == p).sum()) for p in POSTURES}
    assert min(counts.values()) > 0.08 * clips.num_frames, counts
    pelvis = clips.poses[:, 0, 1].numpy()
    # sitting and crouching bring the pelvis down, standing keeps it up
    assert np.median(pelvis[act == "sitting"]) < np.median(pelvis[act == "standing"]) - 0.25
    assert np.median(pelvis[act == "crouching"]) < np.median(pelvis[act == "standing"]) - 0.2
    # reaching raises at least one wrist above the shoulders in most frames
    p = clips.poses.numpy()
    reach = act == "reaching"
    above = np.maximum(p[reach, 13, 1] - p[reach, 11, 1], p[reach, 16, 1] - p[reach, 14, 1]) > -0.1
    assert above.mean() > 0.5
    # headings cover the circle
    lr = p[:, 4] - p[:, 1]
    heading = np.arctan2(lr[:, 0], -lr[:, 2])
    hist, _ = np.histogram(heading, bins=4, range=(-np.pi, np.pi))
    assert hist.min() > 0.1 * len(heading)


@given(st.integers(0, 2**31 - 1), st.integers(1, 90))
def test_generator_determinism(seed, frames):
    a = synthetic_mocap(frames, clip_length=40, generator=torch.Generator().manual_seed(seed))
    b = synthetic_mocap(frames, clip_length=40, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(a.poses, b.poses)
    assert a.clip_names.tolist() == b.clip_names.tolist()
    assert a.num_frames == frames and int(a.clip_lengths.sum()) == frames


def test_restricting_postures_and_errors():
    c = synthetic_mocap(200, postures=("sitting",), generator=torch.Generator().manual_seed(0))
    assert set(c.metadata["action"]) == {"sitting"}
    with pytest.raises(ValueError, match="num_frames"):
        synthetic_mocap(0)
    with pytest.raises(ValueError, match="postures"):
        synthetic_mocap(10, postures=("flying",))
    with pytest.raises(ValueError, match="posture_weights"):
        synthetic_mocap(10, postures=("sitting",), posture_weights=(0.0,))
    with pytest.raises(ValueError, match="clip_length"):
        synthetic_mocap(10, clip_length=1)
