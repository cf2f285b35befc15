"""Pose-estimation metrics: MPJPE, P-MPJPE, N-MPJPE, PCK3D, AUC, Procrustes, grouping; paired
retrieval accuracy of learned features."""

from .alignment import Similarity, optimal_scale, procrustes_align, procrustes_transform
from .errors import joint_errors, mpjpe, n_mpjpe, p_mpjpe
from .grouping import group_mean
from .pck import DEFAULT_AUC_THRESHOLDS, auc, pck3d
from .retrieval import retrieval_accuracy, retrieval_rank

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
    "retrieval_accuracy",
    "retrieval_rank",
]
