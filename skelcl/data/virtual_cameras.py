"""Virtual cameras: world-frame 3D motion capture -> a 2D pose dataset with camera-frame 3D.

Following METHOD.md §6, the cameras are shaped like Human3.6M's: ``V`` cameras per frame, each
placed at an azimuth drawn uniformly over 360° around the subject, at a distance of 4.5-6 m from
the pelvis, at a height of 1-2 m, looking at the pelvis, with a focal length around 1150 px and a
1000 x 1000 image. Every range is a field of :class:`VirtualCameraConfig`.

Conventions:

- world frame: Y up, right-handed (the ``*_h36m17.npz`` files);
- camera frame: ``x`` right, ``y`` down, ``z`` forward (depth > 0 in front); a world point ``X``
  maps to ``(X - C) @ R.mT`` with camera centre ``C`` and world-to-camera rotation ``R``;
- pixels: ``u = f x / z + c_x``, ``v = f y / z + c_y`` with ``f = fx = fy``, origin at the
  top-left image corner.

Camera placement (our choices, documented):

- ``distance`` is the 3D distance camera centre -> pelvis;
- ``height`` is measured above the *floor of the clip*, taken as the lowest joint height of the
  clip (robust to clips whose floor is not at ``y = 0``). The vertical offset camera - pelvis is
  clamped to ``±0.95 * distance`` so the camera never sits straight above the subject;
- the camera looks exactly at the pelvis (then rolls by ``roll``, default 0), so the pelvis
  projects onto the principal point;
- with ``per_clip=False`` (default) every frame draws its own cameras; with ``per_clip=True`` a
  clip keeps one set of camera parameters for all its frames and the camera tracks the pelvis.

Visibility check: a joint that is not in front of the camera (``z <= min_depth``) gets NaN pixel
coordinates and confidence 0; a joint whose (noisy) pixel position falls outside
``[0, W) x [0, H)`` keeps its coordinates and gets confidence 0. Nothing is dropped, so the
dataset keeps ``V * F`` poses; :attr:`PoseDataset.confidence` says what was missing.

Detector-noise model (a stand-in, ours): isotropic Gaussian pixel noise of standard deviation
``noise_std``, and confidence ``exp(-|e|^2 / (8 noise_std^2))`` for a joint displaced by ``e``
(mean about 0.8; 1 without noise).

Output order is view-major: pose ``v * F + f`` is frame ``f`` seen by camera ``v``. The dataset's
extras ``view`` and ``frame`` hold ``v`` and ``f``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Optional, Tuple, Union

import numpy as np
import torch

from .mocap import MocapClips
from .pose_dataset import PoseDataset

__all__ = [
    "VirtualCameraConfig",
    "VirtualCameras",
    "look_at_rotation",
    "sample_virtual_cameras",
    "world_to_camera",
    "camera_to_pixels",
    "project_mocap",
]


@dataclass(frozen=True)
class VirtualCameraConfig:
    """Ranges of the virtual cameras (each ``(low, high)``, drawn uniformly).

    Fields:

    - ``azimuth``: radians around the vertical axis through the pelvis (default full circle).
    - ``distance``: metres, camera centre to pelvis.
    - ``height``: metres above the clip's floor (its lowest joint height).
    - ``roll``: radians about the optical axis (default none).
    - ``focal``: pixels (``fx = fy``); Human3.6M's cameras have about 1145-1150.
    - ``image_size``: ``(width, height)`` in pixels.
    - ``principal_point_jitter``: half-width (pixels) of a uniform offset of the principal point
      from the image centre.
    - ``min_depth``: metres; joints at ``z <= min_depth`` count as behind the camera.
    """

    azimuth: Tuple[float, float] = (0.0, 2.0 * math.pi)
    distance: Tuple[float, float] = (4.5, 6.0)
    height: Tuple[float, float] = (1.0, 2.0)
    roll: Tuple[float, float] = (0.0, 0.0)
    focal: Tuple[float, float] = (1100.0, 1200.0)
    image_size: Tuple[int, int] = (1000, 1000)
    principal_point_jitter: float = 0.0
    min_depth: float = 0.1

    def __post_init__(self) -> None:
        for name in ("azimuth", "distance", "height", "roll", "focal"):
            lo, hi = getattr(self, name)
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                raise ValueError(f"{name}: expected a finite range (low <= high), got {(lo, hi)}")
        if self.distance[0] <= 0 or self.focal[0] <= 0:
            raise ValueError("distance, focal: expected ranges of positive values")
        w, h = self.image_size
        if not (w > 0 and h > 0):
            raise ValueError(f"image_size: expected positive (width, height), got {self.image_size}")
        if self.principal_point_jitter < 0 or self.min_depth < 0:
            raise ValueError("principal_point_jitter, min_depth: expected values >= 0")


class VirtualCameras(NamedTuple):
    """Sampled cameras, one per entry of the batch shape ``(...)``.

    Fields:

    - ``rotation``: ``(..., 3, 3)`` world-to-camera rotation ``R`` (rows: camera x, y, z axes in
      world coordinates).
    - ``position``: ``(..., 3)`` camera centre ``C`` in the world frame, metres.
    - ``focal``: ``(...)`` focal length, pixels.
    - ``principal_point``: ``(..., 2)`` pixels.
    """

    rotation: torch.Tensor
    position: torch.Tensor
    focal: torch.Tensor
    principal_point: torch.Tensor


def look_at_rotation(
    position: torch.Tensor, target: torch.Tensor, roll: Optional[torch.Tensor] = None
) -> torch.Tensor:
    """World-to-camera rotation of a camera at ``position`` looking at ``target`` (world Y up).

    The camera's ``z`` axis points at the target, ``x`` is horizontal to the right of the view,
    ``y`` points down (towards world ``-Y`` for a level camera); ``roll`` (radians) then turns the
    image about ``z``.

    Args:
        position: ``(..., 3)`` camera centres.
        target: ``(..., 3)`` points looked at (not straight above/below the camera).
        roll: optional ``(...)`` radians.

    Returns:
        ``(..., 3, 3)`` rotation ``R`` with rows ``x, y, z`` (so ``X_cam = (X - C) @ R.mT``).
    """
    forward = target - position
    forward = forward / forward.norm(dim=-1, keepdim=True)
    up = torch.zeros_like(forward)
    up[..., 1] = 1.0
    right = torch.linalg.cross(forward, up, dim=-1)
    right = right / right.norm(dim=-1, keepdim=True)
    down = torch.linalg.cross(forward, right, dim=-1)
    if roll is not None:
        c, s = torch.cos(roll)[..., None], torch.sin(roll)[..., None]
        right, down = c * right + s * down, -s * right + c * down
    return torch.stack([right, down, forward], dim=-2)


def world_to_camera(points: torch.Tensor, rotation: torch.Tensor, position: torch.Tensor) -> torch.Tensor:
    """Camera-frame coordinates ``(X - C) @ R.mT``.

    Args:
        points: ``(..., J, 3)`` world points, metres.
        rotation: ``(..., 3, 3)`` world-to-camera rotation.
        position: ``(..., 3)`` camera centre.

    Returns:
        ``(..., J, 3)`` camera frame (x right, y down, z forward), metres.
    """
    return (points - position[..., None, :]) @ rotation.mT


def camera_to_pixels(
    points_cam: torch.Tensor, focal: torch.Tensor, principal_point: torch.Tensor
) -> torch.Tensor:
    """Pinhole projection to pixels ``(f x / z + c_x, f y / z + c_y)``.

    Args:
        points_cam: ``(..., J, 3)`` camera frame (depth ``z`` must be non-zero).
        focal: ``(...)`` pixels.
        principal_point: ``(..., 2)`` pixels.

    Returns:
        ``(..., J, 2)`` pixels.
    """
    return points_cam[..., :2] / points_cam[..., 2:3] * focal[..., None, None] + principal_point[..., None, :]


def _uniform(rng: Tuple[float, float], shape: Tuple[int, ...], generator, dtype, device) -> torch.Tensor:
    gen_device = generator.device if generator is not None else torch.device("cpu")
    u = torch.rand(shape, generator=generator, dtype=dtype, device=gen_device).to(device)
    return rng[0] + (rng[1] - rng[0]) * u


def sample_virtual_cameras(
    pelvis: torch.Tensor,
    floor: torch.Tensor,
    config: Optional[VirtualCameraConfig] = None,
    generator: Optional[torch.Generator] = None,
    param_shape: Optional[Tuple[int, ...]] = None,
    param_index: Optional[torch.Tensor] = None,
) -> VirtualCameras:
    """Cameras around each pelvis position (see the module docstring for the placement rule).

    Args:
        pelvis: ``(..., 3)`` look-at points (world, Y up), metres.
        floor: ``(...)`` floor height (world y) for each entry.
        config: the ranges; default :class:`VirtualCameraConfig`.
        generator: random generator (samples are drawn on its device, then moved).
        param_shape: shape at which the random parameters are drawn (default ``pelvis.shape[:-1]``).
        param_index: optional ``(...)``-broadcastable index into the *last* axis of
            ``param_shape`` (used to share one draw per clip across its frames).

    Returns:
        :class:`VirtualCameras` with batch shape ``pelvis.shape[:-1]``.
    """
    cfg = config or VirtualCameraConfig()
    dtype, device = pelvis.dtype, pelvis.device
    shape = tuple(param_shape) if param_shape is not None else tuple(pelvis.shape[:-1])
    az = _uniform(cfg.azimuth, shape, generator, dtype, device)
    dist = _uniform(cfg.distance, shape, generator, dtype, device)
    height = _uniform(cfg.height, shape, generator, dtype, device)
    roll = _uniform(cfg.roll, shape, generator, dtype, device)
    focal = _uniform(cfg.focal, shape, generator, dtype, device)
    jitter = _uniform((-1.0, 1.0), shape + (2,), generator, dtype, device) * cfg.principal_point_jitter
    if param_index is not None:
        az, dist, height, roll, focal = (t[..., param_index] for t in (az, dist, height, roll, focal))
        jitter = jitter[..., param_index, :]
    dy = torch.minimum(torch.maximum(floor + height - pelvis[..., 1], -0.95 * dist), 0.95 * dist)
    horizontal = torch.sqrt(dist * dist - dy * dy)
    position = torch.stack(
        [pelvis[..., 0] + horizontal * torch.sin(az), pelvis[..., 1] + dy, pelvis[..., 2] + horizontal * torch.cos(az)],
        dim=-1,
    )
    rotation = look_at_rotation(position, pelvis, roll)
    centre = torch.tensor([cfg.image_size[0] / 2.0, cfg.image_size[1] / 2.0], dtype=dtype, device=device)
    principal_point = centre + jitter
    return VirtualCameras(rotation, position, focal, principal_point)


def _clip_floors(clips: MocapClips) -> torch.Tensor:
    """``(C,)`` lowest joint height (world y) of every clip."""
    frame_min = clips.poses[..., 1].amin(dim=-1).numpy()
    out = np.empty(clips.num_clips, dtype=frame_min.dtype)
    order = np.argsort(clips.clip_starts, kind="stable")
    starts = clips.clip_starts[order]
    # reduceat over the sorted starts gives min over [start_i, start_{i+1}); restrict to lengths
    ends = starts + clips.clip_lengths[order]
    if clips.is_packed():
        out[order] = np.minimum.reduceat(frame_min, starts)
    else:  # general case: per-clip minimum of its own frames
        for k, (s, e) in enumerate(zip(starts, ends)):
            out[order[k]] = frame_min[s:e].min()
    return torch.from_numpy(out)


def project_mocap(
    clips: MocapClips,
    views: int = 4,
    *,
    config: Optional[VirtualCameraConfig] = None,
    noise_std: float = 0.0,
    per_clip: bool = False,
    generator: Optional[torch.Generator] = None,
    dtype: torch.dtype = torch.float32,
    device: Union[str, torch.device, None] = None,
    root_index: int = 0,
) -> PoseDataset:
    """Project world-frame clips through ``views`` virtual cameras per frame.

    Fully vectorised (no Python loop over frames): the 385k-frame Bandai Namco file to 4 views
    takes a few seconds on a CPU.

    Args:
        clips: world-frame clips (Y up, metres).
        views: cameras per frame ``V >= 1``.
        config: camera ranges (default :class:`VirtualCameraConfig`, METHOD.md §6).
        noise_std: standard deviation (pixels) of Gaussian detector noise; 0 for exact 2D.
        per_clip: draw one camera per clip and view (tracking the pelvis) instead of per frame.
        generator: random generator for reproducible cameras and noise.
        dtype: computation and output dtype (float32 or float64).
        device: computation device (results are returned as numpy arrays).
        root_index: joint the cameras look at (pelvis = 0).

    Returns:
        :class:`PoseDataset` with ``N = V * F`` poses (view-major), ``poses_2d`` in pixels,
        ``poses_3d`` in the camera frame (metres), ``confidence``, per-pose ``focal`` ``(N,)``
        and ``principal_point`` ``(N, 2)``, ``image_size`` ``(2,)``, per-pose ``clip`` and
        ``action`` labels (``action`` from the clips' ``action`` metadata), extras ``view`` and
        ``frame``, and ``source`` naming the clips' sources (``"synthetic"`` for synthetic clips).
    """
    if not isinstance(clips, MocapClips):
        raise TypeError(f"clips: expected MocapClips, got {type(clips).__name__}")
    if not isinstance(views, (int, np.integer)) or views < 1:
        raise ValueError(f"views: expected an integer >= 1, got {views!r}")
    if not (isinstance(noise_std, (int, float)) and math.isfinite(noise_std) and noise_std >= 0):
        raise ValueError(f"noise_std: expected a finite number >= 0, got {noise_std!r}")
    cfg = config or VirtualCameraConfig()
    device = torch.device(device) if device is not None else clips.poses.device
    world = clips.poses.to(device=device, dtype=dtype)  # (F, J, 3)
    f_count, j_count = world.shape[:2]
    clip_of_frame = torch.from_numpy(clips.frame_clip_index())
    if (clip_of_frame < 0).any():
        clips = clips.take_clips(np.arange(clips.num_clips))
        world = clips.poses.to(device=device, dtype=dtype)
        f_count = world.shape[0]
        clip_of_frame = torch.from_numpy(clips.frame_clip_index())
    floor = _clip_floors(clips).to(device=device, dtype=dtype)[clip_of_frame.to(device)]  # (F,)
    pelvis = world[:, root_index]  # (F, 3)
    if per_clip:
        cams = sample_virtual_cameras(
            pelvis.expand(views, f_count, 3), floor.expand(views, f_count), cfg, generator,
            param_shape=(views, clips.num_clips), param_index=clip_of_frame.to(device),
        )
    else:
        cams = sample_virtual_cameras(pelvis.expand(views, f_count, 3), floor.expand(views, f_count), cfg, generator)
    cam3d = world_to_camera(world.expand(views, f_count, j_count, 3), cams.rotation, cams.position)
    z = cam3d[..., 2]
    in_front = z > cfg.min_depth
    pix = camera_to_pixels(cam3d, cams.focal, cams.principal_point)
    conf = torch.ones((views, f_count, j_count), dtype=dtype, device=device)
    if noise_std > 0:
        gen_device = generator.device if generator is not None else torch.device("cpu")
        noise = torch.randn(pix.shape, generator=generator, dtype=dtype, device=gen_device).to(device)
        noise = noise * noise_std
        pix = pix + noise
        conf = torch.exp(-(noise * noise).sum(-1) / (8.0 * noise_std**2))
    w, h = cfg.image_size
    inside = (pix[..., 0] >= 0) & (pix[..., 0] < w) & (pix[..., 1] >= 0) & (pix[..., 1] < h)
    conf = torch.where(inside & in_front, conf, torch.zeros_like(conf))
    pix = torch.where(in_front[..., None], pix, torch.full_like(pix, float("nan")))

    def flat(t: torch.Tensor) -> np.ndarray:
        return t.reshape((views * f_count,) + tuple(t.shape[2:])).cpu().numpy()

    frame_clip = clip_of_frame.numpy()
    sources = np.unique(clips.metadata.get("source", np.asarray(["unknown"])))
    names = np.tile(clips.clip_names[frame_clip], views)
    action = clips.metadata.get("action")
    return PoseDataset(
        poses_2d=flat(pix),
        image_size=np.asarray([w, h], dtype=np.float32 if dtype == torch.float32 else np.float64),
        layout=clips.layout,
        confidence=flat(conf),
        poses_3d=flat(cam3d),
        focal=flat(cams.focal),
        principal_point=flat(cams.principal_point),
        clip=names,
        action=np.tile(action[frame_clip], views) if action is not None else None,
        source=f"virtual cameras ({views} views per frame) of: {', '.join(sources.tolist())}",
        extras={
            "view": np.repeat(np.arange(views, dtype=np.int64), f_count),
            "frame": np.tile(np.arange(f_count, dtype=np.int64), views),
        },
    )
