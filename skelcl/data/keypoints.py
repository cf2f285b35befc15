"""2D keypoint detector output (with confidences) to pose datasets.

Readers for the JSON files of the common 2D detectors, a person selector, and a loader for the
Pose2Sim demo's multi-camera ``.npz``. Every reader returns a
:class:`~skelcl.data.pose_dataset.PoseDataset` in pixels with per-joint confidences, by default
converted to the ``"h36m17"`` layout with :func:`skelcl.skeleton.convert_to_h36m17` (midpoint
rules; a synthesised joint gets the minimum confidence of its sources). Missing keypoints
(confidence 0, or a non-finite position) get NaN coordinates and confidence 0, as the
pose-dataset format prescribes; frames where no person is selected are entirely missing.
Confidences above 1 (some detectors emit them) are clipped to 1 (documented exception to the
no-clamping rule, because the pose-dataset format requires ``[0, 1]``).

Formats (field names exactly as the tools write them):

**COCO keypoint results** (``*_results.json``, the COCO evaluation format, written by most
top-down detectors): a JSON list of instances
``{"image_id": int, "category_id": 1, "keypoints": [x1, y1, s1, ..., x17, y17, s17],
"score": float}``, optionally with ``"bbox": [x, y, w, h]`` and ``"track_id"``. The third value
of each keypoint is its confidence. The COCO *annotation* form is also accepted: a dict with
``"images"`` (``{"id", "width", "height", "file_name"}``) and ``"annotations"`` (same instance
fields, where the third value is the visibility flag ``v`` in {0, 1, 2}; confidence is
``1`` where ``v > 0``, else ``0``). Frames are the distinct ``image_id`` values in ascending order
(with ``"images"``: every listed image, also those without a person).

**AlphaPose** (``alphapose-results.json``, ``--format default``): a JSON list of
``{"image_id": "0.jpg", "category_id": 1, "keypoints": [x, y, s, ...], "score": float,
"box": [x, y, w, h], "idx": track id (with --pose_track; may be a one-element list)}``.
17 keypoints (COCO order), 26 (Halpe-26: COCO order, then ``Head`` (head top), ``Neck``,
``Hip``, feet), 133 (COCO-WholeBody) or 136 (Halpe-136). Frames are the distinct ``image_id``
file names in natural order (``"2.jpg"`` before ``"10.jpg"``). The head top of Halpe files
replaces the synthesised H36M ``head``.

**OpenPose** (``--write_json DIR``): one file per frame, ``<video>_<12-digit frame>_keypoints.json``,
``{"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": [x, y, c, ...],
"face_keypoints_2d": [...], "hand_left_keypoints_2d": [...], "hand_right_keypoints_2d": [...],
...}]}``. ``pose_keypoints_2d`` has 25 keypoints for BODY_25 and BODY_25B (the model is not
recorded in the file: pass ``layout``); a missing keypoint is ``0, 0, 0``. ``person_id`` holds a
track id when tracking was on (``-1`` otherwise).

**MMPose 1.x** predictions: the demo scripts' ``--save-predictions`` file
``{"meta_info": {...}, "instance_info": [{"frame_id": int, "instances": [instance, ...]}, ...]}``
(video) or ``{"meta_info": ..., "instance_info": [instance, ...]}`` (one image), and
``MMPoseInferencer(..., pred_out_dir=...)`` files (a list of frames ``{"frame_id", "instances"}``
or a list of instances). An instance is ``{"keypoints": [[x, y], ...], "keypoint_scores": [s, ...],
"bbox": [[x1, y1, x2, y2]], "bbox_score": float}`` (optionally ``"track_id"``). 17 / 26 / 133 /
136 keypoints as for AlphaPose.

Person selection (``person=``): ``"largest_box"`` (area of the tool's box, or of the bounding
rectangle of the detected keypoints when the tool gives none), ``"highest_score"`` (the tool's
instance score -- COCO/AlphaPose ``score``, MMPose ``bbox_score`` -- or the mean keypoint
confidence when absent), or an ``int`` track id (frames without that id are missing).

Attribution: Pose2Sim (D. Pagnon et al., JOSS 2022, BSD-3-Clause) for the demo data layout;
OpenPose (Cao et al., TPAMI 2019), AlphaPose (Fang et al., TPAMI 2022), MMPose (OpenMMLab) and
COCO (Lin et al., ECCV 2014) for the formats.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .pose_dataset import PoseDataset

__all__ = [
    "KeypointFrames",
    "select_person",
    "keypoint_frames_to_dataset",
    "parse_coco_keypoints",
    "read_coco_keypoints",
    "parse_alphapose",
    "read_alphapose",
    "parse_openpose_frame",
    "read_openpose",
    "parse_mmpose",
    "read_mmpose",
    "read_pose2sim_npz",
]

PathLike = Union[str, "os.PathLike[str]"]
PersonSpec = Union[str, int]

#: Keypoint counts whose first 17 keypoints are in COCO order, and where the head top sits.
_COCO_LIKE = {17: None, 26: 17, 133: None, 136: 17}


@dataclass
class KeypointFrames:
    """Detector output for ``F`` frames with up to ``P`` persons each (padded).

    Args:
        keypoints: ``(F, P, K, 2)`` pixels; NaN where missing.
        confidence: ``(F, P, K)`` in ``[0, 1]``; 0 where missing.
        valid: ``(F, P)`` bool, ``True`` for real person slots.
        boxes: ``(F, P, 4)`` ``x1, y1, x2, y2`` pixels, NaN where the tool gave no box.
        scores: ``(F, P)`` instance scores, NaN where the tool gave none.
        track_ids: ``(F, P)`` int, ``-1`` where unknown.
        frame_ids: ``(F,)`` the frames' ids as strings (image ids, file names, frame numbers).
        layout: the keypoints' layout: ``"coco17"``, ``"body25"``, ``"body25b"``, or
            ``"halpe26"``, ``"coco_wholebody133"``, ``"halpe136"`` (first 17 in COCO order).
        source: the file (or directory) read.
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    track_ids: np.ndarray
    frame_ids: np.ndarray
    layout: str
    source: str = "<memory>"

    @property
    def num_frames(self) -> int:
        """Number of frames ``F``."""
        return int(self.keypoints.shape[0])


@dataclass
class _Instance:
    kp: np.ndarray  # (K, 2)
    conf: np.ndarray  # (K,)
    box: Optional[np.ndarray] = None  # (4,) xyxy
    score: Optional[float] = None
    track: int = -1


def _err(source: str, what: str) -> ValueError:
    return ValueError(f"{source}: {what}")


def _layout_for(k: int, source: str, fmt: str) -> str:
    names = {17: "coco17", 26: "halpe26", 133: "coco_wholebody133", 136: "halpe136"}
    if k not in names:
        raise _err(source, f"{fmt} instances have {k} keypoints; expected 17 (COCO), 26 "
                           "(Halpe-26), 133 (COCO-WholeBody) or 136 (Halpe-136)")
    return names[k]


def _triplets(values: Any, source: str, where: str) -> Tuple[np.ndarray, np.ndarray]:
    """``[x, y, c, x, y, c, ...]`` -> (K, 2), (K,) with the module's missing-keypoint rules."""
    try:
        a = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise _err(source, f"{where}: keypoints are not a list of numbers") from None
    if a.size == 0 or a.size % 3:
        raise _err(source, f"{where}: expected 3 numbers (x, y, confidence) per keypoint, got "
                           f"{a.size} values")
    a = a.reshape(-1, 3)
    return _clean(a[:, :2], a[:, 2], source, where)


def _clean(kp: np.ndarray, conf: np.ndarray, source: str, where: str) -> Tuple[np.ndarray, np.ndarray]:
    kp = np.array(kp, dtype=np.float64)
    conf = np.array(conf, dtype=np.float64)
    if np.isnan(conf).any() or (conf < 0).any():
        raise _err(source, f"{where}: keypoint confidences must be >= 0 and not NaN")
    conf = np.minimum(conf, 1.0)
    missing = (conf <= 0) | ~np.isfinite(kp).all(-1)
    conf[missing] = 0.0
    kp[missing] = np.nan
    return kp, conf


def _pack(frames: Sequence[Tuple[str, List[_Instance]]], layout: str, source: str) -> KeypointFrames:
    if not frames:
        raise _err(source, "no frames in the detector output")
    ks = {inst.kp.shape[0] for _, insts in frames for inst in insts}
    if len(ks) > 1:
        raise _err(source, f"instances have different keypoint counts {sorted(ks)}")
    k = ks.pop() if ks else {"coco17": 17, "body25": 25, "body25b": 25}.get(layout, 17)
    F, P = len(frames), max([len(insts) for _, insts in frames] + [1])
    kp = np.full((F, P, k, 2), np.nan)
    conf = np.zeros((F, P, k))
    valid = np.zeros((F, P), dtype=bool)
    boxes = np.full((F, P, 4), np.nan)
    scores = np.full((F, P), np.nan)
    tracks = np.full((F, P), -1, dtype=np.int64)
    for f, (_, insts) in enumerate(frames):
        for p, inst in enumerate(insts):
            kp[f, p], conf[f, p], valid[f, p], tracks[f, p] = inst.kp, inst.conf, True, inst.track
            if inst.box is not None:
                boxes[f, p] = inst.box
            if inst.score is not None:
                scores[f, p] = inst.score
    return KeypointFrames(kp, conf, valid, boxes, scores, tracks,
                          np.array([fid for fid, _ in frames], dtype=str), layout, source)


def select_person(frames: KeypointFrames, person: PersonSpec = "largest_box") -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pick one person per frame (vectorised over frames).

    Args:
        frames: the detector output.
        person: ``"largest_box"``, ``"highest_score"`` or an ``int`` track id (module docstring).

    Returns:
        ``(keypoints (F, K, 2), confidence (F, K), slot (F,))`` where ``slot`` is the chosen
        person slot, ``-1`` for frames without one (their keypoints are NaN, confidence 0).
    """
    kp, conf, valid = frames.keypoints, frames.confidence, frames.valid
    if isinstance(person, (bool, np.bool_)) or not isinstance(person, (str, int, np.integer)):
        raise TypeError(f"person: expected 'largest_box', 'highest_score' or an int track id, got "
                        f"{person!r}")
    if isinstance(person, (int, np.integer)):
        match = valid & (frames.track_ids == int(person))
        key = np.where(match, 1.0, -np.inf)
    elif person == "largest_box":
        box = frames.boxes.copy()
        seen = conf > 0
        with np.errstate(all="ignore"):
            lo = np.where(seen[..., None], kp, np.inf).min(axis=2)
            hi = np.where(seen[..., None], kp, -np.inf).max(axis=2)
        fallback = np.concatenate([lo, hi], axis=-1)
        no_box = ~np.isfinite(box).all(-1)
        box[no_box] = fallback[no_box]
        with np.errstate(invalid="ignore"):
            area = (box[..., 2] - box[..., 0]) * (box[..., 3] - box[..., 1])
        area = np.where(np.isfinite(area), area, 0.0)
        key = np.where(valid & seen.any(-1), area, -np.inf)
    elif person == "highest_score":
        with np.errstate(invalid="ignore"):
            mean_conf = conf.mean(axis=-1)
        score = np.where(np.isfinite(frames.scores), frames.scores, mean_conf)
        key = np.where(valid, score, -np.inf)
    else:
        raise ValueError(f"person: expected 'largest_box', 'highest_score' or an int track id, "
                         f"got {person!r}")
    slot = key.argmax(axis=1)
    found = np.isfinite(key[np.arange(len(slot)), slot])
    f = np.arange(kp.shape[0])
    out_kp = np.where(found[:, None, None], kp[f, slot], np.nan)
    out_conf = np.where(found[:, None], conf[f, slot], 0.0)
    return out_kp, out_conf, np.where(found, slot, -1)


def keypoint_frames_to_dataset(
    frames: KeypointFrames,
    image_size: Optional[Union[Sequence[float], np.ndarray]],
    *,
    person: PersonSpec = "largest_box",
    to_h36m17: bool = True,
    clip: Optional[str] = None,
) -> PoseDataset:
    """Select a person per frame and build a :class:`PoseDataset` (pixels, confidences).

    Args:
        frames: detector output.
        image_size: ``(width, height)`` pixels, or ``(F, 2)``; required (detector JSON files
            do not record it).
        person: person selection (module docstring).
        to_h36m17: convert to ``"h36m17"`` (default); else keep the source layout (17-keypoint
            COCO prefix for Halpe / WholeBody files, which the skeleton module does not know).
        clip: per-frame clip label (default: the source file's stem).

    Returns:
        The dataset; extras ``frame`` (``(F,)`` int, position in the file) and ``person_slot``
        (``(F,)`` int, ``-1`` where nobody was selected).
    """
    if image_size is None:
        raise _err(frames.source, "image_size: the detector output does not record the image "
                                  "size; pass image_size=(width, height)")
    kp, conf, slot = select_person(frames, person)
    layout = frames.layout
    head_top = None
    if layout not in ("coco17", "body25", "body25b"):
        k = {"halpe26": 26, "coco_wholebody133": 133, "halpe136": 136}[layout]
        top = _COCO_LIKE[k]
        if top is not None:
            head_top = (kp[:, top], conf[:, top])
        kp, conf, layout = kp[:, :17], conf[:, :17], "coco17"
    if to_h36m17:
        from skelcl.skeleton import convert_to_h36m17

        conv = convert_to_h36m17(kp, layout, conf)
        kp, conf = conv.keypoints.numpy(), conv.confidence.numpy()  # type: ignore[union-attr]
        if head_top is not None:
            kp[:, 10], conf[:, 10] = head_top
        layout = "h36m17"
    n = kp.shape[0]
    size = np.asarray(image_size, dtype=np.float64)
    return PoseDataset(
        poses_2d=kp.astype(np.float32),
        image_size=size,
        layout=layout,
        confidence=conf.astype(np.float32),
        clip=np.full(n, clip if clip is not None else Path(frames.source).stem),
        source=f"detector output {frames.source}",
        extras={"frame": np.arange(n, dtype=np.int64), "person_slot": slot.astype(np.int64)},
    )


# ---------------------------------------------------------------------- file helpers
def _load_json(path: PathLike) -> Any:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    text = path.read_text(encoding="utf-8")
    if not text.strip():
        raise _err(str(path), "empty file")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise _err(str(path), f"malformed or truncated JSON ({exc})") from None


def _natural_key(s: str) -> Tuple:
    return tuple(int(t) if t.isdigit() else t for t in re.split(r"(\d+)", s))


def _xywh(box: Any, source: str, where: str) -> Optional[np.ndarray]:
    if box is None:
        return None
    b = np.asarray(box, dtype=np.float64).reshape(-1)
    if b.size < 4:
        raise _err(source, f"{where}: a box needs 4 numbers, got {b.size}")
    return np.array([b[0], b[1], b[0] + b[2], b[1] + b[3]])


def _track(value: Any) -> int:
    if isinstance(value, (list, tuple)):
        value = value[0] if value else -1
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


# ---------------------------------------------------------------------- COCO
def parse_coco_keypoints(data: Any, source: str = "<memory>") -> KeypointFrames:
    """Parse COCO keypoint results (a list) or a COCO annotation dict (see module docstring)."""
    images: Optional[List[Any]] = None
    visibility = False
    if isinstance(data, dict):
        if "annotations" not in data:
            raise _err(source, "a COCO dict needs an 'annotations' list")
        images = data.get("images")
        data = data["annotations"]
        visibility = True
    if not isinstance(data, list):
        raise _err(source, "COCO keypoint results must be a JSON list of instances")
    by_image: Dict[Any, List[_Instance]] = {}
    if images is not None:
        for im in images:
            by_image.setdefault(im["id"], [])
    for i, inst in enumerate(data):
        if not isinstance(inst, dict) or "image_id" not in inst or "keypoints" not in inst:
            raise _err(source, f"instance {i}: needs 'image_id' and 'keypoints'")
        if inst.get("category_id", 1) != 1:
            continue
        vals = np.asarray(inst["keypoints"], dtype=np.float64).reshape(-1)
        if visibility and vals.size % 3 == 0:
            vals = vals.reshape(-1, 3).copy()
            vals[:, 2] = (vals[:, 2] > 0).astype(np.float64)
        kp, conf = _triplets(vals, source, f"instance {i}")
        by_image.setdefault(inst["image_id"], []).append(
            _Instance(kp, conf, _xywh(inst.get("bbox"), source, f"instance {i}"),
                      inst.get("score"), _track(inst.get("track_id", -1)))
        )
    if not by_image:
        raise _err(source, "no person instances (category_id 1)")
    ids = sorted(by_image, key=lambda x: _natural_key(str(x)))
    frames = [(str(fid), by_image[fid]) for fid in ids]
    k = next((inst.kp.shape[0] for _, ins in frames for inst in ins), 17)
    return _pack(frames, _layout_for(k, source, "COCO"), source)


def read_coco_keypoints(
    path: PathLike,
    image_size: Optional[Sequence[float]] = None,
    *,
    person: PersonSpec = "highest_score",
    to_h36m17: bool = True,
) -> PoseDataset:
    """Read COCO keypoint results / annotations into a pose dataset (see module docstring).

    Args:
        path: the JSON file.
        image_size: ``(width, height)``; for an annotation file with ``"images"`` the per-image
            sizes are used when this is ``None``.
        person: person selection.
        to_h36m17: convert to H36M-17.
    """
    data = _load_json(path)
    frames = parse_coco_keypoints(data, str(path))
    if image_size is None and isinstance(data, dict) and data.get("images"):
        sizes = {str(im["id"]): (im["width"], im["height"]) for im in data["images"]}
        image_size = np.array([sizes[fid] for fid in frames.frame_ids], dtype=np.float64)
    return keypoint_frames_to_dataset(frames, image_size, person=person, to_h36m17=to_h36m17)


# ---------------------------------------------------------------------- AlphaPose
def parse_alphapose(data: Any, source: str = "<memory>") -> KeypointFrames:
    """Parse AlphaPose ``--format default`` results (see module docstring)."""
    if not isinstance(data, list):
        raise _err(source, "AlphaPose results must be a JSON list of instances")
    by_image: Dict[str, List[_Instance]] = {}
    for i, inst in enumerate(data):
        if not isinstance(inst, dict) or "image_id" not in inst or "keypoints" not in inst:
            raise _err(source, f"instance {i}: needs 'image_id' and 'keypoints'")
        kp, conf = _triplets(inst["keypoints"], source, f"instance {i}")
        by_image.setdefault(str(inst["image_id"]), []).append(
            _Instance(kp, conf, _xywh(inst.get("box"), source, f"instance {i}"),
                      inst.get("score"), _track(inst.get("idx", -1)))
        )
    if not by_image:
        raise _err(source, "no instances")
    frames = [(fid, by_image[fid]) for fid in sorted(by_image, key=_natural_key)]
    k = frames[0][1][0].kp.shape[0]
    return _pack(frames, _layout_for(k, source, "AlphaPose"), source)


def read_alphapose(
    path: PathLike,
    image_size: Sequence[float],
    *,
    person: PersonSpec = "highest_score",
    to_h36m17: bool = True,
) -> PoseDataset:
    """Read ``alphapose-results.json`` into a pose dataset (see module docstring)."""
    frames = parse_alphapose(_load_json(path), str(path))
    return keypoint_frames_to_dataset(frames, image_size, person=person, to_h36m17=to_h36m17)


# ---------------------------------------------------------------------- OpenPose
def parse_openpose_frame(data: Any, source: str = "<memory>") -> List[_Instance]:
    """Parse one OpenPose ``*_keypoints.json`` document into person instances."""
    if not isinstance(data, dict) or "people" not in data:
        raise _err(source, "an OpenPose frame file needs a 'people' list")
    out = []
    for i, person in enumerate(data["people"]):
        if "pose_keypoints_2d" not in person:
            raise _err(source, f"person {i}: no 'pose_keypoints_2d'")
        kp, conf = _triplets(person["pose_keypoints_2d"], source, f"person {i}")
        if kp.shape[0] != 25:
            raise _err(source, f"person {i}: expected 25 keypoints (BODY_25 / BODY_25B), got "
                               f"{kp.shape[0]}")
        out.append(_Instance(kp, conf, None, None, _track(person.get("person_id", -1))))
    return out


def read_openpose(
    files: Union[PathLike, Iterable[PathLike]],
    image_size: Sequence[float],
    *,
    layout: str = "body25",
    person: PersonSpec = "largest_box",
    to_h36m17: bool = True,
) -> PoseDataset:
    """Read OpenPose per-frame JSON files into a pose dataset (see module docstring).

    Args:
        files: a directory (all ``*_keypoints.json`` in it, in natural name order) or a list of
            files in frame order.
        image_size: ``(width, height)`` pixels.
        layout: ``"body25"`` or ``"body25b"`` (the file does not say which model wrote it).
        person: person selection (OpenPose gives no box: the keypoints' bounding rectangle and
            mean confidence are used).
        to_h36m17: convert to H36M-17.
    """
    if layout not in ("body25", "body25b"):
        raise ValueError(f"layout: expected 'body25' or 'body25b', got {layout!r}")
    if isinstance(files, (str, os.PathLike)) and Path(files).is_dir():
        source = str(files)
        paths = sorted(Path(files).glob("*_keypoints.json"), key=lambda p: _natural_key(p.name))
        if not paths:
            raise _err(source, "no *_keypoints.json files in this directory")
    else:
        paths = [Path(files)] if isinstance(files, (str, os.PathLike)) else [Path(p) for p in files]
        source = str(paths[0].parent) if paths else "<no files>"
        if not paths:
            raise _err(source, "no OpenPose files given")
    frames = [(p.name, parse_openpose_frame(_load_json(p), str(p))) for p in paths]
    packed = _pack(frames, layout, source)
    return keypoint_frames_to_dataset(packed, image_size, person=person, to_h36m17=to_h36m17,
                                      clip=Path(source).name)


# ---------------------------------------------------------------------- MMPose
def _mmpose_instance(inst: Any, source: str, where: str) -> _Instance:
    if not isinstance(inst, dict) or "keypoints" not in inst or "keypoint_scores" not in inst:
        raise _err(source, f"{where}: an MMPose instance needs 'keypoints' and 'keypoint_scores'")
    try:
        kp = np.asarray(inst["keypoints"], dtype=np.float64)
        sc = np.asarray(inst["keypoint_scores"], dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise _err(source, f"{where}: keypoints are not numeric") from None
    if kp.ndim != 2 or kp.shape[1] != 2 or sc.shape[0] != kp.shape[0]:
        raise _err(source, f"{where}: expected keypoints (K, 2) and keypoint_scores (K,), got "
                           f"{kp.shape} and {sc.shape}")
    kp, conf = _clean(kp, sc, source, where)
    box = None
    if inst.get("bbox") is not None:
        b = np.asarray(inst["bbox"], dtype=np.float64).reshape(-1)
        if b.size < 4:
            raise _err(source, f"{where}: bbox needs 4 numbers (x1, y1, x2, y2)")
        box = b[:4]
    score = inst.get("bbox_score")
    if isinstance(score, (list, tuple)):
        score = score[0] if score else None
    return _Instance(kp, conf, box, score, _track(inst.get("track_id", -1)))


def parse_mmpose(data: Any, source: str = "<memory>") -> KeypointFrames:
    """Parse MMPose 1.x prediction JSON (all the layouts of the module docstring)."""
    if isinstance(data, dict):
        if "instance_info" not in data:
            raise _err(source, "an MMPose prediction dict needs 'instance_info'")
        data = data["instance_info"]
    if not isinstance(data, list):
        raise _err(source, "MMPose predictions must be a list of frames or instances")
    frames: List[Tuple[str, List[_Instance]]] = []
    if data and all(isinstance(d, dict) and "instances" in d for d in data):
        for i, fr in enumerate(data):
            fid = str(fr.get("frame_id", i))
            frames.append((fid, [_mmpose_instance(x, source, f"frame {fid} instance {j}")
                                 for j, x in enumerate(fr["instances"])]))
    else:
        frames.append(("0", [_mmpose_instance(x, source, f"instance {j}")
                             for j, x in enumerate(data)]))
    k = next((inst.kp.shape[0] for _, ins in frames for inst in ins), None)
    if k is None:
        raise _err(source, "no instances in any frame")
    return _pack(frames, _layout_for(k, source, "MMPose"), source)


def read_mmpose(
    path: PathLike,
    image_size: Sequence[float],
    *,
    person: PersonSpec = "highest_score",
    to_h36m17: bool = True,
) -> PoseDataset:
    """Read MMPose 1.x prediction JSON into a pose dataset (see module docstring)."""
    frames = parse_mmpose(_load_json(path), str(path))
    return keypoint_frames_to_dataset(frames, image_size, person=person, to_h36m17=to_h36m17)


# ---------------------------------------------------------------------- Pose2Sim
def read_pose2sim_npz(
    path: PathLike,
    *,
    cameras: Optional[Sequence[int]] = None,
    person: PersonSpec = "largest_box",
    to_h36m17: bool = True,
) -> PoseDataset:
    """Load the Pose2Sim demo's detector output (``pose2sim_balancing_openpose_body25b.npz``).

    The file (see ``shared/data/README.md``) holds ``keypoints_2d`` ``(C, F, P, 25, 3)`` (x, y in
    pixels and confidence; NaN marks an empty person slot, ``0, 0, 0`` a missed keypoint),
    ``keypoint_names`` (OpenPose BODY_25B), ``camera_names``, ``image_size_wh`` ``(C, 2)`` and the
    OpenCV calibration ``K`` ``(C, 3, 3)``, ``dist``, ``rvec``, ``tvec``. It is loaded without
    pickle.

    Args:
        path: the ``.npz`` file.
        cameras: camera indices to keep (default all).
        person: person selection per camera and frame (``"largest_box"`` rejects the small
            spurious second person of cameras 1 and 2).
        to_h36m17: convert BODY_25B to H36M-17 (the README's rule).

    Returns:
        A dataset of ``len(cameras) * F`` poses ordered camera-major, with per-pose
        ``image_size``, ``focal`` ``(fx, fy)`` and ``principal_point`` from ``K`` (lens
        distortion is not applied: the demo's coefficients are below 0.003), ``clip`` = camera
        name, and extras ``view`` (camera index), ``frame`` and ``person_slot``.
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise FileNotFoundError(f"{where}: no such file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except Exception as exc:  # noqa: BLE001 - report any archive failure with the file name
        raise _err(where, f"not a readable .npz archive ({exc})") from None
    for key in ("keypoints_2d", "image_size_wh", "K"):
        if key not in arrays:
            raise _err(where, f"missing key {key!r} (found {sorted(arrays)})")
    kp = arrays["keypoints_2d"].astype(np.float64)
    if kp.ndim != 5 or kp.shape[-2:] != (25, 3):
        raise _err(where, f"keypoints_2d: expected shape (cameras, frames, persons, 25, 3), got "
                          f"{kp.shape}")
    names = [str(n) for n in arrays.get("keypoint_names", [])]
    if names and names[17:19] != ["Neck", "Head"]:
        raise _err(where, f"keypoint_names are not OpenPose BODY_25B: {names}")
    C, F, P = kp.shape[:3]
    cams = list(range(C)) if cameras is None else [int(c) for c in cameras]
    bad = [c for c in cams if not 0 <= c < C]
    if bad:
        raise ValueError(f"cameras: indices {bad} out of range for {C} cameras in {where}")
    cam_names = [str(n) for n in arrays.get("camera_names", [f"cam_{c + 1:02d}" for c in range(C)])]
    parts = []
    for c in cams:
        slot_valid = np.isfinite(kp[c]).any(axis=(-1, -2))  # (F, P)
        coords = kp[c, ..., :2]
        conf = np.nan_to_num(kp[c, ..., 2], nan=0.0)
        conf = np.where(slot_valid[..., None], conf, 0.0)
        if (conf < 0).any():
            raise _err(where, f"keypoints_2d: negative confidence in camera {c}")
        conf = np.minimum(conf, 1.0)
        missing = (conf <= 0) | ~np.isfinite(coords).all(-1)
        coords = np.where(missing[..., None], np.nan, coords)
        conf = np.where(missing, 0.0, conf)
        frames = KeypointFrames(
            keypoints=coords, confidence=conf, valid=slot_valid,
            boxes=np.full((F, P, 4), np.nan), scores=np.full((F, P), np.nan),
            track_ids=np.full((F, P), -1, dtype=np.int64),
            frame_ids=np.arange(F).astype(str), layout="body25b", source=where,
        )
        ds = keypoint_frames_to_dataset(
            frames, np.broadcast_to(arrays["image_size_wh"][c], (F, 2)).copy(),
            person=person, to_h36m17=to_h36m17, clip=cam_names[c],
        )
        parts.append((c, ds))
    K = arrays["K"].astype(np.float64)
    cat = lambda xs: np.concatenate(xs, axis=0)  # noqa: E731
    return PoseDataset(
        poses_2d=cat([d.poses_2d for _, d in parts]),
        image_size=cat([d.image_size for _, d in parts]),
        layout=parts[0][1].layout,
        confidence=cat([d.confidence for _, d in parts]),
        focal=cat([np.broadcast_to(K[c, [0, 1], [0, 1]], (F, 2)) for c, _ in parts]),
        principal_point=cat([np.broadcast_to(K[c, [0, 1], [2, 2]], (F, 2)) for c, _ in parts]),
        clip=cat([d.clip for _, d in parts]),
        source=f"Pose2Sim detector output {where} (OpenPose BODY_25B)",
        extras={
            "view": cat([np.full(F, c, dtype=np.int64) for c, _ in parts]),
            "frame": cat([d.extras["frame"] for _, d in parts]),
            "person_slot": cat([d.extras["person_slot"] for _, d in parts]),
        },
    )
