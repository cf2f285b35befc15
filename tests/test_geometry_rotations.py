"""Rotation sampling and conversions of skelcl.geometry, against scipy and float64 oracles."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.transform import Rotation as ScipyRotation

import skelcl.geometry as g
from conftest import devices

BATCH_SHAPES = [(), (1,), (5,), (2, 3)]
DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: 2e-5, torch.float64: 1e-10}


def scipy_rotations(seed: int, n: int) -> ScipyRotation:
    return ScipyRotation.random(n, random_state=seed)


def to_torch(a: np.ndarray, shape: tuple, dtype: torch.dtype, device: str) -> torch.Tensor:
    return torch.as_tensor(a, dtype=dtype, device=device).reshape(*shape, *a.shape[1:])


def prod(shape: tuple) -> int:
    return int(np.prod(shape)) if shape else 1


seeds = st.integers(0, 2**31 - 1)
shapes = st.sampled_from(BATCH_SHAPES)


# ---------------------------------------------------------------------------- Haar sampling
def haar_test(matrices: np.ndarray) -> tuple[float, float]:
    """Return (KS p-value of the rotation angle against the Haar law, max |mean(R)| in sigmas).

    Under the Haar measure the angle has CDF (t - sin t) / pi on [0, pi] and every entry of R has
    mean 0 and variance 1/3. Angles come from scipy (independent of skelcl).
    """
    angles = ScipyRotation.from_matrix(matrices).magnitude()
    p_value = stats.kstest(angles, lambda t: (t - np.sin(t)) / np.pi).pvalue
    n = matrices.shape[0]
    mean_sigmas = np.abs(matrices.mean(0)).max() / math.sqrt(1.0 / (3 * n))
    return float(p_value), float(mean_sigmas)


def is_haar(matrices: np.ndarray) -> bool:
    p_value, mean_sigmas = haar_test(matrices)
    return p_value > 1e-3 and mean_sigmas < 4.5


@pytest.mark.parametrize("device", devices())
def test_random_rotation_is_haar(device):
    gen = torch.Generator(device=device).manual_seed(1234)
    r = g.random_rotation(20000, generator=gen, dtype=torch.float64)
    assert r.device.type == device
    assert is_haar(r.cpu().numpy())


def test_haar_test_rejects_biased_samplers():
    rng = np.random.default_rng(0)
    n = 20000
    # uniform Euler angles: a classic non-uniform sampler
    euler = rng.uniform(-np.pi, np.pi, size=(n, 3))
    assert not is_haar(ScipyRotation.from_euler("XYZ", euler).as_matrix())
    # uniform axis with the angle uniform on [0, pi]: wrong angle law, mean still ~0
    axes = rng.normal(size=(n, 3))
    axes /= np.linalg.norm(axes, axis=1, keepdims=True)
    rotvec = axes * rng.uniform(0, np.pi, size=(n, 1))
    assert not is_haar(ScipyRotation.from_rotvec(rotvec).as_matrix())
    # correct angle law but axes concentrated around +z: caught by the mean
    haar = ScipyRotation.random(n, random_state=1).as_rotvec()
    angle = np.linalg.norm(haar, axis=1, keepdims=True)
    tilted = rng.normal(size=(n, 3)) * [0.3, 0.3, 1.0] + [0, 0, 2.0]
    tilted /= np.linalg.norm(tilted, axis=1, keepdims=True)
    assert not is_haar(ScipyRotation.from_rotvec(tilted * angle).as_matrix())
    # and scipy's own uniform sampler passes
    assert is_haar(ScipyRotation.random(n, random_state=2).as_matrix())


@pytest.mark.parametrize("shape", BATCH_SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", devices())
def test_random_rotation_orthonormal(shape, dtype, device):
    r = g.random_rotation(*shape, generator=torch.Generator(device).manual_seed(0), dtype=dtype, device=device)
    assert r.shape == (*shape, 3, 3) and r.dtype == dtype and r.device.type == device
    r64 = r.double().cpu().numpy()
    eye = np.broadcast_to(np.eye(3), r64.shape)
    np.testing.assert_allclose(r64 @ np.swapaxes(r64, -1, -2), eye, atol=10 * TOL[dtype])
    np.testing.assert_allclose(np.linalg.det(r64), 1.0, atol=10 * TOL[dtype])


def test_random_rotation_generator_reproducible_and_tuple_shape():
    a = g.random_rotation((4, 2), generator=torch.Generator().manual_seed(7))
    b = g.random_rotation(4, 2, generator=torch.Generator().manual_seed(7))
    c = g.random_rotation(4, 2, generator=torch.Generator().manual_seed(8))
    assert a.shape == (4, 2, 3, 3)
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert g.random_rotation().shape == (3, 3)


# ---------------------------------------------------------------------------- view rotations
@pytest.mark.parametrize("device", devices())
def test_sample_view_rotation_respects_default_ranges(device):
    gen = torch.Generator(device).manual_seed(3)
    r, angles = g.sample_view_rotation(4000, generator=gen, dtype=torch.float64, return_angles=True)
    # recover (azimuth, elevation, roll) with scipy: R = Rz(roll) Rx(elev) Ry(azim) is extrinsic "yxz"
    rec = ScipyRotation.from_matrix(r.cpu().numpy()).as_euler("yxz")
    np.testing.assert_allclose(rec, angles.cpu().numpy(), atol=1e-10)
    for k, (lo, hi) in enumerate([(-7 * np.pi / 9, 7 * np.pi / 9), (-np.pi / 9, np.pi / 9), (-np.pi / 18, np.pi / 18)]):
        assert rec[:, k].min() >= lo - 1e-12 and rec[:, k].max() <= hi + 1e-12
        # covers the range (uniform: the extremes are within 1 % of the ends)
        assert rec[:, k].min() < lo + 0.01 * (hi - lo) and rec[:, k].max() > hi - 0.01 * (hi - lo)
        assert stats.kstest(rec[:, k], stats.uniform(lo, hi - lo).cdf).pvalue > 1e-3


def test_sample_view_rotation_custom_ranges_and_axes():
    r = g.sample_view_rotation(
        2000, azimuth=(0.5, 0.7), elevation=(-0.2, -0.1), roll=(0.0, 0.0),
        generator=torch.Generator().manual_seed(0), dtype=torch.float64,
    )
    rec = ScipyRotation.from_matrix(r.numpy()).as_euler("yxz")
    assert (rec[:, 0] >= 0.5 - 1e-12).all() and (rec[:, 0] <= 0.7 + 1e-12).all()
    assert (rec[:, 1] >= -0.2 - 1e-12).all() and (rec[:, 1] <= -0.1 + 1e-12).all()
    np.testing.assert_allclose(rec[:, 2], 0.0, atol=1e-12)


def test_view_rotation_axes_explicit():
    # azimuth alone is a right-handed rotation about y: x axis goes to (cos a, 0, -sin a)
    a = 0.3
    r = g.view_rotation_from_angles(torch.tensor(a, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64), 0.0)
    np.testing.assert_allclose(r[:, 0].numpy(), [math.cos(a), 0, -math.sin(a)], atol=1e-15)
    # elevation alone about x, roll alone about z
    r = g.view_rotation_from_angles(0.0, torch.tensor(a, dtype=torch.float64), 0.0)
    np.testing.assert_allclose(r[:, 1].numpy(), [0, math.cos(a), math.sin(a)], atol=1e-15)
    r = g.view_rotation_from_angles(0.0, 0.0, torch.tensor(a, dtype=torch.float64))
    np.testing.assert_allclose(r[:, 0].numpy(), [math.cos(a), math.sin(a), 0], atol=1e-15)


@given(seed=seeds, shape=shapes)
def test_view_rotation_from_angles_matches_scipy(seed, shape):
    rng = np.random.default_rng(seed)
    ang = rng.uniform(-3, 3, size=(prod(shape), 3))
    ang[:, 1] = rng.uniform(-1.5, 1.5, size=prod(shape))
    t = to_torch(ang, shape, torch.float64, "cpu")
    r = g.view_rotation_from_angles(t[..., 0], t[..., 1], t[..., 2])
    assert r.shape == (*shape, 3, 3)
    expected = ScipyRotation.from_euler("ZXY", ang[:, ::-1]).as_matrix()
    np.testing.assert_allclose(r.reshape(-1, 3, 3).numpy(), expected, atol=1e-12)


# ---------------------------------------------------------------------------- conversions
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", devices())
@given(seed=seeds, shape=shapes)
def test_axis_angle_matches_scipy_and_round_trips(dtype, device, seed, shape):
    rot = scipy_rotations(seed, prod(shape))
    rotvec = rot.as_rotvec()
    r = g.axis_angle_to_matrix(to_torch(rotvec, shape, dtype, device))
    assert r.shape == (*shape, 3, 3) and r.dtype == dtype
    np.testing.assert_allclose(r.reshape(-1, 3, 3).double().cpu().numpy(), rot.as_matrix(), atol=TOL[dtype])
    back = g.matrix_to_axis_angle(to_torch(rot.as_matrix(), shape, dtype, device)).reshape(-1, 3).double().cpu()
    # away from angle pi the rotation vector is unique
    ok = rot.magnitude() < np.pi - 1e-3
    np.testing.assert_allclose(back.numpy()[ok], rotvec[ok], atol=10 * TOL[dtype])
    np.testing.assert_allclose(
        ScipyRotation.from_rotvec(back.numpy()).as_matrix(), rot.as_matrix(), atol=10 * TOL[dtype]
    )


def test_axis_angle_special_values():
    v = torch.tensor([[0.0, 0, 0], [1e-9, 0, 0], [0, 2e-3, 0], [0, 0, math.pi], [math.pi - 1e-7, 0, 0], [0, 0, 4.0]],
                     dtype=torch.float64)
    np.testing.assert_allclose(
        g.axis_angle_to_matrix(v).numpy(), ScipyRotation.from_rotvec(v.numpy()).as_matrix(), atol=1e-14
    )
    m = ScipyRotation.from_rotvec(v.numpy()).as_matrix()
    back = g.matrix_to_axis_angle(torch.from_numpy(m)).numpy()
    np.testing.assert_allclose(ScipyRotation.from_rotvec(back).as_matrix(), m, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(back, axis=1), ScipyRotation.from_matrix(m).magnitude(), atol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", devices())
@given(seed=seeds, shape=shapes)
def test_quaternion_matches_scipy_and_round_trips(dtype, device, seed, shape):
    rot = scipy_rotations(seed, prod(shape))
    quat = rot.as_quat()  # scipy: scalar last (x, y, z, w)
    quat = np.where(quat[:, 3:] < 0, -quat, quat)
    m = to_torch(rot.as_matrix(), shape, dtype, device)
    q = g.matrix_to_quaternion(m)
    assert q.shape == (*shape, 4)
    q = q.reshape(-1, 4).double().cpu().numpy()
    assert (q[:, 3] >= 0).all()
    ok = quat[:, 3] > 1e-3  # sign is ambiguous at w = 0
    np.testing.assert_allclose(q[ok], quat[ok], atol=10 * TOL[dtype])
    r = g.quaternion_to_matrix(to_torch(quat * 3.0, shape, dtype, device))  # unnormalised input
    np.testing.assert_allclose(r.reshape(-1, 3, 3).double().cpu().numpy(), rot.as_matrix(), atol=10 * TOL[dtype])


def test_matrix_to_quaternion_all_shepperd_branches():
    # rotations by pi about x, y, z (diagonal branches) and near identity (trace branch)
    rotvecs = np.array([[np.pi, 0, 0], [0, np.pi, 0], [0, 0, np.pi], [1e-8, 0, 0], [2.0, -1.0, 0.5], [0, 3.1, 0.2]])
    m = ScipyRotation.from_rotvec(rotvecs).as_matrix()
    q = g.matrix_to_quaternion(torch.from_numpy(m)).numpy()
    expected = ScipyRotation.from_rotvec(rotvecs).as_quat()
    # q and -q are the same rotation: compare up to sign
    assert np.minimum(np.abs(q - expected).max(1), np.abs(q + expected).max(1)).max() < 1e-12


@given(seed=seeds, shape=shapes)
def test_quaternion_axis_angle_and_product(seed, shape):
    r1, r2 = scipy_rotations(seed, prod(shape)), scipy_rotations(seed + 1, prod(shape))
    q1 = to_torch(r1.as_quat(), shape, torch.float64, "cpu")
    q2 = to_torch(r2.as_quat(), shape, torch.float64, "cpu")
    prod_q = g.quaternion_multiply(q1, q2).reshape(-1, 4).numpy()
    np.testing.assert_allclose(
        ScipyRotation.from_quat(prod_q).as_matrix(), (r1 * r2).as_matrix(), atol=1e-12
    )
    rv = g.quaternion_to_axis_angle(q1).reshape(-1, 3).numpy()
    np.testing.assert_allclose(ScipyRotation.from_rotvec(rv).as_matrix(), r1.as_matrix(), atol=1e-12)
    q = g.axis_angle_to_quaternion(to_torch(r1.as_rotvec(), shape, torch.float64, "cpu")).reshape(-1, 4).numpy()
    np.testing.assert_allclose(ScipyRotation.from_quat(q).as_matrix(), r1.as_matrix(), atol=1e-12)


def gram_schmidt_oracle(r6: np.ndarray) -> np.ndarray:
    """Explicit float64 Gram-Schmidt of the two columns, one sample at a time."""
    out = np.empty((len(r6), 3, 3))
    for n, v in enumerate(r6.astype(np.float64)):
        a1, a2 = v[:3], v[3:]
        b1 = a1 / math.sqrt(sum(x * x for x in a1))
        u = a2 - sum(x * y for x, y in zip(b1, a2)) * b1
        b2 = u / math.sqrt(sum(x * x for x in u))
        b3 = np.array([b1[1] * b2[2] - b1[2] * b2[1], b1[2] * b2[0] - b1[0] * b2[2], b1[0] * b2[1] - b1[1] * b2[0]])
        out[n] = np.stack([b1, b2, b3], axis=1)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("device", devices())
@given(seed=seeds, shape=shapes)
def test_rotation_6d_gram_schmidt(dtype, device, seed, shape):
    r6 = np.random.default_rng(seed).normal(size=(prod(shape), 6)) * 3
    r = g.rotation_6d_to_matrix(to_torch(r6, shape, dtype, device))
    assert r.shape == (*shape, 3, 3)
    np.testing.assert_allclose(r.reshape(-1, 3, 3).double().cpu().numpy(), gram_schmidt_oracle(r6), atol=50 * TOL[dtype])
    # the 6D code of a rotation is its first two columns, and decodes back to it
    m = scipy_rotations(seed, prod(shape)).as_matrix()
    code = g.matrix_to_rotation_6d(to_torch(m, shape, dtype, device)).reshape(-1, 6).double().cpu().numpy()
    np.testing.assert_allclose(code, np.concatenate([m[:, :, 0], m[:, :, 1]], 1), atol=TOL[dtype])
    back = g.rotation_6d_to_matrix(to_torch(code, shape, dtype, device))
    np.testing.assert_allclose(back.reshape(-1, 3, 3).double().cpu().numpy(), m, atol=10 * TOL[dtype])


EULER_AXES = ["XYZ", "ZYX", "YXZ", "xyz", "zyx", "yxz", "ZXZ", "XYX", "yzy", "zxz", "XZY", "xzx"]


@pytest.mark.parametrize("axes", EULER_AXES)
@given(seed=seeds, shape=shapes)
def test_euler_matches_scipy(axes, seed, shape):
    rot = scipy_rotations(seed, prod(shape))
    angles = rot.as_euler(axes)
    m = g.euler_to_matrix(to_torch(angles, shape, torch.float64, "cpu"), axes)
    np.testing.assert_allclose(m.reshape(-1, 3, 3).numpy(), rot.as_matrix(), atol=1e-12)
    back = g.matrix_to_euler(to_torch(rot.as_matrix(), shape, torch.float64, "cpu"), axes)
    assert back.shape == (*shape, 3)
    np.testing.assert_allclose(back.reshape(-1, 3).numpy(), angles, atol=1e-9)


@pytest.mark.parametrize("axes", ["XYZ", "xyz", "ZXZ", "zxz"])
def test_euler_gimbal_lock_round_trips(axes):
    middle = [np.pi / 2, -np.pi / 2] if axes.lower() in ("xyz",) else [0.0, np.pi]
    angles = np.array([[0.4, b, -0.7] for b in middle])
    m = ScipyRotation.from_euler(axes, angles).as_matrix()
    back = g.matrix_to_euler(torch.from_numpy(m), axes).numpy()
    np.testing.assert_allclose(ScipyRotation.from_euler(axes, back).as_matrix(), m, atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
@given(seed=seeds, shape=shapes)
def test_geodesic_angle_matches_scipy(dtype, seed, shape):
    r1, r2 = scipy_rotations(seed, prod(shape)), scipy_rotations(seed + 7, prod(shape))
    expected = (r1.inv() * r2).magnitude()
    got = g.geodesic_angle(to_torch(r1.as_matrix(), shape, dtype, "cpu"), to_torch(r2.as_matrix(), shape, dtype, "cpu"))
    assert got.shape == shape
    np.testing.assert_allclose(got.reshape(-1).double().numpy(), expected, atol=1e-4 if dtype == torch.float32 else 1e-10)


def test_geodesic_angle_accurate_near_zero_and_pi():
    for t in [0.0, 1e-7, 1e-4, np.pi - 1e-6, np.pi]:
        axis = np.array([0.3, -0.4, 0.866]) / np.linalg.norm([0.3, -0.4, 0.866])
        m = ScipyRotation.from_rotvec(axis * t).as_matrix()
        expected = ScipyRotation.from_matrix(m).magnitude()
        got = g.geodesic_angle(torch.eye(3, dtype=torch.float64), torch.from_numpy(m)).item()
        assert abs(got - expected) < 1e-9
        got32 = g.rotation_angle(torch.from_numpy(m).float()).item()
        assert abs(got32 - expected) < 1e-5


# ---------------------------------------------------------------------------- gradients
def _special_rotvecs(dtype):
    axis = torch.tensor([0.48, -0.6, 0.64], dtype=dtype)
    return {
        "zero": torch.zeros(3, dtype=dtype),
        "tiny": 1e-7 * axis,
        "small": 3e-3 * axis,
        "near_pi": (math.pi - 1e-4) * axis,
        "pi": math.pi * axis,
        "pi_x": torch.tensor([math.pi, 0.0, 0.0], dtype=dtype),
    }


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ["zero", "tiny", "small", "near_pi", "pi", "pi_x"])
def test_gradients_finite_at_singular_points(dtype, case):
    v = _special_rotvecs(dtype)[case].clone().requires_grad_(True)
    r = g.axis_angle_to_matrix(v)
    (r * torch.arange(9, dtype=dtype).reshape(3, 3)).sum().backward()
    assert torch.isfinite(v.grad).all()
    r0 = r.detach()
    for fn in (g.matrix_to_axis_angle, g.matrix_to_quaternion, g.matrix_to_rotation_6d, g.rotation_angle):
        m = r0.clone().requires_grad_(True)
        out = fn(m)
        out.sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(m.grad).all(), fn.__name__
    # geodesic angle of identical rotations: the classic NaN gradient of acos
    a, b = r0.clone().requires_grad_(True), r0.clone().requires_grad_(True)
    d = g.geodesic_angle(a, b)
    d.backward()
    assert abs(d.item()) < 1e-3 and torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    # rotation 6D decoding at the code of this rotation
    c = g.matrix_to_rotation_6d(r0).clone().requires_grad_(True)
    g.rotation_6d_to_matrix(c).sum().backward()
    assert torch.isfinite(c.grad).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("diag", [(1, 1, 1), (1, -1, -1), (-1, 1, -1), (-1, -1, 1)])
def test_gradients_finite_at_exact_identity_and_half_turns(dtype, diag):
    """Exactly representable rotations by 0 and pi, where w or |v| is exactly zero."""
    r0 = torch.diag(torch.tensor(diag, dtype=dtype))
    for fn in (g.matrix_to_axis_angle, g.matrix_to_quaternion, g.rotation_angle):
        m = r0.clone().requires_grad_(True)
        out = fn(m)
        (out * torch.linspace(1, 2, out.numel(), dtype=dtype).reshape(out.shape)).sum().backward()
        assert torch.isfinite(out).all() and torch.isfinite(m.grad).all(), fn.__name__
    a, b = r0.clone().requires_grad_(True), r0.clone().requires_grad_(True)
    g.geodesic_angle(a, b).backward()
    assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all()
    v = g.matrix_to_axis_angle(r0).clone().requires_grad_(True)
    g.axis_angle_to_matrix(v).sum().backward()
    assert torch.isfinite(v.grad).all()


@pytest.mark.parametrize("point", [[0.0, 0.0, 0.0], [1e-3, -2e-3, 5e-4], [0.3, -1.2, 0.8], [0.0, 0.0, math.pi - 1e-3]])
def test_axis_angle_gradcheck(point):
    v = torch.tensor(point, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(g.axis_angle_to_matrix, (v,))
    # matrix_to_* are checked on the manifold: compose with axis_angle_to_matrix
    assert torch.autograd.gradcheck(lambda x: g.matrix_to_quaternion(g.axis_angle_to_matrix(x)), (v,))
    if 0 < float(v.detach().norm()) < math.pi - 1e-2:
        assert torch.autograd.gradcheck(lambda x: g.matrix_to_axis_angle(g.axis_angle_to_matrix(x)), (v,))
        assert torch.autograd.gradcheck(lambda x: g.rotation_angle(g.axis_angle_to_matrix(x)), (v,))


def test_rotation_6d_gradcheck():
    x = torch.tensor([1.0, 0.2, -0.3, 0.1, 0.9, 0.4], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(g.rotation_6d_to_matrix, (x,))


# ---------------------------------------------------------------------------- compile, errors
def test_torch_compile_smoke():
    def f(v, r6, r_target):
        r = g.axis_angle_to_matrix(v) @ g.rotation_6d_to_matrix(r6)
        return g.geodesic_angle(r, r_target).sum() + g.matrix_to_quaternion(r).sum() + g.matrix_to_axis_angle(r).sum()

    compiled = torch.compile(f, backend="eager", fullgraph=True)
    gen = torch.Generator().manual_seed(0)
    v = torch.randn(4, 3, generator=gen, requires_grad=True)
    r6 = torch.randn(4, 6, generator=gen)
    rt = g.random_rotation(4, generator=gen)
    out = compiled(v, r6, rt)
    torch.testing.assert_close(out, f(v, r6, rt))
    out.backward()
    assert torch.isfinite(v.grad).all()


@pytest.mark.parametrize(
    "call, name, exc",
    [
        (lambda: g.axis_angle_to_matrix(torch.zeros(4, 2)), "axis_angle", ValueError),
        (lambda: g.axis_angle_to_matrix([0.0, 0.0, 1.0]), "axis_angle", TypeError),
        (lambda: g.matrix_to_axis_angle(torch.zeros(3, 4)), "matrix", ValueError),
        (lambda: g.matrix_to_quaternion(torch.eye(3, dtype=torch.bool)), "matrix", TypeError),
        (lambda: g.quaternion_to_matrix(torch.zeros(2, 3)), "quaternion", ValueError),
        (lambda: g.rotation_6d_to_matrix(torch.zeros(5)), "rotation_6d", ValueError),
        (lambda: g.euler_to_matrix(torch.zeros(3), "XYy"), "axes", ValueError),
        (lambda: g.euler_to_matrix(torch.zeros(3), "XXY"), "axes", ValueError),
        (lambda: g.matrix_to_euler(torch.eye(3), "xy"), "axes", ValueError),
        (lambda: g.euler_to_matrix(torch.zeros(2), "xyz"), "angles", ValueError),
        (lambda: g.geodesic_angle(torch.eye(3), torch.zeros(3)), "rotation_2", ValueError),
        (lambda: g.random_rotation(-1), "shape", ValueError),
        (lambda: g.random_rotation(3, dtype=torch.int64), "dtype", TypeError),
        (lambda: g.sample_view_rotation(3, azimuth=(1.0, 0.0)), "azimuth", ValueError),
        (lambda: g.sample_view_rotation(3, roll=5.0), "roll", TypeError),
        (lambda: g.view_rotation_from_angles(torch.zeros(2), torch.zeros(3), 0.0), "elevation", ValueError),
    ],
)
def test_errors_name_the_argument(call, name, exc):
    with pytest.raises(exc, match=name):
        call()


def test_numpy_input_accepted():
    m = ScipyRotation.random(3, random_state=0).as_matrix()
    q = g.matrix_to_quaternion(m)
    assert isinstance(q, torch.Tensor) and q.dtype == torch.float64
