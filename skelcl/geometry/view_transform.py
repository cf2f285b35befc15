"""The OCR-Pose / Yu et al. view transform ``T`` and its exact inverse (METHOD.md §2).

``T(X) = (X - X_root) @ R.mT + (0, 0, D)``: centre the skeleton on its root joint, rotate it by
``R`` (acting on column vectors) about the root, and place the root at depth ``D`` on the optical
axis. ``T⁻¹(Y) = (Y - (0, 0, D)) @ R + X_root`` needs the same ``R`` and the original root.
"""

from __future__ import annotations

from typing import Union

import torch

from skelcl._validation import TensorLike, as_tensor

from ._utils import as_float, as_rotation

__all__ = ["view_transform", "inverse_view_transform"]


def _offset(distance: Union[float, int, torch.Tensor], like: torch.Tensor) -> torch.Tensor:
    """``(0, 0, D)`` shaped ``(..., 1, 3)`` for a number or a ``(...)`` tensor ``D``."""
    if isinstance(distance, torch.Tensor):
        d = distance.to(dtype=like.dtype, device=like.device)
    elif isinstance(distance, (int, float)) and not isinstance(distance, bool):
        # new_full fills on the device: no host-to-device copy (CUDA-graph capturable)
        d = like.new_full((), float(distance))
    else:
        raise TypeError(f"distance: expected a number or tensor, got {type(distance).__name__}")
    z = torch.zeros_like(d)
    return torch.stack((z, z, d), -1).unsqueeze(-2)


def _root_index(root_index: int, num_joints: int) -> int:
    if isinstance(root_index, bool) or not isinstance(root_index, int) or not -num_joints <= root_index < num_joints:
        raise ValueError(f"root_index: expected an integer joint index in [0, {num_joints}), got {root_index!r}")
    return root_index


def view_transform(
    points_3d: TensorLike,
    rotation: TensorLike,
    distance: Union[float, torch.Tensor] = 10.0,
    root_index: int = 0,
) -> torch.Tensor:
    """Root-centre, rotate by ``rotation`` and move the root to ``(0, 0, distance)``.

    Args:
        points_3d: ``(..., J, 3)`` camera-frame joints.
        rotation: ``(..., 3, 3)`` rotations (batch shape broadcasts with that of ``points_3d``).
        distance: camera constant ``D`` (default 10): a number or a ``(...)`` tensor.
        root_index: index of the root joint (default 0, the H36M-17 pelvis).

    Returns:
        ``(..., J, 3)`` transformed joints; keep ``points_3d[..., root_index:root_index+1, :]`` to
        invert with :func:`inverse_view_transform`.
    """
    p = as_float(points_3d, "points_3d", (None, 3))
    r = as_rotation(rotation, "rotation").to(p.dtype)
    i = _root_index(root_index, p.shape[-2])
    centred = p - p[..., i : i + 1, :]
    return centred @ r.mT + _offset(distance, p)


def inverse_view_transform(
    points: TensorLike,
    rotation: TensorLike,
    root: TensorLike,
    distance: Union[float, torch.Tensor] = 10.0,
) -> torch.Tensor:
    """Exact inverse of :func:`view_transform`: ``(Y - (0, 0, D)) @ R + root``.

    Args:
        points: ``(..., J, 3)`` joints in the transformed frame.
        rotation: ``(..., 3, 3)`` the rotation used by the forward transform.
        root: the original root joint, ``(..., 1, 3)`` or ``(..., 3)``.
        distance: the ``D`` used by the forward transform.

    Returns:
        ``(..., J, 3)`` joints in the original frame.
    """
    p = as_float(points, "points", (None, 3))
    r = as_rotation(rotation, "rotation").to(p.dtype)
    t = as_tensor(root, "root").to(p.dtype)
    if t.ndim >= 1 and t.shape[-1] == 3 and t.ndim == p.ndim - 1:
        t = t.unsqueeze(-2)
    if not (t.ndim >= 2 and t.shape[-2:] == (1, 3)):
        raise ValueError(f"root: expected shape (..., 1, 3) or (..., 3), got {tuple(as_tensor(root, 'root').shape)}")
    return (p - _offset(distance, p)) @ r + t
