"""Self-occlusion: joints hidden behind the body's own limbs and torso from a given camera.

**Rule (our choice, documented).** The body is a set of capsules: every bone of the layout, plus
two torso sides joining the hip and the shoulder of each side (the roots of the leg and arm
groups), each a segment ``[A, B]`` with a radius: ``torso_radius`` when both ends are torso
joints (the ``"torso"`` group plus the hips and shoulders), else ``limb_radius``. In camera
coordinates (camera at the origin, ``z`` forward) joint ``X`` is **hidden** when, for some
capsule not incident to ``X`` (neither end is ``X``), the point ``Y`` of its axis closest to the
line of sight through ``X`` satisfies

- ``dist(Y, line of sight) < radius`` and
- ``0 < Y·u < |X| - margin`` with ``u = X / |X|``: ``Y`` lies between the camera and ``X``,
  at least ``margin`` in front of the joint.

Joints with ``z <= 0`` (behind the camera) are hidden too. Radii and margin are in the units of
the 3D pose (defaults in metres; for poses in OCR-Pose's normalised units, where the
head-to-pelvis length is about 1, multiply by about 1.6).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from skelcl._validation import as_tensor
from skelcl.augment.base import Augmenter
from skelcl.skeleton import H36M17, Skeleton

__all__ = ["SelfOcclusionMask", "body_segments"]


def _limb_roots(skeleton: Skeleton) -> dict:
    roots = {}
    for g in ("left_arm", "right_arm", "left_leg", "right_leg"):
        idx = skeleton.groups.get(g, ())
        r = [i for i in idx if skeleton.parents[i] not in idx]
        if len(r) == 1:
            roots[g] = r[0]
    return roots


def body_segments(
    skeleton: Skeleton = H36M17,
) -> tuple[tuple[tuple[int, int], ...], tuple[bool, ...]]:
    """Capsule axes of the self-occlusion rule and whether each is a torso segment.

    Returns:
        ``(segments, is_torso)``: the bones ``(child, parent)`` followed by the torso sides
        ``(hip, shoulder)`` of each side; ``is_torso[s]`` is ``True`` when both ends are torso
        joints (``groups["torso"]`` plus the roots of the four limbs).
    """
    roots = _limb_roots(skeleton)
    torso = set(skeleton.groups.get("torso", ())) | set(roots.values())
    segs = list(skeleton.bones())
    for side in ("left", "right"):
        leg, arm = roots.get(f"{side}_leg"), roots.get(f"{side}_arm")
        if leg is not None and arm is not None:
            segs.append((leg, arm))
    return tuple(segs), tuple(a in torso and b in torso for a, b in segs)


class SelfOcclusionMask(Augmenter):
    """Hide the joints occluded by the body itself, seen from the camera (module docstring rule).

    Reads from the call's context ``points_3d`` ``(..., J, 3)``: the 3D pose in camera coordinates
    (``z`` forward), and optionally ``rotation`` ``(..., 3, 3)``: if given, the pose is first moved
    to that view with :func:`skelcl.geometry.view_transform` (root-centred, rotated, root put at
    ``(0, 0, distance)``). The masked pose is usually the 2D projection of that same view.

    Args:
        limb_radius: Capsule radius of limb bones (default 0.06, metres).
        torso_radius: Capsule radius of torso segments (default 0.15).
        margin: How far in front of a joint an occluder must be (default 0.05).
        distance: Camera distance used with ``rotation``.
        skeleton: Layout (sets ``J`` and the segments).
        fill_value: Value of hidden coordinates.

    Example:
        >>> from skelcl.augment import SelfOcclusionMask
        >>> aug = SelfOcclusionMask()
        >>> p3 = torch.zeros(17, 3); p3[:, 2] = 5.0  # degenerate pose: every joint at one point
        >>> _, vis = aug(p3[:, :2], points_3d=p3)
        >>> int((~vis).sum())  # coincident joints are not in front of one another
        0
    """

    context_keys = ("points_3d", "rotation")

    def __init__(
        self,
        limb_radius: float = 0.06,
        torso_radius: float = 0.15,
        margin: float = 0.05,
        distance: float = 10.0,
        skeleton: Skeleton = H36M17,
        fill_value: float = 0.0,
    ) -> None:
        for name, v in (("limb_radius", limb_radius), ("torso_radius", torso_radius),
                        ("margin", margin)):
            if not (isinstance(v, (int, float)) and v >= 0):
                raise ValueError(f"{name}: expected a number >= 0, got {v!r}")
        super().__init__(skeleton.num_joints, fill_value)
        self.limb_radius, self.torso_radius = float(limb_radius), float(torso_radius)
        self.margin, self.distance = float(margin), float(distance)
        self.skeleton = skeleton
        segs, is_torso = body_segments(skeleton)
        self._seg = torch.tensor(segs, dtype=torch.long)  # (S, 2)
        self._radius = torch.tensor(
            [self.torso_radius if t else self.limb_radius for t in is_torso], dtype=torch.float64
        )
        j = skeleton.num_joints
        inc = torch.zeros(j, len(segs), dtype=torch.bool)
        inc[self._seg[:, 0], torch.arange(len(segs))] = True
        inc[self._seg[:, 1], torch.arange(len(segs))] = True
        self._incident = inc  # (J, S)

    def sample_mask(
        self, pose: Tensor, generator: Optional[torch.Generator], visible: Tensor, **context: Any
    ) -> Tensor:
        if context.get("points_3d") is None:
            raise ValueError("points_3d: SelfOcclusionMask needs points_3d=(..., J, 3)")
        x = as_tensor(context["points_3d"], "points_3d").to(pose.device)
        j = self.skeleton.num_joints
        if x.ndim < 2 or x.shape[-2:] != (j, 3):
            raise ValueError(f"points_3d: expected shape (..., {j}, 3), got {tuple(x.shape)}")
        if context.get("rotation") is not None:
            from skelcl.geometry import view_transform

            x = view_transform(x, context["rotation"], distance=self.distance,
                               root_index=self.skeleton.root)
        if x.shape[:-2] != pose.shape[:-2]:
            raise ValueError(
                f"points_3d: expected batch shape {tuple(pose.shape[:-2])}, got {tuple(x.shape[:-2])}"
            )
        if not bool(torch.isfinite(x).all()):
            raise ValueError("points_3d: contains NaN or inf")
        return self_occlusion(x, self._seg.to(x.device), self._radius.to(x), self._incident.to(x.device),
                              self.margin)


def self_occlusion(
    points: Tensor, segments: Tensor, radius: Tensor, incident: Tensor, margin: float
) -> Tensor:
    """Vectorised rule of the module docstring.

    Args:
        points: ``(..., J, 3)`` camera-frame joints.
        segments: ``(S, 2)`` joint indices of the capsule axes.
        radius: ``(S,)`` capsule radii.
        incident: ``(J, S)`` bool, joint ``j`` is an end of segment ``s`` (never occludes ``j``).
        margin: Minimum depth advance of the occluder along the line of sight.

    Returns:
        ``(..., J)`` bool, ``True`` for hidden joints.
    """
    a = points[..., segments[:, 0], :][..., None, :, :]  # (..., 1, S, 3)
    v = points[..., segments[:, 1], :][..., None, :, :] - a
    xn = torch.linalg.vector_norm(points, dim=-1)  # (..., J)
    u = (points / xn[..., None].clamp_min(torch.finfo(points.dtype).tiny))[..., :, None, :]  # (..., J, 1, 3)
    au, vu = (a * u).sum(-1), (v * u).sum(-1)  # (..., J, S)
    av, vv, aa = (a * v).sum(-1), (v * v).sum(-1), (a * a).sum(-1)
    den = vv - vu * vu  # |V|^2 sin^2(angle between bone and sight line) >= 0
    safe = den > 1e-12 * vv.clamp_min(1e-30)
    t = torch.where(safe, -(av - au * vu) / torch.where(safe, den, torch.ones_like(den)),
                    torch.zeros_like(den)).clamp(0.0, 1.0)
    s = au + t * vu  # position of the closest axis point along the sight line
    d2 = (aa + 2 * t * av + t * t * vv - s * s).clamp_min(0.0)
    occ = (d2 < radius * radius) & (s > 0) & (s < xn[..., None] - margin) & ~incident
    return occ.any(dim=-1) | (points[..., 2] <= 0)
