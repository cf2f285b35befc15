"""OCR-Pose's attention hard-negative miner ``Phi_A`` with an exact ``O(B^2 D)`` fast path.

Paper (Wang, Yu et al., ACM MM 2022, Sec. 3.4-3.5): for every anchor the sample matrix
``M = [z; z+; z-_1 ... z-_K]`` (``(K + 2) x D``) is re-mixed by self-attention,
``W = softmax(E(M) E(M)^T / sqrt(d))`` row-wise with a learned linear embedding ``E`` of width
``d``, ``M' = W M``; the rows of ``M'`` are L2-normalised and InfoNCE (Eqs. 6-7) is applied with row
0 as anchor, row 1 as positive and rows ``2..`` as negatives.

**Negatives (our reading of "negatives are the other samples", METHOD.md §3).** With in-batch
negatives the negatives of anchor ``i`` are the *anchors* ``z_j`` of the other rows, ``j != i``
(``K = B - 1``), i.e. the sample matrix of anchor ``i`` is ``[z_i; p_i; z_j (j != i)]``.

**Fast path.** As a *set*, that sample matrix is ``{z_1 .. z_B} ∪ {p_i}``: all anchors plus one
extra row. Attention outputs do not depend on row order, so with ``e = E(Z)``, ``f = E(P)``,
``S = e e^T / sqrt(d)`` and ``T = e f^T / sqrt(d)`` (both ``B x B``):

- the attended row of query ``z_j`` in anchor ``i``'s set is
  ``a_ij = (1 - α_ij) ybar_j + α_ij p_i`` with ``ybar = softmax(S) Z`` (shared by every anchor)
  and ``α_ij = sigmoid(T_ji - logsumexp_k S_jk)``, the softmax weight of the extra key ``p_i``;
- the attended anchor is ``a_ii``; the attended positive ``b_i`` is the softmax over the
  ``B + 1`` logits ``[T_:i, f_i·f_i / sqrt(d)]`` applied to ``[Z; p_i]``;
- every similarity the loss needs is a combination of ``B x B`` matrices:
  ``a_ii·a_ij = (1 - α_ij)(a_ii·ybar_j) + α_ij (a_ii·p_i)`` and
  ``|a_ij|^2 = (1 - α_ij)^2 |ybar_j|^2 + 2 α_ij (1 - α_ij) (p_i·ybar_j) + α_ij^2 |p_i|^2``.

That costs a handful of ``B x B x D`` matrix products: ``O(B^2 (D + d))`` time and
``O(B^2 + B (D + d))`` memory, instead of the ``O(B (B + 1)^2 D)`` of the per-anchor reference,
which never appears (not even the ``B x (B + 1) x (B + 1)`` attention). Both paths compute the
same function and agree to rounding (tested at ``1e-10`` relative in float64, values and
gradients). Softmaxes use log-sum-exp; 16-bit inputs are computed in float32.

*Conditioning.* Through the Gram expansion the norm of an attended negative ``a_ij`` carries an
absolute rounding error of about ``eps (|ybar_j|^2 + |p_i|^2)``, against ``eps |a_ij| (...)`` when
``a_ij`` is formed explicitly; the two paths differ noticeably only where ``a_ij`` nearly
vanishes (the attention mixes ``ybar_j`` and ``p_i`` into almost nothing), where the cosine is
ill-conditioned in any implementation. That happens routinely only for ``D = 1`` (scalar rows
crossing zero), which the fast path therefore handles with explicit ``(B, B, 1)`` rows.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from skelcl._validation import check_finite, check_float, check_positive
from skelcl.contrastive.info_nce import compute_dtype, in_batch_negatives, logits_to_info_nce

__all__ = ["AttentionHardNegativeMiner", "attention_miner_loss_naive", "attention_miner_loss_fast"]

_IMPLEMENTATIONS = ("fast", "naive")
_REDUCTIONS = ("mean", "sum", "none")


def _embed(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    return F.linear(x, weight.to(x.dtype), None if bias is None else bias.to(x.dtype))


def attention_miner_loss_naive(
    anchor: Tensor,
    positive: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    negatives: Optional[Tensor] = None,
    temperature: float = 0.5,
    eps: float = 1e-12,
    return_attention: bool = False,
):
    """Reference miner loss: builds every anchor's sample matrix explicitly.

    Args:
        anchor: ``(B, D)`` (the ``z`` of the paper).
        positive: ``(B, D)`` (``z+``).
        weight: Embedding weight ``(d, D)`` of ``E``.
        bias: Embedding bias ``(d,)`` or ``None``.
        negatives: Per-anchor negatives ``(B, K, D)``; ``None`` uses the other anchors
            (:func:`~skelcl.contrastive.info_nce.in_batch_negatives`, ``K = B - 1``).
        temperature: InfoNCE temperature ``tau``.
        eps: Norm floor of the row normalisation.
        return_attention: Also return the attention ``W`` ``(B, K + 2, K + 2)``.

    Returns:
        Per-anchor losses ``(B,)`` in the compute dtype, and ``W`` if requested.
        ``O(B K^2 D)`` time and ``O(B K^2)`` memory.
    """
    if negatives is None:
        negatives = in_batch_negatives(anchor)
    m = torch.cat([anchor[:, None], positive[:, None], negatives], dim=1)  # (B, K+2, D)
    e = _embed(m, weight, bias)  # (B, K+2, d)
    w = torch.softmax(e @ e.mT / math.sqrt(e.shape[-1]), dim=-1)
    mn = F.normalize(w @ m, dim=-1, eps=eps)
    logits = torch.einsum("bd,bkd->bk", mn[:, 0], mn[:, 1:]) / temperature  # (B, K+1)
    loss = torch.logsumexp(logits, dim=-1) - logits[:, 0]
    return (loss, w) if return_attention else loss


def attention_miner_loss_fast(
    anchor: Tensor,
    positive: Tensor,
    weight: Tensor,
    bias: Optional[Tensor] = None,
    temperature: float = 0.5,
    eps: float = 1e-12,
) -> Tensor:
    """Exact ``O(B^2 D)`` miner loss with in-batch negatives (the other anchors).

    Same arguments and result as :func:`attention_miner_loss_naive` with ``negatives=None``; see
    the module docstring for the derivation.
    """
    z, p = anchor, positive
    b = z.shape[0]
    e, f = _embed(z, weight, bias), _embed(p, weight, bias)
    scale = 1.0 / math.sqrt(e.shape[-1])
    s = (e @ e.mT) * scale  # S[j, k]: query z_j, key z_k
    t = (e @ f.mT) * scale  # T[j, i]: query z_j, key p_i
    lse = torch.logsumexp(s, dim=-1)  # (B,) log-normaliser of query z_j over Z
    ybar = torch.softmax(s, dim=-1) @ z  # (B, D) attended z_j over Z only
    # alpha[i, j]: weight of the extra key p_i for query z_j (anchor i's set), and 1 - alpha.
    x = t.mT - lse[None, :]
    alpha, beta = torch.sigmoid(x), torch.sigmoid(-x)
    diag_a, diag_b = torch.diagonal(alpha), torch.diagonal(beta)
    a = diag_b[:, None] * ybar + diag_a[:, None] * p  # attended anchors a_ii (B, D)
    # attended positives: query p_i over keys [Z; p_i]
    u = (f * f).sum(-1) * scale
    wp = torch.softmax(torch.cat([t.mT, u[:, None]], dim=-1), dim=-1)  # (B, B + 1)
    bpos = wp[:, :b] @ z + wp[:, b:] * p  # (B, D)

    a_norm = torch.linalg.vector_norm(a, dim=-1).clamp_min(eps)
    b_norm = torch.linalg.vector_norm(bpos, dim=-1).clamp_min(eps)
    pos = (a * bpos).sum(-1) / (a_norm * b_norm)  # (B,)

    if z.shape[1] == 1:
        # D = 1: attended rows are scalars whose sign decides the cosine, and they cross zero
        # often; the Gram expansion below would lose their sign to cancellation, so form the
        # (B, B, 1) rows explicitly (O(B^2) here).
        aij = beta[..., None] * ybar[None, :, :] + alpha[..., None] * p[:, None, :]
        n_neg = torch.linalg.vector_norm(aij, dim=-1).clamp_min(eps)
        cos = (aij * a[:, None, :]).sum(-1) / (a_norm[:, None] * n_neg)
    else:
        q = a @ ybar.mT  # q[i, j] = a_ii . ybar_j
        r = (a * p).sum(-1)  # a_ii . p_i
        dots = beta * q + alpha * r[:, None]  # a_ii . a_ij
        h = p @ ybar.mT  # h[i, j] = p_i . ybar_j
        yy = (ybar * ybar).sum(-1)  # |ybar_j|^2
        pp = (p * p).sum(-1)  # |p_i|^2
        sq = beta.square() * yy[None, :] + 2 * alpha * beta * h + alpha.square() * pp[:, None]
        n_neg = torch.sqrt(sq.clamp_min(eps * eps))  # max(|a_ij|, eps)
        cos = dots / (a_norm[:, None] * n_neg)
    eye = torch.eye(b, dtype=torch.bool, device=z.device)
    logits = torch.where(eye, pos[:, None], cos) / temperature
    return logits_to_info_nce(logits)


class AttentionHardNegativeMiner(nn.Module):
    """OCR-Pose's attention hard-negative miner ``Phi_A`` followed by InfoNCE (Eqs. 6-7).

    Given anchors ``z`` and positives ``z+`` (``(B, D)`` each), it builds per anchor ``i`` the
    sample matrix ``[z_i; z+_i; z_j (j != i)]``, re-mixes it with ``softmax(E(M) E(M)^T /
    sqrt(d)) M`` (``E`` a learned ``nn.Linear(dim, embed_dim)``), L2-normalises the rows and
    returns InfoNCE of row 0 (anchor) against row 1 (positive) and rows 2.. (negatives). See the
    module docstring for the exact fast path.

    Args:
        dim: Feature dimension ``D``.
        embed_dim: Width ``d`` of the embedding ``E`` (default ``dim``).
        temperature: ``tau`` (paper: 0.5).
        implementation: ``"fast"`` (exact, ``O(B^2 D)``) or ``"naive"`` (the per-anchor sample
            matrices, ``O(B^3 D)``, for reference and tests).
        bias: Whether ``E`` has a bias.
        eps: Norm floor of the row normalisation.
        validate: Check inputs for NaN / inf (a device synchronisation).

    Example:
        >>> from skelcl.contrastive import AttentionHardNegativeMiner
        >>> miner = AttentionHardNegativeMiner(8)
        >>> loss = miner(torch.randn(5, 8), torch.randn(5, 8))
        >>> loss.shape
        torch.Size([])
    """

    def __init__(
        self,
        dim: int,
        embed_dim: Optional[int] = None,
        temperature: float = 0.5,
        implementation: str = "fast",
        bias: bool = True,
        eps: float = 1e-12,
        validate: bool = True,
    ) -> None:
        super().__init__()
        if implementation not in _IMPLEMENTATIONS:
            raise ValueError(
                f"implementation: expected one of {_IMPLEMENTATIONS}, got {implementation!r}"
            )
        if int(dim) < 1 or (embed_dim is not None and int(embed_dim) < 1):
            raise ValueError(f"dim, embed_dim: expected positive sizes, got {dim}, {embed_dim}")
        self.dim = int(dim)
        self.embed_dim = int(embed_dim) if embed_dim is not None else self.dim
        self.temperature = check_positive(temperature, "temperature")
        self.implementation = implementation
        self.eps = float(eps)
        self.validate = bool(validate)
        self.embed = nn.Linear(self.dim, self.embed_dim, bias=bias)

    def _check(self, anchor: Tensor, positive: Tensor, negatives: Optional[Tensor]) -> None:
        check_float(anchor, "anchor")
        check_float(positive, "positive")
        if anchor.ndim != 2 or anchor.shape[1] != self.dim:
            raise ValueError(f"anchor: expected shape (B, {self.dim}), got {tuple(anchor.shape)}")
        if positive.shape != anchor.shape:
            raise ValueError(
                f"positive: expected the same shape as anchor {tuple(anchor.shape)}, "
                f"got {tuple(positive.shape)}"
            )
        if anchor.shape[0] == 0:
            raise ValueError("anchor: expected at least one sample, got B = 0")
        if negatives is not None:
            check_float(negatives, "negatives")
            if negatives.ndim != 3 or negatives.shape[0] != anchor.shape[0] or (
                negatives.shape[2] != self.dim
            ):
                raise ValueError(
                    f"negatives: expected shape ({anchor.shape[0]}, K, {self.dim}), "
                    f"got {tuple(negatives.shape)}"
                )
        if self.validate:
            check_finite(anchor, "anchor")
            check_finite(positive, "positive")
            if negatives is not None:
                check_finite(negatives, "negatives")

    def forward(
        self,
        anchor: Tensor,
        positive: Tensor,
        negatives: Optional[Tensor] = None,
        reduction: str = "mean",
        implementation: Optional[str] = None,
    ) -> Tensor:
        """Miner + InfoNCE loss.

        Args:
            anchor: ``(B, D)``.
            positive: ``(B, D)``.
            negatives: ``None`` for in-batch negatives (the other anchors, ``K = B - 1``), or
                explicit per-anchor negatives ``(B, K, D)``, which always use the naive path
                (the shared structure behind the fast path does not exist then).
            reduction: ``"mean"``, ``"sum"`` or ``"none"`` (``(B,)``).
            implementation: Override of the module's ``implementation`` for this call.

        Returns:
            The loss in ``anchor``'s dtype. ``B = 1`` (no negatives) gives exactly 0.
        """
        self._check(anchor, positive, negatives)
        if reduction not in _REDUCTIONS:
            raise ValueError(f"reduction: expected one of {_REDUCTIONS}, got {reduction!r}")
        impl = self.implementation if implementation is None else implementation
        if impl not in _IMPLEMENTATIONS:
            raise ValueError(f"implementation: expected one of {_IMPLEMENTATIONS}, got {impl!r}")
        ct = compute_dtype(torch.promote_types(anchor.dtype, positive.dtype))
        z, p = anchor.to(ct), positive.to(ct)
        w, bias = self.embed.weight, self.embed.bias
        if impl == "fast" and negatives is None:
            loss = attention_miner_loss_fast(z, p, w, bias, self.temperature, self.eps)
        else:
            neg = None if negatives is None else negatives.to(ct)
            loss = attention_miner_loss_naive(z, p, w, bias, neg, self.temperature, self.eps)
        if reduction == "mean":
            loss = loss.mean()
        elif reduction == "sum":
            loss = loss.sum()
        return loss.to(anchor.dtype)

    @torch.no_grad()
    def attention(
        self, anchor: Tensor, positive: Tensor, negatives: Optional[Tensor] = None
    ) -> Tensor:
        """The attention matrices ``W`` of every anchor, ``(B, K + 2, K + 2)``, for inspection.

        Row/column order is ``[anchor, positive, negatives...]``; every row sums to 1. This
        materialises the cubic tensor: use it on small batches only.
        """
        self._check(anchor, positive, negatives)
        ct = compute_dtype(torch.promote_types(anchor.dtype, positive.dtype))
        neg = None if negatives is None else negatives.to(ct)
        _, w = attention_miner_loss_naive(
            anchor.to(ct), positive.to(ct), self.embed.weight, self.embed.bias, neg,
            self.temperature, self.eps, return_attention=True,
        )
        return w

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, implementation={self.implementation!r}"
