"""Skeleton and training-curve figures (needs matplotlib: ``pip install skelcl[plots]``)."""

from .skeleton_plots import plot_pose_comparison, plot_skeleton_2d, plot_skeleton_3d
from .training_curves import plot_training_curves

__all__ = ["plot_skeleton_2d", "plot_skeleton_3d", "plot_pose_comparison", "plot_training_curves"]
