"""The pose-dataset file format: round trips, validation, bad files, the torch Dataset view."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from skelcl.data import (
    PoseDataset,
    PoseDatasetError,
    load_pose_dataset,
    save_pose_dataset,
)

JOINTS = {"h36m17": 17, "coco17": 17, "body25": 25}


@st.composite
def datasets(draw):
    """Random valid datasets covering every optional key and every documented shape."""
    n = draw(st.integers(1, 5))
    layout = draw(st.sampled_from(sorted(JOINTS)))
    j = JOINTS[layout]
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    poses_2d = (rng.uniform(-50, 1050, (n, j, 2))).astype(dtype)
    kwargs = {}
    if draw(st.booleans()):
        conf = rng.uniform(0, 1, (n, j)).astype(dtype)
        conf[rng.uniform(size=(n, j)) < 0.2] = 0.0
        conf[rng.uniform(size=(n, j)) < 0.1] = 1.0
        # missing joints may carry NaN coordinates
        nan_here = (conf == 0) & (rng.uniform(size=(n, j)) < 0.5)
        poses_2d[nan_here] = np.nan
        kwargs["confidence"] = conf
    if draw(st.booleans()):
        kwargs["poses_3d"] = rng.normal(0, 1, (n, j, 3)).astype(dtype) + np.array([0, 0, 5], dtype)
    image_size = draw(st.sampled_from([(2,), (n, 2)]))
    kwargs["image_size"] = rng.uniform(100, 2000, image_size).astype(dtype)
    focal = draw(st.sampled_from([None, (), (2,), (n,), (n, 2)]))
    if focal is not None:
        kwargs["focal"] = np.asarray(rng.uniform(500, 1500, focal), dtype=dtype)
    pp = draw(st.sampled_from([None, (2,), (n, 2)]))
    if pp is not None:
        kwargs["principal_point"] = rng.uniform(0, 1000, pp).astype(dtype)
    text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   max_size=8)
    if draw(st.booleans()):
        kwargs["clip"] = np.asarray(draw(st.lists(text, min_size=n, max_size=n)), dtype=str)
    if draw(st.booleans()):
        kwargs["action"] = np.asarray(draw(st.lists(text, min_size=n, max_size=n)), dtype=str)
    if draw(st.booleans()):
        kwargs["extras"] = {"view": rng.integers(0, 4, n), "frame": rng.integers(0, 99, (n,)).astype(np.int32)}
    source = draw(st.sampled_from(["", "synthetic", "virtual cameras of x"]))
    return PoseDataset(poses_2d=poses_2d, layout=layout, source=source, **kwargs)


def _assert_same_arrays(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype, k
        assert x.shape == y.shape, k
        if x.dtype.kind == "f":
            assert np.array_equal(np.isnan(x), np.isnan(y)), k
            assert np.array_equal(x[~np.isnan(x)], y[~np.isnan(y)]), k
        else:
            assert np.array_equal(x, y), k


@given(datasets())
def test_write_read_round_trip(tmp_path_factory, ds):
    path = tmp_path_factory.mktemp("rt") / "ds.npz"
    save_pose_dataset(ds, path)
    back = load_pose_dataset(path)
    # oracle: the raw archive read with numpy itself, key by key
    with np.load(path, allow_pickle=False) as raw:
        raw_arrays = {k: raw[k] for k in raw.files}
    expected = {"poses_2d": ds.poses_2d, "image_size": ds.image_size, "layout": np.asarray(ds.layout)}
    for k in ("confidence", "poses_3d", "focal", "principal_point", "clip", "action"):
        if getattr(ds, k) is not None:
            expected[k] = getattr(ds, k)
    if ds.source:
        expected["source"] = np.asarray(ds.source)
    expected.update(ds.extras)
    _assert_same_arrays(raw_arrays, expected)
    _assert_same_arrays(back.to_arrays(), expected)
    assert back.equals(ds) and ds.equals(back)
    assert back.filename == str(path)


def test_save_is_atomic_and_leaves_no_temporary(tmp_path, monkeypatch):
    ds = PoseDataset(poses_2d=np.zeros((2, 17, 2)), image_size=np.array([10.0, 10.0]))
    path = tmp_path / "a.npz"
    save_pose_dataset(ds, path)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    ds2 = PoseDataset(poses_2d=np.ones((3, 17, 2)), image_size=np.array([10.0, 10.0]))
    with pytest.raises(RuntimeError, match="disk full"):
        save_pose_dataset(ds2, path)
    assert path.read_bytes() == before  # old file untouched
    assert sorted(os.listdir(tmp_path)) == ["a.npz"]  # no temporary left behind
    monkeypatch.undo()
    # name used exactly as given (no .npz appended)
    save_pose_dataset(ds2, tmp_path / "plain.data")
    assert (tmp_path / "plain.data").is_file()
    assert len(load_pose_dataset(tmp_path / "plain.data")) == 3


def _write(path: Path, **arrays) -> Path:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def _valid(n=3, j=17):
    return {
        "poses_2d": np.full((n, j, 2), 100.0, dtype=np.float32),
        "image_size": np.array([1000.0, 1000.0]),
        "layout": np.asarray("h36m17"),
    }


def test_truncated_file_names_the_file(tmp_path):
    good = _write(tmp_path / "good.npz", **_valid(50))
    data = good.read_bytes()
    for cut in (len(data) // 2, 30, len(data) - 10):
        bad = tmp_path / f"cut{cut}.npz"
        bad.write_bytes(data[:cut])
        with pytest.raises(PoseDatasetError, match=str(bad)):
            load_pose_dataset(bad)


def test_empty_and_garbage_files(tmp_path):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(PoseDatasetError, match=f"{empty}.*empty"):
        load_pose_dataset(empty)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip archive at all")
    with pytest.raises(PoseDatasetError, match=str(junk)):
        load_pose_dataset(junk)
    npy = tmp_path / "single.npz"
    with open(npy, "wb") as fh:
        np.save(fh, np.zeros(3))
    with pytest.raises(PoseDatasetError, match=str(npy)):
        load_pose_dataset(npy)
    with pytest.raises(FileNotFoundError, match="nothere"):
        load_pose_dataset(tmp_path / "nothere.npz")


def test_pickled_objects_are_refused(tmp_path):
    arrays = _valid()
    arrays["clip"] = np.array([{"a": 1}, None, 3], dtype=object)
    path = _write(tmp_path / "pickled.npz", **arrays)
    with pytest.raises(PoseDatasetError, match=f"{path}.*pickle"):
        load_pose_dataset(path)


@pytest.mark.parametrize("key", ["poses_2d", "image_size", "layout"])
def test_missing_required_key(tmp_path, key):
    arrays = _valid()
    del arrays[key]
    path = _write(tmp_path / "m.npz", **arrays)
    with pytest.raises(PoseDatasetError, match=f"{path}: key '{key}': missing"):
        load_pose_dataset(path)


def test_wrong_joint_count_names_key_and_layout(tmp_path):
    path = _write(tmp_path / "j.npz", **_valid(j=16))
    with pytest.raises(PoseDatasetError, match=f"{path}: key 'poses_2d': layout 'h36m17' has 17 joints, got J = 16"):
        load_pose_dataset(path)
    arrays = _valid(j=25)
    arrays["layout"] = np.asarray("body25")
    assert load_pose_dataset(_write(tmp_path / "b.npz", **arrays)).num_joints == 25
    arrays["layout"] = np.asarray("no_such_layout")
    with pytest.raises(PoseDatasetError, match="key 'layout'"):
        load_pose_dataset(_write(tmp_path / "c.npz", **arrays))


def test_nan_names_key_and_first_frame(tmp_path):
    arrays = _valid(6)
    arrays["poses_2d"][4, 3, 1] = np.nan
    arrays["poses_2d"][5, 0, 0] = np.nan
    path = _write(tmp_path / "nan.npz", **arrays)
    with pytest.raises(PoseDatasetError, match=r"nan.npz: key 'poses_2d': .*NaN.*first at frame 4\)"):
        load_pose_dataset(path)
    # the same NaN is fine where the confidence says the joint is missing
    conf = np.ones((6, 17))
    conf[4, 3] = 0.0
    conf[5, 0] = 0.0
    arrays["confidence"] = conf
    ds = load_pose_dataset(_write(tmp_path / "nan_ok.npz", **arrays))
    assert np.isnan(ds.poses_2d[4, 3, 1])
    arrays["poses_2d"][2, 1, 0] = np.inf
    with pytest.raises(PoseDatasetError, match="inf.*first at frame 2"):
        load_pose_dataset(_write(tmp_path / "inf.npz", **arrays))


@pytest.mark.parametrize(
    "key,value,pattern",
    [
        ("confidence", lambda n: np.where(np.arange(n)[:, None] == 2, 1.5, 0.5) * np.ones((n, 17)),
         r"confidence'.*\[0, 1\].*frame 2"),
        ("confidence", lambda n: np.ones((n, 16)), r"confidence'.*shape"),
        ("confidence", lambda n: np.where(np.arange(n)[:, None] == 1, np.nan, 0.5) * np.ones((n, 17)),
         r"confidence'.*NaN.*frame 1"),
        ("poses_3d", lambda n: np.ones((n, 17, 2)), r"poses_3d'.*\(N, J, 3\)"),
        ("poses_3d", lambda n: np.where(np.arange(n)[:, None, None] == 3, np.nan, 1.0) * np.ones((n, 17, 3)),
         r"poses_3d'.*NaN.*frame 3"),
        ("image_size", lambda n: np.array([1000.0, 0.0]), r"image_size'.*> 0"),
        ("image_size", lambda n: np.ones((n, 3)), r"image_size'.*shape"),
        ("focal", lambda n: np.where(np.arange(n) == 1, -5.0, 1000.0), r"focal'.*> 0.*frame 1"),
        ("focal", lambda n: np.ones((n, 3)), r"focal'.*shape"),
        ("principal_point", lambda n: np.ones((3,)), r"principal_point'.*shape"),
        ("clip", lambda n: np.array(["a", "b"]), r"clip'.*shape"),
        ("clip", lambda n: np.arange(n), r"clip'.*unicode"),
    ],
)
def test_bad_optional_keys(tmp_path, key, value, pattern):
    arrays = _valid(5)
    arrays[key] = value(5)
    path = _write(tmp_path / "bad.npz", **arrays)
    with pytest.raises(PoseDatasetError, match=pattern) as info:
        load_pose_dataset(path)
    assert str(path) in str(info.value)
    if "unicode" in pattern:
        return  # in memory, labels are converted to strings on construction
    # the same content built in memory names <memory> instead of a file
    kwargs = {k: v for k, v in arrays.items() if k != "layout"}
    with pytest.raises(PoseDatasetError, match="<memory>"):
        PoseDataset(layout="h36m17", **kwargs)


def test_empty_dataset_and_wrong_rank():
    with pytest.raises(PoseDatasetError, match="empty"):
        PoseDataset(poses_2d=np.zeros((0, 17, 2)), image_size=np.array([1.0, 1.0]))
    with pytest.raises(PoseDatasetError, match=r"\(N, J, 2\)"):
        PoseDataset(poses_2d=np.zeros((17, 2)), image_size=np.array([1.0, 1.0]))
    with pytest.raises(PoseDatasetError, match="extras must have first axis"):
        PoseDataset(poses_2d=np.zeros((2, 17, 2)), image_size=np.array([1.0, 1.0]),
                    extras={"view": np.zeros(3)})


def test_torch_view_hides_3d_unless_asked():
    n = 7
    rng = np.random.default_rng(0)
    p2 = rng.uniform(0, 1000, (n, 17, 2)).astype(np.float32)
    conf = np.ones((n, 17), dtype=np.float32)
    conf[2, 5] = 0
    p2[2, 5] = np.nan
    p3 = rng.normal(size=(n, 17, 3)).astype(np.float32)
    ds = PoseDataset(poses_2d=p2, image_size=np.array([1000, 1000]), confidence=conf, poses_3d=p3)
    view = ds.to_torch()
    assert len(view) == n
    item = view[2]
    assert set(item) == {"poses_2d", "confidence"}
    assert item["poses_2d"].shape == (17, 2) and item["poses_2d"].dtype == torch.float32
    assert torch.equal(item["poses_2d"][5], torch.zeros(2))  # NaN of a missing joint -> 0
    assert item["confidence"][5] == 0 and item["confidence"][4] == 1
    batch = view[1:4]
    assert batch["poses_2d"].shape == (3, 17, 2)
    np.testing.assert_array_equal(batch["poses_2d"][0].numpy(), p2[1])
    full = ds.to_torch(with_3d=True, dtype=torch.float64)
    assert full[3]["poses_3d"].dtype == torch.float64
    np.testing.assert_array_equal(full[3]["poses_3d"].numpy(), p3[3].astype(np.float64))
    loader = torch.utils.data.DataLoader(view, batch_size=4)
    first = next(iter(loader))
    assert first["poses_2d"].shape == (4, 17, 2) and "poses_3d" not in first
    no3d = PoseDataset(poses_2d=p2, image_size=np.array([1000, 1000]), confidence=conf)
    with pytest.raises(ValueError, match="with_3d"):
        no3d.to_torch(with_3d=True)
    # confidence absent -> ones
    ones = PoseDataset(poses_2d=np.zeros((2, 17, 2)), image_size=np.array([5, 5])).to_torch()
    assert torch.equal(ones[0]["confidence"], torch.ones(17))


def test_subset_keeps_shared_and_indexes_per_pose_arrays():
    n = 6
    ds = PoseDataset(
        poses_2d=np.arange(n * 17 * 2, dtype=np.float64).reshape(n, 17, 2),
        image_size=np.array([640.0, 480.0]),
        focal=np.array([1000.0, 1010.0]),
        principal_point=np.arange(n * 2, dtype=np.float64).reshape(n, 2),
        clip=np.array([f"c{i}" for i in range(n)]),
        extras={"view": np.arange(n)},
    )
    sub = ds.subset(np.array([4, 1]))
    assert len(sub) == 2
    np.testing.assert_array_equal(sub.poses_2d, ds.poses_2d[[4, 1]])
    np.testing.assert_array_equal(sub.image_size, [640.0, 480.0])
    np.testing.assert_array_equal(sub.focal, [1000.0, 1010.0])  # (2,) is (fx, fy), shared
    np.testing.assert_array_equal(sub.principal_point, ds.principal_point[[4, 1]])
    assert sub.clip.tolist() == ["c4", "c1"] and sub.extras["view"].tolist() == [4, 1]
    assert ds.summary().startswith("pose dataset: 6 poses x 17 joints, layout 'h36m17'")
