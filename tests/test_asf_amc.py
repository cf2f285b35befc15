"""Tests of the ASF/AMC reader.

Oracles: the CMU 01_01 clip as an independent BVH conversion (cgspeed), and a float64 loop with
scipy extrinsic rotations for a small hand-written skeleton.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from skelcl.data.asf_amc import (
    asf_amc_positions,
    asf_amc_to_h36m17,
    parse_amc,
    parse_asf,
    read_amc,
    read_asf,
)
from skelcl.data.mocap_presets import bvh_to_h36m17

CMU_UNIT = 0.0254 / 0.45


def test_cmu_01_01_matches_the_bvh_conversion(data_dir: Path):
    raw = data_dir / "raw_samples"
    ours = asf_amc_to_h36m17(raw / "cmu_01.asf", raw / "cmu_01_01.amc")
    bvh = bvh_to_h36m17(raw / "cmu_01_01_cgspeed.bvh").poses.double().numpy()
    assert ours.shape == (2751, 17, 3)
    bvh = bvh[1:]  # the cgspeed release prepends a T-pose frame
    # pelvis, legs and spine: identical up to float32 storage of the BVH result
    lower = [0, 1, 2, 3, 4, 5, 6, 7]
    assert np.abs(ours[:, lower] - bvh[:, lower]).max() < 1e-5
    # the cgspeed BVH drops the ASF "thorax" bone (Spine1 -> Neck has a zero offset): every
    # upper-body joint is shifted by that one bone, the same vector for all of them per frame
    upper = list(range(8, 17))
    shift = ours[:, upper] - bvh[:, upper]
    assert np.abs(shift - shift[:, :1]).max() < 1e-5
    thorax_len = 2.06488 * CMU_UNIT
    np.testing.assert_allclose(np.linalg.norm(shift[:, 0], axis=-1), thorax_len, atol=1e-5)


ASF = """# tiny skeleton
:version 1.10
:name TEST
:units
  mass 1.0
  length 1.0
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name a
     direction 0 1 0
     length 2.0
     axis 0 0 30 XYZ
    dof rx ry rz
  end
  begin
     id 2
     name b
     direction 1 0 0
     length 1.5
     axis 10 -20 0 XYZ
    dof rx rz
  end
  begin
     id 3
     name c
     direction 0 0 1
     length 0.5
     axis 0 0 0 XYZ
  end
:hierarchy
  begin
    root a c
    a b
  end
"""

AMC = """:FULLY-SPECIFIED
:DEGREES
1
root 1 2 3 10 20 30
a 5 -15 25
b 40 -10
2
root 0 0 0 0 0 0
a 0 0 0
b 0 0
"""


def _rot_xyz(angles_deg):
    """Extrinsic x, then y, then z: ``Rz @ Ry @ Rx`` (the Acclaim convention)."""
    return Rotation.from_euler("xyz", angles_deg, degrees=True).as_matrix()


def test_tiny_skeleton_against_a_loop_oracle():
    sk = parse_asf(ASF, "tiny.asf")
    mo = parse_amc(AMC, sk, "tiny.amc")
    root, ends = asf_amc_positions(sk, mo)
    assert sk.names == ("a", "c", "b")  # breadth-first from the root
    frames = [([1, 2, 3], [10, 20, 30], [5, -15, 25], [40, 0, -10]), ([0, 0, 0], [0, 0, 0],
                                                                      [0, 0, 0], [0, 0, 0])]
    for f, (t, r, ra, rb) in enumerate(frames):
        g_root = _rot_xyz(r)
        p_root = np.array(t, dtype=float)
        ca, cb = _rot_xyz([0, 0, 30]), _rot_xyz([10, -20, 0])
        g_a = g_root @ ca @ _rot_xyz(ra) @ ca.T
        end_a = p_root + 2.0 * g_a @ [0, 1, 0]
        g_b = g_a @ cb @ _rot_xyz(rb) @ cb.T
        end_b = end_a + 1.5 * g_b @ [1, 0, 0]
        end_c = p_root + 0.5 * g_root @ [0, 0, 1]
        np.testing.assert_allclose(root[f].numpy(), p_root, atol=1e-12)
        np.testing.assert_allclose(ends[f].numpy(), [end_a, end_c, end_b], atol=1e-12)


@pytest.mark.parametrize(
    "asf, amc, fragment",
    [
        ("", AMC, "empty ASF"),
        (ASF.replace(":hierarchy", ":nothing"), AMC, "no ':hierarchy'"),
        (ASF.replace("length 1.5", "length x"), AMC, "not numeric"),
        (ASF.replace("    a b\n", "    a z\n"), AMC, "unknown bone 'z'"),
        (ASF.replace("name b", "name a"), AMC, "duplicate bone names"),
        (ASF.replace("  end\n  begin\n     id 2", "  begin\n     id 2"), AMC, "has no 'end'"),
        (ASF, "", "empty AMC"),
        (ASF, AMC.replace("b 0 0\n", ""), "truncated AMC file: frame 2 lacks bone(s) ['b']"),
        (ASF, AMC.replace("a 5 -15 25", "a 5 -15"), "needs 3 values"),
        (ASF, AMC.replace("a 5 -15 25", "q 5 -15 25"), "bone 'q' is not in the skeleton"),
        (ASF, AMC.replace("a 5 -15 25", "a 5 nan 25"), "NaN"),
        (ASF, ":DEGREES\n", "no frames"),
    ],
)
def test_bad_files_give_one_clear_error(tmp_path, asf, amc, fragment):
    asf_path, amc_path = tmp_path / "s.asf", tmp_path / "m.amc"
    asf_path.write_text(asf)
    amc_path.write_text(amc)
    with pytest.raises(ValueError) as info:
        read_amc(amc_path, read_asf(asf_path))
    msg = str(info.value)
    assert str(asf_path) in msg or str(amc_path) in msg
    assert fragment in msg


def test_mapping_needs_known_bones(tmp_path):
    (tmp_path / "s.asf").write_text(ASF)
    (tmp_path / "m.amc").write_text(AMC)
    with pytest.raises(ValueError, match="no bone 'rfemur'"):
        asf_amc_to_h36m17(tmp_path / "s.asf", tmp_path / "m.amc")
    mapping = ["root", "a", "b", "b:end", "c", "c:end", "a:end"] + ["a"] * 10
    out = asf_amc_to_h36m17(tmp_path / "s.asf", tmp_path / "m.amc", mapping)
    assert out.shape == (2, 17, 3)
    # frame 2 is the rest pose: "b" starts at a's end (0, 2, 0) rotated by nothing, in inches
    np.testing.assert_allclose(out[1, 2], np.array([0.0, 2.0, 0.0]) * 0.0254, atol=1e-12)
