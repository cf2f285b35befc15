"""Pinhole camera geometry in the camera frame (x right, y down, z forward, depth ``z > 0``).

Normalised image coordinates are ``(x / z, y / z)`` (focal length 1, principal point 0).
:func:`depth_to_points` is the lifter's output layer of the OCR-Pose / Yu et al. cycle: absolute
depth ``z = max(min_depth, d + distance)`` from a relative depth ``d`` and the camera constant
``D = distance`` (METHOD.md §1), then ``(x z, y z, z)``.
"""

from __future__ import annotations

from typing import Optional, Union

import torch

from skelcl._validation import TensorLike, as_tensor

from ._utils import as_float, positive_number

__all__ = [
    "project",
    "unproject",
    "depth_to_points",
    "weak_perspective_project",
    "pixels_to_normalized",
    "normalized_to_pixels",
]

Number = Union[float, int]


def project(
    points_3d: TensorLike, *, min_depth: Optional[float] = None, check: bool = True
) -> torch.Tensor:
    """Perspective projection ``(x / z, y / z)``.

    A point at or behind the camera (``z <= 0``) has no image. By default this raises
    ``ValueError`` naming ``points_3d``. That check reads the data back to the host (a device
    synchronisation), so in a training hot path either

    - pass ``min_depth=m`` (``m > 0``): depths are clamped to ``z >= m`` before dividing (a
      documented guard; the gradient w.r.t. a clamped depth is zero), and no check is made; or
    - pass ``check=False`` when the depth is positive by construction (for instance after
      :func:`depth_to_points` or :func:`~skelcl.geometry.view_transform.view_transform`); then non-positive
      depths silently give inf/NaN or mirrored points.

    Args:
        points_3d: ``(..., J, 3)`` points in the camera frame.
        min_depth: optional lower bound for ``z`` (keyword only).
        check: raise ``ValueError`` if any ``z <= 0`` (ignored when ``min_depth`` is given).

    Returns:
        ``(..., J, 2)`` normalised image coordinates.

    Raises:
        ValueError: wrong shape, or (with ``check``) a depth ``<= 0``.
    """
    p = as_float(points_3d, "points_3d", (None, 3))
    z = p[..., 2:3]
    if min_depth is not None:
        z = z.clamp_min(positive_number(min_depth, "min_depth"))
    elif check and bool((z <= 0).any()):
        raise ValueError(
            "points_3d: every depth (z) must be > 0 for perspective projection; "
            "pass min_depth=... to clamp or check=False to skip this check"
        )
    return p[..., :2] / z


def unproject(points_2d: TensorLike, depth: TensorLike) -> torch.Tensor:
    """Back-project normalised image points at the given depths: ``(x z, y z, z)``.

    Args:
        points_2d: ``(..., J, 2)`` normalised image coordinates.
        depth: ``(..., J)`` absolute depths (broadcastable to ``points_2d.shape[:-1]``).

    Returns:
        ``(..., J, 3)`` camera-frame points; ``project(unproject(x, z)) == x`` for ``z > 0``.
    """
    p = as_float(points_2d, "points_2d", (None, 2))
    z = as_tensor(depth, "depth")
    try:
        z = torch.broadcast_to(z, p.shape[:-1]) if z.ndim <= p.ndim - 1 else None
    except RuntimeError:
        z = None
    if z is None:
        raise ValueError(
            f"depth: expected shape {tuple(p.shape[:-1])} (points_2d without its last axis), "
            f"got {tuple(as_tensor(depth, 'depth').shape)}"
        )
    z = z.unsqueeze(-1)
    return torch.cat((p * z, z), -1)


def depth_to_points(
    points_2d: TensorLike,
    relative_depth: TensorLike,
    distance: Union[Number, torch.Tensor] = 10.0,
    min_depth: Optional[float] = 1.0,
) -> torch.Tensor:
    """3D joints from normalised 2D joints and predicted relative depths (OCR-Pose lifter output).

    ``z = max(min_depth, d + distance)`` and the result is ``(x z, y z, z)``. The clamp's gradient
    is zero where it is active (the baseline's choice); ``min_depth=None`` disables it.

    Args:
        points_2d: ``(..., J, 2)`` normalised 2D joints (root-centred and scaled, METHOD.md §1).
        relative_depth: ``(..., J)`` depth relative to ``distance``.
        distance: camera constant ``D`` (default 10), a number or a tensor broadcastable to
            ``relative_depth``.
        min_depth: lower bound on the absolute depth (default 1).

    Returns:
        ``(..., J, 3)`` camera-frame joints.
    """
    d = as_float(relative_depth, "relative_depth", (None,))
    if isinstance(distance, torch.Tensor):
        z = d + distance.to(d.dtype)
    else:
        if not isinstance(distance, (int, float)):
            raise TypeError(f"distance: expected a number or tensor, got {type(distance).__name__}")
        z = d + float(distance)
    if min_depth is not None:
        z = z.clamp_min(positive_number(min_depth, "min_depth"))
    return unproject(points_2d, z)


def weak_perspective_project(
    points_3d: TensorLike, reference_depth: Optional[TensorLike] = None
) -> torch.Tensor:
    """Weak-perspective (scaled orthographic) projection ``(x, y) / z_ref``.

    Every joint of a pose is divided by the same depth ``z_ref``: the given ``reference_depth``,
    or by default the mean depth of the pose's joints. Exact when the pose is flat in depth.

    Args:
        points_3d: ``(..., J, 3)`` camera-frame points.
        reference_depth: optional ``(...)`` depth per pose (broadcast over joints).

    Returns:
        ``(..., J, 2)`` normalised image coordinates. No positivity check is made (no host
        synchronisation); a non-positive reference depth gives inf or mirrored points.
    """
    p = as_float(points_3d, "points_3d", (None, 3))
    if reference_depth is None:
        z = p[..., 2].mean(-1, keepdim=True)
    else:
        z = as_tensor(reference_depth, "reference_depth").to(p.dtype)
        if z.ndim > p.ndim - 2:
            raise ValueError(
                f"reference_depth: expected the batch shape {tuple(p.shape[:-2])} of points_3d, "
                f"got {tuple(z.shape)}"
            )
        z = z.unsqueeze(-1)
    return p[..., :2] / z.unsqueeze(-1)


def _intrinsic(value: Union[Number, TensorLike], name: str, like: torch.Tensor) -> torch.Tensor:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return like.new_full((), float(value))  # filled on the device, no host copy
    t = as_tensor(value, name).to(like.dtype)
    try:
        torch.broadcast_shapes(t.shape, like.shape)
    except RuntimeError as err:
        raise ValueError(
            f"{name}: shape {tuple(t.shape)} does not broadcast against points {tuple(like.shape)}; "
            "use (2,) for (fx, fy) / (cx, cy), or (B, 1, 2) per pose"
        ) from err
    return t


def pixels_to_normalized(
    points_px: TensorLike,
    focal: Union[Number, TensorLike],
    principal_point: Union[Number, TensorLike],
) -> torch.Tensor:
    """Pixel coordinates to normalised image coordinates ``(p - c) / f``.

    Args:
        points_px: ``(..., J, 2)`` pixel coordinates ``(u, v)`` (u right, v down).
        focal: focal length in pixels: a number, ``(2,)`` for ``(fx, fy)``, or any shape that
            broadcasts against ``points_px`` (e.g. ``(B, 1, 2)`` or ``(B, 1, 1)`` per pose).
        principal_point: ``(cx, cy)`` in pixels, same broadcasting rules.

    Returns:
        ``(..., J, 2)`` normalised coordinates (the ``(x/z, y/z)`` of :func:`project`).
    """
    p = as_float(points_px, "points_px", (None, 2))
    f = _intrinsic(focal, "focal", p)
    c = _intrinsic(principal_point, "principal_point", p)
    return (p - c) / f


def normalized_to_pixels(
    points: TensorLike,
    focal: Union[Number, TensorLike],
    principal_point: Union[Number, TensorLike],
) -> torch.Tensor:
    """Normalised image coordinates to pixels ``p f + c`` (inverse of :func:`pixels_to_normalized`).

    Args:
        points: ``(..., J, 2)`` normalised coordinates.
        focal: focal length in pixels (see :func:`pixels_to_normalized`).
        principal_point: ``(cx, cy)`` in pixels.

    Returns:
        ``(..., J, 2)`` pixel coordinates.
    """
    p = as_float(points, "points", (None, 2))
    f = _intrinsic(focal, "focal", p)
    c = _intrinsic(principal_point, "principal_point", p)
    return p * f + c
