"""OCR-Pose's decoupled lifting encoder (Wang, Yu et al., ACM MM 2022, Sec. 3.3; METHOD.md §3).

The trunk's feature is split into a view-invariant, occlusion-aware feature ``f_occ`` and a
view-dependent rotation feature ``f_rot`` decoded to a rotation in SO(3); a depth head reads both.
The paper's text lost the architectural details; the choices below are ours and each is a
constructor argument.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from einops import rearrange
from torch import nn

from ..geometry import rotation_6d_to_matrix
from ._common import (
    DepthLifterMixin,
    check_batchnorm_batch,
    check_pose_2d,
    flatten_batch,
    restore_batch,
)
from .init import init_lifter_weights
from .lifting import ResidualTrunk
from .residual_block import ResidualBlock

_ROTATION_SIZES = {"6d": 6}
_DEPTH_INPUTS = ("rotation", "feature")


class DecoupledOutput(NamedTuple):
    """Output of :class:`DecoupledLiftingEncoder`."""

    #: relative depth per joint ``(..., J)`` (absolute ``z = max(1, d + D)``).
    depth: torch.Tensor
    #: view-invariant, occlusion-aware feature ``(..., occ_dim)`` (for TiCLR / VeCLR).
    f_occ: torch.Tensor
    #: view-dependent rotation feature ``(..., rot_dim)``.
    f_rot: torch.Tensor
    #: ``Rot(f_rot)``, the decoded rotation ``(..., 3, 3)`` in SO(3) (column-vector convention,
    #: METHOD.md §1).
    rotation: torch.Tensor


class DecoupledLiftingEncoder(DepthLifterMixin, nn.Module):
    """Lifter whose feature is decoupled into ``f_occ`` (view-invariant) and ``f_rot`` (rotation).

    Architecture (our choices where the paper is silent, METHOD.md §3):

    1. Trunk: ``Linear(2J, C), BN, ReLU, Dropout`` and ``num_blocks`` :class:`ResidualBlock` s
       with the raw 2D pose on every shortcut (as the baseline lifter).
    2. ``f_occ = Linear(C, occ_dim)(h)`` and ``f_rot = Linear(C, rot_dim)(h)``.
    3. ``Rot(f_rot)``: ``Linear(rot_dim, 6)`` then the 6D representation of Zhou et al. (CVPR 2019)
       through :func:`skelcl.geometry.rotation_6d_to_matrix` (Gram-Schmidt, always a proper
       rotation). The decoder's bias starts at the identity's 6D vector ``(1, 0, 0, 0, 1, 0)`` so
       that the initial rotations are near the identity and the Gram-Schmidt step is well
       conditioned.
    4. Depth head: reads ``concat(f_occ, vec(Rot(f_rot)))`` (``depth_input="rotation"``, default;
       it lets a user vary the rotation with ``f_occ`` fixed, as the paper's Fig. 6 does) or
       ``concat(f_occ, f_rot)`` (``depth_input="feature"``): ``Linear(., C), BN, ReLU, Dropout``,
       ``depth_head_blocks`` residual blocks (without the pose on the shortcut, so that the depth
       depends on the pose only through ``f_occ`` and ``f_rot``), then ``Linear(C, J)``.

    Any leading batch shape is accepted (flattened internally; BatchNorm in training mode needs
    >= 2 poses). Weights follow :func:`skelcl.models.init.init_lifter_weights`.

    Args:
        num_joints: ``J`` (17).
        channels: trunk and depth-head width ``C`` (512 in OCR-Pose).
        num_blocks: residual blocks of the trunk (4).
        occ_dim: dimension of ``f_occ`` (512 in OCR-Pose).
        rot_dim: dimension of ``f_rot`` (our choice: 128).
        dropout: dropout probability (0.25).
        rotation_representation: how ``f_rot`` is decoded; ``"6d"`` (the only one implemented).
        depth_input: ``"rotation"`` or ``"feature"``, see step 4.
        depth_head_blocks: residual blocks in the depth head (our choice: 1).
        check_inputs: check the input for NaN/inf on every call (a device sync).

    Example:
        >>> from skelcl.models import DecoupledLiftingEncoder
        >>> enc = DecoupledLiftingEncoder(channels=64, occ_dim=32, rot_dim=16).eval()
        >>> out = enc(torch.zeros(4, 17, 2))
        >>> out.depth.shape, out.f_occ.shape, out.rotation.shape
        (torch.Size([4, 17]), torch.Size([4, 32]), torch.Size([4, 3, 3]))
    """

    def __init__(
        self,
        num_joints: int = 17,
        channels: int = 512,
        num_blocks: int = 4,
        occ_dim: int = 512,
        rot_dim: int = 128,
        dropout: float = 0.25,
        rotation_representation: str = "6d",
        depth_input: str = "rotation",
        depth_head_blocks: int = 1,
        check_inputs: bool = True,
    ):
        super().__init__()
        if rotation_representation not in _ROTATION_SIZES:
            raise ValueError(
                f"rotation_representation: expected one of {tuple(_ROTATION_SIZES)}, got "
                f"{rotation_representation!r}"
            )
        if depth_input not in _DEPTH_INPUTS:
            raise ValueError(f"depth_input: expected one of {_DEPTH_INPUTS}, got {depth_input!r}")
        if occ_dim < 1 or rot_dim < 1 or depth_head_blocks < 0:
            raise ValueError(
                "occ_dim and rot_dim must be >= 1 and depth_head_blocks >= 0, got "
                f"{occ_dim}, {rot_dim}, {depth_head_blocks}"
            )
        self.num_joints = num_joints
        self.channels = channels
        self.occ_dim = occ_dim
        self.rot_dim = rot_dim
        self.rotation_representation = rotation_representation
        self.depth_input = depth_input
        self.check_inputs = check_inputs

        self.trunk = ResidualTrunk(num_joints, channels, num_blocks, dropout)
        self.occ_head = nn.Linear(channels, occ_dim)
        self.rot_head = nn.Linear(channels, rot_dim)
        self.rot_decoder = nn.Linear(rot_dim, _ROTATION_SIZES[rotation_representation])
        depth_in = occ_dim + (9 if depth_input == "rotation" else rot_dim)
        self.depth_input_layer = nn.Sequential(
            nn.Linear(depth_in, channels), nn.BatchNorm1d(channels), nn.ReLU(), nn.Dropout(dropout)
        )
        self.depth_blocks = nn.ModuleList(
            [ResidualBlock(channels, 0, dropout) for _ in range(depth_head_blocks)]
        )
        self.depth_out = nn.Linear(channels, num_joints)
        init_lifter_weights(self)
        with torch.no_grad():
            self.rot_decoder.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def _trunk(self, pose_2d: torch.Tensor):
        check_pose_2d(pose_2d, "pose_2d", self.num_joints, self, self.check_inputs)
        flat, spec = flatten_batch(pose_2d, "* j c")
        check_batchnorm_batch(self, flat.shape[0], "pose_2d")
        return self.trunk(rearrange(flat, "n j c -> n (j c)")), spec

    def decode_rotation(self, f_rot: torch.Tensor) -> torch.Tensor:
        """Decode rotation features ``(..., rot_dim)`` to rotations ``(..., 3, 3)`` in SO(3)."""
        return rotation_6d_to_matrix(self.rot_decoder(f_rot))

    def decode_depth(self, f_occ: torch.Tensor, rot_input: torch.Tensor) -> torch.Tensor:
        """Run the depth head alone.

        Args:
            f_occ: ``(N, occ_dim)``.
            rot_input: rotations ``(N, 3, 3)`` when ``depth_input == "rotation"``, else
                rotation features ``(N, rot_dim)``. Substituting another rotation for
                ``Rot(f_rot)`` here changes the view with the pose feature fixed.

        Returns:
            Relative depth ``(N, J)``.
        """
        if self.depth_input == "rotation":
            rot_input = rearrange(rot_input, "... r c -> ... (r c)")
        h = self.depth_input_layer(torch.cat([f_occ, rot_input], dim=-1))
        for block in self.depth_blocks:
            h = block(h, h.new_zeros(h.shape[:-1] + (0,)))
        return self.depth_out(h)

    def encode_occ(self, pose_2d: torch.Tensor) -> torch.Tensor:
        """Only the view-invariant feature ``f_occ`` ``(..., occ_dim)`` of poses ``(..., J, 2)``.

        Cheaper than :meth:`forward` (skips the rotation and depth heads); the contrastive losses
        (TiCLR, VeCLR) use it.
        """
        h, spec = self._trunk(pose_2d)
        return restore_batch(self.occ_head(h), spec, "* c")

    def forward(self, pose_2d: torch.Tensor) -> DecoupledOutput:
        """Lift normalised 2D poses ``(..., J, 2)``; returns a :class:`DecoupledOutput`."""
        h, spec = self._trunk(pose_2d)
        f_occ = self.occ_head(h)
        f_rot = self.rot_head(h)
        rotation = self.decode_rotation(f_rot)
        depth = self.decode_depth(f_occ, rotation if self.depth_input == "rotation" else f_rot)
        return DecoupledOutput(
            depth=restore_batch(depth, spec, "* j"),
            f_occ=restore_batch(f_occ, spec, "* c"),
            f_rot=restore_batch(f_rot, spec, "* c"),
            rotation=restore_batch(rotation, spec, "* r c"),
        )


__all__ = ["DecoupledLiftingEncoder", "DecoupledOutput"]
