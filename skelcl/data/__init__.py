"""Pose-dataset files, motion-capture clips, splits, virtual cameras and synthetic poses.

The names below are re-exported from the submodules :mod:`skelcl.data.pose_dataset`,
:mod:`skelcl.data.mocap`, :mod:`skelcl.data.splits`, :mod:`skelcl.data.virtual_cameras` and
:mod:`skelcl.data.synthetic`, and the readers :mod:`skelcl.data.bvh`,
:mod:`skelcl.data.mocap_presets`, :mod:`skelcl.data.asf_amc`, :mod:`skelcl.data.videopose3d` and
:mod:`skelcl.data.keypoints` (documented there). Command line: ``python -m skelcl.data --help``.
"""

from . import asf_amc, bvh, keypoints, mocap_presets, videopose3d
from .asf_amc import *  # noqa: F401,F403  (names listed in asf_amc.__all__)
from .bvh import *  # noqa: F401,F403
from .keypoints import *  # noqa: F401,F403
from .mocap import MocapClips, load_mocap, parse_selection, save_mocap
from .pose_dataset import (
    PoseDataset,
    PoseDatasetError,
    PoseTensorDataset,
    layout_num_joints,
    load_pose_dataset,
    save_pose_dataset,
)
from .splits import SUGGESTED_SPLIT, default_data_dir, suggested_split
from .synthetic import POSTURES, synthetic_mocap
from .mocap_presets import *  # noqa: F401,F403
from .videopose3d import *  # noqa: F401,F403
from .virtual_cameras import (
    VirtualCameraConfig,
    VirtualCameras,
    camera_to_pixels,
    look_at_rotation,
    project_mocap,
    sample_virtual_cameras,
    world_to_camera,
)

__all__ = [
    "MocapClips",
    "load_mocap",
    "parse_selection",
    "save_mocap",
    "PoseDataset",
    "PoseDatasetError",
    "PoseTensorDataset",
    "layout_num_joints",
    "load_pose_dataset",
    "save_pose_dataset",
    "SUGGESTED_SPLIT",
    "default_data_dir",
    "suggested_split",
    "POSTURES",
    "synthetic_mocap",
    "VirtualCameraConfig",
    "VirtualCameras",
    "camera_to_pixels",
    "look_at_rotation",
    "project_mocap",
    "sample_virtual_cameras",
    "world_to_camera",
]

__all__ += [
    *asf_amc.__all__,
    *bvh.__all__,
    *keypoints.__all__,
    *mocap_presets.__all__,
    *videopose3d.__all__,
]
