"""OCR-Pose's relative rotation consistency loss ``L_rot`` (METHOD.md §3; our formulation of the
paper's lost Sec. 3.3, from its surviving sentence "r* is the reference rotation matrix in random
rotation")."""

from __future__ import annotations

import torch

from .._validation import check_float, check_nonempty, check_shape
from ..geometry import geodesic_angle

_KINDS = ("geodesic", "frobenius")
_REDUCTIONS = ("mean", "none")


def rotation_consistency_loss(
    rot_relifted: torch.Tensor,
    rot_original: torch.Tensor,
    view_rotation: torch.Tensor,
    kind: str = "geodesic",
    reduction: str = "mean",
) -> torch.Tensor:
    """``L_rot = dist(Rot(f_rot(JR2D)), R* · Rot(f_rot(J2D)))``.

    The decoded rotation of the re-projected pose should equal the sampled view rotation ``R*``
    applied after the decoded rotation of the original pose (column-vector convention: the pose's
    orientation ``Q`` seen through the view transform becomes ``R* Q``).

    Args:
        rot_relifted: ``Rot(f_rot(JR2D))`` ``(..., 3, 3)``.
        rot_original: ``Rot(f_rot(J2D))`` ``(..., 3, 3)``.
        view_rotation: the cycle's rotation ``R*`` ``(..., 3, 3)``; the three batch shapes must
            broadcast together.
        kind: ``"geodesic"``: the rotation angle of ``A^T B`` in radians, in ``[0, pi]``
            (:func:`skelcl.geometry.geodesic_angle`, finite gradients everywhere);
            ``"frobenius"``: ``|A - B|_F`` (not squared; equals ``2 sqrt(2) sin(angle / 2)`` for
            rotations). Both are our choices, selectable (METHOD.md §3). The paper gives no weight
            ``w_rot``; OCR-Pose's example uses 1.
        reduction: ``"mean"`` (scalar) or ``"none"`` (the broadcast batch shape).

    Returns:
        A scalar or ``(...)``.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind: expected one of {_KINDS}, got {kind!r}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
    for x, name in (
        (rot_relifted, "rot_relifted"),
        (rot_original, "rot_original"),
        (view_rotation, "view_rotation"),
    ):
        check_float(x, name)
        check_shape(x, name, (3, 3))
        check_nonempty(x, name)
    try:
        torch.broadcast_shapes(rot_relifted.shape, rot_original.shape, view_rotation.shape)
    except RuntimeError as err:
        raise ValueError(
            "rot_relifted, rot_original, view_rotation: batch shapes do not broadcast: "
            f"{tuple(rot_relifted.shape)}, {tuple(rot_original.shape)}, "
            f"{tuple(view_rotation.shape)}"
        ) from err
    target = view_rotation @ rot_original
    if kind == "geodesic":
        dist = geodesic_angle(rot_relifted, target)
    else:
        dist = torch.linalg.matrix_norm(rot_relifted - target, ord="fro")
    return dist.mean() if reduction == "mean" else dist


__all__ = ["rotation_consistency_loss"]
