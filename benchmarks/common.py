"""Shared helpers for the skelcl benchmarks: timing, peak memory, environment, reporting.

Timing protocol (:func:`measure`): ``warmup`` untimed calls, then ``repeats`` timed calls; the
report gives the median and the inter-quartile range (25th-75th percentile) of the per-call
times, plus the minimum. On CUDA every call is timed with a pair of CUDA events recorded on the
current stream and the device is synchronised once after the timed calls (and after the
warm-up), so that asynchronous kernel launches are not mistaken for finished work. On the CPU
:func:`time.perf_counter` is used.

Peak memory (:class:`PeakMemory`): on CUDA ``torch.cuda.max_memory_allocated`` after
``reset_peak_memory_stats`` (bytes held by PyTorch's allocator, the standard figure); on the
CPU the growth of the process's peak resident set size (``VmHWM`` in ``/proc/self/status``, reset
through ``/proc/self/clear_refs``) over the resident size before the measured calls. The CPU
figure is coarse (it includes every allocation of the process, and memory the C allocator keeps
from earlier work is not counted again); it is ``None`` where ``/proc`` does not allow it.

Every benchmark module builds a :class:`Report` and returns :meth:`Report.to_dict` from its
``main(argv)``; :mod:`benchmarks.run_all` turns those dicts into one JSON file and a Markdown
table (:func:`markdown_report`).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional, Sequence

import torch

__all__ = [
    "Timing",
    "measure",
    "PeakMemory",
    "Report",
    "env_info",
    "format_env",
    "make_parser",
    "setup_from_args",
    "synchronize",
    "markdown_report",
    "fmt_seconds",
    "fmt_rate",
]


# --------------------------------------------------------------------------- environment


def _cpu_model() -> str:
    """CPU model name from ``/proc/cpuinfo`` (falls back to :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "torch": torch.__version__}
    for mod in ("numpy", "scipy", "pytorch_metric_learning"):
        try:
            out[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - optional packages
            pass
    return out


def env_info(device: str | torch.device = "cpu") -> dict[str, Any]:
    """Describe the machine a benchmark runs on.

    Args:
        device: the torch device the benchmark uses.

    Returns:
        JSON-able dict: ``device`` (string), ``device_name`` (GPU name on CUDA, else the CPU
        model), ``cpu_model``, ``cpu_count`` (``os.cpu_count``), ``torch_threads``
        (``torch.get_num_threads``), ``load_avg_1m`` (the machine may be shared), versions, and
        the ``OPENBLAS_*`` variables (they change NumPy's BLAS kernels on some machines).
    """
    device = torch.device(device)
    info: dict[str, Any] = {
        "device": str(device),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "versions": _versions(),
    }
    try:
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        info["load_avg_1m"] = None
    openblas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}
    if openblas:
        info["openblas_env"] = openblas
    if device.type == "cuda":
        idx = device.index if device.index is not None else torch.cuda.current_device()
        props = torch.cuda.get_device_properties(idx)
        info["device_name"] = torch.cuda.get_device_name(idx)
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
        info["cuda_version"] = torch.version.cuda
        info["tf32_matmul"] = torch.backends.cuda.matmul.allow_tf32
    else:
        info["device_name"] = info["cpu_model"]
    return info


def format_env(info: dict[str, Any]) -> str:
    """One-line human description of :func:`env_info`'s dict."""
    s = f"device {info['device']} ({info['device_name']})"
    if info["device"].startswith("cuda"):
        s += f", {info.get('gpu_memory_gib')} GiB, CUDA {info.get('cuda_version')}"
    s += (
        f"; CPU {info['cpu_model']}, {info['cpu_count']} cores, torch threads "
        f"{info['torch_threads']}, load {info.get('load_avg_1m')}; torch {info['versions']['torch']}"
    )
    return s


# --------------------------------------------------------------------------- timing


def synchronize(device: str | torch.device) -> None:
    """Wait for all queued work on ``device`` (no-op on the CPU)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@dataclass
class Timing:
    """Summary of repeated wall-clock timings of one call, in seconds."""

    median_s: float
    q1_s: float
    q3_s: float
    min_s: float
    repeats: int
    warmup: int
    method: str  # "perf_counter" or "cuda_events"
    samples_s: list[float] = field(default_factory=list)

    @property
    def iqr_s(self) -> float:
        """Inter-quartile range ``q3 - q1``."""
        return self.q3_s - self.q1_s

    def scaled(self, factor: float) -> "Timing":
        """Every time multiplied by ``factor`` (used to extrapolate a subset's time)."""
        return Timing(
            self.median_s * factor,
            self.q1_s * factor,
            self.q3_s * factor,
            self.min_s * factor,
            self.repeats,
            self.warmup,
            self.method,
            [t * factor for t in self.samples_s],
        )

    @classmethod
    def from_samples(cls, samples: Sequence[float], warmup: int, method: str) -> "Timing":
        """Build the summary from raw per-call times."""
        xs = sorted(float(s) for s in samples)
        if not xs:
            raise ValueError("samples must be non-empty")
        if len(xs) >= 2:
            q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive")
        else:
            q1 = q3 = xs[0]
        return cls(statistics.median(xs), q1, q3, xs[0], len(xs), warmup, method, list(samples))


def measure(
    fn: Callable[[], Any],
    *,
    device: str | torch.device = "cpu",
    warmup: int = 2,
    repeats: int = 5,
    max_seconds: Optional[float] = None,
) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed calls.

    Args:
        fn: the work to time; its result is discarded.
        device: where ``fn`` queues its work; on CUDA each call is timed with CUDA events.
        warmup: untimed calls first (compilation, allocator and cache warm-up).
        repeats: timed calls (at least 1).
        max_seconds: stop repeating early (after at least 3 timed calls) once this much time
            has been spent timing; keeps slow reference variants affordable.

    Returns:
        :class:`Timing` with median, quartiles and minimum of the per-call times.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    device = torch.device(device)
    for _ in range(max(0, warmup)):
        fn()
    synchronize(device)
    samples: list[float] = []
    if device.type == "cuda":
        events = []
        t0 = time.perf_counter()
        for i in range(repeats):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            events.append((start, end))
            if max_seconds is not None and i >= 2:
                # a rare host sync, outside the timed region of the current call
                end.synchronize()
                if time.perf_counter() - t0 > max_seconds:
                    break
        synchronize(device)
        samples = [s.elapsed_time(e) / 1000.0 for s, e in events]
        return Timing.from_samples(samples, warmup, "cuda_events")
    t_total = time.perf_counter()
    for i in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        if max_seconds is not None and i >= 2 and time.perf_counter() - t_total > max_seconds:
            break
    return Timing.from_samples(samples, warmup, "perf_counter")


# --------------------------------------------------------------------------- memory


def _proc_status_kib(key: str) -> Optional[int]:
    try:
        with open("/proc/self/status", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class PeakMemory(contextlib.AbstractContextManager):
    """Context manager measuring the peak memory of the enclosed work (see module docstring).

    After the ``with`` block, :attr:`peak_mb` holds the figure in MiB (``None`` where it
    cannot be measured) and :attr:`method` names what was measured.
    """

    def __init__(self, device: str | torch.device = "cpu") -> None:
        self.device = torch.device(device)
        self.peak_mb: Optional[float] = None
        self.method = "none"
        self._base_kib: Optional[int] = None

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.method = "cuda_max_memory_allocated"
        else:
            try:
                with open("/proc/self/clear_refs", "w", encoding="utf-8") as fh:
                    fh.write("5")  # resets VmHWM to the current RSS
                self._base_kib = _proc_status_kib("VmRSS")
                self.method = "cpu_peak_rss_growth" if self._base_kib is not None else "none"
            except OSError:
                self._base_kib = None
        return self

    def __exit__(self, *exc: object) -> None:
        if self.device.type == "cuda":
            synchronize(self.device)
            self.peak_mb = torch.cuda.max_memory_allocated(self.device) / 2**20
        elif self._base_kib is not None:
            hwm = _proc_status_kib("VmHWM")
            if hwm is not None:
                self.peak_mb = max(0, hwm - self._base_kib) / 1024.0
        return None


# --------------------------------------------------------------------------- formatting


def fmt_seconds(s: Optional[float]) -> str:
    """Seconds with a readable unit (``1.23 ms``)."""
    if s is None or (isinstance(s, float) and math.isnan(s)):
        return "-"
    if s >= 1.0:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} us"


def fmt_rate(r: Optional[float]) -> str:
    """Items per second with an SI suffix (``1.2M``)."""
    if r is None:
        return "-"
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if r >= div:
            return f"{r / div:.3g}{suf}"
    return f"{r:.3g}"


# --------------------------------------------------------------------------- reports


class Report:
    """Collects one benchmark's rows, checks and targets, printing each as it arrives.

    Rows are grouped by ``case`` (a size or setting); within a case the row added with
    ``baseline=True`` (else the first row) is the reference for the ``speedup`` column
    (``baseline median / row median``).

    Args:
        name: short identifier (``"metrics"``).
        title: one-line description.
        device: torch device string.
        config: sizes, dtype and other settings (JSON-able).
        quiet: do not print.
    """

    def __init__(
        self, name: str, title: str, device: str, config: dict[str, Any], quiet: bool = False
    ) -> None:
        self.name = name
        self.title = title
        self.env = env_info(device)
        self.config = dict(config)
        self.rows: list[dict[str, Any]] = []
        self.checks: list[dict[str, Any]] = []
        self.targets: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.quiet = quiet
        self._print(f"== {name}: {title}")
        self._print("   " + format_env(self.env))
        self._print("   config: " + ", ".join(f"{k}={v}" for k, v in self.config.items()))

    def _print(self, msg: str) -> None:
        if not self.quiet:
            print(msg, flush=True)

    def add(
        self,
        case: str,
        variant: str,
        timing: Optional[Timing],
        *,
        items: Optional[float] = None,
        unit: str = "items/s",
        baseline: bool = False,
        vs: Optional[str] = None,
        peak_mb: Optional[float] = None,
        note: str = "",
        extra: Optional[dict[str, Any]] = None,
    ) -> dict[str, Any]:
        """Add one measured variant (``timing=None`` records a skipped variant with ``note``).

        ``items`` (per call) gives the throughput column in ``unit``; ``baseline`` marks the
        case's reference row; ``vs`` names another variant of the same case to compute this
        row's speedup against instead.
        """
        row: dict[str, Any] = {
            "case": case,
            "variant": variant,
            "baseline": baseline,
            "vs": vs,
            "note": note,
            "peak_mem_mb": None if peak_mb is None else round(peak_mb, 1),
        }
        if timing is not None:
            row.update(
                median_s=timing.median_s,
                q1_s=timing.q1_s,
                q3_s=timing.q3_s,
                min_s=timing.min_s,
                repeats=timing.repeats,
                warmup=timing.warmup,
                timer=timing.method,
                throughput=(items / timing.median_s) if items and timing.median_s > 0 else None,
                unit=unit if items else None,
            )
        else:
            row.update(median_s=None, skipped=True)
        if extra:
            row.update(extra)
        self.rows.append(row)
        if timing is None:
            self._print(f"   [{case}] {variant:<34} skipped: {note}")
        else:
            rate = f"  {fmt_rate(row['throughput'])} {unit}" if row["throughput"] else ""
            mem = f"  peak {row['peak_mem_mb']:.0f} MiB" if peak_mb is not None else ""
            self._print(
                f"   [{case}] {variant:<34} median {fmt_seconds(timing.median_s):>9}  "
                f"IQR [{fmt_seconds(timing.q1_s)}, {fmt_seconds(timing.q3_s)}] "
                f"n={timing.repeats}{rate}{mem}" + (f"  ({note})" if note else "")
            )
        return row

    def check(self, name: str, value: float, tol: float, passed: Optional[bool] = None) -> None:
        """Record an agreement check (``value <= tol`` passes unless ``passed`` is given)."""
        ok = bool(value <= tol) if passed is None else bool(passed)
        self.checks.append({"name": name, "value": float(value), "tol": float(tol), "ok": ok})
        self._print(f"   check {name}: {value:.3g} (tol {tol:.3g}) {'ok' if ok else 'FAILED'}")

    def target(self, name: str, value: Optional[float], threshold: float, higher_is_better: bool = True) -> None:
        """Record a target of the issue (e.g. speedup >= 100)."""
        met = None if value is None else (value >= threshold if higher_is_better else value <= threshold)
        self.targets.append(
            {
                "name": name,
                "value": value,
                "threshold": threshold,
                "higher_is_better": higher_is_better,
                "met": met,
            }
        )
        v = "n/a" if value is None else f"{value:.3g}"
        status = "n/a" if met is None else ("met" if met else "NOT met")
        self._print(f"   target {name}: {v} vs {'>=' if higher_is_better else '<='} {threshold:g}: {status}")

    def note(self, msg: str) -> None:
        """Add a free-text note (printed and kept in the report)."""
        self.notes.append(msg)
        self._print("   note: " + msg)

    def speedups(self) -> None:
        """Fill each row's ``speedup`` relative to its case's baseline row."""
        cases: dict[str, list[dict[str, Any]]] = {}
        for r in self.rows:
            cases.setdefault(r["case"], []).append(r)
        for rows in cases.values():
            timed = [r for r in rows if r.get("median_s")]
            if not timed:
                continue
            default = next((r for r in timed if r["baseline"]), timed[0])
            by_name = {r["variant"]: r for r in timed}
            for r in timed:
                base = by_name.get(r.get("vs") or "", default)
                r["speedup"] = base["median_s"] / r["median_s"]
                r["speedup_vs"] = base["variant"]

    def speedup(self, case: str, variant: str, over: str) -> Optional[float]:
        """``median(over) / median(variant)`` within ``case`` (``None`` if either is missing)."""
        def med(v: str) -> Optional[float]:
            for r in self.rows:
                if r["case"] == case and r["variant"] == v and r.get("median_s"):
                    return r["median_s"]
            return None

        a, b = med(variant), med(over)
        return None if a is None or b is None else b / a

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able result: name, title, env, config, rows, checks, targets, notes, status."""
        self.speedups()
        ok = all(c["ok"] for c in self.checks)
        return {
            "name": self.name,
            "title": self.title,
            "status": "ok" if ok else "check_failed",
            "env": self.env,
            "config": self.config,
            "rows": self.rows,
            "checks": self.checks,
            "targets": self.targets,
            "notes": self.notes,
        }


# --------------------------------------------------------------------------- CLI


def make_parser(description: str) -> argparse.ArgumentParser:
    """Argument parser with the options every benchmark shares.

    ``--device``, ``--quick`` (smaller sizes, fewer repeats), ``--smoke`` (tiny sizes for CI:
    seconds, numbers meaningless), ``--repeats``, ``--warmup``, ``--threads``, ``--dtype``,
    ``--seed``, ``--json`` (also write the result there), ``--quiet``.
    """
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    p.add_argument("--quick", action="store_true", help="smaller sizes and fewer repeats")
    p.add_argument("--smoke", action="store_true", help="tiny sizes for CI; numbers meaningless")
    p.add_argument("--repeats", type=int, default=None, help="timed calls per variant")
    p.add_argument("--warmup", type=int, default=None, help="untimed calls per variant")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the result dict to this file")
    p.add_argument("--quiet", action="store_true")
    return p


def setup_from_args(args: argparse.Namespace, default_repeats: int = 7, default_warmup: int = 2) -> torch.device:
    """Apply ``--threads``/``--seed``, fill ``repeats``/``warmup`` defaults, check the device.

    ``--smoke`` uses 2 repeats and 1 warm-up, ``--quick`` at most 5 repeats.
    """
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    if args.repeats is None:
        args.repeats = 2 if args.smoke else (min(5, default_repeats) if args.quick else default_repeats)
    if args.warmup is None:
        args.warmup = 1 if args.smoke else default_warmup
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda requested but torch.cuda.is_available() is False")
    return device


def finish(report: Report, args: argparse.Namespace) -> dict[str, Any]:
    """``report.to_dict()``, also written to ``--json`` when given."""
    out = report.to_dict()
    if getattr(args, "json", None):
        import json

        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2, default=str)
    return out


def dtype_of(name: str) -> torch.dtype:
    """``"float32"`` -> ``torch.float32``."""
    return {"float32": torch.float32, "float64": torch.float64, "bfloat16": torch.bfloat16}[name]


# --------------------------------------------------------------------------- markdown


def markdown_report(results: Sequence[dict[str, Any]], command: str = "") -> str:
    """Markdown for a list of benchmark result dicts (one section per benchmark).

    Skipped or failed benchmarks (dicts with ``status`` ``"skipped"``/``"error"``) get one line
    saying why.
    """
    lines: list[str] = []
    if command:
        lines += [f"Command: `{command}`", ""]
    envs = [r["env"] for r in results if r.get("env")]
    if envs:
        lines += ["Environment: " + format_env(envs[0]), ""]
    for res in results:
        lines.append(f"### {res.get('name')}: {res.get('title', '')}")
        lines.append("")
        status = res.get("status")
        if status in ("skipped", "error"):
            lines += [f"**{status}**: {res.get('reason', '')}", ""]
            continue
        if res.get("config"):
            lines.append("Config: " + ", ".join(f"{k}={v}" for k, v in res["config"].items()))
            lines.append("")
        lines.append("| case | variant | median | IQR | throughput | speedup | peak MiB | note |")
        lines.append("|---|---|---:|---:|---:|---:|---:|---|")
        for r in res.get("rows", []):
            if not r.get("median_s"):
                lines.append(f"| {r['case']} | {r['variant']} | - | - | - | - | - | skipped: {r.get('note', '')} |")
                continue
            thr = f"{fmt_rate(r['throughput'])} {r['unit']}" if r.get("throughput") else "-"
            sp = f"{r['speedup']:.3g}x" if r.get("speedup") is not None else "-"
            mem = f"{r['peak_mem_mb']:.0f}" if r.get("peak_mem_mb") is not None else "-"
            lines.append(
                f"| {r['case']} | {r['variant']} | {fmt_seconds(r['median_s'])} | "
                f"{fmt_seconds(r['q1_s'])} - {fmt_seconds(r['q3_s'])} | {thr} | {sp} | {mem} | "
                f"{r.get('note', '')} |"
            )
        lines.append("")
        for c in res.get("checks", []):
            lines.append(f"- check {c['name']}: {c['value']:.3g} (tol {c['tol']:.3g}) {'ok' if c['ok'] else '**FAILED**'}")
        for t in res.get("targets", []):
            v = "n/a" if t["value"] is None else f"{t['value']:.3g}"
            met = "n/a" if t["met"] is None else ("met" if t["met"] else "**not met**")
            op = ">=" if t["higher_is_better"] else "<="
            lines.append(f"- target {t['name']}: {v} ({op} {t['threshold']:g}) {met}")
        for n in res.get("notes", []):
            lines.append(f"- note: {n}")
        lines.append("")
    return "\n".join(lines)


@contextlib.contextmanager
def no_grad_if(flag: bool) -> Iterator[None]:
    """``torch.no_grad()`` when ``flag`` else nothing."""
    if flag:
        with torch.no_grad():
            yield
    else:
        yield


def log(msg: str, quiet: bool = False) -> None:
    """Print to stdout (flushed) unless ``quiet``."""
    if not quiet:
        print(msg, flush=True)
        sys.stdout.flush()
