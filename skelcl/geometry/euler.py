"""Euler angles with named axes, following :meth:`scipy.spatial.transform.Rotation.from_euler`.

``axes`` is a 3-letter string of ``x``, ``y``, ``z`` with no two consecutive letters equal:

- **uppercase = intrinsic** (rotations about the axes of the moving frame): ``"XYZ"`` with angles
  ``(a, b, c)`` is ``R = Rx(a) @ Ry(b) @ Rz(c)``;
- **lowercase = extrinsic** (rotations about the fixed axes, applied in the order written):
  ``"xyz"`` with ``(a, b, c)`` is ``R = Rz(c) @ Ry(b) @ Rx(a)``.

Both Tait-Bryan (``"XYZ"``, ``"zyx"``, ...) and proper Euler (``"ZXZ"``, ``"yzy"``, ...) sequences
are supported. :func:`matrix_to_euler` returns the first and third angles in ``(-pi, pi]``, the
middle one in ``[-pi/2, pi/2]`` (Tait-Bryan) or ``[0, pi]`` (proper Euler), like scipy. At gimbal
lock the angle applied first to a vector (the third intrinsic angle, or the first extrinsic one)
is set to 0.
"""

from __future__ import annotations

from typing import Tuple

import torch

from skelcl._validation import TensorLike

from ._utils import as_float, as_rotation

__all__ = ["euler_to_matrix", "matrix_to_euler", "axis_rotation"]

_AXIS = {"x": 0, "y": 1, "z": 2}


def _parse_axes(axes: str) -> Tuple[Tuple[int, int, int], bool]:
    """Return the axis indices and whether the sequence is intrinsic."""
    if not isinstance(axes, str) or len(axes) != 3:
        raise ValueError(f"axes: expected 3 letters from 'xyz' (extrinsic) or 'XYZ' (intrinsic), got {axes!r}")
    if not (axes.islower() or axes.isupper()) or any(c not in "xyz" for c in axes.lower()):
        raise ValueError(
            f"axes: expected all lowercase (extrinsic) or all uppercase (intrinsic) letters from xyz, got {axes!r}"
        )
    idx = tuple(_AXIS[c] for c in axes.lower())
    if idx[0] == idx[1] or idx[1] == idx[2]:
        raise ValueError(f"axes: consecutive axes must differ, got {axes!r}")
    return idx, axes.isupper()  # type: ignore[return-value]


def axis_rotation(axis: int, angle: torch.Tensor) -> torch.Tensor:
    """Right-handed rotation matrices about a coordinate axis.

    Args:
        axis: 0 (x), 1 (y) or 2 (z).
        angle: ``(...)`` angles in radians.

    Returns:
        ``(..., 3, 3)`` e.g. for ``axis=2``: ``[[c, -s, 0], [s, c, 0], [0, 0, 1]]``.
    """
    if axis not in (0, 1, 2):
        raise ValueError(f"axis: expected 0, 1 or 2, got {axis!r}")
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    if axis == 0:
        rows = ((one, zero, zero), (zero, c, -s), (zero, s, c))
    elif axis == 1:
        rows = ((c, zero, s), (zero, one, zero), (-s, zero, c))
    else:
        rows = ((c, -s, zero), (s, c, zero), (zero, zero, one))
    return torch.stack([torch.stack(r, -1) for r in rows], -2)


def euler_to_matrix(angles: TensorLike, axes: str) -> torch.Tensor:
    """Rotation matrices from Euler angles (scipy's ``from_euler`` convention).

    Args:
        angles: ``(..., 3)`` angles in radians, in the order of the letters of ``axes``.
        axes: e.g. ``"XYZ"`` (intrinsic, uppercase) or ``"xyz"`` (extrinsic, lowercase).

    Returns:
        ``(..., 3, 3)`` rotation matrices.
    """
    idx, intrinsic = _parse_axes(axes)
    a = as_float(angles, "angles", (3,))
    mats = [axis_rotation(i, a[..., n]) for n, i in enumerate(idx)]
    if intrinsic:
        return mats[0] @ mats[1] @ mats[2]
    return mats[2] @ mats[1] @ mats[0]


def _intrinsic_angles(m: torch.Tensor, i: int, j: int, k: int) -> torch.Tensor:
    """Angles ``(a, b, c)`` with ``R = R_i(a) R_j(b) R_k(c)`` (``c = 0`` at gimbal lock)."""
    proper = i == k
    third = 3 - i - j if proper else k
    s = 1.0 if (j - i) % 3 == 1 else -1.0  # parity of (i, j, third)
    eps = 1e-6 if m.dtype == torch.float64 else 1e-4
    if proper:
        # R[i,i] = cos b, R[i,j] = sin b sin c, R[i,third] = s sin b cos c,
        # R[j,i] = sin b sin a, R[third,i] = -s sin b cos a
        sin_b = torch.hypot(m[..., i, j], m[..., i, third])
        b = torch.atan2(sin_b, m[..., i, i])
        c = torch.atan2(m[..., i, j], s * m[..., i, third])
        a = torch.atan2(m[..., j, i], -s * m[..., third, i])
        locked = sin_b < eps
    else:
        # R[i,k] = s sin b, R[i,i] = cos b cos c, R[i,j] = -s cos b sin c,
        # R[j,k] = -s sin a cos b, R[k,k] = cos a cos b
        cos_b = torch.hypot(m[..., i, i], m[..., i, j])
        b = torch.atan2(s * m[..., i, k], cos_b)
        c = torch.atan2(-s * m[..., i, j], m[..., i, i])
        a = torch.atan2(-s * m[..., j, k], m[..., k, k])
        locked = cos_b < eps
    # gimbal lock: c = 0, R = R_i(a) R_j(b), so R[:, j] = R_i(a) e_j = cos a e_j + s sin a e_third
    a_locked = torch.atan2(s * m[..., third, j], m[..., j, j])
    a = torch.where(locked, a_locked, a)
    c = torch.where(locked, torch.zeros_like(c), c)
    return torch.stack((a, b, c), -1)


def matrix_to_euler(matrix: TensorLike, axes: str) -> torch.Tensor:
    """Euler angles of rotation matrices (scipy's ``as_euler`` convention and ranges).

    Args:
        matrix: ``(..., 3, 3)`` rotation matrices.
        axes: e.g. ``"XYZ"`` (intrinsic) or ``"xyz"`` (extrinsic); see the module docstring.

    Returns:
        ``(..., 3)`` angles in radians, in the order of the letters of ``axes``. Gradients are not
        defined at gimbal lock.
    """
    (i, j, k), intrinsic = _parse_axes(axes)
    m = as_rotation(matrix, "matrix")
    if intrinsic:
        return _intrinsic_angles(m, i, j, k)
    # extrinsic "ijk" with (a, b, c) equals intrinsic "kji" with (c, b, a)
    return _intrinsic_angles(m, k, j, i).flip(-1)
