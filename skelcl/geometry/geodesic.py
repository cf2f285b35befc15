"""Geodesic (angular) distance between rotations."""

from __future__ import annotations

import torch

from skelcl._validation import TensorLike

from ._utils import as_rotation, safe_norm, vee

__all__ = ["geodesic_angle", "rotation_angle"]


def rotation_angle(matrix: TensorLike) -> torch.Tensor:
    """Rotation angle in ``[0, pi]`` of rotation matrices.

    Computed as ``atan2(|vee(R - R^T)| / 2, (tr R - 1) / 2)`` (sine from the antisymmetric part,
    cosine from the trace), which stays accurate near 0 and near pi where ``acos`` of the trace
    loses precision and has an infinite derivative. The gradient is finite everywhere (0, a valid
    subgradient, at angle exactly 0 and exactly pi where the angle is not differentiable).

    Args:
        matrix: ``(..., 3, 3)`` rotation matrices.

    Returns:
        ``(...)`` angles in radians.
    """
    m = as_rotation(matrix, "matrix")
    sin = safe_norm(vee(m)) / 2
    cos = (m.diagonal(dim1=-2, dim2=-1).sum(-1) - 1) / 2
    return torch.atan2(sin, cos)


def geodesic_angle(rotation_1: TensorLike, rotation_2: TensorLike) -> torch.Tensor:
    """Geodesic distance on SO(3): the angle of ``R1^T R2`` in radians, in ``[0, pi]``.

    Batch shapes broadcast. Finite gradients also when ``R1 == R2`` (the case where the common
    ``acos((tr - 1) / 2)`` formula gives NaN gradients); see :func:`rotation_angle`.

    Args:
        rotation_1: ``(..., 3, 3)`` rotation matrices.
        rotation_2: ``(..., 3, 3)`` rotation matrices.

    Returns:
        ``(...)`` angles in radians.
    """
    r1 = as_rotation(rotation_1, "rotation_1")
    r2 = as_rotation(rotation_2, "rotation_2")
    return rotation_angle(r1.mT @ r2)
