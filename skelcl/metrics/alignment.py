"""Batched similarity Procrustes alignment and the least-squares optimal scale.

Procrustes follows Umeyama (1991), "Least-squares estimation of transformation parameters
between two point patterns", with the reflection fix (a rotation, never a mirror), solved with
``torch.linalg.svd`` on ``(..., 3, 3)`` matrices: no Python loop over poses. P-MPJPE uses an
SVD-free solver by default (Horn's quaternion method, elementwise; see ``_horn_rotation``) with
this SVD path as the exact fallback and reference.
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


# --------------------------------------------------------------------------- fast (SVD-free) path
#
# Horn (1987), "Closed-form solution of absolute orientation using unit quaternions": the
# rotation maximising tr(R^T M) over SO(3) (reflections excluded by construction) is the
# quaternion of the largest eigenvalue of a traceless symmetric 4x4 matrix K(M), and that
# eigenvalue equals sigma_1 + sigma_2 + d sigma_3 (d = sign det M), i.e. the numerator of the
# optimal scale. As in Theobald's QCP (Acta Cryst. A 2005; Liu et al., J. Comput. Chem. 2010)
# the eigenvalue is found by Newton's method on the characteristic quartic from an upper bound
# (monotone convergence: the quartic is real-rooted) and the eigenvector is a column of
# adj(K - lambda I). Everything is elementwise on (B,) float64 tensors: no LAPACK,
# no host synchronisation inside the solver.

_NEWTON_STEPS = 10
# Rows are recomputed with the exact SVD path when (M scaled to |M|_F = 1) the selected
# adjugate diagonal entry prod_{i>1} (lam_1 - lam_i) q_k^2 is below _ADJ_TOL (a small eigen-gap:
# there the quartic's root is only accurate to ~sqrt(eps) and the eigenvector is ill-conditioned;
# 1e-4 keeps the rotation error of accepted rows ~1e-8) or when the last Newton step exceeds
# _NEWTON_TOL. 10 steps from the Cauchy-Schwarz bound converge for well-fitting poses (the
# benchmark: no fallback) and leave ~0.3% of random, unrelated poses and ~2% of mirrored ones
# (reflection needed, smaller gap) to the SVD path.
_ADJ_TOL = 1e-4
_NEWTON_TOL = 1e-9

# adj(A) of a 4x4 A (flattened row-major, a_ij = A[4 i + j]) from 2x2 minors (Laplace
# expansion in complementary minors): s_k from rows 0, 1 and c_k from rows 2, 3.
_S_PAIRS = ((0, 5, 4, 1), (0, 6, 4, 2), (0, 7, 4, 3), (1, 6, 5, 2), (1, 7, 5, 3), (2, 7, 6, 3))
_C_PAIRS = ((8, 13, 12, 9), (8, 14, 12, 10), (8, 15, 12, 11), (9, 14, 13, 10), (9, 15, 13, 11),
            (10, 15, 14, 11))
# b_ij = sum over three terms sign * a[idx] * minor[idx]; minors indexed 0..5 = s0..s5, 6..11 = c0..c5
_ADJ_TERMS = (
    ((1, 5, 11), (-1, 6, 10), (1, 7, 9)),      # b00 = a11 c5 - a12 c4 + a13 c3
    ((-1, 1, 11), (1, 2, 10), (-1, 3, 9)),     # b01
    ((1, 13, 5), (-1, 14, 4), (1, 15, 3)),     # b02
    ((-1, 9, 5), (1, 10, 4), (-1, 11, 3)),     # b03
    ((-1, 4, 11), (1, 6, 8), (-1, 7, 7)),      # b10
    ((1, 0, 11), (-1, 2, 8), (1, 3, 7)),       # b11
    ((-1, 12, 5), (1, 14, 2), (-1, 15, 1)),    # b12
    ((1, 8, 5), (-1, 10, 2), (1, 11, 1)),      # b13
    ((1, 4, 10), (-1, 5, 8), (1, 7, 6)),       # b20
    ((-1, 0, 10), (1, 1, 8), (-1, 3, 6)),      # b21
    ((1, 12, 4), (-1, 13, 2), (1, 15, 0)),     # b22
    ((-1, 8, 4), (1, 9, 2), (-1, 11, 0)),      # b23
    ((-1, 4, 9), (1, 5, 7), (-1, 6, 6)),       # b30
    ((1, 0, 9), (-1, 1, 7), (1, 2, 6)),        # b31
    ((-1, 12, 3), (1, 13, 1), (-1, 14, 0)),    # b32
    ((1, 8, 3), (-1, 9, 1), (1, 10, 0)),       # b33
)


_UPPER = (0, 1, 2, 3, 5, 6, 7, 10, 11, 15)  # row-major indices of the upper triangle of 4x4


def _adjugate4_sym(a: list[torch.Tensor]) -> list[torch.Tensor]:
    """Adjugate of symmetric 4x4 matrices given as 16 row-major entries (each ``(B,)``).

    Returns the 16 row-major entries of the (symmetric) adjugate; only the upper triangle is
    computed.
    """
    minors = [a[i] * a[j] - a[k] * a[m] for i, j, k, m in _S_PAIRS + _C_PAIRS]
    out: list[Optional[torch.Tensor]] = [None] * 16
    for e in _UPPER:
        (s0, a0, m0), (s1, a1, m1), (s2, a2, m2) = _ADJ_TERMS[e]
        v = a[a0] * minors[m0]
        v = v + a[a1] * minors[m1] if s1 == s0 else v - a[a1] * minors[m1]
        v = v + a[a2] * minors[m2] if s2 == s0 else v - a[a2] * minors[m2]
        out[e] = v if s0 > 0 else -v
        out[4 * (e % 4) + e // 4] = out[e]
    return out  # type: ignore[return-value]


def _horn_rotation(
    m: torch.Tensor, bound: Optional[torch.Tensor] = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Optimal rotation of cross-covariances ``m (B, 3, 3)`` (any float dtype; computed in float64).

    Returns ``(rotation (B, 3, 3) float64, trace (B,) float64 = max tr(R^T M) over SO(3),
    ok (B,) bool)``; rows with ``ok == False`` are not to be trusted (near-repeated largest
    eigenvalue of Horn's matrix, i.e. a non-unique or ill-conditioned optimum, or a Newton
    iteration that has not converged). ``bound`` (``(B,)``, optional) is an extra upper bound of
    that trace, e.g. ``sqrt(var_p var_t)`` (Cauchy-Schwarz), which is tight for well-fitting
    poses and saves Newton steps.
    """
    b = m.shape[0]
    # components as contiguous rows (fast elementwise kernels): S_ab = M_ba = sum_j p_a t_b
    rows = m.to(torch.float64).reshape(b, 9).T.contiguous().view(3, 3, b)  # rows[c, d] = M_cd
    # work on M / |M|_F (no under/overflow in the quartic, tolerances relative to 1)
    scale = torch.sqrt((rows * rows).sum(dim=(0, 1)))
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    rows = rows / safe
    sxx, syx, szx, sxy, syy, szy, sxz, syz, szz = rows.view(9, b).unbind(0)
    # characteristic polynomial lambda^4 + c2 lambda^2 + c1 lambda + c0 (K is traceless); its
    # roots are the sums +-s1 +-s2 +-s3 with an even number of minus signs (s3 signed by det M):
    # c2 = -2 |M|^2, c1 = -8 det M, c0 = |M|^4 - 4 |cof M|^2.
    cof = torch.linalg.cross(rows[[1, 2, 0]], rows[[2, 0, 1]], dim=1)  # cofactor rows
    det = (rows[0] * cof[0]).sum(dim=0)
    c2 = -2.0  # -2 |M|^2 with |M| = 1 (0 for M = 0: the row is flagged below)
    c1 = -8.0 * det
    c0 = 1.0 - 4.0 * (cof * cof).sum(dim=(0, 1))
    # upper bound of the largest root: sigma_1 + sigma_2 + sigma_3 <= sqrt(3) |M|_F
    lam = torch.full_like(scale, 3.0 ** 0.5)
    if bound is not None:
        lam = torch.minimum(lam, bound.to(torch.float64) / safe)
    step = lam
    c2x2 = 2.0 * c2
    for _ in range(_NEWTON_STEPS):
        l2 = lam * lam
        p = torch.addcmul((l2 + c2) * l2 + c0, c1, lam)
        dp = torch.addcmul(c1, 4.0 * l2 + c2x2, lam)
        step = p / torch.where(dp > 0, dp, torch.ones_like(dp))
        lam = lam - step
    a1, a2, a3 = syz - szy, szx - sxz, sxy - syx
    b1, b2, b3 = sxy + syx, szx + sxz, syz + szy
    kl = [sxx + syy + szz - lam, a1, a2, a3,
          a1, sxx - syy - szz - lam, b1, b2,
          a2, b1, syy - sxx - szz - lam, b3,
          a3, b2, b3, szz - sxx - syy - lam]  # Horn's symmetric 4x4 matrix K - lam I
    # adj(K - lam I) = prod_{i>1} (lam_i - lam) q q^T is negative semi-definite: its most
    # negative diagonal entry selects the best-conditioned column (proportional to q)
    adj = _adjugate4_sym(kl)
    q = torch.stack(adj[0:4])
    qn2 = adj[0]
    for col in (1, 2, 3):
        d = adj[5 * col]
        better = d < qn2
        qn2 = torch.where(better, d, qn2)
        q = torch.where(better, torch.stack(adj[4 * col:4 * col + 4]), q)
    qn2 = -qn2
    ok = (qn2 > _ADJ_TOL) & (step.abs() <= _NEWTON_TOL) & (scale > 0)
    qq = (q * q).sum(dim=0)
    # where() before sqrt: rows that are not ok (possibly q = 0) get no NaN gradient
    q = q / torch.sqrt(torch.where(ok, qq, torch.ones_like(qq)))
    w, x, y, z = q.unbind(0)
    ww, xx, yy, zz = w * w, x * x, y * y, z * z
    xy, xz, yz, wx, wy, wz = x * y, x * z, y * z, w * x, w * y, w * z
    rot = torch.stack([
        ww + xx - yy - zz, 2 * (xy - wz), 2 * (xz + wy),
        2 * (xy + wz), ww - xx + yy - zz, 2 * (yz - wx),
        2 * (xz - wy), 2 * (yz + wx), ww - xx - yy + zz,
    ]).T.reshape(b, 3, 3)
    return rot, lam * safe, ok


def _aligned_residuals(p: torch.Tensor, t: torch.Tensor, w: Optional[torch.Tensor]) -> torch.Tensor:
    """``aligned - t`` of the optimal similarity, ``(..., J, 3)``, via the SVD-free rotation.

    Same result as ``_procrustes(p, t, w, True).apply(p) - t`` up to floating-point rounding
    (``w = None``: all joints weigh 1; else ``w (..., J)`` weights). The rotation is Horn's (see
    :func:`_horn_rotation`); rows it flags (a near-repeated largest eigenvalue of Horn's matrix,
    e.g. collinear poses or a reflection with ``sigma_2 ~ sigma_3``, or a Newton iteration that
    has not converged, e.g. some very badly fitting poses) are recomputed by the exact SVD path
    :func:`_procrustes` on those rows only. Deciding whether any row needs it is one
    data-dependent branch (a host synchronisation) per call: acceptable for a metric, not meant
    for a training hot path. Degenerate rows follow :func:`_procrustes` (rotation I, scale 0).
    """
    shape = p.shape
    j = shape[-2]
    p = p.reshape(-1, j, 3)
    t = t.reshape(-1, j, 3)
    if w is None:
        mu_p = p.sum(dim=-2) / j
        mu_t = t.sum(dim=-2) / j
        p0 = p - mu_p[:, None, :]
        t0 = t - mu_t[:, None, :]
        flat_p, flat_t = p0.reshape(p0.shape[0], -1), t0.reshape(t0.shape[0], -1)
        var_p = torch.einsum("bi,bi->b", flat_p, flat_p)
        var_t = torch.einsum("bi,bi->b", flat_t, flat_t)
        tw = t0
    else:
        w = w.reshape(-1, j)
        n = w.sum(dim=-1, keepdim=True).clamp_min(1.0)
        mu_p = torch.bmm(w[:, None, :], p).squeeze(1) / n
        mu_t = torch.bmm(w[:, None, :], t).squeeze(1) / n
        p0 = p - mu_p[:, None, :]
        t0 = t - mu_t[:, None, :]
        tw = t0 * w[..., None]
        var_p = torch.einsum("bj,bjc,bjc->b", w, p0, p0)
        var_t = torch.einsum("bjc,bjc->b", tw, t0)
    m = torch.bmm(tw.mT, p0)  # (B, 3, 3): sum_j w_j t0_j p0_j^T
    degenerate = (var_p <= 0) | (var_t <= 0)
    # degenerate rows solve for the identity instead (rotation I, scale 0 below), which keeps
    # NaN gradients out, as in _procrustes
    eye = torch.eye(3, dtype=m.dtype, device=m.device).expand_as(m)
    vp64 = var_p.to(torch.float64)
    # Cauchy-Schwarz: trace <= |p0| |t0|; where() before sqrt keeps NaN gradients out
    bound = torch.sqrt(torch.where(degenerate, torch.full_like(vp64, 9.0),
                                   vp64 * var_t.to(torch.float64)))
    rot, trace, ok = _horn_rotation(torch.where(degenerate[:, None, None], eye, m), bound)
    sc = trace / torch.where(degenerate, torch.ones_like(vp64), vp64)
    sc = torch.where(degenerate, torch.zeros_like(sc), sc)
    coef = (sc[:, None, None] * rot).to(p.dtype)
    redo = ~ok & ~degenerate
    if bool(redo.any()):
        idx = redo.nonzero().squeeze(1)
        ref = _procrustes(p[idx], t[idx], torch.ones_like(p[idx, :, 0]) if w is None else w[idx],
                          True)
        coef = coef.index_copy(0, idx, ref.scale[:, None, None] * ref.rotation)
    res = torch.bmm(p0, coef.mT).sub_(t0)  # s R p0_j - t0_j
    return res.reshape(shape)
