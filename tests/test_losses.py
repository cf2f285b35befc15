"""Tests of skelcl.losses: the view cycle (oracle lifters), pose/filling/LSGAN/rotation losses."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from skelcl.losses import (
    LiftCycle,
    filling_loss,
    lift_cycle,
    lsgan_discriminator_loss,
    lsgan_generator_loss,
    pose_l2_loss,
    rotation_consistency_loss,
)
from skelcl.models import DecoupledLiftingEncoder, LiftingNetwork

J = 17
D = 10.0


class DepthOnly(NamedTuple):
    depth: torch.Tensor


class OracleLifter(torch.nn.Module):
    """A perfect lifter for a known set of 3D poses: it finds the table pose whose perspective
    projection equals the query (nearest in max-abs distance) and returns its true relative depth
    ``z - D``. Written with numpy-free torch ops but independent of skelcl.geometry."""

    def __init__(self, table: torch.Tensor):
        super().__init__()
        self.register_buffer("table", table)  # (K, J, 3)
        self.register_buffer("table_2d", table[..., :2] / table[..., 2:3])

    def forward(self, pose_2d: torch.Tensor) -> DepthOnly:
        q = pose_2d.detach().reshape(-1, 1, J, 2)
        err = (q - self.table_2d).abs().amax(dim=(-1, -2))  # (N, K)
        best = err.argmin(dim=-1)
        assert bool((err.gather(1, best[:, None]) < 1e-9).all()), "query not in the oracle table"
        depth = self.table[best, :, 2] - D
        return DepthOnly(depth.reshape(pose_2d.shape[:-1]))


def random_poses(n: int, seed: int) -> np.ndarray:
    """Skeleton-sized 3D poses (float64): joints within ~1 unit of a root near (0, 0, D)."""
    rng = np.random.default_rng(seed)
    root = np.stack([rng.uniform(-1, 1, n), rng.uniform(-1, 1, n), D + rng.uniform(-2, 2, n)], -1)
    pts = root[:, None, :] + rng.normal(0, 0.4, (n, J, 3))
    pts[:, 0] = root
    return pts


def view_transform_np(x: np.ndarray, R: np.ndarray) -> np.ndarray:
    """T(X) = (X - X_root) R^T + (0, 0, D), a float64 loop oracle."""
    out = np.empty_like(x)
    for b in range(x.shape[0]):
        for j in range(J):
            out[b, j] = R[b] @ (x[b, j] - x[b, 0]) + np.array([0.0, 0.0, D])
    return out


def project_np(x: np.ndarray) -> np.ndarray:
    return x[..., :2] / x[..., 2:3]


# ---------------------------------------------------------------- the cycle


def test_cycle_identity_rotation_perfect_lifter_returns_input():
    x = random_poses(6, seed=0)
    R = np.broadcast_to(np.eye(3), (6, 3, 3))
    tx = view_transform_np(x, R)
    lifter = OracleLifter(torch.from_numpy(np.concatenate([x, tx])))
    j2d = torch.from_numpy(project_np(x))
    out = lift_cycle(lifter, j2d, torch.eye(3, dtype=torch.float64), clamp=None)
    np.testing.assert_allclose(out.pose_3d.numpy(), x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.rotated_3d.numpy(), tx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.rotated_2d.numpy(), project_np(tx), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.relifted_3d.numpy(), tx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.recovered_3d.numpy(), x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.recovered_2d.numpy(), j2d.numpy(), rtol=1e-12, atol=1e-12)


@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 8))
def test_cycle_random_rotation_perfect_lifter_zero_losses(seed, batch):
    """With a lifter that is exact on J2D and JR2D, L_2D = L_3D = 0 for any rotation."""
    x = random_poses(batch, seed)
    R = Rotation.random(batch, random_state=seed).as_matrix().reshape(batch, 3, 3)
    tx = view_transform_np(x, R)
    lifter = OracleLifter(torch.from_numpy(np.concatenate([x, tx])))
    j2d = torch.from_numpy(project_np(x))
    out = lift_cycle(lifter, j2d, torch.from_numpy(R), clamp=None)
    l2d = pose_l2_loss(out.recovered_2d, j2d)
    l3d = pose_l2_loss(out.relifted_3d, out.rotated_3d)
    assert float(l2d) < 1e-10 and float(l3d) < 1e-10
    np.testing.assert_allclose(out.rotated_3d.numpy(), tx, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out.recovered_3d.numpy(), x, rtol=1e-10, atol=1e-10)


class LinearLifter(torch.nn.Module):
    """depth = W vec(pose) + b, a smooth lifter for gradient checks (float64)."""

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.lin = torch.nn.Linear(2 * J, J, dtype=torch.float64)
        with torch.no_grad():
            self.lin.weight.copy_(0.5 * torch.randn(J, 2 * J, generator=g, dtype=torch.float64))
            self.lin.bias.zero_()

    def forward(self, pose_2d: torch.Tensor) -> DepthOnly:
        return DepthOnly(self.lin(pose_2d.flatten(-2)))


@pytest.mark.parametrize("detach", [True, False])
def test_cycle_relift_gradient_flows_only_through_depth(detach):
    """d(w . ĴR3D)/d JR2D equals the depth path's gradient (oracle computed here with autograd on
    the lifter alone); without the detach the x, y path adds w_xy * z exactly."""
    torch.manual_seed(0)
    lifter = LinearLifter()
    j2d = 0.1 * torch.randn(4, J, 2, dtype=torch.float64)
    R = torch.from_numpy(Rotation.random(4, random_state=1).as_matrix())
    out = lift_cycle(lifter, j2d, R, clamp=None, detach_relift_xy=detach)
    w = torch.randn(4, J, 3, dtype=torch.float64)
    (got,) = torch.autograd.grad((out.relifted_3d * w).sum(), out.rotated_2d)

    xy = out.rotated_2d.detach()
    leaf = xy.clone().requires_grad_()
    z = lifter(leaf).depth + D
    assert bool((z > 1).all())  # the max(1, .) is inactive
    coef = w[..., 0] * xy[..., 0] + w[..., 1] * xy[..., 1] + w[..., 2]
    (want,) = torch.autograd.grad((coef * z).sum(), leaf)
    if not detach:
        want = want + w[..., :2] * z.detach()[..., None]
    torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


def test_cycle_clamp_applies_to_jr2d_only():
    torch.manual_seed(2)
    lifter = LinearLifter()
    j2d = 0.3 * torch.randn(5, J, 2, dtype=torch.float64)
    R = torch.from_numpy(Rotation.random(5, random_state=3).as_matrix())
    free = lift_cycle(lifter, j2d, R, clamp=None)
    clamped = lift_cycle(lifter, j2d, R, clamp=0.2)
    assert float(free.rotated_2d.detach().abs().max()) > 0.2  # the bound is active somewhere
    expected = np.clip(free.rotated_2d.detach().numpy(), -0.2, 0.2)
    np.testing.assert_array_equal(clamped.rotated_2d.detach().numpy(), expected)
    torch.testing.assert_close(clamped.rotated_3d, free.rotated_3d)


@pytest.mark.parametrize("batch", [(), (3,), (2, 4)])
@pytest.mark.parametrize("per_sample_rotation", [False, True])
def test_cycle_shapes_with_networks(batch, per_sample_rotation):
    torch.manual_seed(3)
    lifter = DecoupledLiftingEncoder(J, 16, 1, occ_dim=8, rot_dim=4).eval()
    x = 0.1 * torch.randn(batch + (J, 2))
    R = torch.from_numpy(Rotation.random(int(np.prod(batch)), random_state=0).as_matrix())
    R = R.float().reshape(batch + (3, 3)) if per_sample_rotation else torch.eye(3)
    out = LiftCycle(lifter)(x, R)
    for name in ("pose_3d", "rotated_3d", "relifted_3d", "recovered_3d"):
        assert getattr(out, name).shape == batch + (J, 3), name
    for name in ("rotated_2d", "recovered_2d"):
        assert getattr(out, name).shape == batch + (J, 2), name
    assert out.lifted.f_occ.shape == batch + (8,)
    assert out.relifted.rotation.shape == batch + (3, 3)


def test_cycle_gradients_finite():
    torch.manual_seed(4)
    lifter = LiftingNetwork(J, channels=16, num_blocks=1).train()
    x = 0.1 * torch.randn(6, J, 2)
    R = torch.from_numpy(Rotation.random(6, random_state=4).as_matrix()).float()
    out = lift_cycle(lifter, x, R)
    loss = pose_l2_loss(out.recovered_2d, x) + pose_l2_loss(out.relifted_3d, out.rotated_3d)
    loss.backward()
    assert torch.isfinite(loss)
    for p in lifter.parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all())


def test_cycle_errors():
    lifter = LiftingNetwork(J, channels=8, num_blocks=1).eval()
    x = torch.zeros(4, J, 2)
    with pytest.raises(ValueError, match="poses_2d"):
        lift_cycle(lifter, torch.zeros(4, J, 3), torch.eye(3))
    with pytest.raises(ValueError, match="rotation"):
        lift_cycle(lifter, x, torch.eye(4))
    with pytest.raises(ValueError, match="rotation"):
        lift_cycle(lifter, x, torch.eye(3).expand(5, 3, 3))
    with pytest.raises(ValueError, match="rotation"):
        lift_cycle(lifter, x, torch.eye(3).expand(2, 4, 3, 3))
    with pytest.raises(ValueError, match="clamp"):
        lift_cycle(lifter, x, torch.eye(3), clamp=-0.2)
    with pytest.raises(ValueError, match="root_index"):
        lift_cycle(lifter, x, torch.eye(3), root_index=17)
    with pytest.raises(ValueError, match="pose_2d"):  # the lifter's own joint check
        lift_cycle(lifter, torch.zeros(4, 16, 2), torch.eye(3))


def test_cycle_torch_compile_smoke():
    """The whole cycle traces as one graph (fullgraph: no host syncs, no graph breaks); values and
    gradients equal eager mode. aot_eager keeps it fast on CPU (the lifter alone is compiled with
    inductor in test_models.py)."""
    torch.manual_seed(5)
    lifter = LiftingNetwork(J, channels=8, num_blocks=1, dropout=0.0, check_inputs=False)
    cycle = LiftCycle(lifter).train()
    x = 0.1 * torch.randn(4, J, 2)
    R = torch.from_numpy(Rotation.random(4, random_state=5).as_matrix()).float()
    compiled = torch.compile(cycle, backend="aot_eager", fullgraph=True)
    got, want = compiled(x, R), cycle(x, R)
    torch.testing.assert_close(got.recovered_2d, want.recovered_2d)
    torch.testing.assert_close(got.relifted_3d, want.relifted_3d)
    params = list(lifter.parameters())
    g_got = torch.autograd.grad(pose_l2_loss(got.recovered_2d, x), params)
    g_want = torch.autograd.grad(pose_l2_loss(want.recovered_2d, x), params)
    for a, b in zip(g_got, g_want):
        torch.testing.assert_close(a, b)


# ---------------------------------------------------------------- pose / filling losses


@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(1, 5),
    joints=st.integers(1, 6),
    dim=st.sampled_from([2, 3]),
    mask_kind=st.sampled_from(["none", "bool", "float"]),
)
def test_pose_l2_loss_matches_loop(seed, batch, joints, dim, mask_kind):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(2, batch, joints, dim))
    masks = {"bool": rng.random((batch, joints)) > 0.4, "float": rng.random((batch, joints))}
    m = masks.get(mask_kind)
    num = den = 0.0
    per = np.zeros((batch, joints))
    for i in range(batch):
        for j in range(joints):
            d = np.sqrt(sum((a[i, j, k] - b[i, j, k]) ** 2 for k in range(dim)))
            w = 1.0 if m is None else float(m[i, j])
            per[i, j] = w * d
            num += w * d
            den += w
    want = num / den if den > 0 else 0.0
    mask = None if m is None else torch.from_numpy(m)
    got = pose_l2_loss(torch.from_numpy(a), torch.from_numpy(b), mask=mask)
    np.testing.assert_allclose(float(got), want, rtol=1e-12, atol=1e-14)
    got_none = pose_l2_loss(torch.from_numpy(a), torch.from_numpy(b), mask=mask, reduction="none")
    np.testing.assert_allclose(got_none.numpy(), per, rtol=1e-12, atol=1e-14)


def test_pose_l2_loss_empty_mask_and_nan_in_unselected():
    a = torch.randn(3, J, 2, requires_grad=True)
    b = torch.randn(3, J, 2)
    loss = pose_l2_loss(a, b, mask=torch.zeros(3, J, dtype=torch.bool))
    loss.backward()
    assert float(loss.detach()) == 0.0 and bool((a.grad == 0).all())
    b2 = b.clone()
    b2[:, 5] = float("nan")
    keep = torch.ones(3, J, dtype=torch.bool)
    keep[:, 5] = False
    a.grad = None
    loss = pose_l2_loss(a, b2, mask=keep)
    loss.backward()
    want = pose_l2_loss(a.detach()[:, keep[0]], b[:, keep[0]])
    torch.testing.assert_close(loss.detach(), want)
    assert bool(torch.isfinite(a.grad).all())
    # zero distance: finite (zero) gradient
    c = b.clone().requires_grad_()
    pose_l2_loss(c, b).backward()
    assert bool((c.grad == 0).all())


def test_pose_l2_loss_errors():
    a = torch.zeros(4, J, 3)
    with pytest.raises(ValueError, match="target"):
        pose_l2_loss(a, torch.zeros(5, J, 3))
    with pytest.raises(ValueError, match="target"):
        pose_l2_loss(a, torch.zeros(4, J, 2))
    with pytest.raises(ValueError, match="mask"):
        pose_l2_loss(a, a, mask=torch.ones(4, J + 1, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask"):
        pose_l2_loss(a, a, mask=torch.ones(4, J, dtype=torch.int64))
    with pytest.raises(ValueError, match="reduction"):
        pose_l2_loss(a, a, reduction="sum")
    with pytest.raises(ValueError, match="pred"):
        pose_l2_loss(torch.zeros(0, J, 3), torch.zeros(0, J, 3))
    with pytest.raises(TypeError, match="pred"):
        pose_l2_loss(a.long(), a)


def test_filling_loss_masked_and_all():
    rng = np.random.default_rng(0)
    filled, complete = rng.normal(size=(2, 4, J, 2))
    visible = rng.random((4, J)) > 0.3
    dist = np.linalg.norm(filled - complete, axis=-1)
    f, c, v = map(torch.from_numpy, (filled, complete, visible))
    np.testing.assert_allclose(float(filling_loss(f, c, v)), dist[~visible].mean(), rtol=1e-12)
    np.testing.assert_allclose(float(filling_loss(f, c, v, on="all")), dist.mean(), rtol=1e-12)
    f.requires_grad_()
    none_masked = filling_loss(f, c, torch.ones(4, J, dtype=torch.bool))
    none_masked.backward()
    assert float(none_masked.detach()) == 0.0 and bool(torch.isfinite(f.grad).all())
    with pytest.raises(ValueError, match="on"):
        filling_loss(f, c, v, on="visible")
    with pytest.raises(TypeError, match="visible"):
        filling_loss(f, c, v.double())
    with pytest.raises(ValueError, match="visible"):
        filling_loss(f, c, v[:3])
    with pytest.raises(ValueError, match="target"):
        filling_loss(f, c[:3], v)


# ---------------------------------------------------------------- LSGAN


def test_lsgan_losses_match_formulas():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=7), rng.normal(size=(3, 4))
    g = lsgan_generator_loss(torch.from_numpy(fake))
    d = lsgan_discriminator_loss(torch.from_numpy(real), torch.from_numpy(fake))
    np.testing.assert_allclose(float(g), np.mean((fake - 1) ** 2), rtol=1e-12)
    np.testing.assert_allclose(float(d), np.mean((real - 1) ** 2) + np.mean(fake**2), rtol=1e-12)
    d2 = lsgan_discriminator_loss(torch.from_numpy(real), torch.from_numpy(fake), 0.9, -1.0)
    want = np.mean((real - 0.9) ** 2) + np.mean((fake + 1) ** 2)
    np.testing.assert_allclose(float(d2), want, rtol=1e-12)
    # optimum: real -> 1, fake -> 0
    assert float(lsgan_discriminator_loss(torch.ones(3), torch.zeros(5))) == 0.0
    assert float(lsgan_generator_loss(torch.ones(3))) == 0.0
    with pytest.raises(ValueError, match="d_fake"):
        lsgan_generator_loss(torch.zeros(0))
    with pytest.raises(TypeError, match="d_real"):
        lsgan_discriminator_loss(torch.zeros(3, dtype=torch.long), torch.zeros(3))


# ---------------------------------------------------------------- rotation consistency


@pytest.mark.parametrize("kind", ["geodesic", "frobenius"])
@given(seed=st.integers(0, 2**31 - 1), angle=st.floats(0.01, 3.1))
def test_rotation_loss_known_perturbation(kind, seed, angle):
    """rot_relifted = R* Q P with P a known rotation: geodesic = angle of P (scipy magnitude),
    Frobenius = |P - I|_F; rot_relifted = R* Q gives 0."""
    rng = np.random.default_rng(seed)
    n = 3
    Q = Rotation.random(n, random_state=rng.integers(1 << 31)).as_matrix()
    Rs = Rotation.random(n, random_state=rng.integers(1 << 31)).as_matrix()
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    P = Rotation.from_rotvec(axis * angle)
    t = torch.from_numpy
    consistent = rotation_consistency_loss(t(Rs @ Q), t(Q), t(Rs), kind=kind, reduction="none")
    np.testing.assert_allclose(consistent.numpy(), 0.0, atol=1e-7)
    perturbed = t(Rs @ Q @ P.as_matrix())
    got = rotation_consistency_loss(perturbed, t(Q), t(Rs), kind=kind, reduction="none")
    if kind == "geodesic":
        want = P.magnitude()
    else:
        want = np.linalg.norm(P.as_matrix() - np.eye(3), axis=(-2, -1))
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("kind", ["geodesic", "frobenius"])
def test_rotation_loss_gradients_and_broadcast(kind):
    torch.manual_seed(6)
    enc = DecoupledLiftingEncoder(J, 16, 1, occ_dim=8, rot_dim=4).train()
    x = 0.1 * torch.randn(2, 3, J, 2)
    out = enc(x)
    Rs = torch.from_numpy(Rotation.random(1, random_state=0).as_matrix()).float()  # broadcasts
    loss = rotation_consistency_loss(out.rotation, out.rotation.detach(), Rs, kind=kind)
    loss.backward()
    assert loss.ndim == 0 and bool(torch.isfinite(loss))
    assert all(p.grad is None or bool(torch.isfinite(p.grad).all()) for p in enc.parameters())
    # zero distance: finite gradient
    R = torch.eye(3).repeat(4, 1, 1).requires_grad_()
    rotation_consistency_loss(R, torch.eye(3).repeat(4, 1, 1), torch.eye(3), kind=kind).backward()
    assert bool(torch.isfinite(R.grad).all())


def test_rotation_loss_errors():
    R = torch.eye(3).repeat(4, 1, 1)
    with pytest.raises(ValueError, match="kind"):
        rotation_consistency_loss(R, R, R, kind="chordal")
    with pytest.raises(ValueError, match="broadcast"):
        rotation_consistency_loss(R, R[:3], R)
    with pytest.raises(ValueError, match="view_rotation"):
        rotation_consistency_loss(R, R, torch.eye(4))
    with pytest.raises(ValueError, match="reduction"):
        rotation_consistency_loss(R, R, R, reduction="sum")
