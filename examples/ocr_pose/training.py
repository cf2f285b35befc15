"""The OCR-Pose trainer, composed in plain code from skelcl's parts (METHOD.md §2-3).

One training step of an unsupervised variant, in the order the code runs it:

* **Occlusion simulation** (:func:`mask_random_joints`): ``n ~ U{0..N}`` limb joints per pose
  are masked (zeroed, visibility ``False``).
* **Filling** (``Φ_F``, :class:`skelcl.models.PoseFillingNetwork`): the masked pose and its mask
  give a completion ``X_fill``; Eq. 10 fuses it with the visible joints. ``L_pf``
  (:func:`skelcl.losses.pose_l2_loss` on the masked joints, our choice) compares the completion
  with the complete 2D. Variants without filling (the baseline) lift the complete 2D.
* **Cycle** (:func:`skelcl.losses.lift_cycle`): lift, random view rotation
  (:func:`skelcl.geometry.sample_view_rotation`), project, re-lift, inverse, project. ``L_2D``,
  ``L_3D`` (:func:`skelcl.losses.pose_l2_loss`), ``L_adv``
  (:func:`skelcl.losses.lsgan_generator_loss`), ``L_rot``
  (:func:`skelcl.losses.rotation_consistency_loss`, decoupled lifter only).
* ``L_backbone = w_pf L_pf + w_2D L_2D + w_3D L_3D + w_adv L_adv + w_rot L_rot`` updates the
  filling and lifting networks (optimiser ``backbone``). Our optional priors on ``J3D`` join it
  when their weights are set: ``w_knee L_knee``, ``w_sym L_sym``, and ``w_bone L_bone``, which
  also lifts another pose of each pose's clip (drawn after the rotations, so the random stream
  of a run without it is unchanged) or, with ``loss.bone_target = "clip"``, compares the lift
  with its clip's running estimate (:mod:`examples.ocr_pose.clip_bones`, fed after each update)
  or, with ``"image"``, with one set of proportions read off the training 2D before training
  (:func:`skelcl.losses.bone_proportions_from_2d`, ``Trainer.image_bones``).
* **Occlusion step** (alternating with backbone steps, ``schedule.backbone_steps :
  schedule.occlusion_steps``; with ``schedule.alternation = "per_batch"``, the default, every
  batch makes a backbone update and the occlusion updates follow on the same batch, so every
  variant makes the same number of backbone updates): ``L_occlusion = w_ti L_ti + w_ve L_ve`` (InfoNCE with ``τ = 0.5``
  and the attention hard-negative miner ``Φ_A``, in-batch negatives ``K = B - 1``) updates the
  filling network, the encoder's ``f_occ`` path (trunk + ``f_occ`` head) and the miners
  (optimiser ``occlusion``).
* **Discriminator** (LSGAN, :func:`skelcl.losses.lsgan_discriminator_loss`) once every
  ``schedule.disc_every`` backbone steps (optimiser ``disc``).

The first ``schedule.warmup_epochs`` epochs train ``Φ_F`` with ``L_pf`` alone. Every optimiser is
Adam (lr 2e-4, betas (0.5, 0.9)) with the learning rate multiplied by 0.95 after every epoch.

The ``supervised`` variant (reference upper bound) trains the same lifter on 3D: the loss is the
mean per-joint distance (metres) between the ground truth and the root-relative lifted pose
after its per-pose least-squares scale (an N-MPJPE loss: the lifter's output is in normalised
units, so the scale is not identifiable from one image; P-MPJPE, the headline metric, is
scale-free too).

**Code structure.** Each kind of update (warm-up, backbone, discriminator, occlusion,
supervised) computes its losses in the ``forward`` of a small module (:class:`WarmupLoss`,
:class:`BackboneLoss`, :class:`DiscLoss`, :class:`OcclusionLoss`, :class:`SupervisedLoss`) that
registers exactly the parameters the update trains and holds the other networks it calls. The
:class:`Trainer` draws the update's randomness (masks, rotations) from its seeded data
generator, runs that one forward (:meth:`Trainer._forward`), then backward and the optimiser
step (:meth:`Trainer._optimise`). Under ``torchrun`` every step module is wrapped in
:class:`~torch.nn.parallel.DistributedDataParallel`, which averages the gradients over the
processes during the backward pass (``docs/guides/multi_gpu.rst``); in one process the modules
run unwrapped. The training step makes no host synchronisation (no ``.item()``, no
data-dependent branch); the losses are read once every ``SYNC_EVERY`` steps by the NaN guard.

**Precision options** (default off): ``schedule.autocast = "bfloat16"`` runs the lifter and the
discriminator under :func:`torch.autocast` (:class:`StepLoss`); ``schedule.cpu_matmul =
"onednn"`` moves the float32 GEMMs of the CPU step to oneDNN (:class:`OneDnnMatmul`).

Reliability: checkpoints (``last.pt`` every epoch, ``best.pt`` on the best validation P-MPJPE)
are atomic and hold the full state (models, optimisers, schedulers, torch RNG and the data
generator), so that ``--resume`` continues bit for bit; a non-finite loss stops training with
:class:`TrainingStopped` naming the loss, before any checkpoint with bad weights is written.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Union

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from skelcl.augment import RandomJointMask, apply_visibility
from skelcl.contrastive import gather_with_grad, info_nce
from skelcl.geometry import (
    RootScaleNormalizer2D,
    depth_to_points,
    project,
    sample_view_rotation,
    view_transform,
)
from skelcl.losses import (
    bone_length_consistency_loss,
    bone_proportions_from_2d,
    bone_symmetry_loss,
    knee_direction_loss,
    lift_cycle,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    pose_l2_loss,
    relative_bone_lengths,
    rotation_consistency_loss,
)
from skelcl.metrics import p_mpjpe

from . import distributed as D
from .checkpoint import load_checkpoint, save_checkpoint
from .clip_bones import ClipBoneEstimate, observed_bones
from .config import Config, ConfigError, config_from_dict
from .inputs import ROOT, Poses2D, Poses3D
from .model import build_models, lift, occ_features

#: Running losses are synchronised (progress bar, NaN check) every this many steps.
SYNC_EVERY = 10
#: ``loss.bone_target = "image"``: clips with fewer training poses do not vote on the proportions
IMAGE_BONES_MIN_POSES = 10
LIMB_JOINTS = (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16)


def _rank_seed(seed: int, rank: int, step: int) -> int:
    """Seed of the global torch RNG (dropout) of one process in multi-process training."""
    return seed + 1_000_003 * (rank + 1) + step


class TrainingStopped(RuntimeError):
    """Training stopped early (a loss became NaN or infinite)."""


def occludable_joints(cfg: Config) -> torch.Tensor:
    """Candidate joints for masking: the limbs (H36M-17 ``groups["limbs"]``) or all but the root."""
    if cfg.occlusion.occludable == "limbs":
        try:
            from skelcl.skeleton import H36M17

            return torch.tensor(H36M17.groups["limbs"])
        except (ImportError, KeyError):  # pragma: no cover
            return torch.tensor(LIMB_JOINTS)
    return torch.tensor([j for j in range(17) if j != ROOT])


def mask_random_joints(
    poses: torch.Tensor,
    visible: torch.Tensor,
    max_masked: int,
    candidates: torch.Tensor,
    generator: Optional[torch.Generator],
):
    """Mask ``n ~ U{0..max_masked}`` of the ``candidates`` joints per pose
    (:class:`skelcl.augment.RandomJointMask`; joints already invisible stay invisible).

    Returns:
        ``(masked_poses, visible)``: invisible joints zeroed, ``visible &= ~masked``.
    """
    if max_masked <= 0:
        return apply_visibility(poses, visible), visible
    vis = visible & ~draw_hidden(poses, max_masked, candidates, generator)
    return apply_visibility(poses, vis), vis


def draw_hidden(
    like: torch.Tensor,
    max_masked: int,
    candidates: torch.Tensor,
    generator: Optional[torch.Generator],
) -> torch.Tensor:
    """Joints to hide, ``(N, J)`` bool: ``n ~ U{0..max_masked}`` of the ``candidates`` per pose
    (:meth:`skelcl.augment.RandomJointMask.sample_mask`; only the shape and device of ``like``
    ``(N, J, C)`` are read). Unlike calling the augmenter, no NaN check (a host synchronisation)
    is made: the training poses are checked when they are loaded."""
    aug = RandomJointMask(max_joints=max_masked, candidates=tuple(candidates.tolist()))
    ones = torch.ones(like.shape[:-1], dtype=torch.bool, device=like.device)
    return aug.sample_mask(like, generator, ones)


def contrastive_loss(
    miner: Optional[nn.Module], anchor: torch.Tensor, positive: torch.Tensor, temperature: float
) -> torch.Tensor:
    """InfoNCE with in-batch negatives (the other anchors, ``K = B - 1``), through the attention
    hard-negative miner when there is one (paper Eqs. 6-7)."""
    if miner is not None:
        return miner(anchor, positive)
    return info_nce(anchor, positive, "anchors", temperature=temperature, validate=False)


def weighted_total(losses: Dict[str, torch.Tensor], cfg: Config) -> torch.Tensor:
    """``Σ w_k L_k`` over the terms of ``losses`` with the weights of ``cfg.loss`` (``l_pf``,
    ``l_2d``, ``l_3d``, ``l_adv``, ``l_rot``, ``l_knee``, ``l_sym``, ``l_bone``: ``L_backbone``; ``l_ti``, ``l_ve``:
    ``L_occlusion``)."""
    L = cfg.loss
    w = {"l_pf": L.w_pf, "l_2d": L.w_2d, "l_3d": L.w_3d, "l_adv": L.w_adv, "l_rot": L.w_rot,
         "l_ti": L.w_ti, "l_ve": L.w_ve, "l_knee": L.w_knee, "l_sym": L.w_sym,
         "l_bone": L.w_bone}
    return sum(w[k] * v for k, v in losses.items())


#: The networks :func:`~examples.ocr_pose.model.lift` runs at inference, whose weights
#: ``schedule.ema_decay`` averages.
EMA_MODELS = ("lifter", "filler")


def averaged_models(models: nn.ModuleDict, ema: Optional[nn.ModuleDict]) -> nn.ModuleDict:
    """The networks to infer with: ``models`` with those of ``ema`` (the moving averages of
    ``schedule.ema_decay``, or ``None``) in their place. Shares the modules, copies nothing."""
    if ema is None:
        return models
    return nn.ModuleDict({k: (ema[k] if k in ema else m) for k, m in models.items()})


@torch.no_grad()
def update_moving_average(ema: nn.ModuleDict, models: nn.ModuleDict, decay: float, n: int) -> None:
    """One averaging update: ``p_ema = d p_ema + (1 - d) p`` for every parameter of the networks of
    ``ema``, with ``d = min(decay, (1 + n) / (10 + n))`` (short memory at the start, after the
    ``num_updates`` rule of TensorFlow's ``ExponentialMovingAverage``); buffers (batch-norm
    statistics) are copied from the live network.

    Args:
        ema: the averaged networks (same architectures as ``models[k]``).
        models: the live networks.
        decay: ``schedule.ema_decay`` in ``(0, 1)``.
        n: the number of averaging updates made before this one.
    """
    d = min(decay, (1.0 + n) / (10.0 + n))
    for k, avg in ema.items():
        live = models[k]
        for pa, pl in zip(avg.parameters(), live.parameters()):
            pa.lerp_(pl.detach(), 1.0 - d)
        for ba, bl in zip(avg.buffers(), live.buffers()):
            ba.copy_(bl)


#: Networks that only ``L_occlusion`` trains (the attention miners, the projection head).
CONTRAST_ONLY = ("miner_ti", "miner_ve", "proj")


def occlusion_parameters(models: nn.ModuleDict) -> List[nn.Parameter]:
    """What ``L_occlusion`` trains: the lifter's trunk and ``f_occ`` head
    (:func:`occlusion_modules`), the filling network, the miners and the projection head, in
    that order."""
    params = [p for m in occlusion_modules(models["lifter"]) for p in m.parameters()]
    for k in ("filler",) + CONTRAST_ONLY:
        if k in models:
            params += list(models[k].parameters())
    return params


def make_optimizers(models: nn.ModuleDict, cfg: Config, **adam_options: Any) -> Dict[str, torch.optim.Optimizer]:
    """The Adam optimisers of a variant: ``backbone`` (lifter and filling network), ``disc``,
    and ``occlusion`` (with ``schedule.shared_optimizer`` only the networks of
    :data:`CONTRAST_ONLY`, the miners and the projection head, whose shared
    parameters the occlusion step updates through ``backbone``'s state; else everything of
    :func:`occlusion_parameters`; its learning rate is ``lr * occlusion_lr_scale``).
    ``adam_options`` are passed on (e.g. ``fused=True``)."""
    s = cfg.schedule
    adam = dict(lr=s.lr, betas=tuple(s.betas), weight_decay=0.0, **adam_options)
    out: Dict[str, torch.optim.Optimizer] = {}
    backbone = list(models["lifter"].parameters())
    if "filler" in models:
        backbone += list(models["filler"].parameters())
    out["backbone"] = torch.optim.Adam(backbone, **adam)
    if "disc" in models:
        out["disc"] = torch.optim.Adam(models["disc"].parameters(), **adam)
    if cfg.uses_contrast:
        occ = dict(adam, lr=s.lr * s.occlusion_lr_scale)
        if s.shared_optimizer:  # only the miners and the projection head need a state of their own
            own = [p for k in CONTRAST_ONLY if k in models for p in models[k].parameters()]
            out["occlusion"] = torch.optim.Adam(own or [nn.Parameter(torch.zeros(()))], **occ)
        else:
            out["occlusion"] = torch.optim.Adam(occlusion_parameters(models), **occ)
    return out


# ---------------------------------------------------------------------- oneDNN GEMMs (CPU option)
def _onednn(a: torch.Tensor, w: torch.Tensor, bias: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``a @ w.T (+ bias)`` with oneDNN's float32 GEMM (strided views are read in place)."""
    return torch.ops.mkldnn._linear_pointwise(a, w, bias, "none", [], "")


class _OneDnnLinear(torch.autograd.Function):
    """``F.linear`` on 2-D float32 CPU tensors, forward and backward through oneDNN."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: Optional[torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x, w)
        ctx.has_bias = b is not None
        return _onednn(x, w, b)

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor):  # type: ignore[override]
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = _onednn(gy, w.t()) if need[0] else None  # gy @ w
        gw = _onednn(gy.t(), x.t()) if need[1] else None  # gy.T @ x
        gb = gy.sum(0) if ctx.has_bias and need[2] else None
        return gx, gw, gb


class _OneDnnMatmul(torch.autograd.Function):
    """``a @ b`` of 2-D float32 CPU tensors, forward and backward through oneDNN."""

    @staticmethod
    def forward(ctx: Any, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(a, b)
        return _onednn(a, b.t())

    @staticmethod
    def backward(ctx: Any, gy: torch.Tensor):  # type: ignore[override]
        a, b = ctx.saved_tensors
        need = ctx.needs_input_grad
        return (_onednn(gy, b) if need[0] else None,  # gy @ b.T
                _onednn(a.t(), gy.t()) if need[1] else None)  # a.T @ gy


def _onednn_ok(*ts: Any) -> bool:
    return (all(isinstance(t, torch.Tensor) and t.dim() == 2 and t.dtype == torch.float32
                and t.device.type == "cpu" for t in ts)
            and not torch.is_autocast_enabled("cpu"))


class OneDnnMatmul(TorchFunctionMode):
    """Inside this mode, ``F.linear`` and 2-D ``@`` / ``torch.matmul`` of float32 CPU tensors
    run (forward and backward) on oneDNN's float32 GEMM instead of the BLAS behind
    :func:`torch.mm` (``schedule.cpu_matmul = "onednn"``). Same float32 arithmetic, another
    summation order (results differ at rounding level, ~1e-6 relative). Worth it where that BLAS
    is slow: MKL on AMD CPUs uses its AVX2 kernels, oneDNN AVX-512 (about 2x per GEMM on the
    benchmark machine). Other calls, other dtypes and devices, and calls under autocast (whose
    low-precision GEMMs are oneDNN's already) pass through unchanged."""

    _MATMULS = (torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__)

    def __torch_function__(self, func: Any, types: Any, args: tuple = (), kwargs: Optional[dict] = None) -> Any:
        kwargs = kwargs or {}
        if func is nn.functional.linear:
            x, w = args[0], args[1] if len(args) > 1 else kwargs["weight"]
            b = args[2] if len(args) > 2 else kwargs.get("bias")
            if _onednn_ok(x, w) and (b is None or (b.dtype == torch.float32 and b.dim() == 1)):
                return _OneDnnLinear.apply(x, w, b)
        elif func in self._MATMULS and len(args) == 2 and not kwargs and _onednn_ok(*args):
            return _OneDnnMatmul.apply(*args)
        return func(*args, **kwargs)


def onednn_available() -> bool:
    """Whether this PyTorch build has the oneDNN GEMM that ``schedule.cpu_matmul`` uses."""
    try:
        return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    except (AttributeError, RuntimeError):  # pragma: no cover
        return False


def _gemm_scope(forward: Callable[..., Any]) -> Callable[..., Any]:
    """Run a step module's ``forward`` inside :class:`OneDnnMatmul` when its ``cpu_matmul`` is
    ``"onednn"`` (the backward of what it records needs no mode)."""

    @functools.wraps(forward)
    def run(self: "StepLoss", *args: Any, **kwargs: Any) -> Any:
        if self.cpu_matmul != "onednn":
            return forward(self, *args, **kwargs)
        with OneDnnMatmul():
            return forward(self, *args, **kwargs)

    return run


# ---------------------------------------------------------------------- one module per update
# Each kind of update computes its losses in the ``forward`` of a small module, so that under
# torchrun that module can be wrapped in DistributedDataParallel (DDP needs exactly one forward
# through its wrapper per backward). A step module *registers* exactly the parameters that its
# update trains (DDP averages the gradients of those) and merely *holds* the other networks it
# calls (``_hold``): their parameters get no gradient from this update (the discriminator inside
# ``L_adv`` runs with detached weights, the lifter's depth head in the occlusion step runs
# without gradient).


def _hold(module: nn.Module, **refs: Any) -> None:
    """Attach ``refs`` to ``module`` without registering them as submodules (their parameters
    are not ``module``'s, so a DDP wrapper of ``module`` neither broadcasts nor reduces them)."""
    for name, ref in refs.items():
        object.__setattr__(module, name, ref)


def call_frozen(module: nn.Module, *args: Any) -> Any:
    """``module(*args)`` with its parameters detached: the gradient flows *through* the module
    to its inputs, none is computed for its weights (buffers, e.g. batch-norm running
    statistics, are used and updated as in a plain call). Unlike switching ``requires_grad``
    off and on, this mutates nothing, so :func:`torch.compile` traces it without a graph break."""
    params = {k: p.detach() for k, p in module.named_parameters()}
    return torch.func.functional_call(module, params, args)


def _cast_floats(out: Any, dtype: torch.dtype) -> Any:
    """``out`` (a tensor or a named tuple of tensors) with its floating tensors cast to ``dtype``."""
    if isinstance(out, torch.Tensor):
        return out.to(dtype) if out.is_floating_point() else out
    if isinstance(out, tuple):
        items = [_cast_floats(t, dtype) for t in out]
        return type(out)(*items) if hasattr(out, "_fields") else type(out)(items)
    return out


def autocast_dtype(cfg: Config) -> Optional[torch.dtype]:
    """The dtype of ``schedule.autocast`` (``None`` when off, the default)."""
    name = getattr(cfg.schedule, "autocast", None)
    return None if name is None else getattr(torch, name)


def _hide(x: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """``x`` ``(b, J, C)`` with the joints where ``visible`` ``(b, J)`` is ``False`` set to 0 (as
    :func:`skelcl.augment.apply_visibility`, without a host-to-device scalar copy, which CUDA-graph
    capture forbids)."""
    return torch.where(visible[..., None], x, torch.zeros_like(x))


def pf_loss(raw: torch.Tensor, x: torch.Tensor, visible: torch.Tensor, data_visible: torch.Tensor,
            joints: str) -> torch.Tensor:
    """``L_pf``: mean distance between the completion ``raw`` and the 2D ``x`` ``(b, J, 2)`` over
    the joints that the mask hid (``joints="masked"``: ``data_visible & ~visible``) or over every
    joint the data has (``"all"``); the mean is over the **global** batch
    (:func:`~examples.ocr_pose.distributed.global_masked_mean`: the count differs per rank)."""
    on = data_visible & ~visible if joints == "masked" else data_visible
    return D.global_masked_mean(pose_l2_loss(raw, x, mask=on, reduction="none"), on)


class StepLoss(nn.Module):
    """Base of the step modules: runs the networks, optionally under autocast.

    Args:
        autocast: ``None`` (float32 throughout) or a low-precision dtype (``torch.bfloat16``):
            the lifter / encoder and discriminator forwards then run under
            :func:`torch.autocast` and their outputs are cast back to the input dtype; the
            filling network, the geometry of the cycle and every loss (InfoNCE, the miners)
            stay in float32 (``schedule.autocast``).
        cpu_matmul: ``None`` or ``"onednn"``: the float32 GEMMs of the forward and backward
            run on oneDNN (:class:`OneDnnMatmul`, ``schedule.cpu_matmul``).
    """

    def __init__(self, autocast: Optional[torch.dtype] = None, cpu_matmul: Optional[str] = None) -> None:
        super().__init__()
        self.autocast = autocast
        self.cpu_matmul = cpu_matmul

    def _net(self, fn: Callable[..., Any], x: torch.Tensor) -> Any:
        if self.autocast is None:
            return fn(x)
        with torch.autocast(device_type=x.device.type, dtype=self.autocast):
            out = fn(x)
        return _cast_floats(out, x.dtype)


class WarmupLoss(StepLoss):
    """Forward of a warm-up update: ``{"l_pf": L_pf}`` of the filling network alone.

    Registers the filling network (the only network this update trains).

    Args:
        filler: the filling network ``Φ_F``.
        pf_joints: ``loss.pf_joints``.
    """

    def __init__(self, filler: nn.Module, pf_joints: str) -> None:
        super().__init__()
        self.filler = filler
        self.pf_joints = pf_joints

    @_gemm_scope
    def forward(self, x: torch.Tensor, data_visible: torch.Tensor, visible: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``x`` ``(b, J, 2)`` this rank's poses, ``data_visible`` ``(b, J)`` what the data has,
        ``visible`` ``(b, J)`` what the random mask leaves (masked joints are zeroed here)."""
        raw = self.filler(_hide(x, visible), visible).raw
        return {"l_pf": pf_loss(raw, x, visible, data_visible, self.pf_joints)}


class BackboneOutput(NamedTuple):
    """What :class:`BackboneLoss` returns: the ``losses`` of ``L_backbone`` (``l_pf``, ``l_2d``,
    ``l_3d``, ``l_adv``, ``l_rot`` as the variant has them), the rotated projection ``JR2D``
    ``(b, J, 2)`` (the discriminator's fake), the lifter's input ``fused`` ``(b, J, 2)``, and with
    ``loss.bone_target = "clip"`` or ``"image"`` the detached relative bone lengths of ``J3D``
    ``(b, J - 1)`` (``bones``, for the clips' running estimates; ``None`` otherwise)."""

    losses: Dict[str, torch.Tensor]
    rotated_2d: torch.Tensor
    fused: torch.Tensor
    bones: Optional[torch.Tensor] = None


class BackboneLoss(StepLoss):
    """Forward of an ``L_backbone`` update: filling, the view cycle and the generator loss.

    Registers the lifter and the filling network (optimiser ``backbone``). The discriminator is
    held, not registered, and runs with detached weights (:func:`call_frozen`) while it scores
    ``JR2D`` for ``L_adv``: the gradient flows through it to the lifter, and none is computed for
    its own weights (its update, the discriminator step, computes its gradients afresh).

    Args:
        lifter, filler, disc: the variant's networks (``filler`` / ``disc`` may be ``None``).
        cfg: the configuration (``model.distance``, ``loss.*``).
        autocast: see :class:`StepLoss`.
    """

    def __init__(self, lifter: nn.Module, filler: Optional[nn.Module], disc: Optional[nn.Module],
                 cfg: Config, autocast: Optional[torch.dtype] = None) -> None:
        super().__init__(autocast)
        self.lifter = lifter
        self.filler = filler
        _hold(self, disc=disc)
        self.distance = cfg.model.distance
        self.clamp = cfg.loss.clamp_2d
        self.pf_joints = cfg.loss.pf_joints
        self.rotation_distance = cfg.loss.rotation_distance
        self.with_rot = cfg.loss.w_rot > 0
        self.rot_detach_relift = cfg.loss.rot_detach_relift
        self.with_knee = cfg.loss.w_knee > 0
        self.with_sym = cfg.loss.w_sym > 0
        self.with_bone = cfg.loss.w_bone > 0
        self.bone_target = cfg.loss.bone_target

    @_gemm_scope
    def forward(self, x: torch.Tensor, data_visible: torch.Tensor, visible: Optional[torch.Tensor],
                rotation: torch.Tensor, partner: Optional[torch.Tensor] = None,
                partner_visible: Optional[torch.Tensor] = None,
                bone_target: Optional[torch.Tensor] = None,
                bone_known: Optional[torch.Tensor] = None) -> BackboneOutput:
        """``x`` ``(b, J, 2)``, ``data_visible`` ``(b, J)``, ``visible`` ``(b, J)`` after the
        random mask (``None`` without a filling network: the complete 2D is lifted), view
        rotations ``(b, 3, 3)``; with ``loss.w_bone`` and ``loss.bone_target = "pair"``,
        ``partner`` ``(b, J, 2)`` another pose of each pose's clip and its ``partner_visible``
        ``(b, J)`` (what the data has); with ``"clip"``, ``bone_target`` ``(b, J - 1)`` the clips'
        running relative bone lengths and ``bone_known`` ``(b, J - 1)`` bool where they count
        (:class:`~examples.ocr_pose.clip_bones.ClipBoneEstimate`)."""
        losses: Dict[str, torch.Tensor] = {}
        if self.filler is not None:
            fo = self.filler(_hide(x, visible), visible)
            x_in = fo.filled
            losses["l_pf"] = pf_loss(fo.raw, x, visible, data_visible, self.pf_joints)
        else:
            x_in = x
        cyc = lift_cycle(lambda p: self._net(self.lifter, p), x_in, rotation,
                         distance=self.distance, clamp=self.clamp)
        losses["l_2d"] = pose_l2_loss(cyc.recovered_2d, x_in)
        losses["l_3d"] = pose_l2_loss(cyc.relifted_3d, cyc.rotated_3d)
        if self.with_knee:  # the backward-knee prior on J3D (loss.w_knee, our addition)
            losses["l_knee"] = knee_direction_loss(cyc.pose_3d, validate=False)
        if self.with_sym:  # the bone-symmetry prior on J3D (loss.w_sym, our addition)
            losses["l_sym"] = bone_symmetry_loss(cyc.pose_3d, validate=False)
        bones = None
        if self.with_bone and self.bone_target in ("clip", "image"):  # against a given target
            rel = relative_bone_lengths(cyc.pose_3d)
            if bone_target is None or bone_known is None:
                raise ValueError(f"bone_target: loss.bone_target = {self.bone_target!r} needs "
                                 "a target and its known bones for every pose")
            losses["l_bone"] = D.global_masked_mean((rel - bone_target).abs(), bone_known)
            bones = rel.detach()
        elif self.with_bone:  # bone-length consistency within a clip (loss.w_bone, our addition)
            losses["l_bone"] = self._bone_loss(cyc.pose_3d, data_visible, partner, partner_visible)
        if self.disc is not None:
            score = self._net(lambda q: call_frozen(self.disc, q), cyc.rotated_2d)
            losses["l_adv"] = lsgan_generator_loss(score)
        if hasattr(cyc.lifted, "rotation") and self.with_rot:
            # Rot(f_rot(JR2D)): by default from a pass on the detached JR2D, so that L_rot cannot
            # reshape the depths that made JR2D (loss.rot_detach_relift, our choice)
            rel = (self._net(self.lifter, cyc.rotated_2d.detach()).rotation
                   if self.rot_detach_relift else cyc.relifted.rotation)
            losses["l_rot"] = rotation_consistency_loss(
                rel, cyc.lifted.rotation, rotation, kind=self.rotation_distance
            )
        return BackboneOutput(losses, cyc.rotated_2d, x_in, bones)

    def _bone_loss(self, pose_3d: torch.Tensor, data_visible: torch.Tensor,
                   partner: Optional[torch.Tensor], partner_visible: Optional[torch.Tensor]) -> torch.Tensor:
        """``L_bone`` between the lifted ``J3D`` and the lift of the partner poses (their 2D as
        the data has it, unfilled); bones with a joint missing from either pose's data do not
        count."""
        if partner is None or partner_visible is None:
            raise ValueError("partner: loss.w_bone > 0 needs a partner pose for every pose")
        partner_3d = depth_to_points(partner, self._net(self.lifter, partner).depth,
                                     distance=self.distance)
        valid = observed_bones(data_visible & partner_visible)
        return D.global_masked_mean(
            bone_length_consistency_loss(pose_3d, partner_3d, valid=valid, reduction="none",
                                         validate=False), valid)


class DiscLoss(StepLoss):
    """Forward of a discriminator update: ``{"l_disc": LSGAN loss}`` (registers the discriminator).

    Args:
        disc: the discriminator.
        autocast: see :class:`StepLoss`.
    """

    def __init__(self, disc: nn.Module, autocast: Optional[torch.dtype] = None) -> None:
        super().__init__(autocast)
        self.disc = disc

    @_gemm_scope
    def forward(self, real: torch.Tensor, fake: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``real``, ``fake`` ``(b, J, 2)`` (no gradient to their producers)."""
        return {"l_disc": lsgan_discriminator_loss(self._net(self.disc, real), self._net(self.disc, fake))}


class OcclusionLoss(StepLoss):
    """Forward of an ``L_occlusion`` update: ``{"l_ti": ..., "l_ve": ...}`` (TiCLR, VeCLR).

    Registers what ``L_occlusion`` trains: the encoder's ``f_occ`` path (trunk and ``f_occ``
    head; the trunk of a plain lifter), the filling network and the miners. The whole lifter is
    held, not registered: its depth head only runs without gradient (VeCLR's ``JR2D``), so every
    registered parameter receives a gradient and DDP needs no ``find_unused_parameters``.
    With a projection head (``model.proj_dim``) the losses compare ``proj(f_occ)``.

    Args:
        lifter, filler, miner_ti, miner_ve: the variant's networks (``None`` where absent).
        proj: the projection head, or ``None``.
        cfg: the configuration.
        autocast: see :class:`StepLoss`.
    """

    def __init__(self, lifter: nn.Module, filler: Optional[nn.Module], miner_ti: Optional[nn.Module],
                 miner_ve: Optional[nn.Module], cfg: Config, autocast: Optional[torch.dtype] = None,
                 proj: Optional[nn.Module] = None) -> None:
        super().__init__(autocast)
        _hold(self, lifter=lifter)
        self.encoder = nn.ModuleList(occlusion_modules(lifter))
        self.filler = filler
        self.miner_ti = miner_ti
        self.miner_ve = miner_ve
        self.proj = proj
        self.ticlr, self.veclr = cfg.loss.ticlr, cfg.loss.veclr
        self.temperature = cfg.loss.temperature
        self.distance = cfg.model.distance
        self.clamp = cfg.loss.clamp_2d

    def _complete(self, p: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return self.filler(p, v).filled if self.filler is not None else p

    def _encode(self, p: torch.Tensor) -> torch.Tensor:
        # under torchrun gathered from every rank with gradients: the contrastive losses see
        # the global batch (K = B - 1 negatives per anchor, as in one process)
        return gather_with_grad(self._net(self._features, p))

    def _features(self, p: torch.Tensor) -> torch.Tensor:
        f = occ_features(self.lifter, p)
        return f if self.proj is None else self.proj(f)

    @_gemm_scope
    def forward(
        self,
        x: torch.Tensor,
        positive: torch.Tensor,
        positive_visible: torch.Tensor,
        ti_visible: Optional[torch.Tensor],
        ve_rotation: Optional[torch.Tensor],
        ve_visible: Optional[torch.Tensor],
    ) -> Dict[str, torch.Tensor]:
        """Args (this rank's rows; every random draw is made by the caller):
            x: ``(b, J, 2)`` the poses as the data gives them (masked joints zero).
            positive, positive_visible: the pose whose completion is ``z``'s source and its
                visibility (``x`` itself, or a second erasing of a data-occluded pose).
            ti_visible: TiCLR's random mask of ``x`` (``None`` without TiCLR).
            ve_rotation, ve_visible: VeCLR's view rotations ``(b, 3, 3)`` and the random mask of
                the rotated projection (``None`` without VeCLR).
        """
        losses: Dict[str, torch.Tensor] = {}
        full = self._complete(positive, positive_visible)
        z_full = self._encode(full)
        if self.ticlr:
            z_masked = self._encode(self._complete(_hide(x, ti_visible), ti_visible))
            losses["l_ti"] = contrastive_loss(self.miner_ti, z_masked, z_full, self.temperature)
        if self.veclr:
            lifter = self.lifter
            with torch.no_grad():  # JR2D: rotate, project (the lifter is not trained here)
                was = lifter.training
                lifter.eval()
                depth = self._net(lifter, full).depth
                lifter.train(was)
                p3 = depth_to_points(full, depth, distance=self.distance)
                # min_depth as in lift_cycle's projections (a check for z <= 0 would be a host sync)
                jr2d = project(view_transform(p3, ve_rotation, distance=self.distance), min_depth=0.1)
                if self.clamp is not None:
                    jr2d = jr2d.clamp(-self.clamp, self.clamp)
            z_rot = self._encode(self._complete(_hide(jr2d, ve_visible), ve_visible))
            losses["l_ve"] = contrastive_loss(self.miner_ve, z_full, z_rot, self.temperature)
        return losses


class SupervisedLoss(StepLoss):
    """Forward of a supervised update: ``{"l_sup": N-MPJPE loss (metres)}`` (registers the lifter).

    Args:
        lifter: the lifter.
        distance: ``model.distance``.
        autocast: see :class:`StepLoss`.
    """

    def __init__(self, lifter: nn.Module, distance: float, autocast: Optional[torch.dtype] = None) -> None:
        super().__init__(autocast)
        self.lifter = lifter
        self.distance = distance

    @_gemm_scope
    def forward(self, x: torch.Tensor, gt: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``x`` ``(b, J, 2)`` normalised 2D, ``gt`` ``(b, J, 3)`` root-relative 3D in metres."""
        depth = self._net(self.lifter, x).depth
        p = depth_to_points(x, depth, distance=self.distance)
        p = p - p[:, ROOT : ROOT + 1]
        return {"l_sup": pose_l2_loss(least_squares_scale(p, gt)[:, None, None] * p, gt)}


def least_squares_scale(p: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """``s = Σ <p_j, gt_j> / Σ |p_j|^2`` per pose (``(b, J, 3)`` -> ``(b,)``): the same operations
    as :func:`skelcl.metrics.optimal_scale`, without its NaN checks of the inputs (host
    synchronisations; the training poses are checked when they are loaded and the prediction
    by the NaN guard)."""
    w = torch.ones(p.shape[:-1], dtype=p.dtype, device=p.device)
    num = torch.einsum("...j,...jc->...", w, p * gt)
    den = torch.einsum("...j,...jc->...", w, p * p)
    return num / den.clamp_min(torch.finfo(p.dtype).tiny)


def occlusion_modules(lifter: nn.Module) -> List[nn.Module]:
    """The parts of the lifter that ``L_occlusion`` trains: the trunk and, for the decoupled
    encoder, the ``f_occ`` head."""
    mods = [lifter.trunk]
    if hasattr(lifter, "occ_head"):
        mods.append(lifter.occ_head)
    return mods


def build_step_losses(models: nn.ModuleDict, cfg: Config) -> Dict[str, StepLoss]:
    """The step modules of a variant: ``"warmup"``, ``"backbone"``, ``"disc"``, ``"occlusion"``
    or ``"supervised"`` (those that apply), sharing the networks of ``models``, with the
    precision options ``schedule.autocast`` and ``schedule.cpu_matmul``."""
    amp = autocast_dtype(cfg)
    get = lambda k: models[k] if k in models else None  # noqa: E731
    lifter, filler, disc = models["lifter"], get("filler"), get("disc")
    if cfg.objective == "supervised":
        return {"supervised": SupervisedLoss(lifter, cfg.model.distance, amp)}
    out: Dict[str, StepLoss] = {"backbone": BackboneLoss(lifter, filler, disc, cfg, amp)}
    if filler is not None:
        out["warmup"] = WarmupLoss(filler, cfg.loss.pf_joints)
    if disc is not None:
        out["disc"] = DiscLoss(disc, amp)
    if cfg.uses_contrast:
        out["occlusion"] = OcclusionLoss(lifter, filler, get("miner_ti"), get("miner_ve"), cfg, amp,
                                         proj=get("proj"))
    for m in out.values():
        m.cpu_matmul = cpu_matmul(cfg)
    return out


def cpu_matmul(cfg: Config) -> Optional[str]:
    """``schedule.cpu_matmul`` (``None``: PyTorch's default GEMMs), checked against the build."""
    name = getattr(cfg.schedule, "cpu_matmul", None)
    if name == "onednn" and not onednn_available():
        raise ValueError("schedule.cpu_matmul: 'onednn' needs a PyTorch build with oneDNN "
                         "(torch.backends.mkldnn.is_available())")
    return name


def find_unused_parameters(kind: str, cfg: Config) -> bool:
    """Whether DDP must look for parameters without gradient in step ``kind``: only where a
    registered network runs but part of it does not reach the loss. That happens for the
    decoupled encoder with ``model.depth_input = "feature"``: the rotation decoder then feeds
    only ``L_rot`` (absent when ``loss.w_rot = 0``, and always in the supervised step)."""
    decoupled_feature = (cfg.model.lifter == "decoupled"
                         and getattr(cfg.model, "depth_input", "rotation") != "rotation")
    if kind == "backbone":
        return decoupled_feature and not cfg.loss.w_rot > 0
    if kind == "supervised":
        return decoupled_feature
    return False


@dataclass
class TrainResult:
    """What :func:`train` leaves behind."""

    run_dir: Path
    last: Path
    best: Path
    epochs_done: int
    steps_done: int
    best_p_mpjpe: Optional[float]
    history: List[Dict[str, Any]] = field(default_factory=list)


class Trainer:
    """Holds the networks, optimisers, schedulers and RNG of one run (see the module docstring).

    Args:
        cfg: the variant's configuration.
        data: :class:`Poses2D` for unsupervised variants (never 3D), :class:`Poses3D` for the
            supervised one.
        normalizer: the fitted 2D normaliser (saved with every checkpoint).
        input_units: ``"camera"`` or ``"pixels"`` (see :mod:`examples.ocr_pose.inputs`).
        val: validation poses with 3D, or ``None``.
        run_dir: output directory.
        progress: show tqdm progress bars.
        device: where the networks, the training poses and the data generator live (``"cpu"``,
            ``"cuda"``). Checkpoints are device-independent; resuming needs the same device for
            a bit-identical continuation (the generator state is per device type).
    """

    def __init__(
        self,
        cfg: Config,
        data: Union[Poses2D, Poses3D],
        normalizer: RootScaleNormalizer2D,
        input_units: str,
        val: Optional[Poses3D],
        run_dir: Union[str, Path],
        progress: bool = True,
        device: Union[str, torch.device] = "cpu",
    ) -> None:
        if cfg.objective == "unsupervised" and not isinstance(data, Poses2D):
            raise TypeError("data: an unsupervised variant takes Poses2D (2D only), got "
                            f"{type(data).__name__}")
        if cfg.objective == "supervised" and not isinstance(data, Poses3D):
            raise TypeError(f"data: the supervised variant takes Poses3D, got {type(data).__name__}")
        if len(data) < 2:
            raise ValueError(f"data: need at least 2 training poses, got {len(data)}")
        self.cfg = cfg
        self.data = data
        self.normalizer = normalizer
        self.input_units = input_units
        self.val = val
        self.run_dir = Path(run_dir)
        self.progress = progress
        self.device = torch.device(device)
        torch.manual_seed(cfg.seed)
        self.generator = torch.Generator(device=self.device).manual_seed(cfg.seed)
        self.models = build_models(cfg).to(self.device)
        # data parallel under torchrun (examples/ocr_pose/distributed.py): every rank holds all
        # the data, draws the global batches and their randomness, and computes its own rows
        self.rank, self.world_size = D.get_rank(), D.get_world_size()
        D.shard_rows(cfg.schedule.batch_size, self.rank, self.world_size)  # B divisible by N
        self.progress = progress and self.rank == 0
        if cfg.schedule.sync_batchnorm and self.world_size > 1:
            self.models = D.convert_sync_batchnorm(self.models, self.device)
        if self.world_size > 1:  # same initial weights everywhere, independent dropout per rank
            torch.manual_seed(_rank_seed(cfg.seed, self.rank, 0))
        D.broadcast_module(self.models)  # identical start on every rank (seeded anyway)
        # moving averages of the inference networks (schedule.ema_decay; None when off)
        self.ema: Optional[nn.ModuleDict] = None
        self.ema_updates = 0
        if cfg.schedule.ema_decay > 0:
            self.ema = copy.deepcopy(nn.ModuleDict({k: self.models[k] for k in EMA_MODELS
                                                    if k in self.models}))
            self.ema.requires_grad_(False)
        self.candidates = occludable_joints(cfg)
        self._setup_data_occlusion()  # on the CPU (seeded), before the data moves
        self._setup_fixed_rotations()
        self._setup_clip_partners()
        if self.device.type != "cpu":
            self._to_device()
        s = cfg.schedule
        self.optimizers: Dict[str, torch.optim.Optimizer] = make_optimizers(self.models, cfg)
        # one module per kind of update; under torchrun each is wrapped in DDP (see _wrap)
        self.step_losses: Dict[str, nn.Module] = {
            k: self._wrap(k, m) for k, m in build_step_losses(self.models, cfg).items()
        }
        self._pending: Optional[str] = None  # the step module whose forward awaits its backward
        self.schedulers = {
            k: torch.optim.lr_scheduler.ExponentialLR(o, gamma=s.lr_decay)
            for k, o in self.optimizers.items()
        }
        self.epoch = 0  # completed epochs
        self.step = 0  # completed optimisation steps (all kinds)
        self.backbone_steps = 0
        self.best_p_mpjpe: Optional[float] = None
        self.best_epoch: Optional[int] = None
        self.history: List[Dict[str, Any]] = []
        self._first_bad: Dict[str, torch.Tensor] = {}  # loss -> first non-finite step, or -1
        self.tb = None

    # ------------------------------------------------------------------ set-up helpers
    def _to_device(self) -> None:
        d = self.device
        if isinstance(self.data, Poses2D):
            self.data = self.data.to(d)
        else:
            self.data = Poses3D(self.data.poses.to(d), self.data.confidence.to(d),
                                self.data.poses_3d.to(d), self.data.action, self.data.source)
        if hasattr(self, "data_incomplete"):
            self.data_incomplete = self.data_incomplete.to(d)
        if self.fixed_rotations is not None:
            self.fixed_rotations = self.fixed_rotations.to(d)
        if self.clip_partners is not None:
            self.clip_partners = tuple(t.to(d) for t in self.clip_partners)
        if self.clip_bones is not None:
            self.clip_bones.to(d)
        if self.image_bones is not None:
            self.image_bones = self.image_bones.to(d)
        if self.val is not None:
            self.val = Poses3D(self.val.poses.to(d), self.val.confidence.to(d),
                               self.val.poses_3d.to(d), self.val.action, self.val.source)

    def _wrap(self, kind: str, module: nn.Module) -> nn.Module:
        """``module`` itself in one process; under torchrun a
        :class:`~torch.nn.parallel.DistributedDataParallel` of it
        (:func:`~examples.ocr_pose.distributed.data_parallel`), which averages the gradients of
        the module's registered parameters over the ranks during the backward pass.

        ``broadcast_buffers=False``: the only buffers are batch-norm running statistics, which
        the training forward does not read; each rank keeps its own (rank 0's are saved and
        validated with; with ``schedule.sync_batchnorm`` they are identical on every rank), and
        no broadcast precedes every forward. ``find_unused_parameters`` only where a registered
        network has parts that do not reach the loss (:func:`find_unused_parameters`).
        """
        if self.world_size == 1:
            return module
        return D.data_parallel(module, find_unused_parameters(kind, self.cfg), broadcast_buffers=False)

    def _forward(self, kind: str, *args: Any) -> Any:
        """Run step module ``kind``: the one forward of the next backward (:meth:`_optimise`).
        Under DDP each backward must follow exactly one forward through exactly one wrapper
        (the wrappers share parameters); this is checked here."""
        if self._pending is not None:
            raise RuntimeError(f"step module {kind!r} called while the backward of "
                               f"{self._pending!r} is pending (one forward per backward)")
        out = self.step_losses[kind](*args)
        self._pending = kind
        return out

    def _optimise(self, loss: torch.Tensor, opts: List[torch.optim.Optimizer]) -> None:
        """Zero the gradients of ``opts``, back-propagate ``loss`` (under DDP the gradients are
        averaged over the ranks during this backward), step."""
        if self._pending is None:
            raise RuntimeError("backward without a step-module forward")
        self._pending = None
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts:
            o.step()

    def _setup_data_occlusion(self) -> None:
        """Setting (d): a seeded fraction of the training poses loses 0..N joints for good."""
        occ = self.cfg.occlusion
        if self.cfg.objective != "unsupervised" or occ.data_occlusion_rate <= 0:
            return
        g = torch.Generator().manual_seed(self.cfg.seed + 7919)
        n = len(self.data)
        rows = torch.rand(n, generator=g) < occ.data_occlusion_rate
        _, vis = mask_random_joints(
            self.data.poses, self.data.visible, occ.data_mask_max, self.candidates, g
        )
        visible = torch.where(rows[:, None], vis, self.data.visible)
        poses = torch.where(visible[..., None], self.data.poses, torch.zeros_like(self.data.poses))
        self.data = Poses2D(poses, visible, self.data.source, self.data.clip)
        self.data_incomplete = ~visible.all(dim=1)

    def _setup_clip_partners(self) -> None:
        """For ``loss.w_bone``: with ``loss.bone_target = "pair"`` the training poses sorted by
        clip, and for every pose where its clip's run starts in that order and how long it is
        (:meth:`_partners`); with ``"clip"`` the clips' running estimates (:attr:`clip_bones`);
        with ``"image"`` the proportions read off the training 2D (:attr:`image_bones`)."""
        self.clip_partners = None
        self.clip_bones: Optional[ClipBoneEstimate] = None
        self.image_bones: Optional[torch.Tensor] = None
        if self.cfg.objective != "unsupervised" or self.cfg.loss.w_bone <= 0:
            return
        clip = self.data.clip
        if clip is None:
            raise ConfigError("loss.w_bone: the bone-length consistency prior needs the training "
                             "data's per-pose 'clip' labels (which poses show one person); "
                             "this data has none (set loss.w_bone to 0)")
        if self.cfg.loss.bone_target == "clip":
            self.clip_bones = ClipBoneEstimate(clip, self.cfg.loss.bone_momentum,
                                               dtype=self.data.poses.dtype)
            return
        if self.cfg.loss.bone_target == "image":
            largest = int(torch.unique(clip, return_counts=True)[1].max())
            try:
                self.image_bones = bone_proportions_from_2d(
                    self.data.poses, clip, self.data.visible,
                    min_poses=min(IMAGE_BONES_MIN_POSES, largest))
            except ValueError as e:
                raise ConfigError(f"loss.bone_target: 'image' cannot read bone proportions off "
                                  f"this training data ({e})") from None
            return
        order = torch.argsort(clip, stable=True)
        _, inverse, counts = torch.unique(clip, return_inverse=True, return_counts=True)
        starts = torch.cumsum(counts, 0) - counts
        self.clip_partners = (order, starts[inverse], counts[inverse])

    def _partners(self, idx: torch.Tensor) -> torch.Tensor:
        """Global batch ``idx`` -> a uniformly drawn training pose of each pose's clip (possibly
        the pose itself; always so in a clip of one pose), from the data generator."""
        order, start, count = self.clip_partners
        u = torch.rand(idx.shape, generator=self.generator, device=self.generator.device)
        pick = (u * count[idx]).long().clamp_max(count[idx] - 1)
        return order[start[idx] + pick]

    def _local(self, x: torch.Tensor) -> torch.Tensor:
        """This rank's rows of a global-batch tensor (the tensor itself in one process)."""
        return D.shard_batch(x, self.rank, self.world_size)

    def _setup_fixed_rotations(self) -> None:
        """The baseline's fixed mode: one rotation per training pose, half with azimuth + π."""
        self.fixed_rotations = None
        if not self.cfg.rotation.fixed:
            return
        g = torch.Generator().manual_seed(self.cfg.seed + 104729)
        n = len(self.data)
        r = self._sample_rotations(n, g)
        flip = torch.zeros(n, dtype=torch.bool)
        flip[torch.randperm(n, generator=g)[: n // 2]] = True
        rz = torch.diag(torch.tensor([-1.0, 1.0, -1.0]))  # azimuth + π about the camera y axis
        self.fixed_rotations = torch.where(flip[:, None, None], rz @ r, r)

    def _sample_rotations(self, n: int, generator: torch.Generator) -> torch.Tensor:
        rc = self.cfg.rotation
        return sample_view_rotation(
            n, azimuth=tuple(rc.azimuth), elevation=tuple(rc.elevation), roll=tuple(rc.roll),
            generator=generator, device=generator.device,
        )

    # ------------------------------------------------------------------ state
    def state(self) -> Dict[str, Any]:
        """Everything a checkpoint holds (weights_only-loadable types only)."""
        return {
            "config": self.cfg.to_json(),
            "normalizer": json.dumps(self.normalizer.state_dict()),
            "input_units": self.input_units,
            "models": {k: m.state_dict() for k, m in self.models.items()},
            **({"ema": {k: m.state_dict() for k, m in self.ema.items()},
                "ema_updates": self.ema_updates} if self.ema is not None else {}),
            **({"clip_bones": self.clip_bones.state_dict()} if self.clip_bones is not None else {}),
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "rng": {"torch": torch.get_rng_state(), "generator": self.generator.get_state(),
                    "generator_device": self.device.type,
                    **({"cuda": torch.cuda.get_rng_state(self.device)}
                       if self.device.type == "cuda" else {})},
            "epoch": self.epoch,
            "step": self.step,
            "backbone_steps": self.backbone_steps,
            "best_p_mpjpe": self.best_p_mpjpe,
            "best_epoch": self.best_epoch,
            "history": json.dumps(self.history),
            "source": self.data.source,
        }

    def load_state(self, ckpt: Dict[str, Any]) -> None:
        """Restore a :meth:`state` (from :func:`load_checkpoint`)."""
        for k, m in self.models.items():
            m.load_state_dict(ckpt["models"][k])
        if self.ema is not None:
            if "ema" not in ckpt:
                raise ValueError("checkpoint: schedule.ema_decay is on but the checkpoint holds no "
                                 "moving averages ('ema')")
            for k, m in self.ema.items():
                m.load_state_dict(ckpt["ema"][k])
            self.ema_updates = int(ckpt["ema_updates"])
        if self.clip_bones is not None:
            if "clip_bones" not in ckpt:
                raise ValueError("checkpoint: loss.bone_target is 'clip' but the checkpoint holds "
                                 "no clip estimates ('clip_bones')")
            self.clip_bones.load_state_dict(ckpt["clip_bones"])
        for k, o in self.optimizers.items():
            o.load_state_dict(ckpt["optimizers"][k])
        for k, s in self.schedulers.items():
            s.load_state_dict(ckpt["schedulers"][k])
        torch.set_rng_state(ckpt["rng"]["torch"])
        if ckpt["rng"].get("generator_device", "cpu") == self.device.type:
            self.generator.set_state(ckpt["rng"]["generator"])
        else:  # another device type: continue with a fresh stream (not bit-identical)
            self.generator.manual_seed(self.cfg.seed + int(ckpt["step"]))
        if self.device.type == "cuda" and "cuda" in ckpt["rng"]:
            torch.cuda.set_rng_state(ckpt["rng"]["cuda"], self.device)
        if self.world_size > 1:  # the checkpoint holds rank 0's stream; keep ranks independent
            torch.manual_seed(_rank_seed(self.cfg.seed, self.rank, int(ckpt["step"])))
        self.epoch = int(ckpt["epoch"])
        self.step = int(ckpt["step"])
        self.backbone_steps = int(ckpt["backbone_steps"])
        self.best_p_mpjpe = ckpt["best_p_mpjpe"]
        self.best_epoch = ckpt["best_epoch"]
        self.history = json.loads(ckpt["history"])

    # ------------------------------------------------------------------ losses
    def _nan_hook(self, losses: Dict[str, torch.Tensor]) -> None:
        """Test hook (``debug``: a loss becomes NaN at a given step), then the guard's bookkeeping:
        the first step at which each loss was not finite is recorded on the device, without a
        host synchronisation. :meth:`_check_finite` (every ``SYNC_EVERY`` steps and at the end of
        every epoch, always before a checkpoint is written) then stops training naming that
        loss, so no checkpoint ever holds weights updated with a non-finite loss."""
        d = self.cfg.debug
        if d.nan_loss is not None and self.step == d.nan_at_step and d.nan_loss in losses:
            losses[d.nan_loss] = losses[d.nan_loss] * float("nan")
        for k, v in losses.items():
            prev = self._first_bad.get(k)
            if prev is None:
                prev = torch.full((), -1, dtype=torch.long, device=v.device)
            self._first_bad[k] = torch.where(~torch.isfinite(v.detach()) & (prev < 0), self.step, prev)

    def _visibility(self, like: torch.Tensor, visible: torch.Tensor, n_global: int) -> torch.Tensor:
        """This rank's rows of a random mask drawn for the whole global batch of ``n_global``
        poses (identical draws on every rank, whatever their number; in one process exactly
        :func:`mask_random_joints`'s), combined with ``visible`` ``(b, J)``; ``like`` ``(b, J, C)``
        gives the shape. No draw when ``occlusion.mask_max`` is 0."""
        m = self.cfg.occlusion.mask_max
        if m <= 0:
            return visible
        full = like.new_empty((n_global,) + tuple(like.shape[1:]))
        return visible & ~self._local(draw_hidden(full, m, self.candidates, self.generator))

    def _mask(self, x: torch.Tensor, visible: torch.Tensor, n_global: int):
        """Mask this rank's poses ``x`` ``(b, J, 2)`` (:meth:`_visibility`); returns
        ``(masked poses, visibility)``."""
        vis = self._visibility(x, visible, n_global)
        return apply_visibility(x, vis), vis

    def _batch(self, idx: torch.Tensor):
        """Global batch indices -> (this rank's poses, their visibility, global batch size).
        Every ``*_step`` takes the global batch ``idx`` (the same on every rank) and computes its
        own rows."""
        local = self._local(idx)
        return self.data.poses[local], self.data.visible[local], idx.numel()

    def warmup_step(self, idx: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``L_pf`` alone (filling warm-up)."""
        x, dv, n = self._batch(idx)
        losses = self._forward("warmup", x, dv, self._visibility(x, dv, n))
        self._nan_hook(losses)
        self._optimise(self.cfg.loss.w_pf * losses["l_pf"], [self.optimizers["backbone"]])
        return losses

    def _rotations(self, idx: torch.Tensor) -> torch.Tensor:
        if self.fixed_rotations is not None:
            return self.fixed_rotations[self._local(idx)]
        return self._local(self._sample_rotations(idx.numel(), self.generator))

    def backbone_step(self, idx: torch.Tensor) -> Dict[str, torch.Tensor]:
        """One ``L_backbone`` step (and a discriminator step every ``disc_every``)."""
        cfg = self.cfg
        x, dv, n = self._batch(idx)
        # random draws in the order of the data generator's stream: mask, then rotations
        vis = self._visibility(x, dv, n) if "filler" in self.models else None
        rotations = self._rotations(idx)
        partner: tuple = ()
        if self.clip_partners is not None:  # drawn after the rotations: same stream when off
            p = self._local(self._partners(idx))
            partner = (self.data.poses[p], self.data.visible[p])
        elif self.clip_bones is not None:  # no random draw: same stream as without the prior
            partner = (None, None, *self.clip_bones.target(self._local(idx), dv))
        elif self.image_bones is not None:  # one fixed target for every pose
            partner = (None, None, self.image_bones.expand(x.shape[0], -1), observed_bones(dv))
        out = self._forward("backbone", x, dv, vis, rotations, *partner)
        losses = dict(out.losses)
        self._nan_hook(losses)
        self._optimise(weighted_total(losses, cfg), [self.optimizers["backbone"]])
        if self.clip_bones is not None:  # the lifts of this update, before its step, feed the estimates
            self.clip_bones.update(self._local(idx), out.bones, dv)
        self.backbone_steps += 1
        if "disc" in self.models and self.backbone_steps % cfg.schedule.disc_every == 0:
            real = torch.where(dv[..., None], x, out.fused.detach())
            d_loss = self._forward("disc", real, out.rotated_2d.detach())["l_disc"]
            losses["l_disc"] = d_loss
            self._nan_hook({"l_disc": d_loss})
            self._optimise(d_loss, [self.optimizers["disc"]])
        return losses

    def occlusion_step(self, idx: torch.Tensor) -> Dict[str, torch.Tensor]:
        """One ``L_occlusion = w_ti L_ti + w_ve L_ve`` step (TiCLR, VeCLR)."""
        cfg, L = self.cfg, self.cfg.loss
        x, dv, n = self._batch(idx)
        # every random draw of the step, in the order of the data generator's stream
        # The pose as the data gives it, completed (for setting d: a second random erasing of
        # the data-occluded poses serves as their positive, the paper's Sec. 4.6).
        if hasattr(self, "data_incomplete"):
            x2, v2 = self._mask(x, dv, n)
            inc = self.data_incomplete[self._local(idx)]
            x_pos = torch.where(inc[:, None, None], x2, x)
            v_pos = torch.where(inc[:, None], v2, dv)
        else:
            x_pos, v_pos = x, dv
        v_ti = self._visibility(x, dv, n) if L.ticlr else None
        rot = v_ve = None
        if L.veclr:
            rot = self._local(self._sample_rotations(n, self.generator))
            v_ve = self._visibility(x, torch.ones_like(dv), n)
        losses = self._forward("occlusion", x, x_pos, v_pos, v_ti, rot, v_ve)
        self._nan_hook(losses)
        opts = [self.optimizers["occlusion"]]
        if cfg.schedule.shared_optimizer:
            # only the f_occ path gets gradients here (the occlusion step module registers only
            # it and runs the depth head without gradient), so Adam skips the rest
            opts.append(self.optimizers["backbone"])
        self._optimise(weighted_total(losses, cfg), opts)
        return losses

    def supervised_step(self, idx: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The reference upper bound: N-MPJPE loss (metres) against the 3D."""
        local = self._local(idx)
        x = self.data.poses[local]
        gt = self.data.poses_3d[local].to(x.dtype) / 1000.0
        losses = self._forward("supervised", x, gt)
        self._nan_hook(losses)
        self._optimise(losses["l_sup"], [self.optimizers["backbone"]])
        return losses

    # ------------------------------------------------------------------ loop
    def epoch_kind(self, epoch: int) -> str:
        """``"warmup"``, ``"supervised"`` or ``"main"`` for a 0-based epoch index."""
        if self.cfg.objective == "supervised":
            return "supervised"
        if epoch < self.cfg.schedule.warmup_epochs and "filler" in self.models:
            return "warmup"
        return "main"

    @property
    def total_epochs(self) -> int:
        """Warm-up plus main epochs (the warm-up only for variants with a filling network)."""
        s = self.cfg.schedule
        warm = s.warmup_epochs if (self.cfg.objective == "unsupervised" and "filler" in self.models) else 0
        return warm + s.epochs

    def _batches(self) -> List[torch.Tensor]:
        n, b = len(self.data), self.cfg.schedule.batch_size
        perm = torch.randperm(n, generator=self.generator, device=self.device)
        batches = [perm[s : s + b] for s in range(0, n, b)]
        if len(batches) > 1 and batches[-1].numel() < b:
            batches = batches[:-1]  # equal-size batches (BatchNorm, K = B - 1)
        batches = [bt for bt in batches if bt.numel() >= 2]
        cap = self.cfg.schedule.max_steps_per_epoch
        return batches if cap is None else batches[:cap]

    def _step_kinds(self, i: int) -> List[str]:
        """The updates that batch ``i`` of a main epoch makes, in order (``schedule.alternation``)."""
        s = self.cfg.schedule
        if "occlusion" not in self.optimizers:
            return ["backbone"]
        if s.alternation == "split":
            period = s.backbone_steps + s.occlusion_steps
            return ["backbone" if i % period < s.backbone_steps else "occlusion"]
        # per_batch: a backbone update on every batch, and after every backbone_steps of them the
        # occlusion updates on the same batch (backbone_steps >= 1: the config check requires it
        # of every unsupervised variant)
        kinds = ["backbone"]
        if (i + 1) % s.backbone_steps == 0:
            kinds += ["occlusion"] * s.occlusion_steps
        return kinds

    def _updates(self, kind: str, i: int) -> List[Callable[[torch.Tensor], Dict[str, torch.Tensor]]]:
        """The update methods that batch ``i`` of an epoch of ``kind`` (:meth:`epoch_kind`) runs,
        in order."""
        if kind == "warmup":
            return [self.warmup_step]
        if kind == "supervised":
            return [self.supervised_step]
        return [self.backbone_step if k == "backbone" else self.occlusion_step for k in self._step_kinds(i)]

    def inference_models(self) -> nn.ModuleDict:
        """The networks that validation, ``evaluate`` and ``predict`` use: the live ones, with the
        moving averages in place of the lifter and the filling network when
        ``schedule.ema_decay`` is on (:func:`averaged_models`)."""
        return averaged_models(self.models, self.ema)

    def validate(self) -> Optional[Dict[str, float]]:
        """P-MPJPE (mm) on the unoccluded validation poses, of :meth:`inference_models`."""
        if self.val is None:
            return None
        out = lift(self.inference_models(), self.cfg, self.val.poses, self.val.confidence)
        pred = out.pose_3d.double()
        pred = pred - pred[:, ROOT : ROOT + 1]
        return {"p_mpjpe_mm": float(p_mpjpe(pred, self.val.poses_3d))}

    def _check_finite(self, sums: Dict[str, torch.Tensor], counts: Dict[str, int], where: str) -> Dict[str, float]:
        # mean losses since the epoch began, averaged over the ranks: one all-reduce and one host
        # synchronisation per call; NaN / inf stops every rank at once
        vals = {k: float(v) / max(counts[k], 1) for k, v in D.mean_over_ranks(sums).items()}
        bad = [k for k, v in vals.items() if not math.isfinite(v)]
        if bad:
            first = {k: int(t) for k, t in self._first_bad.items() if int(t) >= 0}
            name = min(first, key=lambda k: first[k]) if first else bad[0]
            at = f"at step {first[name]}" if name in first else where
            last = self.run_dir / "last.pt"
            kept = (f"the last good checkpoint {last} (epoch {self.epoch}) is intact"
                    if last.exists() else "no checkpoint had been written yet")
            raise TrainingStopped(
                f"loss {name} became NaN or infinite {at} (detected {where}); training stopped, "
                f"{kept}"
            )
        return vals

    def fit(self, stop_after_epoch: Optional[int] = None) -> TrainResult:
        """Run the remaining epochs. ``stop_after_epoch`` (tests) ends the run after that many
        completed epochs, as if the process had been killed right after writing ``last.pt``."""
        main = self.rank == 0  # only rank 0 writes files (the others wait at barriers)
        self.tb = None
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.json").write_text(self.cfg.to_json())
            try:
                from torch.utils.tensorboard import SummaryWriter  # optional

                self.tb = SummaryWriter(str(self.run_dir / "tensorboard"))
            except Exception:
                self.tb = None
        tqdm = _tqdm(self.progress)
        for model in self.models.values():
            model.train()
        while self.epoch < self.total_epochs:
            if stop_after_epoch is not None and self.epoch >= stop_after_epoch:
                break
            t0 = time.time()
            kind = self.epoch_kind(self.epoch)
            batches = self._batches()
            sums: Dict[str, torch.Tensor] = {}
            counts: Dict[str, int] = {}
            desc = f"{self.cfg.variant} epoch {self.epoch + 1}/{self.total_epochs} ({kind})"
            bar = tqdm(batches, desc=desc, leave=False, dynamic_ncols=True)
            for i, idx in enumerate(bar):
                losses = {}
                for update in self._updates(kind, i):
                    losses.update(update(idx))
                    self.step += 1
                if self.ema is not None:
                    update_moving_average(self.ema, self.models, self.cfg.schedule.ema_decay,
                                          self.ema_updates)
                    self.ema_updates += 1
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0.0) + v.detach()
                    counts[k] = counts.get(k, 0) + 1
                if (i + 1) % SYNC_EVERY == 0:
                    vals = self._check_finite(sums, counts, f"at step {self.step} (epoch {self.epoch + 1})")
                    if hasattr(bar, "set_postfix"):
                        bar.set_postfix({k: f"{v:.4f}" for k, v in vals.items()})
            if hasattr(bar, "close"):
                bar.close()
            vals = self._check_finite(sums, counts, f"in epoch {self.epoch + 1} (by step {self.step})")
            with warnings.catch_warnings():  # optimisers idle in the warm-up still decay
                warnings.filterwarnings("ignore", message="Detected call of `lr_scheduler.step")
                for s in self.schedulers.values():
                    s.step()
            self.epoch += 1
            record: Dict[str, Any] = {
                "epoch": self.epoch, "step": self.step, "kind": kind, "losses": vals,
                "lr": self.schedulers["backbone"].get_last_lr()[0], "seconds": time.time() - t0,
            }
            improved = False
            if main and self.val is not None and (self.epoch % self.cfg.data.val_every == 0
                                         or self.epoch == self.total_epochs) and kind != "warmup":
                v = self.validate()
                record["val"] = v
                if self.best_p_mpjpe is None or v["p_mpjpe_mm"] < self.best_p_mpjpe:
                    self.best_p_mpjpe, self.best_epoch, improved = v["p_mpjpe_mm"], self.epoch, True
            self.history.append(record)
            if main:
                with open(self.run_dir / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(record) + "\n")
            if self.tb is not None:
                for k, v in vals.items():
                    self.tb.add_scalar(f"loss/{k}", v, self.epoch)
                if "val" in record:
                    self.tb.add_scalar("val/p_mpjpe_mm", record["val"]["p_mpjpe_mm"], self.epoch)
            msg = " ".join(f"{k}={v:.4f}" for k, v in vals.items())
            if "val" in record:
                msg += f" | val P-MPJPE {record['val']['p_mpjpe_mm']:.1f} mm"
            if self.progress:
                print(f"[{self.cfg.variant}] epoch {self.epoch}/{self.total_epochs} {msg}",
                      file=sys.stderr, flush=True)
            state = None
            if main and (improved or self.epoch % self.cfg.schedule.checkpoint_every == 0
                         or self.epoch == self.total_epochs):
                state = self.state()
                save_checkpoint(self.run_dir / "last.pt", state)
            if improved:
                save_checkpoint(self.run_dir / "best.pt", state)
            D.barrier()  # no rank runs ahead of rank 0's checkpoint
        if self.tb is not None:
            self.tb.close()
        last = self.run_dir / "last.pt"
        best = self.run_dir / "best.pt"
        if main:
            if not last.exists() or load_checkpoint(last)["epoch"] != self.epoch:
                save_checkpoint(last, self.state())
            if self.val is None and self.epoch == self.total_epochs:
                # nothing to choose with: the final model is the one to use
                save_checkpoint(best, self.state())
        D.barrier()
        return TrainResult(self.run_dir, last, best if best.exists() else last, self.epoch,
                           self.step, self.best_p_mpjpe, self.history)


def _tqdm(enabled: bool) -> Callable:
    if enabled:
        try:
            from tqdm.auto import tqdm

            return tqdm
        except ImportError:  # pragma: no cover
            pass
    return lambda it, **kw: it


def train(
    cfg: Config,
    run_dir: Union[str, Path],
    data: Union[Poses2D, Poses3D],
    normalizer: RootScaleNormalizer2D,
    input_units: str,
    val: Optional[Poses3D] = None,
    resume: bool = False,
    progress: bool = True,
    stop_after_epoch: Optional[int] = None,
    device: Union[str, torch.device] = "cpu",
) -> TrainResult:
    """Train one variant (see :class:`Trainer`); ``resume`` continues from ``run_dir/last.pt``.

    On resume the stored configuration must equal ``cfg`` (else ``ValueError``), and the stored
    normaliser is used.
    """
    run_dir = Path(run_dir)
    trainer = Trainer(cfg, data, normalizer, input_units, val, run_dir, progress, device)
    main = trainer.rank == 0  # under torchrun: every rank resumes from rank 0's last.pt
    if resume:
        last = run_dir / "last.pt"
        if last.exists():
            ckpt = load_checkpoint(last)
            stored = config_from_dict(json.loads(ckpt["config"]))
            if stored != cfg:
                raise ValueError(f"--resume: the configuration differs from the one stored in {last}")
            trainer.normalizer = RootScaleNormalizer2D.from_state_dict(json.loads(ckpt["normalizer"]))
            trainer.load_state(ckpt)
            if main:
                # the log may hold epochs after the checkpoint (killed in between): rewrite it
                with open(run_dir / "metrics.jsonl", "w") as f:
                    f.writelines(json.dumps(r) + "\n" for r in trainer.history)
                print(f"resuming {last} at epoch {trainer.epoch}, step {trainer.step}", file=sys.stderr)
        elif main:
            print(f"--resume: no {last}, starting from scratch", file=sys.stderr)
    elif (run_dir / "last.pt").exists():
        raise ValueError(f"{run_dir} already holds a run (last.pt); pass --resume or another --out")
    D.barrier()  # every rank has read last.pt before rank 0 may overwrite it
    return trainer.fit(stop_after_epoch=stop_after_epoch)


# ---------------------------------------------------------------------- data for the CLI
def synthetic_split(cfg: Config, seed: int):
    """Embedded synthetic default: (train PoseDataset, validation PoseDataset), both "synthetic"."""
    from .data_sources import synthetic_datasets

    return synthetic_datasets(cfg.data.synthetic_poses, cfg.data.synthetic_views, seed)


def prepare_training_data(cfg: Config, data: Optional[str], val: Optional[str]):
    """Load (or synthesise) the training and validation data for ``cfg``.

    Unsupervised variants get :class:`Poses2D` (2D only; 3D never loaded into the trainer's
    object), the supervised one :class:`Poses3D`. Returns ``(train, val, normalizer, units)``.
    """
    from skelcl.data.pose_dataset import load_pose_dataset

    from .inputs import (
        dataset_to_2d, fit_normalizer, load_training_poses, subsample_dataset, to_poses2d,
        to_poses3d,
    )

    seed = cfg.seed
    if data is None:
        tr_ds, va_ds = synthetic_split(cfg, seed)
        tr_ds = subsample_dataset(tr_ds, cfg.data.max_train_poses, seed)
        if val is not None:
            va_ds = load_pose_dataset(val)
        xy, conf, units = dataset_to_2d(tr_ds)
        norm = fit_normalizer(xy, conf)
        train_poses = to_poses3d(tr_ds, norm) if cfg.objective == "supervised" else to_poses2d(tr_ds, norm)
        del tr_ds
    elif cfg.objective == "supervised":
        tr_ds = subsample_dataset(load_pose_dataset(data), cfg.data.max_train_poses, seed)
        xy, conf, units = dataset_to_2d(tr_ds)
        norm = fit_normalizer(xy, conf)
        train_poses = to_poses3d(tr_ds, norm)
        va_ds = load_pose_dataset(val) if val is not None else None
    else:
        train_poses, norm, units = load_training_poses(data, cfg.data.max_train_poses, seed)
        va_ds = load_pose_dataset(val) if val is not None else None
    val_poses = None
    if va_ds is not None:
        va_ds = subsample_dataset(va_ds, cfg.data.max_val_poses, seed + 1)
        val_poses = to_poses3d(va_ds, norm)
    return train_poses, val_poses, norm, units


def train_cli(args) -> TrainResult:
    """``train`` subcommand."""
    from .config import load_config

    overrides = {"seed": args.seed} if args.seed is not None else None
    cfg = load_config(args.config, overrides)  # fails here, before any data is read
    created = not D.is_initialized()
    info = D.init_distributed(device=args.device)  # torchrun's process group, or one process
    try:
        train_poses, val_poses, norm, units = prepare_training_data(cfg, args.data, args.val)
        src = "synthetic" if args.data is None else args.data
        if info.is_main:
            print(f"training {cfg.variant} ({cfg.objective}) on {len(train_poses)} poses from {src}"
                  + (f", validating on {len(val_poses)} poses" if val_poses is not None else "")
                  + (f", {info.world_size} processes ({info.backend})" if info.distributed else ""),
                  file=sys.stderr)
        res = train(cfg, args.out, train_poses, norm, units, val_poses if info.is_main else None,
                    resume=args.resume, progress=not args.no_progress, device=info.device)
        if info.is_main:
            best = (f", best validation P-MPJPE {res.best_p_mpjpe:.1f} mm"
                    if res.best_p_mpjpe is not None else "")
            print(f"done: {res.epochs_done} epochs, {res.steps_done} steps{best}; checkpoints "
                  f"{res.last} and {res.best}")
    finally:
        if created:
            D.destroy_distributed()
    return res
