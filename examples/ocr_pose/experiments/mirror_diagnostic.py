"""Mirror-image diagnostic (docs/results.md, "Mirror-image depth"): has a lifter learned the
depth of the pose, or of its mirror image (``z -> -z`` about the root)?

For each checkpoint it lifts the report clips of the ``quick`` budget (the frames ``reproduce``
and ``probe`` report on, for the seed in ``PROBE_SEED``) and prints one JSON line: P-MPJPE (mm) of
the prediction, of the prediction mirrored in depth, the share of frames where the mirrored one
is closer, the mean of the per-frame better of the two, the share of predicted knees bent
backwards (:func:`skelcl.losses.knee_bend`; ground truth: about 1 %), and the median ratio of
depth spread to image-plane spread (prediction vs ground truth). Usage, from the repository
root::

    SKELCL_DATA_DIR=../shared/data PROBE_SEED=1 \\
        python -m examples.ocr_pose.experiments.mirror_diagnostic RUN/last.pt RUN/best.pt
"""

from __future__ import annotations

import json
import sys
from typing import Dict, Sequence

import numpy as np
import torch

from examples.ocr_pose.evaluation import LoadedModel, evaluate_dataset
from examples.ocr_pose.experiments._report import report_frames
from examples.ocr_pose.inputs import ROOT
from examples.ocr_pose.reproduce import MASK_SEED
from skelcl.losses import knee_bend
from skelcl.metrics import p_mpjpe


def mirror_report(pred: torch.Tensor, gt_mm: torch.Tensor) -> Dict[str, float]:
    """The diagnostic of one prediction ``(N, J, 3)`` (any unit) against ``gt_mm`` ``(N, J, 3)``."""
    p = pred.double() - pred.double()[:, ROOT : ROOT + 1]
    t = gt_mm.double() - gt_mm.double()[:, ROOT : ROOT + 1]
    m = p * torch.tensor([1.0, 1.0, -1.0], dtype=p.dtype)
    e, em = p_mpjpe(p, t, reduction="none"), p_mpjpe(m, t, reduction="none")

    def spread(x: torch.Tensor) -> float:
        return float((x[..., 2].std(dim=1) / x[..., :2].std(dim=(1, 2)).clamp_min(1e-12)).median())

    return {"p_mpjpe": round(float(e.mean()), 1), "mirrored": round(float(em.mean()), 1),
            "frac_mirror_better": round(float((em < e).double().mean()), 3),
            "best_of_both": round(float(torch.minimum(e, em).mean()), 1),
            "backward_knees": round(float((knee_bend(p) < 0).double().mean()), 3),
            "depth_spread_pred": round(spread(p), 3), "depth_spread_gt": round(spread(t), 3)}


def main(argv: Sequence[str]) -> None:
    eval_ds, _ = report_frames()
    gt = torch.from_numpy(eval_ds.poses_3d.astype(np.float64)) * 1000.0
    for path in argv:
        m = LoadedModel(path)
        _, out = evaluate_dataset(m, eval_ds, 0, MASK_SEED)
        print(json.dumps({"checkpoint": path, "epoch": int(m.ckpt["epoch"]),
                          **mirror_report(out.pose_3d, gt)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
