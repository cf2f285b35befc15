"""The reproduction's checkpoint selection: validation clips split into disjoint parts."""

import numpy as np
import pytest

from examples.ocr_pose.inputs import split_by_clip
from skelcl.data.pose_dataset import PoseDataset


def _dataset(clips):
    n = len(clips)
    rng = np.random.default_rng(0)
    return PoseDataset(poses_2d=rng.uniform(0, 1000, (n, 17, 2)), image_size=np.array([1000, 1000]),
                       clip=np.array(clips), extras={"row": np.arange(n)})


@pytest.mark.parametrize("fraction", [0.25, 0.5, 0.9])
def test_split_by_clip_is_a_disjoint_cover_of_whole_clips(fraction):
    clips = [f"c{i % 13}" for i in range(200)]
    ds = _dataset(clips)
    a, b = split_by_clip(ds, fraction, seed=3)
    # every pose in exactly one part, clips never straddle the parts
    rows = np.concatenate([a.extras["row"], b.extras["row"]])
    assert sorted(rows.tolist()) == list(range(200))
    assert set(a.clip.tolist()).isdisjoint(b.clip.tolist())
    assert len(set(a.clip.tolist())) == max(1, round(fraction * 13))
    # poses keep their own clip label
    assert all(clips[r] == c for r, c in zip(a.extras["row"], a.clip))
    # seeded: same seed same split, another seed (almost surely) another split
    a2, _ = split_by_clip(ds, fraction, seed=3)
    assert a2.extras["row"].tolist() == a.extras["row"].tolist()


def test_split_by_clip_leaves_at_least_one_clip_on_each_side():
    ds = _dataset(["x"] * 5 + ["y"] * 5)
    for fraction in (0.01, 0.99):
        a, b = split_by_clip(ds, fraction, seed=0)
        assert len(set(a.clip.tolist())) == 1 and len(set(b.clip.tolist())) == 1


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.5, 2.0])
def test_split_by_clip_rejects_bad_fraction(fraction):
    with pytest.raises(ValueError, match="fraction"):
        split_by_clip(_dataset(["a", "b"]), fraction, seed=0)


def test_split_by_clip_needs_clips():
    rng = np.random.default_rng(0)
    no_clip = PoseDataset(poses_2d=rng.uniform(0, 9, (4, 17, 2)), image_size=np.array([10, 10]))
    with pytest.raises(ValueError, match="clip"):
        split_by_clip(no_clip, 0.5, seed=0)
    with pytest.raises(ValueError, match="at least 2 clips"):
        split_by_clip(_dataset(["a"] * 4), 0.5, seed=0)
