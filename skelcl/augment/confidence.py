"""Confidence masking: joints a detector is unsure about count as missing (paper Sec. 4.5)."""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import Tensor

from skelcl._validation import as_tensor
from skelcl.augment.base import Augmenter

__all__ = ["ConfidenceMask"]


class ConfidenceMask(Augmenter):
    """Hide every joint whose detector confidence is below ``threshold`` (deterministic).

    OCR-Pose treats joints with confidence below 0.1 as missing. Reads ``confidence`` ``(..., J)``
    from the call's context: ``aug(pose, confidence=c)``.

    Args:
        threshold: Joints with ``confidence < threshold`` are hidden (default 0.1).
        num_joints: Required ``J`` (``None``: any).
        fill_value: Value of hidden coordinates.

    Raises:
        ValueError: (on call) if ``confidence`` is missing, of the wrong shape, or NaN.

    Example:
        >>> from skelcl.augment import ConfidenceMask
        >>> aug = ConfidenceMask(0.1)
        >>> _, vis = aug(torch.zeros(1, 3, 2), confidence=torch.tensor([[0.9, 0.05, 0.1]]))
        >>> vis.tolist()
        [[True, False, True]]
    """

    context_keys = ("confidence",)

    def __init__(
        self, threshold: float = 0.1, num_joints: Optional[int] = None, fill_value: float = 0.0
    ) -> None:
        if not isinstance(threshold, (int, float)) or threshold != threshold:
            raise ValueError(f"threshold: expected a number, got {threshold!r}")
        super().__init__(num_joints, fill_value)
        self.threshold = float(threshold)

    def sample_mask(
        self, pose: Tensor, generator: Optional[torch.Generator], visible: Tensor, **context: Any
    ) -> Tensor:
        conf = context.get("confidence")
        if conf is None:
            raise ValueError("confidence: ConfidenceMask needs confidence=(..., J) scores")
        conf = as_tensor(conf, "confidence").to(pose.device)
        if conf.shape != pose.shape[:-1]:
            raise ValueError(
                f"confidence: expected shape {tuple(pose.shape[:-1])}, got {tuple(conf.shape)}"
            )
        if bool(torch.isnan(conf).any()):
            raise ValueError("confidence: contains NaN")
        return conf < self.threshold
