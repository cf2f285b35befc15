"""Joint-name presets that turn BVH skeletons into Human3.6M-17 poses.

Each :class:`MocapPreset` names, for every H36M-17 joint, the BVH joint whose *origin* gives it,
following the rules of the project's real data (``shared/data/README.md``):

- hips, knees, ankles, shoulders, elbows and wrists: the origins of the matching joints;
- ``spine``: the chest joint; ``thorax``: the base of the neck (at shoulder height);
- ``neck_nose``: the skull base (the head joint's origin; not the nose);
- ``head``: the head-top ``End Site`` of the head joint, or, where that end site is missing or
  has zero length (Bandai Namco, Character Creator), the point ``head_length`` metres from the
  head joint's origin *along the head bone*. The head bone's direction is the direction of the
  head joint's own ``OFFSET`` expressed in the head joint's rotated frame, i.e. the neck-to-head
  direction carried on by the head's rotation: ``head = p_head + L * G_head @ (o_head / |o_head|)``.
  This reproduces ``bandai_namco_dataset2_h36m17.npz`` and ``cmu_iclone_retarget_h36m17.npz``
  to their 1 mm quantisation.

Presets (all Y-up, right-handed; positions are converted to metres with ``unit_in_metres``):

===================== ========================================================== =============
name                  skeleton                                                   file unit
===================== ========================================================== =============
``bandai_namco``      Bandai Namco Research Motiondataset 1 and 2                centimetre
``cmu_mb``            CMU, cgspeed "MotionBuilder-friendly" BVH release          CMU ASF unit
                      (``LeftUpLeg``, ``LeftLeg``, ``Spine1``, ``Neck1``)        (1/0.45 inch)
``cmu_max``           CMU, cgspeed "3dsMax-friendly" BVH naming                  CMU ASF unit
                      (``LeftHip``, ``LeftKnee``, ``Chest2``, ``lowerneck``)
``character_creator`` Reallusion Character Creator / iClone (``CC_Base_*``)      centimetre
===================== ========================================================== =============

Aliases: ``"bandai"``, ``"cmu"`` and ``"cmu_cgspeed"`` (= ``cmu_mb``), ``"cmu_3dsmax"``
(= ``cmu_max``), ``"iclone"`` and ``"cc"`` (= ``character_creator``).

Attribution: Bandai Namco Research Motiondataset (Kobayashi et al. 2023, arXiv:2306.08861,
CC BY-NC 4.0); CMU Graphics Lab Motion Capture Database (mocap.cs.cmu.edu, NSF EIA-0196217),
BVH conversions by B. Hahne (cgspeed.com).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..skeleton import H36M17
from .bvh import BvhMotion, bvh_forward_kinematics, read_bvh
from .mocap import MocapClips

__all__ = [
    "MocapPreset",
    "PRESETS",
    "get_preset",
    "detect_preset",
    "bvh_motion_to_h36m17",
    "bvh_to_h36m17",
    "CMU_UNIT_IN_METRES",
]

PathLike = Union[str, "os.PathLike[str]"]

_H36M17_NAMES: Tuple[str, ...] = H36M17.names

#: Length of one CMU ASF unit in metres (``:units length 0.45``: lengths are inches times 0.45).
CMU_UNIT_IN_METRES: float = 0.0254 / 0.45


@dataclass(frozen=True)
class MocapPreset:
    """How one BVH skeleton maps to H36M-17.

    Args:
        name: the preset's name.
        description: one line saying which skeleton it is for.
        joints: for each H36M-17 joint except ``head``, the BVH joint whose origin gives it.
        head_joint: the BVH joint whose bone ends at the top of the head.
        head_length: metres along the head bone used when ``head_joint`` has no end site or a
            zero-length one; ``None`` makes that case an error.
        unit_in_metres: length of one file unit in metres (0.01 for centimetres).
    """

    name: str
    description: str
    joints: Mapping[str, str]
    head_joint: str
    head_length: Optional[float]
    unit_in_metres: float

    def __post_init__(self) -> None:
        missing = [n for n in _H36M17_NAMES if n != "head" and n not in self.joints]
        extra = [n for n in self.joints if n not in _H36M17_NAMES or n == "head"]
        if missing or extra:
            raise ValueError(
                f"MocapPreset {self.name!r}: joints must name every H36M-17 joint but 'head' "
                f"(missing {missing}, unexpected {extra})"
            )
        if not (self.unit_in_metres > 0):
            raise ValueError(f"MocapPreset {self.name!r}: unit_in_metres must be > 0")

    @property
    def required_joints(self) -> Tuple[str, ...]:
        """Every BVH joint name this preset needs (without duplicates, in H36M order)."""
        out: List[str] = []
        for n in _H36M17_NAMES:
            src = self.head_joint if n == "head" else self.joints[n]
            if src not in out:
                out.append(src)
        return tuple(out)


def _limbs(side: str, hip: str, knee: str, ankle: str, shoulder: str, elbow: str, wrist: str,
           fmt: str) -> Dict[str, str]:
    """``fmt`` turns a side word (e.g. "L"/"Left") and a part into a BVH joint name."""
    s = side[0].lower()
    return {
        f"{s}_hip": fmt.format(side=side, part=hip),
        f"{s}_knee": fmt.format(side=side, part=knee),
        f"{s}_ankle": fmt.format(side=side, part=ankle),
        f"{s}_shoulder": fmt.format(side=side, part=shoulder),
        f"{s}_elbow": fmt.format(side=side, part=elbow),
        f"{s}_wrist": fmt.format(side=side, part=wrist),
    }


def _bandai() -> MocapPreset:
    joints = {"pelvis": "Hips", "spine": "Chest", "thorax": "Neck", "neck_nose": "Head"}
    for side in ("L", "R"):
        joints.update(_limbs(side, "UpperLeg", "LowerLeg", "Foot", "UpperArm", "LowerArm", "Hand",
                             "{part}_{side}"))
    return MocapPreset(
        "bandai_namco", "Bandai Namco Research Motiondataset (joint_Root, Hips, UpperLeg_L, ...)",
        joints, head_joint="Head", head_length=0.14, unit_in_metres=0.01,
    )


def _cmu_mb() -> MocapPreset:
    # Spine1 coincides with Neck in this release (the thorax bone has zero length), so the
    # chest joint is Spine, half-way between the hips and the neck.
    joints = {"pelvis": "Hips", "spine": "Spine", "thorax": "Neck", "neck_nose": "Head"}
    for side in ("Left", "Right"):
        joints.update(_limbs(side, "UpLeg", "Leg", "Foot", "Arm", "ForeArm", "Hand",
                             "{side}{part}"))
    return MocapPreset(
        "cmu_mb", "CMU mocap, cgspeed MotionBuilder-friendly BVH (Hips, LeftUpLeg, Spine1, Neck1)",
        joints, head_joint="Head", head_length=None, unit_in_metres=CMU_UNIT_IN_METRES,
    )


def _cmu_max() -> MocapPreset:
    joints = {"pelvis": "Hips", "spine": "Chest", "thorax": "lowerneck", "neck_nose": "Head"}
    for side in ("Left", "Right"):
        joints.update(_limbs(side, "Hip", "Knee", "Ankle", "Shoulder", "Elbow", "Wrist",
                             "{side}{part}"))
    return MocapPreset(
        "cmu_max", "CMU mocap, cgspeed 3dsMax-friendly BVH naming (LeftHip, Chest2, lowerneck)",
        joints, head_joint="Head", head_length=None, unit_in_metres=CMU_UNIT_IN_METRES,
    )


def _character_creator() -> MocapPreset:
    joints = {"pelvis": "CC_Base_Hip", "spine": "CC_Base_Spine02",
              "thorax": "CC_Base_NeckTwist01", "neck_nose": "CC_Base_Head"}
    for side in ("L", "R"):
        joints.update(_limbs(side, "Thigh", "Calf", "Foot", "Upperarm", "Forearm", "Hand",
                             "CC_Base_{side}_{part}"))
    return MocapPreset(
        "character_creator", "Reallusion Character Creator / iClone (CC_Base_Hip, CC_Base_L_Thigh)",
        joints, head_joint="CC_Base_Head", head_length=0.16, unit_in_metres=0.01,
    )


#: The built-in presets by name.
PRESETS: Dict[str, MocapPreset] = {
    p.name: p for p in (_bandai(), _cmu_mb(), _cmu_max(), _character_creator())
}

_ALIASES = {
    "bandai": "bandai_namco",
    "cmu": "cmu_mb",
    "cmu_cgspeed": "cmu_mb",
    "cmu_motionbuilder": "cmu_mb",
    "cmu_3dsmax": "cmu_max",
    "iclone": "character_creator",
    "cc": "character_creator",
}


def get_preset(name: Union[str, MocapPreset]) -> MocapPreset:
    """The preset called ``name`` (or an alias, see the module docstring); presets pass through.

    Raises:
        ValueError: unknown name (the message lists the known ones).
    """
    if isinstance(name, MocapPreset):
        return name
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in PRESETS:
        raise ValueError(
            f"preset: unknown mocap preset {name!r}; expected one of "
            f"{sorted(PRESETS) + sorted(_ALIASES)} or 'auto'"
        )
    return PRESETS[key]


def detect_preset(joint_names: Sequence[str], source: str = "<skeleton>") -> MocapPreset:
    """The first built-in preset whose joints all exist in ``joint_names``.

    Args:
        joint_names: the BVH joint names.
        source: a file name for the error message.

    Raises:
        ValueError: no preset fits; the message names ``source`` and, for the closest preset,
            the joints it misses.
    """
    have = set(joint_names)
    best: Optional[Tuple[int, MocapPreset, List[str]]] = None
    for preset in PRESETS.values():
        missing = [j for j in preset.required_joints if j not in have]
        if not missing:
            return preset
        if best is None or len(missing) < best[0]:
            best = (len(missing), preset, missing)
    assert best is not None
    _, preset, missing = best
    raise ValueError(
        f"{source}: no mocap preset matches this skeleton's joint names; the closest, "
        f"{preset.name!r}, misses {missing}. Known presets: {sorted(PRESETS)}; pass a "
        "MocapPreset for other skeletons"
    )


def bvh_motion_to_h36m17(
    motion: BvhMotion, preset: Union[str, MocapPreset] = "auto"
) -> Tuple[np.ndarray, MocapPreset]:
    """H36M-17 world positions in metres from a parsed BVH file.

    Args:
        motion: the parsed file.
        preset: a preset, its name, or ``"auto"`` (:func:`detect_preset`).

    Returns:
        ``(poses (F, 17, 3) float64 metres, world frame of the file (Y up for every built-in
        preset), the preset used)``.

    Raises:
        ValueError: the preset names joints the file lacks, or needs a head length it lacks;
            the message names the file.
    """
    src = motion.source
    sk = motion.skeleton
    if isinstance(preset, str) and preset.lower() == "auto":
        preset = detect_preset(sk.names, source=src)
    else:
        preset = get_preset(preset)
        missing = [j for j in preset.required_joints if j not in sk.names]
        if missing:
            raise ValueError(
                f"{src}: the BVH skeleton has no joint(s) {missing} required by preset "
                f"{preset.name!r} (the file's joints: {list(sk.names)})"
            )
    pos_t, g_rot_t, _ = bvh_forward_kinematics(motion)
    pos, g_rot = pos_t.numpy(), g_rot_t.numpy()
    out = np.empty((motion.num_frames, 17, 3), dtype=np.float64)
    for k, name in enumerate(_H36M17_NAMES):
        if name != "head":
            out[:, k] = pos[:, sk.index(preset.joints[name])]
    h = sk.index(preset.head_joint)
    end = sk.end_sites.get(h)
    if end is not None and float(np.linalg.norm(end)) > 1e-9:
        tip = np.asarray(end, dtype=np.float64)
    else:
        if preset.head_length is None:
            raise ValueError(
                f"{src}: joint {preset.head_joint!r} has no head-top End Site (or a zero-length "
                f"one) and preset {preset.name!r} gives no head_length"
            )
        off = np.asarray(sk.offsets[h], dtype=np.float64)
        norm = float(np.linalg.norm(off))
        if norm < 1e-9:
            raise ValueError(
                f"{src}: cannot place the head top: joint {preset.head_joint!r} has a zero "
                "OFFSET, so the head bone has no direction"
            )
        tip = off / norm * (preset.head_length / preset.unit_in_metres)
    out[:, 10] = pos[:, h] + g_rot[:, h] @ tip
    return out * preset.unit_in_metres, preset


def bvh_to_h36m17(
    paths: Union[PathLike, Sequence[PathLike]],
    preset: Union[str, MocapPreset] = "auto",
) -> MocapClips:
    """Read BVH file(s) and convert them to H36M-17 world positions in metres.

    Args:
        paths: one ``.bvh`` file or a sequence of them (one clip each, concatenated in order).
        preset: ``"auto"`` (detect from each file's joint names), a preset name or a
            :class:`MocapPreset`.

    Returns:
        :class:`~skelcl.data.mocap.MocapClips` with ``poses`` ``(F, 17, 3)`` float32 metres in
        the files' world frame (Y up for the built-in presets), one clip per file named by the
        file's stem, ``clip_fps`` from ``Frame Time`` (rounded to 3 decimals, so 0.0333333 s
        gives 30.0), and metadata columns ``source`` (the file name) and ``preset``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: malformed/truncated/empty file, NaN values, or joints missing for the preset;
            one message naming the file.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("paths: expected at least one BVH file")
    poses, fps, presets = [], [], []
    for p in paths:
        motion = read_bvh(p)
        pose, used = bvh_motion_to_h36m17(motion, preset)
        poses.append(pose)
        fps.append(round(motion.fps, 3))
        presets.append(used.name)
    lengths = np.array([len(x) for x in poses], dtype=np.int64)
    return MocapClips(
        poses=torch.from_numpy(np.concatenate(poses).astype(np.float32)),
        clip_names=np.array([p.stem for p in paths]),
        clip_starts=np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64),
        clip_lengths=lengths,
        clip_fps=np.array(fps, dtype=np.float64),
        metadata={"source": np.array([p.name for p in paths]), "preset": np.array(presets)},
    )
