"""Axis-angle (rotation vector) <-> rotation matrix.

A rotation vector ``v`` is the unit rotation axis times the angle in radians (right-hand rule).
:func:`axis_angle_to_matrix` is Rodrigues' formula ``R = I + a [v]_x + b [v]_x^2`` with
``a = sin(t)/t`` and ``b = (1 - cos t)/t^2``, both replaced by Taylor expansions in ``t^2`` near
``t = 0`` so that values and gradients stay finite there. :func:`matrix_to_axis_angle` goes through
Shepperd's matrix-to-quaternion conversion and ``2 atan2(|v|, w)`` (as in the roma library,
Brégier 2021), accurate at angle 0 and near pi.
"""

from __future__ import annotations

import torch

from skelcl._validation import TensorLike

from ._utils import as_float, safe_sqrt, skew
from .quaternion import matrix_to_quaternion, quaternion_to_axis_angle

__all__ = ["axis_angle_to_matrix", "matrix_to_axis_angle"]


def axis_angle_to_matrix(axis_angle: TensorLike) -> torch.Tensor:
    """Rotation matrices of rotation vectors (Rodrigues' formula).

    Args:
        axis_angle: ``(..., 3)`` axis times angle in radians (any angle; ``2 pi`` is the identity).

    Returns:
        ``(..., 3, 3)`` rotation matrices acting on column vectors (``X' = X @ R.mT`` for rows).
    """
    v = as_float(axis_angle, "axis_angle", (3,))
    t2 = (v * v).sum(-1)
    small = t2 < 1e-4
    t = safe_sqrt(torch.where(small, torch.ones_like(t2), t2))
    a = torch.where(small, 1 - t2 / 6 + t2 * t2 / 120, torch.sin(t) / t)
    b = torch.where(small, 0.5 - t2 / 24 + t2 * t2 / 720, (1 - torch.cos(t)) / (t * t))
    k = skew(v)
    eye = torch.eye(3, dtype=v.dtype, device=v.device).expand(k.shape)
    return eye + a[..., None, None] * k + b[..., None, None] * (k @ k)


def matrix_to_axis_angle(matrix: TensorLike) -> torch.Tensor:
    """Rotation vectors of rotation matrices, angle in ``[0, pi]``.

    At exactly pi the axis sign is ambiguous; the returned one follows the quaternion with
    ``w >= 0`` (Shepperd's choice). Gradients are finite everywhere, including angles 0 and pi.

    Args:
        matrix: ``(..., 3, 3)`` rotation matrices.

    Returns:
        ``(..., 3)`` axis times angle (radians).
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))
