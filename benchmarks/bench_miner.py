"""Attention hard-negative miner + InfoNCE (forward + backward): naive vs exact fast path.

Times :class:`skelcl.contrastive.AttentionHardNegativeMiner` with ``implementation="naive"``
(every anchor's ``(B + 1) x D`` sample matrix and ``(B + 1) x (B + 1)`` attention, ``O(B^3 D)``)
and ``"fast"`` (``O(B^2 D)``) at ``B = 512`` (``K = B - 1 = 511`` in-batch negatives), ``D = 512``
(embedding width ``d = D``), one forward + backward of the mean loss each, on ``--device``
in ``--dtype``. It checks that the loss and the gradients of the anchors, positives and the
embedding weight agree (float32: 1e-4 relative to the largest entry; float64: 1e-10) and records
the target ``fast >= 50x naive``.

Run: ``python -m benchmarks.bench_miner [--batch 512] [--dim 512] [--repeats N] [--device cuda]``.
On a shared, loaded CPU ``--threads 1`` gives steadier numbers (small multi-threaded kernels
stall when a sibling thread is descheduled).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch

from benchmarks.common import PeakMemory, Report, dtype_of, finish, make_parser, measure, setup_from_args
from skelcl.contrastive import AttentionHardNegativeMiner


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """Run the benchmark; returns the report dict (see :class:`benchmarks.common.Report`)."""
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=None, help="batch size B, K = B - 1 (default 512)")
    p.add_argument("--dim", type=int, default=None, help="feature and embedding size D (default 512)")
    p.add_argument("--naive-max-seconds", type=float, default=60.0,
                   help="stop timing the naive path after this long (at least 3 calls)")
    args = p.parse_args(argv)
    device = setup_from_args(args, default_repeats=5, default_warmup=1)
    b = args.batch or (64 if args.smoke else 512)
    d = args.dim or (64 if args.smoke else 512)
    dtype = dtype_of(args.dtype)

    g = torch.Generator().manual_seed(args.seed)
    z0 = torch.randn(b, d, generator=g, dtype=dtype).to(device)
    p0 = z0 + 0.5 * torch.randn(b, d, generator=g, dtype=dtype).to(device)
    miner = AttentionHardNegativeMiner(d, validate=False).to(device=device, dtype=dtype)

    last: dict = {}

    def step(impl: str) -> None:
        miner.zero_grad(set_to_none=True)
        z = z0.clone().requires_grad_(True)
        pp = p0.clone().requires_grad_(True)
        loss = miner(z, pp, implementation=impl)
        loss.backward()
        last[impl] = (loss.detach(), z.grad, pp.grad, miner.embed.weight.grad)

    rep = Report(
        "miner",
        "attention hard-negative miner + InfoNCE, forward+backward: naive vs fast",
        str(device),
        {"batch": b, "negatives": b - 1, "dim": d, "embed_dim": d, "dtype": args.dtype,
         "repeats": args.repeats},
        quiet=args.quiet,
    )
    case = f"B={b} K={b - 1} D={d}"
    with PeakMemory(device) as pm:
        t_naive = measure(lambda: step("naive"), device=device, warmup=args.warmup,
                          repeats=args.repeats, max_seconds=args.naive_max_seconds)
    rep.add(case, "naive (per-anchor sample matrices)", t_naive, items=b, unit="anchors/s",
            baseline=True, peak_mb=pm.peak_mb)
    with PeakMemory(device) as pm:
        t_fast = measure(lambda: step("fast"), device=device, warmup=args.warmup,
                         repeats=max(args.repeats, 3 * args.repeats if not args.smoke else 2))
    rep.add(case, "fast (exact O(B^2 D))", t_fast, items=b, unit="anchors/s", peak_mb=pm.peak_mb)

    res_naive, res_fast = last["naive"], last["fast"]  # results of the last timed calls
    tol = 1e-10 if dtype == torch.float64 else 1e-4
    for name, a, r in zip(("loss", "grad anchor", "grad positive", "grad embedding"),
                          res_fast, res_naive):
        err = float((a - r).abs().max() / r.abs().max().clamp_min(1e-30))
        rep.check(f"fast vs naive, {name} (max abs diff / max abs)", err, tol)
    ratio = rep.speedup(case, "fast (exact O(B^2 D))", "naive (per-anchor sample matrices)")
    rep.target("speed-up fast over naive (median)", ratio, 50.0)
    if not args.quiet and ratio is not None:
        print(f"   speed-up naive/fast: {ratio:.1f}x (spread: naive IQR "
              f"{t_naive.q1_s:.3g}-{t_naive.q3_s:.3g} s, fast IQR {t_fast.q1_s * 1e3:.3g}-"
              f"{t_fast.q3_s * 1e3:.3g} ms)")
    return finish(rep, args)


if __name__ == "__main__":
    main()
