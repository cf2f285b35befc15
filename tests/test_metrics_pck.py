"""Tests of skelcl.metrics.pck3d and auc against numpy oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import devices
from skelcl.metrics import DEFAULT_AUC_THRESHOLDS, auc, pck3d

coord = st.floats(-300, 300, allow_nan=False, width=64)


def _dist(p, t, root=0):
    if root is not None:
        p, t = p - p[..., root:root + 1, :], t - t[..., root:root + 1, :]
    return np.sqrt(((p - t) ** 2).sum(-1))


@given(data=st.data(), threshold=st.floats(1.0, 400.0))
def test_pck_vs_numpy(data, threshold):
    shape = data.draw(st.sampled_from([(1,), (4,), (2, 3)]))
    p = data.draw(arrays(np.float64, shape + (17, 3), elements=coord))
    t = data.draw(arrays(np.float64, shape + (17, 3), elements=coord))
    d = _dist(p, t)
    out = pck3d(p, t, reduction="none", threshold=threshold)
    np.testing.assert_allclose(out.numpy(), (d < threshold).mean(-1), rtol=1e-12)
    assert float(pck3d(p, t, threshold=threshold)) == pytest.approx((d < threshold).mean())


@given(p=arrays(np.float64, (3, 17, 3), elements=coord),
       t=arrays(np.float64, (3, 17, 3), elements=coord), data=st.data())
def test_auc_vs_numpy_and_mask(p, t, data):
    mask = data.draw(arrays(np.bool_, (3, 17)))
    mask[:, 0] = True
    d = _dist(p, t)
    thresholds = np.arange(0, 151, 5)
    assert len(DEFAULT_AUC_THRESHOLDS) == 31
    per_thr = np.stack([(d < th) for th in thresholds])  # (31, 3, 17)
    expected = per_thr.mean(0)[mask].mean()
    assert float(auc(p, t, mask)) == pytest.approx(expected, rel=1e-12)
    per_pose = [per_thr.mean(0)[i][mask[i]].mean() for i in range(3)]
    np.testing.assert_allclose(auc(p, t, mask, reduction="none").numpy(), per_pose, rtol=1e-12)
    # Masked PCK equals PCK of the sub-array.
    for i in range(3):
        sub = pck3d(p[i, mask[i]][None] - p[i, :1], t[i, mask[i]][None] - t[i, :1],
                    root_index=None)
        assert float(pck3d(p, t, mask, reduction="none")[i]) == pytest.approx(float(sub))


def test_thresholds_exact_boundaries():
    t = torch.zeros(1, 2, 3, dtype=torch.float64)
    p = t.clone()
    p[0, 1, 0] = 150.0  # exactly at the threshold: not counted (strict "<")
    assert float(pck3d(p, t)) == 0.5
    p[0, 1, 0] = 149.0
    assert float(pck3d(p, t)) == 1.0
    # AUC of a joint at distance 100: correct for thresholds 105..150 (10 of 31); root always.
    p[0, 1, 0] = 100.0
    assert float(auc(p, t, reduction="none")[0]) == pytest.approx((30 / 31 + 10 / 31) / 2)
    assert float(auc(p, t, thresholds=[50.0, 200.0])) == pytest.approx((1.0 + 0.5) / 2)


@pytest.mark.parametrize("fn", [pck3d, auc])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("device", devices())
def test_shapes_and_errors(fn, dtype, device):
    p = torch.randn(2, 3, 17, 3, dtype=dtype, device=device) * 100
    out = fn(p, p * 0.9, reduction="none")
    assert out.shape == (2, 3) and out.dtype == dtype and ((out >= 0) & (out <= 1)).all()
    with pytest.raises(ValueError, match="reduction"):
        fn(p, p, reduction="max")
    with pytest.raises(ValueError, match="target"):
        fn(p, p[..., :2])
    with pytest.raises(ValueError, match="mask"):
        fn(p, p, torch.ones(5, dtype=torch.bool))


def test_bad_thresholds():
    p = torch.zeros(1, 17, 3)
    with pytest.raises(ValueError, match="threshold"):
        pck3d(p, p, threshold=0.0)
    with pytest.raises(ValueError, match="thresholds"):
        auc(p, p, thresholds=[])
    with pytest.raises(ValueError, match="thresholds"):
        auc(p, p, thresholds=[-1.0, 5.0])
