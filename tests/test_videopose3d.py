"""Tests of the VideoPose3D Human3.6M reader on small files written here in that exact layout.

Oracles: scipy quaternion rotations for the world-to-camera transform, a scalar float64 loop of
the Human3.6M distortion model, and physical facts about the Human3.6M studio (every camera sees
the capture volume's centre 3-7 m in front of it, inside its image).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from skelcl.data.videopose3d import (
    H36M32_TO_17,
    H36M_CAMERA_IDS,
    H36M_CAMERAS,
    h36m_project,
    h36m_world_to_camera,
    load_videopose3d_npz,
    read_videopose3d,
)


def _world_poses(rng, frames):
    """(F, 32, 3) metres around the studio centre, pelvis about 0.9 m above the floor (Z up)."""
    base = rng.normal(scale=0.25, size=(32, 3)) + [0.0, 0.0, 0.9]
    drift = np.linspace(0, 0.5, frames)[:, None, None] * [1.0, 0.5, 0.0]
    return base + drift + rng.normal(scale=0.01, size=(frames, 32, 3))


def _camera_frame_oracle(world, cam):
    q = cam.orientation  # w, x, y, z (camera to world)
    rot = Rotation.from_quat([q[1], q[2], q[3], q[0]])
    return rot.inv().apply((world - cam.translation).reshape(-1, 3)).reshape(world.shape)


def _project_oracle(pc, cam):
    """Scalar loop of the model in the module docstring."""
    out = np.zeros(pc.shape[:-1] + (2,))
    k1, k2, k3 = cam.radial
    p0, p1 = cam.tangential
    for idx in np.ndindex(pc.shape[:-1]):
        x, y = pc[idx][0] / pc[idx][2], pc[idx][1] / pc[idx][2]
        r2 = x * x + y * y
        radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
        tan = p0 * x + p1 * y
        xd, yd = x * (radial + tan) + p0 * r2, y * (radial + tan) + p1 * r2
        out[idx] = (cam.focal[0] * xd + cam.center[0], cam.focal[1] * yd + cam.center[1])
    return out


@pytest.fixture()
def h36m_files(tmp_path):
    rng = np.random.default_rng(0)
    pos3d = {"S1": {"Walking 1": _world_poses(rng, 6), "Directions": _world_poses(rng, 4)},
             "S9": {"Sitting 2": _world_poses(rng, 5)}}
    pos2d = {}
    for s, acts in pos3d.items():
        pos2d[s] = {}
        for a, w in acts.items():
            cams = []
            for cam in H36M_CAMERAS[s]:
                uv = _project_oracle(_camera_frame_oracle(w[:, list(H36M32_TO_17)], cam), cam)
                extra = rng.normal(size=(2, 17, 2)) + 500  # VideoPose3D trims 2D to the 3D length
                cams.append(np.concatenate([uv, extra]).astype(np.float32))
            pos2d[s][a] = cams
    meta = {"layout_name": "h36m", "num_joints": 17,
            "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    p3, p2 = tmp_path / "data_3d_h36m.npz", tmp_path / "data_2d_h36m_gt.npz"
    np.savez_compressed(p3, positions_3d=pos3d)
    np.savez_compressed(p2, positions_2d=pos2d, metadata=meta)
    return p3, p2, pos3d, pos2d


def test_pickle_needs_explicit_opt_in(h36m_files):
    p3, p2, _, _ = h36m_files
    for path, key in ((p3, "positions_3d"), (p2, "positions_2d")):
        with pytest.raises(ValueError) as info:
            load_videopose3d_npz(path, key)
        msg = str(info.value)
        assert str(path) in msg and "allow_pickle=True" in msg and "arbitrary code" in msg
    with pytest.raises(ValueError, match="allow_pickle=True"):
        read_videopose3d(p3, p2)


def test_3d_and_2d_files(h36m_files):
    p3, p2, pos3d, pos2d = h36m_files
    ds = read_videopose3d(p3, p2, allow_pickle=True)
    assert ds.layout == "h36m17" and len(ds) == (6 + 4 + 5) * 4
    assert ds.extras["subject"][0] == "S1" and ds.clip[0] == f"S1/Walking 1/{H36M_CAMERA_IDS[0]}"
    assert set(ds.action.tolist()) == {"Walking", "Directions", "Sitting"}
    for s, acts in pos3d.items():
        for a, w in acts.items():
            for c, cam in enumerate(H36M_CAMERAS[s]):
                sel = ds.clip == f"{s}/{a}/{cam.id}"
                assert sel.sum() == w.shape[0]
                exp3 = _camera_frame_oracle(w[:, list(H36M32_TO_17)], cam)
                np.testing.assert_allclose(ds.poses_3d[sel], exp3, atol=1e-5)
                np.testing.assert_allclose(ds.poses_2d[sel], pos2d[s][a][c][: w.shape[0]], atol=1e-3)
                assert (ds.extras["view"][sel] == c).all()
                np.testing.assert_allclose(ds.focal[sel][0], cam.focal, rtol=1e-6)
                np.testing.assert_allclose(ds.image_size[sel][0], cam.image_size)
    assert ds.confidence is None
    # depth in front of the cameras, pelvis 3-7 m away
    assert (ds.poses_3d[..., 2] > 0).all()
    assert (np.abs(ds.poses_3d[:, 0, 2] - 5) < 2).all()


def test_3d_only_projects_like_the_2d_file(h36m_files):
    p3, _, pos3d, pos2d = h36m_files
    ds = read_videopose3d(p3, subjects=["S9"], cameras=[2], allow_pickle=True)
    assert len(ds) == 5
    np.testing.assert_allclose(ds.poses_2d, pos2d["S9"]["Sitting 2"][2][:5], atol=1e-3)
    only2d = read_videopose3d(path_2d=h36m_files[1], actions=["Directions"], allow_pickle=True)
    assert only2d.poses_3d is None and len(only2d) == 6 * 4  # untrimmed without 3D


def test_coco_detections_with_confidences(tmp_path, h36m_files):
    p3, _, pos3d, _ = h36m_files
    rng = np.random.default_rng(5)
    det = {s: {a: [np.concatenate([rng.uniform(0, 1000, (w.shape[0], 17, 2)),
                                   rng.uniform(0, 1, (w.shape[0], 17, 1))], -1)
                   for _ in range(4)] for a, w in acts.items()} for s, acts in pos3d.items()}
    path = tmp_path / "data_2d_h36m_detectron_pt_coco.npz"
    np.savez(path, positions_2d=det, metadata={"layout_name": "coco", "num_joints": 17})
    ds = read_videopose3d(p3, path, subjects=["S1"], actions=["Directions"], cameras=[0],
                          allow_pickle=True)
    kp = det["S1"]["Directions"][0]
    np.testing.assert_allclose(ds.poses_2d[:, 0], (kp[:, 11, :2] + kp[:, 12, :2]) / 2, atol=1e-3)
    np.testing.assert_allclose(ds.poses_2d[:, 13], kp[:, 9, :2], atol=1e-3)  # l_wrist
    np.testing.assert_allclose(ds.confidence[:, 0], np.minimum(kp[:, 11, 2], kp[:, 12, 2]), atol=1e-6)


def test_errors(tmp_path, h36m_files):
    p3, p2, pos3d, pos2d = h36m_files
    with pytest.raises(ValueError, match="give path_3d"):
        read_videopose3d()
    short = {s: {a: [c[:2] for c in cams] for a, cams in acts.items()} for s, acts in pos2d.items()}
    bad2 = tmp_path / "short.npz"
    np.savez(bad2, positions_2d=short, metadata={"layout_name": "h36m"})
    with pytest.raises(ValueError, match=f"{bad2}.*fewer than"):
        read_videopose3d(p3, bad2, allow_pickle=True)
    wrong = tmp_path / "wrong.npz"
    np.savez(wrong, positions_3d={"S1": {"Walking 1": np.zeros((3, 25, 3))}})
    with pytest.raises(ValueError, match=f"{wrong}.*expected \\(F, 32, 3\\)"):
        read_videopose3d(wrong, allow_pickle=True)
    nan = tmp_path / "nan.npz"
    np.savez(nan, positions_3d={"S1": {"Walking 1": np.full((3, 32, 3), np.nan)}})
    with pytest.raises(ValueError, match=f"{nan}.*NaN"):
        read_videopose3d(nan, allow_pickle=True)
    with pytest.raises(ValueError, match="no Human3.6M camera"):
        read_videopose3d(p3, subjects=["S2"], allow_pickle=True)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=f"{empty}: empty"):
        read_videopose3d(empty, allow_pickle=True)
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(p3.read_bytes()[:100])
    with pytest.raises(ValueError, match=str(trunc)):
        read_videopose3d(trunc, allow_pickle=True)


def test_camera_table_is_physical():
    assert sorted(H36M_CAMERAS) == ["S1", "S11", "S5", "S6", "S7", "S8", "S9"]
    centre = np.array([[0.0, 0.0, 1.0]])  # studio centre, 1 m high (world Z up, metres)
    for cams in H36M_CAMERAS.values():
        for cam in cams:
            r = cam.rotation
            np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-6)
            assert np.linalg.det(r) == pytest.approx(1.0, abs=1e-6)
            pc = h36m_world_to_camera(centre, cam)
            assert 3.0 < pc[0, 2] < 7.0
            uv = h36m_project(pc, cam)
            assert (uv > 0).all() and (uv < cam.image_size).all()
            # camera "up" (-y) points up in the world
            assert (r @ [0, -1, 0])[2] > 0.9
