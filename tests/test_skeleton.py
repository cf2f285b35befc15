"""Tests of skelcl.skeleton: the Skeleton type, the layouts, bone lengths and flipping."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import devices
from skelcl.skeleton import (
    BODY25,
    BODY25B,
    COCO17,
    H36M17,
    LAYOUTS,
    MPI_INF_3DHP17,
    Skeleton,
    bone_lengths,
    flip_horizontal,
    get_layout,
)

ALL = [H36M17, COCO17, BODY25, BODY25B, MPI_INF_3DHP17]
finite = st.floats(-1e3, 1e3, allow_nan=False, width=64)


def test_h36m17_matches_method_md():
    # Copied from METHOD.md §1, not from the code under test.
    names = ("pelvis r_hip r_knee r_ankle l_hip l_knee l_ankle spine thorax neck_nose head "
             "l_shoulder l_elbow l_wrist r_shoulder r_elbow r_wrist").split()
    assert H36M17.names == tuple(names)
    assert H36M17.parents == (-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15)
    assert H36M17.root == 0 and H36M17.num_joints == 17
    assert set(H36M17.left_right_pairs) == {(4, 1), (5, 2), (6, 3), (11, 14), (12, 15), (13, 16)}


def test_body25b_order_matches_real_data(data_dir):
    d = np.load(data_dir / "pose2sim" / "pose2sim_balancing_openpose_body25b.npz")
    assert BODY25B.names == tuple(str(n) for n in d["keypoint_names"])


def test_coco_and_mpi_orders():
    assert COCO17.names[:5] == ("nose", "left_eye", "right_eye", "left_ear", "right_ear")
    assert COCO17.names[11:13] == ("left_hip", "right_hip")
    assert MPI_INF_3DHP17.names[0] == "head_top" and MPI_INF_3DHP17.root == 14
    assert BODY25.names[8] == "MidHip" and BODY25.root == 8


@pytest.mark.parametrize("sk", ALL, ids=lambda s: s.name)
def test_parents_form_tree_rooted_at_root(sk: Skeleton):
    # Independent check: BFS from the root over the child lists reaches every joint exactly once.
    children = {i: [] for i in range(sk.num_joints)}
    for i, p in enumerate(sk.parents):
        if p >= 0:
            children[p].append(i)
    seen, frontier = {sk.root}, [sk.root]
    while frontier:
        nxt = [c for f in frontier for c in children[f]]
        assert not seen.intersection(nxt)
        seen.update(nxt)
        frontier = nxt
    assert seen == set(range(sk.num_joints))
    assert sk.parents[sk.root] == -1 and sk.parents.count(-1) == 1
    assert len(sk.bones()) == sk.num_joints - 1


@pytest.mark.parametrize("sk", ALL, ids=lambda s: s.name)
def test_flip_permutation_involution_maps_left_to_right(sk: Skeleton):
    perm = sk.flip_permutation
    assert sorted(perm) == list(range(sk.num_joints))
    assert all(perm[perm[i]] == i for i in range(sk.num_joints))
    lr = [("left_", "right_"), ("l_", "r_"), ("L", "R")]
    n_swapped = 0
    for i, name in enumerate(sk.names):
        for left, right in lr:
            if name.startswith(left) and (right + name[len(left):]) in sk.names:
                assert sk.names[perm[i]] == right + name[len(left):]
                n_swapped += 1
    assert n_swapped == len(sk.left_right_pairs) > 0
    # A flip maps the tree onto itself: parent(perm[i]) == perm[parent(i)].
    for i, p in enumerate(sk.parents):
        q = sk.parents[perm[i]]
        assert (p == -1 and q == -1) or q == perm[p]


@pytest.mark.parametrize("sk", ALL, ids=lambda s: s.name)
def test_groups_valid_and_symmetric(sk: Skeleton):
    for g in ("left_arm", "right_arm", "left_leg", "right_leg", "torso", "head", "limbs"):
        assert g in sk.groups
        assert all(0 <= i < sk.num_joints for i in sk.groups[g])
    perm = sk.flip_permutation
    assert sorted(perm[i] for i in sk.groups["left_arm"]) == sorted(sk.groups["right_arm"])
    assert sorted(perm[i] for i in sk.groups["left_leg"]) == sorted(sk.groups["right_leg"])
    limbs = set().union(*(sk.groups[g] for g in ("left_arm", "right_arm", "left_leg",
                                                 "right_leg")))
    assert set(sk.groups["limbs"]) == limbs


def test_h36m_groups():
    assert H36M17.groups["left_arm"] == (11, 12, 13)
    assert H36M17.groups["right_leg"] == (1, 2, 3)
    assert H36M17.groups["limbs"] == (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16)
    with pytest.raises(TypeError):
        H36M17.groups["x"] = (1,)  # read-only


def test_immutable_hashable_and_lookup():
    with pytest.raises(AttributeError):
        H36M17.names = ()  # type: ignore[misc]
    assert hash(H36M17) == hash(get_layout("H36M17"))
    assert H36M17.index("thorax") == 8
    with pytest.raises(KeyError, match="nope"):
        H36M17.index("nope")
    for name, sk in LAYOUTS.items():
        assert get_layout(name) is sk
    with pytest.raises(ValueError, match="name"):
        get_layout("smpl24")
    with pytest.raises(TypeError, match="name"):
        get_layout(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(names=("a", "a"), parents=(-1, 0)), "names"),
        (dict(names=("a", "b"), parents=(-1,)), "parents"),
        (dict(names=("a", "b"), parents=(-1, -1)), "parents"),
        (dict(names=("a", "b", "c"), parents=(-1, 2, 1)), "cycle"),
        (dict(names=("a", "b"), parents=(-1, 5)), "parents"),
        (dict(names=("a", "b", "c"), parents=(-1, 0, 0), left_right_pairs=((1, 1),)),
         "left_right_pairs"),
        (dict(names=("a", "b", "c"), parents=(-1, 0, 0), left_right_pairs=((1, 2), (2, 0))),
         "left_right_pairs"),
        (dict(names=("a", "b"), parents=(-1, 0), left_right_pairs=((0, 9),)), "left_right_pairs"),
        (dict(names=("a", "b"), parents=(-1, 0), body_parts=(("x", (0, 7)),)), "body_parts"),
        (dict(names=("a", "b"), parents=(-1, 0), body_parts=(("limbs", (0,)),)), "body_parts"),
    ],
)
def test_invalid_skeletons_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Skeleton("bad", **kwargs)


def test_lists_become_tuples():
    sk = Skeleton("s", ["a", "b"], [-1, 0], [], [("head", [1])])
    assert sk.parents == (-1, 0) and sk.groups["head"] == (1,)
    with pytest.raises(TypeError, match="parents"):
        Skeleton("s", ["a", "b"], [-1, 0.5])


@pytest.mark.parametrize("sk", ALL, ids=lambda s: s.name)
@given(data=st.data())
def test_bone_lengths_vs_numpy(sk: Skeleton, data):
    shape = data.draw(st.sampled_from([(), (2,), (2, 3)]))
    c = data.draw(st.sampled_from([2, 3]))
    x = data.draw(arrays(np.float64, shape + (sk.num_joints, c), elements=finite))
    expected = np.empty(shape + (sk.num_joints - 1,))
    b = 0
    for j in range(sk.num_joints):  # float64 loop oracle
        if sk.parents[j] >= 0:
            expected[..., b] = np.sqrt(((x[..., j, :] - x[..., sk.parents[j], :]) ** 2).sum(-1))
            b += 1
    out = bone_lengths(x, sk)
    assert out.shape == shape + (sk.num_joints - 1,)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("device", devices())
def test_bone_lengths_dtype_device_and_grad(dtype, device):
    x = torch.randn(4, 17, 3, dtype=dtype, device=device)
    out = bone_lengths(x)
    assert out.dtype == dtype and out.device.type == device
    xg = torch.zeros(2, 17, 3, dtype=torch.float64, requires_grad=True)  # zero-length bones
    bone_lengths(xg).sum().backward()
    assert torch.isfinite(xg.grad).all()


def test_bone_lengths_errors():
    with pytest.raises(ValueError, match="points"):
        bone_lengths(torch.zeros(4, 16, 3))
    with pytest.raises(TypeError, match="points"):
        bone_lengths([[0.0, 0.0]] * 17)  # type: ignore[arg-type]


@pytest.mark.parametrize("sk", ALL, ids=lambda s: s.name)
@given(data=st.data())
def test_flip_twice_identity_and_semantics(sk: Skeleton, data):
    c = data.draw(st.sampled_from([2, 3]))
    axis = data.draw(st.integers(0, c - 1))
    x = data.draw(arrays(np.float64, (2, sk.num_joints, c), elements=finite))
    once = flip_horizontal(x, sk, axis=axis).numpy()
    np.testing.assert_array_equal(flip_horizontal(once, sk, axis=axis).numpy(), x)
    for i in range(sk.num_joints):  # joint i of the flip is the mirrored partner of i
        partner = sk.flip_permutation[i]
        expected = x[:, partner].copy()
        expected[:, axis] *= -1
        np.testing.assert_array_equal(once[:, i], expected)
    # Bone lengths are mirror-invariant up to the permutation of the bones.
    np.testing.assert_allclose(np.sort(bone_lengths(once, sk).numpy(), -1),
                               np.sort(bone_lengths(x, sk).numpy(), -1), rtol=1e-12, atol=1e-9)


def test_flip_h36m_example_and_errors():
    x = torch.zeros(17, 3)
    x[13] = torch.tensor([1.0, 2.0, 3.0])  # left wrist
    y = flip_horizontal(x)
    assert torch.equal(y[16], torch.tensor([-1.0, 2.0, 3.0]))  # becomes the right wrist
    with pytest.raises(ValueError, match="axis"):
        flip_horizontal(x, axis=3)
    with pytest.raises(ValueError, match="points"):
        flip_horizontal(torch.zeros(16, 3))
