"""Tests of skelcl.contrastive.info_nce against a float64 loop oracle written out here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from skelcl.contrastive import InfoNCE, in_batch_negatives, info_nce


def oracle(a, p, negs, tau, w=None):
    """Per-anchor losses; negs[i] is the list of anchor i's negatives, w[i] their weights."""
    a, p = np.asarray(a, np.float64), np.asarray(p, np.float64)
    out = []
    for i in range(len(a)):
        def cos(x, y):
            nx, ny = max(np.linalg.norm(x), 1e-12), max(np.linalg.norm(y), 1e-12)
            return float(np.dot(x, y) / (nx * ny))
        pos = math.exp(cos(a[i], p[i]) / tau)
        den = pos
        for k, n in enumerate(negs[i]):
            wk = 1.0 if w is None else float(w[i][k])
            den += wk * math.exp(cos(a[i], np.asarray(n, np.float64)) / tau)
        out.append(-math.log(pos / den))
    return np.array(out)


def others(x, i):
    return [x[j] for j in range(len(x)) if j != i]


def rand(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


@given(b=st.integers(1, 7), d=st.integers(1, 6), m=st.integers(0, 5), seed=st.integers(0, 2**16),
       tau=st.floats(0.05, 2.0))
def test_matches_float64_oracle_all_modes(b, d, m, seed, tau):
    a, p = rand(b, d, seed=seed), rand(b, d, seed=seed + 1)
    shared, per = rand(m, d, seed=seed + 2), rand(b, m, d, seed=seed + 3)
    an, pn = a.numpy(), p.numpy()
    cases = [
        (None, [others(pn, i) for i in range(b)]),
        ("positives", [others(pn, i) for i in range(b)]),
        ("anchors", [others(an, i) for i in range(b)]),
        (shared, [list(shared.numpy())] * b),
        (per, [list(per[i].numpy()) for i in range(b)]),
    ]
    for neg, ref_negs in cases:
        got = info_nce(a, p, neg, temperature=tau, reduction="none")
        np.testing.assert_allclose(got.numpy(), oracle(an, pn, ref_negs, tau), rtol=1e-10, atol=1e-12)
    # symmetric: mean with the swapped direction
    sym = info_nce(a, p, "anchors", temperature=tau, reduction="none", symmetric=True)
    rev = oracle(pn, an, [others(pn, i) for i in range(b)], tau)
    fwd = oracle(an, pn, [others(an, i) for i in range(b)], tau)
    np.testing.assert_allclose(sym.numpy(), 0.5 * (fwd + rev), rtol=1e-10, atol=1e-12)
    sym = info_nce(a, p, None, temperature=tau, reduction="none", symmetric=True)
    rev = oracle(pn, an, [others(an, i) for i in range(b)], tau)
    fwd = oracle(an, pn, [others(pn, i) for i in range(b)], tau)
    np.testing.assert_allclose(sym.numpy(), 0.5 * (fwd + rev), rtol=1e-10, atol=1e-12)


@given(b=st.integers(2, 6), d=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_negative_weights_match_oracle(b, d, seed):
    a, p = rand(b, d, seed=seed), rand(b, d, seed=seed + 1)
    w = rand(b, b - 1, seed=seed + 2).abs()
    w[0, 0] = 0.0  # a zero weight drops that negative
    got = info_nce(a, p, "anchors", negative_weights=w, reduction="none")
    ref = oracle(a.numpy(), p.numpy(), [others(a.numpy(), i) for i in range(b)], 0.5, w.numpy())
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10)
    # shared negatives with per-negative weights (M,) broadcast over anchors
    n, wm = rand(4, d, seed=seed + 3), torch.tensor([0.5, 1.0, 2.0, 0.0], dtype=torch.float64)
    got = info_nce(a, p, n, negative_weights=wm, reduction="none")
    ref = oracle(a.numpy(), p.numpy(), [list(n.numpy())] * b, 0.5, [wm.numpy()] * b)
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10)


@given(b=st.integers(1, 8), d=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_in_batch_fast_path_equals_materialised(b, d, seed):
    a, p = rand(b, d, seed=seed), rand(b, d, seed=seed + 1)
    negs = in_batch_negatives(a)
    assert negs.shape == (b, b - 1, d)
    for i in range(b):  # the helper's layout, checked by a loop
        assert torch.equal(negs[i], torch.cat([a[:i], a[i + 1:]]))
    torch.testing.assert_close(info_nce(a, p, "anchors", reduction="none"),
                               info_nce(a, p, negs, reduction="none"), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(info_nce(a, p, reduction="none"),
                               info_nce(a, p, in_batch_negatives(p), reduction="none"),
                               rtol=1e-12, atol=1e-12)


@given(b=st.integers(1, 8), d=st.integers(1, 8), k=st.integers(0, 6), seed=st.integers(0, 2**16))
def test_nonnegative(b, d, k, seed):
    a, p, n = rand(b, d, seed=seed) * 5, rand(b, d, seed=seed + 1), rand(b, k, d, seed=seed + 2)
    for neg in (None, "anchors", n):
        assert bool((info_nce(a, p, neg, reduction="none") >= 0).all())


@given(k=st.integers(0, 20), d=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_equal_similarities_give_log_k_plus_1(k, d, seed):
    v = rand(1, d, seed=seed)
    scales = rand(k + 2, seed=seed + 1).abs() + 0.1  # same direction, different lengths
    a, p = v * scales[0], v * scales[1]
    n = (v * scales[2:, None])[None]  # (1, k, d): every cosine is 1
    loss = info_nce(a, p, n)
    assert abs(float(loss) - math.log(k + 1)) < 1e-12
    w = torch.full((1, k), 0.25, dtype=torch.float64)
    assert abs(float(info_nce(a, p, n, negative_weights=w)) - math.log(1 + 0.25 * k)) < 1e-12


@given(b=st.integers(1, 6), d=st.integers(1, 6), seed=st.integers(0, 2**16),
       c=st.floats(1e-3, 1e3), c2=st.floats(1e-3, 1e3))
def test_invariant_to_rescaling(b, d, seed, c, c2):
    a, p, n = rand(b, d, seed=seed), rand(b, d, seed=seed + 1), rand(b, 3, d, seed=seed + 2)
    ref = info_nce(a, p, n, reduction="none")
    torch.testing.assert_close(info_nce(a * c, p * c2, n * c, reduction="none"), ref,
                               rtol=1e-10, atol=1e-12)
    per_row = rand(b, 1, seed=seed + 3).abs() + 0.01
    torch.testing.assert_close(info_nce(a * per_row, p, n, reduction="none"), ref,
                               rtol=1e-10, atol=1e-12)


@given(d=st.integers(2, 6), seed=st.integers(0, 2**16))
def test_decreases_as_positive_moves_towards_anchor(d, seed):
    a, p0, n = rand(1, d, seed=seed), rand(1, d, seed=seed + 1), rand(1, 4, d, seed=seed + 2)
    if float(torch.cosine_similarity(a, p0)) < -0.999:  # the segment would pass the origin
        p0 = p0 + 0.5
    ts = torch.linspace(0, 1, 11, dtype=torch.float64)
    losses = torch.stack([info_nce(a, (1 - t) * p0 + t * a, n) for t in ts])
    assert bool((losses[1:] <= losses[:-1] + 1e-12).all())
    if float(torch.cosine_similarity(a, p0)) < 0.999:
        assert float(losses[-1]) < float(losses[0])


@pytest.mark.parametrize("neg", [None, "anchors", "shared0", "per0"])
def test_no_negatives_gives_zero_and_zero_grad(neg):
    b = 1 if neg in (None, "anchors") else 3
    a, p = rand(b, 4).requires_grad_(), rand(b, 4, seed=1).requires_grad_()
    negatives = {"shared0": torch.zeros(0, 4, dtype=torch.float64),
                 "per0": torch.zeros(b, 0, 4, dtype=torch.float64)}.get(neg, neg)
    loss = info_nce(a, p, negatives)
    assert float(loss.detach()) == 0.0
    loss.backward()
    assert float(a.grad.abs().max()) == 0.0 and float(p.grad.abs().max()) == 0.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
@pytest.mark.parametrize("neg", [None, "anchors", "per"])
def test_low_precision_finite_and_close(dtype, neg):
    b, d = 16, 32
    a, p = rand(b, d) * 50, rand(b, d, seed=1) * 50  # large norms: naive fp16 dot products overflow
    n = rand(b, 5, d, seed=2) * 50 if neg == "per" else neg
    ref = info_nce(a, p, n, temperature=0.05)
    a16 = a.to(dtype).requires_grad_()
    got = info_nce(a16, p.to(dtype), None if n is None else (n if isinstance(n, str) else n.to(dtype)),
                   temperature=0.05)
    assert got.dtype == dtype and torch.isfinite(got)
    got.backward()
    assert bool(torch.isfinite(a16.grad).all())
    assert abs(float(got.detach()) - float(ref)) < 0.05 * max(1.0, float(ref))


def test_reductions_and_module():
    a, p = rand(5, 3), rand(5, 3, seed=1)
    per = info_nce(a, p, reduction="none")
    assert per.shape == (5,)
    torch.testing.assert_close(info_nce(a, p), per.mean())
    torch.testing.assert_close(info_nce(a, p, reduction="sum"), per.sum())
    mod = InfoNCE(temperature=0.2, negatives="anchors", reduction="sum")
    torch.testing.assert_close(mod(a, p), info_nce(a, p, "anchors", temperature=0.2, reduction="sum"))
    assert "anchors" in repr(mod)


def test_gradcheck():
    a, p = rand(4, 3).requires_grad_(), rand(4, 3, seed=1).requires_grad_()
    n = rand(4, 2, 3, seed=2).requires_grad_()
    w = rand(4, 3, seed=3).abs().requires_grad_()
    assert torch.autograd.gradcheck(lambda a, p, n: info_nce(a, p, n, symmetric=True), (a, p, n))
    assert torch.autograd.gradcheck(
        lambda a, p, w: info_nce(a, p, "anchors", negative_weights=w + 0.1), (a, p, w))


def test_errors():
    a, p = rand(4, 3), rand(4, 3, seed=1)
    with pytest.raises(ValueError, match="positive"):
        info_nce(a, p[:3])
    with pytest.raises(ValueError, match="anchor"):
        info_nce(a[0], p[0])
    with pytest.raises(ValueError, match="negatives"):
        info_nce(a, p, rand(4, 2, 5))
    with pytest.raises(ValueError, match="negatives"):
        info_nce(a, p, rand(3, 2, 3))
    with pytest.raises(ValueError, match="negatives"):
        info_nce(a, p, "others")
    with pytest.raises(ValueError, match="reduction"):
        info_nce(a, p, reduction="avg")
    with pytest.raises(ValueError, match="temperature"):
        info_nce(a, p, temperature=0.0)
    with pytest.raises(ValueError, match="negative_weights"):
        info_nce(a, p, negative_weights=torch.ones(4, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="negative_weights"):
        info_nce(a, p, negative_weights=-torch.ones(4, 3, dtype=torch.float64))
    bad = a.clone()
    bad[1, 2] = float("nan")
    with pytest.raises(ValueError, match="anchor"):
        info_nce(bad, p)
    with pytest.raises(ValueError, match="B = 0"):
        info_nce(a[:0], p[:0])
    with pytest.raises(TypeError, match="anchor"):
        info_nce(torch.ones(4, 3, dtype=torch.long), p)
    with pytest.raises(ValueError, match="x"):
        in_batch_negatives(a[0])


# torch.compile itself calls the deprecated torch.jit.script_method inside torch (2.13); not ours.
@pytest.mark.filterwarnings("ignore:`torch.jit.script_method` is deprecated:DeprecationWarning")
# inductor's own use of a deprecated torch helper (seen when its compile cache is cold)
@pytest.mark.filterwarnings("ignore:`torch._prims_common.check` is deprecated:FutureWarning")
def test_torch_compile_smoke():
    a, p = torch.randn(6, 4, requires_grad=True), torch.randn(6, 4)
    fn = torch.compile(lambda a, p: info_nce(a, p, "anchors", validate=False))
    loss = fn(a, p)
    torch.testing.assert_close(loss, info_nce(a, p, "anchors"), rtol=1e-5, atol=1e-6)
    loss.backward()
    assert bool(torch.isfinite(a.grad).all())
