"""How missing joints reach a lifter without a filling network (docs/results.md, "Where a
missing joint lands"). Usage, from the repository root::

    SKELCL_DATA_DIR=../shared/data PROBE_SEED=S \\
        python -m examples.ocr_pose.experiments.missing_joints CKPT [CKPT ...] [--json OUT.json]

Scores each checkpoint on the report clips of the ``quick`` budget for seed ``PROBE_SEED`` (the
frames and masks of ``reproduce``'s tables) unoccluded and with N = 3, 4, 5 masked limb joints,
once with the missing joints at the root (``missing_joints = "root"``, the default of
``evaluate`` and of ``reproduce``'s Table 3) and once at the image origin (``"image_origin"``,
where detector formats write an undetected keypoint). Prints a Markdown table of P-MPJPE
Visible / All (mm) and the ratio N=3 All / unoccluded.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from examples.ocr_pose.evaluation import MISSING_JOINTS, LoadedModel, evaluate_dataset
from examples.ocr_pose.reproduce import MASK_SEED


def score(model: LoadedModel, ds) -> Dict[str, Any]:
    """P-MPJPE (mm) of ``model`` on ``ds``: ``{"unoccluded": all, MODE: {"N=n": [visible,
    all]}}`` for each mode of :data:`~examples.ocr_pose.evaluation.MISSING_JOINTS`."""
    u, _ = evaluate_dataset(model, ds, 0, MASK_SEED)
    out: Dict[str, Any] = {"variant": model.cfg.variant, "epoch": int(model.ckpt["epoch"]),
                           "unoccluded": u["p_mpjpe_mm"]["all"]}
    for mode in MISSING_JOINTS:
        out[mode] = {}
        for n in (3, 4, 5):
            r, _ = evaluate_dataset(model, ds, n, MASK_SEED, missing_joints=mode)
            out[mode][f"N={n}"] = [r["p_mpjpe_mm"]["visible"], r["p_mpjpe_mm"]["all"]]
    return out


def table(rows: Sequence[Dict[str, Any]], names: Sequence[str]) -> str:
    """Markdown table of :func:`score` results, one line per checkpoint and mode."""
    lines = ["| checkpoint | missing joints at | unoccluded | N=3 | N=4 | N=5 | N=3 All / unoccluded |",
             "|---|---|---|---|---|---|---|"]
    for name, r in zip(names, rows):
        for mode in MISSING_JOINTS:
            cells = [f"{v:.1f} / {a:.1f}" for v, a in (r[mode][f"N={n}"] for n in (3, 4, 5))]
            ratio = r[mode]["N=3"][1] / r["unoccluded"]
            lines.append(f"| {name} | {mode} | {r['unoccluded']:.1f} | " + " | ".join(cells)
                         + f" | {ratio:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[List[str]] = None) -> int:
    from examples.ocr_pose.experiments._report import report_frames

    ap = argparse.ArgumentParser(prog="python -m examples.ocr_pose.experiments.missing_joints",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("checkpoints", nargs="+", type=Path)
    ap.add_argument("--json", type=Path, default=None, help="write the scores here too")
    args = ap.parse_args(argv)
    ds, seed = report_frames()
    rows = [score(LoadedModel(p), ds) for p in args.checkpoints]
    sys.stdout.write(f"seed {seed}, {len(ds)} report frames\n\n")
    sys.stdout.write(table(rows, [f"{r['variant']} (epoch {r['epoch']})" for r in rows]))
    if args.json is not None:
        args.json.write_text(json.dumps({"seed": seed, "frames": len(ds), "scores": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
