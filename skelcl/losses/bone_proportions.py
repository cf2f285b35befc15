"""A bone-proportion prior whose target is read off the 2D data: no 3D, no lifter in the loop.

A bone's image is never longer than the bone (at the perspective scale of its frame), and it is
as long as the bone when the bone lies parallel to the image plane. Seen in enough frames from
enough directions, the longest image of each bone therefore approaches the bone's length, up to
the one scale of the frames. :func:`bone_proportions_from_2d` takes, for every person (a group of
2D poses, e.g. a clip), the longest image of each bone, makes those lengths relative to their
mean (:func:`~skelcl.losses.relative_bone_lengths`' convention: the entries average to 1), and
returns the median over the people: one set of proportions for the population. The estimate is
biased short for bones that seldom lie parallel to the image plane in a group's frames, and noisy
for groups of few poses (hence ``min_poses``).

:func:`bone_proportion_loss` compares a lifted pose's relative bone lengths with such a target.
A bone of known length with a known 2D image has a depth offset of known magnitude (Taylor, CVPR
2000), so the prior constrains the size of each bone's depth offset, not its sign. Bone-length
priors of this kind are common in lifting (e.g. the kinematic-chain-space priors of Wandt &
Rosenhahn, CVPR 2019); estimating the target from the longest 2D image per person is our choice.

Conventions: poses ``(..., J, C)``; bone ``b`` joins joint ``child`` to its parent, in the order of
:meth:`~skelcl.skeleton.Skeleton.bones`; lengths are relative to the pose's mean bone length, so
every quantity here is free of units and of the pose's scale.
"""

from __future__ import annotations

from typing import Optional, Union

import torch

from .._validation import check_finite, check_layout_pose
from ..skeleton import Skeleton, get_layout
from ..skeleton.layouts import H36M17
from ..skeleton.ops import bone_lengths
from .bone_consistency import check_bone_mask, check_poses_usable, reduce_bone_errors, relative_bone_lengths

__all__ = ["bone_proportions_from_2d", "bone_proportion_loss"]


def _bone_mask(visible: torch.Tensor, sk: Skeleton) -> torch.Tensor:
    child = torch.tensor([c for c, _ in sk.bones()], device=visible.device)
    parent = torch.tensor([p for _, p in sk.bones()], device=visible.device)
    return visible[..., child] & visible[..., parent]


def bone_proportions_from_2d(
    poses_2d: torch.Tensor,
    groups: torch.Tensor,
    visible: Optional[torch.Tensor] = None,
    layout: Union[str, Skeleton] = H36M17,
    min_poses: int = 10,
) -> torch.Tensor:
    """Population bone proportions estimated from 2D poses of people seen from many directions.

    For each group (one person: e.g. the frames of one clip) with at least ``min_poses`` poses,
    the longest image of every bone over the group's poses where both its joints are visible;
    those lengths divided by their mean; then the median over the groups, per bone, divided by
    its mean again. A group that never shows some bone does not count.

    Args:
        poses_2d: ``(N, J, 2)`` 2D poses in one image unit (pixels, or normalised camera
            coordinates); perspective images of people at similar distances.
        groups: ``(N,)`` integer label per pose (equal labels: one person).
        visible: optional ``(N, J)`` bool, the joints the data has (default all).
        layout: the joint layout (default H36M-17).
        min_poses: groups with fewer poses are left out (their longest image is a poor
            estimate); ``>= 1``.

    Returns:
        ``(J - 1,)`` relative bone lengths (average 1), in the dtype and on the device of
        ``poses_2d``.

    Raises:
        TypeError: ``poses_2d`` is not a floating-point tensor.
        ValueError: wrong shapes, non-finite poses, ``min_poses < 1``, or no group with
            ``min_poses`` poses that shows every bone.

    Example:
        >>> import torch
        >>> from skelcl.geometry import random_rotation
        >>> from skelcl.losses import bone_proportions_from_2d, relative_bone_lengths
        >>> g = torch.Generator().manual_seed(0)
        >>> body = torch.randn(1, 17, 3, generator=g, dtype=torch.float64)
        >>> seen = body @ random_rotation(400, generator=g, dtype=torch.float64).mT  # 400 views
        >>> est = bone_proportions_from_2d(seen[..., :2], torch.zeros(400, dtype=torch.long))
        >>> bool((est - relative_bone_lengths(body[0])).abs().max() < 0.02)
        True
    """
    sk = get_layout(layout)
    check_layout_pose(poses_2d, "poses_2d", sk.num_joints, sk.name, channels=(2,))
    if poses_2d.dim() != 3 or poses_2d.shape[0] == 0:
        raise ValueError(f"poses_2d: expected a non-empty (N, {sk.num_joints}, 2) tensor, "
                         f"got {tuple(poses_2d.shape)}")
    n = poses_2d.shape[0]
    if (not isinstance(groups, torch.Tensor) or groups.is_floating_point() or groups.dtype == torch.bool
            or tuple(groups.shape) != (n,)):
        raise ValueError(f"groups: expected an integer tensor of shape ({n},), got "
                         f"{getattr(groups, 'dtype', type(groups).__name__)} "
                         f"{tuple(getattr(groups, 'shape', ()))}")
    if visible is None:
        visible = torch.ones(poses_2d.shape[:-1], dtype=torch.bool, device=poses_2d.device)
    if (not isinstance(visible, torch.Tensor) or visible.dtype != torch.bool
            or tuple(visible.shape) != (n, sk.num_joints)):
        raise ValueError(f"visible: expected a bool tensor of shape ({n}, {sk.num_joints}), got "
                         f"{tuple(getattr(visible, 'shape', ()))}")
    if not isinstance(min_poses, int) or min_poses < 1:
        raise ValueError(f"min_poses: expected an integer >= 1, got {min_poses!r}")
    check_finite(poses_2d, "poses_2d")
    _, index, counts = torch.unique(groups.to(poses_2d.device), return_inverse=True, return_counts=True)
    shown = _bone_mask(visible, sk)  # (N, B)
    lengths = torch.where(shown, bone_lengths(poses_2d, sk), torch.full_like(poses_2d[..., 0, 0:1], -1.0))
    longest = torch.full((counts.numel(), sk.num_joints - 1), -1.0, dtype=poses_2d.dtype,
                         device=poses_2d.device)
    longest = longest.scatter_reduce(0, index[:, None].expand_as(lengths), lengths, reduce="amax")
    usable = (counts >= min_poses) & (longest > 0).all(dim=1)
    if not bool(usable.any()):
        raise ValueError(f"groups: no group has min_poses={min_poses} poses and shows every bone "
                         f"(largest group: {int(counts.max())} poses)")
    per_group = longest[usable] / longest[usable].mean(dim=1, keepdim=True)
    est = torch.quantile(per_group, 0.5, dim=0)  # the middle two averaged for an even count
    return est / est.mean()


def bone_proportion_loss(
    pose: torch.Tensor,
    target: torch.Tensor,
    layout: Union[str, Skeleton] = H36M17,
    valid: Optional[torch.Tensor] = None,
    reduction: str = "mean",
    validate: bool = True,
) -> torch.Tensor:
    """``|relative_bone_lengths(pose) - target|`` per bone: 0 for a pose with the target's
    proportions, whatever its articulation, view, position or size.

    Args:
        pose: ``(..., J, C)`` poses (``C`` = 2 or 3, any unit).
        target: ``(J - 1,)`` or ``(..., J - 1)`` relative bone lengths (e.g.
            :func:`bone_proportions_from_2d`), broadcast against the poses; the gradient reaches
            it only if it requires one (pass a detached tensor for a fixed target).
        layout: the joint layout (default H36M-17).
        valid: optional ``(..., J - 1)`` bool, the bones that count (e.g. both joints in the
            data); the mean then runs over them only (0 if there are none).
        reduction: ``"mean"`` (scalar) or ``"none"`` (``(..., J - 1)``, zero where not valid).
        validate: refuse empty batches and non-finite poses (a host synchronisation; training
            loops that check their losses themselves pass ``False``).

    Raises:
        TypeError: ``pose`` is not a floating-point tensor.
        ValueError: wrong shapes, an unknown ``reduction``, an empty batch or non-finite values.

    Example:
        >>> import torch
        >>> from skelcl.losses import bone_proportion_loss, relative_bone_lengths
        >>> pose = torch.randn(4, 17, 3)
        >>> float(bone_proportion_loss(pose, relative_bone_lengths(pose[0]))) > 0
        True
        >>> float(bone_proportion_loss(pose[:1], relative_bone_lengths(pose[0]))) < 1e-6
        True
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction: expected 'mean' or 'none', got {reduction!r}")
    sk = get_layout(layout)
    check_layout_pose(pose, "pose", sk.num_joints, sk.name)
    bones_shape = (*pose.shape[:-2], sk.num_joints - 1)
    if not isinstance(target, torch.Tensor) or target.shape[-1:] != (sk.num_joints - 1,):
        raise ValueError(f"target: expected a tensor of shape (..., {sk.num_joints - 1}), got "
                         f"{tuple(getattr(target, 'shape', ()))}")
    try:
        torch.broadcast_shapes(tuple(target.shape), bones_shape)
    except RuntimeError:
        raise ValueError(f"target: shape {tuple(target.shape)} does not broadcast to "
                         f"{bones_shape}") from None
    check_bone_mask(valid, bones_shape)
    if validate:
        check_poses_usable(("pose", pose), ("target", target))
    diff = (relative_bone_lengths(pose, sk) - target.to(pose)).abs().expand(bones_shape)
    return reduce_bone_errors(diff, valid, reduction)
