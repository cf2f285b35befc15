"""Random rotations: uniform (Haar) on SO(3), and camera view rotations from angle ranges.

**View-rotation convention** (camera frame: x right, y down, z forward):

- *azimuth* rotates about the camera's vertical axis y (walking around the subject),
- *elevation* rotates about the horizontal axis x (looking from above or below),
- *roll* rotates about the optical axis z,

each a right-handed rotation, composed as ``R = Rz(roll) @ Rx(elevation) @ Ry(azimuth)`` (azimuth
applied first to a point). In scipy terms this is ``Rotation.from_euler("yxz", [azimuth,
elevation, roll])`` (extrinsic) or equivalently ``"ZXY"`` with ``[roll, elevation, azimuth]``.
The default ranges ``±7π/9, ±π/9, ±π/18`` are those of the OCR-Pose / Yu et al. (ICCV 2021)
training cycle (METHOD.md §2).
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch

from skelcl._validation import TensorLike, as_tensor

from ._utils import parse_shape, resolve_device, resolve_dtype
from .euler import axis_rotation
from .quaternion import quaternion_to_matrix

__all__ = [
    "random_rotation",
    "random_quaternion",
    "sample_view_rotation",
    "view_rotation_from_angles",
    "DEFAULT_AZIMUTH",
    "DEFAULT_ELEVATION",
    "DEFAULT_ROLL",
]

DEFAULT_AZIMUTH: Tuple[float, float] = (-7 * math.pi / 9, 7 * math.pi / 9)
"""Default azimuth range (radians) of :func:`sample_view_rotation`."""
DEFAULT_ELEVATION: Tuple[float, float] = (-math.pi / 9, math.pi / 9)
"""Default elevation range (radians)."""
DEFAULT_ROLL: Tuple[float, float] = (-math.pi / 18, math.pi / 18)
"""Default roll range (radians)."""

Device = Union[str, torch.device, None]


def random_quaternion(
    *shape: Union[int, Sequence[int]],
    generator: Optional[torch.Generator] = None,
    dtype: Optional[torch.dtype] = None,
    device: Device = None,
) -> torch.Tensor:
    """Uniformly distributed unit quaternions ``(x, y, z, w)`` with ``w >= 0``.

    A standard normal 4-vector is isotropic, so its direction is uniform on the 3-sphere, which
    makes the rotation Haar distributed (Shoemake 1992; Marsaglia 1972).

    Args:
        *shape: batch shape, as integers or one tuple (``random_quaternion(5, 2)``).
        generator: optional :class:`torch.Generator`; sampling happens on its device unless
            ``device`` is given.
        dtype: floating dtype (default: ``torch.get_default_dtype()``).
        device: output device (default: the generator's device, else CPU).

    Returns:
        ``(*shape, 4)`` unit quaternions.
    """
    size = parse_shape(shape)
    dt = resolve_dtype(dtype)
    dev = resolve_device(device, generator)
    gen_dev = generator.device if generator is not None else dev
    q = torch.randn((*size, 4), generator=generator, dtype=dt, device=gen_dev).to(dev)
    q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True).clamp_min(torch.finfo(dt).tiny)
    return torch.where(q[..., 3:4] < 0, -q, q)


def random_rotation(
    *shape: Union[int, Sequence[int]],
    generator: Optional[torch.Generator] = None,
    dtype: Optional[torch.dtype] = None,
    device: Device = None,
) -> torch.Tensor:
    """Rotation matrices drawn uniformly (Haar measure) from SO(3).

    Built from normalised Gaussian quaternions (:func:`random_quaternion`). The rotation angle
    then has density ``(1 - cos t) / pi`` on ``[0, pi]``.

    Args:
        *shape: batch shape, as integers or one tuple: ``random_rotation(1000)`` is
            ``(1000, 3, 3)``, ``random_rotation()`` is one ``(3, 3)`` matrix.
        generator: optional :class:`torch.Generator` for reproducibility.
        dtype: floating dtype (default: ``torch.get_default_dtype()``).
        device: output device (default: the generator's device, else CPU).

    Returns:
        ``(*shape, 3, 3)`` rotation matrices (orthonormal, determinant +1).
    """
    return quaternion_to_matrix(random_quaternion(*shape, generator=generator, dtype=dtype, device=device))


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def view_rotation_from_angles(
    azimuth: Union[float, TensorLike], elevation: Union[float, TensorLike], roll: Union[float, TensorLike]
) -> torch.Tensor:
    """View rotation ``R = Rz(roll) @ Rx(elevation) @ Ry(azimuth)`` (see the module docstring).

    Args:
        azimuth: ``(...)`` radians about the camera's vertical axis y.
        elevation: ``(...)`` radians about the horizontal axis x.
        roll: ``(...)`` radians about the optical axis z. The three shapes broadcast; plain
            numbers are accepted (dtype and device follow the tensor arguments).

    Returns:
        ``(..., 3, 3)`` rotation matrices.
    """
    values = {"azimuth": azimuth, "elevation": elevation, "roll": roll}
    tensors = {k: as_tensor(v, k) for k, v in values.items() if not _is_number(v)}
    like = next(iter(tensors.values()), None)
    dtype = like.dtype if like is not None else torch.get_default_dtype()
    device = like.device if like is not None else None
    for k, v in values.items():
        if _is_number(v):
            tensors[k] = torch.tensor(float(v), dtype=dtype, device=device)
    az, el, ro = tensors["azimuth"], tensors["elevation"], tensors["roll"]
    try:
        az, el, ro = torch.broadcast_tensors(az, el, ro)
    except RuntimeError as err:
        raise ValueError(
            f"elevation, roll: shapes must broadcast with azimuth {tuple(az.shape)}, got "
            f"{tuple(el.shape)} and {tuple(ro.shape)}"
        ) from err
    return axis_rotation(2, ro) @ axis_rotation(0, el) @ axis_rotation(1, az)


def _check_range(value: Sequence[float], name: str) -> Tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name}: expected a (low, high) pair of numbers, got {value!r}") from err
    if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
        raise ValueError(f"{name}: expected finite low <= high, got {value!r}")
    return lo, hi


def sample_view_rotation(
    *shape: Union[int, Sequence[int]],
    azimuth: Tuple[float, float] = DEFAULT_AZIMUTH,
    elevation: Tuple[float, float] = DEFAULT_ELEVATION,
    roll: Tuple[float, float] = DEFAULT_ROLL,
    generator: Optional[torch.Generator] = None,
    dtype: Optional[torch.dtype] = None,
    device: Device = None,
    return_angles: bool = False,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """Random view rotations with angles drawn uniformly from the given ranges.

    Args:
        *shape: batch shape, as integers or one tuple.
        azimuth: ``(low, high)`` radians about the vertical axis y (default ``±7π/9``).
        elevation: ``(low, high)`` radians about the horizontal axis x (default ``±π/9``).
        roll: ``(low, high)`` radians about the optical axis z (default ``±π/18``).
        generator: optional :class:`torch.Generator`.
        dtype: floating dtype (default: ``torch.get_default_dtype()``).
        device: output device (default: the generator's device, else CPU).
        return_angles: also return the sampled angles.

    Returns:
        ``(*shape, 3, 3)`` rotations ``Rz(roll) @ Rx(elevation) @ Ry(azimuth)``; with
        ``return_angles`` a pair ``(R, angles)`` where ``angles`` is ``(*shape, 3)`` holding
        ``(azimuth, elevation, roll)``.
    """
    ranges = [_check_range(azimuth, "azimuth"), _check_range(elevation, "elevation"), _check_range(roll, "roll")]
    size = parse_shape(shape)
    dt = resolve_dtype(dtype)
    dev = resolve_device(device, generator)
    gen_dev = generator.device if generator is not None else dev
    u = torch.rand((*size, 3), generator=generator, dtype=dt, device=gen_dev).to(dev)
    lo = torch.tensor([r[0] for r in ranges], dtype=dt, device=dev)
    hi = torch.tensor([r[1] for r in ranges], dtype=dt, device=dev)
    angles = lo + (hi - lo) * u
    rot = view_rotation_from_angles(angles[..., 0], angles[..., 1], angles[..., 2])
    return (rot, angles) if return_angles else rot
