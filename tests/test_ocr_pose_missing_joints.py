"""OCR-Pose example: where a missing joint lands in the input of a lifter without a filling
network (``missing_joints``: the root, or the image origin where detectors write it)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from examples.ocr_pose.__main__ import main
from examples.ocr_pose.config import load_config
from examples.ocr_pose.evaluation import LoadedModel, evaluate_dataset, missing_joint_inputs
from examples.ocr_pose.inputs import image_origin_2d
from examples.ocr_pose.model import build_models, lift
from skelcl.data.pose_dataset import PoseDataset

TINY = {"model": {"hidden": 16, "occ_dim": 8, "fill_hidden": 8, "disc_hidden": 16,
                  "num_blocks": 1, "disc_blocks": 1},
        "schedule": {"epochs": 1, "warmup_epochs": 1, "batch_size": 32, "max_steps_per_epoch": 2},
        "data": {"synthetic_poses": 200, "max_val_poses": 64}}


def _dataset(n: int = 5, **kw) -> PoseDataset:
    g = np.random.default_rng(0)
    return PoseDataset(poses_2d=g.uniform(300, 700, (n, 17, 2)),
                       image_size=np.array([1000.0, 1000.0]), **kw)


def test_image_origin_in_camera_units_against_hand_computed_values():
    ds = _dataset(focal=np.array([1150.0, 1100.0]), principal_point=np.array([480.0, 520.0]))
    o = image_origin_2d(ds)
    assert o.shape == (5, 2)
    np.testing.assert_allclose(o, np.tile([-480.0 / 1150.0, -520.0 / 1100.0], (5, 1)), rtol=1e-15)
    # no principal point: the image centre; a per-frame focal length
    ds = _dataset(focal=np.array([1000.0, 1000.0, 2000.0, 2000.0, 500.0]))
    np.testing.assert_allclose(image_origin_2d(ds)[:, 0], [-0.5, -0.5, -0.25, -0.25, -1.0])
    # pixels (no focal length): pixel (0, 0) itself
    assert np.array_equal(image_origin_2d(_dataset()), np.zeros((5, 2)))


def _models(variant: str):
    cfg = load_config(variant, TINY)
    torch.manual_seed(0)
    return build_models(cfg), cfg


def _poses(seed: int, missing):
    """Six random normalised 2D poses and their visibility with the ``missing`` joints hidden."""
    x = 0.1 * torch.randn(6, 17, 2, generator=torch.Generator().manual_seed(seed))
    vis = torch.ones(6, 17, dtype=torch.bool)
    vis[:, list(missing)] = False
    return x, vis


def test_lift_puts_missing_joints_of_a_plain_lifter_at_missing_2d():
    models, cfg = _models("baseline")
    x, vis = _poses(1, (3, 13))
    at = torch.full((6, 17, 2), 0.7)
    a = lift(models, cfg, x, vis, missing_2d=at)
    assert torch.equal(a.input_2d[:, [3, 13]], at[:, [3, 13]])
    assert torch.equal(a.input_2d[vis], x[vis])
    b = lift(models, cfg, x, vis)  # default: at the root, i.e. zeroed
    assert torch.equal(b.input_2d[:, [3, 13]], torch.zeros(6, 2, 2))
    assert not torch.allclose(a.pose_3d, b.pose_3d)  # the lifter does see the difference
    with pytest.raises(ValueError, match="missing_2d"):
        lift(models, cfg, x, vis, missing_2d=at[:3])


def test_a_filling_variant_does_not_depend_on_where_missing_joints_are():
    models, cfg = _models("ocr_pose")
    x, vis = _poses(2, (5, 16))
    far = x.clone()
    far[:, [5, 16]] = 3.0  # garbage at the missing joints
    a = lift(models, cfg, x, vis)
    b = lift(models, cfg, far, vis, missing_2d=torch.full((6, 17, 2), -2.0))
    assert torch.equal(a.pose_3d, b.pose_3d) and torch.equal(a.input_2d, b.input_2d)


@pytest.fixture(scope="module")
def checkpoints(tmp_path_factory):
    """Tiny baseline and OCR-Pose checkpoints trained through the CLI, and a synthetic dataset
    with 3D, focal length and principal point."""
    from examples.ocr_pose.data_sources import synthetic_datasets
    from skelcl.data.pose_dataset import save_pose_dataset

    d = tmp_path_factory.mktemp("missing_joints")
    for v in ("baseline", "ocr_pose"):
        (d / f"{v}.json").write_text(json.dumps({"extends": v, **TINY}))
        assert main(["train", "--config", str(d / f"{v}.json"), "--out", str(d / v),
                     "--no-progress"]) == 0
    _, val = synthetic_datasets(64, 1, seed=9)
    save_pose_dataset(val, d / "val.npz")
    return d, val


def test_image_origin_inputs_against_an_independent_normalisation(checkpoints):
    d, val = checkpoints
    model = LoadedModel(d / "baseline" / "best.pt")
    assert missing_joint_inputs(model, val, "root") is None
    got = missing_joint_inputs(model, val, "image_origin").double()
    # oracle: pixel (0, 0) and the root in camera units, by hand, then the checkpoint's scale
    f = np.broadcast_to(np.asarray(val.focal, np.float64).reshape(len(val), -1), (len(val), 2))
    c = (np.broadcast_to(np.asarray(val.principal_point, np.float64), (len(val), 2))
         if val.principal_point is not None else np.asarray(val.image_size) / 2.0)
    root = (val.poses_2d[:, 0].astype(np.float64) - c) / f
    scale = json.loads(model.ckpt["normalizer"])["scale"]
    want = (-c / f - root) * scale
    np.testing.assert_allclose(got[:, 1:].numpy(), np.broadcast_to(want[:, None], (len(val), 16, 2)),
                               rtol=1e-5, atol=1e-6)
    assert torch.equal(got[:, 0], torch.zeros(len(val), 2, dtype=got.dtype))  # the root itself
    # the body is near the image centre, the origin far outside it (a real outlier)
    assert float(got[:, 1:].norm(dim=-1).min()) > 3 * 0.1
    with pytest.raises(ValueError, match="missing_joints"):
        missing_joint_inputs(model, val, "corner")


def test_evaluate_with_missing_joints_at_the_image_origin(checkpoints):
    d, val = checkpoints
    base = LoadedModel(d / "baseline" / "best.pt")
    r_root, l_root = evaluate_dataset(base, val, 3, 5)
    r_orig, l_orig = evaluate_dataset(base, val, 3, 5, missing_joints="image_origin")
    assert r_root["missing_joints"] == "root" and r_orig["missing_joints"] == "image_origin"
    hidden = l_root.input_2d.ne(l_orig.input_2d).any(-1)
    assert hidden.any() and (hidden.sum(1) <= 3).all()  # exactly the masked joints moved
    assert r_orig["p_mpjpe_mm"]["all"] != pytest.approx(r_root["p_mpjpe_mm"]["all"])
    ocr = LoadedModel(d / "ocr_pose" / "best.pt")
    a, _ = evaluate_dataset(ocr, val, 3, 5)
    b, _ = evaluate_dataset(ocr, val, 3, 5, missing_joints="image_origin")
    for k in ("p_mpjpe_mm", "mpjpe_mm", "n_mpjpe_mm"):
        assert a[k] == b[k]


def test_evaluate_cli_missing_joints_flag(checkpoints, capsys):
    d, _ = checkpoints
    out = d / "eval_origin.json"
    assert main(["evaluate", "--checkpoint", str(d / "baseline" / "best.pt"), "--data",
                 str(d / "val.npz"), "--mask-max", "3", "--missing-joints", "image_origin",
                 "--json", str(out)]) == 0
    assert json.loads(out.read_text())["missing_joints"] == "image_origin"
    assert "missing joints at the image_origin" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["evaluate", "--checkpoint", "x", "--data", "y", "--missing-joints", "corner",
              "--json", "z"])


def test_missing_joints_experiment_scores_both_protocols(checkpoints):
    from examples.ocr_pose.experiments.missing_joints import score, table

    d, val = checkpoints
    rows = [score(LoadedModel(d / v / "best.pt"), val) for v in ("baseline", "ocr_pose")]
    base, ocr = rows
    r, _ = evaluate_dataset(LoadedModel(d / "baseline" / "best.pt"), val, 4, 1234,
                            missing_joints="image_origin")
    assert base["image_origin"]["N=4"] == [r["p_mpjpe_mm"]["visible"], r["p_mpjpe_mm"]["all"]]
    assert base["image_origin"]["N=3"] != base["root"]["N=3"]
    assert ocr["image_origin"] == ocr["root"]  # the filling network reads the mask
    text = table(rows, ["b", "o"])
    line = next(l for l in text.splitlines() if l.startswith("| b | image_origin |"))
    ratio = base["image_origin"]["N=3"][1] / base["unoccluded"]
    assert line.rstrip(" |").endswith(f"{ratio:.2f}")
    assert len(text.strip().splitlines()) == 2 + 2 * 2
