"""How close are the bone proportions read off the training 2D (``loss.bone_target = "image"``)
to the truth? (docs/results.md, "Bone proportions read off the 2D".)

Builds the ``quick`` budget's training poses for the seed in ``PROBE_SEED`` exactly as the trainer
sees them, takes the trainer's target (:func:`skelcl.losses.bone_proportions_from_2d` with
clips of at least ``IMAGE_BONES_MIN_POSES`` poses), and compares it with the ground truth read
from the same poses' 3D (which training never sees): the median over the voting clips of each
clip's relative bone lengths. Also shows what one clip's own longest images would give (no
median over clips). Prints one JSON line. Usage, from the repository root::

    SKELCL_DATA_DIR=../shared/data python -m examples.ocr_pose.experiments.image_bones
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

import numpy as np
import torch

from examples.ocr_pose.data_sources import real_datasets
from examples.ocr_pose.inputs import dataset_to_2d, fit_normalizer, to_poses2d
from examples.ocr_pose.reproduce import BUDGETS, budget_frames
from examples.ocr_pose.training import IMAGE_BONES_MIN_POSES
from skelcl.data.pose_dataset import PoseDataset
from skelcl.losses import bone_proportions_from_2d, relative_bone_lengths


def image_bone_accuracy(ds: PoseDataset, min_poses: int = IMAGE_BONES_MIN_POSES) -> Dict[str, Any]:
    """The ``"image"`` target of a training dataset against its 3D (percent of each bone).

    Returns:
        ``bones``: number of bones; ``clips`` / ``voting_clips``: clips in the data / with at
        least ``min_poses`` poses; ``target``: the estimate (16 values); ``truth``: the median over
        the voting clips of their median relative bone lengths, renormalised to mean 1;
        ``error_pct_mean`` / ``error_pct_max``: ``|target - truth| / truth`` over the bones;
        ``per_clip_error_pct``: the same error, averaged over clips and bones, of each voting
        clip's own longest images (no median) against that clip's truth;
        ``truth_spread_pct``: how far the clips' true proportions are from their median (mean
        over clips and bones).
    """
    xy, conf, _ = dataset_to_2d(ds)
    poses = to_poses2d(ds, fit_normalizer(xy, conf))  # the trainer's input
    x, vis, clip = poses.poses, poses.visible, poses.clip
    target = bone_proportions_from_2d(x, clip, vis, min_poses=min_poses)
    p3 = torch.from_numpy(ds.poses_3d.astype(np.float64))
    labels, counts = torch.unique(clip, return_counts=True)
    voting = labels[counts >= min_poses]
    truth_c = torch.stack([relative_bone_lengths(p3[clip == c]).median(0).values for c in voting])
    own = torch.stack([bone_proportions_from_2d(x[clip == c], clip[clip == c], vis[clip == c],
                                                min_poses=1) for c in voting])
    truth = torch.quantile(truth_c, 0.5, dim=0)
    truth = truth / truth.mean()
    err = (target - truth).abs() / truth
    pct = lambda v: round(100 * float(v), 2)  # noqa: E731
    return {"bones": int(target.numel()), "clips": int(labels.numel()), "voting_clips": int(voting.numel()),
            "target": [round(float(v), 4) for v in target],
            "truth": [round(float(v), 4) for v in truth],
            "error_pct_mean": pct(err.mean()), "error_pct_max": pct(err.max()),
            "per_clip_error_pct": pct(((own - truth_c).abs() / truth_c).mean()),
            "truth_spread_pct": pct(((truth_c - truth).abs() / truth).mean())}


def main() -> None:
    seed = int(os.environ.get("PROBE_SEED", "0"))
    b = BUDGETS["quick"]
    train = budget_frames(real_datasets(os.environ["SKELCL_DATA_DIR"], views=b["views"], seed=seed),
                          "quick", seed).train
    print(json.dumps({"seed": seed, "poses": len(train), **image_bone_accuracy(train)}), flush=True)


if __name__ == "__main__":
    main()
