"""``demo``: OCR-Pose end to end on the embedded synthetic default (no data files needed).

Trains OCR-Pose briefly on synthetic 2D poses (skelcl's kinematic pose generator seen by virtual
cameras), evaluates it on a separate synthetic validation set, unoccluded and with ``n ~ U{0..3}``
masked joints, writes a results table and figures, and prints where everything is and how to run
on real data. Every output says "synthetic". The demo trains OCR-Pose with the ``quick``
budget's settings (:func:`demo_config`: ``reproduce.BUDGETS["quick"]``, i.e. ``w_adv = w_rot =
0.1``, the backward-knee prior, the bone-proportion prior read off the 2D, azimuth-only view
rotations, Adam states of their own for the occlusion updates) on a shorter schedule; without
the last four its lifter ended above the flat-lifting floor (docs/results.md, "The demo").
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Dict

import numpy as np
import torch

from .config import Config, load_config
from .evaluation import LoadedModel, evaluate_dataset, flat_lifting_metrics
from .inputs import (
    dataset_to_2d,
    fit_normalizer,
    split_by_clip,
    subsample_dataset,
    to_poses2d,
    to_poses3d,
)
from .training import train

DEMO_BUDGETS = {
    "demo": {"eval_frames": 3000},
    "tiny": {"eval_frames": 200},
}
#: What the demo changes in the ``quick`` budget's OCR-Pose: a shorter schedule, synthetic data.
DEMO_OVERRIDES = {"schedule": {"epochs": 60, "max_steps_per_epoch": 40},
                  "data": {"synthetic_poses": 10000, "max_val_poses": 500}}


def demo_config(budget: str = "demo", seed: int = 0) -> Config:
    """The demo's configuration: ``"demo"`` is OCR-Pose with the ``quick`` budget's overrides
    (``reproduce.BUDGETS``) and :data:`DEMO_OVERRIDES` on top; ``"tiny"`` the built-in ``tiny``
    config (tests)."""
    from .reproduce import BUDGETS

    if budget == "tiny":
        return load_config("tiny", {"seed": seed})
    over = json.loads(json.dumps(BUDGETS["quick"]["overrides"]))  # a deep copy
    for key, values in DEMO_OVERRIDES.items():
        over.setdefault(key, {}).update(values)
    over["seed"] = seed
    return load_config("ocr_pose", over)


def demo(out: str = "outputs/demo", budget: str = "demo", seed: int = 0,
         progress: bool = True) -> Dict[str, Any]:
    """Run the demo; returns the results dictionary (also written to ``results_synthetic.json``)."""
    from .data_sources import synthetic_datasets
    from .reproduce import SELECTION_FRACTION, make_figures

    t0 = time.time()
    b = DEMO_BUDGETS[budget]
    out_p = Path(out)
    out_p.mkdir(parents=True, exist_ok=True)
    cfg = demo_config(budget, seed)
    print(f"[demo] 1/4 generating synthetic poses ({cfg.data.synthetic_poses} training poses) ...",
          file=sys.stderr, flush=True)
    train_ds, val_ds = synthetic_datasets(cfg.data.synthetic_poses, cfg.data.synthetic_views, seed)
    xy, conf, units = dataset_to_2d(train_ds)
    norm = fit_normalizer(xy, conf)
    train_2d = to_poses2d(train_ds, norm)  # the trainer sees 2D only
    # as in ``reproduce``: choose the checkpoint on some validation clips, report on the others
    select_ds, report_ds = split_by_clip(val_ds, SELECTION_FRACTION, seed + 3)
    val_curve = to_poses3d(subsample_dataset(select_ds, cfg.data.max_val_poses, seed + 2), norm)
    eval_ds = subsample_dataset(report_ds, b["eval_frames"], seed + 1)
    print(f"[demo] 2/4 training OCR-Pose ({cfg.schedule.warmup_epochs} filling warm-up + "
          f"{cfg.schedule.epochs} epochs) ...", file=sys.stderr, flush=True)
    run_dir = out_p / "run_synthetic"
    res = train(cfg, run_dir, train_2d, norm, units, val_curve,
                resume=(run_dir / "last.pt").exists(), progress=progress)
    ckpt = res.best if res.best.exists() else res.last
    model = LoadedModel(ckpt)
    print("[demo] 3/4 evaluating on synthetic validation poses ...", file=sys.stderr, flush=True)
    rows = {}
    for name, n in (("unoccluded", 0), ("N=3 masked joints", 3)):
        r, _ = evaluate_dataset(model, eval_ds, n, 1234)
        f = flat_lifting_metrics(eval_ds, norm, n, 1234)
        rows[name] = {"ocr_pose": r, "flat": f}
    lines = ["# OCR-Pose demo on SYNTHETIC data (embedded default)", "",
             f"Trained {res.epochs_done} epochs ({res.steps_done} steps) on {len(train_2d)} "
             f"synthetic 2D poses; evaluated `{ckpt.name}` (epoch {int(model.ckpt['epoch'])}, "
             f"chosen on other validation clips) on {len(eval_ds)} synthetic validation poses.", "",
             "| setting | OCR-Pose P-MPJPE All (mm) | Visible | N-MPJPE All | flat-lifting floor P-MPJPE |",
             "|---|---|---|---|---|"]
    for name, r in rows.items():
        o = r["ocr_pose"]
        lines.append(f"| {name} | {o['p_mpjpe_mm']['all']:.1f} | {o['p_mpjpe_mm']['visible']:.1f} | "
                     f"{o['n_mpjpe_mm']['all']:.1f} | {r['flat']['p_mpjpe_mm']['all']:.1f} |")
    lines += ["", "The flat-lifting floor is the input 2D with zero depth: a lifter that does not beat it "
              "has learned no depth. This short CPU run shows the pipeline end to end; trained "
              "numbers on real motion capture are in docs/results.md."]
    print("[demo] 4/4 figures ...", file=sys.stderr, flush=True)
    figs = make_figures({"ocr_pose": model}, eval_ds, {"ocr_pose": res.history}, out_p,
                        {"tsne_poses": 8, "tsne_copies": 20})
    lines += ["", "Figures: " + ", ".join(figs), ""]
    text = "\n".join(lines)
    (out_p / "results_synthetic.md").write_text(text)
    results = {"source": "synthetic", "settings": {k: {m: {kk: v[kk] for kk in (
        "p_mpjpe_mm", "n_mpjpe_mm", "mpjpe_mm", "pck3d", "auc", "frames")} for m, v in r.items()}
        for k, r in rows.items()}, "figures": figs, "wall_time_s": time.time() - t0,
        "checkpoint": str(ckpt)}
    (out_p / "results_synthetic.json").write_text(json.dumps(results, indent=1))
    print(text)
    rel = os.path.relpath(sys.executable)  # e.g. .venv/bin/python when run via `make demo`
    py = sys.executable if rel.startswith("..") else rel
    print(f"Outputs (synthetic data) in {out_p.resolve()}:\n"
          f"  table     {out_p / 'results_synthetic.md'}\n"
          f"  figures   {out_p / 'figures'}\n"
          f"  model     {ckpt}\n"
          f"Done in {(time.time() - t0) / 60:.1f} min.\n"
          "Run on real data (see docs/tutorials/04_reproducing_ocr_pose.rst):\n"
          f"  {py} -m examples.ocr_pose reproduce --data-dir ../shared/data --out outputs/reproduce "
          "--budget quick --jobs 2\n"
          f"  {py} -m examples.ocr_pose predict --checkpoint {ckpt} --keypoints "
          "../shared/data/pose2sim/pose2sim_balancing_openpose_body25b.npz --format pose2sim "
          "--out outputs/pose2sim_3d.npz --plot outputs/pose2sim_3d.png")
    return results


def demo_cli(args) -> Dict[str, Any]:
    """``demo`` subcommand."""
    return demo(args.out, args.budget, args.seed, progress=not args.no_progress)
