"""Hyper-parameter probe (docs/results.md, "Probes"): one variant of the ``quick`` budget with
full 156-step epochs and JSON overrides, evaluated on the same selection / report split as
``reproduce``. Usage, from the repository root::

    SKELCL_DATA_DIR=../shared/data OMP_NUM_THREADS=1 \\
        python -m examples.ocr_pose.experiments.probe VARIANT EPOCHS OUT_DIR ['{"loss": {"w_rot": 0.01}}']

``PROBE_SEED`` (default 0) sets the seed of the data subsets, the split and the training;
``PROBE_TRAIN_POSES`` (default the ``quick`` budget's 40,000; ``all``: the whole training split)
the number of training poses.
Prints one JSON line: validation P-MPJPE (mm) per epoch on the selection clips, and the
``last.pt`` / ``best.pt`` P-MPJPE on the report clips (unoccluded, and Visible / All with N = 3).
"""
import json
import os
import sys
import time

import torch

from examples.ocr_pose.config import config_from_dict
from examples.ocr_pose.data_sources import real_datasets
from examples.ocr_pose.evaluation import LoadedModel, evaluate_dataset
from examples.ocr_pose.inputs import dataset_to_2d, fit_normalizer, to_poses2d, to_poses3d
from examples.ocr_pose.reproduce import BUDGETS, MASK_SEED, budget_config, budget_frames
from examples.ocr_pose.training import train


def _merge(base: dict, over: dict) -> dict:
    for k, v in over.items():
        base[k] = _merge(dict(base.get(k, {})), v) if isinstance(v, dict) else v
    return base


def main(argv) -> None:
    variant, epochs, out = argv[0], int(argv[1]), argv[2]
    over = json.loads(argv[3]) if len(argv) > 3 else {}
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    seed, b = int(os.environ.get("PROBE_SEED", "0")), BUDGETS["quick"]
    t0 = time.time()
    d = real_datasets(os.environ["SKELCL_DATA_DIR"], views=b["views"], seed=seed)
    n_train = os.environ.get("PROBE_TRAIN_POSES", str(b["train_poses"]))
    frames = budget_frames(d, "quick", seed, None if n_train == "all" else int(n_train))
    train_ds, eval_ds, curve_ds = frames.train, frames.report, frames.curve
    xy, conf, units = dataset_to_2d(train_ds)
    norm = fit_normalizer(xy, conf)
    cfg = json.loads(budget_config(variant, "quick", seed).to_json())
    cfg = _merge(cfg, over)
    cfg["schedule"]["epochs"] = epochs
    cfg = config_from_dict(cfg)
    data = to_poses3d(train_ds, norm) if cfg.objective == "supervised" else to_poses2d(train_ds, norm)
    res = train(cfg, f"{out}/run", data, norm, units, to_poses3d(curve_ds, norm), progress=False)
    r = {"variant": variant, "overrides": over, "steps": res.steps_done,
         "curve_mm": [round(h["val"]["p_mpjpe_mm"], 1) for h in res.history if "val" in h]}
    for name, path in (("last", res.last), ("best", res.best)):
        m = LoadedModel(path)
        u, _ = evaluate_dataset(m, eval_ds, 0, MASK_SEED)
        n3, _ = evaluate_dataset(m, eval_ds, 3, MASK_SEED)
        r[name] = {"epoch": int(m.ckpt["epoch"]), "unoccluded": round(u["p_mpjpe_mm"]["all"], 1),
                   "N3_visible_all": [round(n3["p_mpjpe_mm"]["visible"], 1),
                                      round(n3["p_mpjpe_mm"]["all"], 1)]}
    r["wall_s"] = round(time.time() - t0)
    print(json.dumps(r), flush=True)
    with open(f"{out}/result.json", "w") as f:
        json.dump(r, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
