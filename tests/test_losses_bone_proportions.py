"""Bone proportions read off 2D data, and the loss against them (skelcl.losses.bone_proportions).

Oracles: a float64 loop over groups and bones written from the definition (longest image per
group, relative to its mean, median over groups), scipy's uniformly random rotations for the
views, and real motion capture seen by virtual cameras (the estimate approaches the clips' true
3D proportions)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from skelcl.losses import bone_proportion_loss, bone_proportions_from_2d, relative_bone_lengths

from conftest import devices

PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]


def loop_estimate(poses: np.ndarray, groups: np.ndarray, visible: np.ndarray, min_poses: int) -> np.ndarray:
    """The definition, by explicit loops in float64."""
    per_group = []
    for g in sorted(set(groups.tolist())):
        rows = [i for i in range(len(groups)) if groups[i] == g]
        if len(rows) < min_poses:
            continue
        longest = []
        for j in range(1, 17):
            seen = [float(np.hypot(*(poses[i, j] - poses[i, PARENTS[j]]))) for i in rows
                    if visible[i, j] and visible[i, PARENTS[j]]]
            longest.append(max(seen) if seen else None)
        if any(v is None or v <= 0 for v in longest):
            continue
        mean = sum(longest) / 16
        per_group.append([v / mean for v in longest])
    med = np.median(np.array(per_group), axis=0)
    return med / med.mean()


def views_of(body: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` orthographic images ``(n, 17, 2)`` of a 3D pose seen from uniformly random directions."""
    rot = Rotation.random(n, random_state=seed).as_matrix()
    return np.einsum("nij,kj->nki", rot, body)[..., :2]


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**31 - 1), min_poses=st.integers(1, 4))
def test_matches_a_float64_loop_over_groups_and_bones(seed, min_poses):
    rng = np.random.default_rng(seed)
    n = 40
    poses = rng.standard_normal((n, 17, 2))
    groups = rng.integers(0, 7, n) * 3  # any labels
    visible = rng.random((n, 17)) > 0.1
    want = loop_estimate(poses, groups, visible, min_poses)
    got = bone_proportions_from_2d(torch.from_numpy(poses), torch.from_numpy(groups),
                                   torch.from_numpy(visible), min_poses=min_poses)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-10)


def test_many_views_of_one_body_recover_its_proportions():
    """The longest of 2000 random views of each bone is within 1 % of the bone: the estimate is
    the body's relative bone lengths, and two bodies give their median."""
    rng = np.random.default_rng(0)
    bodies = rng.standard_normal((3, 17, 3))
    images = np.concatenate([views_of(b, 2000, seed=i) for i, b in enumerate(bodies)])
    groups = np.repeat(np.arange(3), 2000)
    truth = relative_bone_lengths(torch.from_numpy(bodies)).numpy()  # (3, 16)
    one = bone_proportions_from_2d(torch.from_numpy(images[:2000]), torch.from_numpy(groups[:2000]))
    np.testing.assert_allclose(one.numpy(), truth[0], rtol=0.01)
    three = bone_proportions_from_2d(torch.from_numpy(images), torch.from_numpy(groups))
    median = np.median(truth, axis=0)
    np.testing.assert_allclose(three.numpy(), median / median.mean(), rtol=0.01)


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 100.0))
def test_invariant_to_scale_shift_and_order_of_the_poses(seed, scale):
    rng = np.random.default_rng(seed)
    poses = torch.from_numpy(rng.standard_normal((30, 17, 2)))
    groups = torch.from_numpy(rng.integers(0, 3, 30))
    base = bone_proportions_from_2d(poses, groups, min_poses=1)
    shift = torch.from_numpy(rng.standard_normal((30, 1, 2)))
    perm = torch.from_numpy(rng.permutation(30))
    moved = bone_proportions_from_2d((scale * poses + shift)[perm], groups[perm], min_poses=1)
    torch.testing.assert_close(moved, base, rtol=1e-9, atol=1e-12)
    assert float(base.mean()) == pytest.approx(1.0, abs=1e-12)


def test_small_groups_and_hidden_joints_do_not_vote():
    rng = np.random.default_rng(1)
    body = rng.standard_normal((17, 3))
    images = torch.from_numpy(views_of(body, 300, seed=2))
    groups = torch.zeros(300, dtype=torch.long)
    clean = bone_proportions_from_2d(images, groups)
    # two poses of another "person" with a huge forearm: a group below min_poses
    odd = images[:2].clone()
    odd[:, 13] += 50.0
    with_small = bone_proportions_from_2d(torch.cat([images, odd]),
                                          torch.cat([groups, torch.ones(2, dtype=torch.long)]),
                                          min_poses=10)
    torch.testing.assert_close(with_small, clean)
    # the same displaced wrist, marked as not in the data
    vis = torch.ones(300, 17, dtype=torch.bool)
    hidden = images.clone()
    hidden[:5, 13] += 50.0
    vis[:5, 13] = False
    torch.testing.assert_close(bone_proportions_from_2d(hidden, groups, vis), clean)
    # without the mask the displaced joint does count
    assert not torch.allclose(bone_proportions_from_2d(hidden, groups), clean)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dtype_and_device_follow_the_poses(device, dtype):
    poses = torch.randn(20, 17, 2, dtype=dtype, device=device)
    out = bone_proportions_from_2d(poses, torch.zeros(20, dtype=torch.long, device=device))
    assert out.dtype == dtype and out.device.type == device and out.shape == (16,)


def test_real_motion_capture_through_virtual_cameras(data_dir):
    """Clips of real motion capture, each frame seen by its own random camera: the estimate is
    within 3 % per bone (mean under 1.5 %) of the median over clips of their true proportions."""
    from skelcl.data import load_mocap
    from skelcl.data.virtual_cameras import project_mocap

    f = data_dir / "bandai_namco_dataset2_h36m17.npz"
    if not f.exists():
        pytest.skip(f"{f.name} not in {data_dir}")
    ds = project_mocap(load_mocap(f), 1, generator=torch.Generator().manual_seed(0))
    px = torch.from_numpy(ds.poses_2d.astype(np.float64))
    groups = torch.from_numpy(np.unique(ds.clip, return_inverse=True)[1].reshape(-1))
    est = bone_proportions_from_2d(px, groups, min_poses=30).numpy()
    p3 = torch.from_numpy(ds.poses_3d.astype(np.float64))
    per_clip = [relative_bone_lengths(p3[groups == g]).median(0).values.numpy()
                for g in torch.unique(groups) if int((groups == g).sum()) >= 30]
    truth = np.median(np.array(per_clip), axis=0)
    truth /= truth.mean()
    err = np.abs(est - truth) / truth
    assert err.max() < 0.03 and err.mean() < 0.015, err


@pytest.mark.parametrize("bad, match", [
    (dict(poses_2d=torch.zeros(5, 17, 3)), "poses_2d"),
    (dict(poses_2d=torch.zeros(5, 16, 2)), "poses_2d"),
    (dict(poses_2d=torch.zeros(0, 17, 2), groups=torch.zeros(0, dtype=torch.long)), "poses_2d"),
    (dict(poses_2d=torch.zeros(2, 5, 17, 2)), "poses_2d"),
    (dict(poses_2d=torch.full((5, 17, 2), float("nan"))), "poses_2d"),
    (dict(groups=torch.zeros(5)), "groups"),
    (dict(groups=torch.zeros(4, dtype=torch.long)), "groups"),
    (dict(visible=torch.ones(5, 17)), "visible"),
    (dict(visible=torch.ones(5, 16, dtype=torch.bool)), "visible"),
    (dict(min_poses=0), "min_poses"),
    (dict(min_poses=6), "groups"),  # no group of 6 poses
])
def test_bad_arguments_are_named(bad, match):
    kw = dict(poses_2d=torch.randn(5, 17, 2), groups=torch.zeros(5, dtype=torch.long)) | bad
    with pytest.raises(ValueError, match=match):
        bone_proportions_from_2d(**kw)


def test_a_group_that_never_shows_a_bone_does_not_vote():
    poses = torch.randn(10, 17, 2, dtype=torch.float64)
    vis = torch.ones(10, 17, dtype=torch.bool)
    vis[:5, 16] = False  # group 0 never shows the right wrist
    groups = torch.tensor([0] * 5 + [1] * 5)
    only_one = bone_proportions_from_2d(poses[5:], groups[5:], min_poses=1)
    torch.testing.assert_close(bone_proportions_from_2d(poses, groups, vis, min_poses=1), only_one)
    vis[5:, 16] = False
    with pytest.raises(ValueError, match="shows every bone"):
        bone_proportions_from_2d(poses, groups, vis, min_poses=1)


# --- the loss ---------------------------------------------------------------------------------


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**31 - 1), channels=st.sampled_from([2, 3]))
def test_loss_matches_a_float64_loop(seed, channels):
    rng = np.random.default_rng(seed)
    pose = rng.standard_normal((6, 17, channels))
    target = rng.random(16) + 0.5
    valid = rng.random((6, 16)) < 0.7
    diffs = []
    for i in range(6):
        length = [float(np.sqrt(((pose[i, j] - pose[i, PARENTS[j]]) ** 2).sum())) for j in range(1, 17)]
        mean = sum(length) / 16
        diffs.append([abs(v / mean - t) for v, t in zip(length, target)])
    diffs = np.array(diffs)
    p, t = torch.from_numpy(pose), torch.from_numpy(target)
    np.testing.assert_allclose(bone_proportion_loss(p, t).item(), diffs.mean(), rtol=1e-10)
    v = torch.from_numpy(valid)
    want = (diffs * valid).sum() / max(valid.sum(), 1)
    np.testing.assert_allclose(bone_proportion_loss(p, t, valid=v).item(), want, rtol=1e-10)
    np.testing.assert_allclose(bone_proportion_loss(p, t, valid=v, reduction="none").numpy(),
                               diffs * valid, rtol=1e-10)


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31 - 1), scale=st.floats(0.01, 100.0))
def test_loss_is_zero_for_the_target_body_in_any_view_position_or_size(seed, scale):
    rng = np.random.default_rng(seed)
    body = rng.standard_normal((17, 3))
    rot = Rotation.random(5, random_state=seed % (2**32)).as_matrix()
    poses = torch.from_numpy(scale * np.einsum("nij,kj->nki", rot, body) + rng.standard_normal((5, 1, 3)))
    target = relative_bone_lengths(torch.from_numpy(body))
    assert bone_proportion_loss(poses, target).item() < 1e-10


def test_loss_gradient_and_per_pose_targets():
    pose = torch.randn(4, 17, 3, dtype=torch.float64, requires_grad=True)
    target = torch.rand(4, 16, dtype=torch.float64) + 0.5
    assert torch.autograd.gradcheck(lambda p: bone_proportion_loss(p, target), (pose,))
    none_valid = bone_proportion_loss(pose, target, valid=torch.zeros(4, 16, dtype=torch.bool))
    assert none_valid.item() == 0.0


@pytest.mark.parametrize("bad, match", [
    (dict(target=torch.ones(15)), "target"),
    (dict(target=torch.ones(3, 16)), "target"),
    (dict(valid=torch.ones(4, 16)), "valid"),
    (dict(valid=torch.ones(4, 15, dtype=torch.bool)), "valid"),
    (dict(reduction="sum"), "reduction"),
    (dict(pose=torch.zeros(4, 16, 3)), "pose"),
    (dict(pose=torch.zeros(0, 17, 3)), "pose: empty"),
    (dict(pose=torch.full((4, 17, 3), float("inf"))), "pose: contains NaN"),
    (dict(target=torch.full((16,), float("nan"))), "target: contains NaN"),
])
def test_loss_bad_arguments_are_named(bad, match):
    kw = dict(pose=torch.randn(4, 17, 3), target=torch.ones(16)) | bad
    with pytest.raises(ValueError, match=match):
        bone_proportion_loss(**kw)
