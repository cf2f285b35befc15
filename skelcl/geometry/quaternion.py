"""Unit quaternions in **scalar-last order** ``(x, y, z, w)`` and their rotation matrices.

The order is the one of :class:`scipy.spatial.transform.Rotation` (``as_quat``). ``q`` and ``-q``
describe the same rotation; every function that *returns* a quaternion canonicalises it to
``w >= 0``. The matrix to quaternion conversion follows Shepperd's method (J. Guidance and Control
1978): all four candidate formulas are evaluated and the one built on the largest quaternion
component is kept, so the result is accurate and differentiable for every rotation, including
angle 0 and angle pi (the approach of the roma library, Brégier 2021).
"""

from __future__ import annotations

import torch

from skelcl._validation import TensorLike

from ._utils import as_float, as_rotation, safe_sqrt

__all__ = [
    "quaternion_to_matrix",
    "matrix_to_quaternion",
    "canonical_quaternion",
    "quaternion_multiply",
    "quaternion_to_axis_angle",
    "axis_angle_to_quaternion",
]


def canonical_quaternion(quaternion: TensorLike) -> torch.Tensor:
    """Flip the sign of quaternions with ``w < 0`` so that ``w >= 0``.

    Args:
        quaternion: ``(..., 4)`` quaternions in ``(x, y, z, w)`` order.

    Returns:
        ``(..., 4)`` the same rotations with non-negative scalar part.
    """
    q = as_float(quaternion, "quaternion", (4,))
    return torch.where(q[..., 3:4] < 0, -q, q)


def quaternion_to_matrix(quaternion: TensorLike) -> torch.Tensor:
    """Rotation matrices of quaternions ``(x, y, z, w)``.

    The input is normalised first, so any non-zero quaternion is accepted (a zero quaternion gives
    NaN; it describes no rotation).

    Args:
        quaternion: ``(..., 4)`` in scalar-last order ``(x, y, z, w)``.

    Returns:
        ``(..., 3, 3)`` rotation matrices acting on column vectors.
    """
    q = as_float(quaternion, "quaternion", (4,))
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    x, y, z, w = q.unbind(-1)
    xx, yy, zz = x * x, y * y, z * z
    xy, xz, yz = x * y, x * z, y * z
    wx, wy, wz = w * x, w * y, w * z
    rows = (
        torch.stack((1 - 2 * (yy + zz), 2 * (xy - wz), 2 * (xz + wy)), -1),
        torch.stack((2 * (xy + wz), 1 - 2 * (xx + zz), 2 * (yz - wx)), -1),
        torch.stack((2 * (xz - wy), 2 * (yz + wx), 1 - 2 * (xx + yy)), -1),
    )
    return torch.stack(rows, -2)


def matrix_to_quaternion(matrix: TensorLike) -> torch.Tensor:
    """Quaternions ``(x, y, z, w)`` with ``w >= 0`` of rotation matrices (Shepperd's method).

    Each of the four formulas ``4 q_i q`` (built from the diagonal element ``i`` or the trace) is
    evaluated; the one with the largest ``|q_i|`` (so with norm at least 2) is selected without
    data-dependent indexing and normalised. Gradients are finite for every rotation.

    Args:
        matrix: ``(..., 3, 3)`` rotation matrices.

    Returns:
        ``(..., 4)`` unit quaternions, scalar last, canonicalised to ``w >= 0``.
    """
    m = as_rotation(matrix, "matrix")
    m00, m01, m02 = m[..., 0, 0], m[..., 0, 1], m[..., 0, 2]
    m10, m11, m12 = m[..., 1, 0], m[..., 1, 1], m[..., 1, 2]
    m20, m21, m22 = m[..., 2, 0], m[..., 2, 1], m[..., 2, 2]
    trace = m00 + m11 + m22
    candidates = torch.stack(
        (
            torch.stack((1 + m00 - m11 - m22, m10 + m01, m20 + m02, m21 - m12), -1),
            torch.stack((m10 + m01, 1 - m00 + m11 - m22, m21 + m12, m02 - m20), -1),
            torch.stack((m20 + m02, m21 + m12, 1 - m00 - m11 + m22, m10 - m01), -1),
            torch.stack((m21 - m12, m02 - m20, m10 - m01, 1 + trace), -1),
        ),
        -2,
    )  # (..., 4 candidates, 4)
    choice = torch.stack((m00, m11, m22, trace), -1).argmax(-1)
    index = choice[..., None, None].expand(*choice.shape, 1, 4)
    q = candidates.gather(-2, index).squeeze(-2)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    return torch.where(q[..., 3:4] < 0, -q, q)


def quaternion_multiply(q1: TensorLike, q2: TensorLike) -> torch.Tensor:
    """Hamilton product ``q1 * q2`` (the rotation ``q2`` followed by ``q1``), ``(x, y, z, w)``.

    Args:
        q1: ``(..., 4)`` quaternions.
        q2: ``(..., 4)`` quaternions (batch shapes broadcast).

    Returns:
        ``(..., 4)`` the product (not canonicalised, not renormalised).
    """
    a = as_float(q1, "q1", (4,))
    b = as_float(q2, "q2", (4,))
    x1, y1, z1, w1 = a.unbind(-1)
    x2, y2, z2, w2 = b.unbind(-1)
    return torch.stack(
        (
            w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
            w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
            w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        ),
        -1,
    )


def quaternion_to_axis_angle(quaternion: TensorLike) -> torch.Tensor:
    """Rotation vectors (axis times angle in radians, angle in ``[0, pi]``) of quaternions.

    The quaternion is normalised and canonicalised to ``w >= 0``; the angle is
    ``2 atan2(|v|, w)`` with ``v = (x, y, z)``, and the factor ``angle / |v|`` uses its Taylor
    expansion for small ``|v|``, so the gradient is finite at the identity.

    Args:
        quaternion: ``(..., 4)`` in ``(x, y, z, w)`` order.

    Returns:
        ``(..., 3)`` rotation vectors.
    """
    q = as_float(quaternion, "quaternion", (4,))
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True)
    q = torch.where(q[..., 3:4] < 0, -q, q)
    v, w = q[..., :3], q[..., 3]
    n2 = (v * v).sum(-1)
    small = n2 < 1e-6
    n = safe_sqrt(torch.where(small, torch.ones_like(n2), n2))
    factor_big = 2 * torch.atan2(n, w) / n
    # atan2(n, w) / n = (1/w) (1 - n^2 / (3 w^2) + ...) for small n (w close to 1 there)
    w_small = torch.where(small, w, torch.ones_like(w))  # keeps the unused branch finite at w = 0
    factor_small = (2 / w_small) * (1 - n2 / (3 * w_small * w_small))
    factor = torch.where(small, factor_small, factor_big)
    return v * factor[..., None]


def axis_angle_to_quaternion(axis_angle: TensorLike) -> torch.Tensor:
    """Quaternions ``(x, y, z, w)`` of rotation vectors (finite gradient at the zero vector).

    Args:
        axis_angle: ``(..., 3)`` axis times angle (radians).

    Returns:
        ``(..., 4)`` unit quaternions (``w >= 0`` when the angle is at most pi).
    """
    v = as_float(axis_angle, "axis_angle", (3,))
    t2 = (v * v).sum(-1)
    small = t2 < 1e-6
    t = safe_sqrt(torch.where(small, torch.ones_like(t2), t2))
    # sin(t/2)/t and cos(t/2), with Taylor expansions in t^2 near zero
    s_big = torch.sin(t / 2) / t
    s_small = 0.5 - t2 / 48 + t2 * t2 / 3840
    s = torch.where(small, s_small, s_big)
    c = torch.where(small, 1 - t2 / 8 + t2 * t2 / 384, torch.cos(t / 2))
    return torch.cat((v * s[..., None], c[..., None]), -1)
