"""Built-in joint layouts: Human3.6M-17, COCO-17, OpenPose BODY_25 / BODY_25B, MPI-INF-3DHP-17.

Layouts without a central root joint (COCO-17, BODY_25B) get a tree chosen by skelcl so that
:func:`~skelcl.skeleton.bone_lengths` is defined; each constant's docstring states it. Hips hang
from the shoulders of the same side in those trees ("torso side" bones), which keeps the tree
mirror-symmetric.
"""

from __future__ import annotations

from typing import Sequence, Union

from .skeleton import Skeleton, _pairs_by_prefix

__all__ = ["H36M17", "COCO17", "BODY25", "BODY25B", "MPI_INF_3DHP17", "LAYOUTS", "get_layout"]


def _parts(
    names: Sequence[str], **groups: Sequence[str]
) -> tuple[tuple[str, tuple[int, ...]], ...]:
    return tuple((g, tuple(list(names).index(n) for n in members)) for g, members in groups.items())


def _make(name: str, names: Sequence[str], parent_names: dict, left: str, right: str,
          **groups: Sequence[str]) -> Skeleton:
    """Build a layout from joint names and a ``child -> parent`` name map (root maps to None)."""
    names = tuple(names)
    parents = tuple(-1 if parent_names[n] is None else names.index(parent_names[n]) for n in names)
    return Skeleton(name, names, parents, _pairs_by_prefix(names, left, right),
                    _parts(names, **groups))


_H36M_NAMES = (
    "pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
    "neck_nose", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist",
)
H36M17 = Skeleton(
    "h36m17",
    _H36M_NAMES,
    (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15),
    ((4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16)),
    _parts(
        _H36M_NAMES,
        left_arm=("l_shoulder", "l_elbow", "l_wrist"),
        right_arm=("r_shoulder", "r_elbow", "r_wrist"),
        left_leg=("l_hip", "l_knee", "l_ankle"),
        right_leg=("r_hip", "r_knee", "r_ankle"),
        torso=("pelvis", "spine", "thorax"),
        head=("neck_nose", "head"),
    ),
)
"""Human3.6M 17 joints in VideoPose3D order (skelcl's working layout; METHOD.md §1).

``0 pelvis, 1 r_hip, 2 r_knee, 3 r_ankle, 4 l_hip, 5 l_knee, 6 l_ankle, 7 spine, 8 thorax,
9 neck_nose, 10 head, 11 l_shoulder, 12 l_elbow, 13 l_wrist, 14 r_shoulder, 15 r_elbow,
16 r_wrist``; parents ``[-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]``; root pelvis;
pairs (4, 1) (5, 2) (6, 3) (11, 14) (12, 15) (13, 16). Arms are shoulder-elbow-wrist, legs
hip-knee-ankle, torso pelvis-spine-thorax, head neck_nose-head.
"""

_COCO_NAMES = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_COCO_PARENTS = {
    "nose": None,
    "left_eye": "nose", "right_eye": "nose", "left_ear": "left_eye", "right_ear": "right_eye",
    "left_shoulder": "nose", "right_shoulder": "nose",
    "left_elbow": "left_shoulder", "right_elbow": "right_shoulder",
    "left_wrist": "left_elbow", "right_wrist": "right_elbow",
    "left_hip": "left_shoulder", "right_hip": "right_shoulder",
    "left_knee": "left_hip", "right_knee": "right_hip",
    "left_ankle": "left_knee", "right_ankle": "right_knee",
}
COCO17 = _make(
    "coco17", _COCO_NAMES, _COCO_PARENTS, "left_", "right_",
    left_arm=("left_shoulder", "left_elbow", "left_wrist"),
    right_arm=("right_shoulder", "right_elbow", "right_wrist"),
    left_leg=("left_hip", "left_knee", "left_ankle"),
    right_leg=("right_hip", "right_knee", "right_ankle"),
    torso=(),
    head=("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
)
"""COCO keypoints (17, standard order): ``0 nose, 1 left_eye, 2 right_eye, 3 left_ear,
4 right_ear, 5 left_shoulder, 6 right_shoulder, 7 left_elbow, 8 right_elbow, 9 left_wrist,
10 right_wrist, 11 left_hip, 12 right_hip, 13 left_knee, 14 right_knee, 15 left_ankle,
16 right_ankle``.

COCO has no central body joint; skelcl's tree is rooted at the nose: eyes hang from the nose,
ears from the eyes, shoulders from the nose, hips from the same-side shoulder, then the limb
chains. The ``torso`` group is empty (COCO has no torso joint).
"""

_BODY25_NAMES = (
    "Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow", "LWrist", "MidHip",
    "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle", "REye", "LEye", "REar", "LEar",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
_FEET = {
    "LBigToe": "LAnkle", "LSmallToe": "LBigToe", "LHeel": "LAnkle",
    "RBigToe": "RAnkle", "RSmallToe": "RBigToe", "RHeel": "RAnkle",
}
_BODY25_PARENTS = {
    "MidHip": None, "Neck": "MidHip", "Nose": "Neck",
    "RShoulder": "Neck", "RElbow": "RShoulder", "RWrist": "RElbow",
    "LShoulder": "Neck", "LElbow": "LShoulder", "LWrist": "LElbow",
    "RHip": "MidHip", "RKnee": "RHip", "RAnkle": "RKnee",
    "LHip": "MidHip", "LKnee": "LHip", "LAnkle": "LKnee",
    "REye": "Nose", "LEye": "Nose", "REar": "REye", "LEar": "LEye",
    **_FEET,
}
BODY25 = _make(
    "body25", _BODY25_NAMES, _BODY25_PARENTS, "L", "R",
    left_arm=("LShoulder", "LElbow", "LWrist"),
    right_arm=("RShoulder", "RElbow", "RWrist"),
    left_leg=("LHip", "LKnee", "LAnkle", "LBigToe", "LSmallToe", "LHeel"),
    right_leg=("RHip", "RKnee", "RAnkle", "RBigToe", "RSmallToe", "RHeel"),
    torso=("MidHip", "Neck"),
    head=("Nose", "REye", "LEye", "REar", "LEar"),
)
"""OpenPose BODY_25 (25 keypoints, OpenPose's order): ``0 Nose, 1 Neck, 2 RShoulder, 3 RElbow,
4 RWrist, 5 LShoulder, 6 LElbow, 7 LWrist, 8 MidHip, 9 RHip, 10 RKnee, 11 RAnkle, 12 LHip,
13 LKnee, 14 LAnkle, 15 REye, 16 LEye, 17 REar, 18 LEar, 19 LBigToe, 20 LSmallToe, 21 LHeel,
22 RBigToe, 23 RSmallToe, 24 RHeel``. Root MidHip; the tree follows OpenPose's limb pairs
(small toe hangs from the big toe, heel and big toe from the ankle). Legs include the feet.
"""

_BODY25B_NAMES = (
    "Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow", "RElbow",
    "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle", "RAnkle", "Neck", "Head",
    "LBigToe", "LSmallToe", "LHeel", "RBigToe", "RSmallToe", "RHeel",
)
_BODY25B_PARENTS = {
    "Neck": None, "Nose": "Neck", "Head": "Neck",
    "LEye": "Nose", "REye": "Nose", "LEar": "LEye", "REar": "REye",
    "LShoulder": "Neck", "RShoulder": "Neck",
    "LElbow": "LShoulder", "RElbow": "RShoulder", "LWrist": "LElbow", "RWrist": "RElbow",
    "LHip": "LShoulder", "RHip": "RShoulder",
    "LKnee": "LHip", "RKnee": "RHip", "LAnkle": "LKnee", "RAnkle": "RKnee",
    **_FEET,
}
BODY25B = _make(
    "body25b", _BODY25B_NAMES, _BODY25B_PARENTS, "L", "R",
    left_arm=("LShoulder", "LElbow", "LWrist"),
    right_arm=("RShoulder", "RElbow", "RWrist"),
    left_leg=("LHip", "LKnee", "LAnkle", "LBigToe", "LSmallToe", "LHeel"),
    right_leg=("RHip", "RKnee", "RAnkle", "RBigToe", "RSmallToe", "RHeel"),
    torso=("Neck",),
    head=("Nose", "LEye", "REye", "LEar", "REar", "Head"),
)
"""OpenPose BODY_25B (25 keypoints; the order and names of Pose2Sim's output):
``0 Nose, 1 LEye, 2 REye, 3 LEar, 4 REar, 5 LShoulder, 6 RShoulder, 7 LElbow, 8 RElbow,
9 LWrist, 10 RWrist, 11 LHip, 12 RHip, 13 LKnee, 14 RKnee, 15 LAnkle, 16 RAnkle, 17 Neck,
18 Head, 19 LBigToe, 20 LSmallToe, 21 LHeel, 22 RBigToe, 23 RSmallToe, 24 RHeel``.

``Neck`` is OpenPose's *upper* neck and ``Head`` the head top. BODY_25B has no mid-hip; skelcl's
tree is rooted at ``Neck``: nose and head top hang from it, eyes from the nose, ears from the
eyes, shoulders from the neck, hips from the same-side shoulder, then the limb and foot chains.
"""

_MPI_NAMES = (
    "head_top", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "pelvis", "spine", "head",
)
_MPI_PARENTS = {
    "pelvis": None, "spine": "pelvis", "neck": "spine", "head": "neck", "head_top": "head",
    "r_shoulder": "neck", "r_elbow": "r_shoulder", "r_wrist": "r_elbow",
    "l_shoulder": "neck", "l_elbow": "l_shoulder", "l_wrist": "l_elbow",
    "r_hip": "pelvis", "r_knee": "r_hip", "r_ankle": "r_knee",
    "l_hip": "pelvis", "l_knee": "l_hip", "l_ankle": "l_knee",
}
MPI_INF_3DHP17 = _make(
    "mpi_inf_3dhp17", _MPI_NAMES, _MPI_PARENTS, "l_", "r_",
    left_arm=("l_shoulder", "l_elbow", "l_wrist"),
    right_arm=("r_shoulder", "r_elbow", "r_wrist"),
    left_leg=("l_hip", "l_knee", "l_ankle"),
    right_leg=("r_hip", "r_knee", "r_ankle"),
    torso=("pelvis", "spine", "neck"),
    head=("head", "head_top"),
)
"""MPI-INF-3DHP test-set 17 joints (the order lifting papers evaluate in): ``0 head_top, 1 neck,
2 r_shoulder, 3 r_elbow, 4 r_wrist, 5 l_shoulder, 6 l_elbow, 7 l_wrist, 8 r_hip, 9 r_knee,
10 r_ankle, 11 l_hip, 12 l_knee, 13 l_ankle, 14 pelvis, 15 spine, 16 head``. Root pelvis (14);
spine hangs from the pelvis, neck from the spine, head from the neck, head_top from the head.
"""

LAYOUTS: dict[str, Skeleton] = {
    s.name: s for s in (H36M17, COCO17, BODY25, BODY25B, MPI_INF_3DHP17)
}
"""Built-in layouts by name."""


def get_layout(name: Union[str, Skeleton]) -> Skeleton:
    """Return the built-in layout called ``name`` (case-insensitive; a :class:`Skeleton` passes).

    Args:
        name: One of ``"h36m17"``, ``"coco17"``, ``"body25"``, ``"body25b"``,
            ``"mpi_inf_3dhp17"``, or a :class:`Skeleton` (returned unchanged).

    Raises:
        ValueError: For an unknown name (the message lists the valid ones).
        TypeError: If ``name`` is neither a string nor a :class:`Skeleton`.
    """
    if isinstance(name, Skeleton):
        return name
    if not isinstance(name, str):
        raise TypeError(f"name: expected a layout name or Skeleton, got {type(name).__name__}")
    key = name.lower().replace("-", "_")
    if key not in LAYOUTS:
        raise ValueError(f"name: unknown layout {name!r}; expected one of {sorted(LAYOUTS)}")
    return LAYOUTS[key]
