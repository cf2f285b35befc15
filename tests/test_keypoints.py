"""Tests of the 2D detector readers and the Pose2Sim loader.

Oracles: the Pose2Sim demo's own triangulated 3D reprojected with an OpenCV-model projection
written here (scipy Rodrigues), hand-built JSON files in each tool's format with known persons,
and the H36M-17 midpoint rules written out explicitly in the tests.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from skelcl.data.keypoints import (
    read_alphapose,
    read_coco_keypoints,
    read_mmpose,
    read_openpose,
    read_pose2sim_npz,
)
from skelcl.data.pose_dataset import load_pose_dataset, save_pose_dataset

POSE2SIM = "pose2sim/pose2sim_balancing_openpose_body25b.npz"


# ---------------------------------------------------------------------------- Pose2Sim
def _project_opencv(points, K, dist, rvec, tvec):
    """OpenCV pinhole + (k1, k2, p1, p2) distortion, float64."""
    R = Rotation.from_rotvec(rvec).as_matrix()
    pc = points @ R.T + tvec
    x, y = pc[..., 0] / pc[..., 2], pc[..., 1] / pc[..., 2]
    k1, k2, p1, p2 = dist
    r2 = x * x + y * y
    rad = 1 + k1 * r2 + k2 * r2 * r2
    xd = x * rad + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * rad + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]], axis=-1)


@pytest.fixture(scope="module")
def pose2sim(data_dir: Path):
    path = data_dir / POSE2SIM
    raw = dict(np.load(path))
    return path, raw


def _reprojection_errors(raw, poses_body25b, cam):
    names = [str(n) for n in raw["keypoint_names"]]
    tri_names = [str(n) for n in raw["triangulated_3d_names"]]
    world = raw["triangulated_3d"].astype(np.float64)[..., [2, 0, 1]]  # (trc_z, trc_x, trc_y)
    uv = _project_opencv(world, raw["K"][cam], raw["dist"][cam], raw["rvec"][cam], raw["tvec"][cam])
    det = poses_body25b[:, [names.index(n) for n in tri_names]]
    err = np.linalg.norm(det - uv, axis=-1)
    return err[np.isfinite(err)]


@pytest.mark.parametrize("person", ["largest_box", "highest_score"])
def test_pose2sim_selection_picks_the_real_person(pose2sim, person):
    path, raw = pose2sim
    ds = read_pose2sim_npz(path, person=person, to_h36m17=False)
    assert ds.layout == "body25b" and len(ds) == 400
    for cam in range(4):
        sel = ds.subset(ds.extras["view"] == cam)
        err = _reprojection_errors(raw, sel.poses_2d.astype(np.float64), cam)
        assert np.median(err) < 40.0, (cam, np.median(err))
    # the spurious second person of cameras 1 and 2 (slot 1) is far from the triangulated 3D
    for cam in (0, 1):
        spurious = np.where(raw["keypoints_2d"][cam, :, 1, :, 2:] > 0,
                            raw["keypoints_2d"][cam, :, 1, :, :2], np.nan)
        assert np.nanmedian(_reprojection_errors(raw, spurious, cam)) > 200.0


def test_pose2sim_to_h36m17(pose2sim):
    path, raw = pose2sim
    native = read_pose2sim_npz(path, cameras=[1, 3])
    b25 = read_pose2sim_npz(path, cameras=[1, 3], to_h36m17=False)
    assert native.layout == "h36m17" and native.poses_2d.shape == (200, 17, 2)
    assert native.extras["view"].tolist() == [1] * 100 + [3] * 100
    assert native.clip[0] == "cam_02" and native.image_size.tolist()[0] == [1088.0, 1920.0]
    np.testing.assert_allclose(native.focal[0], raw["K"][1][[0, 1], [0, 1]], rtol=1e-6)
    np.testing.assert_allclose(native.principal_point[150], raw["K"][3][[0, 1], [2, 2]], rtol=1e-6)
    names = [str(n) for n in raw["keypoint_names"]]
    src = b25.poses_2d.astype(np.float64)
    conf = b25.confidence.astype(np.float64)
    i = {n: names.index(n) for n in names}
    pelvis = (src[:, i["LHip"]] + src[:, i["RHip"]]) / 2
    thorax = (src[:, i["LShoulder"]] + src[:, i["RShoulder"]]) / 2
    expected = {0: pelvis, 1: src[:, i["RHip"]], 3: src[:, i["RAnkle"]], 6: src[:, i["LAnkle"]],
                7: (pelvis + thorax) / 2, 8: thorax, 9: src[:, i["Nose"]], 10: src[:, i["Head"]],
                13: src[:, i["LWrist"]], 14: src[:, i["RShoulder"]]}
    for j, e in expected.items():
        np.testing.assert_allclose(native.poses_2d[:, j], e, atol=1e-3, equal_nan=True)
    pel_conf = np.minimum(conf[:, i["LHip"]], conf[:, i["RHip"]])
    np.testing.assert_allclose(native.confidence[:, 0], pel_conf, atol=1e-6)
    # NaN exactly where the confidence is 0 (the pose-dataset policy)
    assert np.array_equal(np.isnan(native.poses_2d).any(-1), native.confidence == 0)
    assert 0 < (native.confidence == 0).mean() < 0.1


def test_pose2sim_errors(tmp_path, pose2sim):
    path, raw = pose2sim
    with pytest.raises(ValueError, match="cameras"):
        read_pose2sim_npz(path, cameras=[7])
    bad = tmp_path / "bad.npz"
    np.savez(bad, keypoints_2d=raw["keypoints_2d"][..., :18, :], image_size_wh=raw["image_size_wh"],
             K=raw["K"])
    with pytest.raises(ValueError, match=f"{bad}.*25, 3"):
        read_pose2sim_npz(bad)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=str(empty)):
        read_pose2sim_npz(empty)


# ---------------------------------------------------------------------------- synthetic people
def _person(center, scale, rng, k=17):
    """Random keypoints around ``center`` (pixels), confidences in (0.3, 1)."""
    kp = np.asarray(center) + rng.normal(scale=scale, size=(k, 2))
    conf = rng.uniform(0.3, 1.0, size=k)
    return kp, conf


def _flat(kp, conf):
    return np.concatenate([kp, conf[:, None]], axis=1).reshape(-1).tolist()


def _coco_h36m(kp, conf):
    """H36M-17 from COCO-17 by the documented rules, written out (float64)."""
    hip = (kp[11] + kp[12]) / 2
    sh = (kp[5] + kp[6]) / 2
    face = kp[1:5].mean(axis=0)
    out = np.stack([hip, kp[12], kp[14], kp[16], kp[11], kp[13], kp[15], (hip + sh) / 2, sh,
                    kp[0], face + 0.85 * (face - sh), kp[5], kp[7], kp[9], kp[6], kp[8], kp[10]])
    c = np.array([min(conf[11], conf[12]), conf[12], conf[14], conf[16], conf[11], conf[13],
                  conf[15], min(conf[[5, 6, 11, 12]]), min(conf[5], conf[6]), conf[0],
                  min(conf[[1, 2, 3, 4, 5, 6]]), conf[5], conf[7], conf[9], conf[6], conf[8],
                  conf[10]])
    return out, c


def _write(path: Path, obj) -> Path:
    path.write_text(json.dumps(obj))
    return path


def test_coco_results_person_selection_and_conversion(tmp_path):
    rng = np.random.default_rng(0)
    big = [_person((300, 400), 80, rng) for _ in range(3)]
    small = [_person((700, 300), 10, rng) for _ in range(3)]
    inst = []
    for f in range(3):  # image ids 5, 7, 9; the small person scores higher in frames 0 and 2
        inst.append({"image_id": 5 + 2 * f, "category_id": 1, "keypoints": _flat(*big[f]),
                     "score": 0.7, "bbox": [50, 50, 500, 700], "track_id": 3})
        inst.append({"image_id": 5 + 2 * f, "category_id": 1, "keypoints": _flat(*small[f]),
                     "score": 0.9 if f != 1 else 0.5, "bbox": [680, 280, 40, 40], "track_id": 8})
    inst.append({"image_id": 5, "category_id": 2, "keypoints": [0] * 51, "score": 1.0})
    path = _write(tmp_path / "person_keypoints_results.json", inst[::-1])  # order must not matter
    by_box = read_coco_keypoints(path, (1000, 800), person="largest_box")
    by_score = read_coco_keypoints(path, (1000, 800), person="highest_score")
    by_track = read_coco_keypoints(path, (1000, 800), person=8)
    assert by_box.extras["person_slot"].tolist() == [1, 1, 1]  # reversed order: big is slot 1
    for f in range(3):
        exp, c = _coco_h36m(*big[f])
        np.testing.assert_allclose(by_box.poses_2d[f], exp, atol=1e-3)
        np.testing.assert_allclose(by_box.confidence[f], c, atol=1e-6)
        winner = small[f] if f != 1 else big[f]
        np.testing.assert_allclose(by_score.poses_2d[f], _coco_h36m(*winner)[0], atol=1e-3)
        np.testing.assert_allclose(by_track.poses_2d[f], _coco_h36m(*small[f])[0], atol=1e-3)
    missing = read_coco_keypoints(path, (1000, 800), person=99)  # no such track: all missing
    assert (missing.confidence == 0).all() and np.isnan(missing.poses_2d).all()
    native = read_coco_keypoints(path, (1000, 800), person="largest_box", to_h36m17=False)
    assert native.layout == "coco17"
    np.testing.assert_allclose(native.poses_2d[2], big[2][0], atol=1e-3)


def test_coco_annotations_use_visibility_and_image_sizes(tmp_path):
    rng = np.random.default_rng(1)
    kp, _ = _person((200, 200), 30, rng)
    vis = np.full(17, 2.0)
    vis[3] = 0
    vis[4] = 1
    data = {
        "images": [{"id": 1, "width": 640, "height": 480, "file_name": "a.jpg"},
                   {"id": 2, "width": 320, "height": 240, "file_name": "b.jpg"}],
        "annotations": [{"image_id": 1, "category_id": 1, "keypoints": _flat(kp, vis),
                         "num_keypoints": 16, "bbox": [0, 0, 400, 400]}],
        "categories": [{"id": 1, "name": "person"}],
    }
    ds = read_coco_keypoints(_write(tmp_path / "ann.json", data), to_h36m17=False)
    assert ds.image_size.tolist() == [[640, 480], [320, 240]]
    assert ds.confidence[0].tolist() == [1.0] * 3 + [0.0] + [1.0] * 13
    assert np.isnan(ds.poses_2d[0, 3]).all() and (ds.confidence[1] == 0).all()


def test_alphapose_halpe26_head_top_and_natural_order(tmp_path):
    rng = np.random.default_rng(2)
    people = {name: _person((400, 300), 50, rng, k=26) for name in ("10.jpg", "2.jpg", "1.jpg")}
    data = [{"image_id": n, "category_id": 1, "keypoints": _flat(*p), "score": 2.5,
             "box": [0, 0, 10, 10], "idx": [4]} for n, p in people.items()]
    ds = read_alphapose(_write(tmp_path / "alphapose-results.json", data), (800, 600))
    for f, name in enumerate(("1.jpg", "2.jpg", "10.jpg")):
        kp, conf = people[name]
        exp, c = _coco_h36m(kp[:17], conf[:17])
        exp[10], c[10] = kp[17], conf[17]  # Halpe's "Head" is the head top
        np.testing.assert_allclose(ds.poses_2d[f], exp, atol=1e-3)
        np.testing.assert_allclose(ds.confidence[f], c, atol=1e-6)
    assert read_alphapose(tmp_path / "alphapose-results.json", (800, 600), person=4).extras[
        "person_slot"].tolist() == [0, 0, 0]


def test_openpose_directory_layouts_and_missing(tmp_path):
    rng = np.random.default_rng(3)
    frames = []
    for f in range(3):
        kp, conf = _person((500, 500), 100, rng, k=25)
        conf[7] = 0.0
        kp[7] = 0.0  # OpenPose writes a missed keypoint as 0, 0, 0
        small_kp, small_conf = _person((900, 100), 5, rng, k=25)
        people = [{"person_id": [-1], "pose_keypoints_2d": _flat(small_kp, small_conf),
                   "face_keypoints_2d": [], "hand_left_keypoints_2d": [],
                   "hand_right_keypoints_2d": []},
                  {"person_id": [-1], "pose_keypoints_2d": _flat(kp, conf),
                   "face_keypoints_2d": [], "hand_left_keypoints_2d": [],
                   "hand_right_keypoints_2d": []}]
        if f == 1:
            people = []
        frames.append((kp, conf))
        _write(tmp_path / f"clip_{f:012d}_keypoints.json", {"version": 1.3, "people": people})
    ds = read_openpose(tmp_path, (1000, 1000), layout="body25", to_h36m17=False)
    assert ds.layout == "body25" and len(ds) == 3
    assert (ds.confidence[1] == 0).all()
    for f in (0, 2):
        kp, conf = frames[f]
        assert ds.confidence[f, 7] == 0 and np.isnan(ds.poses_2d[f, 7]).all()
        keep = np.arange(25) != 7
        np.testing.assert_allclose(ds.poses_2d[f, keep], kp[keep], atol=1e-3)
    h36 = read_openpose(tmp_path, (1000, 1000), layout="body25")
    kp, conf = frames[0]
    # BODY_25: LWrist (7) missing -> l_wrist (13) missing; r_wrist copied from RWrist (4)
    assert h36.confidence[0, 13] == 0 and np.isnan(h36.poses_2d[0, 13]).all()
    np.testing.assert_allclose(h36.poses_2d[0, 16], kp[4], atol=1e-3)
    np.testing.assert_allclose(h36.poses_2d[0, 0], (kp[9] + kp[12]) / 2, atol=1e-3)
    b = read_openpose(tmp_path, (1000, 1000), layout="body25b")
    # BODY_25B: index 18 is the head top
    np.testing.assert_allclose(b.poses_2d[0, 10], kp[18], atol=1e-3)


def test_mmpose_video_and_image_formats(tmp_path):
    rng = np.random.default_rng(4)
    a, b = _person((300, 300), 60, rng), _person((800, 300), 20, rng)

    def inst(p, score, box):
        return {"keypoints": p[0].tolist(), "keypoint_scores": p[1].tolist(),
                "bbox": [box], "bbox_score": score}

    video = {"meta_info": {"dataset_name": "coco"},
             "instance_info": [{"frame_id": 1, "instances": [inst(b, 0.9, [790, 290, 810, 310]),
                                                             inst(a, 0.8, [200, 200, 400, 400])]},
                               {"frame_id": 2, "instances": []}]}
    ds = read_mmpose(_write(tmp_path / "results_video.json", video), (1000, 600), to_h36m17=False)
    np.testing.assert_allclose(ds.poses_2d[0], b[0], atol=1e-3)  # highest bbox_score
    assert (ds.confidence[1] == 0).all()
    ds = read_mmpose(tmp_path / "results_video.json", (1000, 600), person="largest_box")
    np.testing.assert_allclose(ds.poses_2d[0], _coco_h36m(*a)[0], atol=1e-3)
    image = [inst(a, 0.3, [0, 0, 1, 1])]
    ds = read_mmpose(_write(tmp_path / "img.json", image), (1000, 600), to_h36m17=False)
    assert len(ds) == 1
    np.testing.assert_allclose(ds.confidence[0], a[1], atol=1e-6)


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "reader, content, fragment",
    [
        (read_coco_keypoints, "", "empty file"),
        (read_coco_keypoints, '[{"image_id": 1, "keypoints": [1, 2', "malformed or truncated JSON"),
        (read_coco_keypoints, '[{"image_id": 1, "keypoints": [1, 2, 0.5, 4]}]', "3 numbers"),
        (read_coco_keypoints, json.dumps([{"image_id": 1, "keypoints": [1, 2, 0.5] * 18}]),
         "18 keypoints"),
        (read_coco_keypoints, json.dumps([{"image_id": 1, "keypoints": [1, 2, float("nan")] * 17}]),
         "confidences"),
        (read_coco_keypoints, "{}", "annotations"),
        (read_alphapose, json.dumps({"a": 1}), "JSON list"),
        (read_mmpose, json.dumps([{"keypoints": [[1, 2]] * 17}]), "keypoint_scores"),
        (read_mmpose, json.dumps([{"keypoints": [[1, 2]] * 17, "keypoint_scores": [1] * 16}]),
         "expected keypoints (K, 2)"),
    ],
)
def test_bad_json_gives_one_clear_error(tmp_path, reader, content, fragment):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ValueError) as info:
        reader(path, (100, 100))
    assert str(path) in str(info.value) and fragment in str(info.value)


def test_openpose_errors(tmp_path):
    with pytest.raises(ValueError, match="no \\*_keypoints.json"):
        read_openpose(tmp_path, (10, 10))
    bad = _write(tmp_path / "x_000000000000_keypoints.json",
                 {"people": [{"pose_keypoints_2d": [1, 2, 0.5] * 18}]})
    with pytest.raises(ValueError, match=f"{bad}.*expected 25 keypoints"):
        read_openpose(tmp_path, (10, 10))
    with pytest.raises(ValueError, match="layout"):
        read_openpose(tmp_path, (10, 10), layout="coco17")


def test_image_size_is_required_and_person_validated(tmp_path):
    path = _write(tmp_path / "r.json", [{"image_id": 1, "keypoints": [1, 2, 0.5] * 17}])
    with pytest.raises(ValueError, match=f"{path}.*image_size"):
        read_coco_keypoints(path)
    with pytest.raises(ValueError, match="person"):
        read_coco_keypoints(path, (10, 10), person="tallest")
    with pytest.raises(TypeError, match="person"):
        read_coco_keypoints(path, (10, 10), person=1.5)


@given(st.integers(1, 4), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_round_trip_through_a_pose_dataset_file(tmp_path_factory, frames, persons, seed):
    rng = np.random.default_rng(seed)
    data = [{"image_id": f, "category_id": 1, "keypoints": _flat(*_person((50, 50), 20, rng)),
             "score": float(rng.uniform())} for f in range(frames) for _ in range(persons)]
    d = tmp_path_factory.mktemp("rt")
    ds = read_coco_keypoints(_write(d / "r.json", data), (100, 100))
    back = load_pose_dataset(save_pose_dataset(ds, d / "ds.npz"))
    assert back.equals(ds)
