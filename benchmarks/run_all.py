"""Run every skelcl benchmark and write ``results.json`` plus ``results.md`` to ``--out``.

Usage::

    python -m benchmarks.run_all --out DIR [--quick] [--device cpu|cuda] [--only metrics,rotations]

Each benchmark module is imported lazily, so a missing optional dependency or an unfinished
module only skips that benchmark (with the reason in the output) instead of stopping the run. A
benchmark that raises is recorded as ``error`` with its traceback and the others still run; the
exit status is 1 if any benchmark errored or failed an agreement check, else 0.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Optional, Sequence

from benchmarks.common import env_info, format_env, markdown_report

#: (short name, module) in run order.
BENCHMARKS: tuple[tuple[str, str], ...] = (
    ("metrics", "benchmarks.bench_metrics"),
    ("rotations", "benchmarks.bench_rotations"),
    ("info_nce", "benchmarks.bench_info_nce"),
    ("miner", "benchmarks.bench_miner"),
    ("data", "benchmarks.bench_data"),
    ("train_step", "benchmarks.bench_train_step"),
    ("bone_prior", "benchmarks.bench_bone_prior"),
)


def _module_missing(exc: ModuleNotFoundError, module: str) -> bool:
    """True when ``exc`` says the benchmark module itself does not exist (not a dependency)."""
    return exc.name is not None and (exc.name == module or module.startswith(exc.name + "."))


def run_one(name: str, module: str, argv: list[str]) -> dict[str, Any]:
    """Import ``module`` lazily and call its ``main(argv)``; never raises."""
    t0 = time.perf_counter()
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        reason = (
            f"{module} does not exist yet" if _module_missing(exc, module) else f"missing dependency: {exc}"
        )
        print(f"== {name}: skipped ({reason})", flush=True)
        return {"name": name, "status": "skipped", "reason": reason}
    except Exception as exc:  # noqa: BLE001 - report and continue
        print(f"== {name}: import failed: {exc!r}", flush=True)
        return {"name": name, "status": "error", "reason": f"import failed: {exc!r}", "traceback": traceback.format_exc()}
    main = getattr(mod, "main", None)
    if main is None:
        return {"name": name, "status": "skipped", "reason": f"{module} has no main(argv)"}
    try:
        res = main(argv)
    except SystemExit as exc:  # a benchmark may exit to say it does not apply
        reason = f"exited: {exc.code}"
        print(f"== {name}: {reason}", flush=True)
        return {"name": name, "status": "skipped", "reason": reason}
    except Exception as exc:  # noqa: BLE001 - report and continue
        traceback.print_exc()
        return {"name": name, "status": "error", "reason": repr(exc), "traceback": traceback.format_exc()}
    if not isinstance(res, dict):
        return {"name": name, "status": "error", "reason": f"main returned {type(res).__name__}, not dict"}
    res.setdefault("name", name)
    res.setdefault("status", "ok")
    res["wall_s"] = round(time.perf_counter() - t0, 2)
    print(f"== {name}: {res['status']} in {res['wall_s']:.1f} s\n", flush=True)
    return res


def write_outputs(out: Path, payload: dict[str, Any]) -> None:
    """Write ``results.json`` and ``results.md`` for a run payload."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    md = "# skelcl benchmark results\n\n" + markdown_report(payload["results"], command=payload.get("command", ""))
    md += f"\nTotal wall time: {payload.get('total_s', 0):.0f} s.\n"
    (out / "results.md").write_text(md, encoding="utf-8")


def merge(files: Sequence[str], out: Path) -> int:
    """Concatenate the ``results`` of several ``results.json`` files (e.g. one per benchmark,
    each run under its own time limit by ``run_cuda.sh``) into ``out``."""
    payloads = []
    for f in files:
        try:
            payloads.append(json.loads(Path(f).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            print(f"merge: cannot read {f}: {exc}", flush=True)
    if not payloads:
        print("merge: nothing to merge", flush=True)
        return 1
    payload = {
        "command": "; ".join(p.get("command", "") for p in payloads),
        "env": payloads[0].get("env"),
        "total_s": round(sum(p.get("total_s", 0) for p in payloads), 1),
        "results": [r for p in payloads for r in p.get("results", [])],
    }
    write_outputs(out, payload)
    print(f"merged {len(payloads)} result files into {out}", flush=True)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry point; returns the exit status."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True, help="output directory (created)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    p.add_argument("--smoke", action="store_true", help="tiny sizes (CI); numbers meaningless")
    p.add_argument("--only", default="", help="comma-separated names: " + ",".join(n for n, _ in BENCHMARKS))
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--merge", nargs="+", default=None, metavar="RESULTS_JSON",
                   help="only merge earlier runs' results.json files into --out (no benchmark runs)")
    args = p.parse_args(argv)
    if args.merge:
        return merge(args.merge, Path(args.out))

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    wanted = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = wanted - {n for n, _ in BENCHMARKS}
    if unknown:
        p.error(f"unknown benchmark(s) {sorted(unknown)}")
    common = ["--device", args.device]
    if args.quick:
        common.append("--quick")
    if args.smoke:
        common.append("--smoke")
    if args.threads:
        common += ["--threads", str(args.threads)]

    env = env_info(args.device)
    print("skelcl benchmarks: " + format_env(env), flush=True)
    command = "python -m benchmarks.run_all " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    results = []
    t0 = time.perf_counter()
    for name, module in BENCHMARKS:
        if wanted and name not in wanted:
            continue
        results.append(run_one(name, module, list(common)))
    total = time.perf_counter() - t0

    payload = {"command": command, "env": env, "total_s": round(total, 1), "results": results}
    write_outputs(out, payload)
    print(f"wrote {out / 'results.json'} and {out / 'results.md'} ({total:.0f} s)", flush=True)
    bad = [r["name"] for r in results if r.get("status") in ("error", "check_failed")]
    if bad:
        print(f"benchmarks with errors or failed checks: {bad}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
