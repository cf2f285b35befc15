"""Paired retrieval accuracy of learned features: is a sample's own pair among its nearest keys?

The quantitative counterpart of a t-SNE plot of an embedding (e.g. OCR-Pose's Fig. 6): give the
features of the same poses seen two ways (two camera views, masked and unmasked joints) as
``queries`` and ``keys``, row ``i`` of both describing pose ``i``. A feature that is invariant to
the change finds its own pose first (accuracy 1); one that ignores the pose is at chance,
``k / N``. This is the top-k retrieval protocol of representation-learning evaluations (e.g. the
kNN evaluation of Wu et al., CVPR 2018) restricted to one positive per query.

Similarity is cosine similarity, computed in float32 or wider. Ties count against the query
(pessimistic): the pair is found at rank ``r`` when ``r`` other keys are *at least* as similar as
the own key, and counts as a hit for ``r < k``. So constant features score 0, not 1.
"""

from __future__ import annotations

import torch
from einops import rearrange

from .._validation import TensorLike, as_tensor, check_finite, check_nonempty, check_same_shape

__all__ = ["retrieval_accuracy", "retrieval_rank"]

_CHUNK = 1024  # queries per similarity block: memory O(chunk * N), not O(N^2)


def _prepare(queries: TensorLike, keys: TensorLike) -> tuple[torch.Tensor, torch.Tensor]:
    q = as_tensor(queries, "queries")
    kk = as_tensor(keys, "keys")
    if q.ndim < 2:
        raise ValueError(f"queries: expected shape (..., N, D), got {tuple(q.shape)}")
    check_same_shape(q, kk, "queries", "keys")
    check_nonempty(q, "queries")
    check_finite(q, "queries")
    check_finite(kk, "keys")
    dtype = torch.promote_types(torch.promote_types(q.dtype, kk.dtype), torch.float32)
    q, kk = q.to(dtype), kk.to(dtype)
    out = []
    for x, name in ((q, "queries"), (kk, "keys")):
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True)
        if bool((norm == 0).any()):
            raise ValueError(f"{name}: a row is all zeros; cosine similarity needs non-zero features")
        out.append(x / norm)
    return out[0], out[1]


def retrieval_rank(queries: TensorLike, keys: TensorLike) -> torch.Tensor:
    """Rank of each query's own key among all keys by cosine similarity (0 = most similar).

    Args:
        queries: ``(..., N, D)`` features; row ``i`` pairs with ``keys[..., i, :]``. Any leading
            batch shape (each batch entry is a separate gallery of ``N``), any float dtype
            (float16 / bfloat16 are computed in float32); numpy arrays are accepted.
        keys: ``(..., N, D)``, same shape as ``queries``.

    Returns:
        ``(..., N)`` int64: the number of *other* keys whose similarity to the query is at least
        that of its own key (ties count against the query).

    Raises:
        ValueError: shapes differ or are not ``(..., N, D)`` with ``N, D >= 1``; a value is NaN
            or infinite; a row is all zeros.
    """
    q, kk = _prepare(queries, keys)
    return _ranks(q, kk)


def _ranks(q: torch.Tensor, kk: torch.Tensor) -> torch.Tensor:
    """Ranks of the unit-norm rows ``q`` against ``kk`` (both ``(..., N, D)``, checked)."""
    lead = q.shape[:-2]
    q = rearrange(q, "... n d -> (...) n d")
    kk = rearrange(kk, "... n d -> (...) n d")
    n = q.shape[-2]
    ranks = []
    for s in range(0, n, _CHUNK):
        sim = torch.einsum("bqd,bkd->bqk", q[:, s:s + _CHUNK], kk)  # (B, chunk, N)
        own = torch.diagonal(sim[:, :, s:s + _CHUNK], dim1=-2, dim2=-1)  # (B, chunk)
        # every key at least as similar as the own one, minus the own key itself
        ranks.append((sim >= own[..., None]).sum(dim=-1) - 1)
    return torch.cat(ranks, dim=-1).reshape(*lead, n)


def retrieval_accuracy(
    queries: TensorLike, keys: TensorLike, k: int = 1, reduction: str = "mean"
) -> torch.Tensor:
    """Top-``k`` paired retrieval accuracy: the share of queries whose own key is among the
    ``k`` keys most cosine-similar to it (:func:`retrieval_rank` ``< k``).

    Args:
        queries: ``(..., N, D)`` features; row ``i`` pairs with ``keys[..., i, :]``.
        keys: ``(..., N, D)``.
        k: ``1 <= k <= N``. Chance level (features unrelated to the pairing) is ``k / N``.
        reduction: ``"mean"``: a scalar, the share over all queries of all batch entries;
            ``"none"``: ``(..., N)`` per-query hits (1.0 / 0.0).

    Returns:
        A fraction in ``[0, 1]`` in the computation dtype (float32 or wider).

    Example:
        >>> import torch
        >>> from skelcl.metrics import retrieval_accuracy
        >>> f = torch.eye(4) + 0.1
        >>> float(retrieval_accuracy(f, f))                   # every pose finds itself
        1.0
        >>> float(retrieval_accuracy(f, f.roll(1, dims=0)))   # keys shifted by one pose
        0.0
    """
    if reduction not in ("mean", "none"):
        raise ValueError(f"reduction: expected 'mean' or 'none', got {reduction!r}")
    q, kk = _prepare(queries, keys)
    n = q.shape[-2]
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"k: expected an int in [1, N] = [1, {n}], got {k!r}")
    hits = (_ranks(q, kk) < k).to(q.dtype)
    return hits.mean() if reduction == "mean" else hits
