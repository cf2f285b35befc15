"""OCR-Pose example: every subcommand end to end on tiny budgets (synthetic and real data)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from examples.ocr_pose.__main__ import main
from examples.ocr_pose.evaluation import compute_metrics, mask_joints

TINY_OVERRIDES = {
    "extends": "ocr_pose",
    "model": {"hidden": 16, "occ_dim": 8, "fill_hidden": 8, "disc_hidden": 16, "num_blocks": 1,
              "disc_blocks": 1},
    "schedule": {"epochs": 1, "warmup_epochs": 1, "batch_size": 32, "max_steps_per_epoch": 2},
    "data": {"synthetic_poses": 200, "max_val_poses": 64},
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny OCR-Pose checkpoint trained through the CLI on the synthetic default, and a
    synthetic evaluation file with 3D."""
    from examples.ocr_pose.data_sources import synthetic_datasets
    from skelcl.data.pose_dataset import save_pose_dataset

    d = tmp_path_factory.mktemp("ocr_cli")
    cfg = d / "tiny.json"
    cfg.write_text(json.dumps(TINY_OVERRIDES))
    assert main(["train", "--config", str(cfg), "--out", str(d / "run"), "--no-progress"]) == 0
    _, val = synthetic_datasets(64, 1, seed=9)
    save_pose_dataset(val, d / "val_synthetic.npz")
    return d


def test_train_writes_checkpoints_and_metrics(trained):
    run = trained / "run"
    assert (run / "last.pt").is_file() and (run / "best.pt").is_file()
    rows = [json.loads(s) for s in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in rows] == ["warmup", "main"]
    assert "val" in rows[-1] and rows[-1]["val"]["p_mpjpe_mm"] > 0  # synthetic validation split
    ck = torch.load(run / "last.pt", weights_only=True)
    assert json.loads(ck["config"])["variant"] == "ocr_pose"
    assert json.loads(ck["normalizer"])["scale"] > 0
    assert "synthetic" in ck["source"]


@pytest.mark.parametrize("mask_max", [0, 3])
def test_evaluate_json(trained, mask_max):
    out = trained / f"eval{mask_max}.json"
    assert main(["evaluate", "--checkpoint", str(trained / "run" / "best.pt"), "--data",
                 str(trained / "val_synthetic.npz"), "--mask-max", str(mask_max),
                 "--json", str(out)]) == 0
    res = json.loads(out.read_text())
    for k in ("p_mpjpe_mm", "mpjpe_mm", "n_mpjpe_mm", "pck3d", "auc"):
        assert set(res[k]) == {"all", "visible"}
        assert np.isfinite(res[k]["all"])
    assert res["frames"] == 256  # the synthetic validation split has at least 256 poses
    assert res["per_action"]  # synthetic postures are the actions
    # the ordering the definitions imply (scale/rotation freedom only helps)
    assert res["p_mpjpe_mm"]["all"] <= res["n_mpjpe_mm"]["all"] + 1e-6
    if mask_max == 0:
        assert res["p_mpjpe_mm"]["all"] == res["p_mpjpe_mm"]["visible"]
    else:
        assert res["visible_joint_fraction"] < 1.0


def test_evaluate_bad_checkpoint_is_a_clear_error(trained, tmp_path, capsys):
    broken = tmp_path / "broken.pt"
    broken.write_bytes((trained / "run" / "last.pt").read_bytes()[:1000])
    assert main(["evaluate", "--checkpoint", str(broken), "--data",
                 str(trained / "val_synthetic.npz"), "--json", str(tmp_path / "x.json")]) == 2
    assert "truncated" in capsys.readouterr().err


def test_predict_on_pose2sim_detections(trained, data_dir, tmp_path):
    out = tmp_path / "p2s.npz"
    png = tmp_path / "p2s.png"
    f = data_dir / "pose2sim" / "pose2sim_balancing_openpose_body25b.npz"
    assert main(["predict", "--checkpoint", str(trained / "run" / "last.pt"), "--keypoints",
                 str(f), "--format", "pose2sim", "--camera", "1", "--out", str(out),
                 "--plot", str(png)]) == 0
    res = np.load(out)
    assert res["poses_3d"].shape == (100, 17, 3) and np.isfinite(res["poses_3d"]).all()
    assert np.allclose(res["poses_3d"][:, 0], 0)  # root-relative
    vis = res["visible"]
    assert (~vis).any()  # real detector output has missed joints...
    completed, given = res["poses_2d_completed"], res["poses_2d_input"]
    c = res["confidence"]
    full = vis & (c >= 1.0)
    assert np.allclose(completed[full], given[full])  # ...visible confident joints are kept
    assert png.stat().st_size > 10_000


def test_metrics_global_scale_against_a_float64_oracle():
    g = torch.Generator().manual_seed(0)
    gt = torch.randn(20, 17, 3, generator=g, dtype=torch.float64) * 300
    pred = gt / 250.0 + 0.01 * torch.randn(20, 17, 3, generator=g, dtype=torch.float64)
    res = compute_metrics(pred, gt, torch.ones(20, 17, dtype=torch.bool))
    p = (pred - pred[:, :1]).numpy().reshape(-1)
    t = (gt - gt[:, :1]).numpy().reshape(-1)
    s = float(np.dot(p, t) / np.dot(p, p))
    assert res["mpjpe_scale_mm_per_unit"] == pytest.approx(s, rel=1e-10)
    err = np.linalg.norm((s * (pred - pred[:, :1]) - (gt - gt[:, :1])).numpy(), axis=-1)
    assert res["mpjpe_mm"]["all"] == pytest.approx(err.mean(), rel=1e-10)
    exact = compute_metrics(gt / 250.0, gt, torch.ones(20, 17, dtype=torch.bool))
    assert exact["p_mpjpe_mm"]["all"] < 1e-6 and exact["mpjpe_mm"]["all"] < 1e-6
    assert exact["pck3d"]["all"] == 1.0


def test_evaluation_masking_is_seeded_and_limited_to_candidates():
    w = torch.ones(500, 17, dtype=torch.bool)
    a = mask_joints(w, 3, 5, [1, 2, 3, 13])
    assert torch.equal(a, mask_joints(w, 3, 5, [1, 2, 3, 13]))
    hidden = (~a).sum(1)
    assert hidden.max() == 3 and hidden.min() == 0
    assert (~a)[:, [j for j in range(17) if j not in (1, 2, 3, 13)]].sum() == 0


def test_demo_tiny(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path), "--budget", "tiny", "--no-progress"]) == 0
    text = (tmp_path / "results_synthetic.md").read_text()
    assert "SYNTHETIC" in text and "N=3" in text
    assert (tmp_path / "figures" / "completion.png").is_file()
    out = capsys.readouterr().out
    assert "reproduce --data-dir" in out and str(tmp_path.resolve()) in out


def test_reproduce_tiny_writes_tables(data_dir, tmp_path):
    assert main(["reproduce", "--data-dir", str(data_dir), "--out", str(tmp_path), "--budget",
                 "tiny", "--variants", "baseline,ocr_pose,supervised", "--no-progress"]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    assert set(res["evaluation"]) == {"baseline", "ocr_pose", "supervised"}
    for setting in ("unoccluded", "N=3", "N=4", "N=5", "self_occlusion"):
        assert np.isfinite(res["evaluation"]["ocr_pose"][setting]["p_mpjpe_mm"]["all"])
        assert setting in res["floors"]["flat"] and setting in res["floors"]["mean_pose"]
    md = (tmp_path / "tables.md").read_text()
    assert "Table 1" in md and "Table 3" in md and "44.7" in md and "Floor: flat" in md
    assert res["self_occlusion"]["frames"] == res["meta"]["eval_frames"]
    assert "Self-occlusion hides" in md
    assert {"vs_supervised", "ocr_n3", "baseline_n3", "baseline_n3_image_origin"} <= set(res["goals"])
    # the lifters without a filling network are scored once more with the missing joints at the
    # image origin; the filling variants are not (it cannot change their input)
    for v in ("baseline", "supervised"):
        for n in (3, 4, 5):
            e = res["evaluation"][v][f"N={n}, image origin"]
            assert e["missing_joints"] == "image_origin" and e["mask_max"] == n
            assert e["p_mpjpe_mm"]["all"] != res["evaluation"][v][f"N={n}"]["p_mpjpe_mm"]["all"]
    assert not any("image origin" in k for k in res["evaluation"]["ocr_pose"])
    assert "Missing joints at the image origin" in md
    # checkpoints chosen on validation clips that are not reported on
    meta = res["meta"]
    assert meta["selection_clips"] >= 1 and meta["report_clips"] >= 1
    for v in ("baseline", "ocr_pose", "supervised"):
        c = meta["checkpoints"][v]
        assert c["file"] == "best.pt" and 1 <= c["epoch"] <= c["of_epochs"]
    assert "report clips" in md
    for f in res["figures"]:
        assert (tmp_path / f).is_file()


def test_metrics_report_the_share_of_backward_knees(bandai_poses_mm):
    """``backward_knees``: the mirror-image diagnostic of ``evaluate`` / ``reproduce``: about 1 %
    of real knees bend backwards; a prediction mirrored in depth bends nearly all of them."""
    import numpy as np
    import torch

    from examples.ocr_pose.evaluation import compute_metrics

    gt = bandai_poses_mm[::200]
    vis = torch.ones(gt.shape[:2], dtype=torch.bool)
    same = compute_metrics(gt / 1000.0, gt, vis)["backward_knees"]
    assert same["pred"] == same["gt"] < 0.02
    mirrored = gt * torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    res = compute_metrics(mirrored, gt, vis)
    assert res["backward_knees"]["pred"] > 0.98 and res["backward_knees"]["gt"] < 0.02
    assert res["p_mpjpe_mm"]["all"] > 20.0  # reflections are not aligned away by P-MPJPE


def test_reproduce_jobs_trains_in_parallel_processes_with_the_same_results(data_dir, tmp_path):
    """``reproduce --jobs 2`` trains the variants in two worker processes; each run is the one a
    single process makes with the same thread count, so the tables are identical."""
    import torch

    from examples.ocr_pose.reproduce import reproduce

    kw = dict(budget="tiny", variants=["baseline", "decouple", "supervised"], progress=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        one = reproduce(str(data_dir), str(tmp_path / "one"), **kw)
        torch.set_num_threads(2)  # the workers get 2 // 2 = 1 thread each
        two = reproduce(str(data_dir), str(tmp_path / "two"), jobs=2, **kw)
    finally:
        torch.set_num_threads(threads)
    assert two["meta"]["jobs"] == 2 and "training in 2 processes of 1" in two["meta"]["machine"]
    assert two["evaluation"] == one["evaluation"]
    assert two["meta"]["checkpoints"] == one["meta"]["checkpoints"]
    for v in kw["variants"]:
        assert (tmp_path / "two" / "runs" / v / "best.pt").is_file()
    with pytest.raises(ValueError, match="--jobs"):
        reproduce(str(data_dir), str(tmp_path / "bad"), jobs=0, **kw)
    with pytest.raises(ValueError, match="--jobs"):
        reproduce(str(data_dir), str(tmp_path / "bad"), jobs=2, device="cuda", **kw)
