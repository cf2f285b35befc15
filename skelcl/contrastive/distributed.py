"""Gradient-preserving all-gather so that contrastive negatives can come from every DDP rank.

``torch.distributed.all_gather`` is not differentiable: the gathered copies of other ranks'
embeddings would carry no gradient. :func:`gather_with_grad` forwards like ``all_gather`` and, in
the backward pass, sums the incoming gradients of every rank (an ``all_reduce``) and hands each
rank the slice of its own input. Hence the gradient each rank receives for its input is the
gradient of the **sum of all ranks' losses**; with ``reduction="sum"`` that is exactly the
gradient of the single-process loss on the concatenated batch (with ``"mean"`` on every rank,
multiply by the number of ranks, or let DDP's gradient averaging of the *parameters* do the
bookkeeping as usual). Works with the gloo (CPU) and NCCL backends.
"""

from __future__ import annotations

from typing import Any, Optional

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["gather_with_grad", "is_distributed", "self_exclusion_weights"]


def is_distributed(group: Optional[Any] = None) -> bool:
    """``True`` when ``torch.distributed`` is initialised with more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size(group) > 1


class _GatherWithGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, group: Optional[Any]) -> Tensor:  # type: ignore[override]
        world = dist.get_world_size(group)
        parts = [torch.empty_like(x) for _ in range(world)]
        dist.all_gather(parts, x.contiguous(), group=group)
        ctx.group, ctx.rank, ctx.n = group, dist.get_rank(group), x.shape[0]
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: Tensor):  # type: ignore[override]
        grad = grad.contiguous().clone()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM, group=ctx.group)
        return grad.narrow(0, ctx.rank * ctx.n, ctx.n), None


def gather_with_grad(x: Tensor, group: Optional[Any] = None) -> Tensor:
    """Concatenate ``x`` from every rank along dim 0, keeping gradients.

    Args:
        x: Local tensor ``(B, ...)``; every rank must pass the same shape.
        group: Process group (default: the world).

    Returns:
        ``(world_size * B, ...)`` in rank order (rank ``r``'s rows at ``r*B:(r+1)*B``); ``x``
        itself when ``torch.distributed`` is not initialised or has a single rank.
    """
    if not is_distributed(group):
        return x
    return _GatherWithGrad.apply(x, group)


def self_exclusion_weights(
    batch_size: int,
    group: Optional[Any] = None,
    dtype: Optional[torch.dtype] = None,
    device: Optional[torch.device] = None,
) -> Tensor:
    """Negative weights that drop each local anchor's own row from gathered in-batch negatives.

    Use with :func:`~skelcl.contrastive.info_nce` when the shared negatives are
    ``gather_with_grad(anchor)``: ``negative_weights=self_exclusion_weights(B)`` gives every
    anchor the ``world_size * B - 1`` other samples as negatives.

    Returns:
        ``(B, world_size * B)`` ones with ``0`` at ``[i, rank * B + i]``.
    """
    world, rank = (dist.get_world_size(group), dist.get_rank(group)) if is_distributed(group) else (1, 0)
    w = torch.ones(batch_size, world * batch_size, dtype=dtype, device=device)
    i = torch.arange(batch_size, device=device)
    w[i, rank * batch_size + i] = 0
    return w
