"""``python -m skelcl.data``: project-mocap, info, synthetic (small inputs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from skelcl.data import load_mocap, load_pose_dataset, save_mocap, synthetic_mocap
from skelcl.data.__main__ import main

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "skelcl.data", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_subprocess_synthetic_then_info(tmp_path, capsys):
    # one real `python -m skelcl.data` process (entry point wiring), the rest in-process
    out = tmp_path / "syn.npz"
    r = _run("synthetic", str(out), "--frames", "120", "--views", "2", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stdout
    ds = load_pose_dataset(out)
    assert len(ds) == 240 and "synthetic" in ds.source
    assert all("synthetic" in c for c in np.unique(ds.clip))
    assert main(["info", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "240 poses x 17 joints" in printed and "synthetic" in printed
    bad = tmp_path / "bad.npz"
    bad.write_bytes(out.read_bytes()[:100])
    assert main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_project_mocap_with_selection_and_seed(tmp_path, capsys):
    clips = synthetic_mocap(300, clip_length=50, generator=torch.Generator().manual_seed(0))
    mocap = save_mocap(clips, tmp_path / "toy_h36m17.npz")
    out = tmp_path / "proj.npz"
    assert main(["project-mocap", str(mocap), str(out), "--views", "3", "--seed", "0",
                 "--select", "action!=crouching"]) == 0
    assert "wrote" in capsys.readouterr().out
    ds = load_pose_dataset(out)
    kept = load_mocap(mocap).select("action!=crouching")
    assert len(ds) == 3 * kept.num_frames
    assert "crouching" not in set(ds.action) and 0 < kept.num_frames < 300
    assert ds.poses_3d is not None and ds.extras["view"].max() == 2
    # same seed -> same file content; other seed -> other cameras
    out2, out3 = tmp_path / "p2.npz", tmp_path / "p3.npz"
    assert main(["project-mocap", str(mocap), str(out2), "--views", "3", "--select", "action!=crouching"]) == 0
    assert main(["project-mocap", str(mocap), str(out3), "--views", "3", "--seed", "1",
                 "--select", "action!=crouching", "--noise-std", "2", "--subsample", "2"]) == 0
    assert load_pose_dataset(out2).equals(ds)
    ds3 = load_pose_dataset(out3)
    assert len(ds3) < len(ds) and (ds3.confidence < 1).any()
    # info on a mocap file
    assert main(["info", str(mocap)]) == 0
    assert "mocap clips: 6 clips, 300 frames" in capsys.readouterr().out


def test_cli_errors_exit_2_with_one_line(tmp_path, capsys):
    missing = tmp_path / "missing.npz"
    assert main(["project-mocap", str(missing), str(tmp_path / "o.npz")]) == 2
    assert str(missing) in capsys.readouterr().err
    mocap = save_mocap(synthetic_mocap(60, generator=torch.Generator().manual_seed(0)), tmp_path / "m.npz")
    assert main(["project-mocap", str(mocap), str(tmp_path / "o.npz"), "--select", "style=normal"]) == 2
    assert "style" in capsys.readouterr().err
    assert main(["project-mocap", str(mocap), str(tmp_path / "o.npz"), "--select", "action=flying"]) == 2
    assert "keeps no clip" in capsys.readouterr().err
    assert not (tmp_path / "o.npz").exists()
    other = tmp_path / "other.npz"
    np.savez(other, a=np.zeros(3))
    assert main(["info", str(other)]) == 0
    assert "neither a pose dataset nor a mocap file" in capsys.readouterr().out


def test_synthetic_world_output(tmp_path, capsys):
    out = tmp_path / "w.npz"
    assert main(["synthetic", str(out), "--frames", "90", "--world", "--seed", "2"]) == 0
    clips = load_mocap(out)
    assert clips.num_frames == 90 and set(clips.metadata["source"]) == {"synthetic"}
