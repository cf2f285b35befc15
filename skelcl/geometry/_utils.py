"""Private helpers shared by the geometry modules (input checks, safe norms, skew matrices)."""

from __future__ import annotations

import math
from typing import Optional, Sequence, Tuple, Union

import torch

from skelcl._validation import TensorLike, as_tensor, check_shape


def as_float(x: TensorLike, name: str, trailing: Sequence[Optional[int]]) -> torch.Tensor:
    """Convert ``x`` to a floating tensor and check that its shape ends with ``trailing``."""
    return check_shape(as_tensor(x, name), name, trailing)


def as_rotation(x: TensorLike, name: str) -> torch.Tensor:
    """Convert ``x`` to a floating tensor of shape ``(..., 3, 3)``."""
    return as_float(x, name, (3, 3))


def safe_sqrt(x: torch.Tensor) -> torch.Tensor:
    """``sqrt(max(x, 0))`` whose gradient is 0 (not inf/NaN) where ``x <= 0``."""
    pos = x > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, x, torch.ones_like(x))), torch.zeros_like(x))


def safe_norm(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Euclidean norm over ``dim`` with gradient 0 (a valid subgradient) at the zero vector."""
    return safe_sqrt((x * x).sum(dim))


def skew(v: torch.Tensor) -> torch.Tensor:
    """Cross-product matrix ``[v]_x`` of ``v (..., 3)``, shape ``(..., 3, 3)``."""
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack(
        (torch.stack((o, -z, y), -1), torch.stack((z, o, -x), -1), torch.stack((-y, x, o), -1)), -2
    )


def vee(m: torch.Tensor) -> torch.Tensor:
    """``(M - M^T)`` as a vector: ``(M21 - M12, M02 - M20, M10 - M01)``, shape ``(..., 3)``."""
    return torch.stack(
        (m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]), -1
    )


def parse_shape(shape: Tuple[Union[int, Sequence[int]], ...], name: str = "shape") -> Tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))``, ``f(torch.Size([2, 3]))`` or ``f()``; return a tuple."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
        shape = tuple(shape[0])
    out = []
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise ValueError(f"{name}: expected non-negative integers, got {shape!r}")
        out.append(int(s))
    return tuple(out)


def resolve_device(
    device: Optional[Union[str, torch.device]], generator: Optional[torch.Generator]
) -> torch.device:
    """The device to sample on: ``device`` if given, else the generator's device, else CPU."""
    if device is not None:
        return torch.device(device)
    if generator is not None:
        return generator.device
    return torch.device("cpu")


def resolve_dtype(dtype: Optional[torch.dtype]) -> torch.dtype:
    """``dtype`` if given (must be floating point), else the default dtype."""
    if dtype is None:
        return torch.get_default_dtype()
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype: expected a floating-point torch.dtype, got {dtype!r}")
    return dtype


def positive_number(value: object, name: str) -> float:
    """Require a finite Python number ``> 0`` (uses :mod:`math`, so it traces under torch.compile)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return float(value)
