"""Longer-schedule measurement (docs/results.md, "Longer schedules").

The ``quick`` budget of ``reproduce`` with full epochs (40,000 // 256 = 156 steps, no per-epoch
cap) and EPOCHS main epochs; evaluates P-MPJPE (unoccluded, N=3) at each quarter of the run by
stopping and resuming from ``last.pt``. Usage, from the repository root::

    SKELCL_DATA_DIR=../shared/data OMP_NUM_THREADS=1 \
        python -m examples.ocr_pose.experiments.longer_schedule VARIANT EPOCHS OUT_DIR
"""
import json
import os
import sys
import time

import torch
torch.set_num_threads(1)
from examples.ocr_pose.reproduce import BUDGETS, budget_config, MASK_SEED, floors
from examples.ocr_pose.data_sources import real_datasets
from examples.ocr_pose.inputs import subsample_dataset, dataset_to_2d, fit_normalizer, to_poses2d, to_poses3d
from examples.ocr_pose.evaluation import LoadedModel, evaluate_dataset, flat_lifting_metrics
from examples.ocr_pose.training import train

variant, spe, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seed, b = 0, BUDGETS["quick"]
t0 = time.time()
d = real_datasets(os.environ["SKELCL_DATA_DIR"], views=b["views"], seed=seed)
train_ds = subsample_dataset(d["train"], b["train_poses"], seed)
eval_ds = subsample_dataset(d["validation"], b["eval_frames"], seed + 1)
curve_ds = subsample_dataset(d["validation"], b["val_curve_poses"], seed + 2)
xy, conf, units = dataset_to_2d(train_ds)
norm = fit_normalizer(xy, conf)
data = to_poses2d(train_ds, norm)
val_curve = to_poses3d(curve_ds, norm)
cfg = budget_config(variant, "quick", seed)
cfg.schedule.max_steps_per_epoch = None  # full epochs: 40000 // 256 = 156 steps
cfg.schedule.epochs = spe  # 77 epochs x 156 = 12012 steps
print(cfg.schedule, cfg.loss.w_adv, cfg.loss.w_rot, cfg.model.hidden, file=sys.stderr)
flat = {k: flat_lifting_metrics(eval_ds, norm, n, MASK_SEED)["p_mpjpe_mm"]["all"] for k, n in (("unoccluded", 0), ("N=3", 3))}
rows, ttrain = [], 0.0
stops = [round(spe * k / 4) for k in (1, 2, 3, 4)]
for stop in stops:
    ts = time.time()
    res = train(cfg, f"{out}/run", data, norm, units, val_curve, resume=stop > stops[0],
                progress=False, stop_after_epoch=None if stop == stops[-1] else stop)
    ttrain += time.time() - ts
    m = LoadedModel(res.last)
    u, _ = evaluate_dataset(m, eval_ds, 0, MASK_SEED)
    n3, _ = evaluate_dataset(m, eval_ds, 3, MASK_SEED)
    r = {"variant": variant, "epoch": res.epochs_done, "step": res.steps_done, "unoccluded": u["p_mpjpe_mm"]["all"],
         "N3_all": n3["p_mpjpe_mm"]["all"], "N3_visible": n3["p_mpjpe_mm"]["visible"],
         "flat": flat, "train_s": ttrain, "wall_s": time.time() - t0}
    rows.append(r); print(json.dumps(r), flush=True)
json.dump(rows, open(f"{out}/results.json", "w"), indent=1)
