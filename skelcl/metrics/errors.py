"""Joint-position errors: MPJPE, P-MPJPE and N-MPJPE (METHOD.md §4).

All three take ``pred`` and ``target`` of shape ``(..., J, 3)`` (torch tensors or numpy arrays;
any leading batch shape), an optional bool ``mask (..., J)`` and ``reduction``:

- Units are those of the input (millimetres for the usual tables); results are tensors in the
  computation dtype (the promoted input dtype, at least float32).
- ``mask`` (``True`` = evaluate) gives the "Visible" evaluation: errors are averaged over the
  selected joints only. For P-MPJPE and N-MPJPE the alignment is *also* fitted on the selected
  joints by default (``align_visible_only=True``), so the result equals the metric computed on
  the sub-array of visible joints; pass ``False`` to fit on all joints and only *score* the
  visible ones.
- ``reduction="none"`` returns the per-pose mean ``(...)`` (NaN for a pose with no selected
  joint); ``"mean"`` returns the mean over all selected joints of all poses (joint-weighted,
  identical to the mean of per-pose values without a mask), and raises if nothing is selected.

Non-finite inputs, shape mismatches, a last dimension other than 3, empty input, a bad mask or
reduction raise ``ValueError``/``TypeError`` naming the argument.
"""

from __future__ import annotations

from typing import Optional

import torch


from .._validation import TensorLike, check_finite
from ._inputs import prepare, reduce_joints, root_align, safe_norm
from . import alignment as _alignment
from .alignment import _optimal_scale, _procrustes, _weights

__all__ = ["mpjpe", "p_mpjpe", "n_mpjpe", "joint_errors"]


def joint_errors(
    pred: TensorLike, target: TensorLike, *, root_index: Optional[int] = 0
) -> torch.Tensor:
    """Per-joint Euclidean errors ``(..., J)`` after root alignment (``None``: no alignment)."""
    p, t, _ = prepare(pred, target, None, "none")
    p, t = root_align(p, t, root_index)
    return safe_norm(p - t)


def mpjpe(
    pred: TensorLike, target: TensorLike, mask: Optional[TensorLike] = None,
    reduction: str = "mean", *, root_index: Optional[int] = 0,
) -> torch.Tensor:
    """Mean per-joint position error after root alignment.

    Both poses are translated so that joint ``root_index`` is at the origin (``None``: compare
    the raw coordinates), then the Euclidean distances of the (selected) joints are averaged.
    The root is used for the alignment even when the mask deselects it.

    Args:
        pred: ``(..., J, 3)`` predicted joints.
        target: ``(..., J, 3)`` ground-truth joints.
        mask: Optional bool ``(..., J)`` (or broadcastable) joints to evaluate.
        reduction: ``"mean"`` (scalar) or ``"none"`` (per pose, shape ``(...)``).
        root_index: Root joint for the alignment (H36M-17: 0, the pelvis), or ``None``.

    Returns:
        Error in input units.
    """
    p, t, m = prepare(pred, target, mask, reduction)
    p, t = root_align(p, t, root_index)
    return reduce_joints(safe_norm(p - t), m, reduction)


def p_mpjpe(
    pred: TensorLike, target: TensorLike, mask: Optional[TensorLike] = None,
    reduction: str = "mean", *, align_visible_only: bool = True, method: str = "auto",
) -> torch.Tensor:
    """MPJPE after similarity Procrustes alignment (rotation, translation, scale; no reflection).

    Each predicted pose is aligned to its target with the least-squares similarity of
    :func:`~skelcl.metrics.procrustes_transform`, then MPJPE is computed without further root
    alignment. Degenerate poses follow that function's convention (a collapsed prediction
    scores the target's mean distance to its centroid; a collapsed target scores 0).

    ``method="auto"`` (default) finds the rotation without an SVD: Horn's unit-quaternion
    solution (1987) with the largest eigenvalue of his 4x4 matrix found by Newton's method on
    its characteristic polynomial (as in Theobald's QCP, 2005), all elementwise in float64
    (the 3x3 statistics and the per-joint errors in the computation dtype), several times
    faster than batched LAPACK on the CPU. Poses whose optimum is ill-conditioned or not unique
    (nearly repeated singular values, e.g. collinear joints) or whose iteration has not
    converged are recomputed by the exact SVD path; checking for them costs one host
    synchronisation per call (per chunk of about 15,000 poses on the CPU without autograd,
    where the poses are processed in chunks to stay in cache). Below 128 poses the batched SVD
    is used directly (it has fewer kernels to launch). Results equal ``method="svd"`` (the
    batched-SVD reference) to floating-point rounding, gradients included.

    Args:
        pred: ``(..., J, 3)`` predicted joints.
        target: ``(..., J, 3)`` ground-truth joints.
        mask: Optional bool ``(..., J)`` joints to evaluate.
        reduction: ``"mean"`` or ``"none"``.
        align_visible_only: Fit the alignment on the masked-in joints only (default) or on all.
        method: ``"auto"`` (SVD-free rotation, exact SVD fallback) or ``"svd"`` (batched SVD).

    Returns:
        Error in input units.
    """
    if method not in ("auto", "svd"):
        raise ValueError(f"method: expected 'auto' or 'svd', got {method!r}")
    p, t, m = prepare(pred, target, mask, reduction, finite=False)
    if method == "auto" and p.numel() // (3 * p.shape[-2]) >= _alignment._SMALL_BATCH:
        # checks for NaN/inf itself (for free on the CPU: from the centroids it computes anyway)
        return _alignment._p_mpjpe_fast(p, t, m, align_visible_only, reduction)
    check_finite(p, "pred")
    check_finite(t, "target")
    w = m if align_visible_only else None
    aligned = _procrustes(p, t, _weights(p, w), scale=True).apply(p)
    return reduce_joints(safe_norm(aligned - t), m, reduction)


def n_mpjpe(
    pred: TensorLike, target: TensorLike, mask: Optional[TensorLike] = None,
    reduction: str = "mean", *, root_index: Optional[int] = 0, align_visible_only: bool = True,
) -> torch.Tensor:
    """MPJPE after root alignment and the least-squares optimal scale of the prediction.

    Follows Rhodin et al. (CVPR 2018) and VideoPose3D's ``n_mpjpe``: ``s = sum <p_j, t_j> /
    sum |p_j|^2`` on root-aligned poses, then MPJPE of ``s p`` against ``t``. The scale is not
    clamped: it is negative for a prediction pointing away from the target, and then N-MPJPE
    can fall below P-MPJPE (whose rotations cannot mirror). For sensible predictions
    ``P-MPJPE <= N-MPJPE <= MPJPE``; this ordering is exact for the root-mean-square errors the
    alignments minimise, not guaranteed for the mean of norms reported here.

    Args:
        pred: ``(..., J, 3)`` predicted joints.
        target: ``(..., J, 3)`` ground-truth joints.
        mask: Optional bool ``(..., J)`` joints to evaluate.
        reduction: ``"mean"`` or ``"none"``.
        root_index: Root joint for the alignment, or ``None``.
        align_visible_only: Fit the scale on the masked-in joints only (default) or on all.

    Returns:
        Error in input units.
    """
    p, t, m = prepare(pred, target, mask, reduction)
    p, t = root_align(p, t, root_index)
    s = _optimal_scale(p, t, _weights(p, m if align_visible_only else None))
    return reduce_joints(safe_norm(s[..., None, None] * p - t), m, reduction)
