"""skelcl: PyTorch building blocks for contrastive learning on human skeletons.

Subpackages (each imported on demand, ``import skelcl.geometry as g``):

- :mod:`skelcl.skeleton`: joint layouts (Human3.6M, COCO, OpenPose, MPI-INF-3DHP) and conversions.
- :mod:`skelcl.geometry`: SO(3) sampling and conversions, cameras, the OCR-Pose view transform,
  2D input normalisation.
- :mod:`skelcl.metrics`: MPJPE, P-MPJPE, N-MPJPE, PCK3D and AUC with visibility masks.
- :mod:`skelcl.augment`: occlusion (joint-masking) augmenters.
- :mod:`skelcl.contrastive`: InfoNCE, the attention hard-negative miner, projection heads,
  distributed gathering.
- :mod:`skelcl.models`: lifting networks, the decoupled encoder, pose filling, discriminator.
- :mod:`skelcl.losses`: the lift-rotate-project cycle and its losses.
- :mod:`skelcl.data`: pose-dataset files, mocap / detector readers, virtual cameras, synthetic
  poses.
- :mod:`skelcl.plots`: skeleton figures (needs matplotlib).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
