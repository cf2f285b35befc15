"""Tests of skelcl.contrastive.ProjectionHead."""

from __future__ import annotations

import pytest
import torch

from skelcl.contrastive import ProjectionHead


@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 2)])
@pytest.mark.parametrize("layers", [1, 2, 3])
def test_shapes_and_gradients(shape, layers):
    head = ProjectionHead(8, 16, 4, num_layers=layers)
    x = torch.randn(*shape, 8, requires_grad=True)
    y = head(x)
    assert y.shape == (*shape, 4)
    y.square().sum().backward()
    assert bool(torch.isfinite(x.grad).all())
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in head.modules())
    assert n_linear == layers


def test_leading_shapes_are_flattened_consistently():
    head = ProjectionHead(6, 10, 3, batch_norm=False).double()
    x = torch.randn(4, 5, 6, dtype=torch.float64)
    torch.testing.assert_close(head(x), head(x.reshape(20, 6)).reshape(4, 5, 3))
    lin1, lin2 = head.net[0], head.net[2]
    torch.testing.assert_close(head(x), lin2(torch.relu(lin1(x))))  # the documented formula


def test_batch_norm_eval_is_affine_per_feature():
    head = ProjectionHead(3, 5, 2, batch_norm=True).eval()
    assert any(isinstance(m, torch.nn.BatchNorm1d) for m in head.modules())
    x = torch.randn(7, 3)
    torch.testing.assert_close(head(x)[:1], head(x[:1]))  # eval: samples independent


def test_errors():
    with pytest.raises(ValueError, match="num_layers"):
        ProjectionHead(3, 4, 2, num_layers=0)
    with pytest.raises(ValueError, match="in_dim"):
        ProjectionHead(0, 4, 2)
    with pytest.raises(ValueError, match="x"):
        ProjectionHead(3, 4, 2)(torch.randn(2, 4))
