"""Batched similarity Procrustes alignment and the least-squares optimal scale.

Procrustes follows Umeyama (1991), "Least-squares estimation of transformation parameters
between two point patterns", with the reflection fix (a rotation, never a mirror), solved with
``torch.linalg.svd`` on ``(..., 3, 3)`` matrices: no Python loop over poses.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch

from .._validation import TensorLike
from ._inputs import prepare

__all__ = ["Similarity", "procrustes_transform", "procrustes_align", "optimal_scale"]


class Similarity(NamedTuple):
    """A similarity transform ``x ↦ scale · R x + translation`` (points as rows:
    ``aligned = scale[..., None, None] * pred @ rotation.mT + translation[..., None, :]``)."""

    #: ``(..., 3, 3)`` rotation matrix (det +1).
    rotation: torch.Tensor
    #: ``(...)`` scale factor (``>= 0`` from Procrustes).
    scale: torch.Tensor
    #: ``(..., 3)`` translation.
    translation: torch.Tensor

    def apply(self, points: torch.Tensor) -> torch.Tensor:
        """Transform ``points (..., J, 3)``."""
        return (self.scale[..., None, None] * points @ self.rotation.mT
                + self.translation[..., None, :])


def _weights(p: torch.Tensor, mask: Optional[torch.Tensor]) -> torch.Tensor:
    if mask is None:
        return torch.ones(p.shape[:-1], dtype=p.dtype, device=p.device)
    return mask.to(p.dtype)


def _procrustes(p: torch.Tensor, t: torch.Tensor, w: torch.Tensor, scale: bool) -> Similarity:
    n = w.sum(dim=-1, keepdim=True).clamp_min(1.0)  # (..., 1); 0 only if nothing is selected
    mu_p = torch.einsum("...j,...jc->...c", w, p) / n
    mu_t = torch.einsum("...j,...jc->...c", w, t) / n
    p0 = p - mu_p[..., None, :]
    t0 = t - mu_t[..., None, :]
    # Cross-covariance M = sum_j w_j t0_j p0_j^T; the best rotation maximises tr(R^T M).
    m = torch.einsum("...j,...jc,...jd->...cd", w, t0, p0)
    var_p = torch.einsum("...j,...jc->...", w, p0 * p0)
    var_t = torch.einsum("...j,...jc->...", w, t0 * t0)
    # Degenerate pose (all selected joints of pred or of target coincide, or none selected):
    # M = 0 and the optimal scale is 0. The SVD of 0 has no defined gradient, so such poses get
    # the SVD of the identity instead (rotation I) behind a where(), which keeps NaN gradients
    # out of every pose.
    degenerate = (var_p <= 0) | (var_t <= 0)
    eye = torch.eye(3, dtype=p.dtype, device=p.device).expand_as(m)
    u, s, vh = torch.linalg.svd(torch.where(degenerate[..., None, None], eye, m))
    det = torch.linalg.det(u @ vh)
    # d = -1 flips the weakest axis when U V^T is a reflection; det == 0 cannot happen for
    # orthogonal U, V but where() keeps d in {-1, +1} regardless.
    d = torch.where(det < 0, -torch.ones_like(det), torch.ones_like(det))
    diag = torch.stack([torch.ones_like(d), torch.ones_like(d), d], dim=-1)
    rot = u @ (diag[..., :, None] * vh)
    if scale:
        sc = (s * diag).sum(dim=-1) / torch.where(degenerate, torch.ones_like(var_p), var_p)
        sc = torch.where(degenerate, torch.zeros_like(sc), sc)
    else:
        sc = torch.ones_like(d)
    trans = mu_t - sc[..., None] * torch.einsum("...cd,...d->...c", rot, mu_p)
    return Similarity(rot, sc, trans)


def procrustes_transform(
    pred: TensorLike, target: TensorLike, mask: Optional[TensorLike] = None, *,
    scale: bool = True,
) -> Similarity:
    """Least-squares similarity (rotation, translation, optional scale) mapping ``pred`` onto
    ``target``.

    Minimises ``sum_j mask_j |s R pred_j + t - target_j|^2`` over rotations ``R`` (det +1:
    reflections are excluded by flipping the sign of the smallest singular direction when
    ``det(U V^T) < 0``), ``s >= 0`` (if ``scale``) and ``t``.

    Degenerate inputs (documented convention): if the selected joints of ``pred`` all coincide
    the optimal scale is 0 and the aligned pose collapses onto the centroid of ``target``; if
    those of ``target`` all coincide the cross-covariance is 0 and so is the scale (exact
    alignment, error 0). The rotation is then the identity and the gradient is finite (zero
    through the collapsed pose). A pose with no selected joint is treated the same way.

    Args:
        pred: ``(..., J, 3)`` points to align (numpy or torch; any units).
        target: ``(..., J, 3)`` reference points.
        mask: Optional bool ``(..., J)`` (or broadcastable): only selected joints define the
            transform. A pose with no selected joint gets an arbitrary transform.
        scale: Fit the scale (similarity) or keep it 1 (rigid).

    Returns:
        :class:`Similarity` with ``rotation (..., 3, 3)``, ``scale (...)``,
        ``translation (..., 3)`` in the computation dtype (at least float32).

    Note:
        Gradients flow through ``torch.linalg.svd``; they are finite for generic poses, planar
        poses and the degenerate cases above, but not where the cross-covariance has repeated
        non-zero singular values (e.g. collinear poses), where the rotation is not unique.
    """
    p, t, m = prepare(pred, target, mask, "mean")
    return _procrustes(p, t, _weights(p, m), scale)


def procrustes_align(
    pred: TensorLike, target: TensorLike, mask: Optional[TensorLike] = None, *,
    scale: bool = True,
) -> torch.Tensor:
    """``pred`` after the optimal similarity onto ``target`` (see :func:`procrustes_transform`).

    Returns:
        ``(..., J, 3)`` aligned prediction (all joints are transformed, also masked-out ones).
    """
    p, t, m = prepare(pred, target, mask, "mean")
    return _procrustes(p, t, _weights(p, m), scale).apply(p)


def _optimal_scale(p: torch.Tensor, t: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    num = torch.einsum("...j,...jc->...", w, p * t)
    den = torch.einsum("...j,...jc->...", w, p * p)
    return num / den.clamp_min(torch.finfo(p.dtype).tiny)


def optimal_scale(
    pred: TensorLike, target: TensorLike, mask: Optional[TensorLike] = None
) -> torch.Tensor:
    """Least-squares scale ``s = argmin sum_j mask_j |s pred_j - target_j|^2``.

    ``s = sum <pred_j, target_j> / sum |pred_j|^2`` over the selected joints, about the origin
    (root-align the poses first for N-MPJPE). An all-zero ``pred`` gets ``s = 0``.

    Args:
        pred: ``(..., J, 3)`` points.
        target: ``(..., J, 3)`` points.
        mask: Optional bool ``(..., J)`` selecting the joints that define the scale.

    Returns:
        ``(...)`` scale (may be negative if the poses point in opposite directions).
    """
    p, t, m = prepare(pred, target, mask, "mean")
    return _optimal_scale(p, t, _weights(p, m))
