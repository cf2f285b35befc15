"""The diagnostics of ``examples/ocr_pose/experiments/error_anatomy.py``.

Oracles: float64 NumPy recompositions of the depth from per-bone offsets, written from the
definition; exact ground truth from real motion capture, with a known error planted in it."""

from __future__ import annotations

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from examples.ocr_pose.experiments.error_anatomy import (
    LIMB_CHILDREN, bone_proportions, depth_oracles, error_anatomy, flip_limb_depths,
    proportion_oracle, same_clip_partners, with_bone_lengths)

PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]
NAMES = ["pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine", "thorax",
         "neck_nose", "head", "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist"]


def numpy_flip(pose: np.ndarray, flips: np.ndarray) -> np.ndarray:
    """One pose ``(17, 3)``: negate the depth offset of each flipped segment's bone, then rebuild
    every depth from the root by summing offsets along the parents (float64 loop)."""
    offset = {j: pose[j, 2] - pose[PARENTS[j], 2] for j in range(1, 17)}
    for s, name in enumerate(LIMB_CHILDREN):
        if flips[s]:
            offset[NAMES.index(name)] *= -1.0
    out = pose.copy()
    for j in range(1, 17):  # parents precede children in H36M-17
        out[j, 2] = out[PARENTS[j], 2] + offset[j]
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), lead=st.sampled_from([(), (3,), (2, 4)]))
def test_flip_limb_depths_matches_a_numpy_recomposition(seed, lead):
    rng = np.random.default_rng(seed)
    pose = rng.standard_normal((*lead, 17, 3))
    pose -= pose[..., :1, :]
    flips = rng.integers(0, 2, (*lead, 8)).astype(bool)
    got = flip_limb_depths(torch.from_numpy(pose), torch.from_numpy(flips)).numpy()
    flat_p, flat_f, flat_g = pose.reshape(-1, 17, 3), flips.reshape(-1, 8), got.reshape(-1, 17, 3)
    for p, f, g in zip(flat_p, flat_f, flat_g):
        np.testing.assert_allclose(g, numpy_flip(p, f), atol=1e-12)
    np.testing.assert_array_equal(got[..., :2], pose[..., :2])  # x, y untouched
    twice = flip_limb_depths(torch.from_numpy(got), torch.from_numpy(flips)).numpy()
    np.testing.assert_allclose(twice, pose, atol=1e-12)


def test_depth_oracles_find_a_planted_mirror_and_the_right_scale(bandai_poses_mm):
    gt = bandai_poses_mm[::800]
    exact = depth_oracles(gt / 1000.0, gt)  # a perfect prediction in metres
    assert exact["depth_scale_mm"]["1.0"] < 1e-6 and exact["depth_scale_mm"]["0.5"] > 5.0
    assert exact["per_frame_scale_oracle_mm"] < 1e-6 and exact["limb_flip_oracle_mm"] < 1e-6
    flips = torch.zeros(gt.shape[0], 8, dtype=torch.bool)
    flips[:, LIMB_CHILDREN.index("l_wrist")] = True
    flips[::2, LIMB_CHILDREN.index("r_knee")] = True
    mirrored = flip_limb_depths(gt - gt[:, :1], flips)
    r = depth_oracles(mirrored, gt)
    assert r["depth_scale_mm"]["1.0"] > 5.0  # the planted error costs
    assert r["limb_flip_oracle_mm"] < 1e-6  # and the oracle undoes it
    assert r["limb_flip_frames"] == 1.0
    assert abs(r["limb_flips_per_frame"] - 1.5) < 0.05  # ~1.5: a segment in the image plane may tie


def test_error_anatomy_report_against_its_definitions(bandai_poses_mm):
    """``examples/ocr_pose/experiments/error_anatomy.py``: a perfect prediction (in any unit) has
    no error and the ground truth's asymmetry; a wrong depth at one wrist shows up at that joint
    and in the depth part of the error only."""
    from examples.ocr_pose.experiments.error_anatomy import error_anatomy

    gt = bandai_poses_mm[::400]
    ok = error_anatomy(gt / 1000.0, gt)
    assert ok["p_mpjpe"] == 0.0 and max(ok["per_joint_mm"]) == 0.0
    assert ok["xy_rms_mm"] == 0.0 and ok["z_rms_mm"] == 0.0
    assert ok["asymmetry_pct"] == ok["gt_asymmetry_pct"]
    bad = gt.clone()
    bad[:, 16, 2] += 300.0  # the right wrist 30 cm too deep
    r = error_anatomy(bad, gt)
    assert int(np.argmax(r["per_joint_mm"])) == 16
    assert r["z_rms_mm"] > 3 * r["xy_rms_mm"]  # the per-frame scale spreads some into x, y
    assert r["asymmetry_pct"]["wrists"] > 10.0


def test_same_clip_partners_pick_another_frame_of_the_clip():
    clip = np.array(["a", "b", "a", "c", "b", "a", "b", "b"])
    for seed in range(20):
        p = same_clip_partners(clip, seed)
        assert (clip[p] == clip).all()
        assert p[3] == 3  # alone in its clip
        assert all(p[i] != i for i in range(len(clip)) if i != 3)
    drawn = {int(same_clip_partners(clip, s)[1]) for s in range(50)}
    assert drawn == {4, 6, 7}  # every other member of clip "b" comes up


def test_bone_proportions_against_a_float64_loop(bandai_poses_mm):
    """Real frames of one skeleton: the ground truth agrees with itself from frame to frame to
    the 1 mm quantisation; a prediction whose shins are 20 % longer is off by the shins' share,
    recomputed here with explicit loops."""
    gt = bandai_poses_mm[:3000:10]
    clip = np.repeat(np.arange(30), 10)
    partner = same_clip_partners(clip, 0)
    pred = gt.clone()
    for knee, ankle in ((2, 3), (5, 6)):
        pred[:, ankle] = pred[:, knee] + 1.2 * (gt[:, ankle] - gt[:, knee])
    pred = 0.01 * pred  # any unit
    r = bone_proportions(pred, gt, partner)

    def rel(p):
        L = [float(np.linalg.norm(p[j] - p[PARENTS[j]])) for j in range(1, 17)]
        return np.array(L) / np.mean(L)

    P, G = pred.numpy(), gt.numpy()
    err = np.mean([np.abs(rel(P[i]) - rel(G[i])).mean() for i in range(len(G))])
    cross = np.mean([np.abs(rel(P[i]) - rel(P[partner[i]])).mean() for i in range(len(G))])
    gt_cross = np.mean([np.abs(rel(G[i]) - rel(G[partner[i]])).mean() for i in range(len(G))])
    assert abs(r["bone_error_pct"] - 100 * err) < 0.006 and r["bone_error_pct"] > 1.0
    assert abs(r["cross_frame_pct"] - 100 * cross) < 0.006
    assert abs(r["gt_cross_frame_pct"] - 100 * gt_cross) < 0.006 and r["gt_cross_frame_pct"] < 1.0


def numpy_with_lengths(pose: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """One pose ``(17, 3)``: each bone keeps its x, y offset and depth sign and gets length
    ``lengths[j - 1]``; rebuilt from the root along the parents (float64 loop)."""
    out = pose.copy()
    for j in range(1, 17):
        d = pose[j] - pose[PARENTS[j]]
        dz = np.sign(d[2]) * np.sqrt(max(lengths[j - 1] ** 2 - d[0] ** 2 - d[1] ** 2, 0.0))
        out[j] = out[PARENTS[j]] + np.array([d[0], d[1], dz])
    return out


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_with_bone_lengths_matches_a_numpy_recomposition(seed):
    rng = np.random.default_rng(seed)
    pose = rng.standard_normal((3, 17, 3))
    lengths = rng.random((3, 16)) * 3.0  # some shorter than their image: zero depth offset
    got = with_bone_lengths(torch.from_numpy(pose), torch.from_numpy(lengths)).numpy()
    for p, L, g in zip(pose, lengths, got):
        np.testing.assert_allclose(g, numpy_with_lengths(p, L), atol=1e-12)


def test_proportion_oracle_restores_planted_depth_errors(bandai_poses_mm):
    gt = bandai_poses_mm[::800]
    t = gt - gt[:, :1]
    assert proportion_oracle(t / 1000.0, gt)["proportion_oracle_mm"] < 1e-6  # exact stays exact
    # halve the depth offset of both forearms: wrong lengths, right signs
    bad = t.clone()
    for w, e in ((13, 12), (16, 15)):
        bad[:, w, 2] = bad[:, e, 2] + 0.5 * (t[:, w, 2] - t[:, e, 2])
    from skelcl.metrics import p_mpjpe

    before = float(p_mpjpe(bad, t).mean())
    after = proportion_oracle(bad, gt)["proportion_oracle_mm"]
    assert before > 2.0 and after < 0.5 * before
