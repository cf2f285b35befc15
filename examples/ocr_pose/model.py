"""The networks of one OCR-Pose variant, built from skelcl parts, and inference with them.

:func:`build_models` returns a :class:`torch.nn.ModuleDict` with

- ``lifter``: :class:`skelcl.models.LiftingNetwork` (``model.lifter = "plain"``) or
  :class:`skelcl.models.DecoupledLiftingEncoder` (``"decoupled"``);
- ``filler``: :class:`skelcl.models.PoseFillingNetwork` (variants with filling);
- ``disc``: :class:`skelcl.models.PoseDiscriminator` (adversarial variants);
- ``miner_ti`` / ``miner_ve``: the attention hard-negative miners ``Φ_A`` of TiCLR / VeCLR;
- ``proj``: :class:`skelcl.contrastive.ProjectionHead` before the contrastive losses (only with
  ``model.proj_dim``).

:func:`lift` is the inference path used by validation, ``evaluate`` and ``predict``: fuse and
complete the 2D with the filling network (paper Eq. 10) when the variant has one, otherwise put the
missing joints where a plain lifter would see them (at the root by default, i.e. zeroed in the
root-centred input; ``missing_2d`` places them elsewhere, e.g. at the image origin where detector
formats write an undetected keypoint), then lift with ``z = max(1, d + D)``.
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Optional

import torch
from torch import nn

from skelcl.contrastive import ProjectionHead
from skelcl.geometry import depth_to_points
from skelcl.models import (
    DecoupledLiftingEncoder,
    LiftingNetwork,
    PoseDiscriminator,
    PoseFillingNetwork,
)

from .config import Config
from .inputs import CONFIDENCE_THRESHOLD

NUM_JOINTS = 17


def make_miner(dim: int, temperature: float) -> nn.Module:
    """The attention hard-negative miner ``Φ_A`` + InfoNCE (exact fast path, in-batch negatives)."""
    from skelcl.contrastive.attention_miner import AttentionHardNegativeMiner

    return AttentionHardNegativeMiner(dim, temperature=temperature, validate=False)


def build_models(cfg: Config) -> nn.ModuleDict:
    """Instantiate every network of the variant described by ``cfg`` (seed first for determinism)."""
    m = cfg.model
    mods: Dict[str, nn.Module] = {}
    if m.lifter == "plain":
        mods["lifter"] = LiftingNetwork(
            NUM_JOINTS, channels=m.hidden, num_blocks=m.num_blocks, dropout=m.dropout,
            check_inputs=False,
        )
    else:
        mods["lifter"] = DecoupledLiftingEncoder(
            NUM_JOINTS, channels=m.hidden, num_blocks=m.num_blocks, occ_dim=m.occ_dim,
            dropout=m.dropout, rotation_representation=m.rotation_representation,
            rot_dim=m.rot_dim, depth_input=m.depth_input, check_inputs=False,
        )
    if cfg.uses_filling:
        mods["filler"] = PoseFillingNetwork(
            NUM_JOINTS, hidden=m.fill_hidden, num_layers=m.fill_layers,
            threshold=CONFIDENCE_THRESHOLD, check_inputs=False,
        )
    if cfg.objective == "unsupervised" and cfg.loss.adversarial:
        mods["disc"] = PoseDiscriminator(
            NUM_JOINTS, channels=m.disc_hidden, num_blocks=m.disc_blocks, dropout=m.dropout,
            check_inputs=False,
        )
    dim = m.occ_dim if m.lifter == "decoupled" else m.hidden
    if cfg.uses_contrast and m.proj_dim is not None:
        mods["proj"] = ProjectionHead(dim, dim, m.proj_dim)
        dim = m.proj_dim
    if cfg.uses_contrast and cfg.loss.hard_negative_miner:
        for name, on in (("miner_ti", cfg.loss.ticlr), ("miner_ve", cfg.loss.veclr)):
            if on:
                mods[name] = make_miner(dim, cfg.loss.temperature)
    return nn.ModuleDict(mods)


def occ_features(lifter: nn.Module, poses_2d: torch.Tensor) -> torch.Tensor:
    """``f_occ`` of the decoupled encoder; the trunk feature for a plain lifter."""
    if isinstance(lifter, DecoupledLiftingEncoder):
        return lifter.encode_occ(poses_2d)
    return lifter(poses_2d).features


class Lifted(NamedTuple):
    """Inference result: ``pose_3d`` ``(N, J, 3)`` (lifter units, camera frame, root at depth
    ~ D), ``input_2d`` ``(N, J, 2)`` (the 2D actually lifted: fused / completed or zeroed),
    ``fill_raw`` ``(N, J, 2)`` or ``None`` (the filling network's own completion)."""

    pose_3d: torch.Tensor
    input_2d: torch.Tensor
    fill_raw: Optional[torch.Tensor]


@torch.no_grad()
def lift(
    models: nn.ModuleDict,
    cfg: Config,
    poses_2d: torch.Tensor,
    weight: torch.Tensor,
    batch_size: int = 8192,
    missing_2d: Optional[torch.Tensor] = None,
) -> Lifted:
    """Lift normalised 2D poses in evaluation mode.

    Args:
        models: from :func:`build_models` (put in eval mode by this function, restored after).
        cfg: the variant's configuration.
        poses_2d: ``(N, J, 2)`` normalised 2D.
        weight: ``(N, J)`` bool visibility, or float confidences in ``[0, 1]`` (Eq. 10 fusion
            with ``c`` = confidence; below 0.1 counts as missing).
        batch_size: poses per forward pass.
        missing_2d: ``(N, J, 2)`` normalised 2D that a lifter *without* a filling network is
            given at its missing joints; ``None`` (default) zeros them, i.e. puts them at the
            root. Variants with a filling network ignore it: the network reads the mask and zeros
            the missing joints itself.

    Raises:
        ValueError: ``missing_2d`` does not have the shape of ``poses_2d``.
    """
    if missing_2d is not None and tuple(missing_2d.shape) != tuple(poses_2d.shape):
        raise ValueError(f"missing_2d: expected shape {tuple(poses_2d.shape)} (that of poses_2d), "
                         f"got {tuple(missing_2d.shape)}")
    was = {k: m.training for k, m in models.items()}
    models.eval()
    try:
        outs, ins, raws = [], [], []
        filler = models["filler"] if "filler" in models else None
        for s in range(0, poses_2d.shape[0], batch_size):
            x = poses_2d[s : s + batch_size]
            w = weight[s : s + batch_size]
            if filler is not None:
                fo = filler(x, w)
                x_in, raw = fo.filled, fo.raw
            else:
                vis = w if w.dtype == torch.bool else w >= CONFIDENCE_THRESHOLD
                fill = (torch.zeros_like(x) if missing_2d is None
                        else missing_2d[s : s + batch_size].to(x.dtype))
                x_in, raw = torch.where(vis[..., None], x, fill), None
            depth = models["lifter"](x_in).depth
            outs.append(depth_to_points(x_in, depth, distance=cfg.model.distance, min_depth=1.0))
            ins.append(x_in)
            if raw is not None:
                raws.append(raw)
        return Lifted(torch.cat(outs), torch.cat(ins), torch.cat(raws) if raws else None)
    finally:
        for k, m in models.items():
            m.train(was[k])
