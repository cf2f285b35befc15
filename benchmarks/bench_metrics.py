"""P-MPJPE on 100k poses: skelcl batched vs a per-sample scipy Procrustes loop vs NumPy batched SVD.

Poses are synthetic, in millimetres: targets ``(N, 17, 3)`` with joints ~ N(0, 300 mm), and
predictions made from them by a random rotation, a scale in [0.8, 1.2], a translation and 30 mm
joint noise, so that the optimal similarity is a proper rotation (the scipy loop, like
``scipy.linalg.orthogonal_procrustes``, does not exclude reflections; on these inputs it does
not need to, and all three variants must agree).

Variants, all computing the per-pose P-MPJPE (similarity Procrustes, then the mean joint error):

- ``skelcl p_mpjpe``: :func:`skelcl.metrics.p_mpjpe` with ``reduction="none"`` on ``--device``
  in ``--dtype`` (plus a float64 row when ``--dtype float32``).
- ``numpy batched SVD``: one ``np.linalg.svd`` over ``(N, 3, 3)`` cross-covariances with the
  reflection fix, in ``--dtype``.
- ``scipy loop``: a Python loop calling ``scipy.linalg.orthogonal_procrustes`` per pose (float64).
  It is timed on a subset (``--loop-subset``, default 2,000 poses) and **extrapolated** linearly
  to ``N`` (the row's note says so).

Run: ``python -m benchmarks.bench_metrics [--device cuda] [--quick]``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import numpy as np
import torch
from scipy.linalg import orthogonal_procrustes
from scipy.spatial.transform import Rotation

from benchmarks.common import PeakMemory, Report, dtype_of, finish, make_parser, measure, setup_from_args

J = 17


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
    """Per-pose P-MPJPE with one ``scipy.linalg.orthogonal_procrustes`` call per pose."""
    out = np.empty(len(pred))
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
    np_dtype = np.float32 if dtype == torch.float32 else np.float64
    rep = Report(
        "metrics",
        f"P-MPJPE on {n} poses: skelcl vs scipy loop vs NumPy batched SVD",
        str(device),
        {"n_poses": n, "joints": J, "dtype": args.dtype, "scipy_loop_subset": subset, "repeats": args.repeats},
        quiet=args.quiet,
    )
    pred64, target64 = make_poses(n, args.seed)
    case = f"N={n}"

    # the reference row first: scipy loop on a subset, extrapolated to N
    ps, ts = pred64[:subset], target64[:subset]
    t = measure(lambda: p_mpjpe_scipy_loop(ps, ts), warmup=1, repeats=min(args.repeats, 3))
    rep.add(
        case, "scipy orthogonal_procrustes loop", t.scaled(n / subset), items=n, unit="poses/s", baseline=True,
        note=f"timed on {subset} poses, extrapolated x{n / subset:g}; float64",
    )
    ref = p_mpjpe_scipy_loop(ps, ts)

    variants: list[tuple[str, torch.dtype]] = [(f"skelcl p_mpjpe {args.dtype}", dtype)]
    if dtype == torch.float32:
        variants.append(("skelcl p_mpjpe float64", torch.float64))
    results: dict[str, np.ndarray] = {}
    for name, dt in variants:
        pt = torch.as_tensor(pred64, dtype=dt, device=device)
        tt = torch.as_tensor(target64, dtype=dt, device=device)
        with PeakMemory(device) as pm:
            t = measure(lambda: p_mpjpe(pt, tt, reduction="none"), device=device, warmup=args.warmup, repeats=args.repeats)
        rep.add(case, name, t, items=n, unit="poses/s", peak_mb=pm.peak_mb, note=f"on {device}")
        results[name] = p_mpjpe(pt, tt, reduction="none").double().cpu().numpy()
        del pt, tt

    pn, tn = pred64.astype(np_dtype), target64.astype(np_dtype)
    with PeakMemory("cpu") as pm:
        t = measure(lambda: p_mpjpe_numpy_batched(pn, tn), warmup=args.warmup, repeats=args.repeats)
    rep.add(case, f"numpy batched SVD {args.dtype}", t, items=n, unit="poses/s", peak_mb=pm.peak_mb, note="CPU")
    results["numpy"] = p_mpjpe_numpy_batched(pn, tn).astype(np.float64)

    # agreement, relative to the mean error (~50 mm on these poses)
    scale = float(np.mean(ref))
    tol = 1e-4 if dtype == torch.float32 else 1e-9
    for name, vals in results.items():
        rel = float(np.abs(vals[:subset] - ref).max()) / scale
        rep.check(f"{name} vs scipy loop (max rel. diff on {subset} poses)", rel, 1e-9 if name.endswith("float64") else tol)
    rel = float(np.abs(results[variants[0][0]] - results["numpy"]).max()) / scale
    rep.check(f"skelcl vs numpy batched (max rel. diff on {n} poses)", rel, tol)
    rep.note(f"mean P-MPJPE of the synthetic predictions: {scale:.1f} mm")
    rep.target(
        "skelcl P-MPJPE speedup over the scipy loop (x)",
        rep.speedup(case, variants[0][0], "scipy orthogonal_procrustes loop"),
        100.0,
    )
    return finish(rep, args)


if __name__ == "__main__":
    main()
