"""From pose-dataset files to the lifter's normalised 2D input (METHOD.md §1).

Pipeline (the same for training, validation, evaluation and prediction):

1. Pixels to camera coordinates when the dataset gives a focal length:
   ``(u - c) / f`` (principal point ``c`` from the file, else the image centre). Without a focal
   length the pixels are used as they are; the normaliser's global scale then absorbs the focal
   length (METHOD.md §1: "principal point and focal length only matter through that scale").
2. Missing joints (confidence 0, NaN coordinates) get the root's position, so that they are
   finite; they are flagged as not visible and the filling network / zeroing takes care of them.
   A pose whose root itself is missing gets the centroid of its visible joints as its root
   (our choice; the root is never masked by the training augmenter).
3. :class:`skelcl.geometry.RootScaleNormalizer2D`: root-centre and one global scale fitted on the
   training split only (mean head-to-pelvis length ``0.1 = 1/D``), stored in every checkpoint
   and reused unchanged on every other split.

Two containers keep 3D away from the unsupervised trainer: :class:`Poses2D` has no 3D field at
all, and :func:`load_training_poses` builds it from a file without keeping the dataset object.
Only :class:`Poses3D` (the supervised variant, validation and evaluation) holds 3D.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence, Tuple, Union

import numpy as np
import torch

from skelcl.data.pose_dataset import PoseDataset, load_pose_dataset
from skelcl.geometry import RootScaleNormalizer2D

ROOT = 0
#: Confidence below which a detected joint counts as missing (paper Sec. 4.5).
CONFIDENCE_THRESHOLD = 0.1


def dataset_units(ds: PoseDataset) -> str:
    """``"camera"`` when ``ds`` has a focal length (inputs become ``(u - c) / f``), else ``"pixels"``."""
    return "camera" if ds.focal is not None else "pixels"


def dataset_to_2d(ds: PoseDataset) -> Tuple[np.ndarray, np.ndarray, str]:
    """2D joints in camera (or pixel) units, confidences, and the units' name.

    Returns:
        ``xy`` float64 ``(N, J, 2)`` (finite: missing joints replaced as described in the module
        docstring), ``confidence`` float64 ``(N, J)`` (0 = missing), units (``"camera"`` or
        ``"pixels"``).
    """
    if ds.layout != "h36m17":
        raise ValueError(
            f"{ds.filename or 'dataset'}: layout {ds.layout!r}; the OCR-Pose lifter takes h36m17 "
            "poses (convert with skelcl.skeleton.convert_to_h36m17 first)"
        )
    conf = ds.confidence_or_ones().astype(np.float64)
    units = dataset_units(ds)
    xy = _pixels_to_units(ds, ds.poses_2d.astype(np.float64))
    missing = ~(conf > 0) | ~np.isfinite(xy).all(-1)
    xy = np.where(missing[..., None], np.nan, xy)
    root = xy[:, ROOT, :]
    no_root = missing[:, ROOT]
    if no_root.any():
        with np.errstate(invalid="ignore"):
            centroid = np.nanmean(xy[no_root], axis=1)
        root = root.copy()
        root[no_root] = np.nan_to_num(centroid, nan=0.0)
        xy[no_root, ROOT, :] = root[no_root]
    xy = np.where(np.isnan(xy), root[:, None, :], xy)
    conf = np.where(missing, 0.0, conf)
    conf[no_root, ROOT] = 0.0
    return xy, conf, units


def _pixels_to_units(ds: PoseDataset, px: np.ndarray) -> np.ndarray:
    """``(N, K, 2)`` pixel coordinates of ``ds``'s frames in :func:`dataset_units` (step 1 of the
    module docstring)."""
    if dataset_units(ds) != "camera":
        return px
    n = len(ds)
    f = np.asarray(ds.focal, dtype=np.float64)
    if f.ndim == 0:
        f = np.full((n, 2), float(f))
    elif f.shape == (2,):
        f = np.broadcast_to(f, (n, 2))
    elif f.shape == (n,):
        f = np.stack([f, f], axis=-1)
    if ds.principal_point is not None:
        c = np.broadcast_to(np.asarray(ds.principal_point, np.float64), (n, 2))
    else:
        c = np.broadcast_to(np.asarray(ds.image_size, np.float64), (n, 2)) / 2.0
    return (px - c[:, None, :]) / f[:, None, :]


def image_origin_2d(ds: PoseDataset) -> np.ndarray:
    """The image origin, pixel ``(0, 0)``, of every frame in :func:`dataset_units`.

    Detector formats write a keypoint they did not find at ``(0, 0)`` (COCO ``v = 0``, OpenPose,
    AlphaPose): this is where such a joint lands in a lifter's input when nothing marks it as
    missing (``missing_joints = "image_origin"`` of :func:`~examples.ocr_pose.model.lift`).

    Returns:
        float64 ``(N, 2)``: ``-c / f`` in camera units (principal point ``c``, focal length
        ``f``), ``(0, 0)`` in pixels.
    """
    return _pixels_to_units(ds, np.zeros((len(ds), 1, 2)))[:, 0, :]


def fit_normalizer(xy: np.ndarray, conf: np.ndarray) -> RootScaleNormalizer2D:
    """Fit the global 2D scale on the training split (poses with root and head present)."""
    return RootScaleNormalizer2D(root_index=ROOT, head_index=10, target_length=0.1).fit(
        torch.from_numpy(xy), mask=torch.from_numpy(conf > 0)
    )


class Poses2D:
    """Normalised 2D training poses. Holds no 3D, by construction (``__slots__``).

    Attributes:
        poses: ``(N, J, 2)`` float32, normalised (root at 0, head-pelvis ~ 0.1).
        visible: ``(N, J)`` bool, joints present in the data (confidence >= 0.1).
        source: provenance text (``"synthetic"`` for the embedded default).
        clip: ``(N,)`` int64 clip (sequence) number of each pose, or ``None`` when the data has
            no clip labels. Poses with one number show one person (the bone-length consistency
            prior ``loss.w_bone`` pairs them); the numbers carry no other meaning.
    """

    __slots__ = ("poses", "visible", "source", "clip")

    def __init__(self, poses: torch.Tensor, visible: torch.Tensor, source: str = "",
                 clip: Optional[torch.Tensor] = None) -> None:
        self.poses = poses
        self.visible = visible
        self.source = source
        self.clip = clip

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    def take(self, index: torch.Tensor) -> "Poses2D":
        """Subset of the poses (index tensor)."""
        clip = None if self.clip is None else self.clip[index]
        return Poses2D(self.poses[index], self.visible[index], self.source, clip)

    def to(self, device: Union[str, torch.device]) -> "Poses2D":
        """The same poses on ``device``."""
        clip = None if self.clip is None else self.clip.to(device)
        return Poses2D(self.poses.to(device), self.visible.to(device), self.source, clip)


def clip_numbers(ds: PoseDataset) -> Optional[torch.Tensor]:
    """``(N,)`` int64 numbers of the dataset's ``clip`` labels (equal labels, equal numbers;
    in sorted label order), or ``None`` when it has none."""
    if ds.clip is None:
        return None
    return torch.from_numpy(np.unique(ds.clip, return_inverse=True)[1].reshape(-1).astype(np.int64))


@dataclass
class Poses3D:
    """Normalised 2D inputs with their camera-frame 3D (supervised training, evaluation).

    Attributes:
        poses: ``(N, J, 2)`` float32 normalised 2D.
        confidence: ``(N, J)`` float32 detector confidence (1 where the file has none; 0 missing).
        poses_3d: ``(N, J, 3)`` float64 camera-frame 3D in millimetres, root-relative.
        action: ``(N,)`` labels or ``None``.
        source: provenance text.
    """

    poses: torch.Tensor
    confidence: torch.Tensor
    poses_3d: torch.Tensor
    action: Optional[np.ndarray]
    source: str = ""

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    @property
    def visible(self) -> torch.Tensor:
        """``(N, J)`` bool: confidence >= 0.1."""
        return self.confidence >= CONFIDENCE_THRESHOLD

    def take(self, index: Union[torch.Tensor, np.ndarray]) -> "Poses3D":
        """Subset of the poses."""
        idx = torch.as_tensor(index)
        act = None if self.action is None else self.action[idx.numpy()]
        return Poses3D(self.poses[idx], self.confidence[idx], self.poses_3d[idx], act, self.source)


def _subsample(n: int, max_poses: Optional[int], seed: int) -> Optional[torch.Tensor]:
    if max_poses is None or max_poses >= n:
        return None
    g = torch.Generator().manual_seed(seed)
    return torch.randperm(n, generator=g)[:max_poses].sort().values


def to_poses2d(ds: PoseDataset, normalizer: RootScaleNormalizer2D) -> Poses2D:
    """Normalised 2D of a dataset (its 3D, if any, is not read)."""
    xy, conf, _ = dataset_to_2d(ds)
    x = normalizer.transform(torch.from_numpy(xy)).float()
    return Poses2D(x, torch.from_numpy(conf >= CONFIDENCE_THRESHOLD), ds.source, clip_numbers(ds))


def to_poses3d(ds: PoseDataset, normalizer: RootScaleNormalizer2D) -> Poses3D:
    """Normalised 2D plus root-relative 3D in millimetres (the dataset must hold ``poses_3d``)."""
    if ds.poses_3d is None:
        raise ValueError(f"{ds.filename or 'dataset'}: has no poses_3d; evaluation and the "
                         "supervised variant need camera-frame 3D")
    xy, conf, _ = dataset_to_2d(ds)
    x = normalizer.transform(torch.from_numpy(xy)).float()
    p3 = torch.from_numpy(ds.poses_3d.astype(np.float64)) * 1000.0
    p3 = p3 - p3[:, ROOT : ROOT + 1]
    return Poses3D(x, torch.from_numpy(conf).float(), p3, ds.action, ds.source)


def load_training_poses(
    path: str, max_poses: Optional[int], seed: int
) -> Tuple[Poses2D, RootScaleNormalizer2D, str]:
    """Read a training file for an unsupervised variant: 2D only.

    The dataset object (which may carry ``poses_3d``) is dropped before this function returns;
    the trainer only ever receives the :class:`Poses2D`.

    Returns:
        The normalised 2D poses, the normaliser fitted on them, and the input units.
    """
    ds = load_pose_dataset(path)
    idx = _subsample(len(ds), max_poses, seed)
    if idx is not None:
        ds = ds.subset(idx.numpy())
    xy, conf, units = dataset_to_2d(ds)
    source, clip = ds.source, clip_numbers(ds)
    del ds
    norm = fit_normalizer(xy, conf)
    x = norm.transform(torch.from_numpy(xy)).float()
    return Poses2D(x, torch.from_numpy(conf >= CONFIDENCE_THRESHOLD), source, clip), norm, units


def subsample_dataset(ds: PoseDataset, max_poses: Optional[int], seed: int) -> PoseDataset:
    """Seeded random subset of at most ``max_poses`` poses (``None``: all)."""
    idx = _subsample(len(ds), max_poses, seed)
    return ds if idx is None else ds.subset(idx.numpy())


def split_by_clip(
    ds: PoseDataset, fraction: float, seed: int
) -> Tuple[PoseDataset, PoseDataset]:
    """Split a dataset into two parts that share no clip (sequence).

    A seeded ``fraction`` of the clips (at least one, and at least one left over) forms the first
    part, the other clips the second. Frames of one clip are strongly correlated, so a checkpoint
    chosen on the first part and evaluated on the second is not chosen on the frames it is
    scored on.

    Args:
        ds: a dataset with per-pose ``clip`` labels.
        fraction: share of the clips in the first part, in ``(0, 1)``.
        seed: seed of the clip permutation.

    Returns:
        ``(first, second)`` datasets.

    Raises:
        ValueError: ``ds`` has no clip labels or fewer than 2 clips, or ``fraction`` is not in
            ``(0, 1)``.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction: expected a value in (0, 1), got {fraction}")
    if ds.clip is None:
        raise ValueError("ds: needs per-pose 'clip' labels to split by clip")
    clips = np.unique(ds.clip)
    if len(clips) < 2:
        raise ValueError(f"ds: needs at least 2 clips to split by clip, got {len(clips)}")
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(clips), generator=g).numpy()
    k = min(max(1, round(fraction * len(clips))), len(clips) - 1)
    first = np.isin(ds.clip, clips[order[:k]])
    return ds.subset(np.flatnonzero(first)), ds.subset(np.flatnonzero(~first))


def action_labels(ds_action: Optional[np.ndarray], n: int) -> Sequence[str]:
    """Per-pose action labels (``"all"`` when the file has none)."""
    return ["all"] * n if ds_action is None else [str(a) for a in ds_action]
