"""Virtual cameras: projection oracle, placement, azimuth coverage, visibility, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import pdist
from scipy.spatial.transform import Rotation

from skelcl.data import (
    MocapClips,
    VirtualCameraConfig,
    look_at_rotation,
    project_mocap,
    synthetic_mocap,
)


def _random_clips(seed: int, frames: int = 40, clips: int = 4, floor: float = 0.0) -> MocapClips:
    """Random world-frame 'people': points scattered around a moving pelvis, Y up."""
    rng = np.random.default_rng(seed)
    lengths = np.full(clips, frames // clips)
    lengths[-1] += frames - lengths.sum()
    pelvis = np.stack([rng.uniform(-3, 3, frames), rng.uniform(0.3, 1.2, frames) + floor,
                       rng.uniform(-3, 3, frames)], -1)
    offsets = rng.normal(0, 0.4, (frames, 17, 3))
    offsets[:, 0] = 0
    poses = pelvis[:, None, :] + offsets
    poses[..., 1] = np.maximum(poses[..., 1], floor)  # nothing below the floor
    return MocapClips(
        poses=torch.from_numpy(poses),
        clip_names=np.array([f"c{i}" for i in range(clips)]),
        clip_starts=np.cumsum(lengths) - lengths,
        clip_lengths=lengths,
        clip_fps=30.0,
        metadata={"action": np.array([f"a{i % 2}" for i in range(clips)])},
    )


def _camera_from_correspondences(world: np.ndarray, cam: np.ndarray):
    """Independent oracle: rigid transform world -> camera by Kabsch (scipy), float64."""
    wc, cc = world.mean(0), cam.mean(0)
    rot, _ = Rotation.align_vectors(cam - cc, world - wc)
    r = rot.as_matrix()
    centre = wc - r.T @ cc  # X_cam = R (X - C)  =>  C = wc - R^T cc
    return r, centre


@given(st.integers(0, 10_000), st.sampled_from([1, 3]), st.booleans(), st.sampled_from([0.0, 2.0]))
def test_projection_then_unprojection_gives_camera_frame_3d(seed, views, per_clip, noise):
    clips = _random_clips(seed)
    gen = torch.Generator().manual_seed(seed)
    ds = project_mocap(clips, views, generator=gen, dtype=torch.float64, per_clip=per_clip)
    assert len(ds) == views * clips.num_frames
    # oracle: float64 numpy pinhole inverse with the true depth
    z = ds.poses_3d[..., 2]
    f = ds.focal[:, None]
    x = (ds.poses_2d[..., 0] - ds.principal_point[:, None, 0]) / f * z
    y = (ds.poses_2d[..., 1] - ds.principal_point[:, None, 1]) / f * z
    np.testing.assert_allclose(np.stack([x, y, z], -1), ds.poses_3d, rtol=0, atol=1e-9)
    # the camera frame is a rigid motion of the world frame (pairwise distances kept)
    world = clips.poses.numpy()
    for i in range(0, len(ds), 7):
        np.testing.assert_allclose(pdist(ds.poses_3d[i]), pdist(world[ds.extras["frame"][i]]), atol=1e-9)
    if noise:
        ds_noisy = project_mocap(clips, views, generator=torch.Generator().manual_seed(seed),
                                 dtype=torch.float64, per_clip=per_clip, noise_std=noise)
        np.testing.assert_array_equal(ds_noisy.poses_3d, ds.poses_3d)  # same cameras
        err = ds_noisy.poses_2d - ds.poses_2d
        expected_conf = np.exp(-(err**2).sum(-1) / (8 * noise**2))
        inside = ds_noisy.confidence > 0
        np.testing.assert_allclose(ds_noisy.confidence[inside], expected_conf[inside], rtol=1e-9)


def test_camera_placement_matches_config():
    clips = _random_clips(1, frames=300, clips=3, floor=0.25)
    cfg = VirtualCameraConfig()
    ds = project_mocap(clips, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    world = clips.poses.numpy()
    floors = {c: world[clips.clip_starts[c]:clips.clip_starts[c] + clips.clip_lengths[c], :, 1].min()
              for c in range(clips.num_clips)}
    clip_of = clips.frame_clip_index()
    centre = np.array(cfg.image_size) / 2
    # the pelvis projects onto the image centre (the camera looks at it)
    np.testing.assert_allclose(ds.poses_2d[:, 0], np.broadcast_to(centre, (len(ds), 2)), atol=1e-6)
    dist = np.linalg.norm(ds.poses_3d[:, 0], axis=-1)
    assert dist.min() >= 4.5 - 1e-9 and dist.max() <= 6.0 + 1e-9
    assert ds.focal.min() >= 1100 and ds.focal.max() <= 1200
    for i in range(0, len(ds), 37):
        fr = ds.extras["frame"][i]
        r, c = _camera_from_correspondences(world[fr], ds.poses_3d[i])
        assert np.linalg.det(r) > 0
        height = c[1] - floors[clip_of[fr]]
        assert 1.0 - 1e-6 <= height <= 2.0 + 1e-6
        # camera x axis is horizontal (no roll) and y points down
        assert abs(r[0, 1]) < 1e-6 and r[1, 1] < 0


def test_azimuth_covers_full_circle():
    clips = _random_clips(2, frames=1000, clips=5)
    ds = project_mocap(clips, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    world = clips.poses.numpy()
    az = []
    for i in range(0, len(ds), 2):
        fr = ds.extras["frame"][i]
        _, c = _camera_from_correspondences(world[fr], ds.poses_3d[i])
        d = c - world[fr, 0]
        az.append(math.atan2(d[0], d[2]) % (2 * math.pi))
    az = np.asarray(az)
    hist, _ = np.histogram(az, bins=8, range=(0, 2 * math.pi))
    assert hist.min() > 0.08 * len(az) and hist.max() < 0.17 * len(az)
    assert stats.kstest(az / (2 * math.pi), "uniform").pvalue > 1e-3


def test_generator_determinism_and_seeds_differ():
    clips = synthetic_mocap(120, generator=torch.Generator().manual_seed(0))
    a = project_mocap(clips, 2, generator=torch.Generator().manual_seed(5), noise_std=1.0)
    b = project_mocap(clips, 2, generator=torch.Generator().manual_seed(5), noise_std=1.0)
    c = project_mocap(clips, 2, generator=torch.Generator().manual_seed(6), noise_std=1.0)
    assert a.equals(b)
    assert not np.allclose(a.poses_2d, c.poses_2d)


def test_per_clip_cameras_are_constant_within_a_clip():
    clips = _random_clips(4, frames=60, clips=3)
    ds = project_mocap(clips, 2, per_clip=True, generator=torch.Generator().manual_seed(1))
    clip_of = clips.frame_clip_index()[ds.extras["frame"]]
    for v in range(2):
        for c in range(3):
            sel = (ds.extras["view"] == v) & (clip_of == c)
            assert np.unique(ds.focal[sel]).size == 1
    assert np.unique(ds.focal).size == 6


def test_out_of_image_and_behind_camera_are_missing():
    clips = _random_clips(7, frames=50)
    small = VirtualCameraConfig(image_size=(120, 80))
    ds = project_mocap(clips, 2, config=small, generator=torch.Generator().manual_seed(0))
    u, v = ds.poses_2d[..., 0], ds.poses_2d[..., 1]
    outside = (u < 0) | (u >= 120) | (v < 0) | (v >= 80)
    assert outside.any() and (~outside).any()
    np.testing.assert_array_equal(ds.confidence == 0, outside)
    # a camera 0.3 m from the pelvis: joints behind it get NaN and confidence 0
    close = VirtualCameraConfig(distance=(0.3, 0.3), height=(0.5, 0.5), image_size=(100000, 100000))
    ds = project_mocap(clips, 1, config=close, generator=torch.Generator().manual_seed(0))
    behind = ds.poses_3d[..., 2] <= close.min_depth
    assert behind.any()
    assert np.isnan(ds.poses_2d[behind]).all() and (ds.confidence[behind] == 0).all()
    assert np.isfinite(ds.poses_2d[~behind]).all()


def test_labels_extras_and_source():
    clips = synthetic_mocap(90, clip_length=30, generator=torch.Generator().manual_seed(0))
    ds = project_mocap(clips, 3, generator=torch.Generator().manual_seed(0))
    f = clips.num_frames
    assert ds.extras["view"].tolist() == [0] * f + [1] * f + [2] * f
    assert ds.extras["frame"].tolist() == list(range(f)) * 3
    assert ds.clip.tolist() == clips.per_frame("name").tolist() * 3
    assert ds.action.tolist() == clips.per_frame("action").tolist() * 3
    assert "synthetic" in ds.source
    assert ds.poses_2d.dtype == np.float32 and ds.layout == "h36m17"
    assert ds.image_size.tolist() == [1000, 1000]


def test_look_at_rotation_is_a_rotation_pointing_at_target():
    rng = np.random.default_rng(0)
    pos = torch.from_numpy(rng.normal(0, 3, (2, 5, 3)))
    target = torch.from_numpy(rng.normal(0, 3, (2, 5, 3)))
    roll = torch.from_numpy(rng.uniform(-0.5, 0.5, (2, 5)))
    r = look_at_rotation(pos, target, roll).numpy()
    assert r.shape == (2, 5, 3, 3)
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)
    d = (target - pos).numpy()
    np.testing.assert_allclose(r[..., 2, :], d / np.linalg.norm(d, axis=-1, keepdims=True), atol=1e-12)


def test_bad_arguments():
    clips = _random_clips(0)
    with pytest.raises(ValueError, match="views"):
        project_mocap(clips, 0)
    with pytest.raises(ValueError, match="noise_std"):
        project_mocap(clips, 1, noise_std=-1.0)
    with pytest.raises(TypeError, match="clips"):
        project_mocap(np.zeros((3, 17, 3)), 1)
    with pytest.raises(ValueError, match="distance"):
        VirtualCameraConfig(distance=(6.0, 4.5))
    with pytest.raises(ValueError, match="image_size"):
        VirtualCameraConfig(image_size=(0, 10))
