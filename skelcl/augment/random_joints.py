"""Random joint masking: ``n ~ U{min..max}`` distinct joints per sample from a candidate set."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from skelcl.augment._layout import JointSpec, resolve_joints
from skelcl.augment.base import Augmenter, choose_k_of_n, randint
from skelcl.skeleton import H36M17, Skeleton

__all__ = ["RandomJointMask"]


class RandomJointMask(Augmenter):
    """Hide ``n`` distinct random joints per sample, ``n`` uniform on ``{min_joints..max_joints}``.

    OCR-Pose's occlusion simulation (METHOD.md §3): ``n ~ U{0..N}`` with ``N = 3`` in the main
    table, chosen among the joints that can be occluded (the limbs by default).

    Args:
        max_joints: Largest ``n`` (``N``); at most the number of candidates.
        min_joints: Smallest ``n`` (default 0: some samples stay complete).
        candidates: Joints that may be hidden: ``None`` for the layout's ``"limbs"`` group
            (H36M-17: hips, knees, ankles, shoulders, elbows, wrists), a group name of
            ``skeleton.groups``, or explicit indices.
        skeleton: Layout the pose follows (sets ``J``); ``None`` accepts any ``J`` larger than
            the largest candidate index (explicit ``candidates`` required).
        fill_value: Value of hidden coordinates.

    The draw is vectorised: ``n`` per sample, then independent random keys per candidate whose
    ``n`` smallest are hidden (a uniformly random ``n``-subset). Joints already invisible on input
    may be drawn again, so the number of *newly* hidden joints can be smaller than ``n``.

    Example:
        >>> from skelcl.augment import RandomJointMask
        >>> aug = RandomJointMask(max_joints=3)
        >>> pose, vis = aug(torch.randn(8, 17, 2), generator=torch.Generator().manual_seed(0))
        >>> bool(((~vis).sum(-1) <= 3).all())
        True
    """

    def __init__(
        self,
        max_joints: int = 3,
        min_joints: int = 0,
        candidates: JointSpec = None,
        skeleton: Optional[Skeleton] = H36M17,
        fill_value: float = 0.0,
    ) -> None:
        if skeleton is None and (candidates is None or isinstance(candidates, str)):
            raise ValueError("candidates: explicit joint indices are required when skeleton=None")
        cand = resolve_joints(candidates, skeleton, "candidates")
        if not (0 <= int(min_joints) <= int(max_joints) <= len(cand)):
            raise ValueError(
                f"min_joints, max_joints: expected 0 <= min <= max <= {len(cand)} (candidates), "
                f"got {min_joints}, {max_joints}"
            )
        super().__init__(skeleton.num_joints if skeleton is not None else None, fill_value)
        self.max_joints, self.min_joints = int(max_joints), int(min_joints)
        self.candidates = cand

    def _candidate_index(self, device: torch.device) -> Tensor:
        """The candidates as a long tensor on ``device``, copied there once (no per-call copy)."""
        cache = self.__dict__.setdefault("_index_cache", {})
        if device not in cache:
            cache[device] = torch.tensor(self.candidates, dtype=torch.long, device=device)
        return cache[device]

    def sample_mask(
        self, pose: Tensor, generator: Optional[torch.Generator], visible: Tensor, **context: Any
    ) -> Tensor:
        j = pose.shape[-2]
        if self.candidates and max(self.candidates) >= j:
            raise ValueError(f"pose: candidate joint {max(self.candidates)} outside J = {j}")
        batch = pose.shape[:-2]
        n = randint(self.min_joints, self.max_joints, batch, generator, pose.device)
        chosen = choose_k_of_n(n, len(self.candidates), generator, pose.device)
        hide = torch.zeros(*batch, j, dtype=torch.bool, device=pose.device)
        hide[..., self._candidate_index(pose.device)] = chosen
        return hide
