"""The frames the ``quick`` budget reports on, as the diagnostic scripts read them (private)."""

from __future__ import annotations

import os
from typing import Tuple

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
