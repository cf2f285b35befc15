"""The normalising-flow 2D pose prior of ``examples/ocr_pose/experiments/flow_prior.py``.

Oracles: scipy's multivariate normal on NumPy's principal axes (the untrained flow is the PCA
Gaussian), a float64 autograd Jacobian for the coupling layers' log-determinant, and held-out
likelihood before and after fitting."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from examples.ocr_pose.experiments.flow_prior import PoseFlow, fit_pose_flow


def curved_poses(n: int, seed: int, joints: int = 6) -> torch.Tensor:
    """``(n, joints, 2)`` poses on a curved 3-parameter manifold plus noise, root at the origin
    (a non-Gaussian density with one coordinate pair of no spread)."""
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(n, 3, generator=g) * 2 - 1
    feats = torch.stack([a[:, 0], a[:, 1], a[:, 0] ** 2, a[:, 0] * a[:, 1], torch.sin(3 * a[:, 2]),
                         a[:, 2] ** 3, a[:, 1] ** 2 - a[:, 2], a[:, 0] - a[:, 2],
                         torch.cos(2 * a[:, 1]), a[:, 2], a[:, 0] * a[:, 2]], dim=1)
    p = torch.zeros(n, joints * 2)
    p[:, 2:] = feats[:, : joints * 2 - 2] + 0.02 * torch.randn(n, joints * 2 - 2, generator=g)
    return p.reshape(n, joints, 2)


def test_untrained_flow_is_the_whitened_pca_gaussian():
    poses = curved_poses(3000, 0)
    flow = PoseFlow(poses, n_pca=6, n_layers=3, hidden=16)
    x = poses.reshape(3000, -1).double().numpy()[:, 2:]  # the root pair has no spread
    mean = x.mean(0)
    w, v = np.linalg.eigh(np.cov(x.T))
    top = np.argsort(w)[::-1][:6]
    test = curved_poses(50, 1)
    u = (test.reshape(50, -1).double().numpy()[:, 2:] - mean) @ v[:, top]
    ref = -multivariate_normal(mean=np.zeros(6), cov=np.diag(w[top])).logpdf(u) / 6
    with torch.no_grad():
        got = flow.nll(test).double().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4)


def test_coupling_log_det_matches_an_autograd_jacobian():
    poses = curved_poses(500, 2)
    flow = PoseFlow(poses, n_pca=6, n_layers=4, hidden=16).double()
    g = torch.Generator().manual_seed(3)
    for layer in flow.layers:  # away from the identity start
        last = layer.net[-1]
        last.weight.data = torch.randn(last.weight.shape, generator=g, dtype=torch.float64)
        last.bias.data = torch.randn(last.bias.shape, generator=g, dtype=torch.float64)

    def stack(z):
        for layer in flow.layers:
            z, _ = layer(z[None])
            z = z[0]
        return z

    z0 = torch.randn(5, 6, generator=g, dtype=torch.float64)
    for z in z0:
        jac = torch.autograd.functional.jacobian(stack, z)
        want = torch.linalg.slogdet(jac).logabsdet
        zz, got = z[None], torch.zeros(1, dtype=torch.float64)
        for layer in flow.layers:
            zz, ld = layer(zz)
            got = got + ld
        assert abs(float(got.detach()) - float(want)) < 1e-9
        assert torch.linalg.matrix_rank(jac) == 6  # invertible


def test_fitting_lowers_the_held_out_nll_and_ranks_real_above_noise():
    poses = curved_poses(4000, 4)
    held = curved_poses(1000, 5)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        before = PoseFlow(poses[:2000], n_pca=8, n_layers=4, hidden=64).nll(held).mean()
    flow = fit_pose_flow(poses, 400, generator=g, batch=256, n_pca=8, n_layers=4, hidden=64,
                         log_every=10_000)
    after = flow.nll(held).mean()
    assert float(after) < float(before) - 0.3
    assert not any(p.requires_grad for p in flow.parameters())
    shuffled = held[:, torch.randperm(6, generator=g)]  # joints permuted: off the manifold
    assert float(flow.nll(shuffled).median()) > float(flow.nll(held).median()) + 1.0


def test_gradients_reach_the_input_poses():
    flow = PoseFlow(curved_poses(500, 6), n_pca=4, n_layers=2, hidden=8)
    x = curved_poses(8, 7).requires_grad_(True)
    flow.nll(x).sum().backward()
    assert torch.isfinite(x.grad).all() and float(x.grad[:, 1:].abs().sum()) > 0
    assert float(x.grad[:, 0].abs().sum()) == 0.0  # the dropped root coordinates


@pytest.mark.parametrize("shape", [(10, 6), (10, 6, 3), (1, 6, 2)])
def test_bad_poses_name_the_argument(shape):
    with pytest.raises(ValueError, match="poses"):
        PoseFlow(torch.randn(*shape), n_pca=2)


def test_bad_n_pca_names_the_argument():
    with pytest.raises(ValueError, match="n_pca"):
        PoseFlow(curved_poses(100, 8), n_pca=11)  # 10 coordinates with spread
    with pytest.raises(ValueError, match="poses"):
        fit_pose_flow(curved_poses(100, 8), 1, generator=torch.Generator())
