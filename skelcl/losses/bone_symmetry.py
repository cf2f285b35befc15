"""Left/right bone-length symmetry: a measure of how lopsided a lifted skeleton is, and a prior.

A human skeleton is close to mirror-symmetric: on the project's real motion capture (Bandai
Namco, CMU) the left and right bones of a pair differ by a median 0.2-1 % of the mean bone length
(``docs/results.md``, the section on the bone-symmetry prior). A lifter trained only through 2D projections has no such constraint: an
unsupervised lifter may lengthen one forearm in depth and shorten the other as long as the
projections and the discriminator are satisfied. The prior penalises that. It is the oldest of
the anatomical priors on lifted poses (e.g. Akhter & Black, CVPR 2015; Wandt & Rosenhahn's
RepNet, CVPR 2019, build on bone-length structure); our addition to OCR-Pose, off by default.

Conventions: poses ``(..., J, C)`` in any frame and unit (``C`` = 2 or 3); the pairs are the
skeleton's :attr:`~skelcl.skeleton.Skeleton.left_right_pairs` whose joints both have a parent
(the bone of a joint is the segment to its parent). Every quantity is relative to the pose's mean
bone length, hence invariant to rotation, translation and scale, and to a left/right flip.
"""

from __future__ import annotations

from typing import List, Tuple, Union

import torch

from ..skeleton import Skeleton, get_layout
from ..skeleton.layouts import H36M17
from .bone_consistency import relative_bone_lengths

__all__ = ["bone_pairs", "bone_asymmetry", "bone_symmetry_loss"]


def bone_pairs(layout: Union[str, Skeleton] = H36M17) -> List[Tuple[int, int]]:
    """Indices into :meth:`Skeleton.bones` of the left/right bone pairs of ``layout``.

    Returns:
        ``[(left_bone, right_bone), ...]`` in the order of ``left_right_pairs``; pairs whose
        joints have no parent (a root) are skipped.

    Raises:
        ValueError: the layout has no such pair.

    Example:
        >>> from skelcl.losses import bone_pairs
        >>> bone_pairs("h36m17")  # hips, knees, ankles, shoulders, elbows, wrists
        [(3, 0), (4, 1), (5, 2), (10, 13), (11, 14), (12, 15)]
    """
    sk = get_layout(layout)
    index = {child: b for b, (child, _) in enumerate(sk.bones())}
    pairs = [(index[l], index[r]) for l, r in sk.left_right_pairs if l in index and r in index]
    if not pairs:
        raise ValueError(f"layout: {sk.name} has no left/right pair of bones")
    return pairs


def bone_asymmetry(pose: torch.Tensor, layout: Union[str, Skeleton] = H36M17) -> torch.Tensor:
    """Signed length difference of each left/right bone pair, relative to the mean bone length.

    ``(|b_left| - |b_right|) / mean_b |b|`` per pair of :func:`bone_pairs`, with the mean over all
    bones of the same pose: ``(..., J, C) -> (..., P)``. 0 for a symmetric skeleton; a pose whose
    bones all have zero length (degenerate) gives 0, not NaN.

    Example:
        >>> import torch
        >>> from skelcl.losses import bone_asymmetry
        >>> from skelcl.skeleton.layouts import H36M17
        >>> pose = torch.zeros(17, 3)
        >>> for j in range(1, 17):  # every bone 1 long, along its own axis
        ...     pose[j] = pose[H36M17.parents[j]] + torch.tensor([0.0, 1.0, 0.0])
        >>> pose[H36M17.index("l_wrist")] = pose[H36M17.index("l_elbow")] + torch.tensor([0.0, 2.0, 0.0])
        >>> bone_asymmetry(pose).tolist()  # the left forearm is 2 long, the mean 17/16
        [0.0, 0.0, 0.0, 0.0, 0.0, 0.9411764740943909]
    """
    sk = get_layout(layout)
    relative = relative_bone_lengths(pose, sk)  # checks the pose
    pairs = torch.tensor(bone_pairs(sk), dtype=torch.long, device=pose.device)
    return relative[..., pairs[:, 0]] - relative[..., pairs[:, 1]]


def bone_symmetry_loss(
    pose: torch.Tensor,
    layout: Union[str, Skeleton] = H36M17,
    reduction: str = "mean",
    validate: bool = True,
) -> torch.Tensor:
    """``|bone_asymmetry|``, averaged over the pairs and the poses: 0 for a symmetric skeleton.

    Args:
        pose: ``(..., J, C)`` poses, ``C`` = 2 or 3 (any unit; scale-free).
        layout: the joint layout (default H36M-17).
        reduction: ``"mean"`` (scalar) or ``"none"`` (``(..., P)``).
        validate: refuse empty batches and non-finite poses (a host synchronisation; training
            loops that check their losses themselves pass ``False``).

    Raises:
        TypeError: ``pose`` is not a floating-point tensor.
        ValueError: wrong shape, unknown ``reduction``, an empty batch or non-finite values.
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction: expected 'mean' or 'none', got {reduction!r}")
    asym = bone_asymmetry(pose, layout)
    if validate:
        if asym.numel() == 0:
            raise ValueError("pose: empty batch")
        if not bool(torch.isfinite(pose).all()):
            raise ValueError("pose: contains NaN or inf")
    loss = asym.abs()
    return loss.mean() if reduction == "mean" else loss
