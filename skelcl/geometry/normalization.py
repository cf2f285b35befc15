"""2D input normalisation of the OCR-Pose / Yu et al. baseline (METHOD.md §1).

Each 2D pose is centred on its root joint, then multiplied by **one global scale** fitted on the
training split so that the mean 2D head-to-root length is ``target_length`` (``1/D = 0.1``). The
fitted object is reused unchanged on every other split (the baseline's code refits on the test
set; skelcl does not).
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

import torch

from skelcl._validation import TensorLike, as_tensor, check_nonempty, check_positive

from ._utils import as_float

__all__ = ["RootScaleNormalizer2D"]


class RootScaleNormalizer2D:
    """Root-centring plus one global scale, fitted on one split and applied to others.

    Args:
        root_index: root joint (default 0, H36M-17 pelvis).
        head_index: head joint (default 10, H36M-17 head).
        target_length: mean head-to-root length after normalisation (default ``0.1 = 1/D``).

    Example:
        ``norm = RootScaleNormalizer2D().fit(train_2d)``; ``x = norm.transform(test_2d)``;
        ``json.dumps(norm.state_dict())`` stores it.
    """

    def __init__(self, root_index: int = 0, head_index: int = 10, target_length: float = 0.1) -> None:
        for name, v in (("root_index", root_index), ("head_index", head_index)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name}: expected a non-negative integer joint index, got {v!r}")
        if root_index == head_index:
            raise ValueError(f"head_index: must differ from root_index ({root_index}), got {head_index}")
        self.root_index = int(root_index)
        self.head_index = int(head_index)
        self.target_length = check_positive(target_length, "target_length")
        self.scale: Optional[float] = None
        self.mean_length: Optional[float] = None
        self.num_poses: int = 0

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`from_state_dict`) set the scale."""
        return self.scale is not None

    def _check_joints(self, poses: torch.Tensor, name: str) -> None:
        need = max(self.root_index, self.head_index) + 1
        if poses.shape[-2] < need:
            raise ValueError(
                f"{name}: expected at least {need} joints (root_index={self.root_index}, "
                f"head_index={self.head_index}), got shape {tuple(poses.shape)}"
            )

    def fit(self, poses_2d: TensorLike, mask: Optional[TensorLike] = None) -> "RootScaleNormalizer2D":
        """Fit the scale ``target_length / mean |head - root|`` (accumulated in float64).

        Args:
            poses_2d: ``(..., J, 2)`` 2D poses of the fitting (training) split, any units.
            mask: optional ``(..., J)`` visibility (bool, or numbers where non-zero means
                visible). Poses whose root or head is not visible are left out of the mean (their
                values may be NaN).

        Returns:
            ``self``.

        Raises:
            ValueError: wrong shape, no pose to fit on, non-finite lengths, or a mean length of 0.
        """
        p = as_float(poses_2d, "poses_2d", (None, 2))
        check_nonempty(p, "poses_2d")
        self._check_joints(p, "poses_2d")
        lengths = torch.linalg.vector_norm(
            p[..., self.head_index, :].double() - p[..., self.root_index, :].double(), dim=-1
        )
        if mask is not None:
            m = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(mask)
            if m.shape != p.shape[:-1]:
                raise ValueError(f"mask: expected shape {tuple(p.shape[:-1])}, got {tuple(m.shape)}")
            m = m.to(p.device) != 0
            use = m[..., self.head_index] & m[..., self.root_index]
            lengths = lengths[use]
        lengths = lengths.reshape(-1)
        if lengths.numel() == 0:
            raise ValueError("poses_2d: no pose with both root and head visible to fit the scale on")
        if not bool(torch.isfinite(lengths).all()):
            raise ValueError("poses_2d: contains NaN or inf in a visible root or head joint")
        mean = float(lengths.mean())
        if not mean > 0:
            raise ValueError("poses_2d: degenerate input, the mean head-to-root length is 0")
        self.mean_length = mean
        self.scale = self.target_length / mean
        self.num_poses = int(lengths.numel())
        return self

    def _require_fitted(self) -> float:
        if self.scale is None:
            raise RuntimeError("RootScaleNormalizer2D: call fit() (or from_state_dict()) before transform")
        return self.scale

    def transform(self, poses_2d: TensorLike) -> torch.Tensor:
        """Root-centre and scale: ``(X - X_root) * scale``.

        Args:
            poses_2d: ``(..., J, 2)`` poses in the units used by :meth:`fit`.

        Returns:
            ``(..., J, 2)`` normalised poses (root at 0). Keep ``X[..., root_index, :]`` to invert.
        """
        s = self._require_fitted()
        p = as_float(poses_2d, "poses_2d", (None, 2))
        self._check_joints(p, "poses_2d")
        return (p - p[..., self.root_index : self.root_index + 1, :]) * s

    def inverse_transform(self, poses_2d: TensorLike, root: Optional[TensorLike] = None) -> torch.Tensor:
        """Undo :meth:`transform`: ``X / scale + root``.

        Args:
            poses_2d: ``(..., J, 2)`` normalised poses.
            root: the original root joint ``(..., 2)`` or ``(..., 1, 2)``; default 0 (the result
                is then root-centred in the original units).

        Returns:
            ``(..., J, 2)`` poses in the original units.
        """
        s = self._require_fitted()
        p = as_float(poses_2d, "poses_2d", (None, 2))
        out = p / s
        if root is None:
            return out
        t = as_tensor(root, "root").to(p.dtype)
        if t.ndim == p.ndim - 1 and t.shape[-1] == 2:
            t = t.unsqueeze(-2)
        if not (t.ndim >= 2 and t.shape[-2:] == (1, 2)):
            raise ValueError(f"root: expected shape (..., 2) or (..., 1, 2), got {tuple(t.shape)}")
        return out + t

    def state_dict(self) -> Dict[str, Any]:
        """A JSON-serialisable dict of plain ints and floats (``scale`` is None before fitting)."""
        return {
            "root_index": self.root_index,
            "head_index": self.head_index,
            "target_length": self.target_length,
            "scale": self.scale,
            "mean_length": self.mean_length,
            "num_poses": self.num_poses,
        }

    @classmethod
    def from_state_dict(cls, state: Dict[str, Any]) -> "RootScaleNormalizer2D":
        """Rebuild a normaliser from :meth:`state_dict` output.

        Raises:
            ValueError: missing keys or a non-positive / non-finite scale.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state: expected a dict, got {type(state).__name__}")
        missing = {"root_index", "head_index", "target_length", "scale"} - set(state)
        if missing:
            raise ValueError(f"state: missing keys {sorted(missing)}")
        obj = cls(int(state["root_index"]), int(state["head_index"]), float(state["target_length"]))
        if state["scale"] is not None:
            scale = float(state["scale"])
            if not (math.isfinite(scale) and scale > 0):
                raise ValueError(f"state: scale must be finite and > 0, got {state['scale']!r}")
            obj.scale = scale
            obj.mean_length = None if state.get("mean_length") is None else float(state["mean_length"])
            obj.num_poses = int(state.get("num_poses", 0))
        return obj

    def __repr__(self) -> str:
        return (
            f"RootScaleNormalizer2D(root_index={self.root_index}, head_index={self.head_index}, "
            f"target_length={self.target_length}, scale={self.scale})"
        )
