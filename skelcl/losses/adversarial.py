"""Least-squares GAN losses (Mao et al., ICCV 2017) as used by the adversarial lifting baseline
(METHOD.md §2): the discriminator scores real 2D poses ``J2D`` against re-projected ``JR2D``."""

from __future__ import annotations

import torch

from .._validation import check_float, check_nonempty


def _scores(x: torch.Tensor, name: str) -> torch.Tensor:
    check_float(x, name)
    check_nonempty(x, name)
    return x


def lsgan_generator_loss(d_fake: torch.Tensor, real_target: float = 1.0) -> torch.Tensor:
    """Generator loss ``mean((D(fake) - real_target)²)``.

    Args:
        d_fake: discriminator scores of generated poses ``Disc(JR2D)``, any shape (non-empty).
        real_target: the label the generator aims for (1).

    Returns:
        A scalar.
    """
    _scores(d_fake, "d_fake")
    return (d_fake - real_target).square().mean()


def lsgan_discriminator_loss(
    d_real: torch.Tensor,
    d_fake: torch.Tensor,
    real_target: float = 1.0,
    fake_target: float = 0.0,
) -> torch.Tensor:
    """Discriminator loss ``mean((D(real) - 1)²) + mean((D(fake) - 0)²)``.

    The two means are taken separately (real and fake batches may differ in size) and summed
    without the factor 1/2 some papers use (METHOD.md §2). Detach the generator output before
    scoring it (``Disc(JR2D.detach())``) so that this loss does not reach the lifter.

    Args:
        d_real: scores of real poses ``Disc(J2D)``, any shape (non-empty).
        d_fake: scores of generated poses, any shape (non-empty).
        real_target: label of real poses (1).
        fake_target: label of generated poses (0).

    Returns:
        A scalar.
    """
    _scores(d_real, "d_real")
    _scores(d_fake, "d_fake")
    return (d_real - real_target).square().mean() + (d_fake - fake_target).square().mean()


__all__ = ["lsgan_generator_loss", "lsgan_discriminator_loss"]
