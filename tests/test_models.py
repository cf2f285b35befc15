"""Tests of skelcl.models: shapes, dtypes, errors, gradients, SO(3) output, filling fusion, init."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conftest import devices
from skelcl.models import (
    DecoupledLiftingEncoder,
    LiftingNetwork,
    PoseDiscriminator,
    PoseFillingNetwork,
    ResidualBlock,
)

J = 17
BATCH_SHAPES = [(), (3,), (2, 4)]


def small_models():
    """One small instance of every network that takes a 2D pose."""
    torch.manual_seed(0)
    return {
        "lifter": LiftingNetwork(J, channels=32, num_blocks=2),
        "decoupled": DecoupledLiftingEncoder(J, channels=32, num_blocks=2, occ_dim=24, rot_dim=8),
        "discriminator": PoseDiscriminator(J, channels=32),
    }


def expected_shapes(kind: str, batch: tuple) -> dict:
    if kind == "lifter":
        return {"depth": batch + (J,), "features": batch + (32,)}
    if kind == "decoupled":
        return {
            "depth": batch + (J,),
            "f_occ": batch + (24,),
            "f_rot": batch + (8,),
            "rotation": batch + (3, 3),
        }
    return {"score": batch}


def outputs(kind: str, out) -> dict:
    return {"score": out} if kind == "discriminator" else out._asdict()


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("kind", ["lifter", "decoupled", "discriminator"])
@pytest.mark.parametrize(
    "batch, training",
    # a single pose in training mode is an error for BatchNorm (see test_input_errors)
    [(b, False) for b in BATCH_SHAPES] + [(b, True) for b in BATCH_SHAPES if b],
)
def test_output_shapes_finite(kind, batch, training, device):
    model = small_models()[kind].to(device).train(training)
    x = (0.1 * torch.randn(batch + (J, 2))).to(device)
    got = outputs(kind, model(x))
    want = expected_shapes(kind, batch)
    assert {k: tuple(v.shape) for k, v in got.items()} == want
    assert all(bool(torch.isfinite(v).all()) for v in got.values())


@pytest.mark.parametrize("kind", ["lifter", "decoupled", "discriminator"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_gradients_finite_and_reach_every_parameter(kind, dtype):
    model = small_models()[kind].to(dtype).train()
    x = (0.1 * torch.randn(5, J, 2, dtype=dtype)).requires_grad_()
    got = outputs(kind, model(x))
    assert all(v.dtype == dtype for v in got.values())
    loss = sum(v.square().sum() for v in got.values())
    loss.backward()
    assert x.grad is not None and bool(torch.isfinite(x.grad).all())
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert bool(torch.isfinite(p.grad).all()), name


@pytest.mark.parametrize("kind", ["lifter", "decoupled"])
def test_leading_dims_equal_flattened_batch_in_training(kind):
    """BatchNorm statistics are taken over all leading dimensions flattened together."""
    torch.manual_seed(1)
    model = {
        "lifter": LiftingNetwork(J, channels=16, num_blocks=1, dropout=0.0),
        "decoupled": DecoupledLiftingEncoder(J, 16, 1, occ_dim=8, rot_dim=4, dropout=0.0),
    }[kind].train()
    x = torch.randn(2, 3, J, 2)
    a = model(x).depth
    b = model(x.reshape(6, J, 2)).depth.reshape(2, 3, J)
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kind", ["lifter", "decoupled", "discriminator"])
def test_input_errors(kind):
    model = small_models()[kind].eval()
    with pytest.raises(ValueError, match=r"pose_2d.*17, 2"):
        model(torch.zeros(4, 16, 2))
    with pytest.raises(ValueError, match=r"pose_2d.*17, 2"):
        model(torch.zeros(4, 17, 3))
    with pytest.raises(ValueError, match="pose_2d"):
        model(torch.zeros(2))
    bad = torch.zeros(4, J, 2)
    bad[2, 5, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        model(bad)
    with pytest.raises(TypeError, match="dtype"):
        model(torch.zeros(4, J, 2, dtype=torch.float64))
    with pytest.raises(TypeError, match="pose_2d"):
        model(torch.zeros(4, J, 2, dtype=torch.int64))
    model.train()
    with pytest.raises(ValueError, match="BatchNorm"):
        model(torch.zeros(1, J, 2))


def test_nan_check_can_be_disabled():
    model = LiftingNetwork(J, channels=16, check_inputs=False).eval()
    x = torch.zeros(2, J, 2)
    x[0, 0, 0] = float("nan")
    assert bool(torch.isnan(model(x).depth[0]).all())


def test_lift_uses_depth_to_points_convention():
    """``lift`` gives (x z, y z, z) with z = max(1, d + 10) (float64 oracle written here)."""
    model = LiftingNetwork(J, channels=16).double().eval()
    x = 0.1 * torch.randn(3, J, 2, dtype=torch.float64)
    with torch.no_grad():
        # push some depths below the bound to exercise the max
        model.depth_head.bias.copy_(torch.linspace(-12.0, 3.0, J, dtype=torch.float64))
        d = model(x).depth.numpy()
        pts = model.lift(x).numpy()
    z = np.maximum(1.0, d + 10.0)
    want = np.concatenate([x.numpy() * z[..., None], z[..., None]], axis=-1)
    np.testing.assert_allclose(pts, want, rtol=1e-12, atol=1e-12)


def test_residual_block_matches_formula():
    """Eval-mode block = two [Linear, BN, ReLU] layers + Linear(C+2J, C)(concat(x, pose))."""
    torch.manual_seed(2)
    c, p = 6, 2 * J
    block = ResidualBlock(c, p, dropout=0.25).double()
    with torch.no_grad():  # non-trivial running statistics and affine parameters
        for bn in (block.main[1], block.main[5]):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    block.eval()
    x = torch.randn(2, 5, c, dtype=torch.float64)
    pose = torch.randn(2, 5, p, dtype=torch.float64)
    got = block(x, pose).detach().numpy()

    P = {k: v.detach().numpy() for k, v in block.state_dict().items()}

    def layer(h, lin, bn):
        h = h @ P[f"main.{lin}.weight"].T + P[f"main.{lin}.bias"]
        h = (h - P[f"main.{bn}.running_mean"]) / np.sqrt(P[f"main.{bn}.running_var"] + 1e-5)
        h = h * P[f"main.{bn}.weight"] + P[f"main.{bn}.bias"]
        return np.maximum(h, 0.0)

    xn, pn = x.numpy(), pose.numpy()
    main = layer(layer(xn, 0, 1), 4, 5)
    short = np.concatenate([xn, pn], -1) @ P["shortcut.weight"].T + P["shortcut.bias"]
    np.testing.assert_allclose(got, main + short, rtol=1e-12, atol=1e-12)
    assert block.shortcut.in_features == c + p
    with pytest.raises(ValueError, match="pose_flat"):
        block(x, pose[:1])


def test_decoupled_rotation_in_so3_float64():
    torch.manual_seed(3)
    enc = DecoupledLiftingEncoder(J, 32, 2, occ_dim=16, rot_dim=8).double().train()
    with torch.no_grad():  # move the decoder far from its identity initialisation
        enc.rot_decoder.weight.normal_(0, 3.0)
        enc.rot_decoder.bias.normal_(0, 3.0)
    x = torch.randn(64, J, 2, dtype=torch.float64)
    R = enc(x).rotation.detach().numpy()
    eye = np.broadcast_to(np.eye(3), R.shape)
    np.testing.assert_allclose(np.swapaxes(R, -1, -2) @ R, eye, atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    # not all the same rotation (the decoder really reads f_rot)
    assert np.ptp(R.reshape(64, 9), axis=0).max() > 0.1


def test_decoupled_initial_rotation_near_identity_and_encode_occ():
    torch.manual_seed(4)
    enc = DecoupledLiftingEncoder(J, 32, 2, occ_dim=16, rot_dim=8).eval()
    x = 0.1 * torch.randn(4, 3, J, 2)
    out = enc(x)
    torch.testing.assert_close(enc.encode_occ(x), out.f_occ)
    assert enc.encode_occ(x).shape == (4, 3, 16)
    # bias of the 6D decoder is the identity's 6D vector
    assert torch.equal(enc.rot_decoder.bias.detach(), torch.tensor([1.0, 0, 0, 0, 1, 0]))


def test_decoupled_depth_reads_rotation():
    """With depth_input="rotation", substituting another rotation changes the depth."""
    torch.manual_seed(5)
    enc = DecoupledLiftingEncoder(J, 32, 2, occ_dim=16, rot_dim=8).eval()
    out = enc(0.1 * torch.randn(4, J, 2))
    same = enc.decode_depth(out.f_occ, out.rotation)
    torch.testing.assert_close(same, out.depth)
    flipped = enc.decode_depth(out.f_occ, -out.rotation)
    assert not torch.allclose(flipped, out.depth)
    feat = DecoupledLiftingEncoder(J, 32, 2, occ_dim=16, rot_dim=8, depth_input="feature").eval()
    assert feat(torch.zeros(2, J, 2)).depth.shape == (2, J)


def test_decoupled_bad_options():
    with pytest.raises(ValueError, match="rotation_representation"):
        DecoupledLiftingEncoder(rotation_representation="euler")
    with pytest.raises(ValueError, match="depth_input"):
        DecoupledLiftingEncoder(depth_input="both")


# ---------------------------------------------------------------- filling network


@pytest.mark.parametrize("batch", BATCH_SHAPES)
def test_filling_shapes(batch):
    net = PoseFillingNetwork(J)
    out = net(torch.randn(batch + (J, 2)), torch.rand(batch + (J,)) > 0.3)
    assert out.filled.shape == batch + (J, 2)
    assert out.raw.shape == batch + (J, 2)
    assert out.weight.shape == batch + (J,)
    assert len([m for m in net.net if isinstance(m, torch.nn.Linear)]) == 4


@given(
    seed=st.integers(0, 2**31 - 1),
    batch=st.integers(1, 6),
    threshold=st.floats(0.0, 0.9),
    use_bool=st.booleans(),
)
def test_filling_fusion_formula(seed, batch, threshold, use_bool):
    """filled = c x + (1 - c) raw with c = mask or thresholded confidence (float64 loop oracle),
    and missing joints are zeroed in the network input (their values are never read)."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = PoseFillingNetwork(J, hidden=16, threshold=threshold).double()
    pose = torch.randn(batch, J, 2, generator=g, dtype=torch.float64)
    conf = torch.rand(batch, J, generator=g, dtype=torch.float64)
    arg = conf > 0.5 if use_bool else conf
    out = net(pose, arg)
    raw, filled = out.raw.detach().numpy(), out.filled.detach().numpy()
    want = np.empty_like(filled)
    for b in range(batch):
        for j in range(J):
            if use_bool:
                c = 1.0 if conf[b, j] > 0.5 else 0.0
            else:
                c = float(conf[b, j]) if conf[b, j] >= threshold else 0.0
            want[b, j] = c * pose[b, j].numpy() + (1 - c) * raw[b, j]
    np.testing.assert_allclose(filled, want, rtol=1e-12, atol=1e-12)

    missing = out.weight == 0
    poisoned = pose.clone()
    poisoned[missing] = float("nan")
    out2 = net(poisoned, arg)
    torch.testing.assert_close(out2.raw, out.raw, rtol=0, atol=0)
    assert bool(torch.isfinite(out2.filled).all())
    # network input = zeroed pose + mask
    zeroed = torch.where(missing[..., None], torch.zeros_like(pose), pose)
    net_in = torch.cat([zeroed.flatten(1), (~missing).double()], -1)
    torch.testing.assert_close(out.raw, net.net(net_in).reshape(batch, J, 2))


def test_filling_visible_joints_unchanged_bitwise():
    net = PoseFillingNetwork(J)
    pose = torch.randn(4, 5, J, 2)
    visible = torch.rand(4, 5, J) > 0.2
    out = net(pose, visible)
    assert torch.equal(out.filled[visible], pose[visible])
    assert torch.equal(out.filled[~visible], out.raw[~visible])


def test_filling_errors_and_gradients():
    net = PoseFillingNetwork(J)
    pose = torch.randn(3, J, 2)
    vis = torch.ones(3, J, dtype=torch.bool)
    with pytest.raises(ValueError, match="pose_2d"):
        net(torch.randn(3, 16, 2), vis[:, :16])
    with pytest.raises(ValueError, match="visible_or_confidence"):
        net(pose, vis[:2])
    with pytest.raises(TypeError, match="visible_or_confidence"):
        net(pose, vis.long())
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        net(pose, torch.full((3, J), 1.5))
    bad = pose.clone()
    bad[1, 2, 0] = float("inf")
    with pytest.raises(ValueError, match="NaN or inf"):
        net(bad, vis)
    with pytest.raises(ValueError, match="num_layers"):
        PoseFillingNetwork(num_layers=1)
    x = pose.clone().requires_grad_()
    vis[:, 3] = False
    out = net(x, vis)
    out.filled.sum().backward()
    assert bool(torch.isfinite(x.grad).all())
    assert all(p.grad is not None and bool(torch.isfinite(p.grad).all()) for p in net.parameters())


# ---------------------------------------------------------------- init


def test_discriminator_init_std():
    torch.manual_seed(6)
    disc = PoseDiscriminator(J, channels=512)
    linears = [m for m in disc.modules() if isinstance(m, torch.nn.Linear)]
    weights = torch.cat([m.weight.detach().flatten() for m in linears])
    assert abs(float(weights.std()) - 0.02) < 0.0005
    assert abs(float(weights.mean())) < 0.0005
    assert all(bool((m.bias == 0).all()) for m in linears)
    # input layer has no BatchNorm
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in disc.trunk.input_layer)


def test_lifter_init_kaiming_normal():
    torch.manual_seed(7)
    net = LiftingNetwork(J, channels=512)
    w = net.trunk.blocks[0].main[0].weight.detach()
    assert abs(float(w.std()) - (2.0 / 512) ** 0.5) < 0.002
    assert bool((net.trunk.blocks[0].main[0].bias == 0).all())


@pytest.mark.parametrize("kind", ["lifter", "decoupled", "discriminator"])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_forward(kind, dtype):
    model = small_models()[kind].to(dtype).train()
    got = outputs(kind, model((0.1 * torch.randn(6, J, 2)).to(dtype)))
    assert all(v.dtype == dtype and bool(torch.isfinite(v).all()) for v in got.values())


def test_lifter_torch_compile_inductor_smoke():
    torch.manual_seed(8)
    net = LiftingNetwork(J, channels=8, num_blocks=1, check_inputs=False).eval()
    x = 0.1 * torch.randn(4, J, 2)
    compiled = torch.compile(net, backend="inductor", fullgraph=True)
    torch.testing.assert_close(compiled(x).depth, net(x).depth)
