"""Input checks shared by every skelcl module.

Each check raises a :class:`TypeError` or :class:`ValueError` whose message names the argument and
what was expected, so that a user sees ``points_3d: expected shape (..., J, 3), got (4, 17, 2)``
instead of a broadcasting error deep inside a kernel.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np
import torch

TensorLike = Union[torch.Tensor, np.ndarray]


def as_tensor(x: TensorLike, name: str) -> torch.Tensor:
    """Return ``x`` as a floating-point tensor (numpy arrays are converted without copying).

    Integer input is converted to the default float dtype; anything else raises ``TypeError``.
    """
    if isinstance(x, np.ndarray):
        x = torch.from_numpy(x)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor or numpy.ndarray, got {type(x).__name__}")
    if not x.is_floating_point():
        if x.dtype == torch.bool or x.is_complex():
            raise TypeError(f"{name}: expected a real floating-point tensor, got dtype {x.dtype}")
        x = x.to(torch.get_default_dtype())
    return x


def check_float(x: object, name: str) -> torch.Tensor:
    """Require a real floating-point tensor (no conversion); return it."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    return x


def check_shape(
    x: torch.Tensor,
    name: str,
    trailing: Sequence[Optional[int]],
    *,
    min_batch_dims: int = 0,
) -> torch.Tensor:
    """Require ``x.shape`` to end with ``trailing`` (``None`` matches any size).

    ``min_batch_dims`` is the number of leading dimensions that must exist in front of the
    trailing ones. The error message spells the expected shape, e.g. ``(..., 17, 3)``.
    """
    n = len(trailing)
    ok = x.ndim >= n + min_batch_dims and all(
        t is None or x.shape[x.ndim - n + i] == t for i, t in enumerate(trailing)
    )
    if not ok:
        spec = ", ".join("*" if t is None else str(t) for t in trailing)
        lead = ", ".join(["B"] * min_batch_dims) + ", " if min_batch_dims else ""
        raise ValueError(f"{name}: expected shape ({lead}..., {spec}), got {tuple(x.shape)}")
    return x


def check_layout_pose(x: object, name: str, num_joints: int, layout: str,
                      channels: Sequence[int] = (2, 3)) -> torch.Tensor:
    """Require a floating-point tensor of shape ``(..., num_joints, C)`` with ``C`` in
    ``channels`` (the joints of the named ``layout``); return it."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got {type(x).__name__}"
                        + (f" of {x.dtype}" if isinstance(x, torch.Tensor) else ""))
    if x.dim() < 2 or x.shape[-2] != num_joints or x.shape[-1] not in channels:
        spec = " or ".join(str(c) for c in channels)
        raise ValueError(f"{name}: expected shape (..., {num_joints}, {spec}) for layout "
                         f"{layout}, got {tuple(x.shape)}")
    return x


def check_finite(x: torch.Tensor, name: str) -> torch.Tensor:
    """Require every element of ``x`` to be finite (no NaN or inf).

    This performs a device-to-host synchronisation; hot training loops should call it only on
    data entering the pipeline, not on every step.
    """
    # Cheap first test: the sum of finite values is finite (unless it overflows), and any NaN or
    # inf makes it non-finite; only then is the exact elementwise test run.
    if x.numel() and bool(torch.isfinite(x.sum())):
        return x
    if not bool(torch.isfinite(x).all()):
        bad = (~torch.isfinite(x)).nonzero()
        first = tuple(int(i) for i in bad[0]) if bad.numel() else ()
        raise ValueError(f"{name}: contains NaN or inf (first at index {first})")
    return x


def check_nonempty(x: torch.Tensor, name: str) -> torch.Tensor:
    """Require at least one element."""
    if x.numel() == 0:
        raise ValueError(f"{name}: expected a non-empty tensor, got shape {tuple(x.shape)}")
    return x


def check_same_shape(a: torch.Tensor, b: torch.Tensor, name_a: str, name_b: str) -> None:
    """Require two tensors to have identical shapes."""
    if a.shape != b.shape:
        raise ValueError(
            f"{name_b}: expected the same shape as {name_a} {tuple(a.shape)}, got {tuple(b.shape)}"
        )


def check_positive(value: float, name: str) -> float:
    """Require a finite scalar ``> 0``."""
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)
