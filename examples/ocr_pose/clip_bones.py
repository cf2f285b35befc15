"""A running estimate of every training clip's bone proportions (``loss.bone_target = "clip"``).

The bone-length consistency prior (``loss.w_bone``) asks the lifts of one person to agree on the
person's bone proportions. Its default form (``"pair"``) compares each lifted pose with the lift
of one other pose of its clip, drawn at random: a second lift per pose, and a noisy target. This
module holds the alternative: one estimate per clip, shared by all the clip's poses, of the
relative bone lengths (:func:`skelcl.losses.relative_bone_lengths`) of its lifted poses. After
every backbone update the batch's detached lifts update their clips' estimates with an
exponential moving average, bias-corrected as Adam's moment estimates are (Kingma & Ba, ICLR
2015): with momentum ``m`` the estimate is ``s / w``, where ``s <- (1 - m) s + m x`` and
``w <- (1 - m) w + m`` for the clips and bones the batch observes (``x`` their batch mean), so the
first observation is taken as it is and older ones fade geometrically. A running per-identity
target of this kind is the shape of a class-centre or memory-bank estimate (e.g. Wu et al.,
CVPR 2018); using it for bone proportions in OCR-Pose is our choice.

Conventions: ``clip`` indices are rows of the training data (``(b,)`` long); bones are those of
:meth:`skelcl.skeleton.Skeleton.bones` for the H36M-17 layout (``J - 1 = 16``); a bone is observed
in a pose when both its joints are in the data (``data_visible``). Under ``torchrun`` every rank
holds the whole estimate and the batch sums are added over the ranks, so the estimates stay
identical everywhere.
"""

from __future__ import annotations

from typing import Dict, Tuple

import torch

from skelcl.skeleton.layouts import H36M17

from . import distributed as D

__all__ = ["ClipBoneEstimate", "observed_bones"]

_BONES = H36M17.bones()  # (child, parent) per bone, the order of relative_bone_lengths
_CHILD = torch.tensor([c for c, _ in _BONES])
_PARENT = torch.tensor([p for _, p in _BONES])


def observed_bones(data_visible: torch.Tensor) -> torch.Tensor:
    """``(..., J)`` bool joints in the data -> ``(..., J - 1)`` bool bones with both joints in it."""
    d = data_visible.device
    return data_visible[..., _CHILD.to(d)] & data_visible[..., _PARENT.to(d)]


class ClipBoneEstimate:
    """Per-clip moving averages of lifted relative bone lengths.

    Args:
        clip: ``(N,)`` integer clip label of every training pose (any values; equal labels mean
            one person).
        momentum: weight in ``(0, 1]`` of one update's batch mean (``loss.bone_momentum``).
        dtype: dtype of the estimates (float32).

    Attributes:
        pose_clip: ``(N,)`` long, each pose's clip as an index ``0 .. C - 1``.
        multi: ``(C,)`` bool, clips with at least two poses (a clip of one pose gets no target:
            there is no other frame to agree with).
        total, weight: ``(C, J - 1)`` the bias-corrected moving average's numerator and
            normaliser (``weight`` 0: not observed yet).
    """

    def __init__(self, clip: torch.Tensor, momentum: float, dtype: torch.dtype = torch.float32) -> None:
        if not isinstance(clip, torch.Tensor) or clip.dim() != 1 or clip.is_floating_point():
            raise ValueError("clip: expected a 1-D integer tensor of clip labels, got "
                             f"{getattr(clip, 'shape', type(clip).__name__)}")
        if not 0.0 < float(momentum) <= 1.0:
            raise ValueError(f"momentum: expected a value in (0, 1], got {momentum!r}")
        _, self.pose_clip, counts = torch.unique(clip, return_inverse=True, return_counts=True)
        self.multi = counts > 1
        self.momentum = float(momentum)
        shape = (counts.numel(), len(_BONES))
        self.total = torch.zeros(shape, dtype=dtype, device=clip.device)
        self.weight = torch.zeros(shape, dtype=dtype, device=clip.device)

    def to(self, device: torch.device) -> "ClipBoneEstimate":
        """Move every tensor to ``device`` (in place); returns ``self``."""
        for name in ("pose_clip", "multi", "total", "weight"):
            setattr(self, name, getattr(self, name).to(device))
        return self

    def target(self, rows: torch.Tensor, data_visible: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The estimates for training poses ``rows`` ``(b,)`` and where they count.

        Returns:
            ``(b, J - 1)`` relative bone lengths (0 where unknown) and ``(b, J - 1)`` bool: the
            pose observes the bone, its clip has two poses or more and an estimate of the bone.
        """
        c = self.pose_clip[rows]
        w = self.weight[c]
        known = (w > 0) & self.multi[c][:, None] & observed_bones(data_visible)
        return torch.where(known, self.total[c] / w.clamp_min(torch.finfo(w.dtype).tiny),
                           torch.zeros_like(w)), known

    @torch.no_grad()
    def update(self, rows: torch.Tensor, bones: torch.Tensor, data_visible: torch.Tensor) -> None:
        """Fold this rank's lifted relative bone lengths ``bones`` ``(b, J - 1)`` of training
        poses ``rows`` ``(b,)`` into their clips' estimates (bones the data lacks do not count;
        the batch sums are added over the ranks first)."""
        c = self.pose_clip[rows]
        w = observed_bones(data_visible).to(self.total.dtype)
        sums = torch.zeros((2,) + tuple(self.total.shape), dtype=self.total.dtype, device=self.total.device)
        sums[0].index_add_(0, c, torch.where(w > 0, bones.to(w.dtype), torch.zeros_like(w)))
        sums[1].index_add_(0, c, w)
        sums = D.all_reduce_sum(sums)
        seen = sums[1] > 0
        m = self.momentum
        mean = sums[0] / sums[1].clamp_min(1.0)
        self.total = torch.where(seen, (1 - m) * self.total + m * mean, self.total)
        self.weight = torch.where(seen, (1 - m) * self.weight + m, self.weight)

    def state_dict(self) -> Dict[str, torch.Tensor]:
        """The estimates (CPU tensors; what a checkpoint keeps)."""
        return {"total": self.total.cpu(), "weight": self.weight.cpu()}

    def load_state_dict(self, state: Dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`; the clips must be the same (shape checked)."""
        for name in ("total", "weight"):
            t = state.get(name) if isinstance(state, dict) else None
            mine = getattr(self, name)
            if not isinstance(t, torch.Tensor) or t.shape != mine.shape:
                raise ValueError(f"checkpoint: clip_bones.{name}: expected a tensor of shape "
                                 f"{tuple(mine.shape)} (one row per training clip), got "
                                 f"{getattr(t, 'shape', type(t).__name__)}")
            setattr(self, name, t.to(device=mine.device, dtype=mine.dtype))
