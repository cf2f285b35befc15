"""Body-part masking: hide whole limbs (groups of the layout) at once."""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch import Tensor

from skelcl.augment.base import Augmenter, choose_k_of_n, randint
from skelcl.skeleton import H36M17, Skeleton

__all__ = ["BodyPartMask"]

LIMBS: tuple[str, ...] = ("left_arm", "right_arm", "left_leg", "right_leg")


class BodyPartMask(Augmenter):
    """Hide ``n ~ U{min_parts..max_parts}`` distinct whole body parts per sample.

    Args:
        max_parts: Largest number of parts hidden per sample.
        min_parts: Smallest number (default 0).
        parts: Group names of ``skeleton.groups`` to choose from (default the four limbs; on
            H36M-17 each limb has 3 joints).
        skeleton: Layout the pose follows (sets ``J`` and the groups).
        fill_value: Value of hidden coordinates.

    Example:
        >>> from skelcl.augment import BodyPartMask
        >>> aug = BodyPartMask(max_parts=1, min_parts=1)
        >>> _, vis = aug(torch.randn(4, 17, 2), generator=torch.Generator().manual_seed(0))
        >>> (~vis).sum(-1).tolist()
        [3, 3, 3, 3]
    """

    def __init__(
        self,
        max_parts: int = 1,
        min_parts: int = 0,
        parts: Sequence[str] = LIMBS,
        skeleton: Skeleton = H36M17,
        fill_value: float = 0.0,
    ) -> None:
        parts = tuple(parts)
        if not parts:
            raise ValueError("parts: expected at least one body-part name")
        groups = [skeleton.group(p) for p in parts]  # KeyError names the valid groups
        if not (0 <= int(min_parts) <= int(max_parts) <= len(parts)):
            raise ValueError(
                f"min_parts, max_parts: expected 0 <= min <= max <= {len(parts)} (parts), "
                f"got {min_parts}, {max_parts}"
            )
        super().__init__(skeleton.num_joints, fill_value)
        self.max_parts, self.min_parts = int(max_parts), int(min_parts)
        self.parts = parts
        member = torch.zeros(len(parts), skeleton.num_joints, dtype=torch.bool)
        for i, g in enumerate(groups):
            member[i, list(g)] = True
        self._membership = member  # (P, J)

    def sample_mask(
        self, pose: Tensor, generator: Optional[torch.Generator], visible: Tensor, **context: Any
    ) -> Tensor:
        batch = pose.shape[:-2]
        n = randint(self.min_parts, self.max_parts, batch, generator, pose.device)
        chosen = choose_k_of_n(n, len(self.parts), generator, pose.device)  # (..., P)
        member = self._membership.to(pose.device)
        return (chosen[..., :, None] & member).any(dim=-2)
