"""Where a lifter's error sits (docs/results.md, "A moving average of the weights, a
bone-symmetry prior, ..."): per-joint P-MPJPE, the left/right bone-length asymmetry of the
predictions against the ground truth's (:func:`skelcl.losses.bone_asymmetry`), and the
root-relative camera-frame error split into its image-plane (x, y) and depth (z) parts after
the per-frame least-squares scale; the bone proportions of the predictions, against the ground
truth's and from frame to frame of one clip (:func:`bone_proportions`, with
:func:`skelcl.losses.bone_length_consistency_loss`); and two ground-truth oracles that bound what
a depth correction could buy (:func:`depth_oracles`: a depth scale, and mirroring limb segments'
depth, :func:`flip_limb_depths`), and one that bounds what exact bone proportions could buy
(:func:`proportion_oracle`). Lifts the report clips of the ``quick`` budget (the frames
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
from skelcl.losses import bone_asymmetry, bone_length_consistency_loss, relative_bone_lengths
from skelcl.metrics import optimal_scale, p_mpjpe, procrustes_align
from skelcl.skeleton import H36M17, bone_lengths

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


#: the child joints of the eight limb segments (thighs, shins, upper arms, forearms) of H36M-17
LIMB_CHILDREN = ("r_knee", "r_ankle", "l_knee", "l_ankle", "l_elbow", "l_wrist", "r_elbow", "r_wrist")


def flip_limb_depths(pose: torch.Tensor, flips: torch.Tensor) -> torch.Tensor:
    """Mirror the depth of chosen limb segments: for each segment of :data:`LIMB_CHILDREN` with
    ``flips[..., s]`` true, the child's depth offset from its parent changes sign and the
    child's descendants move with it; x, y are unchanged (the orthographic reading of the
    mirror ambiguity of a bone's depth).

    Args:
        pose: ``(..., 17, 3)`` root-relative H36M-17 pose, depth in the last coordinate.
        flips: ``(..., 8)`` bool, one per segment of :data:`LIMB_CHILDREN`.

    Returns:
        ``(..., 17, 3)``.
    """
    out = pose.clone()
    for s, name in enumerate(LIMB_CHILDREN):  # a flip moves a whole subtree: order is immaterial
        c = H36M17.index(name)
        shift = torch.where(flips[..., s], -2.0 * (out[..., c, 2] - out[..., H36M17.parents[c], 2]),
                            torch.zeros_like(out[..., c, 2]))
        out[..., _subtree(c), 2] += shift[..., None]
    return out


def _subtree(j: int) -> list:
    """``j`` and all its descendants in H36M-17."""
    return [j] + [k for c in H36M17.children(j) for k in _subtree(c)]


def depth_oracles(pred: torch.Tensor, gt_mm: torch.Tensor) -> Dict[str, Any]:
    """How much of the P-MPJPE of ``pred`` ``(N, 17, 3)`` (any unit) against ``gt_mm`` would two
    kinds of depth correction remove, chosen *with* the ground truth (upper bounds, not methods).

    Returns:
        ``depth_scale_mm``: P-MPJPE with the root-relative depth multiplied by each of
        ``0.5, 0.85, 1, 1.15, 1.5`` (keys as strings); ``per_frame_scale_oracle_mm``: the mean over
        frames of the best of those and ``0, 0.7, 1.3, 2``; ``limb_flip_oracle_mm``: the mean over
        frames of the best of the 256 combinations of :func:`flip_limb_depths`;
        ``limb_flip_frames``: the fraction of frames whose best combination flips a segment;
        ``limb_flips_per_frame``: the mean number of segments flipped. A per-frame choice among
        many candidates lowers the error of any prediction somewhat: compare against the same
        oracle on a supervised lifter.
    """
    p = pred.double() - pred.double()[:, ROOT : ROOT + 1]
    t = gt_mm.double() - gt_mm.double()[:, ROOT : ROOT + 1]
    shown = (0.5, 0.85, 1.0, 1.15, 1.5)
    per_scale = {}
    for k in sorted(set(shown) | {0.0, 0.7, 1.3, 2.0}):
        q = p.clone()
        q[..., 2] *= k
        per_scale[k] = p_mpjpe(q, t, reduction="none")
    combos = torch.tensor([[(c >> s) & 1 for s in range(len(LIMB_CHILDREN))] for c in range(256)],
                          dtype=torch.bool)
    flips = torch.stack([p_mpjpe(flip_limb_depths(p, c.expand(p.shape[0], -1)), t, reduction="none")
                         for c in combos])  # (256, N)
    best = flips.min(dim=0)
    n_flipped = combos.sum(-1)[best.indices]
    return {"depth_scale_mm": {str(k): round(float(per_scale[k].mean()), 1) for k in shown},
            "per_frame_scale_oracle_mm": round(float(torch.stack(list(per_scale.values())).min(0).values.mean()), 1),
            "limb_flip_oracle_mm": round(float(best.values.mean()), 1),
            "limb_flip_frames": round(float((n_flipped > 0).double().mean()), 3),
            "limb_flips_per_frame": round(float(n_flipped.double().mean()), 2)}


def with_bone_lengths(pose: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Give every bone of ``pose`` the length in ``lengths``, keeping its image-plane offset and
    the sign of its depth offset: walking from the root, ``child = parent + (dx, dy, sign(dz)
    sqrt(max(L^2 - dx^2 - dy^2, 0)))`` (the orthographic reading of a bone of known length;
    a bone whose image is already longer than ``L`` gets zero depth offset).

    Args:
        pose: ``(..., 17, 3)`` H36M-17 pose, depth in the last coordinate.
        lengths: ``(..., 16)`` bone lengths in the order of :meth:`~skelcl.skeleton.Skeleton.bones`.

    Returns:
        ``(..., 17, 3)``.
    """
    out = pose.clone()
    for b, (c, par) in enumerate(H36M17.bones()):  # parents come before their children
        d = pose[..., c, :] - pose[..., par, :]
        dz = torch.sign(d[..., 2]) * (lengths[..., b] ** 2 - d[..., 0] ** 2 - d[..., 1] ** 2).clamp_min(0).sqrt()
        out[..., c, :2] = out[..., par, :2] + d[..., :2]
        out[..., c, 2] = out[..., par, 2] + dz
    return out


def proportion_oracle(pred: torch.Tensor, gt_mm: torch.Tensor) -> Dict[str, Any]:
    """What exact bone lengths would buy: ``pred`` ``(N, 17, 3)`` rebuilt by
    :func:`with_bone_lengths` with each frame's true bone lengths in the prediction's units
    (image-plane offsets and depth signs as predicted), against ``gt_mm``. The unit is the
    least-squares scale ``k`` of the prediction's image-plane coordinates onto the ground
    truth's (``pred_xy ~ k gt_xy``; the lift keeps its input's x, y up to perspective), so a
    prediction that is exact but for its depth offsets is restored exactly. An upper bound of
    any bone-length prior, chosen with the ground truth.

    Returns:
        ``proportion_oracle_mm``: P-MPJPE of the rebuilt poses.
    """
    p = pred.double() - pred.double()[:, ROOT : ROOT + 1]
    t = gt_mm.double() - gt_mm.double()[:, ROOT : ROOT + 1]
    k = (p[..., :2] * t[..., :2]).sum((-1, -2)) / (t[..., :2] ** 2).sum((-1, -2)).clamp_min(1e-12)
    rebuilt = with_bone_lengths(p, k[:, None] * bone_lengths(t, H36M17))
    return {"proportion_oracle_mm": round(float(p_mpjpe(rebuilt, t).mean()), 1)}


def same_clip_partners(clip: np.ndarray, seed: int = 0) -> np.ndarray:
    """For every frame, a uniformly drawn *other* frame with the same ``clip`` label (the frame
    itself only where its clip has no other frame): ``(N,)`` indices, seeded."""
    rng = np.random.default_rng(seed)
    out = np.arange(len(clip))
    for c in np.unique(clip):
        members = np.flatnonzero(clip == c)
        if len(members) > 1:
            shift = rng.integers(1, len(members), len(members))  # never 0: another member
            out[members] = members[(np.arange(len(members)) + shift) % len(members)]
    return out


def bone_proportions(pred: torch.Tensor, gt_mm: torch.Tensor, partner: np.ndarray) -> Dict[str, Any]:
    """Bone proportions of a prediction ``(N, 17, 3)`` (any unit) against ``gt_mm``, in % of the
    pose's mean bone (:func:`skelcl.losses.relative_bone_lengths`).

    Returns:
        ``bone_error_pct``: mean over frames and bones of ``|rel(pred) - rel(gt)|``;
        ``cross_frame_pct`` and ``gt_cross_frame_pct``: the same between each frame and its
        ``partner`` frame (:func:`same_clip_partners`: one person, so 0 for a perfect lift up to
        the data's 1 mm quantisation; the value of ``L_bone`` on held-out pairs) for the
        prediction and for the ground truth.
    """
    p, t = pred.double(), gt_mm.double()
    idx = torch.from_numpy(partner)
    pct = lambda v: round(100 * float(v), 2)  # noqa: E731
    return {"bone_error_pct": pct((relative_bone_lengths(p) - relative_bone_lengths(t)).abs().mean()),
            "cross_frame_pct": pct(bone_length_consistency_loss(p, p[idx])),
            "gt_cross_frame_pct": pct(bone_length_consistency_loss(t, t[idx]))}


def main(argv: Sequence[str]) -> None:
    eval_ds, _ = report_frames()
    gt = torch.from_numpy(eval_ds.poses_3d.astype(np.float64)) * 1000.0
    partner = same_clip_partners(np.asarray(eval_ds.clip))
    for path in argv:
        m = LoadedModel(path)
        _, out = evaluate_dataset(m, eval_ds, 0, MASK_SEED)
        print(json.dumps({"checkpoint": path, "epoch": int(m.ckpt["epoch"]),
                          **error_anatomy(out.pose_3d, gt), **bone_proportions(out.pose_3d, gt, partner),
                          **depth_oracles(out.pose_3d, gt), **proportion_oracle(out.pose_3d, gt)}),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
