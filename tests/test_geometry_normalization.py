"""RootScaleNormalizer2D against a float64 numpy computation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from skelcl.geometry import RootScaleNormalizer2D
from conftest import devices


def poses(seed: int, shape: tuple, num_joints: int = 17) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal(500.0, 80.0, size=(*shape, num_joints, 2))


@given(seed=st.integers(0, 2**31 - 1), shape=st.sampled_from([(1,), (30,), (4, 5)]))
def test_fit_scale_matches_numpy(seed, shape):
    x = poses(seed, shape)
    x32 = x.astype(np.float32)
    norm = RootScaleNormalizer2D().fit(torch.from_numpy(x32))
    # float64 oracle on the float32 values the normaliser saw (it accumulates in float64)
    lengths = [np.sqrt(((p[10] - p[0]) ** 2).sum()) for p in x32.astype(np.float64).reshape(-1, 17, 2)]
    assert norm.scale == pytest.approx(0.1 / np.mean(lengths), rel=1e-9)
    x = x32.astype(np.float64)
    out = norm.transform(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(out, (x - x[..., :1, :]) * norm.scale, rtol=1e-12)
    # after normalisation the mean head-to-root length is the target
    assert np.linalg.norm(out[..., 10, :] - out[..., 0, :], axis=-1).mean() == pytest.approx(0.1, rel=1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("device", devices())
def test_round_trip_and_other_split(dtype, device):
    train, test = poses(0, (50,)), poses(1, (7, 3))
    norm = RootScaleNormalizer2D().fit(torch.as_tensor(train, dtype=dtype, device=device))
    x = torch.as_tensor(test, dtype=dtype, device=device)
    y = norm.transform(x)
    assert y.shape == x.shape and y.dtype == dtype and y.device.type == device
    back = norm.inverse_transform(y, root=x[..., 0, :])
    tol = 1e-3 if dtype == torch.float32 else 1e-9
    np.testing.assert_allclose(back.double().cpu().numpy(), test, atol=tol)
    back = norm.inverse_transform(y, root=x[..., :1, :])
    np.testing.assert_allclose(back.double().cpu().numpy(), test, atol=tol)
    np.testing.assert_allclose(norm.inverse_transform(y).double().cpu().numpy(), test - test[..., :1, :], atol=tol)
    # the scale stays the training one (not refitted on the other split)
    refit = RootScaleNormalizer2D().fit(x)
    assert refit.scale != pytest.approx(norm.scale, rel=1e-4)


def test_mask_excludes_missing_joints():
    x = poses(3, (20,))
    mask = np.ones((20, 17), dtype=bool)
    mask[:5, 10] = False
    mask[5:8, 0] = False
    mask[8, 3] = False  # irrelevant joint
    x_nan = x.copy()
    x_nan[~mask] = np.nan
    norm = RootScaleNormalizer2D().fit(torch.from_numpy(x_nan), mask=torch.from_numpy(mask))
    keep = mask[:, 10] & mask[:, 0]
    expected = 0.1 / np.linalg.norm(x[keep, 10] - x[keep, 0], axis=-1).mean()
    assert norm.scale == pytest.approx(expected, rel=1e-12)
    assert norm.num_poses == int(keep.sum())
    with pytest.raises(ValueError, match="poses_2d"):
        RootScaleNormalizer2D().fit(torch.from_numpy(x_nan))  # NaN without a mask


def test_state_dict_is_json_and_restores():
    norm = RootScaleNormalizer2D(root_index=0, head_index=9, target_length=0.2).fit(torch.from_numpy(poses(4, (10,))))
    state = json.loads(json.dumps(norm.state_dict()))
    restored = RootScaleNormalizer2D.from_state_dict(state)
    assert restored.state_dict() == norm.state_dict()
    x = torch.from_numpy(poses(5, (3,)))
    torch.testing.assert_close(restored.transform(x), norm.transform(x))
    unfitted = RootScaleNormalizer2D.from_state_dict(json.loads(json.dumps(RootScaleNormalizer2D().state_dict())))
    assert not unfitted.fitted


def test_errors():
    with pytest.raises(RuntimeError, match="fit"):
        RootScaleNormalizer2D().transform(torch.zeros(2, 17, 2))
    with pytest.raises(RuntimeError, match="fit"):
        RootScaleNormalizer2D().inverse_transform(torch.zeros(2, 17, 2))
    with pytest.raises(ValueError, match="poses_2d"):
        RootScaleNormalizer2D().fit(torch.zeros(0, 17, 2))
    with pytest.raises(ValueError, match="poses_2d"):
        RootScaleNormalizer2D().fit(torch.zeros(5, 17, 2))  # degenerate: all lengths 0
    with pytest.raises(ValueError, match="poses_2d"):
        RootScaleNormalizer2D().fit(torch.ones(5, 17, 3))
    with pytest.raises(ValueError, match="poses_2d"):
        RootScaleNormalizer2D().fit(torch.ones(5, 8, 2))  # head index 10 missing
    with pytest.raises(ValueError, match="poses_2d"):
        RootScaleNormalizer2D().fit(torch.ones(5, 17, 2), mask=torch.zeros(5, 17, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        RootScaleNormalizer2D().fit(torch.ones(5, 17, 2), mask=torch.ones(5, 16, dtype=torch.bool))
    with pytest.raises(ValueError, match="target_length"):
        RootScaleNormalizer2D(target_length=0.0)
    with pytest.raises(ValueError, match="head_index"):
        RootScaleNormalizer2D(head_index=0)
    with pytest.raises(ValueError, match="state"):
        RootScaleNormalizer2D.from_state_dict({"root_index": 0})
    with pytest.raises(ValueError, match="state"):
        RootScaleNormalizer2D.from_state_dict({"root_index": 0, "head_index": 10, "target_length": 0.1, "scale": -1.0})
    norm = RootScaleNormalizer2D().fit(torch.from_numpy(poses(0, (4,))))
    with pytest.raises(ValueError, match="root"):
        norm.inverse_transform(torch.zeros(4, 17, 2), root=torch.zeros(4, 3))
