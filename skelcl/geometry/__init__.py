"""SO(3) sampling and conversions, cameras, the OCR-Pose view transform and 2D normalisation.

Conventions: rotations act on column vectors and points are rows (``X' = X @ R.mT``); the camera
frame is x right, y down, z forward; quaternions are ``(x, y, z, w)``; the 6D representation is
the first two columns of ``R``. See the API reference of each submodule.
"""

from .axis_angle import axis_angle_to_matrix, matrix_to_axis_angle
from .camera import (
    depth_to_points,
    normalized_to_pixels,
    pixels_to_normalized,
    project,
    unproject,
    weak_perspective_project,
)
from .euler import axis_rotation, euler_to_matrix, matrix_to_euler
from .geodesic import geodesic_angle, rotation_angle
from .normalization import RootScaleNormalizer2D
from .quaternion import (
    axis_angle_to_quaternion,
    canonical_quaternion,
    matrix_to_quaternion,
    quaternion_multiply,
    quaternion_to_axis_angle,
    quaternion_to_matrix,
)
from .rotation_6d import matrix_to_rotation_6d, rotation_6d_to_matrix
from .rotation_sampling import (
    DEFAULT_AZIMUTH,
    DEFAULT_ELEVATION,
    DEFAULT_ROLL,
    random_quaternion,
    random_rotation,
    sample_view_rotation,
    view_rotation_from_angles,
)
from .view_transform import inverse_view_transform, view_transform

__all__ = [
    "DEFAULT_AZIMUTH",
    "DEFAULT_ELEVATION",
    "DEFAULT_ROLL",
    "RootScaleNormalizer2D",
    "axis_angle_to_matrix",
    "axis_angle_to_quaternion",
    "axis_rotation",
    "canonical_quaternion",
    "depth_to_points",
    "euler_to_matrix",
    "geodesic_angle",
    "inverse_view_transform",
    "matrix_to_axis_angle",
    "matrix_to_euler",
    "matrix_to_quaternion",
    "matrix_to_rotation_6d",
    "normalized_to_pixels",
    "pixels_to_normalized",
    "project",
    "quaternion_multiply",
    "quaternion_to_axis_angle",
    "quaternion_to_matrix",
    "random_quaternion",
    "random_rotation",
    "rotation_6d_to_matrix",
    "rotation_angle",
    "sample_view_rotation",
    "unproject",
    "view_rotation_from_angles",
    "view_transform",
]
