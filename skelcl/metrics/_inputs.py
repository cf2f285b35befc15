"""Shared argument handling of the metrics (private)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch

from .._validation import TensorLike, as_tensor, check_finite, check_nonempty, check_same_shape

REDUCTIONS = ("mean", "none")


def prepare(
    pred: TensorLike, target: TensorLike, mask: Optional[TensorLike], reduction: str,
    dims: int = 3, finite: bool = True,
) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
    """Validate ``(pred, target, mask, reduction)``; return float tensors and a bool mask.

    Computation dtype: the promoted dtype of ``pred`` and ``target``, at least float32
    (float16/bfloat16 are upcast). ``mask`` is broadcast to ``pred.shape[:-1]``.
    ``finite=False`` skips the NaN/inf check (two passes over the data): the caller must then
    make it itself (``check_finite(p, "pred")``, ``check_finite(t, "target")``).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    p = as_tensor(pred, "pred")
    t = as_tensor(target, "target")
    if p.ndim < 2 or p.shape[-1] != dims:
        raise ValueError(f"pred: expected shape (..., J, {dims}), got {tuple(p.shape)}")
    check_same_shape(p, t, "pred", "target")
    check_nonempty(p, "pred")
    if finite:
        check_finite(p, "pred")
        check_finite(t, "target")
    dtype = torch.promote_types(p.dtype, t.dtype)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    p, t = p.to(dtype), t.to(dtype)
    m = None
    if mask is not None:
        if isinstance(mask, np.ndarray):
            mask = torch.from_numpy(mask)
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask: expected a bool torch.Tensor or numpy array, "
                            f"got {type(mask).__name__}")
        if mask.dtype != torch.bool:
            raise TypeError(f"mask: expected dtype bool (True = evaluate the joint), "
                            f"got {mask.dtype}")
        want = tuple(p.shape[:-1])
        try:
            ok = torch.broadcast_shapes(mask.shape, want) == torch.Size(want)
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(f"mask: expected shape {want} (pred without the last dim) or one "
                             f"broadcastable to it, got {tuple(mask.shape)}")
        m = mask.to(p.device).expand(want)
    return p, t, m


def root_align(p: torch.Tensor, t: torch.Tensor, root_index: Optional[int]) -> tuple[
        torch.Tensor, torch.Tensor]:
    """Subtract each pose's root joint from ``p`` and ``t`` (no-op for ``root_index=None``)."""
    if root_index is None:
        return p, t
    j = p.shape[-2]
    if isinstance(root_index, bool) or not isinstance(root_index, int) or not -j <= root_index < j:
        raise ValueError(f"root_index: expected None or an int in [{-j}, {j}), got {root_index!r}")
    return p - p[..., root_index:root_index + 1, :], t - t[..., root_index:root_index + 1, :]


def reduce_joints(
    values: torch.Tensor, mask: Optional[torch.Tensor], reduction: str
) -> torch.Tensor:
    """Average per-joint ``values (..., J)`` over the joints selected by ``mask``.

    ``"none"``: per-pose mean ``(...)`` (NaN for a pose with no selected joint). ``"mean"``: the
    mean over all selected joints of all poses (joint-weighted; equal to the mean of the
    per-pose values when every pose has the same number of selected joints); raises
    ``ValueError`` if the mask selects nothing.
    """
    if mask is None:
        return values.mean(dim=-1) if reduction == "none" else values.mean()
    w = mask.to(values.dtype)
    # where() rather than multiply: masked-out joints must not contribute, whatever their value.
    masked = torch.where(mask, values, torch.zeros_like(values))
    if reduction == "none":
        return masked.sum(dim=-1) / w.sum(dim=-1)
    total = w.sum()
    if not bool(total > 0):
        raise ValueError("mask: selects no joint at all; the metric is undefined")
    return masked.sum() / total


def safe_norm(v: torch.Tensor) -> torch.Tensor:
    """Euclidean norm over the last dim with a zero (not NaN) gradient at ``v = 0``."""
    sq = (v * v).sum(dim=-1)
    pos = sq > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, sq, torch.ones_like(sq))),
                       torch.zeros_like(sq))
