"""Weight initialisation schemes of the skelcl networks.

- Lifting networks and the decoupled encoder use :func:`init_lifter_weights`: He (Kaiming) normal
  weights for every ``Linear`` (fan-in, ReLU gain, as in Martinez et al., ICCV 2017, whose residual
  MLP the baseline lifter follows), zero biases, and ``BatchNorm`` with weight 1 and bias 0.
- The discriminator uses :func:`init_normal_weights` with ``std = 0.02`` (METHOD.md §2; the DCGAN
  convention of Radford et al., 2016): every ``Linear`` weight drawn from ``N(0, 0.02²)``, zero
  biases, ``BatchNorm`` weight 1 and bias 0.
- The pose filling network keeps PyTorch's default ``Linear`` initialisation (Kaiming uniform).

Both functions draw from torch's global generator unless ``generator`` is given, so seed with
:func:`torch.manual_seed` (or pass a generator) for reproducible weights.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import nn


def init_lifter_weights(module: nn.Module, generator: Optional[torch.Generator] = None) -> None:
    """Initialise ``module`` in place: Kaiming-normal ``Linear`` weights, zero biases, unit BN.

    Args:
        module: any module; every ``nn.Linear`` and ``nn.BatchNorm1d`` inside it is reset.
        generator: optional random generator (must live on the parameters' device).
    """
    _init_linear_and_batchnorm(module, lambda m: math.sqrt(2.0 / m.in_features), generator)


def init_normal_weights(
    module: nn.Module, std: float = 0.02, generator: Optional[torch.Generator] = None
) -> None:
    """Initialise ``module`` in place: ``Linear`` weights ``N(0, std²)``, zero biases, unit BN.

    Args:
        module: any module; every ``nn.Linear`` and ``nn.BatchNorm1d`` inside it is reset.
        std: standard deviation of the weights (0.02 for the OCR-Pose discriminator).
        generator: optional random generator (must live on the parameters' device).
    """
    _init_linear_and_batchnorm(module, lambda m: std, generator)


def _init_linear_and_batchnorm(
    module: nn.Module,
    weight_std: Callable[[nn.Linear], float],
    generator: Optional[torch.Generator],
) -> None:
    """``Linear`` weights ``N(0, weight_std(layer)²)``, zero biases; BN weight 1, bias 0."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            with torch.no_grad():
                m.weight.normal_(0.0, weight_std(m), generator=generator)
                if m.bias is not None:
                    m.bias.zero_()
        elif isinstance(m, nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
