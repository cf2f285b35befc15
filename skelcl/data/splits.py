"""The suggested train / validation split of the real data, as one reusable function.

The data README fixes the split so that results are comparable from run to run:

- **train**: Bandai Namco dataset-2 clips whose ``style`` is not ``normal``; CMU (iClone
  retarget) subjects 002, 005, 006.
- **validation**: Bandai Namco dataset-2 clips whose ``style`` is ``normal``; CMU subjects 003,
  007.

:data:`SUGGESTED_SPLIT` spells this rule as data (file name -> selection expressions, see
:meth:`skelcl.data.mocap.MocapClips.select`); :func:`suggested_split` applies it.
The data directory comes from an argument or the environment variable ``SKELCL_DATA_DIR``
(:func:`default_data_dir`); no path is built into the library.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Union

from .mocap import MocapClips, load_mocap

__all__ = ["SUGGESTED_SPLIT", "DATA_DIR_ENV", "default_data_dir", "suggested_split"]

DATA_DIR_ENV = "SKELCL_DATA_DIR"

BANDAI_FILE = "bandai_namco_dataset2_h36m17.npz"
CMU_FILE = "cmu_iclone_retarget_h36m17.npz"

#: split name -> {file name -> selection expressions (AND)}.
SUGGESTED_SPLIT: Mapping[str, Mapping[str, Sequence[str]]] = {
    "train": {BANDAI_FILE: ("style!=normal",), CMU_FILE: ("subject=002,005,006",)},
    "validation": {BANDAI_FILE: ("style=normal",), CMU_FILE: ("subject=003,007",)},
}


def default_data_dir() -> Path:
    """The real-data directory named by the environment variable ``SKELCL_DATA_DIR``.

    Raises:
        RuntimeError: the variable is unset or empty, or names no directory.
    """
    value = os.environ.get(DATA_DIR_ENV, "")
    if not value:
        raise RuntimeError(
            f"{DATA_DIR_ENV} is not set: point it at the directory holding "
            f"{BANDAI_FILE} and {CMU_FILE} (e.g. export {DATA_DIR_ENV}=/path/to/shared/data), "
            "or pass data_dir explicitly"
        )
    path = Path(value).expanduser()
    if not path.is_dir():
        raise RuntimeError(f"{DATA_DIR_ENV}={value!r} is not a directory")
    return path


def suggested_split(
    data_dir: Union[str, Path, None] = None,
    splits: Sequence[str] = ("train", "validation"),
    rule: Optional[Mapping[str, Mapping[str, Sequence[str]]]] = None,
) -> Dict[str, MocapClips]:
    """Load the suggested train / validation split of the real motion capture.

    Each split concatenates the selected clips of both files (Bandai Namco at 30 fps first, then
    CMU at 60 fps; see :attr:`MocapClips.clip_fps`). Per-clip metadata gains ``source`` and
    ``action`` columns (see :func:`~skelcl.data.mocap.load_mocap`).

    Args:
        data_dir: directory with the ``*_h36m17.npz`` files; ``None`` uses
            :func:`default_data_dir`.
        splits: which splits to load (keys of the rule).
        rule: the split rule; default :data:`SUGGESTED_SPLIT`.

    Returns:
        ``{split name: MocapClips}``; train and validation share no clip.

    Raises:
        RuntimeError: no data directory given and ``SKELCL_DATA_DIR`` unset.
        FileNotFoundError: a file of the rule is missing.
        KeyError: unknown split name.
    """
    root = Path(data_dir) if data_dir is not None else default_data_dir()
    rule = SUGGESTED_SPLIT if rule is None else rule
    cache: Dict[str, MocapClips] = {}
    out: Dict[str, MocapClips] = {}
    for split in splits:
        if split not in rule:
            raise KeyError(f"splits: unknown split {split!r}; known: {sorted(rule)}")
        parts = []
        for filename, expressions in rule[split].items():
            if filename not in cache:
                cache[filename] = load_mocap(root / filename)
            parts.append(cache[filename].select(*expressions))
        out[split] = MocapClips.concat(parts)
    return out
