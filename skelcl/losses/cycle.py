"""The lift -> rotate -> project -> re-lift -> inverse -> project cycle of the unsupervised lifting
baseline (Chen et al., CVPR 2019; Yu et al., ICCV 2021) that OCR-Pose builds on (METHOD.md §2)."""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional

import torch
from torch import nn

from .._validation import check_float, check_shape
from ..geometry import depth_to_points, inverse_view_transform, project, view_transform


class CycleOutput(NamedTuple):
    """Every intermediate of :func:`lift_cycle` (``J`` joints, leading batch shape ``...``)."""

    #: the lifter's output on ``J2D`` (has ``.depth``; for the decoupled encoder also ``.f_occ``,
    #: ``.f_rot``, ``.rotation``).
    lifted: Any
    #: ``J3D = lift(J2D)``, ``(..., J, 3)`` camera frame.
    pose_3d: torch.Tensor
    #: ``T(J3D)``: root-centred, rotated by ``R``, root moved to ``(0, 0, D)``.
    rotated_3d: torch.Tensor
    #: ``JR2D = P(T(J3D))``, clamped to ``[-clamp, clamp]`` when ``clamp`` is set; the fake sample
    #: for the discriminator.
    rotated_2d: torch.Tensor
    #: the lifter's output on ``JR2D``.
    relifted: Any
    #: ``ĴR3D``: ``JR2D`` re-lifted, with the x, y factors taken from a detached ``JR2D``
    #: (METHOD.md §2 step 4).
    relifted_3d: torch.Tensor
    #: ``Ĵ3D = T⁻¹(ĴR3D)``, back in the input's camera frame.
    recovered_3d: torch.Tensor
    #: ``Ĵ2D = P(Ĵ3D)``, compare with ``J2D`` for ``L_2D``.
    recovered_2d: torch.Tensor


def _check_positive(value: float, name: str) -> None:
    # math.isfinite (not numpy) so that torch.compile traces it without a graph break
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")


def _project(points: torch.Tensor, min_depth: Optional[float]) -> torch.Tensor:
    if min_depth is None:
        return project(points, check=False)
    return project(points, min_depth=min_depth)


def lift_cycle(
    lifter: Callable[[torch.Tensor], Any],
    poses_2d: torch.Tensor,
    rotation: torch.Tensor,
    distance: float = 10.0,
    clamp: Optional[float] = 0.2,
    min_depth: float = 1.0,
    root_index: int = 0,
    detach_relift_xy: bool = True,
    projection_min_depth: Optional[float] = 0.1,
) -> CycleOutput:
    """Run the baseline's view cycle (METHOD.md §2, steps 1-5) and return every intermediate.

    1. ``J3D = lift(J2D)``: relative depth ``d``, ``z = max(min_depth, d + distance)``,
       joints ``(x z, y z, z)`` (:func:`skelcl.geometry.depth_to_points`).
    2. ``T(J3D)``: subtract the root, rotate by ``rotation`` (``X @ R.mT``), move the root to
       ``(0, 0, distance)`` (:func:`skelcl.geometry.view_transform`).
    3. ``JR2D = P(T(J3D))`` (perspective), clamped to ``±clamp`` normalised units when ``clamp``
       is not ``None`` (the baseline uses 0.2, i.e. twice the mean head-pelvis length; a value
       outside is set to the bound, which also zeroes its gradient; ``None`` disables it).
    4. ``ĴR3D``: re-lift ``JR2D`` (the lifter sees ``JR2D`` with its gradient), but the ``x, y``
       that multiply the re-lifted depth come from ``JR2D.detach()`` when ``detach_relift_xy``
       (the baseline's choice): gradients from ``ĴR3D`` reach ``JR2D`` only through the depth.
    5. ``Ĵ3D = T⁻¹(ĴR3D)`` (subtract ``(0, 0, D)``, rotate by ``Rᵀ``, add ``J3D``'s root) and
       ``Ĵ2D = P(Ĵ3D)``.

    The depths in steps 3 and 5 are positive in a sane cycle (about ``D ± 1``), but a diverging
    lifter can rotate joints behind the camera; both projections therefore clamp
    ``z >= projection_min_depth`` (our guard, 0.1 by default, zero gradient where active; ``None``
    divides unguarded). No check synchronises with the device, so the cycle suits hot loops and
    :func:`torch.compile`.

    The losses of step 6 are then
    ``L_2D = pose_l2_loss(out.recovered_2d, poses_2d)`` and
    ``L_3D = pose_l2_loss(out.relifted_3d, out.rotated_3d)`` (:mod:`skelcl.losses.pose_losses`).

    Args:
        lifter: any callable (e.g. :class:`~skelcl.models.LiftingNetwork` or
            :class:`~skelcl.models.DecoupledLiftingEncoder`) mapping ``(..., J, 2)`` to an object
            with a ``.depth`` attribute of shape ``(..., J)``. It is called twice, on ``J2D`` and on
            ``JR2D``.
        poses_2d: normalised 2D poses ``J2D`` ``(..., J, 2)``.
        rotation: view rotations ``R`` ``(..., 3, 3)`` (broadcast over the batch), e.g. from
            :func:`skelcl.geometry.sample_view_rotation`.
        distance: camera constant ``D`` (10).
        clamp: bound on ``|JR2D|`` or ``None``.
        min_depth: lower bound of the absolute depth (1).
        root_index: index of the root joint (0, pelvis).
        detach_relift_xy: detach the ``x, y`` of step 4 (``True``, the baseline).
        projection_min_depth: lower bound on ``z`` in the projections of steps 3 and 5, or
            ``None``.

    Returns:
        :class:`CycleOutput`.
    """
    check_float(poses_2d, "poses_2d")
    check_shape(poses_2d, "poses_2d", (None, 2))
    check_float(rotation, "rotation")
    check_shape(rotation, "rotation", (3, 3))
    _check_positive(distance, "distance")
    if clamp is not None:
        _check_positive(clamp, "clamp")
    if projection_min_depth is not None:
        _check_positive(projection_min_depth, "projection_min_depth")
    batch = poses_2d.shape[:-2]
    try:
        ok = torch.broadcast_shapes(batch, rotation.shape[:-2]) == batch
    except RuntimeError:
        ok = False
    if not ok:
        raise ValueError(
            f"rotation: expected a batch shape that broadcasts to that of poses_2d {tuple(batch)}, "
            f"got {tuple(rotation.shape)}"
        )
    num_joints = poses_2d.shape[-2]
    if not -num_joints <= root_index < num_joints:
        raise ValueError(
            f"root_index: expected an index into {num_joints} joints, got {root_index}"
        )

    lifted = lifter(poses_2d)
    pose_3d = depth_to_points(poses_2d, lifted.depth, distance=distance, min_depth=min_depth)
    rotated_3d = view_transform(pose_3d, rotation, distance=distance, root_index=root_index)
    rotated_2d = _project(rotated_3d, projection_min_depth)
    if clamp is not None:
        rotated_2d = rotated_2d.clamp(-clamp, clamp)

    relifted = lifter(rotated_2d)
    xy = rotated_2d.detach() if detach_relift_xy else rotated_2d
    relifted_3d = depth_to_points(xy, relifted.depth, distance=distance, min_depth=min_depth)
    root = pose_3d[..., root_index : root_index + 1, :]
    recovered_3d = inverse_view_transform(relifted_3d, rotation, root, distance=distance)
    recovered_2d = _project(recovered_3d, projection_min_depth)
    return CycleOutput(
        lifted=lifted,
        pose_3d=pose_3d,
        rotated_3d=rotated_3d,
        rotated_2d=rotated_2d,
        relifted=relifted,
        relifted_3d=relifted_3d,
        recovered_3d=recovered_3d,
        recovered_2d=recovered_2d,
    )


class LiftCycle(nn.Module):
    """:func:`lift_cycle` as a module holding the lifter and the cycle's settings.

    Args:
        lifter: the lifting module (registered as a submodule).
        distance, clamp, min_depth, root_index, detach_relift_xy, projection_min_depth: as in
            :func:`lift_cycle`.

    Example:
        >>> from skelcl.losses import LiftCycle
        >>> from skelcl.models import LiftingNetwork
        >>> cycle = LiftCycle(LiftingNetwork(channels=32)).eval()
        >>> out = cycle(0.1 * torch.randn(4, 17, 2), torch.eye(3))
        >>> out.recovered_2d.shape
        torch.Size([4, 17, 2])
    """

    def __init__(
        self,
        lifter: nn.Module,
        distance: float = 10.0,
        clamp: Optional[float] = 0.2,
        min_depth: float = 1.0,
        root_index: int = 0,
        detach_relift_xy: bool = True,
        projection_min_depth: Optional[float] = 0.1,
    ):
        super().__init__()
        self.lifter = lifter
        self.distance = distance
        self.clamp = clamp
        self.min_depth = min_depth
        self.root_index = root_index
        self.detach_relift_xy = detach_relift_xy
        self.projection_min_depth = projection_min_depth

    def forward(self, poses_2d: torch.Tensor, rotation: torch.Tensor) -> CycleOutput:
        """Run the cycle on ``poses_2d`` ``(..., J, 2)`` with view rotations ``(..., 3, 3)``."""
        return lift_cycle(
            self.lifter,
            poses_2d,
            rotation,
            distance=self.distance,
            clamp=self.clamp,
            min_depth=self.min_depth,
            root_index=self.root_index,
            detach_relift_xy=self.detach_relift_xy,
            projection_min_depth=self.projection_min_depth,
        )


__all__ = ["CycleOutput", "lift_cycle", "LiftCycle"]
