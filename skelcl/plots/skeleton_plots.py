"""Drawing skeletons in 2D and 3D and comparing a predicted pose with its ground truth.

Colours: joints on the left side of the body (and bones ending in them) are blue, right-side
ones red, the rest grey, decided by the skeleton's ``left_right_pairs``. matplotlib is imported
lazily; without it the functions raise ``ImportError`` (``pip install skelcl[plots]``).
"""

from __future__ import annotations

import os
from typing import Any, Optional, Union

import numpy as np
import torch

from .._validation import TensorLike
from ..skeleton import H36M17, Skeleton
from ._mpl import new_figure, require_matplotlib

__all__ = ["plot_skeleton_2d", "plot_skeleton_3d", "plot_pose_comparison"]

LEFT_COLOR, RIGHT_COLOR, CENTER_COLOR = "tab:blue", "tab:red", "0.35"


def _pose_array(
    pose: TensorLike, skeleton: Skeleton, dims: tuple[int, ...], name: str
) -> np.ndarray:
    if isinstance(pose, torch.Tensor):
        pose = pose.detach().cpu().to(torch.float64).numpy()
    if not isinstance(pose, np.ndarray):
        raise TypeError(
            f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(pose).__name__}"
        )
    if pose.ndim != 2 or pose.shape[0] != skeleton.num_joints or pose.shape[1] not in dims:
        want = " or ".join(f"({skeleton.num_joints}, {d})" for d in dims)
        raise ValueError(f"{name}: expected shape {want} (one pose), got {pose.shape}")
    return pose.astype(np.float64)


def _joint_colors(skeleton: Skeleton) -> list[str]:
    colors = [CENTER_COLOR] * skeleton.num_joints
    for left, right in skeleton.left_right_pairs:
        colors[left], colors[right] = LEFT_COLOR, RIGHT_COLOR
    return colors


def plot_skeleton_2d(
    ax: Any, pose: TensorLike, skeleton: Skeleton = H36M17, *, color: Optional[str] = None,
    linestyle: str = "-", linewidth: float = 2.0, marker_size: float = 12.0,
    visible: Optional[TensorLike] = None, image_coordinates: bool = True,
    label: Optional[str] = None,
) -> Any:
    """Draw one 2D pose on a matplotlib ``Axes``.

    Args:
        ax: A 2D matplotlib ``Axes``.
        pose: ``(J, 2)`` joint positions (any units).
        skeleton: Layout of ``pose``.
        color: One colour for everything; default colours left blue / right red / centre grey.
        linestyle: Line style of the bones.
        linewidth: Bone line width.
        marker_size: Joint marker area; ``0`` hides the joints.
        visible: Optional bool ``(J,)``; invisible joints are drawn as hollow markers and their
            bones dotted.
        image_coordinates: If ``True`` (default; y points down as in images and skelcl's camera
            frame) the y axis is inverted so the pose stands upright. Aspect ratio is equal.
        label: Legend label attached to the first bone.

    Returns:
        ``ax``.
    """
    require_matplotlib()
    x = _pose_array(pose, skeleton, (2,), "pose")
    vis = np.ones(skeleton.num_joints, bool) if visible is None else np.asarray(
        visible.cpu() if isinstance(visible, torch.Tensor) else visible, dtype=bool)
    if vis.shape != (skeleton.num_joints,):
        raise ValueError(f"visible: expected shape ({skeleton.num_joints},), got {vis.shape}")
    colors = _joint_colors(skeleton)
    for k, (child, parent) in enumerate(skeleton.bones()):
        c = color or colors[child]
        ls = linestyle if vis[child] and vis[parent] else ":"
        ax.plot(x[[parent, child], 0], x[[parent, child], 1], color=c, linestyle=ls,
                linewidth=linewidth, label=label if k == 0 else None)
    if marker_size > 0:
        jc = [color or c for c in colors]
        ax.scatter(x[vis, 0], x[vis, 1], s=marker_size, c=[jc[i] for i in np.flatnonzero(vis)],
                   zorder=3)
        if (~vis).any():
            ax.scatter(x[~vis, 0], x[~vis, 1], s=marker_size * 2, facecolors="none",
                       edgecolors=[jc[i] for i in np.flatnonzero(~vis)], zorder=3)
    ax.set_aspect("equal", adjustable="datalim")
    if image_coordinates and not ax.yaxis_inverted():
        ax.invert_yaxis()
    return ax


def plot_skeleton_3d(
    ax: Any, pose: TensorLike, skeleton: Skeleton = H36M17, *, color: Optional[str] = None,
    linestyle: str = "-", linewidth: float = 2.0, camera_frame: bool = True,
    label: Optional[str] = None,
) -> Any:
    """Draw one 3D pose on a matplotlib 3D ``Axes`` (``projection="3d"``).

    Args:
        ax: A matplotlib ``Axes3D``.
        pose: ``(J, 3)`` joint positions.
        skeleton: Layout of ``pose``.
        color: One colour for everything; default left blue / right red / centre grey.
        linestyle: Line style of the bones.
        linewidth: Bone line width.
        camera_frame: If ``True`` (default) the pose is in skelcl's camera frame (x right,
            y down, z forward) and is drawn as ``(x, z, -y)`` so that up is up on the plot.
            ``False`` draws the coordinates as given.
        label: Legend label attached to the first bone.

    Returns:
        ``ax``.
    """
    require_matplotlib()
    x = _pose_array(pose, skeleton, (3,), "pose")
    if camera_frame:
        x = np.stack([x[:, 0], x[:, 2], -x[:, 1]], axis=-1)
    colors = _joint_colors(skeleton)
    for k, (child, parent) in enumerate(skeleton.bones()):
        seg = x[[parent, child]]
        ax.plot(seg[:, 0], seg[:, 1], seg[:, 2], color=color or colors[child],
                linestyle=linestyle, linewidth=linewidth, label=label if k == 0 else None)
    # Equal axis ranges so that bone proportions are not distorted.
    centre, half = x.mean(0), max(float(np.ptp(x, axis=0).max()) / 2, 1e-9)
    ax.set_xlim(centre[0] - half, centre[0] + half)
    ax.set_ylim(centre[1] - half, centre[1] + half)
    ax.set_zlim(centre[2] - half, centre[2] + half)
    names = ("x", "z (depth)", "-y (up)") if camera_frame else ("x", "y", "z")
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_zlabel(names[2])
    return ax


def plot_pose_comparison(
    pred: TensorLike, target: TensorLike, skeleton: Skeleton = H36M17,
    path: Union[str, "os.PathLike[str]"] = "pose_comparison.png", *,
    title: Optional[str] = None, camera_frame: bool = True, dpi: int = 100,
) -> str:
    """Write a PNG comparing a predicted 3D pose (solid) with the ground truth (dashed black).

    Three panels: a 3D view, the front view (x, up) and the side view (depth, up). Both poses
    are root-centred first, so the figure shows shape, not placement. No alignment is applied:
    align first (e.g. :func:`skelcl.metrics.procrustes_align`) to visualise P-MPJPE.

    Args:
        pred: ``(J, 3)`` predicted pose.
        target: ``(J, 3)`` ground-truth pose.
        skeleton: Layout of both poses.
        path: Output file (PNG); parent directories must exist.
        title: Optional figure title.
        camera_frame: Poses are in the camera frame (y down); see :func:`plot_skeleton_3d`.
        dpi: Resolution.

    Returns:
        The path written, as a string.
    """
    p = _pose_array(pred, skeleton, (3,), "pred")
    t = _pose_array(target, skeleton, (3,), "target")
    p, t = p - p[skeleton.root], t - t[skeleton.root]
    fig = new_figure(figsize=(12, 4))
    ax3 = fig.add_subplot(1, 3, 1, projection="3d")
    plot_skeleton_3d(ax3, t, skeleton, color="black", linestyle="--", camera_frame=camera_frame,
                     label="target")
    plot_skeleton_3d(ax3, p, skeleton, camera_frame=camera_frame, label="prediction")
    ax3.legend(loc="upper left", fontsize="small")
    sign = -1.0 if camera_frame else 1.0
    for k, (axis, name) in enumerate(((0, "front (x, up)"), (2, "side (depth, up)"))):
        ax = fig.add_subplot(1, 3, 2 + k)
        for pose, kw in ((t, dict(color="black", linestyle="--")), (p, {})):
            view = np.stack([pose[:, axis], sign * pose[:, 1]], axis=-1)
            plot_skeleton_2d(ax, view, skeleton, image_coordinates=False, marker_size=6, **kw)
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out = os.fspath(path)
    fig.savefig(out, format="png", dpi=dpi)
    return out
