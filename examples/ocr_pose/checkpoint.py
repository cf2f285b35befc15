"""Checkpoints of the OCR-Pose example: atomic writes, safe loading, integrity check.

A checkpoint is a plain ``torch.save`` file holding only tensors, numbers, strings, lists and
dicts, so it loads with ``torch.load(path, weights_only=True)`` (no arbitrary pickle). Every
checkpoint carries the full training configuration (JSON text) and the 2D input normaliser's state
(JSON text), so that evaluation and prediction reproduce the training-time preprocessing exactly.

Writes are atomic: the file is written to a temporary name in the same directory, flushed and
fsync-ed, then renamed over the target with :func:`os.replace`; a crash leaves either the old or
the new checkpoint, never half of one. A SHA-256 digest of the whole content is stored inside and
checked on load, so a tampered (or silently corrupted) file raises :class:`CheckpointError` instead
of loading wrong weights.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Mapping, Union

import torch

FORMAT = "skelcl.examples.ocr_pose.checkpoint"
VERSION = 1
REQUIRED_KEYS = ("format", "version", "config", "normalizer", "models", "epoch", "step", "digest")


class CheckpointError(ValueError):
    """A checkpoint file is missing, truncated, tampered with or of the wrong format."""


def _update_digest(h: "hashlib._Hash", obj: Any) -> None:
    """Feed a deterministic serialisation of ``obj`` into ``h``."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(obj, Mapping):
        h.update(b"{")
        for k in sorted(obj, key=lambda k: (type(k).__name__, str(k))):
            h.update(f"{type(k).__name__}:{k}=".encode())
            _update_digest(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, (list, tuple)):
        h.update(b"[")
        for v in obj:
            _update_digest(h, v)
            h.update(b",")
        h.update(b"]")
    else:
        h.update(f"{type(obj).__name__}:{obj!r};".encode())


def content_digest(payload: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of every entry of ``payload`` except ``"digest"``."""
    h = hashlib.sha256()
    _update_digest(h, {k: v for k, v in payload.items() if k != "digest"})
    return h.hexdigest()


def save_checkpoint(path: Union[str, Path], payload: Mapping[str, Any]) -> Path:
    """Atomically write ``payload`` (plus format tag, version and digest) to ``path``.

    Args:
        path: target file; its directory is created if needed.
        payload: must contain ``config`` (JSON text), ``normalizer`` (JSON text), ``models``
            (name -> state dict), ``epoch`` and ``step``; may contain optimiser / scheduler
            states, RNG states and bookkeeping. Only weights_only-loadable types are allowed.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data: Dict[str, Any] = dict(payload)
    data["format"] = FORMAT
    data["version"] = VERSION
    for key in ("config", "normalizer", "models", "epoch", "step"):
        if key not in data:
            raise ValueError(f"payload: missing required key {key!r}")
    data["digest"] = content_digest(data)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    try:  # make the rename itself durable
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    return path


def load_checkpoint(path: Union[str, Path], map_location: Union[str, torch.device] = "cpu") -> Dict[str, Any]:
    """Load and verify a checkpoint written by :func:`save_checkpoint`.

    Loads with ``torch.load(..., weights_only=True)``, checks the format tag, the required keys
    and the SHA-256 digest of the content.

    Raises:
        CheckpointError: the file is missing, truncated, not a checkpoint of this example, or
            its content does not match its digest (tampered or corrupted).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path}: no such file")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, foreign pickle, ...
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(
            f"checkpoint {path}: cannot be read safely; it is truncated, corrupted or not a "
            f"weights-only checkpoint ({type(e).__name__}: {msg[:200]})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: not an OCR-Pose example checkpoint (format tag missing)")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise CheckpointError(f"checkpoint {path}: missing entries {missing}")
    if data["version"] != VERSION:
        raise CheckpointError(f"checkpoint {path}: version {data['version']!r}, expected {VERSION}")
    if content_digest(data) != data["digest"]:
        raise CheckpointError(
            f"checkpoint {path}: content does not match its SHA-256 digest (tampered or corrupted)"
        )
    return data
