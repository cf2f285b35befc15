"""The ``*_h36m17.npz`` mocap reader, clip selection and the suggested split."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from skelcl.data import (
    SUGGESTED_SPLIT,
    MocapClips,
    default_data_dir,
    load_mocap,
    parse_selection,
    save_mocap,
    suggested_split,
    synthetic_mocap,
)

BANDAI = "bandai_namco_dataset2_h36m17.npz"
CMU = "cmu_iclone_retarget_h36m17.npz"


@pytest.fixture(scope="module")
def bandai(data_dir):
    return load_mocap(data_dir / BANDAI)


@pytest.fixture(scope="module")
def bandai_raw(data_dir):
    with np.load(data_dir / BANDAI) as f:
        return {k: f[k] for k in f.files}


def test_bandai_shapes_units_and_clips(bandai, bandai_raw):
    raw = bandai_raw["poses_3d_mm"]
    assert bandai.poses.shape == raw.shape == (384931, 17, 3)
    assert bandai.poses.dtype == torch.float32
    np.testing.assert_allclose(bandai.poses[::997].numpy(), raw[::997].astype(np.float64) / 1000.0, rtol=1e-6)
    assert bandai.num_clips == 2902 and bandai.fps == 30.0
    assert bandai.is_packed()
    assert bandai.clip_names.tolist() == bandai_raw["clip_names"].tolist()
    assert set(bandai.metadata) >= {"content", "style", "source", "action"}
    assert bandai.metadata["action"].tolist() == bandai_raw["content"].tolist()
    assert set(bandai.metadata["source"]) == {"bandai_namco_dataset2_h36m17"}
    # Y up: heads above ankles
    assert (bandai.poses[::101, 10, 1] > bandai.poses[::101, 3, 1]).float().mean() > 0.99
    # per-frame bookkeeping, oracle: a Python loop over the clips
    ci = bandai.frame_clip_index()
    for c in (0, 1, 1500, 2901):
        s, n = bandai_raw["clip_starts"][c], bandai_raw["clip_lengths"][c]
        assert (ci[s:s + n] == c).all()
        np.testing.assert_array_equal(bandai.clip(c).numpy(), raw[s:s + n] / np.float32(1000))
    assert bandai.per_frame("style")[bandai_raw["clip_starts"][3]] == bandai_raw["style"][3]


@pytest.mark.parametrize(
    "expr,column,keep",
    [
        ("style!=normal", "style", lambda v: v != "normal"),
        ("style=normal", "style", lambda v: v == "normal"),
        ("content=walk", "content", lambda v: v == "walk"),
        ("content=walk,run", "content", lambda v: np.isin(v, ["walk", "run"])),
    ],
)
def test_select_bandai(bandai, bandai_raw, expr, column, keep):
    sel = bandai.select(expr)
    mask = keep(bandai_raw[column])
    assert sel.clip_names.tolist() == bandai_raw["clip_names"][mask].tolist()
    assert sel.num_frames == int(bandai_raw["clip_lengths"][mask].sum())
    assert sel.is_packed()
    # frames copied from the right place (oracle: raw slices)
    raw = bandai_raw["poses_3d_mm"]
    for k in (0, sel.num_clips - 1):
        c = np.flatnonzero(mask)[k]
        s, n = bandai_raw["clip_starts"][c], bandai_raw["clip_lengths"][c]
        np.testing.assert_array_equal(sel.clip(k).numpy(), raw[s:s + n] / np.float32(1000))


def test_select_cmu_subjects_and_and(data_dir):
    cmu = load_mocap(data_dir / CMU)
    assert cmu.fps == 60.0 and cmu.poses.shape == (22618, 17, 3)
    s3 = cmu.select("subject=003")
    assert s3.num_clips == 2 and set(s3.metadata["subject"]) == {"003"}
    both = cmu.select("subject!=002", "subject!=005,006")
    assert sorted(set(both.metadata["subject"])) == ["003", "007"]
    assert cmu.metadata["action"].tolist() == cmu.metadata["description"].tolist()
    assert cmu.select("name=002_01").clip_names.tolist() == ["002_01"]
    with pytest.raises(KeyError, match="style"):
        cmu.select("style=normal")
    assert load_mocap(data_dir / CMU, selection=["subject=007"]).num_clips == 12


def test_parse_selection():
    assert parse_selection(" style != normal ") == ("style", True, ("normal",))
    assert parse_selection("subject=002, 005") == ("subject", False, ("002", "005"))
    for bad in ("style", "=x", "style=", "a=b,,c"):
        with pytest.raises(ValueError, match="selection"):
            parse_selection(bad)


def _toy() -> MocapClips:
    poses = torch.arange(10 * 17 * 3, dtype=torch.float32).reshape(10, 17, 3)
    return MocapClips(poses, np.array(["a", "b", "c"]), np.array([0, 3, 7]), np.array([3, 4, 3]),
                      clip_fps=np.array([30.0, 30.0, 60.0]),
                      metadata={"kind": np.array(["x", "y", "x"])})


def test_take_subsample_concat_on_toy_clips():
    t = _toy()
    with pytest.raises(ValueError, match="different frame rates"):
        _ = t.fps
    r = t.take_clips([2, 0])
    assert r.clip_names.tolist() == ["c", "a"] and r.clip_starts.tolist() == [0, 3]
    assert torch.equal(r.poses, torch.cat([t.poses[7:10], t.poses[0:3]]))
    s = t.subsample(2)
    assert s.clip_lengths.tolist() == [2, 2, 2]
    assert torch.equal(s.poses, t.poses[[0, 2, 3, 5, 7, 9]])
    assert s.clip_fps.tolist() == [15.0, 15.0, 30.0]
    other = MocapClips(torch.zeros(2, 17, 3), np.array(["z"]), np.array([0]), np.array([2]), 30.0,
                       metadata={"extra": np.array(["e"])})
    cat = MocapClips.concat([t.select("kind=x"), other])
    assert cat.clip_names.tolist() == ["a", "c", "z"]
    assert cat.clip_starts.tolist() == [0, 3, 6] and cat.num_frames == 8
    assert cat.metadata["kind"].tolist() == ["x", "x", ""]
    assert cat.metadata["extra"].tolist() == ["", "", "e"]
    with pytest.raises(ValueError, match="clip"):
        MocapClips(torch.zeros(5, 17, 3), np.array(["a"]), np.array([3]), np.array([4]), 30.0)
    with pytest.raises(ValueError, match="step"):
        t.subsample(0)


def test_save_mocap_round_trip(tmp_path):
    clips = synthetic_mocap(150, clip_length=50, generator=torch.Generator().manual_seed(0))
    path = save_mocap(clips, tmp_path / "syn_h36m17.npz")
    back = load_mocap(path)
    np.testing.assert_allclose(back.poses.numpy(), clips.poses.numpy(), atol=0.5e-3 + 1e-6)
    assert back.clip_names.tolist() == clips.clip_names.tolist()
    assert back.metadata["source"].tolist() == ["synthetic"] * 3
    assert back.metadata["action"].tolist() == clips.metadata["action"].tolist()


def test_bad_mocap_files_name_the_file(tmp_path):
    good = save_mocap(synthetic_mocap(60, generator=torch.Generator().manual_seed(0)), tmp_path / "g.npz")
    data = good.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=str(cut)):
        load_mocap(cut)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match=f"{empty}.*empty"):
        load_mocap(empty)
    with np.load(good) as f:
        arrays = {k: f[k] for k in f.files}
    for key in ("poses_3d_mm", "clip_starts"):
        broken = {k: v for k, v in arrays.items() if k != key}
        path = tmp_path / f"no_{key}.npz"
        np.savez(path, **broken)
        with pytest.raises(ValueError, match=f"{path}.*{key}"):
            load_mocap(path)
    wrong = dict(arrays, poses_3d_mm=arrays["poses_3d_mm"][:, :16])
    np.savez(tmp_path / "j16.npz", **wrong)
    with pytest.raises(ValueError, match=r"j16.npz.*\(F, 17, 3\)"):
        load_mocap(tmp_path / "j16.npz")
    nan = dict(arrays, poses_3d_mm=arrays["poses_3d_mm"].astype(np.float32))
    nan["poses_3d_mm"][7, 2, 1] = np.nan
    np.savez(tmp_path / "nan.npz", **nan)
    with pytest.raises(ValueError, match=r"nan.npz.*NaN.*frame 7"):
        load_mocap(tmp_path / "nan.npz")
    over = dict(arrays, clip_lengths=arrays["clip_lengths"] + 5)
    np.savez(tmp_path / "over.npz", **over)
    with pytest.raises(ValueError, match=r"over.npz.*outside"):
        load_mocap(tmp_path / "over.npz")


def test_suggested_split_matches_readme_rule(data_dir, bandai_raw):
    split = suggested_split(data_dir)
    train, val = split["train"], split["validation"]
    with np.load(data_dir / CMU) as f:
        cmu = {k: f[k] for k in f.files}
    # oracle: the README rule applied with numpy to the raw files
    exp_train = set(bandai_raw["clip_names"][bandai_raw["style"] != "normal"]) | set(
        cmu["clip_names"][np.isin(cmu["subject"], ["002", "005", "006"])])
    exp_val = set(bandai_raw["clip_names"][bandai_raw["style"] == "normal"]) | set(
        cmu["clip_names"][np.isin(cmu["subject"], ["003", "007"])])
    assert set(train.clip_names) == exp_train and set(val.clip_names) == exp_val
    assert not set(train.clip_names) & set(val.clip_names)
    assert train.num_frames + val.num_frames == 384931 + 22618
    assert sorted(np.unique(train.clip_fps)) == [30.0, 60.0]
    assert set(train.metadata["source"]) == {"bandai_namco_dataset2_h36m17", "cmu_iclone_retarget_h36m17"}
    assert set(SUGGESTED_SPLIT) == {"train", "validation"}
    only_val = suggested_split(data_dir, splits=("validation",))
    assert list(only_val) == ["validation"] and only_val["validation"].num_frames == val.num_frames


def test_default_data_dir_reads_env(monkeypatch, tmp_path):
    monkeypatch.delenv("SKELCL_DATA_DIR", raising=False)
    with pytest.raises(RuntimeError, match="SKELCL_DATA_DIR"):
        default_data_dir()
    with pytest.raises(RuntimeError, match="SKELCL_DATA_DIR"):
        suggested_split()
    monkeypatch.setenv("SKELCL_DATA_DIR", str(tmp_path / "nope"))
    with pytest.raises(RuntimeError, match="not a directory"):
        default_data_dir()
    monkeypatch.setenv("SKELCL_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    with pytest.raises(FileNotFoundError):
        suggested_split()
