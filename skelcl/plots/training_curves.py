"""Training-curve figures from logged rows (e.g. the lines of a JSONL training log)."""

from __future__ import annotations

import math
import os
from numbers import Real
from typing import Any, Mapping, Optional, Sequence, Union

from ._mpl import new_figure

__all__ = ["plot_training_curves"]

X_KEYS = ("step", "iteration", "epoch")


def plot_training_curves(
    log_rows: Sequence[Mapping[str, Any]], path: Union[str, "os.PathLike[str]"], *,
    keys: Optional[Sequence[str]] = None, x_key: Optional[str] = None, log_scale: bool = False,
    dpi: int = 100,
) -> str:
    """Write a PNG with one panel per logged quantity against the step/epoch.

    Args:
        log_rows: One mapping per log entry, e.g. ``{"epoch": 3, "loss_2d": 0.1, ...}``. Rows
            may miss keys (a quantity logged only at validation time); non-numeric and
            non-finite values are skipped.
        path: Output PNG file.
        keys: Quantities to plot (default: every numeric key except the x key, in first-seen
            order).
        x_key: Key of the x axis (default: the first of ``"step"``, ``"iteration"``, ``"epoch"``
            present in the rows, else the row index).
        log_scale: Logarithmic y axes (for positive losses).
        dpi: Resolution.

    Returns:
        The path written, as a string.

    Raises:
        ValueError: No rows, an unknown ``x_key``/key, or nothing numeric to plot.
    """
    rows = list(log_rows)
    if not rows:
        raise ValueError("log_rows: expected at least one row, got none")
    if not all(isinstance(r, Mapping) for r in rows):
        raise TypeError("log_rows: expected a sequence of mappings (dicts)")

    def numeric(v: Any) -> bool:
        return isinstance(v, Real) and not isinstance(v, bool) and math.isfinite(float(v))

    if x_key is None:
        x_key = next((k for k in X_KEYS if any(k in r for r in rows)), None)
    elif not any(x_key in r for r in rows):
        raise ValueError(f"x_key: {x_key!r} is in no row")
    if keys is None:
        seen: dict[str, None] = {}
        for r in rows:
            for k, v in r.items():
                if k != x_key and k not in X_KEYS and numeric(v):
                    seen.setdefault(k, None)
        keys = list(seen)
    else:
        missing = [k for k in keys if not any(k in r for r in rows)]
        if missing:
            raise ValueError(f"keys: not in any row: {missing}")
    if not keys:
        raise ValueError("log_rows: no numeric quantity to plot")

    n = len(keys)
    cols = min(3, n)
    nrows = math.ceil(n / cols)
    fig = new_figure(figsize=(4.5 * cols, 3.2 * nrows))
    for i, key in enumerate(keys):
        ax = fig.add_subplot(nrows, cols, i + 1)
        xs, ys = [], []
        for idx, r in enumerate(rows):
            v = r.get(key)
            xv = idx if x_key is None else r.get(x_key)
            if numeric(v) and numeric(xv):
                xs.append(float(xv))
                ys.append(float(v))
        ax.plot(xs, ys, marker="." if len(xs) < 50 else None)
        if log_scale and ys and min(ys) > 0:
            ax.set_yscale("log")
        ax.set_title(key)
        ax.set_xlabel(x_key or "row")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    out = os.fspath(path)
    fig.savefig(out, format="png", dpi=dpi)
    return out
