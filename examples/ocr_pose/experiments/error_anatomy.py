"""Where a lifter's error sits (docs/results.md, "A moving average of the weights, a
bone-symmetry prior, ..."): per-joint P-MPJPE, the left/right bone-length asymmetry of the
predictions against the ground truth's (:func:`skelcl.losses.bone_asymmetry`), and the
root-relative camera-frame error split into its image-plane (x, y) and depth (z) parts after
the per-frame least-squares scale. Lifts the report clips of the ``quick`` budget (the frames
``reproduce`` and ``probe`` report on, for the seed in ``PROBE_SEED``) and prints one JSON line
per checkpoint. Usage, from the repository root::

    SKELCL_DATA_DIR=../shared/data python -m examples.ocr_pose.experiments.error_anatomy RUN/best.pt
"""

from __future__ import annotations

import json
import sys
from typing import Any, Dict, Sequence

import numpy as np
import torch

from examples.ocr_pose.evaluation import LoadedModel, evaluate_dataset
from examples.ocr_pose.experiments._report import report_frames
from examples.ocr_pose.inputs import ROOT
from examples.ocr_pose.reproduce import MASK_SEED
from skelcl.losses import bone_asymmetry
from skelcl.metrics import optimal_scale, p_mpjpe, procrustes_align

#: the left/right bone pairs of H36M-17, in the order of :func:`skelcl.losses.bone_pairs`
PAIRS = ("hips", "knees", "ankles", "shoulders", "elbows", "wrists")


def error_anatomy(pred: torch.Tensor, gt_mm: torch.Tensor) -> Dict[str, Any]:
    """The diagnostic of one prediction ``(N, 17, 3)`` (any unit) against ``gt_mm`` ``(N, 17, 3)``.

    Returns:
        ``p_mpjpe`` (mm), ``per_joint_mm`` (17 values: the aligned error of each joint),
        ``asymmetry_pct`` and ``gt_asymmetry_pct`` (median ``|bone_asymmetry|`` per pair of
        :data:`PAIRS`, in %), ``xy_rms_mm`` and ``z_rms_mm`` (root-relative camera-frame error
        after the per-frame least-squares scale, rms per joint of the image-plane and of the
        depth component).
    """
    p = pred.double() - pred.double()[:, ROOT : ROOT + 1]
    t = gt_mm.double() - gt_mm.double()[:, ROOT : ROOT + 1]
    per_joint = torch.linalg.vector_norm(procrustes_align(p, t) - t, dim=-1).mean(dim=0)
    e = optimal_scale(p, t)[:, None, None] * p - t

    def asym(x: torch.Tensor) -> list:
        return [round(100 * float(v), 1) for v in bone_asymmetry(x).abs().median(dim=0).values]

    return {"p_mpjpe": round(float(p_mpjpe(p, t)), 1),
            "per_joint_mm": [round(float(v), 1) for v in per_joint],
            "asymmetry_pct": dict(zip(PAIRS, asym(p))), "gt_asymmetry_pct": dict(zip(PAIRS, asym(t))),
            "xy_rms_mm": round(float(e[..., :2].pow(2).sum(-1).mean().sqrt()), 1),
            "z_rms_mm": round(float(e[..., 2].pow(2).mean().sqrt()), 1)}


def main(argv: Sequence[str]) -> None:
    eval_ds, _ = report_frames()
    gt = torch.from_numpy(eval_ds.poses_3d.astype(np.float64)) * 1000.0
    for path in argv:
        m = LoadedModel(path)
        _, out = evaluate_dataset(m, eval_ds, 0, MASK_SEED)
        print(json.dumps({"checkpoint": path, "epoch": int(m.ckpt["epoch"]),
                          **error_anatomy(out.pose_3d, gt)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
