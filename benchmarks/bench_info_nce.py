"""InfoNCE forward + backward at B = 512, D = 512: skelcl vs pytorch_metric_learning vs a loop.

All variants compute the same loss: cosine similarity, temperature ``tau = 0.5``, for anchor ``i``
the positive ``positive[i]`` and the ``B - 1`` in-batch negatives ``positive[j != i]``, mean over
anchors (the CLIP / SimCLR cross-view direction; :func:`skelcl.contrastive.info_nce`'s default).

- ``skelcl info_nce``: with ``validate=False`` (the training-loop setting: no NaN check, no host
  sync) and with the default ``validate=True``.
- ``pml NTXentLoss``: ``pytorch_metric_learning.losses.NTXentLoss(temperature=0.5)`` called as
  ``loss(anchor, labels, ref_emb=positive, ref_labels=labels.clone())`` with ``labels =
  arange(B)``, which gives exactly these positives and negatives. It is an optional,
  benchmark-only dependency (``pip install pytorch-metric-learning``); without it the row is
  skipped with a message.
- ``naive per-anchor loop``: a Python loop over anchors, one ``logsumexp`` per anchor.

Each call runs the forward pass and ``backward()`` into leaf tensors ``anchor`` and ``positive``.
Agreement (loss value and both gradients) is checked against the naive loop.

Run: ``python -m benchmarks.bench_info_nce [--device cuda] [--quick]``.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import torch
import torch.nn.functional as F

from benchmarks.common import PeakMemory, Report, dtype_of, finish, make_parser, measure, setup_from_args

TAU = 0.5


def naive_info_nce(anchor: torch.Tensor, positive: torch.Tensor, tau: float = TAU) -> torch.Tensor:
    """Reference InfoNCE with in-batch negatives, one anchor at a time (a Python loop)."""
    a = F.normalize(anchor, dim=-1)
    p = F.normalize(positive, dim=-1)
    losses = []
    for i in range(a.shape[0]):
        pos = (a[i] * p[i]).sum() / tau
        neg = torch.cat([p[:i], p[i + 1 :]]) @ a[i] / tau
        losses.append(torch.logsumexp(torch.cat([pos[None], neg]), dim=0) - pos)
    return torch.stack(losses).mean()


def _pml_loss() -> Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]]:
    try:
        from pytorch_metric_learning.losses import NTXentLoss
    except ImportError:
        return None
    loss_fn = NTXentLoss(temperature=TAU)

    def call(a: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        labels = torch.arange(a.shape[0], device=a.device)
        # a distinct ref_labels object: pml drops the diagonal when ref_labels *is* labels
        return loss_fn(a, labels, ref_emb=p, ref_labels=labels.clone())

    return call


def _fwd_bwd(fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], a: torch.Tensor, p: torch.Tensor) -> Callable[[], torch.Tensor]:
    def step() -> torch.Tensor:
        a.grad = None
        p.grad = None
        loss = fn(a, p)
        loss.backward()
        return loss

    return step


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """Run the benchmark; returns the report dict (see :class:`benchmarks.common.Report`)."""
    prs = make_parser(__doc__.split("\n")[0])
    prs.add_argument("--batch", type=int, default=None, help="B (default 512)")
    prs.add_argument("--dim", type=int, default=None, help="D (default 512)")
    args = prs.parse_args(argv)
    device = setup_from_args(args, default_repeats=15, default_warmup=3)
    from skelcl.contrastive import info_nce

    b = args.batch or (32 if args.smoke else 512)
    d = args.dim or (16 if args.smoke else 512)
    dtype = dtype_of(args.dtype)
    rep = Report(
        "info_nce",
        f"InfoNCE forward+backward, in-batch negatives, B={b}, D={d}",
        str(device),
        {"B": b, "D": d, "K": b - 1, "temperature": TAU, "dtype": args.dtype, "repeats": args.repeats},
        quiet=args.quiet,
    )
    gen = torch.Generator(device=device).manual_seed(args.seed)
    a = torch.randn(b, d, generator=gen, device=device, dtype=dtype).requires_grad_(True)
    p = (a.detach() + 0.5 * torch.randn(b, d, generator=gen, device=device, dtype=dtype)).requires_grad_(True)
    case = f"B={b},D={d}"

    variants: list[tuple[str, Optional[Callable], str]] = [
        ("skelcl info_nce (validate=False)", lambda x, y: info_nce(x, y, temperature=TAU, validate=False), ""),
        ("skelcl info_nce (validate=True)", lambda x, y: info_nce(x, y, temperature=TAU), "NaN/inf check: one host sync"),
    ]
    pml = _pml_loss()
    pml_name = "pml NTXentLoss"
    if pml is None:
        variants.append((pml_name, None, "pytorch-metric-learning not installed (optional bench extra)"))
    else:
        variants.append((pml_name, pml, "pytorch_metric_learning " + rep.env["versions"].get("pytorch_metric_learning", "?")))
    variants.append(("naive per-anchor loop", naive_info_nce, "Python loop over B anchors"))

    # reference values and gradients from the naive loop
    ref_loss = _fwd_bwd(naive_info_nce, a, p)().detach()
    ref_ga, ref_gp = a.grad.clone(), p.grad.clone()
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for name, fn, note in variants:
        if fn is None:
            rep.add(case, name, None, note=note)
            continue
        step = _fwd_bwd(fn, a, p)
        is_naive = name.startswith("naive")
        with PeakMemory(device) as pm:
            t = measure(
                step, device=device, warmup=1 if is_naive else args.warmup,
                repeats=min(args.repeats, 5) if is_naive else args.repeats, max_seconds=20.0,
            )
        rep.add(case, name, t, items=b, unit="anchors/s", baseline=is_naive, peak_mb=pm.peak_mb, note=note)
        if not is_naive:
            loss = step().detach()
            err = max(
                float((loss - ref_loss).abs() / ref_loss.abs().clamp_min(1e-12)),
                float((a.grad - ref_ga).abs().max() / ref_ga.abs().max()),
                float((p.grad - ref_gp).abs().max() / ref_gp.abs().max()),
            )
            rep.check(f"{name} vs naive loop (max rel. diff of loss and grads)", err, tol)
    sk, nt = "skelcl info_nce (validate=False)", pml_name
    rep.target("skelcl speedup over NTXentLoss (x; >= 1 means no slower)", rep.speedup(case, sk, nt), 1.0)
    return finish(rep, args)


if __name__ == "__main__":
    main()
