"""Tests of skelcl.plots: figures are written as non-empty PNG files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("matplotlib")

from skelcl.plots import (  # noqa: E402
    plot_pose_comparison,
    plot_skeleton_2d,
    plot_skeleton_3d,
    plot_training_curves,
)
from skelcl.skeleton import COCO17, H36M17  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path) -> bool:
    data = open(path, "rb").read()
    return len(data) > 1000 and data[:8] == PNG_MAGIC


def test_pose_comparison_png(tmp_path, data_dir):
    d = np.load(data_dir / "cmu_iclone_retarget_h36m17.npz")
    target = d["poses_3d_mm"][0].astype(np.float64)
    pred = target + np.random.default_rng(0).normal(scale=30, size=target.shape)
    out = plot_pose_comparison(torch.from_numpy(pred), target, H36M17, tmp_path / "cmp.png",
                               title="frame 0", camera_frame=False)
    assert _is_png(out)


def test_skeleton_2d_3d_axes(tmp_path):
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot(1, 2, 1)
    vis = np.ones(17, bool)
    vis[3] = False
    plot_skeleton_2d(ax, torch.randn(17, 2), H36M17, visible=vis)
    assert ax.yaxis_inverted() and len(ax.lines) == 16
    plot_skeleton_3d(fig.add_subplot(1, 2, 2, projection="3d"), np.random.randn(17, 3))
    fig.savefig(tmp_path / "axes.png")
    assert _is_png(tmp_path / "axes.png")
    with pytest.raises(ValueError, match="pose"):
        plot_skeleton_2d(ax, np.zeros((17, 2)), COCO17.__class__("x", ("a", "b"), (-1, 0)))
    with pytest.raises(ValueError, match="pose"):
        plot_skeleton_2d(ax, np.zeros((17, 3)))
    with pytest.raises(ValueError, match="visible"):
        plot_skeleton_2d(ax, np.zeros((17, 2)), visible=np.ones(3, bool))


def test_training_curves_png(tmp_path):
    rows = [{"epoch": e, "loss_2d": 1.0 / (e + 1), "loss_3d": 0.5 + 0.1 * e} for e in range(5)]
    rows.append({"epoch": 5, "val_p_mpjpe": 80.0, "note": "text is skipped"})
    out = plot_training_curves(rows, tmp_path / "curves.png", log_scale=True)
    assert _is_png(out)
    with pytest.raises(ValueError, match="log_rows"):
        plot_training_curves([], tmp_path / "x.png")
    with pytest.raises(ValueError, match="keys"):
        plot_training_curves(rows, tmp_path / "x.png", keys=["nope"])
