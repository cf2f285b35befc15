"""The plain lifting network of the unsupervised baseline (Yu et al., ICCV 2021; Chen et al.,
CVPR 2019): normalised 2D pose -> relative depth per joint."""

from __future__ import annotations

from typing import NamedTuple

import torch
from einops import rearrange
from torch import nn

from ._common import (
    DepthLifterMixin,
    check_batchnorm_batch,
    check_pose_2d,
    flatten_batch,
    restore_batch,
)
from .init import init_lifter_weights
from .residual_block import ResidualBlock


class LiftingOutput(NamedTuple):
    """Output of :class:`LiftingNetwork`."""

    #: relative depth ``d`` per joint, ``(..., J)``; the absolute depth is ``z = max(1, d + D)``
    #: with the camera constant ``D = 10`` (METHOD.md §1).
    depth: torch.Tensor
    #: the trunk's last feature vector, ``(..., C)`` (for contrastive heads).
    features: torch.Tensor


class ResidualTrunk(nn.Module):
    """Input layer followed by :class:`ResidualBlock` s, each fed the raw flattened 2D pose.

    The input layer is ``Linear(2J, C)`` then (optionally) ``BatchNorm1d``, ``ReLU`` and
    ``Dropout``. Operates on already flattened tensors: ``pose_flat (N, 2J) -> (N, C)``.

    Args:
        num_joints: ``J``.
        channels: ``C``.
        num_blocks: number of residual blocks.
        dropout: dropout probability.
        input_batch_norm: use BatchNorm (and dropout) in the input layer (``False`` for the
            discriminator, METHOD.md §2).
    """

    def __init__(
        self,
        num_joints: int,
        channels: int,
        num_blocks: int,
        dropout: float = 0.25,
        input_batch_norm: bool = True,
    ):
        super().__init__()
        if num_joints < 1 or channels < 1 or num_blocks < 0:
            raise ValueError(
                "num_joints and channels must be >= 1 and num_blocks >= 0, got "
                f"{num_joints}, {channels}, {num_blocks}"
            )
        pose_dim = 2 * num_joints
        layers: list = [nn.Linear(pose_dim, channels)]
        if input_batch_norm:
            layers += [nn.BatchNorm1d(channels), nn.ReLU(), nn.Dropout(dropout)]
        else:
            layers.append(nn.ReLU())
        self.input_layer = nn.Sequential(*layers)
        self.blocks = nn.ModuleList(
            [ResidualBlock(channels, pose_dim, dropout) for _ in range(num_blocks)]
        )

    def forward(self, pose_flat: torch.Tensor) -> torch.Tensor:
        """Map ``(N, 2J)`` flattened poses to ``(N, C)`` features."""
        h = self.input_layer(pose_flat)
        for block in self.blocks:
            h = block(h, pose_flat)
        return h


class LiftingNetwork(DepthLifterMixin, nn.Module):
    """Baseline lifter: input layer, ``num_blocks`` residual blocks, a linear depth head.

    ``(..., J, 2)`` normalised 2D pose -> :class:`LiftingOutput` with the relative depth
    ``(..., J)`` and the trunk features ``(..., C)``. Any leading batch shape is accepted (flattened
    internally, BatchNorm normalises over all of it; in training mode it must hold >= 2 poses).
    Weights follow :func:`skelcl.models.init.init_lifter_weights`.

    Args:
        num_joints: ``J`` (17 for Human3.6M).
        channels: feature width ``C`` (OCR-Pose: 512; Yu et al.'s baseline: 1024).
        num_blocks: residual blocks (4).
        dropout: dropout probability (0.25).
        check_inputs: check the input for NaN/inf on every call (a device sync; turn off in hot
            training loops). Shapes and dtypes are always checked.

    Example:
        >>> from skelcl.models import LiftingNetwork
        >>> net = LiftingNetwork(num_joints=17, channels=64).eval()
        >>> net(torch.zeros(8, 17, 2)).depth.shape
        torch.Size([8, 17])
    """

    def __init__(
        self,
        num_joints: int = 17,
        channels: int = 512,
        num_blocks: int = 4,
        dropout: float = 0.25,
        check_inputs: bool = True,
    ):
        super().__init__()
        self.num_joints = num_joints
        self.channels = channels
        self.check_inputs = check_inputs
        self.trunk = ResidualTrunk(num_joints, channels, num_blocks, dropout)
        self.depth_head = nn.Linear(channels, num_joints)
        init_lifter_weights(self)

    def forward(self, pose_2d: torch.Tensor) -> LiftingOutput:
        """Predict the relative depth of every joint; see the class docstring."""
        check_pose_2d(pose_2d, "pose_2d", self.num_joints, self, self.check_inputs)
        flat, spec = flatten_batch(pose_2d, "* j c")
        check_batchnorm_batch(self, flat.shape[0], "pose_2d")
        flat = rearrange(flat, "n j c -> n (j c)")
        h = self.trunk(flat)
        depth = self.depth_head(h)
        return LiftingOutput(
            depth=restore_batch(depth, spec, "* j"),
            features=restore_batch(h, spec, "* c"),
        )


__all__ = ["LiftingNetwork", "LiftingOutput", "ResidualTrunk"]
