"""Pose-estimation metrics: MPJPE, P-MPJPE, N-MPJPE, PCK3D, AUC, Procrustes, grouping."""

from .alignment import Similarity, optimal_scale, procrustes_align, procrustes_transform
from .errors import joint_errors, mpjpe, n_mpjpe, p_mpjpe
from .grouping import group_mean
from .pck import DEFAULT_AUC_THRESHOLDS, auc, pck3d

__all__ = [
    "mpjpe",
    "p_mpjpe",
    "n_mpjpe",
    "joint_errors",
    "pck3d",
    "auc",
    "DEFAULT_AUC_THRESHOLDS",
    "procrustes_align",
    "procrustes_transform",
    "optimal_scale",
    "Similarity",
    "group_mean",
]
