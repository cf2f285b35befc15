"""Batched similarity Procrustes alignment and the least-squares optimal scale.

Procrustes follows Umeyama (1991), "Least-squares estimation of transformation parameters
between two point patterns", with the reflection fix (a rotation, never a mirror), solved with
``torch.linalg.svd`` on ``(..., 3, 3)`` matrices: no Python loop over poses. P-MPJPE uses an
SVD-free solver by default (Horn's quaternion method, elementwise; see ``_horn_rotation``) with
this SVD path as the exact fallback and reference.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Sequence

import torch

from .._validation import TensorLike, check_finite
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
# adj(K - lambda I). Everything is elementwise on (B,) float64 tensors, one tensor per matrix
# entry: no LAPACK, no host synchronisation inside the solver (but for the early stop of the
# chunked CPU path), and (without autograd) no torch.where, whose boolean kernels are several
# times slower than arithmetic on the CPU.

# Newton steps: at most _NEWTON_STEPS. With autograd or off the CPU all of them are taken (no
# host synchronisation inside the solver); in the chunked CPU path the iteration stops after
# _NEWTON_FIRST steps or later, as soon as every row of the chunk has converged (from the
# Cauchy-Schwarz bound, poses with errors up to a third of their spread converge in 4 or 5).
_NEWTON_STEPS = 10
_NEWTON_FIRST = 4
# Rows are recomputed with the exact SVD path when (M scaled to |M|_F = 1) the selected
# adjugate diagonal entry prod_{i>1} (lam_1 - lam_i) q_k^2 is below _ADJ_TOL (a small eigen-gap:
# there the quartic's root is only accurate to ~sqrt(eps) and the eigenvector is ill-conditioned;
# 1e-4 keeps the rotation error of accepted rows ~1e-8) or when the last Newton step exceeds
# _NEWTON_TOL. With _NEWTON_STEPS steps from the Cauchy-Schwarz bound this leaves ~0.3% of
# random, unrelated poses and ~2% of mirrored ones (reflection needed, smaller gap) to the SVD
# path, and none of the benchmark's well-fitting poses.
_ADJ_TOL = 1e-4
_NEWTON_TOL = 1e-9
# Below this many poses P-MPJPE uses the batched SVD directly: the elementwise solver is a few
# hundred small kernels, which only pay off on larger batches.
_SMALL_BATCH = 128
# Without autograd on the CPU, poses are processed in chunks of at most _CHUNK_POSES poses and
# _CHUNK_JOINTS joints: the work buffers (a few MB) are reused from chunk to chunk and stay in
# cache, and the solver's (chunk,) float64 temporaries stay below 128 KiB (glibc's default
# threshold for serving an allocation with fresh pages), instead of new memory for every
# temporary of the whole batch.
_CHUNK_POSES = 15360
_CHUNK_JOINTS = 1 << 18

_SQRT3 = 3.0 ** 0.5
_TINY = torch.finfo(torch.float64).tiny
_EYE9 = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def _msub(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
    """``a b - c d`` (elementwise)."""
    return torch.addcmul(a * b, c, d, value=-1.0)


def _horn_quaternion(
    m: Sequence[torch.Tensor], bound: Optional[torch.Tensor], steps: int, guard: bool = True,
    margin: Optional[torch.Tensor] = None, early_stop: Optional[int] = None,
) -> tuple[list[torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
    """Horn's quaternion of cross-covariances given entrywise: ``m[3c+d] = M_cd``, each ``(B,)``
    float64.

    Returns ``(q, qq, trace, ok)``: ``q`` the four ``(B,)`` components ``(w, x, y, z)`` of an
    unnormalised quaternion of the best rotation, ``qq (B,)`` its squared norm, ``trace (B,) =
    max tr(R^T M)`` over SO(3) and ``ok (B,)`` bool (see :func:`_horn_rotation`). ``bound`` is
    an optional ``(B,)`` upper bound of the trace; ``steps`` the number of Newton steps, or
    with ``early_stop`` the most of them: after ``early_stop`` steps the iteration stops as soon
    as every finite step is within the tolerance (one host synchronisation per step).

    ``guard=True`` keeps every row finite, values and gradients (``qq`` is 1 on rows that are not
    ``ok``), with ``torch.where``; ``guard=False`` (no autograd) skips the guards: rows that are
    not ``ok`` may then hold inf or NaN, rows that are ``ok`` get the same values. ``margin``
    (``(B,)``, only with ``guard=False``): rows where it is negative are not ``ok`` either.
    """
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m
    sq = m00 * m00
    for e in (m01, m02, m10, m11, m12, m20, m21, m22):
        sq = torch.addcmul(sq, e, e)
    scale = torch.sqrt(sq)
    safe = torch.where(scale > 0, scale, 1.0) if guard else scale.clamp_min(_TINY)
    # work on M / |M|_F (no under/overflow in the quartic, tolerances relative to 1)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = (e / safe for e in m)
    # characteristic polynomial lambda^4 + c2 lambda^2 + c1 lambda + c0 of K (traceless); its
    # roots are the sums +-s1 +-s2 +-s3 with an even number of minus signs (s3 signed by det M):
    # c2 = -2 |M|^2 = -2, c1 = -8 det M, c0 = |M|^4 - 4 |cof M|^2.
    k00 = _msub(m11, m22, m12, m21)
    k01 = _msub(m12, m20, m10, m22)
    k02 = _msub(m10, m21, m11, m20)
    det = torch.addcmul(torch.addcmul(m00 * k00, m01, k01), m02, k02)
    cof2 = torch.addcmul(torch.addcmul(k00 * k00, k01, k01), k02, k02)
    for k in (_msub(m21, m02, m22, m01), _msub(m22, m00, m20, m02), _msub(m20, m01, m21, m00),
              _msub(m01, m12, m02, m11), _msub(m02, m10, m00, m12), _msub(m00, m11, m01, m10)):
        cof2 = torch.addcmul(cof2, k, k)
    c1 = det * -8.0
    c0 = torch.add(cof2 * -4.0, 1.0)
    # upper bound of the largest root: sigma_1 + sigma_2 + sigma_3 <= sqrt(3) |M|_F
    if bound is None:
        lam = torch.full_like(scale, _SQRT3)
    else:
        lam = (bound / safe).clamp_max(_SQRT3)
    step = lam
    for k in range(steps):
        l2 = lam * lam
        pv = torch.addcmul(c0, torch.addcmul(c1, l2 - 2.0, lam), lam)  # ((l2 - 2) l + c1) l + c0
        dp = torch.addcmul(c1, l2 - 1.0, lam, value=4.0)  # 4 (l2 - 1) l + c1
        step = pv / (torch.where(dp > 0, dp, 1.0) if guard else dp)
        lam = lam - step
        if early_stop is not None and k + 1 >= early_stop and k + 1 < steps:
            # rows with a non-finite step (e.g. degenerate ones without guards) are not waited for
            if float(step.abs().nan_to_num_(0.0, 0.0).amax()) <= _NEWTON_TOL:
                break
    # Horn's symmetric matrix K - lam I (entries a_ij, upper triangle)
    tr = m00 + m11 + m22
    nu = (tr + lam).neg_()
    a00 = tr - lam
    a11 = torch.add(nu, m00, alpha=2.0)
    a22 = torch.add(nu, m11, alpha=2.0)
    a33 = torch.add(nu, m22, alpha=2.0)
    a01, a02, a03 = m21 - m12, m02 - m20, m10 - m01
    a12, a13, a23 = m10 + m01, m02 + m20, m21 + m12
    # adj(K - lam I) from 2x2 minors (Laplace expansion in complementary minors): s_k of
    # rows 0, 1 and c_k of rows 2, 3 (c_0 = s_5 by symmetry)
    s0 = _msub(a00, a11, a01, a01)
    s1 = _msub(a00, a12, a01, a02)
    s2 = _msub(a00, a13, a01, a03)
    s3 = _msub(a01, a12, a11, a02)
    s4 = _msub(a01, a13, a11, a03)
    s5 = _msub(a02, a13, a12, a03)
    c1_ = _msub(a02, a23, a03, a22)
    c2_ = _msub(a02, a33, a03, a23)
    c3_ = _msub(a12, a23, a13, a22)
    c4_ = _msub(a12, a33, a13, a23)
    c5_ = _msub(a22, a33, a23, a23)

    def entry(a: torch.Tensor, b: torch.Tensor, c: torch.Tensor, d: torch.Tensor, v1: float,
              e: torch.Tensor, f: torch.Tensor, v2: float) -> torch.Tensor:
        """``a b + v1 c d + v2 e f``."""
        return torch.addcmul(torch.addcmul(a * b, c, d, value=v1), e, f, value=v2)

    b00 = entry(a11, c5_, a12, c4_, -1.0, a13, c3_, 1.0)
    b01 = entry(a02, c4_, a01, c5_, -1.0, a03, c3_, -1.0)
    b02 = entry(a13, s5, a23, s4, -1.0, a33, s3, 1.0)
    b03 = entry(a22, s4, a12, s5, -1.0, a23, s3, -1.0)
    b11 = entry(a00, c5_, a02, c2_, -1.0, a03, c1_, 1.0)
    b12 = entry(a23, s2, a03, s5, -1.0, a33, s1, -1.0)
    b13 = entry(a02, s5, a22, s2, -1.0, a23, s1, 1.0)
    b22 = entry(a03, s4, a13, s2, -1.0, a33, s0, 1.0)
    b23 = entry(a12, s2, a02, s4, -1.0, a23, s0, -1.0)
    b33 = entry(a02, s3, a12, s1, -1.0, a22, s0, 1.0)
    # adj(K - lam I) = prod_{i>1} (lam_i - lam) q q^T is negative semi-definite: its most
    # negative diagonal entry selects the best-conditioned column (proportional to q). The
    # selection is arithmetic, o + pick (c - o) with pick 0 or 1: exact for pick = 0, and for
    # pick = 1 within rounding of c (whose norm is the larger), with 0/1 gradients.
    best = b00
    q = [b00, b01, b02, b03]
    for d, col in ((b11, (b01, b11, b12, b13)), (b22, (b02, b12, b22, b23)),
                   (b33, (b03, b13, b23, b33))):
        pick = (d < best).to(d.dtype)
        best = torch.minimum(best, d)
        q = [torch.addcmul(o, pick, c - o) for o, c in zip(q, col)]
    if guard:
        ok = (best < -_ADJ_TOL) & (step.abs() <= _NEWTON_TOL) & (scale > 0)
    else:  # the same test as one comparison (boolean kernels are slow); False for NaN
        ok = torch.minimum(best.neg().sub_(_ADJ_TOL), step.abs().neg_().add_(_NEWTON_TOL))
        ok = torch.minimum(ok, scale - _TINY)
        ok = (ok if margin is None else torch.minimum(ok, margin)) >= 0
    w, x, y, z = q
    qq = torch.addcmul(torch.addcmul(torch.addcmul(w * w, x, x), y, y), z, z)
    if guard:  # rows that are not ok (possibly q = 0) stay free of NaN values and gradients
        qq = torch.where(ok, qq, 1.0)
    return q, qq, lam * safe, ok


def _quaternion_matrix(
    q: Sequence[torch.Tensor], f: torch.Tensor, out: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """``f * Q(q)`` as ``(9, B)`` row-major entries, where ``Q(q) = |q|^2 R(q)`` is the
    quadratic form of the quaternion ``q = (w, x, y, z)`` (so ``f = s / |q|^2`` gives
    ``s R``); written into ``out (9, B)`` (any float dtype) if given (no autograd)."""
    w, x, y, z = q
    ww, xx, yy, zz = w * w, x * x, y * y, z * z
    w2, x2, y2 = w + w, x + x, y + y
    xy, xz, yz = x2 * y, x2 * z, y2 * z
    wx, wy, wz = w2 * x, w2 * y, w2 * z
    a, b, c, d = ww + xx, yy + zz, ww - xx, yy - zz
    entries = (a - b, xy - wz, xz + wy, xy + wz, c + d, yz - wx, xz - wy, yz + wx, c - d)
    if out is None:
        return torch.stack([e * f for e in entries])
    for i, e in enumerate(entries):
        torch.mul(e, f, out=out[i])
    return out


def _horn_rotation(
    m: torch.Tensor, bound: Optional[torch.Tensor] = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Optimal rotation of cross-covariances ``m (B, 3, 3)`` (any float dtype; computed in float64).

    Returns ``(rotation (B, 3, 3) float64, trace (B,) float64 = max tr(R^T M) over SO(3),
    ok (B,) bool)``; rows with ``ok == False`` are not to be trusted (near-repeated largest
    eigenvalue of Horn's matrix, i.e. a non-unique or ill-conditioned optimum, or a Newton
    iteration that has not converged in ``_NEWTON_STEPS`` steps). ``bound`` (``(B,)``,
    optional) is an extra upper bound of that trace, e.g. ``sqrt(var_p var_t)``
    (Cauchy-Schwarz), which is tight for well-fitting poses and saves Newton steps.
    """
    b = m.shape[0]
    m9 = m.to(torch.float64).reshape(b, 9).T.unbind(0)
    bound = None if bound is None else bound.to(torch.float64)
    q, qq, trace, ok = _horn_quaternion(m9, bound, _NEWTON_STEPS)
    return _quaternion_matrix(q, 1.0 / qq).T.reshape(b, 3, 3), trace, ok


class _Work:
    """Per-call work buffers of the chunked CPU path (``None``: allocate per use, autograd-safe),
    and the whole inputs ``p, t`` for the NaN/inf check (see :meth:`check_finite`)."""

    def __init__(self, size: int, j: int, dtype: torch.dtype, device: torch.device,
                 weighted: bool, p: torch.Tensor, t: torch.Tensor) -> None:
        self.p, self.t = p, t
        self.pp = torch.empty(3 * size * j, dtype=dtype, device=device)
        self.tt = torch.empty(3 * size * j, dtype=dtype, device=device)
        self.tw = torch.empty(3 * size * j, dtype=dtype, device=device) if weighted else None
        self.buf = torch.empty(size * j, dtype=dtype, device=device)
        self.coef = torch.empty(9, size, dtype=dtype, device=device)
        self.stats = torch.empty(11, size, dtype=dtype, device=device)

    def check_finite(self, mu_p: torch.Tensor, mu_t: torch.Tensor) -> None:
        """Raise like :func:`~skelcl._validation.check_finite` if the inputs hold NaN or inf.

        Any NaN or inf of a chunk makes its centroids ``mu_p, mu_t`` non-finite (masked-out
        joints too: ``0 * inf`` is NaN), so the exact elementwise test runs only then (and
        passes when finite values merely overflowed the sums).
        """
        if not bool(torch.isfinite(mu_p.sum() + mu_t.sum())):
            check_finite(self.p, "pred")
            check_finite(self.t, "target")


def _pose_error_sums(
    p3: torch.Tensor, t3: torch.Tensor, fit: Optional[torch.Tensor],
    score: Optional[torch.Tensor], ones: torch.Tensor, work: Optional[_Work],
) -> torch.Tensor:
    """Per-pose sums of the aligned joint errors ``(B,)`` of ``p3, t3 (B, J, 3)``.

    ``fit (B, J)`` bool selects the joints that define the alignment (``None``: all), ``score
    (B, J)`` bool those that are summed (``None``: all). ``work`` given: no autograd, in-place
    arithmetic in its buffers and no guards (see :func:`_horn_quaternion`); ``None``: out of
    place, every row's gradient finite.
    """
    b, j, _ = p3.shape
    dtype = p3.dtype
    guard = work is None
    if guard:
        pp = p3.permute(2, 0, 1).clone(memory_format=torch.contiguous_format)  # (3, B, J)
        tt = t3.permute(2, 0, 1).clone(memory_format=torch.contiguous_format)
    else:
        pp = work.pp[:3 * b * j].view(3, b, j).copy_(p3.permute(2, 0, 1))
        tt = work.tt[:3 * b * j].view(3, b, j).copy_(t3.permute(2, 0, 1))

    def jsum(x: torch.Tensor, y: torch.Tensor, w: Optional[torch.Tensor] = None) -> torch.Tensor:
        """``sum_j x_j y_j (w_j)`` per pose, a product then a matrix-vector product."""
        if guard:
            xy = x * y
            return (xy if w is None else xy * w) @ ones
        xy = torch.mul(x, y, out=work.buf[:x.numel()].view(x.shape))
        return (xy if w is None else xy.mul_(w)) @ ones

    w = None if fit is None else fit.to(dtype)
    if w is None:
        mu_p, mu_t = (pp @ ones).div_(j), (tt @ ones).div_(j)
    else:
        cnt = (w @ ones).clamp_min_(1.0)  # 0 only if nothing is selected
        mu_p = torch.stack([jsum(pp[c], w) for c in range(3)]).div_(cnt)
        mu_t = torch.stack([jsum(tt[c], w) for c in range(3)]).div_(cnt)
    if guard:
        pp, tt = pp - mu_p[..., None], tt - mu_t[..., None]
        tw = tt if w is None else tt * w
    else:
        work.check_finite(mu_p, mu_t)
        pp.sub_(mu_p[..., None])
        tt.sub_(mu_t[..., None])
        tw = tt if w is None else torch.mul(tt, w, out=work.tw[:3 * b * j].view(3, b, j))
    # 3x3 statistics: M = sum_j w_j t0_j p0_j^T, var_p = sum_j w_j |p0_j|^2, var_t likewise
    if guard:
        m = [jsum(tw[c], pp[d]).to(torch.float64) for c in range(3) for d in range(3)]
        sq = torch.addcmul(torch.addcmul(pp[0] * pp[0], pp[1], pp[1]), pp[2], pp[2])
        vp = ((sq if w is None else sq * w) @ ones).to(torch.float64)
        sq = torch.addcmul(torch.addcmul(tw[0] * tt[0], tw[1], tt[1]), tw[2], tt[2])
        vt = (sq @ ones).to(torch.float64)
    else:
        st, buf = work.stats[:, :b], work.buf[:b * j].view(b, j)
        for k in range(9):
            torch.mv(torch.mul(tw[k // 3], pp[k % 3], out=buf), ones, out=st[k])
        torch.mul(pp[0], pp[0], out=buf).addcmul_(pp[1], pp[1]).addcmul_(pp[2], pp[2])
        torch.mv(buf if w is None else buf.mul_(w), ones, out=st[9])
        torch.mul(tw[0], tt[0], out=buf).addcmul_(tw[1], tt[1]).addcmul_(tw[2], tt[2])
        torch.mv(buf, ones, out=st[10])
        st = st.to(torch.float64)
        m, vp, vt = st[:9].unbind(0), st[9], st[10]
    # Degenerate pose (all selected joints of pred or of target coincide, or none selected):
    # rotation I, scale 0, as in _procrustes. With guards such rows solve for the identity,
    # which keeps NaN gradients out; without, their coefficients are zeroed afterwards.
    if guard:
        degenerate = (vp <= 0) | (vt <= 0)
        m = [torch.where(degenerate, e, x) for e, x in zip(_EYE9, m)]
        vp = torch.where(degenerate, 1.0, vp)
        # Cauchy-Schwarz: trace <= |p0| |t0|; where() before sqrt keeps NaN gradients out
        bound = torch.sqrt(torch.where(degenerate, 9.0, vp * vt))
        q, qq, trace, ok = _horn_quaternion(m, bound, _NEWTON_STEPS)
        coef = _quaternion_matrix(q, torch.where(degenerate, 0.0, trace / vp) / qq)
        fine = ok | degenerate
    else:
        # degenerate rows (var 0) count as not ok here and are sorted out below
        q, qq, trace, fine = _horn_quaternion(
            m, torch.sqrt(vp * vt), _NEWTON_STEPS, False, torch.minimum(vp, vt).sub_(_TINY),
            min(_NEWTON_FIRST, _NEWTON_STEPS))
        coef = _quaternion_matrix(q, trace / vp / qq, work.coef[:, :b])
    # coef: (9, B) entries of s R (float64 with guards, else already in dtype)
    if not bool(fine.all()):
        idx = (~fine).nonzero().squeeze(1)
        if not guard:  # degenerate rows: rotation I, scale 0
            deg = (vp[idx] <= 0) | (vt[idx] <= 0)
            coef = coef.index_fill(1, idx[deg], 0.0)
            idx = idx[~deg]
        coef = coef.to(dtype)
        if idx.numel():  # the exact SVD path on the flagged rows
            wi = torch.ones_like(p3[idx, :, 0]) if w is None else w[idx]
            ref = _procrustes(p3[idx], t3[idx], wi, True)
            coef = coef.index_copy(1, idx, (ref.scale[:, None, None] * ref.rotation)
                                   .reshape(-1, 9).T)
    else:
        coef = coef.to(dtype)
    a = coef.view(3, 3, b, 1)  # a[c, d] = (s R)_cd per pose, broadcast over the joints
    # the residual s R p0_j - t0_j and its norm: the only per-joint pass after the statistics
    if guard:
        res = torch.addcmul(torch.addcmul(a[:, 0] * pp[0], a[:, 1], pp[1]), a[:, 2], pp[2]) - tt
        sq = torch.addcmul(torch.addcmul(res[0] * res[0], res[1], res[1]), res[2], res[2])
        pos = sq > 0  # zero (not NaN) gradient at a perfectly aligned joint
        err = torch.where(pos, torch.sqrt(torch.where(pos, sq, 1.0)), 0.0)
        if score is not None:
            err = torch.where(score, err, 0.0)
    else:
        res = tt.neg_()  # in place (tw, if separate, is no longer needed)
        for d in range(3):
            res.addcmul_(a[:, d], pp[d])
        err = res[0].mul_(res[0]).addcmul_(res[1], res[1]).addcmul_(res[2], res[2]).sqrt_()
        if score is not None:
            err.mul_(score)
    return err @ ones


def _p_mpjpe_fast(
    p: torch.Tensor, t: torch.Tensor, mask: Optional[torch.Tensor], fit_on_mask: bool,
    reduction: str,
) -> torch.Tensor:
    """P-MPJPE of ``p, t (..., J, 3)`` (same float dtype, validated except for NaN/inf, which
    raise here as in :func:`~skelcl._validation.check_finite`) with the SVD-free rotation.

    ``mask (..., J)`` bool or ``None`` selects the scored joints (and the fitted ones if
    ``fit_on_mask``). Same result as the SVD path (:func:`_procrustes`, then the mean joint
    error) up to floating-point rounding, gradients included.

    Layout: the poses are copied into component planes ``(3, B, J)`` (each coordinate
    contiguous over poses and joints), so that centring, the 3x3 statistics (9 + 2 dot products
    over the joints, as matrix-vector products) and the residual are a few long elementwise
    kernels; the residual ``s R p0_j - t0_j`` is formed once (in place when no gradient is
    needed) and is the only per-joint pass after the statistics. The rotation is Horn's (see
    :func:`_horn_quaternion`); rows it flags (a near-repeated largest eigenvalue of Horn's matrix,
    e.g. collinear poses or a reflection with ``sigma_2 ~ sigma_3``, or a Newton iteration that
    has not converged) are recomputed by the exact SVD path :func:`_procrustes` on those rows
    only. Deciding whether any row needs it is one data-dependent branch (a host
    synchronisation) per chunk: acceptable for a metric, not meant for a training hot path.
    Degenerate rows follow :func:`_procrustes` (rotation I, scale 0). Without autograd on the
    CPU the poses are processed in chunks (see ``_CHUNK_POSES``), in place in reused buffers.
    """
    batch = p.shape[:-2]
    j = p.shape[-2]
    n = p.numel() // (3 * j)
    dtype, device = p.dtype, p.device
    p3, t3 = p.reshape(n, j, 3), t.reshape(n, j, 3)
    score = None if mask is None else mask.reshape(n, j)
    fit = score if fit_on_mask else None
    ones = torch.ones(j, dtype=dtype, device=device)  # sums over joints as matrix-vector products
    grad = torch.is_grad_enabled() and (p.requires_grad or t.requires_grad)
    if grad or device.type != "cpu":
        check_finite(p, "pred")
        check_finite(t, "target")
        sums = _pose_error_sums(p3, t3, fit, score, ones, None)
    else:
        size = max(1, min(n, _CHUNK_POSES, _CHUNK_JOINTS // j))
        work = _Work(size, j, dtype, device, fit is not None, p, t)
        sums = torch.empty(n, dtype=dtype, device=device)
        for s in range(0, n, size):
            e = min(n, s + size)
            sums[s:e] = _pose_error_sums(p3[s:e], t3[s:e], None if fit is None else fit[s:e],
                                         None if score is None else score[s:e], ones, work)
    if score is None:
        return sums.sum() / (n * j) if reduction == "mean" else (sums / j).reshape(batch)
    cnt = score.sum(dim=-1).to(dtype)
    if reduction == "none":
        return (sums / cnt).reshape(batch)  # NaN for a pose with no selected joint
    total = cnt.sum()
    if not bool(total > 0):
        raise ValueError("mask: selects no joint at all; the metric is undefined")
    return sums.sum() / total
