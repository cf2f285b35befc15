"""Which way the knees bend: a body frame, the signed knee bend, and a prior against backward knees.

An unsupervised lifter trained through 2D projections (a 2D discriminator, a reprojection
cycle) cannot tell a pose from its mirror image in depth, ``z -> -z`` about the root: under a
rotation about the vertical axis the mirrored pose projects to the horizontally flipped
projections of the original, and a 2D pose rarely shows its handedness (a frontal view hides
which way the knees bend, a profile hides which shoulder is the left one). The mirror image is
anatomically impossible, though: its knees bend *backwards* relative to the way the body faces,
where "facing" comes from the left/right labels of hips and shoulders. On real motion capture
the knee lies in front of the hip-ankle line in 97.5-99.98 % of the frames (``docs/results.md``,
"Mirror-image depth"). These functions measure that and turn it into a loss (our addition to
OCR-Pose, off by default; the idea of anatomical priors on lifted poses is old, e.g. bone-length
symmetry and joint-angle limits, Akhter & Black, CVPR 2015).

Conventions: poses ``(..., J, 3)`` in any right-handed frame (camera frame: x right, y down,
z forward) and any unit; every quantity here is invariant to rotation, translation and scale
of the pose, and flips sign under a reflection. Joints are found by name in the layout
(H36M-17 by default; any built-in layout with hips, knees, ankles and shoulders works).
"""

from __future__ import annotations

from typing import Dict, Union

import torch

from ..skeleton import Skeleton, get_layout
from ..skeleton.layouts import H36M17

#: Accepted spellings of each joint role across skelcl's built-in layouts.
_ROLES = {
    "l_hip": ("l_hip", "left_hip", "LHip"), "r_hip": ("r_hip", "right_hip", "RHip"),
    "l_knee": ("l_knee", "left_knee", "LKnee"), "r_knee": ("r_knee", "right_knee", "RKnee"),
    "l_ankle": ("l_ankle", "left_ankle", "LAnkle"), "r_ankle": ("r_ankle", "right_ankle", "RAnkle"),
    "l_shoulder": ("l_shoulder", "left_shoulder", "LShoulder"),
    "r_shoulder": ("r_shoulder", "right_shoulder", "RShoulder"),
}


def _joints(layout: Union[str, Skeleton]) -> Dict[str, int]:
    sk = get_layout(layout)
    out = {}
    for role, names in _ROLES.items():
        hit = [sk.names.index(n) for n in names if n in sk.names]
        if not hit:
            raise ValueError(f"layout: {sk.name} has no {role} joint (expected one of {names})")
        out[role] = hit[0]
    return out


def _check(pose_3d: torch.Tensor, layout: Union[str, Skeleton]) -> Dict[str, int]:
    if not isinstance(pose_3d, torch.Tensor) or not pose_3d.is_floating_point():
        raise TypeError(f"pose_3d: expected a floating-point tensor, got {type(pose_3d).__name__}"
                        + (f" of {pose_3d.dtype}" if isinstance(pose_3d, torch.Tensor) else ""))
    sk = get_layout(layout)
    if pose_3d.dim() < 2 or pose_3d.shape[-2:] != (sk.num_joints, 3):
        raise ValueError(f"pose_3d: expected shape (..., {sk.num_joints}, 3) for layout {sk.name}, "
                         f"got {tuple(pose_3d.shape)}")
    return _joints(sk)


def _unit(v: torch.Tensor) -> torch.Tensor:
    # zero vectors stay zero (no NaN, no gradient blow-up): degenerate frames contribute 0
    n = torch.linalg.vector_norm(v, dim=-1, keepdim=True)
    return v / n.clamp_min(torch.finfo(v.dtype).eps)


def body_forward(pose_3d: torch.Tensor, layout: Union[str, Skeleton] = H36M17) -> torch.Tensor:
    """Unit vector the body faces, from the left/right labels: ``(..., J, 3) -> (..., 3)``.

    ``forward = normalise(lr × up)`` with ``lr`` the sum of the right-to-left hip and shoulder
    vectors and ``up`` the vector from the hips' midpoint to the shoulders' midpoint. On real
    poses in a right-handed frame this points the way the person faces (the knees bend towards
    it). A degenerate torso (``lr`` parallel to ``up``, or zero) gives the zero vector.

    Example:
        >>> import torch
        >>> from skelcl.losses import body_forward
        >>> from skelcl.skeleton.layouts import H36M17
        >>> p = torch.zeros(17, 3)
        >>> p[H36M17.index("l_hip"), 0] = p[H36M17.index("l_shoulder"), 0] = 1.0
        >>> p[H36M17.index("r_hip"), 0] = p[H36M17.index("r_shoulder"), 0] = -1.0
        >>> p[H36M17.index("l_shoulder"), 1] = p[H36M17.index("r_shoulder"), 1] = 2.0
        >>> body_forward(p).tolist()  # left = +x, up = +y: facing +z
        [0.0, 0.0, 1.0]
    """
    return _forward(pose_3d, _check(pose_3d, layout))


def _forward(P: torch.Tensor, j: Dict[str, int]) -> torch.Tensor:
    lr = (P[..., j["l_hip"], :] - P[..., j["r_hip"], :]) + (P[..., j["l_shoulder"], :] - P[..., j["r_shoulder"], :])
    up = 0.5 * (P[..., j["l_shoulder"], :] + P[..., j["r_shoulder"], :]) - 0.5 * (
        P[..., j["l_hip"], :] + P[..., j["r_hip"], :])
    return _unit(torch.linalg.cross(lr, up, dim=-1))


def knee_bend(pose_3d: torch.Tensor, layout: Union[str, Skeleton] = H36M17) -> torch.Tensor:
    """Signed bend of each knee, ``(..., J, 3) -> (..., 2)`` (left, right), scale-free.

    For a leg hip ``H``, knee ``K``, ankle ``A``: the knee's offset from the line ``H A``
    (the component of ``K - H`` perpendicular to ``A - H``), projected on
    :func:`body_forward`, divided by the leg's length ``|K - H| + |A - K|``. Positive: the
    knee bends forwards (anatomical); negative: backwards (a mirror image, or hyperextension);
    0 for a straight leg or a degenerate torso. Bounded by ``[-1/2, 1/2]``.
    """
    j = _check(pose_3d, layout)
    fwd = _forward(pose_3d, j)
    eps = torch.finfo(pose_3d.dtype).eps
    out = []
    for side in ("l", "r"):
        H, K, A = (pose_3d[..., j[f"{side}_{n}"], :] for n in ("hip", "knee", "ankle"))
        v, d = K - H, A - H
        along = (v * d).sum(-1, keepdim=True) / (d * d).sum(-1, keepdim=True).clamp_min(eps)
        perp = v - along * d
        length = torch.linalg.vector_norm(v, dim=-1) + torch.linalg.vector_norm(A - K, dim=-1)
        out.append((perp * fwd).sum(-1) / length.clamp_min(eps))
    return torch.stack(out, dim=-1)


def knee_direction_loss(
    pose_3d: torch.Tensor,
    layout: Union[str, Skeleton] = H36M17,
    margin: float = 0.0,
    reduction: str = "mean",
    validate: bool = True,
) -> torch.Tensor:
    """Hinge on backward knees: ``relu(margin - knee_bend)``, averaged over knees and poses.

    0 for every pose whose knees bend forwards by at least ``margin`` (see :func:`knee_bend`);
    for a mirror-image pose it equals the mean forward bend of the true pose. Its gradient moves
    the knees (and, through the body frame, the hips and shoulders) towards the anatomical side,
    which breaks the mirror ambiguity of lifting from 2D without any 3D label.

    Args:
        pose_3d: ``(..., J, 3)`` lifted poses (any unit; non-finite values are refused).
        layout: the joint layout (default H36M-17).
        margin: required forward bend (``knee_bend`` units, ``[0, 0.5)``; 0 = only backward
            knees are penalised).
        reduction: ``"mean"`` (scalar) or ``"none"`` (``(..., 2)``).
        validate: refuse empty batches and non-finite poses (a host synchronisation; training
            loops that check their losses themselves pass ``False``).
    """
    if not 0.0 <= margin < 0.5:
        raise ValueError(f"margin: expected 0 <= margin < 0.5, got {margin}")
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction: expected 'mean' or 'none', got {reduction!r}")
    bend = knee_bend(pose_3d, layout)
    if validate:
        if bend.numel() == 0:
            raise ValueError("pose_3d: empty batch")
        if not bool(torch.isfinite(pose_3d).all()):
            raise ValueError("pose_3d: contains NaN or inf")
    loss = torch.relu(margin - bend)
    return loss.mean() if reduction == "mean" else loss


__all__ = ["body_forward", "knee_bend", "knee_direction_loss"]
