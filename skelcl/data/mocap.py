"""World-frame motion-capture clips: the ``*_h36m17.npz`` pose files and :class:`MocapClips`.

The pose files of the project's data directory (see its README) store

- ``poses_3d_mm``: int16 ``(F, 17, 3)`` millimetres, world frame, **Y up**, right-handed,
  Human3.6M-17 joint order;
- ``clip_names``, ``clip_starts``, ``clip_lengths``: frames ``[s, s + n)`` form one clip;
- ``fps`` and per-clip metadata (Bandai Namco: ``content``, ``style``; CMU: ``subject``,
  ``description``).

:func:`load_mocap` turns one into a :class:`MocapClips` (metres, float32), adding two per-clip
metadata columns: ``source`` (the file stem, e.g. ``"bandai_namco_dataset2_h36m17"``) and
``action`` (``content`` where present, else ``description``). :meth:`MocapClips.select` filters
clips by metadata expressions such as ``"style!=normal"`` or ``"subject=002,005"``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence, Tuple, Union

import numpy as np
import torch

from ..skeleton import H36M17
from .pose_dataset import read_npz

__all__ = ["MocapClips", "load_mocap", "save_mocap", "parse_selection"]

_H36M17_NAMES: Tuple[str, ...] = H36M17.names

_CLIP_KEYS = ("clip_names", "clip_starts", "clip_lengths")


def parse_selection(expression: str) -> Tuple[str, bool, Tuple[str, ...]]:
    """Parse one selection expression.

    Grammar: ``KEY=V1[,V2...]`` (keep clips whose ``KEY`` is one of the values) or
    ``KEY!=V1[,V2...]`` (keep clips whose ``KEY`` is none of them). Whitespace around the parts
    is ignored. ``KEY`` is a metadata column or ``name`` (the clip name).

    Returns:
        ``(key, negate, values)``.

    Raises:
        ValueError: malformed expression.
    """
    if not isinstance(expression, str):
        raise TypeError(f"selection: expected a string like 'style!=normal', got {expression!r}")
    if "!=" in expression:
        key, _, rest = expression.partition("!=")
        negate = True
    elif "=" in expression:
        key, _, rest = expression.partition("=")
        negate = False
    else:
        raise ValueError(
            f"selection: expected 'KEY=VALUE' or 'KEY!=VALUE' (values separated by commas), "
            f"got {expression!r}"
        )
    key = key.strip()
    values = tuple(v.strip() for v in rest.split(","))
    if not key or not all(values):
        raise ValueError(f"selection: empty key or value in {expression!r}")
    return key, negate, values


@dataclass
class MocapClips:
    """World-frame 3D motion clips in one contiguous array.

    Fields:

    - ``poses``: ``(F, J, 3)`` float32 tensor, metres, world frame, Y up (right-handed).
    - ``clip_names``: ``(C,)`` unicode clip names.
    - ``clip_starts``: ``(C,)`` int64 first frame of each clip in ``poses``.
    - ``clip_lengths``: ``(C,)`` int64 number of frames of each clip (``> 0``).
    - ``clip_fps``: ``(C,)`` float64 frame rate of each clip (sources may differ, e.g. 30 and 60).
    - ``metadata``: per-clip ``(C,)`` unicode columns (``content``, ``style``, ``subject``,
      ``description``, ``action``, ``source`` ...).
    - ``layout``: joint layout name (``"h36m17"``).
    """

    poses: torch.Tensor
    clip_names: np.ndarray
    clip_starts: np.ndarray
    clip_lengths: np.ndarray
    clip_fps: np.ndarray
    metadata: Dict[str, np.ndarray] = field(default_factory=dict)
    layout: str = "h36m17"

    def __post_init__(self) -> None:
        if isinstance(self.poses, np.ndarray):
            self.poses = torch.from_numpy(self.poses)
        if not isinstance(self.poses, torch.Tensor) or not self.poses.is_floating_point():
            raise TypeError("poses: expected a floating-point torch.Tensor (F, J, 3)")
        if self.poses.ndim != 3 or self.poses.shape[-1] != 3:
            raise ValueError(f"poses: expected shape (F, J, 3), got {tuple(self.poses.shape)}")
        self.clip_names = np.asarray(self.clip_names, dtype=str)
        self.clip_starts = np.asarray(self.clip_starts, dtype=np.int64)
        self.clip_lengths = np.asarray(self.clip_lengths, dtype=np.int64)
        c = self.clip_names.shape[0]
        self.clip_fps = np.broadcast_to(np.asarray(self.clip_fps, dtype=np.float64), (c,)).copy()
        for name in ("clip_starts", "clip_lengths"):
            if getattr(self, name).shape != (c,):
                raise ValueError(f"{name}: expected shape ({c},), got {getattr(self, name).shape}")
        f = self.poses.shape[0]
        if (self.clip_lengths <= 0).any():
            raise ValueError(f"clip_lengths: every clip needs >= 1 frame, got {self.clip_lengths.min()}")
        if (self.clip_starts < 0).any() or (self.clip_starts + self.clip_lengths > f).any():
            bad = int(np.flatnonzero((self.clip_starts < 0) | (self.clip_starts + self.clip_lengths > f))[0])
            raise ValueError(
                f"clip_starts/clip_lengths: clip {bad} ({self.clip_names[bad]!r}) spans frames "
                f"[{self.clip_starts[bad]}, {self.clip_starts[bad] + self.clip_lengths[bad]}) "
                f"outside the {f} frames"
            )
        if not (np.isfinite(self.clip_fps).all() and (self.clip_fps > 0).all()):
            raise ValueError("clip_fps: expected finite frame rates > 0")
        meta = {}
        for k, v in dict(self.metadata).items():
            v = np.asarray(v, dtype=str)
            if v.shape != (c,):
                raise ValueError(f"metadata[{k!r}]: expected shape ({c},), got {v.shape}")
            meta[k] = v
        self.metadata = meta

    # ------------------------------------------------------------------ sizes
    @property
    def num_clips(self) -> int:
        """Number of clips ``C``."""
        return int(self.clip_names.shape[0])

    @property
    def num_frames(self) -> int:
        """Number of frames ``F`` of ``poses`` (all clips)."""
        return int(self.poses.shape[0])

    def __len__(self) -> int:
        return self.num_frames

    @property
    def fps(self) -> float:
        """The common frame rate of all clips.

        Raises:
            ValueError: the clips have different frame rates (read :attr:`clip_fps` instead).
        """
        uniq = np.unique(self.clip_fps)
        if uniq.size != 1:
            raise ValueError(f"fps: clips have different frame rates {uniq.tolist()}; use clip_fps")
        return float(uniq[0])

    def frame_clip_index(self) -> np.ndarray:
        """``(F,)`` int64: the clip index of every frame (-1 for frames outside every clip)."""
        out = np.full(self.num_frames, -1, dtype=np.int64)
        idx = self._clip_frame_indices(np.arange(self.num_clips))
        out[idx] = np.repeat(np.arange(self.num_clips), self.clip_lengths)
        return out

    def per_frame(self, key: str) -> np.ndarray:
        """``(F,)`` labels of a per-clip column (``"name"`` for the clip names) for every frame."""
        col = self._column(key)
        ci = self.frame_clip_index()
        out = np.full(self.num_frames, "", dtype=col.dtype)
        out[ci >= 0] = col[ci[ci >= 0]]
        return out

    def clip(self, index: Union[int, str]) -> torch.Tensor:
        """``(n, J, 3)`` frames of one clip, by position or by name."""
        if isinstance(index, str):
            hits = np.flatnonzero(self.clip_names == index)
            if hits.size == 0:
                raise KeyError(f"clip: no clip named {index!r}")
            index = int(hits[0])
        s, n = int(self.clip_starts[index]), int(self.clip_lengths[index])
        return self.poses[s : s + n]

    # ------------------------------------------------------------------ selection
    def _column(self, key: str) -> np.ndarray:
        if key in ("name", "clip", "clip_name", "clip_names"):
            return self.clip_names
        if key not in self.metadata:
            raise KeyError(
                f"selection: unknown key {key!r}; available: name, {', '.join(sorted(self.metadata))}"
            )
        return self.metadata[key]

    def clip_mask(self, *expressions: str) -> np.ndarray:
        """``(C,)`` bool: clips that satisfy every expression (see :func:`parse_selection`)."""
        mask = np.ones(self.num_clips, dtype=bool)
        for expr in expressions:
            key, negate, values = parse_selection(expr)
            hit = np.isin(self._column(key), np.asarray(values, dtype=str))
            mask &= ~hit if negate else hit
        return mask

    def select(self, *expressions: str) -> "MocapClips":
        """Clips that satisfy every expression (logical AND), e.g. ``select("style!=normal")``.

        Expressions are ``KEY=V1,V2`` (key is one of the values) or ``KEY!=V1,V2`` (none of
        them); ``KEY`` is a metadata column or ``name``. The result is repacked contiguously.

        Raises:
            KeyError: unknown key.
            ValueError: malformed expression.
        """
        return self.take_clips(np.flatnonzero(self.clip_mask(*expressions)))

    def _clip_frame_indices(self, clip_index: np.ndarray) -> np.ndarray:
        lengths = self.clip_lengths[clip_index]
        starts = self.clip_starts[clip_index]
        offsets = np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        return np.repeat(starts, lengths) + offsets

    def take_clips(self, clip_index: Sequence[int]) -> "MocapClips":
        """The clips at ``clip_index`` (in that order), repacked contiguously."""
        ci = np.asarray(clip_index, dtype=np.int64).reshape(-1)
        frames = torch.from_numpy(self._clip_frame_indices(ci))
        lengths = self.clip_lengths[ci]
        return MocapClips(
            poses=self.poses[frames],
            clip_names=self.clip_names[ci],
            clip_starts=np.cumsum(lengths) - lengths,
            clip_lengths=lengths,
            clip_fps=self.clip_fps[ci],
            metadata={k: v[ci] for k, v in self.metadata.items()},
            layout=self.layout,
        )

    def subsample(self, step: int) -> "MocapClips":
        """Every ``step``-th frame of every clip (frame rates divided by ``step``).

        Clips keep at least their first frame.
        """
        if not isinstance(step, (int, np.integer)) or step < 1:
            raise ValueError(f"step: expected an integer >= 1, got {step!r}")
        lengths = (self.clip_lengths + step - 1) // step
        offsets = (np.arange(int(lengths.sum())) - np.repeat(np.cumsum(lengths) - lengths, lengths)) * step
        frames = np.repeat(self.clip_starts, lengths) + offsets
        return MocapClips(
            poses=self.poses[torch.from_numpy(frames)],
            clip_names=self.clip_names,
            clip_starts=np.cumsum(lengths) - lengths,
            clip_lengths=lengths,
            clip_fps=self.clip_fps / step,
            metadata=dict(self.metadata),
            layout=self.layout,
        )

    @staticmethod
    def concat(parts: Iterable["MocapClips"]) -> "MocapClips":
        """Concatenate clip collections; metadata columns missing in a part are filled with ``""``."""
        parts = list(parts)
        if not parts:
            raise ValueError("parts: expected at least one MocapClips")
        layouts = {p.layout for p in parts}
        if len(layouts) != 1:
            raise ValueError(f"parts: mixed layouts {sorted(layouts)}")
        keys: list = []
        for p in parts:
            keys += [k for k in p.metadata if k not in keys]
        packed = [p if p.is_packed() else p.take_clips(np.arange(p.num_clips)) for p in parts]
        offsets = np.cumsum([0] + [q.num_frames for q in packed[:-1]])
        return MocapClips(
            poses=torch.cat([p.poses for p in packed]),
            clip_names=np.concatenate([p.clip_names for p in packed]),
            clip_starts=np.concatenate([p.clip_starts + o for p, o in zip(packed, offsets)]),
            clip_lengths=np.concatenate([p.clip_lengths for p in packed]),
            clip_fps=np.concatenate([p.clip_fps for p in packed]),
            metadata={
                k: np.concatenate(
                    [p.metadata.get(k, np.full(p.num_clips, "", dtype=str)).astype(str) for p in packed]
                )
                for k in keys
            },
            layout=parts[0].layout,
        )

    def is_packed(self) -> bool:
        """Whether the clips tile ``poses`` exactly, in order, with no gaps."""
        expected = np.cumsum(self.clip_lengths) - self.clip_lengths
        return bool(np.array_equal(self.clip_starts, expected)) and int(self.clip_lengths.sum()) == self.num_frames

    def summary(self) -> str:
        """Multi-line description (used by ``python -m skelcl.data info``)."""
        fps = np.unique(self.clip_fps).tolist()
        lines = [
            f"mocap clips: {self.num_clips} clips, {self.num_frames} frames x {self.poses.shape[1]} "
            f"joints, layout {self.layout!r}, fps {fps}",
        ]
        for k, v in self.metadata.items():
            uniq, counts = np.unique(v, return_counts=True)
            order = np.argsort(-counts)[:8]
            shown = ", ".join(f"{uniq[i]} ({counts[i]})" for i in order)
            lines.append(f"{k}: {len(uniq)} distinct: {shown}" + (" ..." if len(uniq) > 8 else ""))
        return "\n".join(lines)


def load_mocap(path: Union[str, Path], selection: Optional[Sequence[str]] = None) -> MocapClips:
    """Read a ``*_h36m17.npz`` pose file (int16 mm, world frame, Y up) as metres.

    Args:
        path: the file.
        selection: optional expressions passed to :meth:`MocapClips.select`.

    Returns:
        :class:`MocapClips` with float32 metres; metadata gains ``source`` (the file stem,
        unless the file has a ``source`` column) and
        ``action`` (``content``, else ``description``, else ``""``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is empty, truncated, not an ``.npz``, misses a key, has the wrong
            joint count or inconsistent clips; the message names the file.
    """
    path = Path(path)
    where = str(path)
    arrays = read_npz(path, "mocap file")
    missing = [k for k in ("poses_3d_mm",) + _CLIP_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{where}: missing key(s) {missing}; found {sorted(arrays)}")
    raw = arrays["poses_3d_mm"]
    if raw.dtype.kind not in "iuf" or raw.ndim != 3 or raw.shape[1:] != (17, 3):
        raise ValueError(
            f"{where}: key 'poses_3d_mm': expected a numeric (F, 17, 3) array (H36M-17), got "
            f"dtype {raw.dtype} shape {raw.shape}"
        )
    if raw.shape[0] == 0:
        raise ValueError(f"{where}: key 'poses_3d_mm': no frames")
    if raw.dtype.kind == "f" and not np.isfinite(raw).all():
        bad = int(np.flatnonzero(~np.isfinite(raw).reshape(raw.shape[0], -1).all(1))[0])
        raise ValueError(f"{where}: key 'poses_3d_mm': contains NaN or inf (first at frame {bad})")
    if "joint_names" in arrays and tuple(arrays["joint_names"].tolist()) != _H36M17_NAMES:
        raise ValueError(f"{where}: key 'joint_names': not the H36M-17 order {_H36M17_NAMES}")
    names = arrays["clip_names"]
    c = names.shape[0] if names.ndim == 1 else -1
    meta: Dict[str, np.ndarray] = {}
    for k, v in arrays.items():
        if k in _CLIP_KEYS or k in ("poses_3d_mm", "joint_names", "fps", "units"):
            continue
        if v.ndim == 1 and v.shape[0] == c and v.dtype.kind == "U":
            meta[k] = v
    if "source" not in meta:
        meta["source"] = np.full(c, path.name[: -len(".npz")] if path.name.endswith(".npz") else path.name)
    if "action" not in meta:
        if "content" in meta:
            meta["action"] = meta["content"]
        elif "description" in meta:
            meta["action"] = meta["description"]
        else:
            meta["action"] = np.full(c, "", dtype=str)
    fps = float(arrays["fps"]) if "fps" in arrays else float("nan")
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"{where}: key 'fps': expected a frame rate > 0, got {arrays.get('fps')}")
    poses = torch.from_numpy(raw.astype(np.float32) / np.float32(1000.0))
    try:
        clips = MocapClips(
            poses=poses,
            clip_names=names,
            clip_starts=arrays["clip_starts"],
            clip_lengths=arrays["clip_lengths"],
            clip_fps=np.full(c, fps),
            metadata=meta,
        )
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{where}: {exc}") from None
    if selection:
        clips = clips.select(*selection)
    return clips


def save_mocap(clips: MocapClips, path: Union[str, Path]) -> Path:
    """Write clips in the ``*_h36m17.npz`` layout (int16 millimetres), atomically.

    Positions are rounded to 1 mm and must lie within ±32.767 m; the clips are repacked
    contiguously. All clips must share one frame rate. Metadata columns are written as per-clip
    unicode arrays (``source`` and ``action`` included), so :func:`load_mocap` reads them back.

    Raises:
        ValueError: positions out of the int16 range, non-finite, or mixed frame rates.
    """
    import os
    import tempfile

    if not isinstance(clips, MocapClips):
        raise TypeError(f"clips: expected MocapClips, got {type(clips).__name__}")
    packed = clips if clips.is_packed() else clips.take_clips(np.arange(clips.num_clips))
    mm = packed.poses.detach().cpu().double().numpy() * 1000.0
    if not np.isfinite(mm).all():
        raise ValueError("clips.poses: contains NaN or inf")
    if np.abs(mm).max() > 32767:
        raise ValueError("clips.poses: positions beyond ±32.767 m do not fit int16 millimetres")
    arrays = {
        "poses_3d_mm": np.round(mm).astype(np.int16),
        "clip_names": packed.clip_names,
        "clip_starts": packed.clip_starts,
        "clip_lengths": packed.clip_lengths,
        "fps": np.asarray(packed.fps, dtype=np.float32),
        "joint_names": np.asarray(_H36M17_NAMES),
        "units": np.asarray("millimeters (int16); divide by 1000 for meters; world frame Y-up"),
    }
    for k, v in packed.metadata.items():
        arrays[k] = v
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path
