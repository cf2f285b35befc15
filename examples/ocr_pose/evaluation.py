"""Evaluation of a trained lifter on a pose dataset with 3D (METHOD.md §4).

Metrics (each for "All" joints and for the "Visible" ones, i.e. not masked and confidence >= 0.1;
frame-wise means over the dataset and per action label):

- **P-MPJPE** (mm): after the per-frame similarity Procrustes alignment (rotation, translation,
  scale, no reflection) - scale-free, the headline metric (:func:`skelcl.metrics.p_mpjpe`). For
  "Visible" the alignment is fitted on the visible joints only.
- **N-MPJPE** (mm): root-aligned, after the per-frame least-squares scale
  (:func:`skelcl.metrics.n_mpjpe`) - scale-free.
- **Backward knees** (``backward_knees``: ``pred`` and ``gt``): the share of knees that bend
  backwards (:func:`skelcl.losses.knee_bend` < 0), a diagnostic of the mirror-image depth
  solution (about 1 % in real poses).
- **MPJPE**, **PCK3D@150mm**, **AUC** (0-150 mm): root-aligned, no rotation. The lifter predicts
  in normalised units (the 2D is normalised so that head-pelvis is 0.1 and the root sits at depth
  ``D = 10``), so these scale-sensitive metrics need a metric scale: **our choice** is one global
  least-squares scale per evaluated split, ``s = Σ<P, G> / Σ|P|²`` over all frames and joints
  (root-relative). It is a single number (reported as ``mpjpe_scale_mm_per_unit``) - the
  equivalent of knowing the subjects' average size - and never a per-frame fit, so MPJPE still
  measures errors of relative scale between frames and of rotation, unlike N-MPJPE and P-MPJPE.

Occluded input (setting b): ``--mask-max N`` masks ``n ~ U{0..N}`` limb joints per frame (seeded
by ``--mask-seed``), exactly as the paper's Table 3. Detector confidences (setting c):
``--confidence fuse`` uses Eq. 10 with ``c`` = the confidence (only ``c = 0`` counts as missing),
``threshold`` (default) additionally treats confidences below 0.1 as missing (paper Sec. 4.5),
``binary`` uses ``c = 1`` for every joint with confidence >= 0.1 and 0 otherwise.

Missing joints of a lifter without a filling network (the baseline, the supervised reference):
nothing tells such a lifter that a joint is missing, so what it sees there is a protocol choice
(our choice, the paper does not say), ``--missing-joints``:

- ``root`` (default): zeroed in the root-centred, normalised input, i.e. on the pelvis - the
  kindest input for it (a joint at the pelvis is a plausible pose);
- ``image_origin``: where detector formats write a keypoint they did not find, pixel ``(0, 0)``
  (COCO ``v = 0``, OpenPose, AlphaPose), taken through the same pixels -> camera -> root-centred
  and scaled pipeline as every other joint (:func:`~examples.ocr_pose.inputs.image_origin_2d`).
  The joint then lies at the image corner, far outside the body: the "outlier on the input side"
  of the paper's Sec. 4.4.

Variants with a filling network read the mask and zero the missing joints themselves, so both
choices give them identical results.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import nn

from skelcl.augment import RandomJointMask
from skelcl.data.pose_dataset import PoseDataset, load_pose_dataset
from skelcl.geometry import RootScaleNormalizer2D
from skelcl.losses import knee_bend
from skelcl.metrics import auc, group_mean, mpjpe, n_mpjpe, p_mpjpe, pck3d

from .checkpoint import load_checkpoint
from .config import Config, config_from_dict
from .inputs import (
    CONFIDENCE_THRESHOLD,
    ROOT,
    dataset_to_2d,
    fit_normalizer,
    image_origin_2d,
    subsample_dataset,
)
from .model import Lifted, build_models, lift

#: Masking candidates of the floors (the limbs, as the trainer's default).
LIMB_JOINTS = (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16)
METRIC_KEYS = ("p_mpjpe_mm", "mpjpe_mm", "n_mpjpe_mm", "pck3d", "auc")
#: What a lifter without a filling network sees at a missing joint (module docstring).
MISSING_JOINTS = ("root", "image_origin")


class LoadedModel:
    """A checkpoint ready for inference: ``cfg``, ``models`` (eval mode), ``normalizer``,
    ``input_units`` and the raw checkpoint dict ``ckpt``. With ``schedule.ema_decay`` the lifter
    and the filling network get the checkpoint's moving averages (``averaged`` is then true)."""

    def __init__(self, path: Union[str, Path]) -> None:
        self.path = Path(path)
        self.ckpt = load_checkpoint(self.path)
        self.cfg: Config = config_from_dict(json.loads(self.ckpt["config"]))
        self.normalizer = RootScaleNormalizer2D.from_state_dict(json.loads(self.ckpt["normalizer"]))
        self.input_units: str = self.ckpt.get("input_units", "camera")
        self.models: nn.ModuleDict = build_models(self.cfg)
        #: whether the lifter / filling network hold moving averages (``schedule.ema_decay``)
        self.averaged: bool = "ema" in self.ckpt
        averaged = self.ckpt.get("ema", {})
        for k, m in self.models.items():
            m.load_state_dict(averaged[k] if k in averaged else self.ckpt["models"][k])
        self.models.eval()


def input_weights(conf: np.ndarray, mode: str) -> torch.Tensor:
    """Per-joint fusion weights for :func:`~examples.ocr_pose.model.lift` (see module docstring)."""
    c = torch.from_numpy(np.asarray(conf, dtype=np.float32))
    if mode == "binary":
        return c >= CONFIDENCE_THRESHOLD
    if mode == "threshold":
        return torch.where(c >= CONFIDENCE_THRESHOLD, c, torch.zeros_like(c))
    if mode == "fuse":
        return c
    raise ValueError(f"confidence: expected 'fuse', 'threshold' or 'binary', got {mode!r}")


def mask_joints(
    weight: torch.Tensor, mask_max: int, seed: int, candidates: Sequence[int]
) -> torch.Tensor:
    """Set the weight of ``n ~ U{0..mask_max}`` random ``candidates`` joints per frame to 0
    (:class:`skelcl.augment.RandomJointMask`, seeded by ``seed``)."""
    if mask_max <= 0:
        return weight
    g = torch.Generator().manual_seed(seed)
    aug = RandomJointMask(max_joints=mask_max, candidates=tuple(int(c) for c in candidates))
    _, vis = aug(torch.zeros(weight.shape + (2,)), generator=g)
    return weight.masked_fill(~vis, False if weight.dtype == torch.bool else 0.0)


def compute_metrics(
    pred: torch.Tensor,
    target_mm: torch.Tensor,
    visible: torch.Tensor,
    actions: Optional[Sequence[str]] = None,
    scale: Optional[float] = None,
) -> Dict[str, Any]:
    """All metrics for "all" and "visible" joints, overall and per action.

    Args:
        pred: ``(N, J, 3)`` predictions (any units; root-relative is taken here).
        target_mm: ``(N, J, 3)`` ground truth in mm.
        visible: ``(N, J)`` bool.
        actions: per-frame labels, or ``None``.
        scale: the global scale for MPJPE / PCK / AUC; ``None`` fits it (module docstring).
    """
    p = pred.double() - pred.double()[:, ROOT : ROOT + 1]
    t = target_mm.double() - target_mm.double()[:, ROOT : ROOT + 1]
    if scale is None:
        den = float((p * p).sum())
        scale = float((p * t).sum()) / den if den > 0 else 0.0
    ps = p * scale
    masks = {"all": torch.ones_like(visible), "visible": visible}
    per_frame: Dict[str, Dict[str, torch.Tensor]] = {}
    out: Dict[str, Any] = {k: {} for k in METRIC_KEYS}
    for name, m in masks.items():
        vals = {
            "p_mpjpe_mm": p_mpjpe(p, t, mask=m, reduction="none"),
            "n_mpjpe_mm": n_mpjpe(p, t, mask=m, reduction="none"),
            "mpjpe_mm": mpjpe(ps, t, mask=m, reduction="none"),
            "pck3d": pck3d(ps, t, mask=m, reduction="none"),
            "auc": auc(ps, t, mask=m, reduction="none"),
        }
        per_frame[name] = vals
        for k, v in vals.items():
            out[k][name] = float(v.mean())  # frame-wise mean
    out["mpjpe_scale_mm_per_unit"] = scale
    # mirror-image diagnostic: the share of knees bent backwards (docs/results.md, "Mirror-image
    # depth"); about 1 % in real poses, near 100 % for a lifter that learned the mirrored depth
    out["backward_knees"] = {"pred": float((knee_bend(p) < 0).double().mean()),
                             "gt": float((knee_bend(t) < 0).double().mean())}
    out["frames"] = int(p.shape[0])
    out["visible_joint_fraction"] = float(visible.double().mean())
    if actions is not None:
        labels = [str(a) for a in actions]
        per_action: Dict[str, Dict[str, Dict[str, float]]] = {}
        for name in masks:
            for k, v in per_frame[name].items():
                for act, val in group_mean(v, labels).items():
                    per_action.setdefault(act, {k2: {} for k2 in METRIC_KEYS})[k][name] = val
        counts: Dict[str, int] = {}
        for a in labels:
            counts[a] = counts.get(a, 0) + 1
        for act in per_action:
            per_action[act]["frames"] = counts[act]  # type: ignore[assignment]
        out["per_action"] = per_action
    return out


def prepare_eval_inputs(
    model: LoadedModel, ds: PoseDataset
) -> Tuple[torch.Tensor, np.ndarray, str]:
    """Normalised 2D of ``ds`` for ``model``: the checkpoint's normaliser, or - when the dataset's
    units differ from the training data's (e.g. pixels without a focal length) - a normaliser
    refitted on ``ds``'s own 2D (reported as ``"refit"``)."""
    xy, conf, units = dataset_to_2d(ds)
    norm, how = _eval_normalizer(model, xy, conf, units)
    return norm.transform(torch.from_numpy(xy)).float(), conf, how


def _eval_normalizer(model: LoadedModel, xy: np.ndarray, conf: np.ndarray,
                     units: str) -> Tuple[RootScaleNormalizer2D, str]:
    if units != model.input_units:
        return fit_normalizer(xy, conf), f"refit on this data ({units} vs training {model.input_units})"
    return model.normalizer, "checkpoint (fitted on the training split)"


def missing_joint_inputs(model: LoadedModel, ds: PoseDataset,
                         missing_joints: str = "root") -> Optional[torch.Tensor]:
    """What a lifter without a filling network sees at missing joints (module docstring).

    Returns:
        ``None`` for ``"root"`` (zeros, :func:`~examples.ocr_pose.model.lift`'s default), else
        float32 ``(N, J, 2)``: every joint at the frame's image origin, normalised like the
        frame's pose (centred on its root, the same scale as :func:`prepare_eval_inputs`).

    Raises:
        ValueError: ``missing_joints`` is not one of :data:`MISSING_JOINTS`.
    """
    if missing_joints not in MISSING_JOINTS:
        raise ValueError(f"missing_joints: expected one of {MISSING_JOINTS}, got {missing_joints!r}")
    if missing_joints == "root":
        return None
    xy, conf, units = dataset_to_2d(ds)
    norm, _ = _eval_normalizer(model, xy, conf, units)
    at_origin = np.broadcast_to(image_origin_2d(ds)[:, None, :], xy.shape).copy()
    at_origin[:, ROOT] = xy[:, ROOT]  # centred on the pose's own root
    return norm.transform(torch.from_numpy(at_origin)).float()


def evaluate_dataset(
    model: LoadedModel,
    ds: PoseDataset,
    mask_max: int = 0,
    mask_seed: int = 0,
    confidence: str = "threshold",
    weight_override: Optional[torch.Tensor] = None,
    missing_joints: str = "root",
) -> Tuple[Dict[str, Any], Lifted]:
    """Evaluate ``model`` on ``ds`` (must hold ``poses_3d``); returns (metrics dict, lifted).

    ``missing_joints`` (``"root"`` or ``"image_origin"``): what a lifter without a filling
    network sees at a missing joint (module docstring); recorded in the result.
    """
    if ds.poses_3d is None:
        raise ValueError(f"{ds.filename or 'dataset'}: has no poses_3d to evaluate against")
    missing_2d = missing_joint_inputs(model, ds, missing_joints)
    from .training import occludable_joints

    x, conf, how = prepare_eval_inputs(model, ds)
    w = input_weights(conf, confidence) if weight_override is None else weight_override
    w = mask_joints(w, mask_max, mask_seed, occludable_joints(model.cfg).tolist())
    filler = model.models["filler"] if "filler" in model.models else None
    old = filler.threshold if filler is not None else None
    if filler is not None and confidence == "fuse":
        filler.threshold = 0.0  # pure Eq. 10: only confidence 0 counts as missing
    try:
        out = lift(model.models, model.cfg, x, w, missing_2d=missing_2d)
    finally:
        if filler is not None:
            filler.threshold = old
    visible = (w > 0) if w.dtype != torch.bool else w
    if confidence == "threshold" or confidence == "binary":
        visible = visible & torch.from_numpy(conf >= CONFIDENCE_THRESHOLD)
    gt = torch.from_numpy(ds.poses_3d.astype(np.float64)) * 1000.0
    res = compute_metrics(out.pose_3d, gt, visible, None if ds.action is None else list(ds.action))
    res.update({"variant": model.cfg.variant, "mask_max": mask_max, "mask_seed": mask_seed,
                "confidence": confidence, "missing_joints": missing_joints, "normalizer": how,
                "source": ds.source})
    return res, out


def flat_lifting_metrics(ds: PoseDataset, normalizer: Optional[RootScaleNormalizer2D] = None,
                         mask_max: int = 0, mask_seed: int = 0,
                         visible: Optional[torch.Tensor] = None) -> Dict[str, Any]:
    """The "flat lifting" floor: the (normalised) input 2D with zero depth as the 3D prediction
    (missing joints at the root). ``visible`` overrides the masking (e.g. self-occlusion)."""
    xy, conf, _ = dataset_to_2d(ds)
    norm = normalizer or fit_normalizer(xy, conf)
    x = norm.transform(torch.from_numpy(xy)).double()
    w = mask_joints(torch.from_numpy(conf >= CONFIDENCE_THRESHOLD), mask_max, mask_seed,
                    list(LIMB_JOINTS)) if visible is None else visible
    x = torch.where(w[..., None], x, torch.zeros_like(x))
    pred = torch.cat([x, torch.zeros_like(x[..., :1])], dim=-1)
    gt = torch.from_numpy(ds.poses_3d.astype(np.float64)) * 1000.0
    return compute_metrics(pred, gt, w, None)


def mean_pose_metrics(train_3d_m: np.ndarray, ds: PoseDataset, mask_max: int = 0,
                      mask_seed: int = 0, visible: Optional[torch.Tensor] = None) -> Dict[str, Any]:
    """The "mean training pose" floor: predict the mean root-relative training 3D for every frame.

    Args:
        train_3d_m: ``(M, J, 3)`` camera-frame training 3D (metres); only its mean is used.
    """
    t = torch.from_numpy(train_3d_m.astype(np.float64))
    mean = (t - t[:, ROOT : ROOT + 1]).mean(0) * 1000.0
    gt = torch.from_numpy(ds.poses_3d.astype(np.float64)) * 1000.0
    w = mask_joints(torch.ones(gt.shape[:2], dtype=torch.bool), mask_max, mask_seed,
                    list(LIMB_JOINTS)) if visible is None else visible
    return compute_metrics(mean.expand_as(gt).clone(), gt, w, None, scale=1.0)


def evaluate_cli(args) -> Dict[str, Any]:
    """``evaluate`` subcommand."""
    model = LoadedModel(args.checkpoint)
    ds = load_pose_dataset(args.data)
    if args.max_frames is not None:
        ds = subsample_dataset(ds, args.max_frames, args.mask_seed)
    res, _ = evaluate_dataset(model, ds, args.mask_max, args.mask_seed, args.confidence,
                              missing_joints=getattr(args, "missing_joints", "root"))
    res.update({"checkpoint": str(args.checkpoint), "data": str(args.data)})
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(res, indent=2))
    where = "" if res["missing_joints"] == "root" else f", missing joints at the {res['missing_joints']}"
    print(f"{res['variant']} on {args.data} ({res['frames']} frames, mask-max {args.mask_max}{where}): "
          f"P-MPJPE {res['p_mpjpe_mm']['all']:.1f} mm (visible {res['p_mpjpe_mm']['visible']:.1f}), "
          f"N-MPJPE {res['n_mpjpe_mm']['all']:.1f}, MPJPE {res['mpjpe_mm']['all']:.1f}, "
          f"PCK3D {100 * res['pck3d']['all']:.1f} %, AUC {100 * res['auc']['all']:.1f} % -> {args.json}",
          file=sys.stderr)
    return res
