"""Tests of skelcl.metrics.retrieval_rank / retrieval_accuracy against a float64 loop oracle."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import devices
from skelcl.metrics import retrieval_accuracy, retrieval_rank
from skelcl.metrics import retrieval as retrieval_module


def _oracle_ranks(q: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Pessimistic rank of each pair, one query at a time, in float64 with plain loops."""
    n = q.shape[0]
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        qi = q[i] / np.sqrt((q[i] ** 2).sum())
        sims = [float(qi @ (k[j] / np.sqrt((k[j] ** 2).sum()))) for j in range(n)]
        out[i] = sum(1 for j in range(n) if j != i and sims[j] >= sims[i])
    return out


@given(data=st.data())
def test_ranks_match_the_loop_oracle_with_ties(data):
    n = data.draw(st.integers(1, 9))
    d = data.draw(st.integers(1, 4))
    nonzero = lambda a: (np.abs(a) > 1e-3).any(1).all()  # noqa: E731
    el = st.floats(-10, 10, allow_nan=False, width=64)
    q = data.draw(arrays(np.float64, (n, d), elements=el).filter(nonzero))
    k = data.draw(arrays(np.float64, (n, d), elements=el).filter(nonzero))
    # exact ties: copy some keys over others (bitwise equal rows give equal similarities)
    for src, dst in data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)),
                                       max_size=3)):
        k[dst] = k[src]
    want = _oracle_ranks(q, k)
    np.testing.assert_array_equal(retrieval_rank(q, k).numpy(), want)
    kk = data.draw(st.integers(1, n))
    acc = retrieval_accuracy(q, k, k=kk)
    assert float(acc) == pytest.approx(float((want < kk).mean()), abs=1e-12)


@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(1e-3, 1e3))
def test_invariant_to_positive_row_scaling_and_to_reordering_the_pairs(seed, scale):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(12, 5, generator=g, dtype=torch.float64)
    k = q + 0.8 * torch.randn(12, 5, generator=g, dtype=torch.float64)
    r = retrieval_rank(q, k)
    s = scale * torch.rand(12, 1, generator=g, dtype=torch.float64) + 1e-3
    torch.testing.assert_close(retrieval_rank(s * q, k / s), r, rtol=0, atol=0)
    perm = torch.randperm(12, generator=g)
    torch.testing.assert_close(retrieval_rank(q[perm], k[perm]), r[perm], rtol=0, atol=0)


def test_bounds_and_chance_level():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(50, 8, generator=g)
    assert float(retrieval_accuracy(f, f)) == 1.0  # identical views: every pose finds itself
    assert float(retrieval_accuracy(f, torch.randn(50, 8, generator=g), k=50)) == 1.0  # k = N
    const = torch.ones(50, 8)
    assert float(retrieval_accuracy(const, const, k=49)) == 0.0  # ties count against the query
    # unrelated features: about k / N over many independent galleries
    q, k = torch.randn(400, 50, 8, generator=g), torch.randn(400, 50, 8, generator=g)
    assert abs(float(retrieval_accuracy(q, k, k=5)) - 0.1) < 0.01


def test_batch_shapes_chunks_and_reduction(monkeypatch):
    g = torch.Generator().manual_seed(1)
    q = torch.randn(2, 3, 20, 4, generator=g, dtype=torch.float64)
    k = q + 0.5 * torch.randn(2, 3, 20, 4, generator=g, dtype=torch.float64)
    r = retrieval_rank(q, k)
    assert r.shape == (2, 3, 20) and r.dtype == torch.int64
    for b in np.ndindex(2, 3):  # each batch entry is its own gallery
        np.testing.assert_array_equal(r[b].numpy(), _oracle_ranks(q[b].numpy(), k[b].numpy()))
    monkeypatch.setattr(retrieval_module, "_CHUNK", 7)  # blocks of queries give the same ranks
    torch.testing.assert_close(retrieval_rank(q, k), r, rtol=0, atol=0)
    hits = retrieval_accuracy(q, k, k=2, reduction="none")
    assert hits.shape == (2, 3, 20) and hits.dtype == torch.float64
    assert float(retrieval_accuracy(q, k, k=2)) == pytest.approx(float(hits.mean()))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64])
def test_dtypes_and_devices(device, dtype):
    g = torch.Generator().manual_seed(2)
    q = torch.randn(30, 6, generator=g)
    k = q + 0.3 * torch.randn(30, 6, generator=g)
    acc = retrieval_accuracy(q.to(device, dtype), k.to(device, dtype), k=3)
    assert acc.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    assert acc.device.type == torch.device(device).type
    assert 0.0 <= float(acc) <= 1.0
    if dtype in (torch.float32, torch.float64):
        want = (_oracle_ranks(q.double().numpy(), k.double().numpy()) < 3).mean()
        assert float(acc) == pytest.approx(want)


@pytest.mark.parametrize("q, k, kw, match", [
    (torch.ones(5), torch.ones(5), {}, r"queries: expected shape \(\.\.\., N, D\)"),
    (torch.ones(5, 3), torch.ones(4, 3), {}, "keys"),
    (torch.ones(0, 3), torch.ones(0, 3), {}, "queries"),
    (torch.full((4, 3), float("nan")), torch.ones(4, 3), {}, "queries"),
    (torch.ones(4, 3), torch.full((4, 3), float("inf")), {}, "keys"),
    (torch.zeros(4, 3), torch.ones(4, 3), {}, "queries: a row is all zeros"),
    (torch.ones(4, 3), torch.ones(4, 3), {"k": 0}, r"k: expected an int in \[1, N\]"),
    (torch.ones(4, 3), torch.ones(4, 3), {"k": 5}, "k: "),
    (torch.ones(4, 3), torch.ones(4, 3), {"k": 1.0}, "k: "),
    (torch.ones(4, 3), torch.ones(4, 3), {"reduction": "sum"}, "reduction"),
    (torch.ones(4, 3, dtype=torch.int64).bool(), torch.ones(4, 3), {}, "queries"),
])
def test_bad_input_names_the_argument(q, k, kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        retrieval_accuracy(q, k, **kw)
