"""Biovision hierarchy (BVH) motion files: a parser and vectorised forward kinematics.

A BVH file has two sections. ``HIERARCHY`` nests ``ROOT``/``JOINT`` blocks, each with an
``OFFSET x y z`` (the joint's origin in its parent's frame, in the file's length unit) and a
``CHANNELS n name ...`` line; a leaf ends with an ``End Site`` block holding only an ``OFFSET``
(the tip of the last bone, e.g. the top of the head). ``MOTION`` gives ``Frames: F``,
``Frame Time: dt`` (seconds) and then ``F`` lines of numbers, one value per channel, in the
order the channels were declared while walking the hierarchy depth-first.

Conventions implemented here (those of the Biovision format and of the common exporters):

- Channel names are ``Xposition``, ``Yposition``, ``Zposition``, ``Xrotation``, ``Yrotation``,
  ``Zrotation`` (case-insensitive), any number of them per joint, in any order. Angles are degrees.
- A joint's local rotation is the product of the elementary rotations *in the order the channels
  are listed*: ``CHANNELS 3 Zrotation Xrotation Yrotation`` means ``R = Rz(a) @ Rx(b) @ Ry(c)``
  acting on column vectors (a child offset ``o`` lands at ``R @ o`` in the parent frame).
- Position channels give the joint's local translation (``position_mode="replace"``, the
  default): they *replace* the ``OFFSET`` components they name. Exporters that write position
  channels on every joint (the Bandai Namco data repeats each joint's offset in its channels)
  require this. ``position_mode="add"`` adds them to the offset instead (some tools do that);
  for files whose root offset is zero and whose other joints have no position channels (CMU),
  both modes agree.
- World positions: ``p_j = p_parent + G_parent @ t_j``, ``G_j = G_parent @ R_j``; the root's
  parent is the identity at the origin. Units are the file's (often centimetres; the CMU
  conversions use the ASF unit of ``1 / 0.45`` inch, about 5.6 cm).

The forward kinematics is vectorised over frames (one small loop over joints, in hierarchy order).

References: the Biovision BVH description by M. Meredith and S. Maddock, "Motion capture file
formats explained" (University of Sheffield, 2001).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch

__all__ = [
    "BvhSkeleton",
    "BvhMotion",
    "read_bvh",
    "parse_bvh",
    "bvh_forward_kinematics",
    "forward_kinematics",
    "euler_sequence_to_matrix",
]

PathLike = Union[str, "os.PathLike[str]"]

_POSITION = {"xposition": 0, "yposition": 1, "zposition": 2}
_ROTATION = {"xrotation": 0, "yrotation": 1, "zrotation": 2}


@dataclass(frozen=True)
class BvhSkeleton:
    """The ``HIERARCHY`` section of a BVH file.

    Args:
        names: joint names in file order (depth-first; a parent always precedes its children).
        parents: index of each joint's parent, ``-1`` for the root.
        offsets: ``(J, 3)`` float64, each joint's ``OFFSET`` in its parent's frame (file units).
        channels: per joint, the channel names as written (e.g. ``("Zrotation", "Xrotation",
            "Yrotation")``); may be empty.
        end_sites: ``{joint index: (3,) offset}`` of the ``End Site`` block of that joint, in the
            joint's frame (file units). A joint with several end sites keeps the first.
    """

    names: Tuple[str, ...]
    parents: Tuple[int, ...]
    offsets: np.ndarray
    channels: Tuple[Tuple[str, ...], ...]
    end_sites: Dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def num_joints(self) -> int:
        """Number of joints (end sites excluded)."""
        return len(self.names)

    @property
    def num_channels(self) -> int:
        """Number of values per motion frame."""
        return sum(len(c) for c in self.channels)

    @property
    def channel_starts(self) -> Tuple[int, ...]:
        """Column of each joint's first channel in a motion frame."""
        starts, k = [], 0
        for c in self.channels:
            starts.append(k)
            k += len(c)
        return tuple(starts)

    def index(self, name: str) -> int:
        """Index of the joint called ``name`` (exact match); ``KeyError`` if absent."""
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(f"joint {name!r} not in this BVH skeleton") from None


@dataclass(frozen=True)
class BvhMotion:
    """A parsed BVH file: skeleton, per-frame channel values and the frame time.

    Args:
        skeleton: the hierarchy.
        values: ``(F, C)`` float64 channel values (degrees for rotations, file units for positions).
        frame_time: seconds between frames (``Frame Time``).
        source: the file name (or ``"<string>"``), used in error messages.
    """

    skeleton: BvhSkeleton
    values: np.ndarray
    frame_time: float
    source: str = "<string>"

    @property
    def num_frames(self) -> int:
        """Number of frames ``F``."""
        return int(self.values.shape[0])

    @property
    def fps(self) -> float:
        """Frames per second, ``1 / frame_time``."""
        return 1.0 / self.frame_time

    def positions(
        self,
        *,
        include_end_sites: bool = False,
        position_mode: str = "replace",
        dtype: torch.dtype = torch.float64,
        device: Optional[Union[str, torch.device]] = None,
    ) -> torch.Tensor:
        """World positions of every joint, see :func:`bvh_forward_kinematics`."""
        return bvh_forward_kinematics(
            self,
            include_end_sites=include_end_sites,
            position_mode=position_mode,
            dtype=dtype,
            device=device,
        )[0]


class _Tokens:
    """Whitespace tokens of the hierarchy with their line numbers, for error messages."""

    def __init__(self, text: str, source: str) -> None:
        self.items: List[Tuple[str, int]] = []
        for lineno, line in enumerate(text.splitlines(), start=1):
            # braces may touch other tokens ("{OFFSET"), split them off
            for tok in line.replace("{", " { ").replace("}", " } ").split():
                self.items.append((tok, lineno))
        self.pos = 0
        self.source = source

    def error(self, what: str) -> ValueError:
        line = self.items[min(self.pos, len(self.items) - 1)][1] if self.items else 0
        return ValueError(f"{self.source}: malformed BVH file (line {line}): {what}")

    def next(self, expected: str = "a token") -> str:
        if self.pos >= len(self.items):
            raise ValueError(
                f"{self.source}: truncated BVH file: reached the end while expecting {expected}"
            )
        tok = self.items[self.pos][0]
        self.pos += 1
        return tok

    def peek(self) -> Optional[str]:
        return self.items[self.pos][0] if self.pos < len(self.items) else None

    def expect(self, word: str) -> None:
        tok = self.next(repr(word))
        if tok.upper() != word.upper():
            self.pos -= 1
            raise self.error(f"expected {word!r}, found {tok!r}")

    def number(self, what: str) -> float:
        tok = self.next(what)
        try:
            value = float(tok)
        except ValueError:
            self.pos -= 1
            raise self.error(f"expected a number for {what}, found {tok!r}") from None
        if not np.isfinite(value):
            self.pos -= 1
            raise self.error(f"{what} is not finite ({tok!r})")
        return value


def _parse_hierarchy(tokens: _Tokens) -> BvhSkeleton:
    names: List[str] = []
    parents: List[int] = []
    offsets: List[Tuple[float, float, float]] = []
    channels: List[Tuple[str, ...]] = []
    end_sites: Dict[int, np.ndarray] = {}

    def read_offset(owner: str) -> Tuple[float, float, float]:
        tokens.expect("OFFSET")
        return tuple(tokens.number(f"the OFFSET of {owner}") for _ in range(3))  # type: ignore

    def parse_joint(parent: int) -> None:
        name = tokens.next("a joint name")
        if name in ("{", "}"):
            tokens.pos -= 1
            raise tokens.error("a joint has no name")
        if name in names:
            raise tokens.error(f"joint name {name!r} appears twice")
        tokens.expect("{")
        index = len(names)
        names.append(name)
        parents.append(parent)
        offsets.append(read_offset(name))
        chans: Tuple[str, ...] = ()
        if (tokens.peek() or "").upper() == "CHANNELS":
            tokens.next()
            count_tok = tokens.next(f"the channel count of {name}")
            if not count_tok.isdigit():
                tokens.pos -= 1
                raise tokens.error(f"expected a channel count for {name}, found {count_tok!r}")
            chans = tuple(tokens.next(f"channel names of {name}") for _ in range(int(count_tok)))
            for c in chans:
                if c.lower() not in _POSITION and c.lower() not in _ROTATION:
                    raise tokens.error(f"unknown channel {c!r} for joint {name!r}")
            if len({c.lower() for c in chans if c.lower() in _POSITION}) != sum(
                c.lower() in _POSITION for c in chans
            ):
                raise tokens.error(f"joint {name!r} repeats a position channel")
        channels.append(chans)
        while True:
            tok = tokens.next(f"'}}' closing joint {name!r}")
            key = tok.upper()
            if key == "}":
                return
            if key == "JOINT":
                parse_joint(index)
            elif key == "END":
                site = tokens.next("'Site'")
                if site.upper() != "SITE":
                    tokens.pos -= 1
                    raise tokens.error(f"expected 'End Site', found 'End {site}'")
                tokens.expect("{")
                off = read_offset(f"the End Site of {name}")
                tokens.expect("}")
                end_sites.setdefault(index, np.asarray(off, dtype=np.float64))
            else:
                tokens.pos -= 1
                raise tokens.error(f"unexpected {tok!r} inside joint {name!r}")

    tokens.expect("HIERARCHY")
    tok = tokens.next("ROOT")
    if tok.upper() != "ROOT":
        tokens.pos -= 1
        raise tokens.error(f"expected 'ROOT', found {tok!r}")
    parse_joint(-1)
    if tokens.peek() is not None and tokens.peek().upper() == "ROOT":  # type: ignore[union-attr]
        raise tokens.error("several ROOT joints (multi-character files) are not supported")
    return BvhSkeleton(
        names=tuple(names),
        parents=tuple(parents),
        offsets=np.asarray(offsets, dtype=np.float64).reshape(-1, 3),
        channels=tuple(channels),
        end_sites=end_sites,
    )


_MOTION_RE = re.compile(r"^\s*MOTION\s*$", re.IGNORECASE | re.MULTILINE)
_FRAMES_RE = re.compile(r"^\s*Frames\s*:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_FTIME_RE = re.compile(r"^\s*Frame\s+Time\s*:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)


def parse_bvh(text: str, source: str = "<string>") -> BvhMotion:
    """Parse the text of a BVH file.

    Args:
        text: the whole file.
        source: a name for error messages (the file path).

    Returns:
        The parsed :class:`BvhMotion` (float64 values ``(F, C)``).

    Raises:
        ValueError: one message naming ``source`` and what is wrong: empty file, malformed or
            truncated hierarchy, unknown channel, missing ``MOTION`` / ``Frames`` /
            ``Frame Time``, a frame count that does not match the numbers present, non-numeric
            or non-finite values.
    """
    if not text.strip():
        raise ValueError(f"{source}: empty BVH file")
    match = _MOTION_RE.search(text)
    if match is None:
        raise ValueError(
            f"{source}: truncated or malformed BVH file: no MOTION section "
            "(expected 'MOTION', 'Frames: N', 'Frame Time: dt' after the HIERARCHY)"
        )
    tokens = _Tokens(text[: match.start()], source)
    skeleton = _parse_hierarchy(tokens)
    if tokens.peek() is not None:
        raise tokens.error(f"unexpected {tokens.peek()!r} after the hierarchy")

    motion = text[match.end():]
    frames_m = _FRAMES_RE.search(motion)
    ftime_m = _FTIME_RE.search(motion)
    if frames_m is None or ftime_m is None:
        missing = "'Frames:'" if frames_m is None else "'Frame Time:'"
        raise ValueError(f"{source}: malformed BVH file: the MOTION section has no {missing} line")
    try:
        num_frames = int(frames_m.group(1))
        frame_time = float(ftime_m.group(1))
    except ValueError:
        raise ValueError(
            f"{source}: malformed BVH file: bad 'Frames: {frames_m.group(1)}' or "
            f"'Frame Time: {ftime_m.group(1)}'"
        ) from None
    if num_frames < 0:
        raise ValueError(f"{source}: malformed BVH file: negative frame count {num_frames}")
    if not (np.isfinite(frame_time) and frame_time > 0):
        raise ValueError(f"{source}: malformed BVH file: Frame Time must be > 0, got {frame_time}")
    body = motion[max(frames_m.end(), ftime_m.end()):]
    num_channels = skeleton.num_channels
    try:
        flat = np.array(body.split(), dtype=np.float64)
    except ValueError:
        bad = next(t for t in body.split() if not _is_float(t))
        raise ValueError(f"{source}: malformed BVH file: non-numeric motion value {bad!r}") from None
    expected = num_frames * num_channels
    if flat.size != expected:
        have = flat.size / num_channels if num_channels else float(flat.size)
        kind = "truncated" if flat.size < expected else "malformed"
        raise ValueError(
            f"{source}: {kind} BVH file: 'Frames: {num_frames}' with {num_channels} channels "
            f"needs {expected} motion values, found {flat.size} ({have:.2f} frames)"
        )
    if num_frames == 0:
        raise ValueError(f"{source}: BVH file has no motion frames ('Frames: 0')")
    values = flat.reshape(num_frames, num_channels)
    if not np.isfinite(values).all():
        frame, col = np.argwhere(~np.isfinite(values))[0]
        raise ValueError(
            f"{source}: BVH motion value is NaN or inf at frame {int(frame)}, column {int(col)}"
        )
    return BvhMotion(skeleton=skeleton, values=values, frame_time=frame_time, source=source)


def _is_float(tok: str) -> bool:
    try:
        float(tok)
    except ValueError:
        return False
    return True


def read_bvh(path: PathLike) -> BvhMotion:
    """Read a BVH file from disk (see :func:`parse_bvh` for the format and the errors).

    Args:
        path: the ``.bvh`` file.

    Returns:
        The parsed :class:`BvhMotion`; ``source`` is ``str(path)``.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such BVH file")
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        text = path.read_text(encoding="latin-1")
    return parse_bvh(text, source=str(path))


def _elementary(axis: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotation matrices about coordinate axes: ``axis`` ints (...,) in {0, 1, 2}, angle radians."""
    c, s = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(c), torch.zeros_like(c)
    rx = torch.stack([one, zero, zero, zero, c, -s, zero, s, c], dim=-1)
    ry = torch.stack([c, zero, s, zero, one, zero, -s, zero, c], dim=-1)
    rz = torch.stack([c, -s, zero, s, c, zero, zero, zero, one], dim=-1)
    axis = axis.expand(angle.shape).unsqueeze(-1)
    out = torch.where(axis == 0, rx, torch.where(axis == 1, ry, rz))
    return out.reshape(*angle.shape, 3, 3)


def euler_sequence_to_matrix(angles: torch.Tensor, axes: Union[str, Sequence[int]]) -> torch.Tensor:
    """Compose elementary rotations in the listed order (the BVH channel convention).

    ``R = R_{axes[0]}(angles[..., 0]) @ R_{axes[1]}(angles[..., 1]) @ ...`` (intrinsic rotations,
    column vectors). For ``axes="ZXY"`` this is ``Rz @ Rx @ Ry``.

    Args:
        angles: ``(..., K)`` angles in **radians**.
        axes: ``K`` axis letters (``"ZXY"``) or indices (0 = x, 1 = y, 2 = z).

    Returns:
        ``(..., 3, 3)`` rotation matrices, same dtype and device as ``angles``.
    """
    if isinstance(axes, str):
        idx = ["XYZ".index(a) for a in axes.upper()]
    else:
        idx = [int(a) for a in axes]
    if angles.shape[-1] != len(idx):
        raise ValueError(f"angles: expected shape (..., {len(idx)}), got {tuple(angles.shape)}")
    out = torch.eye(3, dtype=angles.dtype, device=angles.device).expand(*angles.shape[:-1], 3, 3)
    for k, a in enumerate(idx):
        axis = torch.tensor(a, device=angles.device)
        out = out @ _elementary(axis, angles[..., k])
    return out


def forward_kinematics(
    rotations: torch.Tensor, translations: torch.Tensor, parents: Sequence[int]
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Global rotations and positions of a kinematic tree.

    Args:
        rotations: ``(..., J, 3, 3)`` local rotations (column-vector convention).
        translations: ``(..., J, 3)`` local translations in the parent's frame.
        parents: ``J`` parent indices, ``-1`` for roots, each parent before its children.

    Returns:
        ``(global_rotations (..., J, 3, 3), positions (..., J, 3))`` with
        ``p_j = p_parent + G_parent @ t_j`` and ``G_j = G_parent @ R_j``.
    """
    J = len(parents)
    if rotations.shape[-3:] != (J, 3, 3) or translations.shape[-2:] != (J, 3):
        raise ValueError(
            f"rotations/translations: expected (..., {J}, 3, 3) and (..., {J}, 3), got "
            f"{tuple(rotations.shape)} and {tuple(translations.shape)}"
        )
    g_rot: List[torch.Tensor] = []
    g_pos: List[torch.Tensor] = []
    for j, p in enumerate(parents):
        if p < 0:
            g_rot.append(rotations[..., j, :, :])
            g_pos.append(translations[..., j, :])
        else:
            if p >= j:
                raise ValueError(f"parents: joint {j} has parent {p}; parents must come first")
            g_rot.append(g_rot[p] @ rotations[..., j, :, :])
            g_pos.append(g_pos[p] + (g_rot[p] @ translations[..., j, :, None])[..., 0])
    return torch.stack(g_rot, dim=-3), torch.stack(g_pos, dim=-2)


def _elementary_np(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """NumPy twin of :func:`_elementary` (float64; used by the file readers)."""
    c, s = np.cos(angle), np.sin(angle)
    one, zero = np.ones_like(c), np.zeros_like(c)
    rx = np.stack([one, zero, zero, zero, c, -s, zero, s, c], axis=-1)
    ry = np.stack([c, zero, s, zero, one, zero, -s, zero, c], axis=-1)
    rz = np.stack([c, -s, zero, s, c, zero, zero, zero, one], axis=-1)
    axis = np.broadcast_to(axis, angle.shape)[..., None]
    out = np.where(axis == 0, rx, np.where(axis == 1, ry, rz))
    return out.reshape(*angle.shape, 3, 3)


def _euler_np(angles: np.ndarray, axes: Sequence[int]) -> np.ndarray:
    """``R_{axes[0]}(angles[..., 0]) @ R_{axes[1]}(angles[..., 1]) @ ...`` (radians, float64)."""
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3))
    for k, a in enumerate(axes):
        out = out @ _elementary_np(np.asarray(a), angles[..., k])
    return out


def _fk_np(rot: np.ndarray, trans: np.ndarray, parents: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
    """NumPy twin of :func:`forward_kinematics` for ``(F, J, 3, 3)`` / ``(F, J, 3)``.

    The readers use NumPy because these tiny batched 3x3 products are dominated by thread
    start-up costs in torch on a busy CPU.
    """
    g_rot = np.empty_like(rot)
    g_pos = np.empty_like(trans)
    for j, p in enumerate(parents):
        if p < 0:
            g_rot[:, j], g_pos[:, j] = rot[:, j], trans[:, j]
        else:
            g_rot[:, j] = g_rot[:, p] @ rot[:, j]
            g_pos[:, j] = g_pos[:, p] + np.einsum("fij,fj->fi", g_rot[:, p], trans[:, j])
    return g_rot, g_pos


def _local_transforms(motion: BvhMotion, position_mode: str) -> Tuple[np.ndarray, np.ndarray]:
    """Local rotations ``(F, J, 3, 3)`` and translations ``(F, J, 3)`` of every frame (float64)."""
    if position_mode not in ("replace", "add"):
        raise ValueError(f"position_mode: expected 'replace' or 'add', got {position_mode!r}")
    sk = motion.skeleton
    F, J = motion.num_frames, sk.num_joints
    values = motion.values
    trans = np.broadcast_to(sk.offsets, (F, J, 3)).copy()
    K = max([sum(c.lower() in _ROTATION for c in ch) for ch in sk.channels] + [1])
    angle_cols = np.full((J, K), -1, dtype=np.int64)
    axes = np.zeros((J, K), dtype=np.int64)
    for j, (start, ch) in enumerate(zip(sk.channel_starts, sk.channels)):
        k = 0
        for i, name in enumerate(ch):
            lname = name.lower()
            if lname in _POSITION:
                a = _POSITION[lname]
                v = values[:, start + i]
                trans[:, j, a] = v if position_mode == "replace" else trans[:, j, a] + v
            else:
                angle_cols[j, k] = start + i
                axes[j, k] = _ROTATION[lname]
                k += 1
    padded = np.concatenate([values, np.zeros((F, 1))], axis=1)
    angles = np.deg2rad(padded[:, angle_cols])  # (F, J, K); column -1 is the zero pad
    rot = np.broadcast_to(np.eye(3), (F, J, 3, 3))
    for k in range(K):
        rot = rot @ _elementary_np(axes[:, k], angles[:, :, k])
    return rot, trans


def bvh_forward_kinematics(
    motion: BvhMotion,
    *,
    include_end_sites: bool = False,
    position_mode: str = "replace",
    dtype: torch.dtype = torch.float64,
    device: Optional[Union[str, torch.device]] = None,
) -> Tuple[torch.Tensor, torch.Tensor, Tuple[str, ...]]:
    """World positions and orientations of the joints of every frame (vectorised over frames).

    Args:
        motion: a parsed BVH file.
        include_end_sites: also return the end sites, appended after the joints and named
            ``"<joint>/End Site"``.
        position_mode: ``"replace"`` (position channels replace the offset components they
            name) or ``"add"`` (they are added to the offset). See the module docstring.
        dtype: output dtype (computed in float64, then cast).
        device: output device.

    Returns:
        ``(positions (F, J', 3), global_rotations (F, J, 3, 3), names (J',))`` in the file's
        length unit and world axes; ``J' = J`` plus the number of end sites if requested.
    """
    rot, trans = _local_transforms(motion, position_mode)
    g_rot, pos = _fk_np(rot, trans, motion.skeleton.parents)
    names = motion.skeleton.names
    if include_end_sites and motion.skeleton.end_sites:
        idx = sorted(motion.skeleton.end_sites)
        ends = np.stack([motion.skeleton.end_sites[i] for i in idx])
        tips = pos[:, idx] + np.einsum("fjab,jb->fja", g_rot[:, idx], ends)
        pos = np.concatenate([pos, tips], axis=1)
        names = names + tuple(f"{names[i]}/End Site" for i in idx)
    return (
        torch.as_tensor(pos, dtype=dtype, device=device),
        torch.as_tensor(g_rot, dtype=dtype, device=device),
        names,
    )
