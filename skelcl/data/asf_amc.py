"""Acclaim ASF/AMC motion capture (the CMU Graphics Lab database's native format).

An **ASF** file describes the skeleton: ``:units`` (``length`` scale, ``angle deg|rad``),
``:root`` (``order TX TY TZ RX RY RZ``, ``axis XYZ``, ``position``, ``orientation``),
``:bonedata`` (``begin ... end`` blocks with ``id``, ``name``, ``direction dx dy dz`` (unit
vector in the world frame at rest), ``length``, ``axis ax ay az ORDER`` (the bone's local frame)
and optional ``dof rx ry rz ...`` and ``limits``) and ``:hierarchy`` (``parent child child ...``
lines between ``begin`` and ``end``). An **AMC** file holds the motion: optional header lines
(``:FULLY-SPECIFIED``, ``:DEGREES``), then for every frame its number on a line of its own and
one line per moving bone, ``name v1 v2 ...`` with the values in the order of the bone's ``dof``
(the root's in the order of ``:root order``).

Forward kinematics (the Acclaim convention, as in the CMU documentation):

- ``C_b`` is the bone's ``axis`` rotation, ``M_b`` the frame's rotation from its dof angles;
  both compose elementary rotations so that the first axis of the order string acts first:
  ``"XYZ"`` means ``Rz @ Ry @ Rx`` (column vectors).
- The bone's world rotation is ``G_b = G_parent @ C_b @ M_b @ C_b^-1``; its start is the parent's
  end (the root's position for bones hanging off the root) and its end is
  ``start + length * G_b @ direction``.
- The root: ``G_root = C_root @ M_root @ C_root^-1`` and position ``position + (TX, TY, TZ)``.

Lengths are in the ASF unit (``:units length 0.45`` means inches times 0.45, so one unit is
``0.0254 / 0.45`` m); the world frame of CMU data is Y up.

Reference: the Acclaim ASF/AMC specification as documented by the CMU Graphics Lab
(mocap.cs.cmu.edu) and J. Lander, "Working with Motion Capture File Formats" (Game Developer,
1998).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from .bvh import _euler_np

__all__ = [
    "AsfBone",
    "AsfSkeleton",
    "AmcMotion",
    "read_asf",
    "read_amc",
    "asf_amc_positions",
    "CMU_ASF_H36M17",
    "asf_amc_to_h36m17",
]

PathLike = Union[str, "os.PathLike[str]"]

_DOF_AXES = {"rx": 0, "ry": 1, "rz": 2}
_DOF_TRANS = {"tx": 0, "ty": 1, "tz": 2}


@dataclass(frozen=True)
class AsfBone:
    """One ``:bonedata`` entry.

    Args:
        name: bone name.
        direction: ``(3,)`` unit vector (world frame at rest).
        length: bone length (ASF units, before ``:units length`` scaling is undone).
        axis: ``(3,)`` axis angles in degrees, applied in ``axis_order``.
        axis_order: e.g. ``"XYZ"``.
        dof: degrees of freedom in AMC value order, e.g. ``("rx", "ry", "rz")``.
        parent: index of the parent bone, ``-1`` for bones attached to the root.
    """

    name: str
    direction: np.ndarray
    length: float
    axis: np.ndarray
    axis_order: str
    dof: Tuple[str, ...]
    parent: int


@dataclass(frozen=True)
class AsfSkeleton:
    """A parsed ASF file.

    Args:
        bones: the bones, each parent before its children.
        root_order: the root's AMC channel order, e.g. ``("tx", "ty", "tz", "rx", "ry", "rz")``.
        root_axis_order: order of the root's rotation, e.g. ``"XYZ"``.
        root_position: ``(3,)`` rest position of the root.
        root_orientation: ``(3,)`` rest orientation angles of the root (degrees).
        length_unit: the ``:units length`` value.
        angle_unit: ``"deg"`` or ``"rad"``.
        source: the file name.
    """

    bones: Tuple[AsfBone, ...]
    root_order: Tuple[str, ...]
    root_axis_order: str
    root_position: np.ndarray
    root_orientation: np.ndarray
    length_unit: float
    angle_unit: str
    source: str = "<string>"

    @property
    def names(self) -> Tuple[str, ...]:
        """Bone names (the root, ``"root"``, is not a bone)."""
        return tuple(b.name for b in self.bones)

    def index(self, name: str) -> int:
        """Index of a bone by name; ``KeyError`` if absent."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"bone {name!r} not in {self.source}") from None


@dataclass(frozen=True)
class AmcMotion:
    """A parsed AMC file.

    Args:
        root: ``(F, len(root_order))`` root values (translation in ASF units, angles as stored).
        bones: ``{bone name: (F, len(dof))}`` per-bone dof values as stored.
        source: the file name.
    """

    root: np.ndarray
    bones: Dict[str, np.ndarray]
    source: str = "<string>"

    @property
    def num_frames(self) -> int:
        """Number of frames."""
        return int(self.root.shape[0])


def _read_text(path: PathLike, kind: str) -> Tuple[str, str]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {kind} file")
    text = path.read_text(encoding="latin-1")
    if not text.strip():
        raise ValueError(f"{path}: empty {kind} file")
    return text, str(path)


def _floats(tokens: Sequence[str], n: int, what: str, where: str) -> np.ndarray:
    if len(tokens) < n:
        raise ValueError(f"{where}: malformed ASF file: {what} needs {n} numbers, got {list(tokens)}")
    try:
        out = np.array([float(t) for t in tokens[:n]], dtype=np.float64)
    except ValueError:
        raise ValueError(f"{where}: malformed ASF file: {what} is not numeric: {list(tokens)}") from None
    if not np.isfinite(out).all():
        raise ValueError(f"{where}: malformed ASF file: {what} is not finite: {list(tokens)}")
    return out


def parse_asf(text: str, source: str = "<string>") -> AsfSkeleton:
    """Parse the text of an ASF skeleton file (see the module docstring for the format).

    Raises:
        ValueError: one message naming ``source`` and what is wrong (missing section, bad
            number, unknown parent or child in the hierarchy, a bone never attached).
    """
    if not text.strip():
        raise ValueError(f"{source}: empty ASF file")
    lines = [ln.split("#", 1)[0].strip() for ln in text.splitlines()]
    sections: Dict[str, List[Tuple[int, str]]] = {}
    current: Optional[str] = None
    for no, ln in enumerate(lines, start=1):
        if not ln:
            continue
        if ln.startswith(":"):
            head, _, rest = ln[1:].partition(" ")
            current = head.lower()
            sections.setdefault(current, [])
            if rest.strip():
                sections[current].append((no, rest.strip()))
        elif current is not None:
            sections[current].append((no, ln))
    for need in ("root", "bonedata", "hierarchy"):
        if need not in sections:
            raise ValueError(f"{source}: malformed or truncated ASF file: no ':{need}' section")

    length_unit, angle_unit = 1.0, "deg"
    for _, ln in sections.get("units", []):
        parts = ln.split()
        if parts[0].lower() == "length" and len(parts) > 1:
            length_unit = float(_floats(parts[1:], 1, ":units length", source)[0])
        elif parts[0].lower() == "angle" and len(parts) > 1:
            angle_unit = parts[1].lower()
    if angle_unit not in ("deg", "rad"):
        raise ValueError(f"{source}: malformed ASF file: ':units angle' must be deg or rad")

    root_order: Tuple[str, ...] = ("tx", "ty", "tz", "rx", "ry", "rz")
    root_axis, root_pos, root_ori = "XYZ", np.zeros(3), np.zeros(3)
    for _, ln in sections["root"]:
        parts = ln.split()
        key = parts[0].lower()
        if key == "order":
            root_order = tuple(p.lower() for p in parts[1:])
            bad = [p for p in root_order if p not in _DOF_AXES and p not in _DOF_TRANS]
            if bad:
                raise ValueError(f"{source}: malformed ASF file: unknown root channel(s) {bad}")
        elif key == "axis":
            root_axis = parts[1].upper() if len(parts) > 1 else "XYZ"
        elif key == "position":
            root_pos = _floats(parts[1:], 3, "root position", source)
        elif key == "orientation":
            root_ori = _floats(parts[1:], 3, "root orientation", source)

    raw: List[Dict[str, object]] = []
    block: Optional[Dict[str, object]] = None
    for no, ln in sections["bonedata"]:
        parts = ln.split()
        key = parts[0].lower()
        if key == "begin":
            if block is not None:
                raise ValueError(
                    f"{source}: malformed ASF file: bone block at line {block['line']} has no 'end'"
                )
            block = {"line": no}
        elif key == "end":
            if block is None:
                raise ValueError(f"{source}: malformed ASF file (line {no}): 'end' without 'begin'")
            for need in ("name", "direction", "length"):
                if need not in block:
                    raise ValueError(
                        f"{source}: malformed ASF file: bone block at line {block['line']} has no "
                        f"'{need}'"
                    )
            raw.append(block)
            block = None
        elif block is not None:
            if key == "name":
                block["name"] = parts[1]
            elif key == "direction":
                block["direction"] = _floats(parts[1:], 3, f"direction (line {no})", source)
            elif key == "length":
                block["length"] = float(_floats(parts[1:], 1, f"length (line {no})", source)[0])
            elif key == "axis":
                block["axis"] = _floats(parts[1:], 3, f"axis (line {no})", source)
                block["axis_order"] = parts[4].upper() if len(parts) > 4 else "XYZ"
            elif key == "dof":
                dof = tuple(p.lower() for p in parts[1:])
                bad = [p for p in dof if p not in _DOF_AXES and p not in _DOF_TRANS and p != "l"]
                if bad:
                    raise ValueError(f"{source}: malformed ASF file (line {no}): unknown dof {bad}")
                block["dof"] = dof
    if block is not None:
        raise ValueError(f"{source}: truncated ASF file: bone block at line {block['line']} has no 'end'")
    names = [str(b["name"]) for b in raw]
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: malformed ASF file: duplicate bone names")

    parent_of: Dict[str, str] = {}
    for no, ln in sections["hierarchy"]:
        parts = ln.split()
        if parts[0].lower() in ("begin", "end"):
            continue
        par = parts[0]
        if par != "root" and par not in names:
            raise ValueError(f"{source}: malformed ASF file (line {no}): unknown bone {par!r} in :hierarchy")
        for child in parts[1:]:
            if child not in names:
                raise ValueError(
                    f"{source}: malformed ASF file (line {no}): unknown bone {child!r} in :hierarchy"
                )
            parent_of[child] = par
    # order bones so that parents come first (breadth-first from the root)
    order: List[str] = []
    frontier = ["root"]
    while frontier:
        nxt = []
        for p in frontier:
            kids = [n for n in names if parent_of.get(n) == p]
            order.extend(kids)
            nxt.extend(kids)
        frontier = nxt
    orphans = [n for n in names if n not in order]
    if orphans:
        raise ValueError(f"{source}: malformed ASF file: bones {orphans} are not attached to the root")
    by_name = {str(b["name"]): b for b in raw}
    bones = []
    for n in order:
        b = by_name[n]
        d = np.asarray(b["direction"], dtype=np.float64)
        norm = float(np.linalg.norm(d))
        bones.append(
            AsfBone(
                name=n,
                direction=d / norm if norm > 0 else d,
                length=float(b["length"]),  # type: ignore[arg-type]
                axis=np.asarray(b.get("axis", np.zeros(3)), dtype=np.float64),
                axis_order=str(b.get("axis_order", "XYZ")),
                dof=tuple(b.get("dof", ())),  # type: ignore[arg-type]
                parent=-1 if parent_of[n] == "root" else order.index(parent_of[n]),
            )
        )
    return AsfSkeleton(
        bones=tuple(bones),
        root_order=root_order,
        root_axis_order=root_axis,
        root_position=root_pos,
        root_orientation=root_ori,
        length_unit=length_unit,
        angle_unit=angle_unit,
        source=source,
    )


def read_asf(path: PathLike) -> AsfSkeleton:
    """Read an ASF skeleton file (see :func:`parse_asf`)."""
    text, where = _read_text(path, "ASF")
    return parse_asf(text, where)


def parse_amc(text: str, skeleton: AsfSkeleton, source: str = "<string>") -> AmcMotion:
    """Parse the text of an AMC motion file for ``skeleton``.

    Every frame must give the root and each bone with degrees of freedom (CMU files do); bones
    without dof may be omitted.

    Raises:
        ValueError: one message naming ``source``: empty file, no frames, a bone unknown to the
            skeleton, a wrong number of values, non-numeric or NaN values, a bone missing from a
            frame, frame numbers out of sequence.
    """
    if not text.strip():
        raise ValueError(f"{source}: empty AMC file")
    dof_len = {b.name: len(b.dof) for b in skeleton.bones}
    dof_len["root"] = len(skeleton.root_order)
    needed = [n for n, k in dof_len.items() if k > 0]
    frames: List[Dict[str, List[float]]] = []
    for no, raw_line in enumerate(text.splitlines(), start=1):
        ln = raw_line.split("#", 1)[0].strip()
        if not ln or ln.startswith(":"):
            continue
        parts = ln.split()
        if len(parts) == 1 and parts[0].isdigit():
            if int(parts[0]) != len(frames) + 1 and frames:
                raise ValueError(
                    f"{source}: malformed AMC file (line {no}): frame {parts[0]} follows frame "
                    f"{len(frames)}"
                )
            frames.append({})
            continue
        if not frames:
            raise ValueError(f"{source}: malformed AMC file (line {no}): data before the first frame number")
        name = parts[0]
        if name not in dof_len:
            raise ValueError(
                f"{source}: malformed AMC file (line {no}): bone {name!r} is not in the skeleton "
                f"{skeleton.source}"
            )
        if len(parts) - 1 != dof_len[name]:
            raise ValueError(
                f"{source}: malformed AMC file (line {no}): bone {name!r} needs {dof_len[name]} "
                f"values, got {len(parts) - 1}"
            )
        try:
            vals = [float(v) for v in parts[1:]]
        except ValueError:
            raise ValueError(f"{source}: malformed AMC file (line {no}): non-numeric value in {ln!r}") from None
        if not np.isfinite(vals).all():
            raise ValueError(f"{source}: AMC value is NaN or inf (line {no}, frame {len(frames)})")
        frames[-1][name] = vals
    if not frames:
        raise ValueError(f"{source}: AMC file has no frames")
    for i, fr in enumerate(frames):
        missing = [n for n in needed if n not in fr]
        if missing:
            kind = "truncated" if i == len(frames) - 1 else "malformed"
            raise ValueError(f"{source}: {kind} AMC file: frame {i + 1} lacks bone(s) {missing}")
    root = np.array([fr["root"] for fr in frames], dtype=np.float64)
    bones = {
        n: np.array([fr[n] for fr in frames], dtype=np.float64).reshape(len(frames), dof_len[n])
        for n in needed
        if n != "root"
    }
    return AmcMotion(root=root, bones=bones, source=source)


def read_amc(path: PathLike, skeleton: AsfSkeleton) -> AmcMotion:
    """Read an AMC motion file for ``skeleton`` (see :func:`parse_amc`)."""
    text, where = _read_text(path, "AMC")
    return parse_amc(text, skeleton, where)


def _axis_rotation(angles_deg: np.ndarray, order: str) -> np.ndarray:
    """Rotation with the first axis of ``order`` acting first: ``"XYZ"`` -> ``Rz @ Ry @ Rx``.

    ``angles_deg[..., k]`` is the angle about axis ``order[k]``.
    """
    rev = order[::-1]
    idx = [order.index(a) for a in rev]
    return _euler_np(np.deg2rad(angles_deg[..., idx]), ["XYZ".index(a) for a in rev])


def asf_amc_positions(skeleton: AsfSkeleton, motion: AmcMotion) -> Tuple[torch.Tensor, torch.Tensor]:
    """World positions of the root and of every bone's end, vectorised over frames.

    Args:
        skeleton: the ASF skeleton.
        motion: its AMC motion.

    Returns:
        ``(root (F, 3), bone_ends (F, B, 3))`` float64, ASF units, world frame. A bone's start is
        its parent's end (the root's position for bones hanging off the root).
    """
    to_deg = 1.0 if skeleton.angle_unit == "deg" else 180.0 / np.pi
    F = motion.num_frames
    trans = np.zeros((F, 3))
    rot_angles = np.zeros((F, 3))
    for k, ch in enumerate(skeleton.root_order):
        if ch in _DOF_TRANS:
            trans[:, _DOF_TRANS[ch]] = motion.root[:, k]
        else:
            rot_angles[:, _DOF_AXES[ch]] = motion.root[:, k] * to_deg
    order = skeleton.root_axis_order
    perm = ["XYZ".index(a) for a in order]
    c_root = _axis_rotation(skeleton.root_orientation[perm], order)
    m_root = _axis_rotation(rot_angles[:, perm], order)
    g_root = c_root @ m_root @ c_root.T
    p_root = skeleton.root_position + trans

    ends: List[np.ndarray] = []
    g: List[np.ndarray] = []
    for b in skeleton.bones:
        o = b.axis_order
        perm = ["XYZ".index(a) for a in o]
        c = _axis_rotation(b.axis[perm], o)
        angles = np.zeros((F, 3))
        if b.dof and b.name in motion.bones:
            vals = motion.bones[b.name]
            for k, d in enumerate(b.dof):
                if d in _DOF_AXES:
                    angles[:, _DOF_AXES[d]] = vals[:, k] * to_deg
        m = _axis_rotation(angles[:, perm], o)
        parent_g = g_root if b.parent < 0 else g[b.parent]
        parent_p = p_root if b.parent < 0 else ends[b.parent]
        gb = parent_g @ c @ m @ c.T
        g.append(gb)
        ends.append(parent_p + b.length * (gb @ b.direction))
    return torch.from_numpy(p_root), torch.from_numpy(np.stack(ends, axis=1))


#: CMU ASF bones for H36M-17: each joint is the *start* of the named bone (``"root"``: the root;
#: ``"head:end"``: the end of the head bone, the head top).
CMU_ASF_H36M17: Tuple[str, ...] = (
    "root", "rfemur", "rtibia", "rfoot", "lfemur", "ltibia", "lfoot", "upperback", "lowerneck",
    "head", "head:end", "lhumerus", "lradius", "lwrist", "rhumerus", "rradius", "rwrist",
)


def asf_amc_to_h36m17(
    asf: Union[PathLike, AsfSkeleton],
    amc: Union[PathLike, AmcMotion],
    mapping: Sequence[str] = CMU_ASF_H36M17,
) -> np.ndarray:
    """H36M-17 world positions in metres from a CMU-style ASF/AMC pair.

    The mapping follows the project data's rules (see :mod:`skelcl.data.mocap_presets`): limb
    joints at the start of ``femur``/``tibia``/``foot``/``humerus``/``radius``/``wrist``, spine at
    the top of ``lowerback`` (start of ``upperback``), thorax at the base of the neck (start of
    ``lowerneck``), neck_nose at the skull base (start of ``head``) and head at the head top (end
    of ``head``).

    Args:
        asf: the ASF file or a parsed skeleton.
        amc: the AMC file or a parsed motion.
        mapping: 17 entries ``"bone"`` (its start), ``"bone:end"`` or ``"root"``.

    Returns:
        ``(F, 17, 3)`` float64, metres (``length_unit`` inches per ASF unit is undone:
        ``metres = units * 0.0254 / length_unit``), world frame (Y up for CMU).

    Raises:
        ValueError: the skeleton lacks a mapped bone (message names the ASF file).
    """
    sk = asf if isinstance(asf, AsfSkeleton) else read_asf(asf)
    mo = amc if isinstance(amc, AmcMotion) else read_amc(amc, sk)
    if len(mapping) != 17:
        raise ValueError(f"mapping: expected 17 entries, got {len(mapping)}")
    root_t, ends_t = asf_amc_positions(sk, mo)
    root, ends = root_t.numpy(), ends_t.numpy()
    cols = []
    for entry in mapping:
        name, _, which = entry.partition(":")
        if name == "root":
            cols.append(root)
            continue
        try:
            b = sk.index(name)
        except KeyError:
            raise ValueError(f"{sk.source}: the ASF skeleton has no bone {name!r} (mapping {entry!r})") from None
        if which == "end":
            cols.append(ends[:, b])
        else:
            par = sk.bones[b].parent
            cols.append(root if par < 0 else ends[:, par])
    return np.stack(cols, axis=1) * (0.0254 / sk.length_unit)
