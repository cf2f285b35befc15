"""InfoNCE (NT-Xent) loss on cosine similarities, with shared, per-anchor or in-batch negatives.

For an anchor :math:`a`, its positive :math:`p` and negatives :math:`n_1 \\dots n_K` with
optional weights :math:`w_k \\ge 0`, the loss (paper Eqs. 6-7 of OCR-Pose; van den Oord et al.
2018, "Representation learning with contrastive predictive coding"; Chen et al. 2020, SimCLR) is

.. math::

    \\ell = -\\log \\frac{\\exp(s(a, p)/\\tau)}
    {\\exp(s(a, p)/\\tau) + \\sum_k w_k \\exp(s(a, n_k)/\\tau)}

with :math:`s` the cosine similarity and :math:`\\tau` the temperature. A weight therefore
multiplies :math:`\\exp(s/\\tau)` of its negative, i.e. adds :math:`\\log w_k` to its logit;
``w_k = 0`` removes the negative, ``w_k = 1`` everywhere is the unweighted loss.
"""

from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelcl._validation import check_finite, check_float, check_positive

__all__ = ["info_nce", "InfoNCE", "in_batch_negatives", "logits_to_info_nce"]

NegativeSpec = Union[Tensor, str, None]
_REDUCTIONS = ("mean", "sum", "none")
_IN_BATCH = ("positives", "anchors")


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Dtype in which similarities and log-sum-exps are evaluated: float32 for 16-bit floats."""
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


def in_batch_negatives(x: Tensor) -> Tensor:
    """Per-anchor in-batch negatives: for row ``i`` every other row ``j != i``, in order.

    This materialises ``B * (B - 1) * D`` values; :func:`info_nce` with ``negatives="anchors"`` or
    ``"positives"`` computes the same loss without it.

    Args:
        x: Embeddings ``(B, D)``.

    Returns:
        ``(B, B - 1, D)``: ``out[i, k] = x[k]`` for ``k < i`` and ``x[k + 1]`` for ``k >= i``.

    Raises:
        ValueError: If ``x`` is not two-dimensional.
    """
    if not isinstance(x, Tensor) or x.ndim != 2:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"x: expected shape (B, D), got {shape}")
    b = x.shape[0]
    off = ~torch.eye(b, dtype=torch.bool, device=x.device)
    idx = torch.arange(b, device=x.device).expand(b, b)[off].reshape(b, max(b - 1, 0))
    return x[idx]


def logits_to_info_nce(logits: Tensor) -> Tensor:
    """InfoNCE from a square logit matrix whose diagonal holds the positive logits.

    ``loss_i = logsumexp_j(logits[i, j]) - logits[i, i]``; off-diagonal entries are the (already
    temperature-scaled, log-weight-shifted) negative logits; ``-inf`` removes a negative. The
    log-sum-exp is evaluated in at least float32.

    Args:
        logits: ``(B, B)``.

    Returns:
        Per-anchor losses ``(B,)`` in the compute dtype (float32 for 16-bit input).
    """
    logits = logits.to(compute_dtype(logits.dtype))
    return torch.logsumexp(logits, dim=-1) - torch.diagonal(logits)


def _log_weights_in_batch(w: Tensor, b: int, dtype: torch.dtype) -> Tensor:
    """(B, B) log-weights with 0 on the diagonal from weights broadcastable to (B, B - 1)."""
    w = torch.broadcast_to(w.to(dtype), (b, b - 1)).reshape(-1)
    off = ~torch.eye(b, dtype=torch.bool, device=w.device)
    full = torch.ones(b, b, dtype=dtype, device=w.device).masked_scatter(off, w)
    return torch.log(full)


def _one_direction(
    q: Tensor, k: Tensor, negatives: NegativeSpec, log_w: Optional[Tensor], tau: float
) -> Tensor:
    """Per-row losses with unit-norm queries ``q`` and their positive keys ``k``."""
    pos = (q * k).sum(-1) / tau
    if isinstance(negatives, str):
        other = k if negatives == "positives" else q
        logits = q @ other.mT / tau
        if negatives == "anchors":
            eye = torch.eye(q.shape[0], dtype=torch.bool, device=q.device)
            logits = torch.where(eye, pos[:, None], logits)
        if log_w is not None:
            logits = logits + log_w
        return logits_to_info_nce(logits)
    assert isinstance(negatives, Tensor)
    if negatives.ndim == 2:
        neg = q @ negatives.mT / tau  # (B, M)
    else:
        neg = torch.einsum("bd,bkd->bk", q, negatives) / tau  # (B, K)
    if log_w is not None:
        neg = neg + log_w
    return torch.logsumexp(torch.cat([pos[:, None], neg], dim=-1), dim=-1) - pos


def info_nce(
    anchor: Tensor,
    positive: Tensor,
    negatives: NegativeSpec = None,
    *,
    temperature: float = 0.5,
    reduction: str = "mean",
    negative_weights: Optional[Tensor] = None,
    symmetric: bool = False,
    eps: float = 1e-12,
    validate: bool = True,
) -> Tensor:
    """InfoNCE loss with cosine similarity (paper Eqs. 6-7).

    Embeddings are L2-normalised (``x / max(|x|, eps)``, so a zero vector has similarity 0 with
    everything), similarities are divided by ``temperature`` and the loss is
    ``-log softmax`` of the positive among ``[positive, negatives]``. Similarities and the
    log-sum-exp are computed in float32 for float16/bfloat16 input; the result is returned in the
    input dtype.

    Args:
        anchor: Anchors ``(B, D)``.
        positive: Positives ``(B, D)``; row ``i`` is the positive of anchor ``i``.
        negatives: One of

            - ``None`` or ``"positives"``: in-batch negatives, the positives of the other rows
              (``K = B - 1``; the CLIP / SimCLR-style cross-view logits ``anchor @ positive.T``).
            - ``"anchors"``: in-batch negatives, the other anchors (``K = B - 1``; OCR-Pose's
              TiCLR and VeCLR). Equal to passing ``in_batch_negatives(anchor)`` but never builds
              the ``(B, B - 1, D)`` tensor.
            - a tensor ``(M, D)``: negatives shared by every anchor (``K = M``), e.g. a memory bank
              or embeddings gathered from other ranks.
            - a tensor ``(B, K, D)``: per-anchor negatives.

            With ``K = 0`` (``B = 1`` in-batch, ``M = 0`` or ``K = 0``) the loss is exactly
            ``log 1 = 0`` with zero gradients.
        temperature: ``tau > 0``; the paper uses 0.5.
        reduction: ``"mean"`` (over anchors), ``"sum"`` or ``"none"`` (``(B,)`` per anchor).
        negative_weights: Optional non-negative weights of the negatives, multiplying each
            ``exp(s/tau)`` (adding ``log w`` to its logit; 0 drops a negative). Broadcastable to
            ``(B, K)`` (per-anchor or in-batch negatives, ``K = B - 1`` in the order of
            :func:`in_batch_negatives`) or to ``(B, M)`` / ``(M,)`` for shared negatives. With
            ``symmetric=True`` the same weights index ``[query row, negative]`` in both
            directions.
        symmetric: If ``True``, return the mean of the anchor-to-positive loss and the
            positive-to-anchor loss (roles swapped: the positive is the query; in-batch
            ``"positives"`` then draws negatives from the other anchors, ``"anchors"`` from the
            other positives, explicit negatives are reused).
        eps: Norm floor of the L2 normalisation.
        validate: Check the inputs for NaN / inf and negative weights (a device synchronisation;
            pass ``False`` in hot loops once the pipeline is known to be clean). Shape checks are
            always done.

    Returns:
        Scalar loss (``"mean"``, ``"sum"``) or ``(B,)`` (``"none"``), in ``anchor``'s dtype.

    Raises:
        ValueError: On mismatched shapes, an unknown ``negatives`` string or ``reduction``, a
            non-positive temperature, an empty batch, or (with ``validate``) NaN / inf inputs or
            negative weights.
        TypeError: If an input is not a floating-point tensor.
    """
    check_float(anchor, "anchor")
    check_float(positive, "positive")
    if anchor.ndim != 2:
        raise ValueError(f"anchor: expected shape (B, D), got {tuple(anchor.shape)}")
    if positive.shape != anchor.shape:
        raise ValueError(
            f"positive: expected the same shape as anchor {tuple(anchor.shape)}, "
            f"got {tuple(positive.shape)}"
        )
    b, d = anchor.shape
    if b == 0:
        raise ValueError("anchor: expected at least one sample, got B = 0")
    tau = check_positive(temperature, "temperature")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
    if negatives is None:
        negatives = "positives"
    if isinstance(negatives, str):
        if negatives not in _IN_BATCH:
            raise ValueError(
                f"negatives: expected a tensor, None, 'positives' or 'anchors', got {negatives!r}"
            )
        k_shape: tuple = (b, b - 1)
    else:
        check_float(negatives, "negatives")
        if negatives.ndim == 2 and negatives.shape[1] == d:
            k_shape = (b, negatives.shape[0])
        elif negatives.ndim == 3 and negatives.shape[0] == b and negatives.shape[2] == d:
            k_shape = (b, negatives.shape[1])
        else:
            raise ValueError(
                f"negatives: expected shape (M, {d}) or ({b}, K, {d}), got {tuple(negatives.shape)}"
            )
    if negative_weights is not None:
        check_float(negative_weights, "negative_weights")
        try:
            torch.broadcast_shapes(negative_weights.shape, k_shape)
            ok = torch.broadcast_shapes(negative_weights.shape, k_shape) == k_shape
        except RuntimeError:
            ok = False
        if not ok:
            raise ValueError(
                f"negative_weights: expected a shape broadcastable to {k_shape}, "
                f"got {tuple(negative_weights.shape)}"
            )
    if validate:
        check_finite(anchor, "anchor")
        check_finite(positive, "positive")
        if isinstance(negatives, Tensor):
            check_finite(negatives, "negatives")
        if negative_weights is not None:
            check_finite(negative_weights, "negative_weights")
            if bool((negative_weights < 0).any()):
                raise ValueError("negative_weights: expected non-negative weights")

    ct = compute_dtype(torch.promote_types(anchor.dtype, positive.dtype))
    q = F.normalize(anchor.to(ct), dim=-1, eps=eps)
    k = F.normalize(positive.to(ct), dim=-1, eps=eps)
    neg = negatives if isinstance(negatives, str) else F.normalize(negatives.to(ct), dim=-1, eps=eps)
    log_w = None
    if negative_weights is not None:
        if isinstance(negatives, str):
            log_w = _log_weights_in_batch(negative_weights, b, ct) if b > 1 else None
        else:
            log_w = torch.log(torch.broadcast_to(negative_weights.to(ct), k_shape))

    loss = _one_direction(q, k, neg, log_w, tau)
    if symmetric:
        # Roles swapped: the positive is the query. With in-batch negatives the same mode rule
        # applies to the swapped pair ("positives": keys are the other anchors, "anchors": the
        # other positives); explicit negatives are reused.
        loss = 0.5 * (loss + _one_direction(k, q, neg, log_w, tau))
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    return loss.to(anchor.dtype)


class InfoNCE(nn.Module):
    """Module wrapper of :func:`info_nce` holding its hyper-parameters.

    Args:
        temperature: ``tau > 0`` (paper: 0.5).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        negatives: Default negative mode when ``forward`` gets none: ``"positives"`` or
            ``"anchors"`` (see :func:`info_nce`).
        symmetric: Average both directions.
        validate: Finite-value checks (a device synchronisation).
    """

    def __init__(
        self,
        temperature: float = 0.5,
        reduction: str = "mean",
        negatives: str = "positives",
        symmetric: bool = False,
        validate: bool = True,
    ) -> None:
        super().__init__()
        self.temperature = check_positive(temperature, "temperature")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
        if negatives not in _IN_BATCH:
            raise ValueError(f"negatives: expected one of {_IN_BATCH}, got {negatives!r}")
        self.reduction = reduction
        self.negatives = negatives
        self.symmetric = bool(symmetric)
        self.validate = bool(validate)

    def forward(
        self,
        anchor: Tensor,
        positive: Tensor,
        negatives: NegativeSpec = None,
        negative_weights: Optional[Tensor] = None,
    ) -> Tensor:
        """Loss of ``anchor`` ``(B, D)`` against ``positive`` ``(B, D)`` (see :func:`info_nce`)."""
        return info_nce(
            anchor,
            positive,
            self.negatives if negatives is None else negatives,
            temperature=self.temperature,
            reduction=self.reduction,
            negative_weights=negative_weights,
            symmetric=self.symmetric,
            validate=self.validate,
        )

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, reduction={self.reduction!r}, "
            f"negatives={self.negatives!r}, symmetric={self.symmetric}"
        )
