"""Where the example's pose datasets come from: the embedded synthetic default, or the real
motion capture of the data README turned into 2D with virtual cameras (METHOD.md §6)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Tuple, Union

import torch

from skelcl.data.pose_dataset import PoseDataset
from skelcl.data.splits import suggested_split
from skelcl.data.synthetic import synthetic_mocap
from skelcl.data.virtual_cameras import project_mocap


def synthetic_datasets(num_poses: int, views: int, seed: int) -> Tuple[PoseDataset, PoseDataset]:
    """Synthetic training and validation datasets (separate seeds, disjoint clips).

    The training set has ``num_poses`` 2D poses (``num_poses // views`` frames seen by ``views``
    virtual cameras shaped like Human3.6M's); the validation set a quarter as many (at least
    256). Both carry camera-frame 3D and ``source == "synthetic"``.
    """
    frames = max(1, num_poses // views)
    g = torch.Generator().manual_seed(seed)
    train = project_mocap(synthetic_mocap(frames, generator=g), views, generator=g)
    gv = torch.Generator().manual_seed(seed + 1_000_003)
    val_frames = max(256, frames // 4)
    val = project_mocap(synthetic_mocap(val_frames, generator=gv), views, generator=gv)
    return train, val


def real_datasets(
    data_dir: Union[str, Path], views: int = 4, seed: int = 0
) -> Dict[str, PoseDataset]:
    """The data README's suggested split, each frame seen by ``views`` virtual cameras.

    Returns:
        ``{"train": ..., "validation": ...}`` pose datasets (pixels, camera-frame 3D in metres,
        per-pose focal length and principal point, action labels).
    """
    clips = suggested_split(data_dir)
    out = {}
    for i, (name, c) in enumerate(sorted(clips.items())):
        g = torch.Generator().manual_seed(seed + 17 * (i + 1))
        out[name] = project_mocap(c, views, generator=g)
    return out
