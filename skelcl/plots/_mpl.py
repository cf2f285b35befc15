"""Lazy matplotlib import (private): skelcl does not depend on matplotlib at runtime."""

from __future__ import annotations

from typing import Any


def require_matplotlib() -> Any:
    """Import and return ``matplotlib``, or raise an ``ImportError`` saying how to install it."""
    try:
        import matplotlib
    except ImportError as err:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(
            "skelcl.plots needs matplotlib: install it with `pip install skelcl[plots]` "
            "(or `pip install matplotlib`)"
        ) from err
    return matplotlib


def new_figure(**kwargs: Any) -> Any:
    """A ``matplotlib.figure.Figure`` not registered with pyplot (no global state, any backend)."""
    require_matplotlib()
    from matplotlib.figure import Figure

    return Figure(**kwargs)
