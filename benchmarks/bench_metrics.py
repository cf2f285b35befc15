"""P-MPJPE on 100k poses: skelcl batched vs a per-sample scipy Procrustes loop vs NumPy batched SVD.

Poses are synthetic, in millimetres: targets ``(N, 17, 3)`` with joints ~ N(0, 300 mm), and
predictions made from them by a random rotation, a scale in [0.8, 1.2], a translation and 30 mm
joint noise, so that the optimal similarity is a proper rotation (the scipy loop, like
``scipy.linalg.orthogonal_procrustes``, does not exclude reflections; on these inputs it does
not need to, and all variants must agree).

Variants, all computing the per-pose P-MPJPE (similarity Procrustes, then the mean joint error)
from the same inputs in the same dtype (``--dtype``):

- ``scipy orthogonal_procrustes loop`` (the baseline): a Python loop calling
  ``scipy.linalg.orthogonal_procrustes`` per pose, the code a user would write. It is timed on
  a subset (``--loop-subset``, default 2,000 poses) and **extrapolated** linearly to ``N`` (the
  row's note says so). It has no reflection fix, so it is a lower bound of a correct loop's
  time.
- ``skelcl p_mpjpe``: :func:`skelcl.metrics.p_mpjpe` with ``reduction="none"`` on ``--device``.
- ``numpy batched SVD``: one ``np.linalg.svd`` over ``(N, 3, 3)`` cross-covariances with the
  reflection fix.

With ``--dtype float32`` a second case times the scipy loop and skelcl again in float64.

Fair timing on a shared machine: after untimed warm-up calls, the variants are timed in
interleaved rounds (each round times every variant once, in this one process), so that load
from other processes affects all of them alike; rows give the median and inter-quartile range
over the ``--repeats`` rounds, and a note gives the per-round (paired) speedup and the load
average before and after. Accuracy: every variant is compared, on the subset, with an
independent float64 oracle (the scipy loop in float64 with the reflection fix, untimed).

Run: ``python -m benchmarks.bench_metrics [--device cuda] [--quick] [--threads 1]``.
"""

from __future__ import annotations

import os
import statistics
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from benchmarks.common import (
    PeakMemory,
    Report,
    Timing,
    dtype_of,
    finish,
    make_parser,
    measure,
    setup_from_args,
    synchronize,
)

J = 17
SCIPY = "scipy orthogonal_procrustes loop"


def make_poses(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(pred, target)`` float64 ``(n, 17, 3)`` in mm (see module docstring)."""
    rng = np.random.default_rng(seed)
    target = rng.normal(0.0, 300.0, size=(n, J, 3))
    rot = Rotation.random(n, random_state=rng).as_matrix()
    scale = rng.uniform(0.8, 1.2, size=(n, 1, 1))
    shift = rng.normal(0.0, 500.0, size=(n, 1, 3))
    pred = scale * np.einsum("njc,ndc->njd", target, rot) + shift + rng.normal(0.0, 30.0, size=(n, J, 3))
    return pred, target


def p_mpjpe_scipy_loop(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pose P-MPJPE with one ``scipy.linalg.orthogonal_procrustes`` call per pose, in the
    dtype of the input (no reflection fix: see the module docstring)."""
    out = np.empty(len(pred), dtype=pred.dtype)
    for i in range(len(pred)):
        p, t = pred[i], target[i]
        mu_t = t.mean(axis=0)
        p0 = p - p.mean(axis=0)
        t0 = t - mu_t
        r, sv_sum = orthogonal_procrustes(p0, t0)  # argmin ||p0 @ r - t0||
        s = sv_sum / (p0 * p0).sum()
        aligned = s * p0 @ r + mu_t
        out[i] = np.linalg.norm(aligned - t, axis=-1).mean()
    return out


def p_mpjpe_oracle(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Float64 per-pose P-MPJPE, one ``orthogonal_procrustes`` per pose with the reflection fix
    (the best proper rotation when the unconstrained optimum is a mirror)."""
    out = np.empty(len(pred))
    for i in range(len(pred)):
        p, t = pred[i].astype(np.float64), target[i].astype(np.float64)
        p0, t0 = p - p.mean(axis=0), t - t.mean(axis=0)
        r, _ = orthogonal_procrustes(p0, t0)
        if np.linalg.det(r) < 0:
            u, _, vt = np.linalg.svd(p0.T @ t0)
            r = u @ np.diag([1.0, 1.0, -1.0]) @ vt
        rotated = p0 @ r
        s = (rotated * t0).sum() / (p0 * p0).sum()
        out[i] = np.linalg.norm(s * rotated - t0, axis=-1).mean()
    return out


def p_mpjpe_numpy_batched(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Per-pose P-MPJPE with one batched ``np.linalg.svd`` (reflections excluded)."""
    mu_t = target.mean(axis=1, keepdims=True)
    p0 = pred - pred.mean(axis=1, keepdims=True)
    t0 = target - mu_t
    m = np.einsum("njc,njd->ncd", t0, p0)  # sum_j t0_j p0_j^T
    u, s, vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(u @ vt))
    d[d == 0] = 1.0
    u[:, :, 2] *= d[:, None]
    s[:, 2] *= d
    r = u @ vt  # rotation mapping p0 onto t0: aligned = p0 @ r^T
    scale = s.sum(axis=1) / (p0 * p0).sum(axis=(1, 2))
    aligned = scale[:, None, None] * np.einsum("njd,ncd->njc", p0, r) + mu_t
    return np.linalg.norm(aligned - target, axis=-1).mean(axis=-1)


def time_interleaved(
    variants: dict[str, tuple[Callable[[], Any], str | torch.device]], warmup: int, rounds: int
) -> dict[str, Timing]:
    """Time every variant once per round, ``rounds`` times, after ``warmup`` untimed calls each.

    ``variants`` maps a name to ``(fn, device)``; each call is timed by :func:`measure` (CUDA
    events on CUDA). Returns one :class:`Timing` per name over its rounds.
    """
    for fn, dev in variants.values():
        for _ in range(max(0, warmup)):
            fn()
        synchronize(dev)
    samples: dict[str, list[float]] = {k: [] for k in variants}
    methods: dict[str, str] = {}
    for _ in range(rounds):
        for k, (fn, dev) in variants.items():
            t = measure(fn, device=dev, warmup=0, repeats=1)
            samples[k].append(t.median_s)
            methods[k] = t.method
    return {k: Timing.from_samples(v, warmup, methods[k]) for k, v in samples.items()}


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """Run the benchmark; returns the report dict (see :class:`benchmarks.common.Report`)."""
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=None, help="number of poses (default 100000)")
    p.add_argument("--loop-subset", type=int, default=None, help="poses timed in the scipy loop (default 2000)")
    args = p.parse_args(argv)
    device = setup_from_args(args, default_repeats=7)
    from skelcl.metrics import p_mpjpe

    n = args.n or (1_000 if args.smoke else 100_000)
    subset = min(n, args.loop_subset or (200 if args.smoke else 2_000))
    dtype = dtype_of(args.dtype)
    load_before = os.getloadavg()
    rep = Report(
        "metrics",
        f"P-MPJPE on {n} poses: skelcl vs scipy loop vs NumPy batched SVD",
        str(device),
        {
            "n_poses": n,
            "joints": J,
            "dtype": args.dtype,
            "scipy_loop_subset": subset,
            "rounds": args.repeats,
            "timing": "interleaved rounds, same process",
        },
        quiet=args.quiet,
    )
    pred64, target64 = make_poses(n, args.seed)
    ref = p_mpjpe_oracle(pred64[:subset], target64[:subset])  # untimed float64 oracle
    mean_err = float(np.mean(ref))
    extra = n / subset

    dtypes = [(args.dtype, dtype)] + ([("float64", torch.float64)] if dtype == torch.float32 else [])
    outputs: dict[str, np.ndarray] = {}
    for k, (dname, dt) in enumerate(dtypes):
        case = f"N={n}, {dname}"
        np_dt = np.float32 if dt == torch.float32 else np.float64
        pn, tn = pred64.astype(np_dt), target64.astype(np_dt)
        ps, ts = pn[:subset], tn[:subset]
        pt = torch.as_tensor(pred64, dtype=dt, device=device)
        tt = torch.as_tensor(target64, dtype=dt, device=device)
        name = f"skelcl p_mpjpe {dname}"
        variants: dict[str, tuple[Callable[[], Any], str | torch.device]] = {
            SCIPY: (lambda: p_mpjpe_scipy_loop(ps, ts), "cpu"),
            name: (lambda: p_mpjpe(pt, tt, reduction="none"), device),
        }
        if k == 0:
            variants[f"numpy batched SVD {dname}"] = (lambda: p_mpjpe_numpy_batched(pn, tn), "cpu")
        timings = time_interleaved(variants, warmup=max(1, args.warmup), rounds=args.repeats)
        rep.add(case, SCIPY, timings[SCIPY].scaled(extra), items=n, unit="poses/s", baseline=True,
                note=f"timed on {subset} poses, extrapolated x{extra:g}; {dname}; no reflection fix")
        with PeakMemory(device) as pm:
            outputs[name] = p_mpjpe(pt, tt, reduction="none").double().cpu().numpy()
        rep.add(case, name, timings[name], items=n, unit="poses/s", peak_mb=pm.peak_mb, note=f"on {device}")
        if k == 0:
            np_name = f"numpy batched SVD {dname}"
            with PeakMemory("cpu") as pm:
                outputs["numpy"] = p_mpjpe_numpy_batched(pn, tn).astype(np.float64)
            rep.add(case, np_name, timings[np_name], items=n, unit="poses/s", peak_mb=pm.peak_mb, note="CPU")
        paired = [a * extra / b for a, b in zip(timings[SCIPY].samples_s, timings[name].samples_s)]
        rep.note(f"{case}: per-round speedup of {name} over the scipy loop: median "
                 f"{statistics.median(paired):.0f}x, range {min(paired):.0f}x - {max(paired):.0f}x")
        loop_rel = float(np.abs(p_mpjpe_scipy_loop(ps, ts) - ref).max()) / mean_err
        rep.note(f"{case}: scipy loop vs the float64 oracle, max rel. diff {loop_rel:.2g}")
        del pt, tt

    # agreement with the float64 oracle, relative to the mean error (~45 mm on these poses)
    tol = 1e-4 if dtype == torch.float32 else 1e-9
    for name, vals in outputs.items():
        rel = float(np.abs(vals[:subset] - ref).max()) / mean_err
        rep.check(f"{name} vs float64 oracle (max rel. diff on {subset} poses)", rel,
                  1e-9 if name.endswith("float64") else tol)
    main_name = f"skelcl p_mpjpe {args.dtype}"
    rel = float(np.abs(outputs[main_name] - outputs["numpy"]).max()) / mean_err
    rep.check(f"skelcl vs numpy batched (max rel. diff on {n} poses)", rel, tol)
    rep.note(f"mean P-MPJPE of the synthetic predictions: {mean_err:.1f} mm")
    load_after = os.getloadavg()
    rep.note("load average (1, 5, 15 min) before: " + ", ".join(f"{x:.2f}" for x in load_before)
             + "; after: " + ", ".join(f"{x:.2f}" for x in load_after))
    rep.target(
        "skelcl P-MPJPE speedup over the scipy loop (x)",
        rep.speedup(f"N={n}, {args.dtype}", main_name, SCIPY),
        100.0,
    )
    return finish(rep, args)


if __name__ == "__main__":
    main()
