"""Common machinery of the occlusion augmenters: the :class:`Augmenter` protocol and combinators.

Every augmenter maps a pose ``(..., J, C)`` (any batch shape, any ``C``: 2D, 3D, with or without
a confidence channel) to ``(masked_pose, visible)``:

- ``visible`` ``(..., J)`` bool is the incoming visibility (all ``True`` when not given) with the
  newly occluded joints switched off;
- ``masked_pose`` equals the input **bit for bit** at visible joints and holds ``fill_value``
  (default ``0.0``, the convention of OCR-Pose's filling network: masked joints are zeroed and the
  mask is given alongside) at every invisible joint, including joints that were already invisible
  on input, so that no stale coordinates survive.

Randomness comes from an optional ``torch.Generator``; random numbers are drawn on the generator's
device and moved to the pose's device, so a seeded generator gives the same masks on any device.
All draws are vectorised over the batch (no Python loop over samples).

Pose values are checked only where they stay visible: NaN / inf at a joint that ends up masked
(e.g. a detector's missing joint below the confidence threshold) is allowed and replaced by the
fill value; NaN at a visible joint raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch import Tensor

from skelcl._validation import as_tensor

__all__ = ["Augmenter", "Compose", "RandomApply", "apply_visibility", "uniform", "randint"]


def uniform(shape: Sequence[int], generator: Optional[torch.Generator], device: torch.device) -> Tensor:
    """``U[0, 1)`` float32 draws of ``shape`` made on the generator's device, moved to ``device``."""
    gdev = generator.device if generator is not None else device
    return torch.rand(tuple(shape), generator=generator, device=gdev).to(device)


def randint(
    low: int, high: int, shape: Sequence[int], generator: Optional[torch.Generator], device: torch.device
) -> Tensor:
    """Integers uniform on ``{low, ..., high}`` (inclusive) of ``shape``, int64 on ``device``."""
    gdev = generator.device if generator is not None else device
    return torch.randint(low, high + 1, tuple(shape), generator=generator, device=gdev).to(device)


def choose_k_of_n(
    k: Tensor, n: int, generator: Optional[torch.Generator], device: torch.device
) -> Tensor:
    """For each entry of ``k`` ``(...)`` pick ``k`` distinct items of ``n`` uniformly: ``(..., n)`` bool.

    Random keys are ranked (double ``argsort``); the items of rank ``< k`` are chosen.
    """
    keys = uniform((*k.shape, n), generator, device)
    rank = keys.argsort(dim=-1).argsort(dim=-1)
    return rank < k[..., None]


def apply_visibility(pose: Tensor, visible: Tensor, fill_value: float = 0.0) -> Tensor:
    """Keep ``pose`` ``(..., J, C)`` where ``visible`` ``(..., J)`` and put ``fill_value`` elsewhere."""
    # a Python scalar, not a tensor made from it: no host-to-device copy per call
    return torch.where(visible[..., None], pose, float(fill_value))


class Augmenter:
    """Base class: subclasses implement :meth:`sample_mask`; ``__call__`` validates and applies it.

    Args:
        num_joints: Required joint count ``J`` (``None``: any).
        fill_value: Value written into every coordinate of an invisible joint.
    """

    #: Keys of the ``**context`` this augmenter reads (documentation and error messages).
    context_keys: tuple[str, ...] = ()

    def __init__(self, num_joints: Optional[int] = None, fill_value: float = 0.0) -> None:
        self.num_joints = num_joints
        self.fill_value = float(fill_value)

    def sample_mask(
        self, pose: Tensor, generator: Optional[torch.Generator], visible: Tensor, **context: Any
    ) -> Tensor:
        """Joints to occlude, ``(..., J)`` bool (before combining with ``visible``)."""
        raise NotImplementedError

    def prepare(self, pose: Any, visible: Optional[Tensor]) -> tuple[Tensor, Tensor]:
        """Validate ``pose`` ``(..., J, C)`` and ``visible`` ``(..., J)``; return both as tensors."""
        pose = as_tensor(pose, "pose")
        if pose.ndim < 2:
            raise ValueError(f"pose: expected shape (..., J, C), got {tuple(pose.shape)}")
        if self.num_joints is not None and pose.shape[-2] != self.num_joints:
            raise ValueError(
                f"pose: expected shape (..., {self.num_joints}, C) for this augmenter's layout, "
                f"got {tuple(pose.shape)}"
            )
        if visible is None:
            visible = torch.ones(pose.shape[:-1], dtype=torch.bool, device=pose.device)
        else:
            if not isinstance(visible, Tensor) or visible.dtype != torch.bool:
                raise TypeError("visible: expected a torch.bool tensor")
            if visible.shape != pose.shape[:-1]:
                raise ValueError(
                    f"visible: expected shape {tuple(pose.shape[:-1])} (pose without its last "
                    f"axis), got {tuple(visible.shape)}"
                )
            visible = visible.to(pose.device)
        return pose, visible

    def __call__(
        self,
        pose: Tensor,
        generator: Optional[torch.Generator] = None,
        visible: Optional[Tensor] = None,
        *,
        validate: bool = True,
        **context: Any,
    ) -> tuple[Tensor, Tensor]:
        """Occlude joints of ``pose``.

        Args:
            pose: ``(..., J, C)``.
            generator: Source of randomness (``None``: the global RNG).
            visible: Incoming visibility ``(..., J)`` bool (default all visible).
            validate: Check that no NaN / inf stays visible. The check reads a value back to the
                host (a device sync); training loops on a GPU pass ``False``.
            **context: Extra inputs some augmenters read (``confidence``, ``points_3d``,
                ``rotation``); others ignore them.

        Returns:
            ``(masked_pose (..., J, C), visible (..., J) bool)``.

        Raises:
            ValueError: On a wrong joint count, mismatched ``visible`` / context shapes or NaN /
                inf coordinates at joints that stay visible.
        """
        pose, visible = self.prepare(pose, visible)
        hide = self.sample_mask(pose, generator, visible, **context)
        vis = visible & ~hide
        if validate and not bool((torch.isfinite(pose).all(-1) | ~vis).all()):
            raise ValueError("pose: contains NaN or inf at joints that stay visible")
        return apply_visibility(pose, vis, self.fill_value), vis

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"


class Compose(Augmenter):
    """Apply several augmenters in sequence (each sees the visibility left by the previous).

    Args:
        augmenters: The steps, applied in order.
        fill_value: Fill of the final output (the steps' own fill values are not used).

    Example:
        >>> from skelcl.augment import Compose, RandomJointMask, RandomApply
        >>> aug = Compose([RandomJointMask(max_joints=3), RandomApply(RandomJointMask(1, 1), p=0.1)])
    """

    def __init__(self, augmenters: Sequence[Augmenter], fill_value: float = 0.0) -> None:
        augmenters = list(augmenters)
        for i, a in enumerate(augmenters):
            if not isinstance(a, Augmenter):
                raise TypeError(f"augmenters[{i}]: expected an Augmenter, got {type(a).__name__}")
        sizes = {a.num_joints for a in augmenters} - {None}
        if len(sizes) > 1:
            raise ValueError(f"augmenters: steps expect different joint counts {sorted(sizes)}")
        super().__init__(sizes.pop() if sizes else None, fill_value)
        self.augmenters = augmenters

    def sample_mask(
        self, pose: Tensor, generator: Optional[torch.Generator], visible: Tensor, **context: Any
    ) -> Tensor:
        vis = visible
        for a in self.augmenters:
            vis = vis & ~a.sample_mask(pose, generator, vis, **context)
        return visible & ~vis


class RandomApply(Augmenter):
    """Apply ``augmenter`` to a random fraction ``p`` of the samples (e.g. 10 % of the poses).

    Each sample (each index of the batch shape ``...``) is selected independently with
    probability ``p``; unselected samples keep their visibility. The inner augmenter's draws are
    made for the whole batch, so the result is deterministic under a seeded generator.

    Args:
        augmenter: The occlusion to apply.
        p: Probability in ``[0, 1]``.
    """

    def __init__(self, augmenter: Augmenter, p: float = 0.1) -> None:
        if not isinstance(augmenter, Augmenter):
            raise TypeError(f"augmenter: expected an Augmenter, got {type(augmenter).__name__}")
        if not (isinstance(p, (int, float)) and 0.0 <= p <= 1.0):
            raise ValueError(f"p: expected a probability in [0, 1], got {p!r}")
        super().__init__(augmenter.num_joints, augmenter.fill_value)
        self.augmenter = augmenter
        self.p = float(p)

    def sample_mask(
        self, pose: Tensor, generator: Optional[torch.Generator], visible: Tensor, **context: Any
    ) -> Tensor:
        chosen = uniform(pose.shape[:-2], generator, pose.device) < self.p
        return self.augmenter.sample_mask(pose, generator, visible, **context) & chosen[..., None]
