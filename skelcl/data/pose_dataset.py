"""The pose-dataset file format: 2D poses in pixels (+ optional camera-frame 3D) in one ``.npz``.

Every skelcl trainer, reader and converter consumes or produces this format. One dataset is one
``.npz`` archive, readable with ``np.load(path, allow_pickle=False)`` (no pickled objects; strings
are numpy unicode arrays). ``N`` is the number of poses, ``J`` the number of joints.

=================== ======================= ==============================================================
key                 shape / dtype           meaning
=================== ======================= ==============================================================
``poses_2d``        ``(N, J, 2)`` float     joint positions in pixels, ``x`` right, ``y`` down, origin at
                                            the top-left corner of the image. Required.
``image_size``      ``(2,)`` or ``(N, 2)``  ``(width, height)`` in pixels, one for all poses or one per
                                            pose. Required, every value ``> 0``.
``layout``          ``()`` unicode          joint layout name known to :func:`skelcl.skeleton.get_layout`
                                            (``"h36m17"``, ``"coco17"``, ``"body25"``, ``"body25b"``,
                                            ``"mpi_inf_3dhp17"``). ``J`` must match it. Required.
``confidence``      ``(N, J)`` float        detector confidence in ``[0, 1]``; ``0`` means missing.
                                            Optional: absent means every joint has confidence 1.
``poses_3d``        ``(N, J, 3)`` float     camera-frame 3D in metres (``x`` right, ``y`` down, ``z``
                                            forward). Optional; for evaluation only.
``focal``           ``()``, ``(2,)``,       focal length in pixels: one value (``fx = fy``) or
                    ``(N,)`` or ``(N, 2)``  ``(fx, fy)``, shared by all poses or one per pose. Optional.
``principal_point`` ``(2,)`` or ``(N, 2)``  principal point ``(cx, cy)`` in pixels. Optional.
                                            A shape ``(2,)`` is always shared by all poses (also when
                                            ``N = 2``); per-pose values use ``(N, 2)``.
``clip``            ``(N,)`` unicode        per-pose clip (sequence) label. Optional.
``action``          ``(N,)`` unicode        per-pose action label. Optional.
``source``          ``()`` unicode          free text saying where the poses come from (synthetic data
                                            says ``"synthetic"`` here). Optional.
anything else       ``(N, ...)``            kept in :attr:`PoseDataset.extras` (e.g. ``view``,
                                            ``frame``); numeric or unicode, first axis ``N``.
=================== ======================= ==============================================================

NaN policy (a choice of ours): ``poses_2d`` may hold NaN only at joints whose ``confidence`` is
``0`` (a missing joint has no position); everywhere else NaN or inf is an error, and ``poses_3d``,
``confidence``, ``focal``, ``principal_point`` and ``image_size`` must be finite throughout.

Validation errors are :class:`PoseDatasetError` (a :class:`ValueError`) and name the file (or
``<memory>``), the key and the first offending pose index ("frame").
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = [
    "PoseDataset",
    "PoseDatasetError",
    "PoseTensorDataset",
    "load_pose_dataset",
    "save_pose_dataset",
    "layout_num_joints",
    "read_npz",
]

PathLike = Union[str, "os.PathLike[str]"]

# Joint counts of the layouts of the planned skelcl.skeleton module; used only when that module
# cannot be imported (it is written in parallel) or does not know the name.
_FALLBACK_NUM_JOINTS = {"h36m17": 17, "coco17": 17, "body25": 25, "body25b": 25, "mpi_inf_3dhp17": 17}

_KNOWN_KEYS = (
    "poses_2d",
    "image_size",
    "layout",
    "confidence",
    "poses_3d",
    "focal",
    "principal_point",
    "clip",
    "action",
    "source",
)


class PoseDatasetError(ValueError):
    """A pose-dataset file or object is malformed; the message names the file, key and frame."""


def layout_num_joints(layout: str) -> int:
    """Number of joints of a named layout (``"h36m17"`` -> 17).

    Uses :func:`skelcl.skeleton.get_layout` when available, else a built-in table of the five
    project layouts.

    Raises:
        ValueError: unknown layout name.
    """
    try:
        from skelcl.skeleton import get_layout  # type: ignore

        return int(get_layout(layout).num_joints)
    except (ImportError, AttributeError, KeyError, ValueError):
        pass
    key = str(layout).lower()
    if key not in _FALLBACK_NUM_JOINTS:
        raise ValueError(
            f"layout: unknown layout {layout!r}; expected one of {sorted(_FALLBACK_NUM_JOINTS)}"
        )
    return _FALLBACK_NUM_JOINTS[key]


def _first_frame(bad: np.ndarray) -> int:
    """Index along axis 0 of the first True entry of a boolean array (with leading axis N)."""
    flat = bad.reshape(bad.shape[0], -1).any(axis=1) if bad.ndim > 1 else bad
    return int(np.flatnonzero(flat)[0])


@dataclass
class PoseDataset:
    """A 2D pose dataset in pixels with optional confidences, cameras, 3D and labels.

    The fields mirror the file keys (see the module docstring for shapes and units). Arrays are
    numpy arrays; their floating dtype is kept as given (float32 or float64). Construction
    validates everything (:meth:`validate`), so a ``PoseDataset`` in hand is always well formed.

    Fields:

    - ``poses_2d``: ``(N, J, 2)`` pixels.
    - ``image_size``: ``(2,)`` or ``(N, 2)`` width, height in pixels.
    - ``layout``: layout name, e.g. ``"h36m17"``.
    - ``confidence``: ``(N, J)`` in ``[0, 1]`` or ``None`` (all ones).
    - ``poses_3d``: ``(N, J, 3)`` camera frame, metres, or ``None``.
    - ``focal``: ``()``, ``(2,)``, ``(N,)`` or ``(N, 2)`` pixels, or ``None``.
    - ``principal_point``: ``(2,)`` or ``(N, 2)`` pixels, or ``None``.
    - ``clip``: ``(N,)`` unicode labels or ``None``.
    - ``action``: ``(N,)`` unicode labels or ``None``.
    - ``source``: free-text provenance (``""`` if unknown).
    - ``extras``: further per-pose arrays with first axis ``N`` (e.g. ``view``, ``frame``).
    - ``filename``: where the dataset was loaded from (used in error messages; not saved).
    """

    poses_2d: np.ndarray
    image_size: np.ndarray
    layout: str = "h36m17"
    confidence: Optional[np.ndarray] = None
    poses_3d: Optional[np.ndarray] = None
    focal: Optional[np.ndarray] = None
    principal_point: Optional[np.ndarray] = None
    clip: Optional[np.ndarray] = None
    action: Optional[np.ndarray] = None
    source: str = ""
    extras: Dict[str, np.ndarray] = field(default_factory=dict)
    filename: Optional[str] = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        for name in ("poses_2d", "image_size", "confidence", "poses_3d", "focal", "principal_point"):
            value = getattr(self, name)
            if value is not None:
                if isinstance(value, torch.Tensor):
                    value = value.detach().cpu().numpy()
                setattr(self, name, np.asarray(value))
        for name in ("clip", "action"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, np.asarray(value, dtype=str))
        self.extras = {
            k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
            for k, v in dict(self.extras).items()
        }
        self.layout = str(self.layout)
        self.source = str(self.source)
        self.validate()

    # ------------------------------------------------------------------ validation
    def _err(self, key: str, what: str, frame: Optional[int] = None) -> PoseDatasetError:
        where = self.filename or "<memory>"
        at = f" (first at frame {frame})" if frame is not None else ""
        return PoseDatasetError(f"{where}: key {key!r}: {what}{at}")

    def _check_float(self, key: str, a: np.ndarray) -> None:
        if not np.issubdtype(a.dtype, np.floating) and not np.issubdtype(a.dtype, np.integer):
            raise self._err(key, f"expected a real numeric array, got dtype {a.dtype}")

    def validate(self) -> None:
        """Check shapes, dtypes, finiteness, the layout's joint count and the confidence range.

        Raises:
            PoseDatasetError: naming the file (or ``<memory>``), the key and the first offending
                frame.
        """
        p = self.poses_2d
        self._check_float("poses_2d", p)
        if p.ndim != 3 or p.shape[-1] != 2:
            raise self._err("poses_2d", f"expected shape (N, J, 2), got {p.shape}")
        n, j = p.shape[0], p.shape[1]
        if n == 0:
            raise self._err("poses_2d", "the dataset is empty (N = 0)")
        try:
            expected_j = layout_num_joints(self.layout)
        except ValueError as exc:
            raise self._err("layout", str(exc).replace("layout: ", "")) from None
        if j != expected_j:
            raise self._err(
                "poses_2d", f"layout {self.layout!r} has {expected_j} joints, got J = {j}"
            )
        conf = self.confidence
        if conf is not None:
            self._check_float("confidence", conf)
            if conf.shape != (n, j):
                raise self._err("confidence", f"expected shape (N, J) = {(n, j)}, got {conf.shape}")
            bad = ~np.isfinite(conf)
            if bad.any():
                raise self._err("confidence", "contains NaN or inf", _first_frame(bad))
            bad = (conf < 0) | (conf > 1)
            if bad.any():
                f = _first_frame(bad)
                raise self._err("confidence", f"values must lie in [0, 1], got {conf[f][bad[f]][0]}", f)
        nonfinite = ~np.isfinite(p)
        if nonfinite.any():
            if np.isinf(p).any():
                raise self._err("poses_2d", "contains inf", _first_frame(np.isinf(p)))
            missing = (conf == 0) if conf is not None else np.zeros((n, j), dtype=bool)
            bad = nonfinite.any(axis=-1) & ~missing
            if bad.any():
                raise self._err(
                    "poses_2d",
                    "contains NaN at a joint whose confidence is not 0 (NaN marks missing joints "
                    "only)",
                    _first_frame(bad),
                )
        if self.poses_3d is not None:
            q = self.poses_3d
            self._check_float("poses_3d", q)
            if q.shape != (n, j, 3):
                raise self._err("poses_3d", f"expected shape (N, J, 3) = {(n, j, 3)}, got {q.shape}")
            bad = ~np.isfinite(q)
            if bad.any():
                raise self._err("poses_3d", "contains NaN or inf", _first_frame(bad))
        self._check_per_pose("image_size", self.image_size, n, allowed=((2,),), positive=True)
        if self.focal is not None:
            self._check_per_pose("focal", self.focal, n, allowed=((), (2,)), positive=True)
        if self.principal_point is not None:
            self._check_per_pose("principal_point", self.principal_point, n, allowed=((2,),))
        for key in ("clip", "action"):
            lab = getattr(self, key)
            if lab is not None:
                if lab.dtype.kind != "U":
                    raise self._err(key, f"expected a unicode string array, got dtype {lab.dtype}")
                if lab.shape != (n,):
                    raise self._err(key, f"expected shape (N,) = {(n,)}, got {lab.shape}")
        for key, a in self.extras.items():
            if key in _KNOWN_KEYS:
                raise self._err(key, "is a standard key and cannot be an extra")
            if a.dtype.kind not in "biufU":
                raise self._err(key, f"extras must be numeric or unicode, got dtype {a.dtype}")
            if a.ndim == 0 or a.shape[0] != n:
                raise self._err(key, f"extras must have first axis N = {n}, got shape {a.shape}")

    def _check_per_pose(
        self, key: str, a: np.ndarray, n: int, allowed: tuple, positive: bool = False
    ) -> None:
        self._check_float(key, a)
        ok = a.shape in allowed or any(a.shape == (n,) + s for s in allowed)
        if not ok:
            spec = " or ".join(str(s) for s in list(allowed) + [(n,) + s for s in allowed])
            raise self._err(key, f"expected shape {spec}, got {a.shape}")
        per_pose = a.ndim > 0 and a.shape[0] == n and a.shape not in allowed
        bad = ~np.isfinite(a)
        if positive:
            bad = bad | ~(a > 0)
        if bad.any():
            what = "values must be finite and > 0" if positive else "contains NaN or inf"
            raise self._err(key, what, _first_frame(np.atleast_1d(bad)) if per_pose else None)

    # ------------------------------------------------------------------ convenience
    def __len__(self) -> int:
        return int(self.poses_2d.shape[0])

    @property
    def num_joints(self) -> int:
        """Number of joints ``J``."""
        return int(self.poses_2d.shape[1])

    def confidence_or_ones(self) -> np.ndarray:
        """The ``(N, J)`` confidences, all ones where the file has none."""
        if self.confidence is not None:
            return self.confidence
        return np.ones(self.poses_2d.shape[:2], dtype=self.poses_2d.dtype)

    def subset(self, index: Any) -> "PoseDataset":
        """A new dataset with the poses ``index`` selects (an int array, a boolean mask or a slice).

        Per-pose arrays (``(N, ...)``) are indexed; shared ones (``image_size`` of shape ``(2,)``
        etc.) are kept.
        """
        def take(a: Optional[np.ndarray], shared_ndim: int) -> Optional[np.ndarray]:
            if a is None or a.ndim <= shared_ndim:
                return a
            return a[index]

        focal_shared = 1 if (self.focal is not None and self.focal.shape == (2,)) else 0
        return PoseDataset(
            poses_2d=self.poses_2d[index],
            image_size=take(self.image_size, 1),
            layout=self.layout,
            confidence=take(self.confidence, 0),
            poses_3d=take(self.poses_3d, 0),
            focal=take(self.focal, focal_shared),
            principal_point=take(self.principal_point, 1),
            clip=take(self.clip, 0),
            action=take(self.action, 0),
            source=self.source,
            extras={k: v[index] for k, v in self.extras.items()},
        )

    def to_torch(
        self,
        with_3d: bool = False,
        dtype: torch.dtype = torch.float32,
        device: Union[str, torch.device, None] = None,
    ) -> "PoseTensorDataset":
        """A :class:`torch.utils.data.Dataset` view of this dataset (see :class:`PoseTensorDataset`).

        Args:
            with_3d: include ``poses_3d`` in the items. Off by default so that an unsupervised
                trainer cannot touch the 3D by accident.
            dtype: floating dtype of the returned tensors.
            device: device of the returned tensors.
        """
        return PoseTensorDataset(self, with_3d=with_3d, dtype=dtype, device=device)

    def to_arrays(self) -> Dict[str, np.ndarray]:
        """The dict of arrays written by :func:`save_pose_dataset` (file keys -> arrays)."""
        out: Dict[str, np.ndarray] = {
            "poses_2d": self.poses_2d,
            "image_size": self.image_size,
            "layout": np.asarray(self.layout, dtype=str),
        }
        for key in ("confidence", "poses_3d", "focal", "principal_point", "clip", "action"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.source:
            out["source"] = np.asarray(self.source, dtype=str)
        out.update(self.extras)
        return out

    def equals(self, other: "PoseDataset") -> bool:
        """Exact equality of every field (arrays compared with NaN == NaN, dtypes included)."""
        if not isinstance(other, PoseDataset):
            return False
        a, b = self.to_arrays(), other.to_arrays()
        if a.keys() != b.keys():
            return False
        for k in a:
            x, y = a[k], b[k]
            if x.dtype != y.dtype or x.shape != y.shape:
                return False
            if x.dtype.kind == "f":
                if not np.array_equal(x, y, equal_nan=True):
                    return False
            elif not np.array_equal(x, y):
                return False
        return True

    def summary(self) -> str:
        """A multi-line human-readable description (used by ``python -m skelcl.data info``)."""
        n, j = self.poses_2d.shape[:2]
        lines = [f"pose dataset: {n} poses x {j} joints, layout {self.layout!r}"]
        if self.source:
            lines.append(f"source: {self.source}")
        sizes = np.unique(self.image_size.reshape(-1, 2), axis=0)
        lines.append(f"image_size (w, h): {', '.join(f'{int(w)}x{int(h)}' for w, h in sizes[:5])}"
                     + (" ..." if len(sizes) > 5 else ""))
        conf = self.confidence_or_ones()
        missing = float((conf == 0).mean())
        lines.append(
            "confidence: " + ("absent (all 1)" if self.confidence is None else
                              f"mean {float(conf.mean()):.3f}, missing (0) {100 * missing:.2f} %")
        )
        finite = np.isfinite(self.poses_2d).all(-1)
        if finite.any():
            pts = self.poses_2d[finite]
            lines.append(
                f"poses_2d (px): x [{pts[:, 0].min():.1f}, {pts[:, 0].max():.1f}], "
                f"y [{pts[:, 1].min():.1f}, {pts[:, 1].max():.1f}]"
            )
        if self.focal is not None:
            lines.append(f"focal (px): {float(self.focal.min()):.1f} - {float(self.focal.max()):.1f}")
        if self.principal_point is not None:
            pp = self.principal_point.reshape(-1, 2)
            lines.append(f"principal_point (px): mean ({pp[:, 0].mean():.1f}, {pp[:, 1].mean():.1f})")
        if self.poses_3d is not None:
            z = self.poses_3d[..., 2]
            lines.append(f"poses_3d (m, camera frame): depth {z.min():.2f} - {z.max():.2f}")
        else:
            lines.append("poses_3d: absent")
        for key in ("clip", "action"):
            lab = getattr(self, key)
            if lab is not None:
                uniq = np.unique(lab)
                shown = ", ".join(uniq[:5].tolist()) + (" ..." if len(uniq) > 5 else "")
                lines.append(f"{key}: {len(uniq)} distinct ({shown})")
        for key, a in self.extras.items():
            lines.append(f"extra {key}: {a.dtype} {a.shape}")
        return "\n".join(lines)


class PoseTensorDataset(Dataset):
    """A :class:`torch.utils.data.Dataset` over a :class:`PoseDataset`, items as dicts of tensors.

    Items (for an int index; a slice / index tensor gives the same keys with a leading batch axis):

    - ``"poses_2d"``: ``(J, 2)`` pixels;
    - ``"confidence"``: ``(J,)`` (ones where the file has none);
    - ``"poses_3d"``: ``(J, 3)`` camera frame, metres -- only when ``with_3d=True``.

    NaN 2D coordinates of missing joints (confidence 0) are replaced by 0 in the tensors, so a
    masked loss never sees NaN; the confidence says they are missing.

    Args:
        dataset: the pose dataset.
        with_3d: include ``poses_3d`` (default ``False``: unsupervised training never sees 3D).
        dtype: floating dtype of the tensors.
        device: device of the tensors (the whole dataset is moved there once).
    """

    def __init__(
        self,
        dataset: PoseDataset,
        with_3d: bool = False,
        dtype: torch.dtype = torch.float32,
        device: Union[str, torch.device, None] = None,
    ) -> None:
        if with_3d and dataset.poses_3d is None:
            raise ValueError("with_3d: the dataset has no poses_3d")
        p2 = torch.as_tensor(np.nan_to_num(dataset.poses_2d, nan=0.0), dtype=dtype, device=device)
        self.tensors: Dict[str, torch.Tensor] = {
            "poses_2d": p2,
            "confidence": torch.as_tensor(dataset.confidence_or_ones(), dtype=dtype, device=device),
        }
        if with_3d:
            self.tensors["poses_3d"] = torch.as_tensor(dataset.poses_3d, dtype=dtype, device=device)
        self.with_3d = with_3d

    def __len__(self) -> int:
        return int(self.tensors["poses_2d"].shape[0])

    def __getitem__(self, index: Any) -> Dict[str, torch.Tensor]:
        return {k: v[index] for k, v in self.tensors.items()}


# ---------------------------------------------------------------------- file I/O
def save_pose_dataset(dataset: PoseDataset, path: PathLike, compress: bool = False) -> Path:
    """Write ``dataset`` to ``path`` (an ``.npz``) atomically.

    The archive is written to a temporary file in the same directory and moved into place with
    :func:`os.replace`, so a reader never sees a half-written file. The name is used exactly as
    given (no ``.npz`` is appended).

    Args:
        dataset: the dataset (validated on construction).
        path: destination file.
        compress: use ``np.savez_compressed`` (smaller, slower) instead of ``np.savez``.

    Returns:
        The destination path.
    """
    if not isinstance(dataset, PoseDataset):
        raise TypeError(f"dataset: expected a PoseDataset, got {type(dataset).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            (np.savez_compressed if compress else np.savez)(fh, **dataset.to_arrays())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def read_npz(path: PathLike, what: str = "file") -> Dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, read without pickle.

    Args:
        path: the archive.
        what: what the file is, for the "no such ..." message (e.g. ``"mocap file"``).

    Raises:
        FileNotFoundError: no such file.
        ValueError: the file is not a readable ``.npz`` archive (empty, truncated, corrupt, a
            single ``.npy`` array, or holding pickled objects); the message names the file.
    """
    where = str(path)
    if not Path(path).is_file():
        raise FileNotFoundError(f"{where}: no such {what}")
    if Path(path).stat().st_size == 0:
        raise ValueError(f"{where}: the file is empty")
    try:
        obj = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        if isinstance(exc, ValueError) and "pickle" in str(exc).lower():
            raise ValueError(f"{where}: holds pickled objects (refusing to unpickle)") from None
        raise ValueError(f"{where}: not a readable .npz archive ({type(exc).__name__}: {exc})") from None
    if not isinstance(obj, np.lib.npyio.NpzFile):
        raise ValueError(f"{where}: not an .npz archive (a single .npy array?)")
    try:
        with obj:
            return {k: obj[k] for k in obj.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise ValueError(
                f"{where}: holds pickled objects, which these files never do (refusing to unpickle)"
            ) from None
        raise ValueError(f"{where}: not a readable .npz archive ({exc})") from None
    except (OSError, EOFError, zipfile.BadZipFile, KeyError, zipfile.LargeZipFile) as exc:
        raise ValueError(
            f"{where}: not a readable .npz archive (truncated or corrupt?): {type(exc).__name__}: {exc}"
        ) from None


def _scalar_string(arrays: Mapping[str, np.ndarray], key: str, where: str) -> str:
    a = arrays[key]
    if a.dtype.kind != "U" or a.ndim != 0:
        raise PoseDatasetError(f"{where}: key {key!r}: expected a unicode string scalar, got "
                               f"dtype {a.dtype} shape {a.shape}")
    return str(a)


def load_pose_dataset(path: PathLike) -> PoseDataset:
    """Read a pose-dataset ``.npz`` (without pickle) and validate it.

    Args:
        path: the file.

    Returns:
        The :class:`PoseDataset` (arrays keep their stored dtypes).

    Raises:
        FileNotFoundError: no such file.
        PoseDatasetError: the file is empty, truncated, not an ``.npz`` archive, holds pickled
            objects, misses a required key, or fails validation; the message names the file.
    """
    path = Path(path)
    where = str(path)
    try:
        arrays = read_npz(path, "pose-dataset file")
    except ValueError as exc:
        raise PoseDatasetError(str(exc)) from None
    for key in ("poses_2d", "image_size", "layout"):
        if key not in arrays:
            raise PoseDatasetError(
                f"{where}: key {key!r}: missing (a pose dataset needs poses_2d, image_size, "
                f"layout; found {sorted(arrays)})"
            )
    kwargs: Dict[str, Any] = {
        "layout": _scalar_string(arrays, "layout", where),
        "source": _scalar_string(arrays, "source", where) if "source" in arrays else "",
    }
    for key in ("poses_2d", "image_size", "confidence", "poses_3d", "focal", "principal_point",
                "clip", "action"):
        if key in arrays:
            kwargs[key] = arrays[key]
    for key in ("clip", "action"):
        if key in kwargs and kwargs[key].dtype.kind != "U":
            raise PoseDatasetError(
                f"{where}: key {key!r}: expected a unicode string array, got dtype {kwargs[key].dtype}"
            )
    extras = {k: v for k, v in arrays.items() if k not in _KNOWN_KEYS}
    ds = PoseDataset.__new__(PoseDataset)
    # Build without __post_init__'s conversions first so that validation errors carry the filename.
    for f in fields(PoseDataset):
        setattr(ds, f.name, None)
    ds.poses_2d = kwargs["poses_2d"]
    ds.image_size = kwargs["image_size"]
    ds.layout = kwargs["layout"]
    ds.confidence = kwargs.get("confidence")
    ds.poses_3d = kwargs.get("poses_3d")
    ds.focal = kwargs.get("focal")
    ds.principal_point = kwargs.get("principal_point")
    ds.clip = kwargs.get("clip")
    ds.action = kwargs.get("action")
    ds.source = kwargs["source"]
    ds.extras = extras
    ds.filename = where
    ds.validate()
    return ds
