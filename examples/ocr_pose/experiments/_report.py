"""What the diagnostic scripts read (private): the frames the ``quick`` budget reports on, and
the perfect lifter of the training split."""

from __future__ import annotations

import os
from typing import Optional, Tuple

import torch

from skelcl.data import PoseDataset


def report_frames() -> Tuple[PoseDataset, int]:
    """Set the torch threads from ``OMP_NUM_THREADS`` (default 1) and return the report-clip
    frames that ``reproduce`` and ``probe`` score for the seed in ``PROBE_SEED`` (default 0),
    read from ``SKELCL_DATA_DIR``, with that seed."""
    from examples.ocr_pose.data_sources import real_datasets
    from examples.ocr_pose.reproduce import BUDGETS, budget_frames

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    seed = int(os.environ.get("PROBE_SEED", "0"))
    d = real_datasets(os.environ["SKELCL_DATA_DIR"], views=BUDGETS["quick"]["views"], seed=seed)
    return budget_frames(d, "quick", seed).report, seed


def perfect_lifter_split(train_poses: Optional[int], held_out: int = 5000,
                         distance: float = 10.0) -> Tuple[torch.Tensor, torch.Tensor, int]:
    """A perfect lifter on one virtual view of the training split (seed 0), read from
    ``SKELCL_DATA_DIR``: ``train_poses + held_out`` frames (``None``: all).

    Returns ``(x, depth, split)``: the normalised 2D ``(N, 17, 2)`` (normaliser fitted on these
    frames), the ground-truth relative depth ``d_i = k D (Z_i - Z_root) / Z_root`` ``(N, 17)``
    (``k`` the normaliser's scale, ``D = distance``), so that ``depth_to_points(x, depth, D)`` is
    a similarity transform of the camera-frame ground truth, and the index from which the last
    ``held_out`` frames are held out. Diagnostic only: no lifter ever reads this depth.
    """
    from examples.ocr_pose.data_sources import real_datasets
    from examples.ocr_pose.inputs import dataset_to_2d, fit_normalizer, subsample_dataset

    ds = subsample_dataset(real_datasets(os.environ["SKELCL_DATA_DIR"], views=1, seed=0)["train"],
                           None if train_poses is None else train_poses + held_out, 0)
    xy, conf, _ = dataset_to_2d(ds)
    xy_t = torch.from_numpy(xy)
    x = fit_normalizer(xy, conf).transform(xy_t).float()
    rel = xy_t - xy_t[:, :1]
    k = float((x.double() * rel).sum() / (rel * rel).sum())  # the normaliser's scale
    p3 = torch.from_numpy(ds.poses_3d).double()
    zr = p3[:, :1, 2]
    depth = (k * distance * (p3[..., 2] - zr) / zr).float()
    return x, depth, x.shape[0] - held_out
