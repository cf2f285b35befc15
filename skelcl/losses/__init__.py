"""Losses of skelcl: the lift-rotate-project cycle and the losses OCR-Pose trains with (see the
API page of each submodule)."""

from .adversarial import lsgan_discriminator_loss, lsgan_generator_loss
from .bone_consistency import bone_length_consistency_loss, relative_bone_lengths
from .bone_proportions import bone_proportion_loss, bone_proportions_from_2d
from .bone_symmetry import bone_asymmetry, bone_pairs, bone_symmetry_loss
from .cycle import CycleOutput, LiftCycle, lift_cycle
from .knee_direction import body_forward, knee_bend, knee_direction_loss
from .pose_losses import filling_loss, pose_l2_loss
from .rotation import rotation_consistency_loss

__all__ = [
    "CycleOutput",
    "LiftCycle",
    "lift_cycle",
    "pose_l2_loss",
    "filling_loss",
    "lsgan_generator_loss",
    "lsgan_discriminator_loss",
    "rotation_consistency_loss",
    "body_forward",
    "knee_bend",
    "knee_direction_loss",
    "bone_pairs",
    "bone_asymmetry",
    "bone_symmetry_loss",
    "relative_bone_lengths",
    "bone_length_consistency_loss",
    "bone_proportions_from_2d",
    "bone_proportion_loss",
]
