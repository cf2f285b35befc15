"""Pose reconstruction losses: mean per-joint Euclidean distance (``L_2D``, ``L_3D``) and the pose
filling loss ``L_pf`` (METHOD.md §2-3)."""

from __future__ import annotations

from typing import Optional

import torch

from .._validation import check_float, check_nonempty, check_same_shape, check_shape

_REDUCTIONS = ("mean", "none")
_FILL_ON = ("masked", "all")


def _check_mask(mask: torch.Tensor, points: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool and not mask.is_floating_point():
        raise TypeError(f"{name}: expected a bool or floating-point tensor, got dtype {mask.dtype}")
    if mask.shape != points.shape[:-1]:
        raise ValueError(
            f"{name}: expected shape {tuple(points.shape[:-1])} (the poses without their last "
            f"dimension), got {tuple(mask.shape)}"
        )
    return mask


def pose_l2_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: Optional[torch.Tensor] = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Mean per-joint Euclidean distance ``mean_i |pred_i - target_i|`` (not squared).

    ``L_2D = pose_l2_loss(Ĵ2D, J2D)`` and ``L_3D = pose_l2_loss(ĴR3D, T(J3D))`` of the baseline
    (METHOD.md §2 step 6), in the units of the inputs. Works for any point dimension ``C``.

    Args:
        pred: ``(..., J, C)``.
        target: ``(..., J, C)``, same shape.
        mask: optional ``(..., J)``: bool (joints to count) or float weights. With a bool mask the
            unselected joints are never read (they may hold NaN). ``"mean"`` is then
            ``sum(w d) / sum(w)``, and ``0`` (still connected to the graph, zero gradient, no NaN)
            when no joint is selected.
        reduction: ``"mean"`` (a scalar over every joint and sample) or ``"none"`` (the per-joint
            distances ``(..., J)``, multiplied by the mask when given).

    Returns:
        A scalar, or ``(..., J)`` for ``reduction="none"``.
    """
    check_float(pred, "pred")
    check_float(target, "target")
    check_shape(pred, "pred", (None, None))
    check_same_shape(pred, target, "pred", "target")
    check_nonempty(pred, "pred")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
    diff = pred - target
    if mask is None:
        dist = torch.linalg.vector_norm(diff, dim=-1)
        return dist if reduction == "none" else dist.mean()
    _check_mask(mask, pred, "mask")
    if mask.dtype == torch.bool:
        diff = torch.where(mask[..., None], diff, torch.zeros_like(diff))
        weight = mask.to(pred.dtype)
    else:
        weight = mask.to(pred.dtype)
    dist = torch.linalg.vector_norm(diff, dim=-1) * weight
    if reduction == "none":
        return dist
    total = weight.sum()
    return dist.sum() / torch.where(total > 0, total, torch.ones_like(total))


def filling_loss(
    filled: torch.Tensor,
    complete: torch.Tensor,
    visible: torch.Tensor,
    on: str = "masked",
) -> torch.Tensor:
    """Pose filling loss ``L_pf``: mean per-joint distance between filled and complete 2D poses.

    The paper's formula is lost; this is our choice (METHOD.md §3): the mean per-joint Euclidean
    distance on the masked (missing) joints (``on="masked"``, default) or on all joints
    (``on="all"``). With ``on="masked"`` and no joint masked in the whole batch the loss is ``0``
    with a zero gradient (no NaN).

    Pass :attr:`~skelcl.models.FillingOutput.raw` as ``filled`` for ``on="all"`` (the fused output
    equals the input on visible joints, so it would only dilute the mean); for ``on="masked"``
    either output gives the same value with binary visibility.

    Args:
        filled: ``(..., J, 2)`` completed poses.
        complete: ``(..., J, 2)`` ground-truth complete poses (before masking).
        visible: ``(..., J)`` bool, ``True`` where the joint was given to the filling network.
        on: ``"masked"`` or ``"all"``.

    Returns:
        A scalar.
    """
    if on not in _FILL_ON:
        raise ValueError(f"on: expected one of {_FILL_ON}, got {on!r}")
    check_float(filled, "filled")
    check_shape(filled, "filled", (None, None))
    _check_mask(visible, filled, "visible")
    if visible.dtype != torch.bool:
        raise TypeError(f"visible: expected a bool tensor, got dtype {visible.dtype}")
    if on == "all":
        return pose_l2_loss(filled, complete)
    return pose_l2_loss(filled, complete, mask=~visible)


__all__ = ["pose_l2_loss", "filling_loss"]
