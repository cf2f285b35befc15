"""Tests of skelcl.metrics errors and alignment against scipy / float64 loop oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from conftest import devices
from skelcl.metrics import (
    group_mean,
    mpjpe,
    n_mpjpe,
    optimal_scale,
    p_mpjpe,
    procrustes_align,
    procrustes_transform,
)

coord = st.floats(-1000, 1000, allow_nan=False, width=64)


def poses(n=2, j=17):
    return arrays(np.float64, (n, j, 3), elements=coord)


def spread(x):
    """Mean distance of the joints from their centroid, per pose."""
    return np.linalg.norm(x - x.mean(-2, keepdims=True), axis=-1).mean(-1)


# ----------------------------------------------------------------------------- oracles
def mpjpe_loop(p, t, root=0):
    out = []
    for a, b in zip(p.reshape(-1, *p.shape[-2:]), t.reshape(-1, *t.shape[-2:])):
        if root is not None:
            a, b = a - a[root], b - b[root]
        out.append(np.mean([np.sqrt(((a[j] - b[j]) ** 2).sum()) for j in range(len(a))]))
    return np.array(out).reshape(p.shape[:-2])


def p_mpjpe_loop(p, t):
    """Float64 per-pose similarity Procrustes with scipy's orthogonal_procrustes."""
    out = []
    for a, b in zip(p.reshape(-1, *p.shape[-2:]), t.reshape(-1, *t.shape[-2:])):
        a0, b0 = a - a.mean(0), b - b.mean(0)
        r, _ = orthogonal_procrustes(a0, b0)  # argmin |a0 r - b0|, r may be a reflection
        if np.linalg.det(r) < 0:  # reflection fix: best proper rotation
            u, s, vt = np.linalg.svd(a0.T @ b0)
            d = np.diag([1.0, 1.0, -1.0])
            r = u @ d @ vt
        rotated = a0 @ r
        scale = (rotated * b0).sum() / max((a0 * a0).sum(), 1e-300)
        aligned = scale * rotated + b.mean(0)
        out.append(np.linalg.norm(aligned - b, axis=-1).mean())
    return np.array(out).reshape(p.shape[:-2])


# ----------------------------------------------------------------------------- MPJPE
@given(data=st.data())
def test_mpjpe_vs_loop(data):
    shape = data.draw(st.sampled_from([(1,), (3,), (2, 2)]))
    j = data.draw(st.integers(1, 6))
    p = data.draw(arrays(np.float64, shape + (j, 3), elements=coord))
    t = data.draw(arrays(np.float64, shape + (j, 3), elements=coord))
    root = data.draw(st.sampled_from([0, j - 1, None]))
    expected = mpjpe_loop(p, t, root)
    out = mpjpe(p, t, reduction="none", root_index=root)
    assert out.shape == shape
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-10, atol=1e-8)
    np.testing.assert_allclose(float(mpjpe(p, t, root_index=root)), expected.mean(), rtol=1e-10,
                               atol=1e-8)


# ----------------------------------------------------------------------------- P-MPJPE
@given(t=poses(3), scale=st.floats(0.1, 10), shift=arrays(np.float64, (3,), elements=coord))
def test_p_mpjpe_similarity_copy_is_zero(t, scale, shift):
    assume((spread(t) > 1.0).all())
    rot = Rotation.random(3, random_state=7).as_matrix()
    p = scale * np.einsum("bij,bkj->bki", rot, t) + shift
    out = p_mpjpe(p, t, reduction="none").numpy()
    np.testing.assert_allclose(out, 0.0, atol=1e-6 * spread(t).max())


@given(p=poses(3), t=poses(3))
def test_p_mpjpe_vs_scipy_loop(p, t):
    assume((spread(p) > 1.0).all() and (spread(t) > 1.0).all())
    expected = p_mpjpe_loop(p, t)
    out = p_mpjpe(torch.from_numpy(p), torch.from_numpy(t), reduction="none").numpy()
    np.testing.assert_allclose(out, expected, rtol=1e-7, atol=1e-7 * spread(t).max())


def test_p_mpjpe_float32_vs_loop_random():
    rng = np.random.default_rng(0)
    p, t = rng.normal(size=(64, 17, 3)) * 300, rng.normal(size=(64, 17, 3)) * 300
    out = p_mpjpe(p.astype(np.float32), t.astype(np.float32), reduction="none")
    assert out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), p_mpjpe_loop(p, t), rtol=1e-3)


def test_reflection_not_used():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(8, 17, 3))
    mirrored = t * np.array([-1.0, 1.0, 1.0])
    out = p_mpjpe(mirrored, t, reduction="none").numpy()
    assert (out > 0.05 * spread(t)).all()  # a reflection would give exactly 0
    np.testing.assert_allclose(out, p_mpjpe_loop(mirrored, t), rtol=1e-8)
    rot = procrustes_transform(mirrored, t).rotation
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(8, dtype=torch.float64))


def test_procrustes_degenerate_conventions():
    t = np.random.default_rng(2).normal(size=(17, 3))
    collapsed = np.ones((17, 3))
    # Collapsed prediction: scale 0, aligned onto the target centroid.
    np.testing.assert_allclose(float(p_mpjpe(collapsed, t)), spread(t[None])[0], rtol=1e-10)
    # Collapsed target: error 0 (scale 0 maps everything onto the point).
    assert float(p_mpjpe(t, collapsed)) == pytest.approx(0.0, abs=1e-12)
    assert torch.isfinite(procrustes_align(collapsed, collapsed)).all()
    # In a batch, a degenerate pose neither breaks the others nor produces NaN gradients.
    other = np.random.default_rng(3).normal(size=(17, 3))
    pred = torch.tensor(np.stack([collapsed, other, t]), requires_grad=True)
    targ = torch.tensor(np.stack([t, t, collapsed]))
    out = p_mpjpe(pred, targ, reduction="none")
    np.testing.assert_allclose(out[1].item(), p_mpjpe_loop(other[None], t[None])[0], rtol=1e-10)
    out.sum().backward()
    assert torch.isfinite(pred.grad).all() and pred.grad[1].abs().sum() > 0


# ----------------------------------------------------------------------------- ordering
def _rms(a, b):
    return np.sqrt(((a - b) ** 2).sum(-1).mean(-1))


@given(p=poses(2), t=poses(2))
def test_squared_error_ordering_exact(p, t):
    """The least-squares optima are nested: RMS(P) <= RMS(N) <= RMS(root-aligned).

    RMS(P) <= RMS(N) needs N's scale >= 0: a negative scale is a point reflection, which P's
    proper rotations cannot reproduce (hypothesis found t = -p).
    """
    assume((spread(p) > 1.0).all() and (spread(t) > 1.0).all())
    pc, tc = p - p[:, :1], t - t[:, :1]
    s = optimal_scale(pc, tc).numpy()
    rms_m = _rms(pc, tc)
    rms_n = _rms(s[:, None, None] * pc, tc)
    rms_p = _rms(procrustes_align(p, t).numpy(), t)
    tol = 1e-9 * (np.abs(p).max() + np.abs(t).max() + 1)
    assert (rms_n <= rms_m + tol).all() and (rms_p <= rms_m + tol).all()
    assert (rms_p[s >= 0] <= rms_n[s >= 0] + tol).all()


@pytest.fixture(scope="module")
def real_poses(data_dir):
    """500 real mocap poses (mm, root-relative), every 40th frame of the CMU file."""
    d = np.load(data_dir / "cmu_iclone_retarget_h36m17.npz")
    x = d["poses_3d_mm"][::40][:500].astype(np.float64)
    return x - x[:, :1]


@given(idx=st.integers(0, 499), k=st.sampled_from([0.5, 0.7, 1.4, 2.0]),
       axis=arrays(np.float64, 3, elements=st.floats(-1, 1)), angle=st.floats(0.3, 3.0),
       noise=arrays(np.float64, (17, 3), elements=st.floats(-10, 10)))
def test_p_le_n_le_mpjpe(real_poses, idx, k, axis, angle, noise):
    """P-MPJPE <= N-MPJPE <= MPJPE on real poses with clear scale / rotation errors.

    For the reported mean-of-norms errors the ordering is not a theorem (the alignments minimise
    *squared* error; hypothesis finds counterexamples at noise level, and even N-MPJPE > MPJPE
    on real poses with a large rotation error). So each inequality is checked where the
    stronger alignment removes an error far above the noise: N <= MPJPE for a wrong scale,
    P <= N and P <= MPJPE for a wrong rotation and scale. The exact least-squares ordering is
    checked on arbitrary poses by test_squared_error_ordering_exact.
    """
    assume(np.linalg.norm(axis) > 0.1)
    t = real_poses[idx][None]
    p = k * t + noise
    assert float(n_mpjpe(p, t)) <= float(mpjpe(p, t))
    rot = Rotation.from_rotvec(angle * axis / np.linalg.norm(axis)).as_matrix()
    p = k * t @ rot.T + noise
    m, n, pm = float(mpjpe(p, t)), float(n_mpjpe(p, t)), float(p_mpjpe(p, t))
    assert pm <= n and pm <= m


def test_n_mpjpe_vs_loop():
    rng = np.random.default_rng(3)
    p, t = rng.normal(size=(5, 17, 3)), rng.normal(size=(5, 17, 3))
    expected = []
    for a, b in zip(p, t):
        a, b = a - a[0], b - b[0]
        s = (a * b).sum() / (a * a).sum()
        expected.append(np.linalg.norm(s * a - b, axis=-1).mean())
    np.testing.assert_allclose(n_mpjpe(p, t, reduction="none").numpy(), expected, rtol=1e-10)
    # A scaled copy has zero N-MPJPE.
    assert float(n_mpjpe(3.0 * t, t)) == pytest.approx(0.0, abs=1e-12)


# ----------------------------------------------------------------------------- masks
@pytest.mark.parametrize("metric", ["mpjpe", "n_mpjpe", "p_mpjpe"])
@given(p=poses(3), t=poses(3), data=st.data())
def test_mask_equals_sub_array(metric, p, t, data):
    mask = data.draw(arrays(np.bool_, (3, 17)))
    mask[:, 1:5] = True  # every pose keeps enough joints for a well-posed alignment
    assume((spread(p) > 1.0).all() and (spread(t) > 1.0).all())
    fn = {"mpjpe": mpjpe, "n_mpjpe": n_mpjpe, "p_mpjpe": p_mpjpe}[metric]
    kw = {} if metric == "p_mpjpe" else {"root_index": None}
    pc, tc = p - p[:, :1], t - t[:, :1]  # root-aligned by hand, then root_index=None
    out = fn(pc, tc, mask, reduction="none", **kw).numpy()
    for i in range(3):
        sub = fn(pc[i, mask[i]][None], tc[i, mask[i]][None], reduction="none", **kw).numpy()[0]
        np.testing.assert_allclose(out[i], sub, rtol=1e-7, atol=1e-7 * spread(t).max())
    # "mean" is joint-weighted over all visible joints.
    per_joint_total = (out * mask.sum(1)).sum() / mask.sum()
    np.testing.assert_allclose(float(fn(pc, tc, mask, **kw)), per_joint_total, rtol=1e-9)


def test_mask_changes_result_and_broadcasts():
    rng = np.random.default_rng(4)
    p, t = rng.normal(size=(4, 17, 3)), rng.normal(size=(4, 17, 3))
    joint_mask = np.zeros(17, bool)
    joint_mask[[1, 2, 3, 11, 12]] = True
    a = mpjpe(p, t, torch.from_numpy(joint_mask), reduction="none")
    b = mpjpe(p, t, np.broadcast_to(joint_mask, (4, 17)).copy(), reduction="none")
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, mpjpe(p, t, reduction="none"))
    # Alignment on all joints but scoring visible ones differs from visible-only alignment.
    x = p_mpjpe(p, t, joint_mask, align_visible_only=False)
    y = p_mpjpe(p, t, joint_mask)
    assert float(y) < float(x)


def test_no_visible_joint():
    p = torch.randn(2, 17, 3)
    mask = torch.zeros(2, 17, dtype=torch.bool)
    mask[0, 3] = True
    out = mpjpe(p, p + 1, mask, reduction="none")
    assert torch.isfinite(out[0]) and torch.isnan(out[1])
    with pytest.raises(ValueError, match="mask"):
        mpjpe(p, p, torch.zeros(2, 17, dtype=torch.bool))


# ----------------------------------------------------------------------------- API contract
@pytest.mark.parametrize("fn", [mpjpe, p_mpjpe, n_mpjpe])
@pytest.mark.parametrize("shape", [(17, 3), (4, 17, 3), (2, 3, 5, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("device", devices())
def test_shapes_dtypes(fn, shape, dtype, device):
    p = torch.randn(shape, dtype=dtype, device=device)
    t = torch.randn(shape, dtype=dtype, device=device)
    none = fn(p, t, reduction="none")
    assert none.shape == shape[:-2] and none.device.type == device
    assert none.dtype == (torch.float32 if dtype == torch.float16 else dtype)
    assert fn(p, t).shape == ()


@pytest.mark.parametrize("fn", [mpjpe, p_mpjpe, n_mpjpe])
def test_gradients_finite(fn):
    g = torch.Generator().manual_seed(5)
    p = torch.randn(8, 17, 3, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(8, 17, 3, generator=g, dtype=torch.float64)
    fn(p, t).backward()
    assert torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0
    # Also at a perfect prediction (zero error).
    p2 = t.clone().requires_grad_(True)
    fn(p2, t).backward()
    assert torch.isfinite(p2.grad).all()


def test_p_mpjpe_gradcheck():
    g = torch.Generator().manual_seed(6)
    p = torch.randn(2, 6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    t = torch.randn(2, 6, 3, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: p_mpjpe(x, t, reduction="none"), (p,))


def test_p_mpjpe_compile_smoke():
    p, t = torch.randn(4, 17, 3), torch.randn(4, 17, 3)
    compiled = torch.compile(lambda a, b: p_mpjpe(a, b, reduction="none"), dynamic=False)
    torch.testing.assert_close(compiled(p, t), p_mpjpe(p, t, reduction="none"), rtol=1e-4,
                               atol=1e-5)


@pytest.mark.parametrize("fn", [mpjpe, p_mpjpe, n_mpjpe])
def test_errors(fn):
    x = torch.zeros(2, 17, 3)
    with pytest.raises(ValueError, match="target"):
        fn(x, torch.zeros(2, 16, 3))
    with pytest.raises(ValueError, match="pred"):
        fn(torch.zeros(2, 17, 2), torch.zeros(2, 17, 2))
    with pytest.raises(ValueError, match="pred"):
        fn(torch.zeros(0, 17, 3), torch.zeros(0, 17, 3))
    bad = x.clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="target"):
        fn(x, bad)
    with pytest.raises(ValueError, match="pred"):
        fn(bad.clone().fill_(float("inf")), x)
    with pytest.raises(ValueError, match="mask"):
        fn(x, x, torch.ones(2, 16, dtype=torch.bool))
    with pytest.raises(TypeError, match="mask"):
        fn(x, x, torch.ones(2, 17))
    with pytest.raises(ValueError, match="reduction"):
        fn(x, x, reduction="sum")
    with pytest.raises(TypeError, match="pred"):
        fn([[0.0] * 3] * 17, x)


def test_root_index_errors():
    with pytest.raises(ValueError, match="root_index"):
        mpjpe(torch.zeros(17, 3), torch.zeros(17, 3), root_index=17)


# ----------------------------------------------------------------------------- grouping
@given(values=arrays(np.float64, st.integers(1, 30), elements=st.floats(-1e3, 1e3)),
       data=st.data())
def test_group_mean_vs_manual(values, data):
    labels = data.draw(st.lists(st.sampled_from(["walk", "run", "sit"]), min_size=len(values),
                                max_size=len(values)))
    out = group_mean(torch.from_numpy(values), labels)
    manual = {}
    for v, lab in zip(values, labels):
        manual.setdefault(lab, []).append(v)
    assert list(out) == list(manual)  # first-appearance order
    for lab, vs in manual.items():
        assert out[lab] == pytest.approx(sum(vs) / len(vs), rel=1e-12, abs=1e-9)


def test_group_mean_weights_and_errors():
    out = group_mean(np.array([1.0, 3.0, np.nan]), ["a", "a", "b"], weights=np.array([3, 1, 0]))
    assert out == {"a": pytest.approx(1.5)}
    with pytest.raises(ValueError, match="labels"):
        group_mean(np.ones(3), ["a", "b"])
    with pytest.raises(ValueError, match="values"):
        group_mean(np.ones((2, 2)), ["a", "b"])
    with pytest.raises(ValueError, match="values"):
        group_mean(np.array([np.nan]), ["a"])
    with pytest.raises(ValueError, match="values"):
        group_mean(np.zeros(0), [])
    with pytest.raises(ValueError, match="weights"):
        group_mean(np.ones(2), ["a", "b"], weights=np.array([1.0, -1.0]))
    with pytest.raises(TypeError, match="labels"):
        group_mean(np.ones(2), "ab")
