"""Aggregation of per-pose metric values by a label (per-action tables)."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from .._validation import TensorLike

__all__ = ["group_mean"]


def _to_numpy(x: TensorLike, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if x.dtype == bool or not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name}: expected real numbers, got dtype {x.dtype}")
    return x.astype(np.float64)


def group_mean(
    values: TensorLike, labels: Sequence[str], weights: Optional[TensorLike] = None
) -> dict[str, float]:
    """Mean of ``values`` per label, e.g. per-action MPJPE from ``reduction="none"`` output.

    Args:
        values: ``(N,)`` per-pose values (torch or numpy).
        labels: ``N`` labels (strings; other hashables are converted with ``str``).
        weights: Optional ``(N,)`` non-negative weights (e.g. the number of visible joints per
            pose, which makes the per-group mean joint-weighted like ``reduction="mean"``).
            Poses with weight 0 are ignored, even if their value is NaN.

    Returns:
        ``{label: mean}`` in order of first appearance, accumulated in float64. A label whose
        weights are all 0 is omitted.

    Raises:
        ValueError: Empty input, length mismatch, non-1-D input, negative weights, or
            non-finite values among those used.
        TypeError: Non-numeric values or weights.
    """
    v = _to_numpy(values, "values")
    if v.ndim != 1:
        raise ValueError(f"values: expected shape (N,), got {v.shape}")
    if v.size == 0:
        raise ValueError("values: expected at least one value, got none")
    if isinstance(labels, (str, bytes)):
        raise TypeError("labels: expected a sequence of labels, got a single string")
    labels = [str(x) for x in labels]
    if len(labels) != v.size:
        raise ValueError(f"labels: expected {v.size} labels (one per value), got {len(labels)}")
    if weights is None:
        w = np.ones_like(v)
    else:
        w = _to_numpy(weights, "weights")
        if w.shape != v.shape:
            raise ValueError(f"weights: expected shape {v.shape}, got {w.shape}")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights: expected finite values >= 0")
    used = w > 0
    if not np.isfinite(v[used]).all():
        raise ValueError("values: contains NaN or inf (give such poses weight 0 to skip them)")
    sums: dict[str, float] = {}
    totals: dict[str, float] = {}
    for value, label, weight in zip(v.tolist(), labels, w.tolist()):
        if weight > 0:
            sums[label] = sums.get(label, 0.0) + weight * value
            totals[label] = totals.get(label, 0.0) + weight
    return {k: sums[k] / totals[k] for k in sums}
