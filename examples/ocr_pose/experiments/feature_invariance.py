"""Do the contrastive modules make ``f_occ`` view-invariant and occlusion-aware? (docs/results.md,
"What the contrastive modules do to f_occ").

The quantitative counterpart of the t-SNE figure (paper Fig. 6): for ``POSES`` frames of the
report clips of the ``quick`` budget (the frames ``reproduce`` and ``probe`` report on, for the
seed in ``PROBE_SEED``), each checkpoint's feature (``f_occ`` of the decoupled encoder, the trunk
feature of a plain lifter) is computed for the pose

- ``A``: seen by its own camera, all joints;
- ``view``: turned about the camera's vertical axis through the pelvis by an azimuth from
  ``U(-7π/9, 7π/9)`` (VeCLR's range in the ``quick`` budget), all joints;
- ``mask``: seen by its own camera with 3 random limb joints missing (completed by the filling
  network where the variant has one, zeroed otherwise, as in evaluation);
- ``view+mask``: both changes;

and :func:`skelcl.metrics.retrieval_accuracy` says how often a changed copy finds its own ``A``
among the ``POSES`` candidates (top-1 and top-10; chance 1/POSES and 10/POSES). The row
``input 2D`` does the same with the flattened normalised 2D itself (missing joints at the root,
not completed), a reference that knows nothing of 3D. Usage, from the repository root::

    SKELCL_DATA_DIR=../shared/data PROBE_SEED=0 \\
        python -m examples.ocr_pose.experiments.feature_invariance OUT/runs/decouple/best.pt ...

Prints one JSON line per checkpoint (and one for the input 2D).
"""

from __future__ import annotations

import json
import math
import sys
from typing import Dict, Sequence

import numpy as np
import torch

from examples.ocr_pose.evaluation import LoadedModel
from examples.ocr_pose.experiments._report import report_frames
from examples.ocr_pose.inputs import ROOT
from examples.ocr_pose.model import lift, occ_features
from skelcl.augment import RandomJointMask
from skelcl.geometry import sample_view_rotation
from skelcl.metrics import retrieval_accuracy
from skelcl.skeleton import H36M17

POSES = 1000
LIMBS = H36M17.group("limbs")  # the joints a mask may hide (arms and legs)


def views(p3: torch.Tensor, seed: int) -> Dict[str, torch.Tensor]:
    """Camera-unit 2D ``(N, J, 2)`` of the camera-frame poses ``p3`` ``(N, J, 3)`` (metres): as
    seen (``"A"``) and turned about the camera's y axis through the pelvis (``"view"``)."""
    g = torch.Generator().manual_seed(seed)
    rot = sample_view_rotation(p3.shape[0], azimuth=(-7 * math.pi / 9, 7 * math.pi / 9),
                               elevation=(0.0, 0.0), roll=(0.0, 0.0), generator=g,
                               dtype=p3.dtype)
    root = p3[:, ROOT : ROOT + 1]
    turned = torch.einsum("nij,nkj->nki", rot, p3 - root) + root
    return {"A": p3[..., :2] / p3[..., 2:], "view": turned[..., :2] / turned[..., 2:]}


def three_missing(n: int, seed: int) -> torch.Tensor:
    """``(n, 17)`` visibility with exactly 3 random limb joints missing per pose."""
    g = torch.Generator().manual_seed(seed)
    _, vis = RandomJointMask(max_joints=3, min_joints=3, candidates=LIMBS)(
        torch.zeros(n, 17, 2), generator=g)
    return vis


def accuracies(feats: Dict[str, torch.Tensor]) -> Dict[str, Dict[str, float]]:
    """Top-1 / top-10 retrieval of ``A`` by each changed copy."""
    return {k: {"top1": round(float(retrieval_accuracy(feats[k], feats["A"], k=1)), 3),
                "top10": round(float(retrieval_accuracy(feats[k], feats["A"], k=10)), 3)}
            for k in ("view", "mask", "view+mask")}


def main(argv: Sequence[str]) -> None:
    eval_ds, seed = report_frames()
    pick = torch.randperm(len(eval_ds), generator=torch.Generator().manual_seed(seed + 5))[:POSES]
    p3 = torch.from_numpy(eval_ds.poses_3d.astype(np.float64))[pick]
    cam = views(p3, seed + 6)
    full = torch.ones(p3.shape[0], 17, dtype=torch.bool)
    missing = three_missing(p3.shape[0], seed + 7)
    copies = {"A": ("A", full), "view": ("view", full), "mask": ("A", missing),
              "view+mask": ("view", missing)}
    inputs = None
    for path in argv:
        m = LoadedModel(path)
        m.models.eval()
        x = {k: m.normalizer.transform(v).float() for k, v in cam.items()}
        if inputs is None:  # the input-2D reference, with the first checkpoint's normaliser
            inputs = {k: torch.where(w[..., None], x[src], 0.0).flatten(1)
                      for k, (src, w) in copies.items()}
            print(json.dumps({"features": "input 2D (flattened, missing joints at the root)",
                              "seed": seed, "poses": POSES, **accuracies(inputs)}), flush=True)
        feats = {}
        with torch.no_grad():
            for k, (src, w) in copies.items():
                inp = lift(m.models, m.cfg, x[src], w).input_2d
                feats[k] = occ_features(m.models["lifter"], inp)
        print(json.dumps({"checkpoint": str(path), "variant": m.cfg.variant,
                          "epoch": int(m.ckpt["epoch"]), "seed": seed, "poses": POSES,
                          **accuracies(feats)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
