"""Bone-length consistency: two poses of the same body have the same bone proportions.

A person's bones do not change length from frame to frame, whichever camera sees them. A lifter
trained only through 2D projections is not told so: it may give a forearm a long depth offset in
one frame and a short one in the next, as long as each frame's projections and the
discriminator are satisfied. The prior below compares the bone lengths of two lifted poses of the
same body (two frames of one video, or one frame seen by two cameras) and penalises their
difference. It needs no 3D ground truth, only to know which 2D poses belong to one person; it
constrains the size of each bone's depth offset (a bone of known length and known 2D length has
a depth offset of known magnitude, Taylor, CVPR 2000), not its sign.

Bone-length constancy is a standard constraint on lifted sequences (e.g. the bone-length terms
of Pavllo et al., CVPR 2019, semi-supervised VideoPose3D; Kundu et al., CVPR 2020); this
scale-free, two-pose form and its use in OCR-Pose (``loss.w_bone``) are our addition.

Conventions: poses ``(..., J, C)`` in any frame and unit (``C`` = 2 or 3); bone ``b`` is the
segment from joint ``child`` to its parent, in the order of
:meth:`~skelcl.skeleton.Skeleton.bones`. Lengths are compared relative to each pose's mean bone
length, so the loss is invariant to a rotation, translation or scale of either pose on its own
(two cameras at different distances give lifted poses of different sizes).
"""

from __future__ import annotations

from typing import Optional, Union

import torch

from .._validation import check_layout_pose
from ..skeleton import Skeleton, get_layout
from ..skeleton.layouts import H36M17
from ..skeleton.ops import bone_lengths

__all__ = ["relative_bone_lengths", "bone_length_consistency_loss"]


def relative_bone_lengths(pose: torch.Tensor, layout: Union[str, Skeleton] = H36M17) -> torch.Tensor:
    """Bone lengths divided by the pose's mean bone length: ``(..., J, C) -> (..., J - 1)``.

    Invariant to rotating, translating and scaling the pose; the entries average to 1. A pose
    whose bones all have zero length (degenerate) gives zeros, not NaN.

    Example:
        >>> import torch
        >>> from skelcl.losses import relative_bone_lengths
        >>> from skelcl.skeleton.layouts import H36M17
        >>> pose = torch.zeros(17, 3)
        >>> for j in range(1, 17):  # every bone 1 long except the left forearm, 2.6 long
        ...     pose[j] = pose[H36M17.parents[j]] + torch.tensor([0.0, 1.0, 0.0])
        >>> pose[13] = pose[12] + torch.tensor([0.0, 0.0, 2.6])
        >>> relative_bone_lengths(pose)[12].item()  # 2.6 / (17.6 / 16)
        2.3636362552642822
    """
    sk = get_layout(layout)
    check_layout_pose(pose, "pose", sk.num_joints, sk.name)
    lengths = bone_lengths(pose, sk)
    mean = lengths.mean(dim=-1, keepdim=True).clamp_min(torch.finfo(pose.dtype).tiny)
    return lengths / mean


def bone_length_consistency_loss(
    pose_a: torch.Tensor,
    pose_b: torch.Tensor,
    layout: Union[str, Skeleton] = H36M17,
    valid: Optional[torch.Tensor] = None,
    reduction: str = "mean",
    validate: bool = True,
) -> torch.Tensor:
    """``|relative_bone_lengths(a) - relative_bone_lengths(b)|`` per bone: 0 for two poses of one
    skeleton, whatever their articulation, view, position or size.

    Args:
        pose_a, pose_b: ``(..., J, C)`` poses of the same bodies, row for row (``C`` = 2 or 3,
            the same shape; any unit, scale-free). The gradient reaches both.
        layout: the joint layout (default H36M-17).
        valid: optional ``(..., J - 1)`` bool, the bones to compare (e.g. both joints observed in
            both poses); the mean then runs over the valid bones only (0 if there are none).
        reduction: ``"mean"`` (scalar, over bones and poses) or ``"none"`` (``(..., J - 1)``,
            zero where not ``valid``).
        validate: refuse empty batches and non-finite poses (a host synchronisation; training
            loops that check their losses themselves pass ``False``).

    Raises:
        TypeError: a pose is not a floating-point tensor.
        ValueError: wrong or unequal shapes, a ``valid`` of the wrong shape, an unknown
            ``reduction``, an empty batch or non-finite values.

    Example:
        >>> import torch
        >>> from skelcl.geometry import random_rotation
        >>> from skelcl.losses import bone_length_consistency_loss
        >>> a = torch.randn(8, 17, 3, dtype=torch.float64)
        >>> b = 3.0 * a @ random_rotation(8, dtype=torch.float64).mT + 1.0  # same bones, seen anew
        >>> bone_length_consistency_loss(a, b).item() < 1e-12
        True
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction: expected 'mean' or 'none', got {reduction!r}")
    sk = get_layout(layout)
    check_layout_pose(pose_a, "pose_a", sk.num_joints, sk.name)
    check_layout_pose(pose_b, "pose_b", sk.num_joints, sk.name)
    if pose_a.shape != pose_b.shape:
        raise ValueError(f"pose_b: expected the shape of pose_a {tuple(pose_a.shape)}, "
                         f"got {tuple(pose_b.shape)}")
    check_bone_mask(valid, (*pose_a.shape[:-2], sk.num_joints - 1))
    if validate:
        check_poses_usable(("pose_a", pose_a), ("pose_b", pose_b))
    diff = (relative_bone_lengths(pose_a, sk) - relative_bone_lengths(pose_b, sk)).abs()
    return reduce_bone_errors(diff, valid, reduction)


def check_bone_mask(valid: Optional[torch.Tensor], bones_shape: tuple) -> None:
    """Refuse a ``valid`` bone mask that is not ``None`` or a bool tensor of ``bones_shape``."""
    if valid is not None and (not isinstance(valid, torch.Tensor) or valid.dtype != torch.bool
                              or tuple(valid.shape) != bones_shape):
        got = tuple(valid.shape) if isinstance(valid, torch.Tensor) else type(valid).__name__
        raise ValueError(f"valid: expected a bool tensor of shape {bones_shape}, got {got}")


def check_poses_usable(*named: tuple) -> None:
    """Refuse an empty first pose batch and any non-finite pose (``(name, tensor)`` pairs; a
    host synchronisation)."""
    if named[0][1].numel() == 0:
        raise ValueError(f"{named[0][0]}: empty batch")
    for name, p in named:
        if not bool(torch.isfinite(p).all()):
            raise ValueError(f"{name}: contains NaN or inf")


def reduce_bone_errors(diff: torch.Tensor, valid: Optional[torch.Tensor], reduction: str) -> torch.Tensor:
    """``diff`` ``(..., J - 1)`` per-bone errors -> zero where not ``valid``, then ``"none"`` (as
    is) or ``"mean"`` (over the valid bones; 0 if there are none)."""
    if valid is not None:
        diff = torch.where(valid, diff, torch.zeros_like(diff))
    if reduction == "none":
        return diff
    if valid is None:
        return diff.mean()
    return diff.sum() / valid.sum().clamp_min(1).to(diff.dtype)
