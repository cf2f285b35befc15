"""Tests of the BVH parser, its forward kinematics and the H36M-17 presets.

Oracles: scipy's intrinsic Euler rotations in a float64 per-frame / per-joint loop written here,
the project's real Bandai Namco and Character Creator pose files (1 mm quantisation), and
anatomical facts (left is +X for a T-pose facing +Z).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from skelcl.data.bvh import (
    bvh_forward_kinematics,
    euler_sequence_to_matrix,
    forward_kinematics,
    parse_bvh,
    read_bvh,
)
from skelcl.data.mocap_presets import (
    PRESETS,
    bvh_motion_to_h36m17,
    bvh_to_h36m17,
    detect_preset,
    get_preset,
)

H36M_PARENTS = [-1, 0, 1, 2, 0, 4, 5, 0, 7, 8, 9, 8, 11, 12, 8, 14, 15]


# ---------------------------------------------------------------------------- helpers
def make_bvh(joints, values, frame_time=0.04, end_sites=None):
    """BVH text for joints = [(name, parent, offset, channels)] (parents before children)."""
    end_sites = end_sites or {}
    children = {i: [j for j, jt in enumerate(joints) if jt[1] == i] for i in range(len(joints))}

    def block(i, depth):
        name, parent, off, ch = joints[i]
        pad = "  " * depth
        kw = "ROOT" if parent < 0 else "JOINT"
        s = f"{pad}{kw} {name}\n{pad}{{\n{pad}  OFFSET {off[0]} {off[1]} {off[2]}\n"
        s += f"{pad}  CHANNELS {len(ch)} {' '.join(ch)}\n"
        for c in children[i]:
            s += block(c, depth + 1)
        if i in end_sites:
            e = end_sites[i]
            s += f"{pad}  End Site\n{pad}  {{\n{pad}    OFFSET {e[0]} {e[1]} {e[2]}\n{pad}  }}\n"
        return s + f"{pad}}}\n"

    text = "HIERARCHY\n" + block(0, 0) + "MOTION\n"
    text += f"Frames: {len(values)}\nFrame Time: {frame_time}\n"
    text += "\n".join(" ".join(repr(float(v)) for v in row) for row in values) + "\n"
    return text


def oracle_fk(joints, values, mode="replace"):
    """Float64 loop over frames and joints with scipy rotations (intrinsic, listed order)."""
    F = len(values)
    out = np.zeros((F, len(joints), 3))
    for f in range(F):
        col = 0
        glob_r, glob_p = [], []
        for name, parent, off, ch in joints:
            t = np.array(off, dtype=float)
            axes, angles = "", []
            for c in ch:
                v = values[f][col]
                col += 1
                if c.endswith("position"):
                    a = "XYZ".index(c[0])
                    t[a] = v if mode == "replace" else t[a] + v
                else:
                    axes += c[0]
                    angles.append(v)
            r = Rotation.from_euler(axes, angles, degrees=True).as_matrix() if axes else np.eye(3)
            if parent < 0:
                g, p = r, t
            else:
                g, p = glob_r[parent] @ r, glob_p[parent] + glob_r[parent] @ t
            glob_r.append(g)
            glob_p.append(p)
            out[f, len(glob_p) - 1] = p
    return out


@st.composite
def random_skeletons(draw):
    n = draw(st.integers(2, 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**31 - 1)))
    joints = []
    path: list = []  # the rightmost root-to-leaf path: index order stays depth-first
    for i in range(n):
        if i == 0:
            parent = -1
        else:
            k = int(rng.integers(0, len(path)))
            parent = path[k]
            path = path[: k + 1]
        path.append(i)
        order = "".join(rng.permutation(list("XYZ")))
        rot = [f"{a}rotation" for a in order]
        if i == 0 or draw(st.booleans()):
            pos = [f"{a}position" for a in rng.permutation(list("XYZ"))]
            ch = list(rng.permutation(pos + rot)) if draw(st.booleans()) else pos + rot
        else:
            ch = rot
        joints.append((f"j{i}", parent, rng.normal(size=3).round(4).tolist(), ch))
    frames = draw(st.integers(1, 4))
    nch = sum(len(j[3]) for j in joints)
    values = rng.uniform(-180, 180, size=(frames, nch)).round(4)
    return joints, values


# ---------------------------------------------------------------------------- FK vs oracle
@given(random_skeletons(), st.sampled_from(["replace", "add"]))
def test_fk_matches_scipy_oracle(skel, mode):
    joints, values = skel
    motion = parse_bvh(make_bvh(joints, values))
    pos, rot, names = bvh_forward_kinematics(motion, position_mode=mode)
    assert names == tuple(j[0] for j in joints)
    assert pos.shape == (len(values), len(joints), 3) and pos.dtype == torch.float64
    np.testing.assert_allclose(pos.numpy(), oracle_fk(joints, values, mode), atol=1e-9)
    # global rotations are rotations
    eye = rot @ rot.mT
    np.testing.assert_allclose(eye.numpy(), np.broadcast_to(np.eye(3), eye.shape), atol=1e-12)


def test_end_sites_and_any_channel_order():
    joints = [
        ("root", -1, [1, 2, 3], ["Yposition", "Xrotation", "Zposition", "Xposition", "Zrotation",
                                 "Yrotation"]),
        ("a", 0, [0, 5, 0], ["Yrotation", "Zrotation", "Xrotation"]),
    ]
    values = np.array([[1.5, 30, -2, 0.5, 45, -60, 10, 20, 30], [0, 0, 0, 0, 0, 0, 0, 0, 0]])
    motion = parse_bvh(make_bvh(joints, values, end_sites={1: [0, 0, 2]}))
    pos, _, names = bvh_forward_kinematics(motion, include_end_sites=True)
    assert names[-1] == "a/End Site"
    # oracle for the end site: one more joint with zero rotation
    ext = joints + [("a/End Site", 1, [0, 0, 2], [])]
    np.testing.assert_allclose(pos.numpy(), oracle_fk(ext, values), atol=1e-9)
    # frame 1: all zeros -> root at (0, 0, 0) (replace), a at (0, 5, 0), tip at (0, 5, 2)
    np.testing.assert_allclose(pos[1].numpy(), [[0, 0, 0], [0, 5, 0], [0, 5, 2]], atol=1e-12)


def test_parser_accepts_formatting_variants():
    joints = [("r", -1, [0, 0, 0], ["Xposition", "Yposition", "Zposition", "Zrotation",
                                    "Xrotation", "Yrotation"]),
              ("c", 0, [0, 1, 0], ["Zrotation", "Xrotation", "Yrotation"])]
    values = np.arange(18, dtype=float).reshape(2, 9)
    text = make_bvh(joints, values)
    ref = parse_bvh(text)
    squashed = text.replace("\n  {", " {").replace("\n", "\r\n").replace("  ", "\t")
    other = parse_bvh(squashed)
    assert other.skeleton.names == ref.skeleton.names
    np.testing.assert_array_equal(other.values, ref.values)
    assert other.frame_time == pytest.approx(0.04)
    assert ref.fps == pytest.approx(25.0)


def test_output_dtype_and_gradients():
    rot = torch.tensor(Rotation.random(4, random_state=1).as_matrix()).reshape(1, 4, 3, 3)
    rot = rot.repeat(3, 1, 1, 1).requires_grad_(True)
    trans = torch.randn(3, 4, 3, dtype=torch.float64, requires_grad=True)
    _, pos = forward_kinematics(rot, trans, [-1, 0, 1, 1])
    pos.square().sum().backward()
    assert torch.isfinite(rot.grad).all() and torch.isfinite(trans.grad).all()
    # dtype argument of the BVH wrapper
    joints = [("r", -1, [0, 0, 0], ["Xposition", "Yposition", "Zposition", "Zrotation",
                                    "Xrotation", "Yrotation"])]
    motion = parse_bvh(make_bvh(joints, np.zeros((2, 6))))
    assert motion.positions(dtype=torch.float32).dtype == torch.float32


@pytest.mark.parametrize("batch", [(), (2,), (2, 3)])
def test_torch_forward_kinematics_matches_loop(batch):
    parents = [-1, 0, 1, 0, 3]
    n = int(np.prod(batch)) if batch else 1
    rot = Rotation.random(n * 5, random_state=7).as_matrix().reshape(*batch, 5, 3, 3)
    trans = np.random.default_rng(7).normal(size=(*batch, 5, 3))
    g, pos = forward_kinematics(torch.tensor(rot), torch.tensor(trans), parents)
    rot_f, trans_f = rot.reshape(n, 5, 3, 3), trans.reshape(n, 5, 3)
    for b in range(n):
        gr, gp = [], []
        for j, p in enumerate(parents):
            gr.append(rot_f[b, j] if p < 0 else gr[p] @ rot_f[b, j])
            gp.append(trans_f[b, j] if p < 0 else gp[p] + gr[p] @ trans_f[b, j])
        np.testing.assert_allclose(pos.reshape(n, 5, 3)[b].numpy(), np.array(gp), atol=1e-12)
        np.testing.assert_allclose(g.reshape(n, 5, 3, 3)[b].numpy(), np.array(gr), atol=1e-12)
    with pytest.raises(ValueError, match="parents must come first"):
        forward_kinematics(torch.tensor(rot), torch.tensor(trans), [-1, 2, 0, 0, 3])


def test_forward_kinematics_compiles():
    rot = torch.eye(3).expand(2, 3, 3, 3).clone()
    trans = torch.randn(2, 3, 3)
    compiled = torch.compile(lambda r, t: forward_kinematics(r, t, [-1, 0, 1])[1], backend="eager")
    torch.testing.assert_close(compiled(rot, trans), trans.cumsum(dim=1))


def test_euler_sequence_matches_scipy():
    angles = torch.tensor([[10.0, -20.0, 30.0], [170.0, 5.0, -90.0]], dtype=torch.float64)
    for axes in ("ZXY", "XYZ", "YZX", "ZYX"):
        ours = euler_sequence_to_matrix(torch.deg2rad(angles), axes).numpy()
        ref = Rotation.from_euler(axes, angles.numpy(), degrees=True).as_matrix()
        np.testing.assert_allclose(ours, ref, atol=1e-12)


# ---------------------------------------------------------------------------- bad input
GOOD = make_bvh([("r", -1, [0, 0, 0], ["Xposition", "Yposition", "Zposition", "Zrotation",
                                        "Xrotation", "Yrotation"])], np.zeros((2, 6)))


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("   \n", "empty"),
        (GOOD.split("MOTION")[0], "no MOTION"),
        (GOOD[: GOOD.index("MOTION")].rsplit("}", 1)[0] + "MOTION\nFrames: 1\nFrame Time: 0.1\n0 0 0 0 0 0\n",
         "truncated"),
        (GOOD.rsplit("0.0", 3)[0], "truncated BVH file"),
        (GOOD.replace("Frames: 2", "Frames: 1"), "needs 6 motion values"),
        (GOOD.replace("Yrotation", "Wrotation"), "unknown channel"),
        (GOOD.replace("Frame Time: 0.04", "Frame Time: 0"), "Frame Time"),
        (GOOD.replace("Frame Time: 0.04\n0.0", "Frame Time: 0.04\nnan"), "NaN"),
        (GOOD.replace("Frame Time: 0.04\n0.0", "Frame Time: 0.04\nabc"), "non-numeric"),
        (GOOD.replace("OFFSET 0 0 0", "OFFSET 0 zero 0"), "OFFSET"),
        (GOOD.replace("Frames: 2", "Frames: 0").split("Frame Time")[0] + "Frame Time: 0.1\n", "no motion"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path, text, fragment):
    path = tmp_path / "bad.bvh"
    path.write_text(text)
    with pytest.raises(ValueError) as info:
        read_bvh(path)
    assert str(path) in str(info.value)
    assert fragment.lower() in str(info.value).lower()


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        read_bvh("/nonexistent/file.bvh")


# ---------------------------------------------------------------------------- presets
def test_bandai_sample_matches_the_pose_file(data_dir: Path):
    clips = bvh_to_h36m17(data_dir / "raw_samples" / "bandai2_raise-up-both-hands_active_001.bvh")
    assert clips.metadata["preset"].tolist() == ["bandai_namco"]
    assert clips.clip_fps.tolist() == [30.0]
    ref = np.load(data_dir / "bandai_namco_dataset2_h36m17.npz")
    i = list(ref["clip_names"]).index("dataset-2_raise-up-both-hands_active_001")
    s, n = int(ref["clip_starts"][i]), int(ref["clip_lengths"][i])
    expected_mm = ref["poses_3d_mm"][s : s + n].astype(np.float64)
    ours_mm = clips.poses.double().numpy() * 1000.0
    assert ours_mm.shape == expected_mm.shape == (38, 17, 3)
    assert np.abs(ours_mm - expected_mm).max() <= 1.0  # 1 mm quantisation (max 0.5 + float32)
    assert np.abs(np.round(ours_mm) - expected_mm).max() <= 1.0


def test_character_creator_head_rule_matches_the_pose_file(data_dir: Path):
    """One real frame of the iClone CMU retarget (clip 007_04, frame 1), torso and head chain only.

    The offsets and channel values below are copied from the retargeting repository's BVH (the
    source of ``cmu_iclone_retarget_h36m17.npz``); the five joints they determine must match the
    pose file to its 1 mm quantisation, including the 16 cm head point on a zero-length end site.
    """
    zyx = ["Zrotation", "Yrotation", "Xrotation"]
    joints = [
        ("CC_Base_Hip", -1, [0.0, 105.214226, 0.000021], ["Xposition", "Yposition", "Zposition"] + zyx),
        ("CC_Base_Waist", 0, [0.000018, 7.892231, 1.391215], zyx),
        ("CC_Base_Spine01", 1, [-0.000678, 4.650702, 1.662498], zyx),
        ("CC_Base_Spine02", 2, [-0.000113, 14.703314, -1.894342], zyx),
        ("CC_Base_NeckTwist01", 3, [0.002468, 27.382513, -0.130902], zyx),
        ("CC_Base_NeckTwist02", 4, [-0.000325, 3.806229, 0.258515], zyx),
        ("CC_Base_Head", 5, [-0.000301, 4.107834, 0.373634], zyx),
    ]
    values = np.array([[54.568447, -4.259659, -197.282440, -2.051126, 6.361877, 3.661520,
                        -1.565954, -1.636072, 10.406417, 3.573397, -1.093491, -21.542879,
                        4.082610, -1.437490, -2.198881, -14.223933, -3.145041, -0.778612,
                        15.022681, -4.086006, 19.199659, 6.645831, -1.445710, 1.706908]])
    motion = parse_bvh(make_bvh(joints, values, end_sites={6: [0, 0, 0]}))
    # a full preset needs the limbs; reuse the preset's head rule on a reduced copy
    preset = get_preset("iclone")
    reduced = type(preset)(
        "cc_torso", "torso only", {k: (v if v in dict((j[0], 0) for j in joints) else "CC_Base_Hip")
                                   for k, v in preset.joints.items()},
        preset.head_joint, preset.head_length, preset.unit_in_metres,
    )
    poses, _ = bvh_motion_to_h36m17(motion, reduced)
    ref = np.load(data_dir / "cmu_iclone_retarget_h36m17.npz")
    i = list(ref["clip_names"]).index("007_04")
    expected = ref["poses_3d_mm"][int(ref["clip_starts"][i]) + 1].astype(np.float64)
    for k in (0, 7, 8, 9, 10):  # pelvis, spine, thorax, neck_nose, head
        assert np.abs(poses[0, k] * 1000 - expected[k]).max() <= 1.0, k


@pytest.mark.parametrize("name, preset", [("cmu_01_01_cgspeed.bvh", "cmu_mb"),
                                          ("cmu_131_01_cgspeed.bvh", "cmu_max")])
def test_cmu_presets_detected_and_anatomical(data_dir: Path, name, preset):
    clips = bvh_to_h36m17(data_dir / "raw_samples" / name)
    assert clips.metadata["preset"].tolist() == [preset]
    assert clips.clip_fps.tolist() == [120.0]
    p = clips.poses.double().numpy()
    bones = np.linalg.norm(p[:, 1:] - p[:, H36M_PARENTS[1:]], axis=-1)
    # limbs and the head are single rigid bones: their lengths never change (torso, neck and
    # shoulder "bones" span several BVH joints and may stretch)
    rigid = [j - 1 for j in (1, 2, 3, 4, 5, 6, 10, 12, 13, 15, 16)]
    assert bones[:, rigid].std(axis=0).max() < 1e-5
    assert 1.2 < (p[:, 10, 1] - np.minimum(p[:, 3, 1], p[:, 6, 1])).max() < 2.0  # ankle to head top, metres
    # frame 0 faces +Z with Y up (the MotionBuilder release starts with a T-pose): left is +X
    t = p[0]
    assert t[4, 0] > t[1, 0] and t[11, 0] > t[14, 0]
    if preset == "cmu_mb":
        assert t[13, 0] > t[12, 0] > t[11, 0] > t[8, 0] > t[14, 0] > t[15, 0] > t[16, 0]
    assert t[10, 1] > t[9, 1] > t[8, 1] > t[7, 1] > t[0, 1] > t[2, 1] > t[3, 1]


def test_unknown_joints_for_a_preset(data_dir: Path):
    path = data_dir / "raw_samples" / "cmu_131_01_cgspeed.bvh"
    with pytest.raises(ValueError) as info:
        bvh_to_h36m17(path, preset="bandai")
    msg = str(info.value)
    assert str(path) in msg and "UpperLeg_L" in msg


def test_auto_detection_error_names_the_file():
    with pytest.raises(ValueError, match="no mocap preset matches.*closest"):
        detect_preset(["Hips", "Spine"], source="x.bvh")
    with pytest.raises(ValueError, match="unknown mocap preset"):
        get_preset("nope")
    assert set(PRESETS) == {"bandai_namco", "cmu_mb", "cmu_max", "character_creator"}


def test_zero_length_head_without_head_length_is_an_error():
    base = get_preset("cmu_mb")
    names = sorted(set(base.required_joints))
    joints = [("Hips", -1, [0, 0, 0], ["Xposition", "Yposition", "Zposition", "Zrotation",
                                       "Yrotation", "Xrotation"])]
    joints += [(n, 0, [0, 1, 0], ["Zrotation"]) for n in names if n != "Hips"]
    head = [j[0] for j in joints].index("Head")
    motion = parse_bvh(make_bvh(joints, np.zeros((1, 6 + len(joints) - 1)),
                                end_sites={head: [0, 0, 0]}), source="zero.bvh")
    with pytest.raises(ValueError, match="zero.bvh.*no head-top End Site"):
        bvh_motion_to_h36m17(motion, "cmu_mb")
