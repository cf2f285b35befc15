"""Operations on poses given a :class:`~skelcl.skeleton.Skeleton`: bone lengths, mirroring."""

from __future__ import annotations

import torch

from .._validation import TensorLike, as_tensor, check_shape
from .layouts import H36M17
from .skeleton import Skeleton

__all__ = ["bone_lengths", "bone_vectors", "flip_horizontal"]


def bone_vectors(points: TensorLike, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Child-minus-parent vectors of every bone, in the order of :meth:`Skeleton.bones`.

    Args:
        points: ``(..., J, C)`` joint positions (any ``C``, any units; numpy or torch).
        skeleton: Layout of ``points`` (default :data:`~skelcl.skeleton.H36M17`).

    Returns:
        ``(..., J - 1, C)`` tensor.

    Raises:
        ValueError: If the joint dimension does not match ``skeleton``.
    """
    x = as_tensor(points, "points")
    check_shape(x, "points", (skeleton.num_joints, None))
    child, parent = zip(*skeleton.bones()) if skeleton.num_joints > 1 else ((), ())
    c = torch.as_tensor(child, dtype=torch.long, device=x.device)
    p = torch.as_tensor(parent, dtype=torch.long, device=x.device)
    return x[..., c, :] - x[..., p, :]


def bone_lengths(points: TensorLike, skeleton: Skeleton = H36M17) -> torch.Tensor:
    """Euclidean length of every bone, in the order of :meth:`Skeleton.bones`.

    Args:
        points: ``(..., J, C)`` joint positions (units carry over to the result).
        skeleton: Layout of ``points`` (default :data:`~skelcl.skeleton.H36M17`).

    Returns:
        ``(..., J - 1)`` tensor; entry ``b`` is the length of ``skeleton.bones()[b]``.

    Note:
        The gradient of a zero-length bone is undefined; this returns zeros there (the
        subgradient of the norm at 0) instead of NaN.
    """
    v = bone_vectors(points, skeleton)
    sq = (v * v).sum(dim=-1)
    positive = sq > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, sq, torch.ones_like(sq))),
                       torch.zeros_like(sq))


def flip_horizontal(points: TensorLike, skeleton: Skeleton = H36M17, axis: int = 0) -> torch.Tensor:
    """Mirror a pose: negate one coordinate axis and swap left and right joints.

    ``out[..., i, :] = mirror(points[..., perm[i], :])`` with ``perm =
    skeleton.flip_permutation``, so a left wrist stays a (new) left wrist on the mirrored body.
    The mirror is about the plane/line ``coordinate[axis] = 0``: centre the pose first (e.g. on
    the root) to flip in place. Applying it twice gives the input back.

    Args:
        points: ``(..., J, C)`` joint positions (``C`` = 2 or 3 typically; numpy or torch).
        skeleton: Layout of ``points`` (default :data:`~skelcl.skeleton.H36M17`).
        axis: Coordinate to negate (0 = x, the horizontal image axis).

    Returns:
        ``(..., J, C)`` tensor.

    Raises:
        ValueError: If the joint dimension does not match or ``axis`` is out of range.
    """
    x = as_tensor(points, "points")
    check_shape(x, "points", (skeleton.num_joints, None))
    c = x.shape[-1]
    if isinstance(axis, bool) or not isinstance(axis, int) or not -c <= axis < c:
        raise ValueError(f"axis: expected an int in [{-c}, {c}) for {c}-D points, got {axis!r}")
    perm = torch.as_tensor(skeleton.flip_permutation, dtype=torch.long, device=x.device)
    sign = torch.ones(c, dtype=x.dtype, device=x.device)
    sign[axis] = -1
    return x[..., perm, :] * sign
