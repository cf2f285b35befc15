"""CI smoke runs of every benchmark's CPU path on tiny sizes, so that the benchmarks cannot rot.

Each benchmark's ``main(argv)`` is called with ``--smoke`` (tiny sizes, 2 repeats). The numbers
are meaningless; the tests check the report structure and that the variants agree with their
independent references (the benchmarks' own agreement checks: scipy, NumPy, naive loops).
Timings themselves are never asserted.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

SMOKE = ["--smoke", "--quiet", "--threads", "1"]
ROW_KEYS = {"case", "variant", "median_s", "note", "peak_mem_mb"}


def _check_report(res: dict, name: str) -> None:
    assert res["name"] == name
    assert {"title", "env", "config", "rows", "checks", "targets", "status"} <= set(res)
    assert res["env"]["device"] == "cpu" and res["env"]["device_name"]
    assert res["env"]["torch_threads"] == 1
    assert res["rows"], "no rows"
    for r in res["rows"]:
        assert ROW_KEYS <= set(r), r
        if r["median_s"] is not None:
            assert r["median_s"] > 0 and r["q1_s"] <= r["median_s"] <= r["q3_s"]
            assert r["repeats"] >= 1
    failed = [c for c in res["checks"] if not c["ok"]]
    assert not failed, failed
    assert res["status"] == "ok"
    json.dumps(res, default=str)  # JSON-able


def _variants(res: dict) -> set:
    return {r["variant"] for r in res["rows"] if r["median_s"] is not None}


def test_metrics_smoke():
    from benchmarks import bench_metrics

    res = bench_metrics.main(SMOKE + ["--n", "300", "--loop-subset", "50"])
    _check_report(res, "metrics")
    assert {"scipy orthogonal_procrustes loop", "skelcl p_mpjpe float32", "numpy batched SVD float32"} <= _variants(res)
    assert len(res["checks"]) == 4  # three variants vs the scipy loop, skelcl vs numpy
    assert "extrapolated" in next(r for r in res["rows"] if r["variant"].startswith("scipy"))["note"]
    assert res["targets"][0]["value"] is not None


def test_metrics_oracles_agree_on_reflection_free_input():
    """The two reference implementations agree with each other (float64), so that the
    benchmark's agreement checks compare against something correct."""
    import numpy as np

    from benchmarks.bench_metrics import make_poses, p_mpjpe_numpy_batched, p_mpjpe_scipy_loop

    pred, target = make_poses(40, seed=3)
    a, b = p_mpjpe_scipy_loop(pred, target), p_mpjpe_numpy_batched(pred, target)
    np.testing.assert_allclose(a, b, rtol=1e-9)
    # a perfect similarity transform of the target has zero error
    from scipy.spatial.transform import Rotation

    r = Rotation.random(40, random_state=1).as_matrix()
    pred2 = 1.3 * np.einsum("njc,ndc->njd", target, r) + 5.0
    assert p_mpjpe_numpy_batched(pred2, target).max() < 1e-9


def test_rotations_smoke():
    from benchmarks import bench_rotations

    res = bench_rotations.main(SMOKE + ["--sizes", "500"])
    _check_report(res, "rotations")
    v = _variants(res)
    for op in ("random_rotation", "matrix -> quaternion", "matrix -> axis-angle", "euler XYZ -> matrix"):
        assert {f"{op}: skelcl", f"{op}: scipy"} <= v
    assert len(res["checks"]) == 7
    # each skelcl row's speedup is against the scipy row of the same operation
    for r in res["rows"]:
        if r["variant"].endswith(": skelcl"):
            assert r["speedup_vs"] == r["variant"].replace(": skelcl", ": scipy")


def test_info_nce_smoke():
    from benchmarks import bench_info_nce

    res = bench_info_nce.main(SMOKE + ["--batch", "24", "--dim", "8"])
    _check_report(res, "info_nce")
    v = _variants(res)
    assert {"skelcl info_nce (validate=False)", "naive per-anchor loop"} <= v
    pml = next(r for r in res["rows"] if r["variant"] == "pml NTXentLoss")
    if importlib.util.find_spec("pytorch_metric_learning") is None:
        assert pml["median_s"] is None and "not installed" in pml["note"]
    else:
        assert pml["median_s"] is not None
        assert any(c["name"].startswith("pml NTXentLoss") for c in res["checks"])


def test_info_nce_naive_loop_matches_formula():
    """The naive reference against a float64 formula written here."""
    import math

    import torch

    from benchmarks.bench_info_nce import naive_info_nce

    g = torch.Generator().manual_seed(1)
    a, p = torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, 3, generator=g, dtype=torch.float64)
    total = 0.0
    for i in range(5):
        ai = a[i] / a[i].norm()
        sims = [float(ai @ (p[j] / p[j].norm())) / 0.5 for j in range(5)]
        total += -sims[i] + math.log(sum(math.exp(s) for s in sims))
    assert abs(float(naive_info_nce(a, p)) - total / 5) < 1e-12


def test_train_step_smoke():
    from benchmarks import bench_train_step

    res = bench_train_step.main(SMOKE + ["--batch", "16", "--batches", "16", "--hidden", "16", "--no-compile"])
    _check_report(res, "train_step")
    v = _variants(res)
    assert {"eager fp32", "eager fp32: backbone update only", "eager fp32: occlusion update only"} <= v
    skipped = {r["variant"]: r["note"] for r in res["rows"] if r["median_s"] is None}
    assert "CUDA only" in skipped["eager bf16 autocast"]
    assert any(r["case"].startswith("scaling") for r in res["rows"])


def test_bone_prior_smoke():
    from benchmarks import bench_bone_prior

    res = bench_bone_prior.main(SMOKE + ["--batch", "16", "--hidden", "16"])
    _check_report(res, "bone_prior")
    assert _variants(res) == {"off", "pair", "clip", "image"}
    assert all(r["median_s"] is not None and r["median_s"] > 0 for r in res["rows"])


def test_train_step_updates_every_network():
    """One step changes the weights of all networks (all losses reach their parameters)."""
    import torch

    from benchmarks.bench_train_step import OcrPoseStep, load_ocr_pose_config, synthetic_batch

    cfg = load_ocr_pose_config(16)
    st = OcrPoseStep(cfg, torch.device("cpu"))
    before = {k: [p.detach().clone() for p in m.parameters()] for k, m in st.models.items()}
    x, dv = synthetic_batch(12, torch.device("cpu"))
    loss = st.step(x, dv)
    assert torch.isfinite(loss)
    for k, m in st.models.items():
        changed = any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters()))
        assert changed, f"{k} not updated"


@pytest.mark.parametrize("name", ["miner", "data"])
def test_other_benchmarks_smoke(name):
    """Benchmarks written by other helpers: run them through run_all's loader with --smoke."""
    from benchmarks import run_all

    module = dict(run_all.BENCHMARKS)[name]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} does not exist")
    res = run_all.run_one(name, module, SMOKE)
    if res["status"] == "skipped":
        pytest.skip(res["reason"])
    assert res["status"] == "ok", res.get("traceback", res)
    assert res["rows"]


def test_run_all_writes_json_and_markdown(tmp_path):
    from benchmarks import run_all

    rc = run_all.main(["--out", str(tmp_path), "--smoke", "--only", "metrics,rotations", "--threads", "1"])
    assert rc == 0
    data = json.loads((tmp_path / "results.json").read_text())
    assert [r["name"] for r in data["results"]] == ["metrics", "rotations"]
    md = (tmp_path / "results.md").read_text()
    assert "### metrics" in md and "| case | variant |" in md and data["env"]["device_name"] in md


def test_run_all_skips_missing_module(monkeypatch, tmp_path):
    from benchmarks import run_all

    monkeypatch.setattr(run_all, "BENCHMARKS", (("ghost", "benchmarks.bench_does_not_exist"),))
    assert run_all.main(["--out", str(tmp_path), "--smoke"]) == 0
    res = json.loads((tmp_path / "results.json").read_text())["results"][0]
    assert res["status"] == "skipped" and "does not exist" in res["reason"]
    assert "**skipped**" in (tmp_path / "results.md").read_text()
