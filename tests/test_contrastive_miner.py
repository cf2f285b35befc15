"""Tests of the attention hard-negative miner: naive path vs a loop oracle, fast path vs naive."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from skelcl.contrastive import AttentionHardNegativeMiner, in_batch_negatives


def oracle_loss(z, p, w, b, tau):
    """Paper Eqs. 6-7 with Phi_A, one anchor at a time, float64 numpy."""
    z, p, w, b = (np.asarray(x, np.float64) for x in (z, p, w, b))
    out = []
    for i in range(len(z)):
        m = np.stack([z[i], p[i]] + [z[j] for j in range(len(z)) if j != i])  # (K+2, D)
        e = m @ w.T + b
        s = e @ e.T / math.sqrt(e.shape[1])
        att = np.exp(s - s.max(1, keepdims=True))
        att /= att.sum(1, keepdims=True)
        mp = att @ m
        mp /= np.maximum(np.linalg.norm(mp, axis=1, keepdims=True), 1e-12)
        sims = mp[1:] @ mp[0] / tau
        out.append(-(sims[0] - np.log(np.exp(sims).sum())))
    return np.array(out)


def make(b, d, e, seed, scale=1.0, dup=False, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(b, d, generator=g, dtype=dtype) * scale
    p = z + torch.randn(b, d, generator=g, dtype=dtype) * scale
    if dup and b > 1:
        z[-1] = z[0]  # duplicate rows and a positive equal to an anchor
        p[0] = z[1 % b]
    miner = AttentionHardNegativeMiner(d, embed_dim=e, temperature=0.5).to(dtype)
    with torch.no_grad():
        miner.embed.weight.copy_(torch.randn(e, d, generator=g, dtype=dtype) * scale)
        miner.embed.bias.copy_(torch.randn(e, generator=g, dtype=dtype))
    return z, p, miner


@given(b=st.integers(1, 6), d=st.integers(1, 5), e=st.integers(1, 4), seed=st.integers(0, 2**16),
       tau=st.floats(0.1, 2.0))
def test_naive_matches_loop_oracle(b, d, e, seed, tau):
    z, p, miner = make(b, d, e, seed)
    miner.temperature = tau
    got = miner(z, p, reduction="none", implementation="naive")
    ref = oracle_loss(z, p, miner.embed.weight.detach(), miner.embed.bias.detach(), tau)
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-10, atol=1e-12)


def _grads(miner, z, p, impl):
    miner.zero_grad()
    z, p = z.clone().requires_grad_(), p.clone().requires_grad_()
    loss = miner(z, p, reduction="none", implementation=impl)
    (loss * torch.linspace(0.5, 1.5, len(loss), dtype=loss.dtype)).sum().backward()
    return loss.detach(), z.grad, p.grad, miner.embed.weight.grad.clone(), miner.embed.bias.grad.clone()


@given(b=st.integers(1, 64), d=st.integers(1, 128), e=st.integers(1, 32),
       seed=st.integers(0, 2**16), scale=st.sampled_from([1e-2, 0.3, 1.0, 3.0]),
       dup=st.booleans())
def test_fast_equals_naive_values_and_gradients(b, d, e, seed, scale, dup):
    z, p, miner = make(b, d, e, seed, scale, dup)
    naive, fast = _grads(miner, z, p, "naive"), _grads(miner, z, p, "fast")
    torch.testing.assert_close(fast[0], naive[0], rtol=1e-10, atol=1e-12)
    for name, f, n in zip(("grad z", "grad p", "grad W", "grad b"), fast[1:], naive[1:]):
        if d == 1:
            # unit-normalised 1-D rows are +-1: every gradient is exactly zero in exact
            # arithmetic, both paths return rounding noise only
            assert float(f.abs().max()) < 1e-6 and float(n.abs().max()) < 1e-6
            continue
        atol = 1e-10 * max(1.0, float(n.abs().max()))
        torch.testing.assert_close(f, n, rtol=1e-10, atol=atol, msg=lambda m: f"{name}: {m}")


@given(b=st.integers(1, 12), d=st.integers(1, 8), seed=st.integers(0, 2**16))
def test_attention_rows_sum_to_one(b, d, seed):
    z, p, miner = make(b, d, 3, seed, scale=3.0)
    w = miner.attention(z, p)
    assert w.shape == (b, b + 1, b + 1)
    assert bool((w >= 0).all())
    torch.testing.assert_close(w.sum(-1), torch.ones(b, b + 1, dtype=w.dtype), rtol=0, atol=1e-12)


@given(b=st.integers(2, 10), d=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_permutation_equivariant(b, d, seed):
    z, p, miner = make(b, d, 4, seed)
    perm = torch.randperm(b, generator=torch.Generator().manual_seed(seed))
    base = miner(z, p, reduction="none")
    torch.testing.assert_close(miner(z[perm], p[perm], reduction="none"), base[perm],
                               rtol=1e-10, atol=1e-12)


def test_explicit_negatives_equal_in_batch_and_use_naive():
    z, p, miner = make(7, 5, 3, 0)
    torch.testing.assert_close(miner(z, p, negatives=in_batch_negatives(z)), miner(z, p),
                               rtol=1e-12, atol=1e-12)
    n = torch.randn(7, 3, 5, dtype=torch.float64)
    ref = oracle_loss  # explicit negatives: check against a direct loop
    got = miner(z, p, negatives=n, reduction="none")
    w, bb = miner.embed.weight.detach().numpy(), miner.embed.bias.detach().numpy()
    for i in range(7):
        m = np.concatenate([z[i:i + 1].numpy(), p[i:i + 1].numpy(), n[i].numpy()])
        e = m @ w.T + bb
        s = e @ e.T / math.sqrt(3)
        a = np.exp(s - s.max(1, keepdims=True))
        a /= a.sum(1, keepdims=True)
        mp = a @ m
        mp /= np.linalg.norm(mp, axis=1, keepdims=True)
        sims = mp[1:] @ mp[0] / 0.5
        assert abs(float(got[i].detach()) - (np.log(np.exp(sims).sum()) - sims[0])) < 1e-10
    del ref


def test_single_sample_is_zero():
    z, p, miner = make(1, 4, 2, 0)
    for impl in ("fast", "naive"):
        assert float(miner(z, p, implementation=impl).detach()) == 0.0


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_low_precision_finite(dtype):
    z, p, miner = make(32, 16, 8, 0, scale=3.0, dtype=torch.float32)
    ref = miner(z, p)
    zl = z.to(dtype).requires_grad_()
    got = miner(zl, p.to(dtype))
    assert got.dtype == dtype and torch.isfinite(got)
    got.backward()
    assert bool(torch.isfinite(zl.grad).all())
    assert abs(float(got.detach()) - float(ref.detach())) < 0.05 * float(ref.detach()) + 0.05


def test_reductions_shapes_and_training_signal():
    z, p, miner = make(6, 4, 4, 1, dtype=torch.float32)
    per = miner(z, p, reduction="none")
    assert per.shape == (6,)
    torch.testing.assert_close(miner(z, p), per.mean())
    torch.testing.assert_close(miner(z, p, reduction="sum"), per.sum())
    assert bool((per >= 0).all())
    miner(z, p).backward()
    assert miner.embed.weight.grad is not None and bool(torch.isfinite(miner.embed.weight.grad).all())


def test_errors():
    z, p, miner = make(4, 3, 2, 0)
    with pytest.raises(ValueError, match="anchor"):
        miner(z[:, :2], p[:, :2])
    with pytest.raises(ValueError, match="positive"):
        miner(z, p[:3])
    with pytest.raises(ValueError, match="negatives"):
        miner(z, p, negatives=torch.zeros(3, 2, 3, dtype=torch.float64))
    with pytest.raises(ValueError, match="reduction"):
        miner(z, p, reduction="avg")
    with pytest.raises(ValueError, match="implementation"):
        miner(z, p, implementation="quick")
    with pytest.raises(ValueError, match="implementation"):
        AttentionHardNegativeMiner(3, implementation="quick")
    with pytest.raises(ValueError, match="temperature"):
        AttentionHardNegativeMiner(3, temperature=-1.0)
    bad = z.clone()
    bad[0, 0] = float("nan")
    with pytest.raises(ValueError, match="anchor"):
        miner(bad, p)
    with pytest.raises(ValueError, match="B = 0"):
        miner(z[:0], p[:0])


def test_torch_compile_smoke():
    z, p, miner = make(8, 6, 4, 0, dtype=torch.float32)
    miner.validate = False
    compiled = torch.compile(miner, backend="aot_eager")  # tracing smoke test, cheap on CPU
    torch.testing.assert_close(compiled(z, p), miner(z, p), rtol=1e-4, atol=1e-5)
