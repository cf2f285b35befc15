"""The 2D pose discriminator of the adversarial lifting baseline (Yu et al., ICCV 2021;
Chen et al., CVPR 2019), trained with the least-squares GAN losses of :mod:`skelcl.losses`."""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from ._common import check_batchnorm_batch, check_pose_2d, flatten_batch, restore_batch
from .init import init_normal_weights
from .lifting import ResidualTrunk


class PoseDiscriminator(nn.Module):
    """Scores how real a normalised 2D pose looks: ``(..., J, 2) -> (...,)`` (unbounded score).

    Architecture (METHOD.md §2): input layer ``Linear(2J, C), ReLU`` (no BatchNorm),
    ``num_blocks`` :class:`~skelcl.models.residual_block.ResidualBlock` s with the raw pose on
    their shortcuts, then ``Linear(C, 1)``. Every ``Linear`` weight is drawn from
    ``N(0, 0.02²)``, biases are 0 (:func:`skelcl.models.init.init_normal_weights`). The score is a
    least-squares GAN output (no sigmoid): real -> 1, fake -> 0.

    BatchNorm inside the blocks normalises over every leading dimension flattened together; in
    training mode the batch must hold >= 2 poses. Score real and fake poses in separate calls (as
    the LSGAN losses do) or together, consistently.

    Args:
        num_joints: ``J`` (17).
        channels: width ``C`` (512 in OCR-Pose).
        num_blocks: residual blocks (2).
        dropout: dropout probability inside the blocks (0.25).
        init_std: standard deviation of the weight initialisation (0.02).
        check_inputs: check the input for NaN/inf on every call (a device sync).

    Example:
        >>> from skelcl.models import PoseDiscriminator
        >>> disc = PoseDiscriminator(channels=64).eval()
        >>> disc(torch.zeros(2, 5, 17, 2)).shape
        torch.Size([2, 5])
    """

    def __init__(
        self,
        num_joints: int = 17,
        channels: int = 512,
        num_blocks: int = 2,
        dropout: float = 0.25,
        init_std: float = 0.02,
        check_inputs: bool = True,
    ):
        super().__init__()
        self.num_joints = num_joints
        self.channels = channels
        self.check_inputs = check_inputs
        self.trunk = ResidualTrunk(
            num_joints, channels, num_blocks, dropout, input_batch_norm=False
        )
        self.head = nn.Linear(channels, 1)
        init_normal_weights(self, std=init_std)

    def forward(self, pose_2d: torch.Tensor) -> torch.Tensor:
        """Score poses ``(..., J, 2)``; returns ``(...,)``."""
        check_pose_2d(pose_2d, "pose_2d", self.num_joints, self, self.check_inputs)
        flat, spec = flatten_batch(pose_2d, "* j c")
        check_batchnorm_batch(self, flat.shape[0], "pose_2d")
        score = self.head(self.trunk(rearrange(flat, "n j c -> n (j c)")))
        return restore_batch(score[:, 0], spec, "*")


__all__ = ["PoseDiscriminator"]
