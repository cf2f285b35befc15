"""PCK3D and its area under the curve (AUC), as MPI-INF-3DHP results are reported.

Errors are root-aligned joint distances (no Procrustes), as in the MPI-INF-3DHP evaluation
code that lifting papers use. A joint counts as correct when its error is *strictly below* the
threshold. Results are fractions in ``[0, 1]`` (multiply by 100 for the percentages of papers).
Masks, ``reduction`` and input checks behave as in :mod:`skelcl.metrics.errors`.
"""

from __future__ import annotations

from typing import Optional, Sequence, Union

import torch

from .._validation import TensorLike, check_positive
from ._inputs import prepare, reduce_joints, root_align, safe_norm

__all__ = ["pck3d", "auc", "DEFAULT_AUC_THRESHOLDS"]

#: Thresholds of :func:`auc`: 0, 5, ..., 150 (31 values, in the input's units, normally mm).
DEFAULT_AUC_THRESHOLDS: tuple[float, ...] = tuple(float(x) for x in range(0, 151, 5))


def pck3d(
    pred: TensorLike, target: TensorLike, mask: Optional[TensorLike] = None,
    reduction: str = "mean", *, threshold: float = 150.0, root_index: Optional[int] = 0,
) -> torch.Tensor:
    """Fraction of (selected) joints whose root-aligned error is below ``threshold``.

    Args:
        pred: ``(..., J, 3)`` predicted joints.
        target: ``(..., J, 3)`` ground-truth joints.
        mask: Optional bool ``(..., J)`` joints to evaluate.
        reduction: ``"mean"`` or ``"none"`` (per pose).
        threshold: Distance threshold in input units (default 150, i.e. 150 mm).
        root_index: Root joint for the alignment, or ``None``.

    Returns:
        Fraction in ``[0, 1]``.
    """
    check_positive(threshold, "threshold")
    p, t, m = prepare(pred, target, mask, reduction)
    p, t = root_align(p, t, root_index)
    correct = (safe_norm(p - t) < threshold).to(p.dtype)
    return reduce_joints(correct, m, reduction)


def auc(
    pred: TensorLike, target: TensorLike, mask: Optional[TensorLike] = None,
    reduction: str = "mean", *, thresholds: Optional[Union[Sequence[float], torch.Tensor]] = None,
    root_index: Optional[int] = 0,
) -> torch.Tensor:
    """Area under the PCK curve: PCK averaged over ``thresholds`` (default 0, 5, ..., 150).

    This is the mean of :func:`pck3d` over the 31 thresholds of the MPI-INF-3DHP evaluation
    (``0:5:150`` mm), not a trapezoid integral.

    Args:
        pred: ``(..., J, 3)`` predicted joints.
        target: ``(..., J, 3)`` ground-truth joints.
        mask: Optional bool ``(..., J)`` joints to evaluate.
        reduction: ``"mean"`` or ``"none"`` (per pose).
        thresholds: Non-empty, finite, non-negative thresholds in input units.
        root_index: Root joint for the alignment, or ``None``.

    Returns:
        Fraction in ``[0, 1]``.
    """
    p, t, m = prepare(pred, target, mask, reduction)
    th = torch.as_tensor(DEFAULT_AUC_THRESHOLDS if thresholds is None else thresholds,
                         dtype=p.dtype, device=p.device)
    if th.ndim != 1 or th.numel() == 0 or not bool(torch.isfinite(th).all()) or bool(
            (th < 0).any()):
        raise ValueError("thresholds: expected a non-empty 1-D sequence of finite values >= 0, "
                         f"got {thresholds!r}")
    p, t = root_align(p, t, root_index)
    err = safe_norm(p - t)  # (..., J)
    correct = (err[..., None] < th).to(p.dtype).mean(dim=-1)  # fraction of thresholds
    return reduce_joints(correct, m, reduction)
