"""Projection heads mapping encoder features to the space where contrastive losses are taken."""

from __future__ import annotations

from torch import Tensor, nn

__all__ = ["ProjectionHead"]


class ProjectionHead(nn.Module):
    """MLP projection head (SimCLR, Chen et al. 2020): ``[Linear, BN, ReLU] x (L-1), Linear``.

    Args:
        in_dim: Input feature size.
        hidden_dim: Width of the hidden layers.
        out_dim: Output (embedding) size.
        num_layers: Number of ``Linear`` layers ``L >= 1``; ``1`` is a single linear map.
        batch_norm: Insert ``BatchNorm1d`` after each hidden ``Linear`` (whose bias is then
            dropped, being redundant).

    Shapes:
        ``(..., in_dim) -> (..., out_dim)`` for any leading batch shape (batch norm statistics
        are taken over all leading positions together).

    Example:
        >>> from skelcl.contrastive import ProjectionHead
        >>> head = ProjectionHead(512, 256, 128)
        >>> head(torch.randn(4, 3, 512)).shape
        torch.Size([4, 3, 128])
    """

    def __init__(
        self,
        in_dim: int,
        hidden_dim: int,
        out_dim: int,
        num_layers: int = 2,
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        for name, v in (("in_dim", in_dim), ("hidden_dim", hidden_dim), ("out_dim", out_dim),
                        ("num_layers", num_layers)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name}: expected a positive integer, got {v!r}")
        self.in_dim, self.out_dim = in_dim, out_dim
        layers: list = []
        d = in_dim
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(d, hidden_dim, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(nn.ReLU(inplace=True))
            d = hidden_dim
        layers.append(nn.Linear(d, out_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Project ``x`` ``(..., in_dim)`` to ``(..., out_dim)``."""
        if x.ndim < 1 or x.shape[-1] != self.in_dim:
            raise ValueError(f"x: expected shape (..., {self.in_dim}), got {tuple(x.shape)}")
        lead = x.shape[:-1]
        return self.net(x.reshape(-1, self.in_dim)).reshape(*lead, self.out_dim)
