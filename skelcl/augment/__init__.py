"""Occlusion augmenters returning ``(masked_pose, visible)``; see :mod:`skelcl.augment.base`."""

from skelcl.augment.base import Augmenter, Compose, RandomApply, apply_visibility
from skelcl.augment.body_parts import BodyPartMask
from skelcl.augment.confidence import ConfidenceMask
from skelcl.augment.random_joints import RandomJointMask
from skelcl.augment.self_occlusion import SelfOcclusionMask, body_segments

__all__ = [
    "Augmenter",
    "Compose",
    "RandomApply",
    "apply_visibility",
    "RandomJointMask",
    "BodyPartMask",
    "ConfidenceMask",
    "SelfOcclusionMask",
    "body_segments",
]
