"""Contrastive learning: InfoNCE, the attention hard-negative miner, projection heads, DDP gather."""

from skelcl.contrastive.attention_miner import AttentionHardNegativeMiner
from skelcl.contrastive.distributed import gather_with_grad, is_distributed, self_exclusion_weights
from skelcl.contrastive.heads import ProjectionHead
from skelcl.contrastive.info_nce import InfoNCE, in_batch_negatives, info_nce

__all__ = [
    "info_nce",
    "InfoNCE",
    "in_batch_negatives",
    "AttentionHardNegativeMiner",
    "ProjectionHead",
    "gather_with_grad",
    "is_distributed",
    "self_exclusion_weights",
]
