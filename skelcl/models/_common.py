"""Private helpers shared by the networks: flattening leading batch dimensions and input checks."""

from __future__ import annotations

import math
from typing import Tuple

import torch

from .._validation import check_finite, check_float, check_shape
from ..geometry import depth_to_points


def flatten_batch(x: torch.Tensor, pattern: str) -> Tuple[torch.Tensor, torch.Size]:
    """Merge every leading dimension of ``x`` into one batch dimension.

    ``pattern`` names the trailing dimensions after a ``*`` for the leading ones, e.g.
    ``"* j c"``: ``(..., J, C) -> (N, J, C)``. A tensor without leading dimensions becomes a
    batch of one. Returns the flattened tensor and the leading shape for :func:`restore_batch`.
    """
    n_trailing = len(pattern.split()) - 1
    lead = x.shape[: x.ndim - n_trailing]
    return x.reshape((math.prod(lead),) + x.shape[x.ndim - n_trailing :]), lead


def restore_batch(y: torch.Tensor, lead: torch.Size, pattern: str) -> torch.Tensor:
    """Inverse of :func:`flatten_batch`: ``(N, *trailing) -> (*lead, *trailing)``.

    ``pattern`` (e.g. ``"* j"``) documents the output's trailing dimensions.
    """
    return y.reshape(tuple(lead) + y.shape[1:])


def check_pose_2d(
    pose_2d: torch.Tensor,
    name: str,
    num_joints: int,
    reference: torch.nn.Module,
    check_values: bool,
) -> torch.Tensor:
    """Validate a network's 2D input ``(..., J, 2)`` against the module's joints and dtype.

    Shape and dtype checks are metadata-only (no device sync). The NaN/inf check synchronises with
    the device, so it runs only when ``check_values`` is true and not while ``torch.compile`` is
    tracing.
    """
    check_float(pose_2d, name)
    check_shape(pose_2d, name, (num_joints, 2))
    param = next(reference.parameters(), None)
    if param is not None and pose_2d.dtype != param.dtype:
        raise TypeError(
            f"{name}: expected dtype {param.dtype} (the dtype of the network's parameters), got "
            f"{pose_2d.dtype}; convert the input or the network (e.g. `.double()`)"
        )
    if check_values and not torch.compiler.is_compiling():
        check_finite(pose_2d, name)
    return pose_2d


def check_batchnorm_batch(module: torch.nn.Module, batch: int, name: str) -> None:
    """Raise a clear error when BatchNorm would see fewer than two samples in training mode."""
    if module.training and batch < 2:
        raise ValueError(
            f"{name}: BatchNorm in training mode needs at least 2 samples, got a batch of {batch}; "
            "call `.eval()` to use the running statistics"
        )


class DepthLifterMixin:
    """Adds :meth:`lift` to a network whose output has a relative ``depth`` field ``(..., J)``."""

    def lift(
        self, pose_2d: torch.Tensor, distance: float = 10.0, min_depth: float = 1.0
    ) -> torch.Tensor:
        """Lift normalised 2D poses ``(..., J, 2)`` to 3D camera-frame joints ``(..., J, 3)``.

        Runs the network and applies :func:`skelcl.geometry.depth_to_points`:
        ``z = max(min_depth, d + distance)``, joint ``(x z, y z, z)``.

        Args:
            pose_2d: normalised 2D poses ``(..., J, 2)`` (METHOD.md §1).
            distance: camera constant ``D`` (10 in OCR-Pose).
            min_depth: lower bound of the absolute depth (1 in OCR-Pose).
        """
        depth = self(pose_2d).depth
        return depth_to_points(pose_2d, depth, distance=distance, min_depth=min_depth)
