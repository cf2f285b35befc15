"""The residual MLP block of the unsupervised lifting baseline (Yu et al., ICCV 2021; Chen et al.,
CVPR 2019; after Martinez et al., ICCV 2017), with the raw 2D pose fed to every shortcut."""

from __future__ import annotations

import torch
from torch import nn

from .._validation import check_shape
from ._common import flatten_batch, restore_batch


class ResidualBlock(nn.Module):
    """Two ``[Linear, BatchNorm1d, ReLU, Dropout]`` layers plus a pose-conditioned shortcut.

    ``out = main(x) + shortcut(concat(x, pose))`` where ``main`` is
    ``[Linear(C, C), BN, ReLU, Dropout] x 2`` and ``shortcut`` is ``Linear(C + P, C)`` applied to
    the block input concatenated with the raw flattened 2D pose (``P = 2 J``), as METHOD.md §2
    specifies. No activation follows the sum.

    BatchNorm normalises over every leading (batch) dimension flattened together; in training mode
    that batch must hold at least two samples (torch raises otherwise); in eval mode the running
    statistics are used and any batch shape works.

    Args:
        channels: feature width ``C``.
        pose_dim: length ``P`` of the flattened pose fed to the shortcut (``2 J``).
        dropout: dropout probability of both layers (0.25 in the baseline).
        batch_norm: use BatchNorm in the main path (``True`` for the lifter and the
            discriminator's blocks).

    Shapes:
        - ``x``: ``(..., C)``; ``pose_flat``: ``(..., P)`` with the same leading shape.
        - output: ``(..., C)``.
    """

    def __init__(
        self, channels: int, pose_dim: int, dropout: float = 0.25, batch_norm: bool = True
    ):
        super().__init__()
        if channels < 1 or pose_dim < 0:
            raise ValueError(f"channels must be >= 1 and pose_dim >= 0, got {channels}, {pose_dim}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout}")
        self.channels = channels
        self.pose_dim = pose_dim

        def layer() -> list:
            mods: list = [nn.Linear(channels, channels)]
            if batch_norm:
                mods.append(nn.BatchNorm1d(channels))
            mods += [nn.ReLU(), nn.Dropout(dropout)]
            return mods

        self.main = nn.Sequential(*layer(), *layer())
        self.shortcut = nn.Linear(channels + pose_dim, channels)

    def forward(self, x: torch.Tensor, pose_flat: torch.Tensor) -> torch.Tensor:
        """Apply the block; see the class docstring for shapes."""
        check_shape(x, "x", (self.channels,))
        check_shape(pose_flat, "pose_flat", (self.pose_dim,))
        if x.shape[:-1] != pose_flat.shape[:-1]:
            raise ValueError(
                f"pose_flat: expected leading shape {tuple(x.shape[:-1])} (that of x), got "
                f"{tuple(pose_flat.shape[:-1])}"
            )
        xf, spec = flatten_batch(x, "* c")
        pf, _ = flatten_batch(pose_flat, "* p")
        out = self.main(xf) + self.shortcut(torch.cat([xf, pf], dim=-1))
        return restore_batch(out, spec, "* c")
