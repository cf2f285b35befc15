"""Tests of the occlusion augmenters (random joints, body parts, confidence, rate, compose)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from conftest import devices
from skelcl.augment import (
    BodyPartMask,
    Compose,
    ConfidenceMask,
    RandomApply,
    RandomJointMask,
    SelfOcclusionMask,
)

LIMBS = (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16)  # H36M-17 limb joints (METHOD.md §1)
PARTS = {"left_arm": (11, 12, 13), "right_arm": (14, 15, 16), "left_leg": (4, 5, 6),
         "right_leg": (1, 2, 3)}


def gen(seed):
    return torch.Generator().manual_seed(seed)


def context_for(shape, seed=0):
    g = gen(seed + 100)
    conf = torch.rand(*shape, 17, generator=g)
    p3 = torch.randn(*shape, 17, 3, generator=g, dtype=torch.float64) * 0.4
    p3[..., 2] += 5.0
    return {"confidence": conf, "points_3d": p3}


AUGMENTERS = {
    "random_joints": lambda: RandomJointMask(max_joints=3),
    "random_joints_1_5": lambda: RandomJointMask(max_joints=5, min_joints=1),
    "body_parts": lambda: BodyPartMask(max_parts=2),
    "confidence": lambda: ConfidenceMask(0.3),
    "rate": lambda: RandomApply(RandomJointMask(3, 1), p=0.5),
    "self_occlusion": lambda: SelfOcclusionMask(limb_radius=0.1, torso_radius=0.2),
    "compose": lambda: Compose([RandomJointMask(2), BodyPartMask(1), ConfidenceMask(0.1)]),
}


@pytest.mark.parametrize("name", sorted(AUGMENTERS))
@pytest.mark.parametrize("shape", [(), (6,), (2, 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("device", devices())
def test_visible_untouched_masked_filled_deterministic(name, shape, dtype, device):
    aug = AUGMENTERS[name]()
    pose = torch.randn(*shape, 17, 2, generator=gen(1)).to(dtype=dtype, device=device)
    vis_in = torch.rand(*shape, 17, generator=gen(2)) > 0.1
    pose_in = pose.clone()
    pose_in[~vis_in.to(device)] = 123.0  # stale data at incoming invisible joints
    ctx = context_for(shape)
    out, vis = aug(pose_in, generator=gen(3), visible=vis_in.to(device), **ctx)
    assert out.shape == pose.shape and out.dtype == dtype and out.device == pose.device
    assert vis.shape == pose.shape[:-1] and vis.dtype == torch.bool
    assert bool((vis <= vis_in.to(device)).all())  # never un-hides a joint
    assert torch.equal(out[vis], pose_in[vis])  # bit for bit
    assert bool((out[~vis] == 0).all())  # documented fill value
    out2, vis2 = aug(pose_in, generator=gen(3), visible=vis_in.to(device), **ctx)
    assert torch.equal(out, out2) and torch.equal(vis, vis2)


@given(lo=st.integers(0, 4), extra=st.integers(0, 4), seed=st.integers(0, 2**16),
       n=st.integers(1, 40))
def test_random_joints_count_and_candidates(lo, extra, seed, n):
    hi = min(lo + extra, len(LIMBS))
    aug = RandomJointMask(max_joints=hi, min_joints=lo)
    _, vis = aug(torch.randn(n, 17, 3), generator=gen(seed))
    hidden = ~vis
    counts = hidden.sum(-1)
    assert bool(((counts >= lo) & (counts <= hi)).all())
    non_cand = [j for j in range(17) if j not in LIMBS]
    assert not bool(hidden[:, non_cand].any())


def test_random_joints_distribution():
    aug = RandomJointMask(max_joints=3)
    _, vis = aug(torch.zeros(8000, 17, 2), generator=gen(0))
    counts = (~vis).sum(-1)
    freq = torch.bincount(counts, minlength=4).double() / 8000
    assert torch.allclose(freq, torch.full((4,), 0.25, dtype=torch.float64), atol=0.03)
    per_joint = (~vis)[:, list(LIMBS)].double().mean(0)  # E[n]/12 = 1.5/12 each
    assert torch.allclose(per_joint, torch.full((12,), 1.5 / 12, dtype=torch.float64), atol=0.02)


def test_explicit_candidates_without_skeleton():
    aug = RandomJointMask(max_joints=2, min_joints=2, candidates=(0, 3), skeleton=None)
    _, vis = aug(torch.randn(5, 4, 2), generator=gen(0))
    assert torch.equal(~vis, torch.tensor([True, False, False, True]).expand(5, 4))
    with pytest.raises(ValueError, match="candidate"):
        aug(torch.randn(5, 3, 2))


@given(lo=st.integers(0, 2), extra=st.integers(0, 2), seed=st.integers(0, 2**16))
def test_body_parts_are_unions_of_whole_parts(lo, extra, seed):
    hi = min(lo + extra, 4)
    _, vis = BodyPartMask(max_parts=hi, min_parts=lo)(torch.randn(30, 17, 2), generator=gen(seed))
    for row in (~vis).numpy():
        hidden = set(np.flatnonzero(row).tolist())
        matches = [k for k in range(lo, hi + 1)
                   for combo in itertools.combinations(PARTS.values(), k)
                   if hidden == set().union(*map(set, combo))]
        assert matches, f"hidden joints {sorted(hidden)} are not {lo}..{hi} whole limbs"


@given(t=st.floats(0.0, 1.0), seed=st.integers(0, 2**16))
def test_confidence_threshold_oracle(t, seed):
    conf = torch.rand(4, 17, generator=gen(seed))
    pose = torch.randn(4, 17, 2)
    pose[conf < t] = float("nan")  # missing detections may be NaN: they get masked
    out, vis = ConfidenceMask(t)(pose, confidence=conf)
    expected = conf.numpy() >= t
    np.testing.assert_array_equal(vis.numpy(), expected)
    assert bool(torch.isfinite(out).all())


def test_rate_fraction_and_untouched_samples():
    inner = RandomJointMask(max_joints=2, min_joints=1)
    pose = torch.randn(6000, 17, 2)
    out, vis = RandomApply(inner, p=0.1)(pose, generator=gen(0))
    occluded = (~vis).any(-1)
    assert abs(float(occluded.double().mean()) - 0.1) < 0.015
    assert torch.equal(out[~occluded], pose[~occluded])
    assert bool(((~vis).sum(-1)[occluded] <= 2).all())
    _, vis0 = RandomApply(inner, p=0.0)(pose, generator=gen(0))
    assert bool(vis0.all())


def test_compose_is_intersection_of_steps():
    a, b = RandomJointMask(2, 2), BodyPartMask(1, 1)
    pose = torch.randn(10, 17, 2)
    ga, gb = gen(5), gen(5)
    _, vis = Compose([a, b])(pose, generator=ga)
    hide_a = a.sample_mask(pose, gb, torch.ones(10, 17, dtype=torch.bool))
    hide_b = b.sample_mask(pose, gb, ~hide_a)
    assert torch.equal(vis, ~hide_a & ~hide_b)


def test_generators_give_different_masks():
    aug = RandomJointMask(3, 1)
    pose = torch.randn(64, 17, 2)
    _, v1 = aug(pose, generator=gen(0))
    _, v2 = aug(pose, generator=gen(1))
    assert not torch.equal(v1, v2)


def test_errors():
    pose = torch.randn(3, 17, 2)
    with pytest.raises(ValueError, match=r"\(\.\.\., 17, C\)"):
        RandomJointMask()(torch.randn(3, 16, 2))
    with pytest.raises(ValueError, match="pose"):
        RandomJointMask()(torch.randn(17))
    with pytest.raises(ValueError, match="visible"):
        RandomJointMask()(pose, visible=torch.ones(2, 17, dtype=torch.bool))
    with pytest.raises(TypeError, match="visible"):
        RandomJointMask()(pose, visible=torch.ones(3, 17))
    bad = pose.clone()
    bad[0, 0, 0] = float("nan")  # pelvis is never a candidate: stays visible
    with pytest.raises(ValueError, match="NaN"):
        RandomJointMask()(bad)
    with pytest.raises(ValueError, match="max_joints"):
        RandomJointMask(max_joints=13)
    with pytest.raises(ValueError, match="min_joints"):
        RandomJointMask(max_joints=1, min_joints=2)
    with pytest.raises(KeyError, match="tail"):
        BodyPartMask(parts=("tail",))
    with pytest.raises(ValueError, match="confidence"):
        ConfidenceMask()(pose)
    with pytest.raises(ValueError, match="confidence"):
        ConfidenceMask()(pose, confidence=torch.rand(3, 16))
    with pytest.raises(ValueError, match="confidence"):
        ConfidenceMask()(pose, confidence=torch.full((3, 17), float("nan")))
    with pytest.raises(ValueError, match="p"):
        RandomApply(RandomJointMask(), p=1.5)
    with pytest.raises(TypeError, match="augmenters"):
        Compose([RandomJointMask(), "mask"])
    with pytest.raises(ValueError, match="points_3d"):
        SelfOcclusionMask()(pose)
    with pytest.raises(ValueError, match="points_3d"):
        SelfOcclusionMask()(pose, points_3d=torch.randn(2, 17, 3))


def test_validate_false_skips_the_host_side_nan_check():
    from skelcl.augment import RandomJointMask

    pose = torch.zeros(4, 17, 2)
    pose[:, 0] = float("nan")  # the pelvis is never a candidate, so it stays visible
    aug = RandomJointMask(max_joints=2)
    with pytest.raises(ValueError, match="pose"):
        aug(pose, torch.Generator().manual_seed(0))
    masked, vis = aug(pose, torch.Generator().manual_seed(0), validate=False)
    assert vis[:, 0].all() and torch.isnan(masked[:, 0]).all()
