"""Networks of skelcl: the residual MLP block, lifting networks, the decoupled encoder, the pose
filling network and the pose discriminator (see the API page of each submodule)."""

from .decoupled import DecoupledLiftingEncoder, DecoupledOutput
from .discriminator import PoseDiscriminator
from .filling import FillingOutput, PoseFillingNetwork
from .init import init_lifter_weights, init_normal_weights
from .lifting import LiftingNetwork, LiftingOutput, ResidualTrunk
from .residual_block import ResidualBlock

__all__ = [
    "ResidualBlock",
    "ResidualTrunk",
    "LiftingNetwork",
    "LiftingOutput",
    "DecoupledLiftingEncoder",
    "DecoupledOutput",
    "PoseFillingNetwork",
    "FillingOutput",
    "PoseDiscriminator",
    "init_lifter_weights",
    "init_normal_weights",
]
