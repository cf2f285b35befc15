"""Synthetic human motion: the embedded default that needs no data files.

A kinematic Human3.6M-17 skeleton (VideoPose3D joint order) is posed by forward kinematics from
joint angles drawn inside anatomical limits, for five kinds of clip: ``standing``, ``walking``,
``reaching``, ``crouching`` and ``sitting``. Everything is vectorised over clips and frames.

Model (our choices, documented here and in the tutorial):

- **Body frame** of the rest pose: ``X`` = the subject's left, ``Y`` up, ``Z`` forward
  (right-handed). The rest pose stands upright, arms hanging.
- **Bone lengths** per clip (constant within a clip, identical left and right): a global scale
  ``U(0.9, 1.1)`` times a per-bone factor ``U(1 - s, 1 + s)`` around adult means chosen between
  the proportions of the Bandai Namco, CMU/iClone and Human3.6M skeletons, e.g. thigh 0.43 m
  (s = 0.1), shank 0.44 m, pelvis-hip 0.10 m (s = 0.3), pelvis-spine 0.24 m, spine-thorax
  0.22 m (s = 0.25), thorax-shoulder 0.15 m (s = 0.3), upper arm 0.26 m, forearm 0.24 m
  (:data:`BONE_MEANS`, :data:`BONE_SPREADS`).
- **Joint angles** (degrees, limits in :data:`POSTURE_RANGES`): hips (flexion, abduction, axial
  rotation), knees (flexion 0-150°, always bending backwards), lumbar and thoracic spine
  (flexion, lateral bend, twist), neck (flexion, lateral bend, twist), head nod, shoulders
  (plane of elevation, elevation 0-170°, axial rotation) and elbows (flexion 0-145°). Each clip
  draws keyframes every ``keyframe_every`` frames inside its posture's ranges and interpolates
  them smoothly; ``walking`` replaces hips, knees and arm swing with a periodic gait (stride
  frequency 0.8-1.1 Hz, speed 1.0-1.6 m/s, optional slow turning). For ``crouching`` and
  ``sitting`` the knee flexion follows the thigh so that the shank stays near vertical.
- **Placement**: the whole body turns by a yaw drawn uniformly over 360° (plus a small pitch and
  roll; more forward lean when crouching); every frame is lifted so that its lowest joint sits
  0.08 m above the floor ``y = 0`` (ankle height), so sitting puts the pelvis at knee height.
  Walking clips translate along their heading.

Output: :class:`~skelcl.data.mocap.MocapClips` in the same world frame as the real pose files
(metres, Y up), with clip names ``synthetic_<posture>_<index>`` and metadata ``source =
"synthetic"``, ``action = <posture>``.
"""

from __future__ import annotations

import math
from typing import Dict, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch

from .mocap import MocapClips

__all__ = [
    "POSTURES",
    "BONE_MEANS",
    "BONE_SPREADS",
    "POSTURE_RANGES",
    "synthetic_mocap",
    "sample_bone_lengths",
]

POSTURES: Tuple[str, ...] = ("standing", "walking", "reaching", "crouching", "sitting")

#: mean bone length (metres) of each joint's bone to its parent, by child joint name.
BONE_MEANS: Mapping[str, float] = {
    "hip": 0.10, "thigh": 0.43, "shank": 0.44, "lower_spine": 0.24, "upper_spine": 0.22,
    "neck": 0.09, "head": 0.15, "clavicle": 0.15, "upper_arm": 0.26, "forearm": 0.24,
}
#: relative half-width of the per-bone factor ``U(1 - s, 1 + s)``.
BONE_SPREADS: Mapping[str, float] = {
    "hip": 0.3, "thigh": 0.1, "shank": 0.1, "lower_spine": 0.1, "upper_spine": 0.25,
    "neck": 0.35, "head": 0.15, "clavicle": 0.3, "upper_arm": 0.1, "forearm": 0.1,
}
_GLOBAL_SCALE = (0.9, 1.1)
_ANKLE_HEIGHT = 0.08

# bone of each joint (child) -> (bone name, rest direction in the parent's frame)
_PARENTS = (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
_BONES: Tuple[Tuple[str, Tuple[float, float, float]], ...] = (
    ("", (0.0, 0.0, 0.0)),
    ("hip", (-1.0, 0.0, 0.0)),
    ("thigh", (0.0, -1.0, 0.0)),
    ("shank", (0.0, -1.0, 0.0)),
    ("hip", (1.0, 0.0, 0.0)),
    ("thigh", (0.0, -1.0, 0.0)),
    ("shank", (0.0, -1.0, 0.0)),
    ("lower_spine", (0.0, 1.0, 0.0)),
    ("upper_spine", (0.0, 1.0, 0.0)),
    ("neck", (0.0, 0.989, 0.148)),
    ("head", (0.0, 0.970, 0.243)),
    ("clavicle", (1.0, 0.0, 0.0)),
    ("upper_arm", (0.0, -1.0, 0.0)),
    ("forearm", (0.0, -1.0, 0.0)),
    ("clavicle", (-1.0, 0.0, 0.0)),
    ("upper_arm", (0.0, -1.0, 0.0)),
    ("forearm", (0.0, -1.0, 0.0)),
)

_PARAMS: Tuple[str, ...] = (
    "root_pitch", "root_roll",
    "l_hip_flex", "l_hip_abd", "l_hip_rot", "l_knee",
    "r_hip_flex", "r_hip_abd", "r_hip_rot", "r_knee",
    "lumbar_flex", "lumbar_lat", "lumbar_twist", "thorax_flex", "thorax_lat", "thorax_twist",
    "neck_flex", "neck_lat", "neck_twist", "head_flex",
    "l_sh_plane", "l_sh_elev", "l_sh_rot", "l_elbow",
    "r_sh_plane", "r_sh_elev", "r_sh_rot", "r_elbow",
)
_P = {name: i for i, name in enumerate(_PARAMS)}

_BASE: Dict[str, Tuple[float, float]] = {
    "root_pitch": (-5, 5), "root_roll": (-4, 4),
    "hip_flex": (-10, 20), "hip_abd": (-5, 15), "hip_rot": (-15, 20), "knee": (0, 20),
    "lumbar_flex": (-5, 15), "lumbar_lat": (-8, 8), "lumbar_twist": (-10, 10),
    "thorax_flex": (-5, 10), "thorax_lat": (-5, 5), "thorax_twist": (-10, 10),
    "neck_flex": (-15, 30), "neck_lat": (-15, 15), "neck_twist": (-40, 40), "head_flex": (-10, 20),
    "sh_plane": (-90, 20), "sh_elev": (0, 45), "sh_rot": (-60, 20), "elbow": (0, 90),
}
_REACH_ARM = {"sh_plane": (-110, 10), "sh_elev": (60, 170), "sh_rot": (-40, 40), "elbow": (0, 50)}

#: Angle ranges (degrees) per posture; keys without ``l_``/``r_`` apply to both sides.
#: For crouching/sitting ``knee`` is added to the thigh's angle from vertical (coupling).
POSTURE_RANGES: Mapping[str, Mapping[str, Tuple[float, float]]] = {
    "standing": dict(_BASE),
    "walking": dict(_BASE, elbow=(5, 40), lumbar_flex=(-5, 10)),
    "reaching": dict(_BASE, lumbar_flex=(-10, 35), lumbar_twist=(-25, 25), **{
        "l_" + k: v for k, v in _REACH_ARM.items()}),
    "crouching": dict(
        _BASE, root_pitch=(5, 30), hip_flex=(70, 125), hip_abd=(0, 30), knee=(10, 45),
        lumbar_flex=(5, 35), sh_plane=(-100, -40), sh_elev=(10, 80), elbow=(20, 110),
    ),
    "sitting": dict(
        _BASE, root_pitch=(-10, 10), hip_flex=(75, 100), hip_abd=(0, 20), knee=(-15, 20),
        lumbar_flex=(-5, 25), sh_plane=(-100, 0), sh_elev=(0, 50), elbow=(20, 100),
    ),
}
_KNEE_MAX, _ELBOW_MAX = 150.0, 145.0


def _range_of(posture: str, param: str) -> Tuple[float, float]:
    table = POSTURE_RANGES[posture]
    if param in table:
        return table[param]
    generic = param[2:] if param[:2] in ("l_", "r_") else param
    return table[generic]


def _rot(axis: int, angle: torch.Tensor) -> torch.Tensor:
    """``(..., 3, 3)`` rotation about a coordinate axis (0 = x, 1 = y, 2 = z), radians."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == 0:
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == 1:
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def sample_bone_lengths(
    num: int, generator: Optional[torch.Generator] = None, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """``(num, 17)`` bone length of each joint to its parent (0 for the pelvis), metres.

    Left and right bones are equal; see :data:`BONE_MEANS` and :data:`BONE_SPREADS`.
    """
    names = list(BONE_MEANS)
    u = torch.rand((num, len(names) + 1), generator=generator, dtype=dtype)
    scale = _GLOBAL_SCALE[0] + (_GLOBAL_SCALE[1] - _GLOBAL_SCALE[0]) * u[:, 0]
    per = {
        n: BONE_MEANS[n] * (1 - BONE_SPREADS[n] + 2 * BONE_SPREADS[n] * u[:, i + 1]) * scale
        for i, n in enumerate(names)
    }
    zero = torch.zeros(num, dtype=dtype)
    return torch.stack([per[b] if b else zero for b, _ in _BONES], dim=-1)


def _forward_kinematics(
    angles: torch.Tensor, lengths: torch.Tensor, yaw: torch.Tensor
) -> torch.Tensor:
    """Joint positions ``(..., 17, 3)`` (pelvis at the origin) from angles (radians).

    Args:
        angles: ``(..., P)`` parameters in the order of ``_PARAMS`` (radians).
        lengths: ``(..., 17)`` bone lengths.
        yaw: ``(...)`` heading (radians) about the vertical axis.
    """
    a = {name: angles[..., i] for i, name in enumerate(_PARAMS)}
    root = _rot(1, yaw) @ _rot(0, a["root_pitch"]) @ _rot(2, a["root_roll"])
    dirs = torch.tensor([d for _, d in _BONES], dtype=angles.dtype)
    dirs = dirs / dirs.norm(dim=-1, keepdim=True).clamp_min(1e-12)

    def bone(j: int, frame: torch.Tensor) -> torch.Tensor:
        return (frame @ (dirs[j] * lengths[..., j, None])[..., None])[..., 0]

    pos = [torch.zeros(angles.shape[:-1] + (3,), dtype=angles.dtype)] * 17
    for side, hip, knee, ankle, sign in (("l", 4, 5, 6, 1.0), ("r", 1, 2, 3, -1.0)):
        pos[hip] = bone(hip, root)
        r_hip = root @ _rot(2, sign * a[f"{side}_hip_abd"]) @ _rot(0, -a[f"{side}_hip_flex"]) @ _rot(
            1, sign * a[f"{side}_hip_rot"]
        )
        pos[knee] = pos[hip] + bone(knee, r_hip)
        r_knee = r_hip @ _rot(0, a[f"{side}_knee"])
        pos[ankle] = pos[knee] + bone(ankle, r_knee)
    lumbar = root @ _rot(1, a["lumbar_twist"]) @ _rot(2, a["lumbar_lat"]) @ _rot(0, a["lumbar_flex"])
    pos[7] = bone(7, lumbar)
    thorax = lumbar @ _rot(1, a["thorax_twist"]) @ _rot(2, a["thorax_lat"]) @ _rot(0, a["thorax_flex"])
    pos[8] = pos[7] + bone(8, thorax)
    neck = thorax @ _rot(1, a["neck_twist"]) @ _rot(2, a["neck_lat"]) @ _rot(0, a["neck_flex"])
    pos[9] = pos[8] + bone(9, neck)
    pos[10] = pos[9] + bone(10, neck @ _rot(0, a["head_flex"]))
    for side, sh, el, wr, sign in (("l", 11, 12, 13, 1.0), ("r", 14, 15, 16, -1.0)):
        pos[sh] = pos[8] + bone(sh, thorax)
        r_sh = thorax @ _rot(1, sign * a[f"{side}_sh_plane"]) @ _rot(2, sign * a[f"{side}_sh_elev"]) @ _rot(
            1, sign * a[f"{side}_sh_rot"]
        )
        pos[el] = pos[sh] + bone(el, r_sh)
        pos[wr] = pos[el] + bone(wr, r_sh @ _rot(0, -a[f"{side}_elbow"]))
    return torch.stack(pos, dim=-2)


def synthetic_mocap(
    num_frames: int,
    *,
    clip_length: int = 60,
    fps: float = 30.0,
    postures: Sequence[str] = POSTURES,
    posture_weights: Optional[Sequence[float]] = None,
    keyframe_every: int = 20,
    generator: Optional[torch.Generator] = None,
) -> MocapClips:
    """Generate synthetic world-frame motion clips (metres, Y up, H36M-17).

    Args:
        num_frames: total frames ``F >= 1`` (split into clips of ``clip_length``; the last clip
            may be shorter).
        clip_length: frames per clip (bone lengths and posture are constant within a clip).
        fps: frame rate (sets walking speed per frame).
        postures: clip kinds to draw from (subset of :data:`POSTURES`).
        posture_weights: relative frequencies of ``postures`` (default uniform).
        keyframe_every: frames between random keyframes of the joint angles.
        generator: random generator (CPU) for reproducible output.

    Returns:
        :class:`~skelcl.data.mocap.MocapClips` with float32 poses ``(F, 17, 3)``, clip names
        ``synthetic_<posture>_<index>``, ``clip_fps = fps`` and metadata ``source`` (all
        ``"synthetic"``), ``action`` (the posture).
    """
    if not isinstance(num_frames, (int, np.integer)) or num_frames < 1:
        raise ValueError(f"num_frames: expected an integer >= 1, got {num_frames!r}")
    if not isinstance(clip_length, (int, np.integer)) or clip_length < 2:
        raise ValueError(f"clip_length: expected an integer >= 2, got {clip_length!r}")
    if not isinstance(keyframe_every, (int, np.integer)) or keyframe_every < 1:
        raise ValueError(f"keyframe_every: expected an integer >= 1, got {keyframe_every!r}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps: expected a number > 0, got {fps!r}")
    postures = tuple(postures)
    unknown = [p for p in postures if p not in POSTURES]
    if not postures or unknown:
        raise ValueError(f"postures: expected a non-empty subset of {POSTURES}, got {postures}")
    weights = torch.tensor(
        posture_weights if posture_weights is not None else [1.0] * len(postures), dtype=torch.float64
    )
    if weights.shape != (len(postures),) or not bool((weights >= 0).all()) or float(weights.sum()) <= 0:
        raise ValueError("posture_weights: expected one non-negative weight per posture, not all 0")

    dtype = torch.float32
    n_clips = -(-int(num_frames) // clip_length)
    t_len = clip_length
    n_keys = -(-(t_len - 1) // keyframe_every) + 1
    kind = torch.multinomial(weights, n_clips, replacement=True, generator=generator)  # (C,)
    kind_names = [postures[int(k)] for k in kind]

    # ---- keyframe angles inside each clip's posture ranges
    low = torch.tensor([[_range_of(p, q)[0] for q in _PARAMS] for p in postures], dtype=dtype)
    high = torch.tensor([[_range_of(p, q)[1] for q in _PARAMS] for p in postures], dtype=dtype)
    u = torch.rand((n_clips, n_keys, len(_PARAMS)), generator=generator, dtype=dtype)
    keys = low[kind, None] + (high - low)[kind, None] * u  # (C, K, P) degrees
    # reaching: choose left, right or both arms to reach (the other arm keeps standing ranges)
    reach_side = torch.randint(0, 3, (n_clips,), generator=generator)  # 0 left, 1 right, 2 both
    base_low = torch.tensor([_range_of("standing", q)[0] for q in _PARAMS], dtype=dtype)
    base_high = torch.tensor([_range_of("standing", q)[1] for q in _PARAMS], dtype=dtype)
    reach_low = torch.tensor([_range_of("reaching", q)[0] if q.startswith("l_") and q[2:] in _REACH_ARM
                              else 0.0 for q in _PARAMS], dtype=dtype)
    reach_high = torch.tensor([_range_of("reaching", q)[1] if q.startswith("l_") and q[2:] in _REACH_ARM
                               else 0.0 for q in _PARAMS], dtype=dtype)
    u2 = torch.rand((n_clips, n_keys, len(_PARAMS)), generator=generator, dtype=dtype)
    is_reach = torch.tensor([p == "reaching" for p in kind_names])
    for side, side_code in (("l", 0), ("r", 1)):
        idx = [_P[f"{side}_{k}"] for k in _REACH_ARM]
        lidx = [_P[f"l_{k}"] for k in _REACH_ARM]
        reaching_arm = is_reach & ((reach_side == side_code) | (reach_side == 2))
        resting_arm = is_reach & ~reaching_arm
        arm_reach = reach_low[lidx] + (reach_high[lidx] - reach_low[lidx]) * u2[..., idx]
        arm_rest = base_low[idx] + (base_high[idx] - base_low[idx]) * u2[..., idx]
        keys[..., idx] = torch.where(
            reaching_arm[:, None, None], arm_reach, torch.where(resting_arm[:, None, None], arm_rest, keys[..., idx])
        )

    # ---- smooth interpolation of keyframes to frames (smoothstep between keys)
    t = torch.arange(t_len, dtype=dtype)
    pos_k = t / keyframe_every
    k0 = pos_k.floor().long().clamp(max=n_keys - 2) if n_keys > 1 else torch.zeros_like(t, dtype=torch.long)
    w = (pos_k - k0).clamp(0, 1)
    w = (w * w * (3 - 2 * w))[None, :, None]
    k1 = (k0 + 1).clamp(max=n_keys - 1)
    deg = keys[:, k0] * (1 - w) + keys[:, k1] * w  # (C, T, P)

    # ---- walking: periodic gait on hips, knees, arm swing; heading and speed
    walk = torch.tensor([p == "walking" for p in kind_names])
    g = torch.rand((n_clips, 8), generator=generator, dtype=dtype)
    freq = 0.8 + 0.3 * g[:, 0]  # strides per second
    phase0 = 2 * math.pi * g[:, 1]
    hip_amp, knee_amp, arm_amp = 15 + 10 * g[:, 2], 40 + 20 * g[:, 3], 10 + 15 * g[:, 4]
    speed = 1.0 + 0.6 * g[:, 5]
    turn = torch.where(g[:, 6] < 0.5, torch.zeros_like(g[:, 6]), (g[:, 7] - 0.5) * 80.0)  # deg / s
    secs = t / fps
    phi = phase0[:, None] + 2 * math.pi * freq[:, None] * secs[None, :]  # (C, T)
    gait = {}
    for side, shift in (("l", 0.0), ("r", math.pi)):
        ph = phi + shift
        gait[f"{side}_hip_flex"] = 10 + hip_amp[:, None] * torch.sin(ph)
        gait[f"{side}_knee"] = 5 + knee_amp[:, None] * torch.cos(ph).clamp_min(0) ** 2
        gait[f"{side}_sh_plane"] = torch.full_like(ph, -90.0) + deg[..., _P[f"{side}_sh_plane"]] * 0.1
        gait[f"{side}_sh_elev"] = arm_amp[:, None] * torch.sin(ph + math.pi)
        gait[f"{side}_sh_rot"] = deg[..., _P[f"{side}_sh_rot"]] * 0.3
    for name, value in gait.items():
        deg[..., _P[name]] = torch.where(walk[:, None], value, deg[..., _P[name]])

    # ---- coupled knees for crouching / sitting: knee = thigh angle from vertical + offset
    couple = torch.tensor([p in ("crouching", "sitting") for p in kind_names])
    for side in ("l", "r"):
        thigh = deg[..., _P[f"{side}_hip_flex"]] - deg[..., _P["root_pitch"]]
        knee = deg[..., _P[f"{side}_knee"]]
        deg[..., _P[f"{side}_knee"]] = torch.where(couple[:, None], thigh + knee, knee)
    for side in ("l", "r"):
        deg[..., _P[f"{side}_knee"]] = deg[..., _P[f"{side}_knee"]].clamp(0.0, _KNEE_MAX)
        deg[..., _P[f"{side}_elbow"]] = deg[..., _P[f"{side}_elbow"]].clamp(0.0, _ELBOW_MAX)

    # ---- heading, forward kinematics, placement on the floor
    yaw0 = 2 * math.pi * torch.rand((n_clips, 1), generator=generator, dtype=dtype)
    yaw = yaw0 + torch.where(walk[:, None], torch.deg2rad(turn)[:, None] * secs[None, :], torch.zeros(1))
    lengths = sample_bone_lengths(n_clips, generator, dtype)  # (C, 17)
    joints = _forward_kinematics(
        torch.deg2rad(deg), lengths[:, None, :].expand(n_clips, t_len, 17), yaw
    )  # (C, T, 17, 3)
    step = torch.where(walk[:, None], speed[:, None] / fps, torch.zeros(1)).expand(n_clips, t_len)
    heading = torch.stack([torch.sin(yaw), torch.zeros_like(yaw), torch.cos(yaw)], dim=-1)
    travel = torch.cumsum(step[..., None] * heading, dim=1) - step[:, :1, None] * heading[:, :1]
    joints = joints + travel[:, :, None, :]
    lift = _ANKLE_HEIGHT - joints[..., 1].amin(dim=-1)  # (C, T)
    joints[..., 1] += lift[..., None]

    poses = joints.reshape(n_clips * t_len, 17, 3)[:num_frames].contiguous()
    lengths_out = np.full(n_clips, t_len, dtype=np.int64)
    lengths_out[-1] = num_frames - t_len * (n_clips - 1)
    names = np.asarray([f"synthetic_{p}_{i:05d}" for i, p in enumerate(kind_names)])
    return MocapClips(
        poses=poses,
        clip_names=names,
        clip_starts=np.arange(n_clips, dtype=np.int64) * t_len,
        clip_lengths=lengths_out,
        clip_fps=np.full(n_clips, float(fps)),
        metadata={"source": np.full(n_clips, "synthetic"), "action": np.asarray(kind_names)},
    )
