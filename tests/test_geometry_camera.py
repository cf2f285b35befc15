"""Cameras and the OCR-Pose view transform of skelcl.geometry, against float64 numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation as ScipyRotation

import skelcl.geometry as g
from conftest import devices

BATCH_SHAPES = [(), (1,), (4,), (2, 3)]
DTYPES = [torch.float32, torch.float64]
RTOL = {torch.float32: 1e-5, torch.float64: 1e-12}

seeds = st.integers(0, 2**31 - 1)
shapes = st.sampled_from(BATCH_SHAPES)
joints = st.integers(1, 17)


def random_points(seed: int, shape: tuple, num_joints: int, z_min: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(*shape, num_joints, 3))
    p[..., 2] = rng.uniform(z_min, 12.0, size=(*shape, num_joints))
    return p


def t(a, dtype=torch.float64, device="cpu"):
    return torch.as_tensor(np.array(a), dtype=dtype, device=device)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", devices())
@given(seed=seeds, shape=shapes, num_joints=joints)
def test_project_unproject_round_trip(dtype, device, seed, shape, num_joints):
    x = random_points(seed, shape, num_joints)
    p = g.project(t(x, dtype, device))
    assert p.shape == (*shape, num_joints, 2) and p.dtype == dtype and p.device.type == device
    np.testing.assert_allclose(p.double().cpu().numpy(), x[..., :2] / x[..., 2:], rtol=10 * RTOL[dtype], atol=1e-6 * (dtype == torch.float32))
    back = g.unproject(p, t(x[..., 2], dtype, device))
    np.testing.assert_allclose(back.double().cpu().numpy(), x, rtol=10 * RTOL[dtype], atol=1e-5 * (dtype == torch.float32))


def test_project_depth_errors_and_guards():
    x = torch.tensor([[0.1, 0.2, 2.0], [0.3, -0.1, 0.0]])
    with pytest.raises(ValueError, match="points_3d"):
        g.project(x)
    with pytest.raises(ValueError, match="points_3d"):
        g.project(x * torch.tensor([1.0, 1.0, -1.0]))
    # documented guard: clamp to min_depth
    np.testing.assert_allclose(g.project(x, min_depth=0.5).numpy(), [[0.05, 0.1], [0.6, -0.2]], rtol=1e-6)
    # documented opt-out: no check, no host sync, inf is the user's responsibility
    assert torch.isinf(g.project(x, check=False)[1]).all()
    with pytest.raises(ValueError, match="min_depth"):
        g.project(x, min_depth=0.0)


@given(seed=seeds, shape=shapes, num_joints=joints)
def test_depth_to_points_matches_formula(seed, shape, num_joints):
    rng = np.random.default_rng(seed)
    xy = rng.normal(size=(*shape, num_joints, 2)) * 0.1
    d = rng.normal(size=(*shape, num_joints)) * 6.0  # some d + 10 < 1 get clamped
    out = g.depth_to_points(t(xy), t(d), distance=10.0, min_depth=1.0).numpy()
    z = np.maximum(1.0, d + 10.0)
    expected = np.concatenate([xy * z[..., None], z[..., None]], -1)
    np.testing.assert_allclose(out, expected, rtol=1e-12)
    np.testing.assert_allclose(g.project(t(out)).numpy(), xy, rtol=1e-12, atol=1e-15)
    unclamped = g.depth_to_points(t(xy), t(d), distance=3.0, min_depth=None).numpy()
    np.testing.assert_allclose(unclamped[..., 2], d + 3.0, rtol=1e-12)


def test_depth_to_points_gradient_and_clamp():
    xy = torch.tensor([[0.1, -0.2], [0.0, 0.05]], dtype=torch.float64)
    d = torch.tensor([0.5, -20.0], dtype=torch.float64, requires_grad=True)
    g.depth_to_points(xy, d)[..., 2].sum().backward()
    np.testing.assert_array_equal(d.grad.numpy(), [1.0, 0.0])  # clamped joint gets zero gradient


@given(seed=seeds, shape=shapes, num_joints=joints)
def test_weak_perspective(seed, shape, num_joints):
    x = random_points(seed, shape, num_joints, z_min=5.0)
    out = g.weak_perspective_project(t(x)).numpy()
    np.testing.assert_allclose(out, x[..., :2] / x[..., 2].mean(-1)[..., None, None], rtol=1e-12)
    ref = np.random.default_rng(seed).uniform(1, 3, size=shape)
    out = g.weak_perspective_project(t(x), reference_depth=t(ref)).numpy()
    np.testing.assert_allclose(out, x[..., :2] / np.asarray(ref)[..., None, None], rtol=1e-12)
    # a pose flat in depth: weak perspective equals perspective
    x[..., 2] = 7.0
    np.testing.assert_allclose(g.weak_perspective_project(t(x)).numpy(), g.project(t(x)).numpy(), rtol=1e-12)


@given(seed=seeds, shape=shapes)
def test_pixels_normalized_round_trip(seed, shape):
    rng = np.random.default_rng(seed)
    px = rng.uniform(0, 1000, size=(*shape, 17, 2))
    f, c = np.array([1145.0, 1143.5]), np.array([512.5, 515.4])
    n = g.pixels_to_normalized(t(px), t(f), t(c)).numpy()
    np.testing.assert_allclose(n, (px - c) / f, rtol=1e-12)
    np.testing.assert_allclose(g.normalized_to_pixels(t(n), t(f), t(c)).numpy(), px, rtol=1e-12, atol=1e-9)
    n_scalar = g.pixels_to_normalized(t(px), 1150.0, 500.0).numpy()
    np.testing.assert_allclose(n_scalar, (px - 500.0) / 1150.0, rtol=1e-12)


def test_pixels_per_pose_intrinsics_and_consistency_with_project():
    rng = np.random.default_rng(0)
    x = random_points(0, (3,), 17)
    f = rng.uniform(900, 1200, size=(3, 1, 2))
    c = rng.uniform(400, 600, size=(3, 1, 2))
    px = f * x[..., :2] / x[..., 2:] + c  # the pinhole model written out
    n = g.pixels_to_normalized(t(px), t(f), t(c))
    np.testing.assert_allclose(n.numpy(), g.project(t(x)).numpy(), rtol=1e-10)
    with pytest.raises(ValueError, match="focal"):
        g.pixels_to_normalized(t(px), t(np.ones((4, 2))), t(c))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", devices())
@given(seed=seeds, shape=shapes, num_joints=st.integers(2, 17))
def test_view_transform_matches_oracle_and_inverts(dtype, device, seed, shape, num_joints):
    rng = np.random.default_rng(seed)
    x = random_points(seed, shape, num_joints)
    n = int(np.prod(shape)) if shape else 1
    r = ScipyRotation.random(n, random_state=seed).as_matrix().reshape(*shape, 3, 3)
    root_index = int(rng.integers(num_joints))
    out = g.view_transform(t(x, dtype, device), t(r, dtype, device), distance=10.0, root_index=root_index)
    assert out.shape == x.shape and out.dtype == dtype
    # oracle: explicit per-joint matrix-vector products in float64
    flat_x, flat_r = x.reshape(n, num_joints, 3), r.reshape(n, 3, 3)
    expected = np.empty_like(flat_x)
    for b in range(n):
        for j in range(num_joints):
            expected[b, j] = flat_r[b] @ (flat_x[b, j] - flat_x[b, root_index]) + [0, 0, 10.0]
    atol = 1e-4 if dtype == torch.float32 else 1e-11
    np.testing.assert_allclose(out.double().cpu().numpy().reshape(n, num_joints, 3), expected, atol=atol)
    np.testing.assert_allclose(out[..., root_index, :].double().cpu().numpy(), np.broadcast_to([0, 0, 10.0], (*shape, 3)), atol=atol)
    root = t(x[..., root_index : root_index + 1, :], dtype, device)
    back = g.inverse_view_transform(out, t(r, dtype, device), root, distance=10.0)
    np.testing.assert_allclose(back.double().cpu().numpy(), x, atol=atol)
    back2 = g.inverse_view_transform(out, t(r, dtype, device), root[..., 0, :], distance=10.0)
    np.testing.assert_allclose(back2.double().cpu().numpy(), x, atol=atol)


def test_view_transform_preserves_bone_lengths_and_broadcasts_rotation():
    x = random_points(1, (5,), 17)
    r = g.random_rotation(generator=torch.Generator().manual_seed(0), dtype=torch.float64)  # one R for all
    out = g.view_transform(t(x), r, distance=t(np.full(5, 4.0))).numpy()
    np.testing.assert_allclose(out[:, 0], np.broadcast_to([0, 0, 4.0], (5, 3)), atol=1e-12)
    pair = np.linalg.norm(x[:, :, None] - x[:, None], axis=-1)
    np.testing.assert_allclose(np.linalg.norm(out[:, :, None] - out[:, None], axis=-1), pair, atol=1e-12)


def test_compile_smoke_camera():
    def cycle(xy, d, r):
        x3 = g.depth_to_points(xy, d)
        y = g.view_transform(x3, r)
        back = g.inverse_view_transform(y, r, x3[..., :1, :])
        return g.project(y, check=False).sum() + g.project(back, min_depth=0.1).sum()

    gen = torch.Generator().manual_seed(0)
    xy = torch.randn(2, 17, 2, generator=gen) * 0.1
    d = torch.randn(2, 17, generator=gen, requires_grad=True)
    r = g.random_rotation(2, generator=gen)
    compiled = torch.compile(cycle, backend="eager", fullgraph=True)
    out = compiled(xy, d, r)
    torch.testing.assert_close(out, cycle(xy, d, r))
    out.backward()
    assert torch.isfinite(d.grad).all()


@pytest.mark.parametrize(
    "call, name, exc",
    [
        (lambda: g.project(torch.ones(17, 2)), "points_3d", ValueError),
        (lambda: g.project(torch.ones(17, 3, dtype=torch.bool)), "points_3d", TypeError),
        (lambda: g.project("points"), "points_3d", TypeError),
        (lambda: g.unproject(torch.ones(4, 17, 3), torch.ones(4, 17)), "points_2d", ValueError),
        (lambda: g.unproject(torch.ones(4, 17, 2), torch.ones(4, 16)), "depth", ValueError),
        (lambda: g.depth_to_points(torch.ones(17, 2), torch.ones(17, 2)), "depth", ValueError),
        (lambda: g.depth_to_points(torch.ones(17, 2), torch.ones(17), distance="10"), "distance", TypeError),
        (lambda: g.depth_to_points(torch.ones(17, 2), torch.ones(17), min_depth=-1.0), "min_depth", ValueError),
        (lambda: g.weak_perspective_project(torch.ones(2, 17, 3), torch.ones(2, 17)), "reference_depth", ValueError),
        (lambda: g.normalized_to_pixels(torch.ones(17, 3), 1.0, 0.0), "points", ValueError),
        (lambda: g.view_transform(torch.ones(17, 3), torch.eye(2)), "rotation", ValueError),
        (lambda: g.view_transform(torch.ones(17, 3), torch.eye(3), root_index=17), "root_index", ValueError),
        (lambda: g.inverse_view_transform(torch.ones(4, 17, 3), torch.eye(3), torch.ones(4, 2, 3)), "root", ValueError),
    ],
)
def test_errors_name_the_argument(call, name, exc):
    with pytest.raises(exc, match=name):
        call()
