"""Several ``reproduce`` runs side by side (docs/results.md, "Seeds").

A single seed of the adversarial cycle on a short schedule is a poor witness: the same variant
can break through the flat-lifting floor on one seed and stay on it on another. This script reads
the ``results.json`` of several ``reproduce`` runs (same budget, different ``--seed``) and writes
one Markdown table per question: P-MPJPE (mm) of every variant unoccluded and with N = 3 masked
joints ("All"), as the per-seed values, their mean and sample standard deviation; and the goals of
issue 5 evaluated per seed (a goal whose setting some run lacks, e.g. runs from before the
image-origin setting was evaluated, is left out). Usage, from the repository root::

    python -m examples.ocr_pose.experiments.seeds RUN_DIR [RUN_DIR ...] [--out seeds.md]

Each ``RUN_DIR`` is the ``--out`` of one ``reproduce`` run. Runs of different budgets or of
different variant sets are refused (their numbers do not belong in one row).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

#: The ratios of issue 5's goals, as ``(name, text, numerator, denominator, comparison, bound)``;
#: numerator / denominator are ``(variant, setting)``.
GOALS = (
    ("vs_supervised", "OCR-Pose unoccluded / supervised unoccluded (goal <= 1.3)",
     ("ocr_pose", "unoccluded"), ("supervised", "unoccluded"), "<=", 1.3),
    ("ocr_n3", "OCR-Pose N=3 All / its unoccluded (goal <= 1.3)",
     ("ocr_pose", "N=3"), ("ocr_pose", "unoccluded"), "<=", 1.3),
    ("baseline_n3", "baseline N=3 All / its unoccluded (goal >= 2)",
     ("baseline", "N=3"), ("baseline", "unoccluded"), ">=", 2.0),
    ("baseline_n3_image_origin",
     "baseline N=3 All / its unoccluded, missing joints at the image origin (goal >= 2)",
     ("baseline", "N=3, image origin"), ("baseline", "unoccluded"), ">=", 2.0),
)
#: The ablation chain of the paper's Table 3 (each step should lower N = 3 "All").
ABLATION = ("no_decouple", "decouple", "decouple_veclr", "ocr_pose")
SETTINGS = ("unoccluded", "N=3")


def load_run(run_dir: Path) -> dict:
    """``results.json`` of one ``reproduce`` run, with a clear error when it is missing or
    malformed."""
    path = Path(run_dir) / "results.json"
    if not path.is_file():
        raise FileNotFoundError(f"run_dir {run_dir}: no results.json (is it a reproduce --out?)")
    try:
        res = json.loads(path.read_text())
        res["meta"]["seed"], res["meta"]["budget"], res["evaluation"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not a reproduce results file ({exc!r})") from None
    return res


def p_all(res: dict, variant: str, setting: str) -> float:
    """P-MPJPE "All" (mm) of ``variant`` under ``setting`` (or of a floor: ``"flat"``,
    ``"mean_pose"``)."""
    table = res["floors"] if variant in res.get("floors", {}) else res["evaluation"]
    return float(table[variant][setting]["p_mpjpe_mm"]["all"])


def has_setting(res: dict, variant: str, setting: str) -> bool:
    """Whether ``res`` holds ``variant`` evaluated under ``setting``."""
    table = res["floors"] if variant in res.get("floors", {}) else res["evaluation"]
    return setting in table.get(variant, {})


def mean_sd(values: Sequence[float]) -> tuple:
    """Mean and sample standard deviation (``nan`` for fewer than two values)."""
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, math.nan
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def _fmt(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.1f}"


def summarise(runs: List[dict], names: Optional[Sequence[str]] = None) -> str:
    """The Markdown report of several runs (module docstring). ``names`` label the columns
    (default: ``seed S``)."""
    if not runs:
        raise ValueError("runs: expected at least one reproduce result, got none")
    budgets = {r["meta"]["budget"] for r in runs}
    if len(budgets) > 1:
        raise ValueError(f"runs: expected one budget, got {sorted(budgets)}")
    variant_sets = {tuple(r["evaluation"]) for r in runs}
    if len(variant_sets) > 1:
        raise ValueError(f"runs: expected the same variants in every run, got {sorted(variant_sets)}")
    names = list(names) if names is not None else [f"seed {r['meta']['seed']}" for r in runs]
    variants = list(runs[0]["evaluation"]) + list(runs[0].get("floors", {}))
    lines = [f"budget `{budgets.pop()}`, {len(runs)} runs: "
             + ", ".join(f"{n} (commit `{r['meta'].get('commit', '?')[:7]}`, "
                         f"{r['meta'].get('wall_time_s', math.nan) / 60:.1f} min)"
                         for n, r in zip(names, runs)), ""]
    for setting in SETTINGS:
        lines += [f"P-MPJPE (mm), {setting} input, \"All\" joints:", "",
                  "| variant | " + " | ".join(names) + " | mean | sd |",
                  "|---|" + "---|" * (len(names) + 2)]
        for v in variants:
            vals = [p_all(r, v, setting) for r in runs]
            m, sd = mean_sd(vals)
            lines.append(f"| {v} | " + " | ".join(_fmt(x) for x in vals) + f" | {_fmt(m)} | {_fmt(sd)} |")
        lines.append("")
    lines += ["Goals per run:", "", "| goal | " + " | ".join(names) + " | met in |",
              "|---|" + "---|" * (len(names) + 1)]
    for _, text, num, den, op, bound in GOALS:
        if not all(has_setting(r, *num) and has_setting(r, *den) for r in runs):
            continue  # runs from before that setting was evaluated
        ratios = [p_all(r, *num) / p_all(r, *den) for r in runs]
        met = sum((x <= bound) if op == "<=" else (x >= bound) for x in ratios)
        lines.append(f"| {text} | " + " | ".join(f"{x:.2f}" for x in ratios) + f" | {met}/{len(runs)} |")
    steps = [f"{a}→{b}" for a, b in zip(ABLATION, ABLATION[1:])]
    for step, (a, b) in zip(steps, zip(ABLATION, ABLATION[1:])):
        deltas = [p_all(r, b, "N=3") - p_all(r, a, "N=3") for r in runs]
        helps = sum(d < 0 for d in deltas)
        lines.append(f"| ablation {step}, N=3 All (mm; negative = helps) | "
                     + " | ".join(f"{d:+.1f}" for d in deltas) + f" | helps in {helps}/{len(runs)} |")
    return "\n".join(lines) + "\n"


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m examples.ocr_pose.experiments.seeds",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="reproduce --out directories")
    ap.add_argument("--out", type=Path, default=None, help="write the Markdown here too")
    args = ap.parse_args(argv)
    text = summarise([load_run(d) for d in args.runs])
    sys.stdout.write(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
