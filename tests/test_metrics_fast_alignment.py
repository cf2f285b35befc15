"""The SVD-free (Horn quaternion) Procrustes path of ``p_mpjpe`` against the exact SVD path and
independent float64 NumPy oracles, including the rows it hands back to the SVD path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.linalg import orthogonal_procrustes

from skelcl.metrics import alignment, p_mpjpe
from skelcl.metrics._inputs import reduce_joints, safe_norm
from skelcl.metrics.alignment import _horn_rotation, _procrustes

from conftest import devices

coord = st.floats(-1000, 1000, allow_nan=False, width=64)


@pytest.fixture(autouse=True)
def fast_path_at_any_size(monkeypatch):
    """p_mpjpe uses the batched SVD below ``_SMALL_BATCH`` poses; these tests exercise the
    SVD-free path on small batches too (except where a test says otherwise)."""
    monkeypatch.setattr(alignment, "_SMALL_BATCH", 0)


# ----------------------------------------------------------------------------- oracles
def rotation_oracle(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 best proper rotation maximising tr(R^T M) and that maximum, per matrix (SVD)."""
    u, s, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    d[d == 0] = 1.0
    dd = np.stack([np.ones_like(d), np.ones_like(d), d], -1)
    return u @ (dd[..., :, None] * vt), (s * dd).sum(-1)


def p_mpjpe_oracle(p: np.ndarray, t: np.ndarray, mask: np.ndarray | None = None,
                   fit_on_mask: bool = True) -> np.ndarray:
    """Float64 per-pose P-MPJPE, one pose at a time (fit on the masked joints or on all of
    them, score the masked ones)."""
    out = []
    pp, tt = p.reshape(-1, *p.shape[-2:]), t.reshape(-1, *t.shape[-2:])
    mm = np.ones(pp.shape[:2], bool) if mask is None else np.broadcast_to(mask, p.shape[:-1]).reshape(pp.shape[:2])
    for a, b, k in zip(pp, tt, mm):
        f = k if fit_on_mask else np.ones_like(k)
        mu_a, mu_b = a[f].mean(0), b[f].mean(0)
        a0, b0 = a - mu_a, b - mu_b
        var = (a0[f] * a0[f]).sum()
        if var <= 0 or (b0[f] * b0[f]).sum() <= 0:
            aligned = np.broadcast_to(mu_b, b.shape)
        else:
            r, tr = rotation_oracle((b0[f].T @ a0[f])[None])
            aligned = tr[0] / var * a0 @ r[0].T + mu_b
        out.append(np.linalg.norm(aligned - b, axis=-1)[k].mean())
    return np.array(out).reshape(p.shape[:-2])


def p_mpjpe_svd(p: torch.Tensor, t: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The reference SVD path of skelcl (the code p_mpjpe used before the fast path)."""
    w = torch.ones(p.shape[:-1], dtype=p.dtype) if mask is None else mask.to(p.dtype)
    aligned = _procrustes(p, t, w, scale=True).apply(p)
    return reduce_joints(safe_norm(aligned - t), mask, "none")


def noisy_similarity(t: np.ndarray, rng: np.random.Generator, noise: float, mirror: bool) -> np.ndarray:
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q)) * (-1.0 if mirror else 1.0)  # det -1 when mirrored
    return rng.uniform(0.5, 2.0) * t @ q.T + rng.normal(0, 300, 3) + rng.normal(0, noise, t.shape)


# ----------------------------------------------------------------------------- the solver
@given(m=arrays(np.float64, (8, 3, 3), elements=st.floats(-100, 100, width=64)))
def test_horn_rotation_vs_svd_oracle(m):
    rot, tr, ok = _horn_rotation(torch.from_numpy(m))
    r_ref, tr_ref = rotation_oracle(m)
    scale = max(np.abs(m).max(), 1e-300)
    ok = ok.numpy()
    # a row it accepts has a well-separated optimum: trace and rotation are the oracle's
    # (the others, e.g. repeated singular values, go to the SVD path in p_mpjpe)
    np.testing.assert_allclose(tr.numpy()[ok], tr_ref[ok], rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(rot.numpy()[ok], r_ref[ok], atol=1e-7)
    r = rot.numpy()[ok]
    np.testing.assert_allclose(r @ np.swapaxes(r, -1, -2), np.broadcast_to(np.eye(3), r.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1.0, atol=1e-12)


def test_horn_rotation_reflection_and_flags():
    g = np.random.default_rng(0)
    m = g.normal(size=(500, 3, 3))
    rot, tr, ok = _horn_rotation(torch.from_numpy(m))
    r_ref, tr_ref = rotation_oracle(m)
    assert (np.linalg.det(m) < 0).sum() > 100  # reflections needed in many rows
    assert ok.float().mean() > 0.9  # generic rows are solved without the SVD
    np.testing.assert_allclose(rot.numpy()[ok.numpy()], r_ref[ok.numpy()], atol=1e-9)
    # repeated singular values (rank 1: collinear poses) and M = 0 are flagged, not trusted
    rank1 = np.outer([1.0, 2.0, 3.0], [0.5, -1.0, 2.0])[None]
    _, _, ok = _horn_rotation(torch.from_numpy(np.concatenate([rank1, np.zeros((1, 3, 3))])))
    assert not ok.any()


# ----------------------------------------------------------------------------- p_mpjpe
@pytest.mark.parametrize("device", devices())
@given(seed=st.integers(0, 2**31 - 1), noise=st.sampled_from([0.0, 1.0, 30.0, 300.0, 3000.0]),
       mirror=st.booleans(), planar=st.booleans())
def test_fast_equals_svd_path_float32(device, seed, noise, mirror, planar):
    """float32 results equal the SVD path to float32 rounding (rtol 1e-5 of the error scale),
    on generic, mirrored (the best rotation excludes the reflection), planar and badly fitting
    poses; the float64 oracle checks both."""
    rng = np.random.default_rng(seed)
    t = rng.normal(0, 300, size=(64, 17, 3))
    if planar:
        t[..., 2] = 0.0
    p = noisy_similarity(t, rng, noise, mirror)
    pt, tt = torch.tensor(p, dtype=torch.float32, device=device), torch.tensor(t, dtype=torch.float32, device=device)
    fast = p_mpjpe(pt, tt, reduction="none").double().cpu().numpy()
    ref = p_mpjpe_svd(pt.cpu(), tt.cpu()).double().numpy()
    oracle = p_mpjpe_oracle(p.astype(np.float32).astype(np.float64), t.astype(np.float32).astype(np.float64))
    # float32 rounding: relative to the error, plus a floor relative to the coordinates
    tol = 1e-6 * max(np.abs(p).max(), np.abs(t).max())
    np.testing.assert_allclose(fast, ref, rtol=1e-5, atol=tol)
    np.testing.assert_allclose(fast, oracle, rtol=1e-5, atol=tol)


@given(p=arrays(np.float64, (3, 7, 3), elements=coord), t=arrays(np.float64, (3, 7, 3), elements=coord),
       mask=arrays(np.bool_, (3, 7)))
def test_fast_float64_vs_oracle_with_masks(p, t, mask):
    mask[:, 0] = True  # at least one joint per pose
    got = p_mpjpe(torch.from_numpy(p), torch.from_numpy(t), torch.from_numpy(mask), reduction="none")
    np.testing.assert_allclose(got.numpy(), p_mpjpe_oracle(p, t, mask), rtol=1e-7, atol=1e-7)
    # align_visible_only=False fits on every joint: the unmasked oracle scored on the visible ones
    got_all = p_mpjpe(torch.from_numpy(p), torch.from_numpy(t), torch.from_numpy(mask), reduction="none",
                      align_visible_only=False)
    np.testing.assert_allclose(got_all.numpy(), p_mpjpe_oracle(p, t, mask, fit_on_mask=False),
                               rtol=1e-7, atol=1e-7)


def test_near_degenerate_and_collinear_rows_use_the_svd_path():
    g = np.random.default_rng(1)
    t = g.normal(0, 300, size=(6, 17, 3))
    t[0] = np.outer(np.linspace(-1, 1, 17), [100.0, 50.0, 20.0])  # collinear target
    t[1] = 1e-3 * g.normal(size=(17, 3)) + 500.0  # tiny spread far from the origin
    t[2] = 0.0  # collapsed target: error 0 by convention
    p = t + g.normal(0, 20, size=t.shape)
    p[3] = 7.0  # collapsed prediction: the target's mean distance to its centroid
    p[4] = t[4] @ np.diag([1.0, 1.0, -1.0])  # exact mirror image
    pt, tt = torch.tensor(p), torch.tensor(t)
    got = p_mpjpe(pt, tt, reduction="none")
    np.testing.assert_allclose(got.numpy(), p_mpjpe_svd(pt, tt).numpy(), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(got.numpy(), p_mpjpe_oracle(p, t), rtol=1e-6, atol=1e-9)
    assert got[2] == 0.0


def test_forced_fallback_is_exact(monkeypatch):
    """With too few Newton steps every row is flagged and recomputed by the SVD path."""
    g = torch.Generator().manual_seed(2)
    p, t = torch.randn(40, 17, 3, generator=g), torch.randn(40, 17, 3, generator=g)
    calls = []
    orig = alignment._procrustes
    monkeypatch.setattr(alignment, "_NEWTON_STEPS", 0)
    monkeypatch.setattr(alignment, "_procrustes", lambda *a, **k: calls.append(a[0].shape[0]) or orig(*a, **k))
    got = p_mpjpe(p, t, reduction="none")
    assert calls == [40]
    torch.testing.assert_close(got, p_mpjpe_svd(p, t), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(17, 3), (5, 17, 3), (2, 3, 9, 3)])
@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_batch_shapes_and_dtypes(shape, dtype):
    g = torch.Generator().manual_seed(3)
    t = torch.randn(shape, generator=g, dtype=torch.float64)
    p = 1.3 * t + 0.1 * torch.randn(shape, generator=g, dtype=torch.float64)
    got = p_mpjpe(p.to(dtype), t.to(dtype), reduction="none")
    assert got.shape == shape[:-2]
    assert got.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    ref = p_mpjpe_svd(p.to(dtype).to(got.dtype), t.to(dtype).to(got.dtype))
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-6)


def test_gradients_match_svd_path():
    g = torch.Generator().manual_seed(4)
    t = torch.randn(6, 17, 3, generator=g, dtype=torch.float64)
    p0 = (t + 0.3 * torch.randn(6, 17, 3, generator=g, dtype=torch.float64))
    p1 = p0.clone().requires_grad_(True)
    p2 = p0.clone().requires_grad_(True)
    p_mpjpe(p1, t).backward()
    p_mpjpe_svd(p2, t).mean().backward()
    assert torch.isfinite(p1.grad).all()
    torch.testing.assert_close(p1.grad, p2.grad, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("steps", [0, alignment._NEWTON_STEPS])
def test_gradients_finite_on_fallback_and_degenerate_rows(monkeypatch, steps):
    """Degenerate rows (collapsed target or prediction) and rows recomputed by the SVD path
    (all of them with 0 Newton steps) get finite gradients. (Collinear poses are excluded: the
    SVD path itself has no finite gradient there, see procrustes_transform.)"""
    monkeypatch.setattr(alignment, "_NEWTON_STEPS", steps)
    g = torch.Generator().manual_seed(5)
    t = torch.randn(4, 17, 3, generator=g, dtype=torch.float64)
    t[1] = 0.0
    p = t + 0.1 * torch.randn(4, 17, 3, generator=g, dtype=torch.float64)
    p[2] = 3.0
    p.requires_grad_(True)
    p_mpjpe(p, t).backward()
    assert torch.isfinite(p.grad).all()


def test_input_errors_unchanged():
    x = torch.zeros(2, 17, 3)
    bad = x.clone()
    bad[1, 3, 2] = float("nan")
    with pytest.raises(ValueError, match=r"pred: contains NaN or inf \(first at index \(1, 3, 2\)\)"):
        p_mpjpe(bad, x)
    with pytest.raises(ValueError, match="target: contains NaN or inf"):
        p_mpjpe(x, bad.clone().fill_(float("inf")))
    with pytest.raises(TypeError, match="mask: expected dtype bool"):
        p_mpjpe(x, x, torch.ones(2, 17))
    with pytest.raises(ValueError, match="mask: expected shape"):
        p_mpjpe(x, x, torch.ones(3, 17, dtype=torch.bool))
    with pytest.raises(ValueError, match="reduction"):
        p_mpjpe(x, x, reduction="sum")
    # finite values whose sum overflows are accepted (the slow exact check runs and passes)
    big = torch.full((1, 4, 3), 3e38)
    big[0, 1] = -3e38
    assert torch.isfinite(p_mpjpe(big.double(), big.double() * 0.5, reduction="none")).all()


def test_method_svd_is_the_reference_and_bad_method_raises():
    g = torch.Generator().manual_seed(7)
    p, t = torch.randn(5, 17, 3, generator=g), torch.randn(5, 17, 3, generator=g)
    mask = torch.rand(5, 17, generator=g) > 0.3
    for m in (None, mask):
        ref = p_mpjpe_svd(p, t, m)
        torch.testing.assert_close(p_mpjpe(p, t, m, reduction="none", method="svd"), ref)
        torch.testing.assert_close(p_mpjpe(p, t, m, reduction="none"), ref, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="method"):
        p_mpjpe(p, t, method="eig")


# ----------------------------------------------------------------------------- chunked CPU path
def p_mpjpe_scipy_oracle(p: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float64 per-pose P-MPJPE with scipy's ``orthogonal_procrustes`` and the reflection fix,
    one pose at a time; also the conditioning ``sigma_1 / (sigma_2 + d sigma_3)`` of each
    pose's optimal rotation (large: nearly non-unique)."""
    out, cond = [], []
    for a, b in zip(p.reshape(-1, *p.shape[-2:]), t.reshape(-1, *t.shape[-2:])):
        a0, b0 = a - a.mean(0), b - b.mean(0)
        r, _ = orthogonal_procrustes(a0, b0)  # argmin |a0 r - b0|, possibly a mirror
        sv = np.linalg.svd(a0.T @ b0, compute_uv=False)
        d = 1.0
        if np.linalg.det(r) < 0:  # the best proper rotation flips the weakest direction
            u, _, vt = np.linalg.svd(a0.T @ b0)
            r, d = u @ np.diag([1.0, 1.0, -1.0]) @ vt, -1.0
        rotated = a0 @ r
        scale = (rotated * b0).sum() / max((a0 * a0).sum(), 1e-300)
        out.append(np.linalg.norm(scale * rotated - b0, axis=-1).mean())
        cond.append(sv[0] / max(sv[1] + d * sv[2], 1e-300))
    return np.array(out).reshape(p.shape[:-2]), np.array(cond).reshape(p.shape[:-2])


def near_degenerate_poses(rng: np.random.Generator, kind: str, eps: float, noise: float,
                          mirror: bool, n: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, target)`` float64 ``(n, 17, 3)``: targets generic, planar or nearly so, nearly
    collinear, or of tiny spread far from the origin; predictions a (possibly mirrored)
    similarity of them plus noise relative to their spread (or a nearly collapsed copy)."""
    t = rng.normal(0.0, 300.0, size=(n, 17, 3))
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    if kind == "near_planar":
        t[..., 2] *= eps
        t = t @ q.T
    elif kind == "near_collinear":
        t = rng.normal(0.0, 300.0, size=(n, 17, 1)) * q[0] + eps * t
    elif kind == "tiny_spread_far":
        t = 1e4 + eps * t
    spread = np.linalg.norm(t - t.mean(-2, keepdims=True), axis=-1).mean()
    q, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.linalg.det(q)) * (-1.0 if mirror else 1.0)
    s = 1e-6 if kind == "collapsing_pred" else rng.uniform(0.5, 2.0)
    p = s * t @ q.T + rng.normal(0, 300, 3) + rng.normal(0.0, noise * spread, t.shape)
    return p, t


@given(seed=st.integers(0, 2**32 - 1),
       kind=st.sampled_from(["generic", "near_planar", "near_collinear", "tiny_spread_far",
                             "collapsing_pred"]),
       eps=st.sampled_from([1e-2, 1e-4]), noise=st.sampled_from([0.0, 1e-3, 0.1, 1.0]),
       mirror=st.booleans())
def test_fast_float64_equals_scipy_oracle_near_degenerate(seed, kind, eps, noise, mirror):
    """The SVD-free path (with the rows it hands to the SVD) equals scipy's Procrustes loop
    with the reflection fix, also on nearly planar / collinear / collapsed / tiny poses: to
    1e-7 relative, plus rounding amplified by the conditioning of the optimal rotation."""
    rng = np.random.default_rng(seed)
    p, t = near_degenerate_poses(rng, kind, eps, noise, mirror)
    got = p_mpjpe(torch.from_numpy(p), torch.from_numpy(t), reduction="none").numpy()
    want, cond = p_mpjpe_scipy_oracle(p, t)
    spread = np.linalg.norm(t - t.mean(-2, keepdims=True), axis=-1).mean(-1)
    tol = 1e-7 * want + (1e-9 + 1e-12 * cond) * spread
    assert (np.abs(got - want) <= tol).all(), (got, want, cond)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the oracle's empty pose: NaN
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("masked", [False, True])
def test_chunks_masks_and_special_rows(monkeypatch, dtype, masked):
    """Several chunks (the last one partial): every reduction and alignment mode equals the
    float64 loop oracle, with degenerate rows (collapsed target, collapsed prediction, no
    visible joint), rows for the SVD fallback (collinear) and mirrored rows among them;
    non-contiguous input is accepted and never modified."""
    monkeypatch.setattr(alignment, "_CHUNK_POSES", 7)
    g = np.random.default_rng(11)
    t = g.normal(0, 300, size=(40, 17, 3))
    p = np.stack([noisy_similarity(x, g, 20.0, bool(i % 3 == 0)) for i, x in enumerate(t)])
    t[5] = 3.0  # collapsed target
    p[12] = -2.0  # collapsed prediction
    t[20] = np.outer(np.linspace(-1, 1, 17), [100.0, 50.0, 20.0])  # collinear: SVD fallback
    mask = g.random((40, 17)) > 0.3 if masked else None
    if masked:
        mask[:, :4] = True
        mask[33] = False  # no visible joint: NaN per pose, skipped by "mean"
    pt = torch.tensor(np.swapaxes(p, 0, 1).copy(), dtype=dtype).transpose(0, 1)  # strided view
    tt = torch.tensor(t, dtype=dtype)
    assert not pt.is_contiguous()
    before = (pt.clone(), tt.clone())
    pd, td = pt.double().numpy(), tt.double().numpy()
    m = None if mask is None else torch.from_numpy(mask)
    tol = dict(rtol=1e-9, atol=1e-9) if dtype == torch.float64 else dict(rtol=1e-5, atol=1e-3)
    for fit in (True, False):
        got = p_mpjpe(pt, tt, m, reduction="none", align_visible_only=fit)
        assert got.dtype == dtype and got.shape == (40,)
        want = p_mpjpe_oracle(pd, td, mask, fit_on_mask=fit)
        np.testing.assert_allclose(got.double().numpy(), want, **tol)
        if masked:
            assert torch.isnan(got[33])
            ok = mask.any(1)
            mean = (want[ok] * mask[ok].sum(1)).sum() / mask.sum()
        else:
            mean = want.mean()
        np.testing.assert_allclose(float(p_mpjpe(pt, tt, m, align_visible_only=fit)), mean, **tol)
    assert torch.equal(pt, before[0]) and torch.equal(tt, before[1])


def test_no_grad_and_autograd_paths_agree():
    """The chunked in-place path (no autograd, early-stopping Newton, degenerate rows zeroed
    afterwards) and the guarded out-of-place path used for autograd give the same values."""
    g = np.random.default_rng(12)
    t = g.normal(0, 300, size=(300, 17, 3))
    p = np.stack([noisy_similarity(x, g, 100.0, i % 4 == 0) for i, x in enumerate(t)])
    p[7], t[8] = 1.0, 2.0  # degenerate rows
    t[9] = np.outer(np.linspace(-1, 1, 17), [100.0, 50.0, 20.0])  # SVD fallback
    p[10] = g.normal(0, 300, size=(17, 3))  # unrelated pose: more Newton steps
    pt, tt = torch.from_numpy(p), torch.from_numpy(t)
    mask = torch.from_numpy(g.random((300, 17)) > 0.2)
    for m in (None, mask):
        plain = p_mpjpe(pt, tt, m, reduction="none")
        tracked = p_mpjpe(pt.clone().requires_grad_(True), tt, m, reduction="none")
        torch.testing.assert_close(tracked.detach(), plain, rtol=1e-12, atol=1e-9)


def test_nan_in_a_later_chunk_raises_with_its_index(monkeypatch):
    monkeypatch.setattr(alignment, "_CHUNK_POSES", 4)
    p, t = torch.randn(10, 17, 3), torch.randn(10, 17, 3)
    p[9, 2, 1] = float("inf")
    with pytest.raises(ValueError, match=r"pred: contains NaN or inf \(first at index \(9, 2, 1"):
        p_mpjpe(p, t)
    t[6, 0, 0] = float("nan")
    mask = torch.ones(10, 17, dtype=torch.bool)
    mask[6, 0] = False  # a masked-out NaN still raises
    with pytest.raises(ValueError, match=r"target: contains NaN or inf \(first at index \(6, 0, 0"):
        p_mpjpe(p.nan_to_num(posinf=0.0), t, mask)


def test_small_batches_use_the_svd_path(monkeypatch):
    """Below ``_SMALL_BATCH`` poses ``method="auto"`` is the SVD path itself; above, the fast
    path agrees with it."""
    monkeypatch.setattr(alignment, "_SMALL_BATCH", 128)
    g = torch.Generator().manual_seed(13)
    t = torch.randn(130, 17, 3, generator=g, dtype=torch.float64)
    p = 1.2 * t + 0.2 * torch.randn(130, 17, 3, generator=g, dtype=torch.float64)
    small = p_mpjpe(p[:127], t[:127], reduction="none")
    assert torch.equal(small, p_mpjpe(p[:127], t[:127], reduction="none", method="svd"))
    big = p_mpjpe(p, t, reduction="none")
    torch.testing.assert_close(big, p_mpjpe(p, t, reduction="none", method="svd"), rtol=1e-10,
                               atol=1e-12)
