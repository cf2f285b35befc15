"""The full OCR-Pose training step: poses/s for eager, torch.compile, bf16 autocast, CUDA graphs.

**What one step is.** On one batch of ``B`` normalised 2D poses (synthetic: Gaussian joints of
scale 0.05 with the root at 0, all visible; the cost does not depend on the pose values), with
the networks and loss weights of ``examples/ocr_pose/configs/ocr_pose.json`` (decoupled lifter
C = 512, 4 blocks; filling network; discriminator; the two attention hard-negative miners):

1. a backbone update: random masking of 0..3 limb joints, filling + Eq. 10 fusion, ``L_pf``, the
   lift-rotate-project cycle (:func:`skelcl.losses.lift_cycle`) with a fresh view rotation per
   pose, ``L_2D``, ``L_3D``, ``L_adv`` (discriminator weights detached), ``L_rot``, backward, Adam;
2. a discriminator update (LSGAN). The example updates it every 3rd backbone step; here it runs
   every step, so the figures are slightly conservative;
3. an occlusion update: TiCLR and VeCLR (InfoNCE through the attention miners, in-batch
   negatives ``K = B - 1``), backward, Adam (shared state with the backbone's, the default).

The losses are computed by the example's own step modules (``examples.ocr_pose.training``:
``BackboneLoss``, ``DiscLoss``, ``OcclusionLoss``, the ``forward`` that DDP wraps under
``torchrun``) with the example's optimisers; only the random draws are made here, on the device
from the global RNG (the ``Trainer`` draws them from its seeded data generator), so that the step
can be compiled and captured. On the CPU the Trainer's own steps are timed as well (rows
``examples Trainer``). ``poses/s = B / step time``.

**Variants** (same run, same batch): ``eager fp32``; ``torch.compile`` (the three step modules
compiled, ``dynamic=False``; backward and Adam eager; fused Adam on CUDA). On the CPU, the
example's two precision options, each with its single-update rows and the Trainer:
``CPU bf16 autocast`` (``schedule.autocast = "bfloat16"``: the lifter and discriminator in
bfloat16, everything else float32), ``CPU oneDNN GEMMs`` (``schedule.cpu_matmul = "onednn"``:
float32, the GEMMs on oneDNN instead of the BLAS behind ``torch.mm``) and both; for each, the
relative difference of every loss from float32 on identical weights and draws is reported (the
numeric effect). On CUDA only: ``eager bf16 autocast``, ``compile + bf16``, ``compile
reduce-overhead`` (PyTorch's CUDA-graph trees) and ``CUDA graph (full step)``: the whole step
(three forward/backward passes and three capturable Adam updates) captured once with
:class:`torch.cuda.CUDAGraph` and replayed. A variant that fails (e.g. a host synchronisation
inside the step makes capture impossible) is reported as skipped with the error. On CUDA one
eager step also runs under ``torch.cuda.set_sync_debug_mode("error")`` to check that the step has
no host synchronisation.

**Scaling**: eager fp32 (and on CUDA the CUDA-graph step) at ``B = 512, 4096, 16384`` (CPU
``--quick``: 512 and 4096).

Run: ``python -m benchmarks.bench_train_step [--device cuda] [--quick] [--threads N]
[--batches 512,4096] [--no-compile] [--no-options]``.
"""

from __future__ import annotations

import copy
import os
import tempfile
import time
import traceback
from typing import Any, Callable, Dict, Optional, Sequence

import torch

from benchmarks.common import PeakMemory, Report, Timing, finish, make_parser, measure, setup_from_args

LIMB_JOINTS = (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16)
J = 17
CPU_BF16 = "CPU bf16 autocast"
CPU_ONEDNN = "CPU oneDNN GEMMs"
CPU_BOTH = "CPU oneDNN GEMMs + bf16 autocast"


def load_ocr_pose_config(hidden: Optional[int] = None) -> Any:
    """The example's ``ocr_pose`` configuration (optionally with a smaller width, for smoke runs)."""
    from examples.ocr_pose.config import load_config

    over = None
    if hidden:
        over = {"model": {"hidden": hidden, "occ_dim": hidden, "disc_hidden": hidden, "fill_hidden": max(8, hidden // 4)}}
    try:
        return load_config("ocr_pose", over)
    except TypeError:  # an override format the example does not take: build and patch
        cfg = load_config("ocr_pose")
        if hidden:
            m = cfg.model
            m.hidden = m.occ_dim = m.disc_hidden = hidden
            m.fill_hidden = max(8, hidden // 4)
        return cfg


def synthetic_batch(b: int, device: torch.device, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(poses (b, 17, 2), visible (b, 17) bool)``: Gaussian normalised 2D, root at 0."""
    g = torch.Generator().manual_seed(seed)
    x = 0.05 * torch.randn(b, J, 2, generator=g)
    x[:, 0] = 0.0
    return x.to(device), torch.ones(b, J, dtype=torch.bool, device=device)


def with_options(cfg: Any, **schedule: Any) -> Any:
    """A copy of ``cfg`` with ``schedule`` keys replaced (e.g. ``autocast="bfloat16"``)."""
    out = copy.deepcopy(cfg)
    for k, v in schedule.items():
        setattr(out.schedule, k, v)
    return out


class OcrPoseStep:
    """One full OCR-Pose training step (see the module docstring), device-aware and capturable.

    The losses are the example's own step modules (``examples.ocr_pose.training.BackboneLoss``,
    ``DiscLoss``, ``OcclusionLoss``), the optimisers the example's (:func:`make_optimizers`:
    shared Adam state for ``L_occlusion`` by default); only the random draws differ: masks and
    rotations come from the global torch RNG of the device (the Trainer draws them from its
    seeded CPU-side data generator), so the step is a function of its two input tensors only,
    which :func:`torch.compile` and CUDA graphs need.

    Args:
        cfg: the example's :class:`~examples.ocr_pose.config.Config` (``schedule.autocast`` and
            ``schedule.cpu_matmul`` apply).
        device: where the networks live.
        compile_mode: ``None`` (eager) or a :func:`torch.compile` mode (``"default"``,
            ``"reduce-overhead"``) applied to the three step modules.
        autocast: shorthand for ``schedule.autocast = "bfloat16"``.
        capturable: Adam with ``capturable=True`` (needed for CUDA-graph capture).
        fused: fused Adam (CUDA).
    """

    def __init__(
        self,
        cfg: Any,
        device: torch.device,
        compile_mode: Optional[str] = None,
        autocast: bool = False,
        capturable: bool = False,
        fused: bool = False,
    ) -> None:
        from examples.ocr_pose.model import build_models
        from examples.ocr_pose.training import build_step_losses, make_optimizers

        if autocast:
            cfg = with_options(cfg, autocast="bfloat16")
        torch.manual_seed(cfg.seed)
        self.cfg = cfg
        self.device = device
        self.models = build_models(cfg).to(device).train()
        adam: Dict[str, Any] = {}
        if capturable:
            adam["capturable"] = True
        if fused:
            adam["fused"] = True
        opts = make_optimizers(self.models, cfg, **adam)
        self.opt_backbone, self.opt_disc = opts["backbone"], opts["disc"]
        self.occlusion_opts = [opts["occlusion"]] + ([opts["backbone"]] if cfg.schedule.shared_optimizer else [])
        self.candidates = torch.tensor(LIMB_JOINTS, device=device)
        self.mark_step = compile_mode == "reduce-overhead"
        mods = build_step_losses(self.models, cfg)
        fns = (mods["backbone"], mods["disc"], mods["occlusion"])
        if compile_mode is not None:
            fns = tuple(torch.compile(f, mode=compile_mode, dynamic=False) for f in fns)
        self._backbone, self._disc, self._occlusion = fns

    # ----------------------------------------------------------------- random draws
    def visibility(self, visible: torch.Tensor) -> torch.Tensor:
        """``visible`` ``(b, J)`` minus ``n ~ U{0..mask_max}`` random limb joints per pose."""
        b = visible.shape[0]
        n = torch.randint(0, self.cfg.occlusion.mask_max + 1, (b, 1), device=visible.device)
        scores = torch.rand(b, self.candidates.numel(), device=visible.device)
        chosen = scores.argsort(dim=1).argsort(dim=1) < n
        masked = torch.zeros(b, J, dtype=torch.bool, device=visible.device).index_copy(1, self.candidates, chosen)
        return visible & ~masked

    def rotations(self, b: int) -> torch.Tensor:
        """Fresh view rotations ``(b, 3, 3)`` from the configured angle ranges."""
        from skelcl.geometry import sample_view_rotation

        rc = self.cfg.rotation
        return sample_view_rotation(
            b, azimuth=tuple(rc.azimuth), elevation=tuple(rc.elevation), roll=tuple(rc.roll), device=self.device
        )

    # ----------------------------------------------------------------- losses (no update)
    def losses(self, x: torch.Tensor, dv: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Every loss of one step without any update: backbone, discriminator, occlusion."""
        out = self._backbone(x, dv, self.visibility(dv), self.rotations(x.shape[0]))
        real = torch.where(dv[..., None], x, out.fused.detach())
        d = self._disc(real, out.rotated_2d.detach())
        occ = self._occlusion(x, x, dv, self.visibility(dv), self.rotations(x.shape[0]),
                              self.visibility(torch.ones_like(dv)))
        return {**out.losses, **d, **occ}

    # ----------------------------------------------------------------- the step
    def step_backbone(self, x: torch.Tensor, dv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The backbone update; returns ``(loss, rotated 2D, fused input)`` (detached)."""
        from examples.ocr_pose.training import weighted_total

        out = self._backbone(x, dv, self.visibility(dv), self.rotations(x.shape[0]))
        total = weighted_total(out.losses, self.cfg)
        self.opt_backbone.zero_grad(set_to_none=True)
        total.backward()
        self.opt_backbone.step()
        return total.detach(), out.rotated_2d.detach(), out.fused.detach()

    def step_disc(self, x: torch.Tensor, dv: torch.Tensor, fake_2d: torch.Tensor, x_in: torch.Tensor) -> None:
        """The discriminator update."""
        real = torch.where(dv[..., None], x, x_in)
        d_loss = self._disc(real, fake_2d)["l_disc"]
        self.opt_disc.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_disc.step()

    def step_occlusion(self, x: torch.Tensor, dv: torch.Tensor) -> None:
        """The occlusion (TiCLR + VeCLR) update (the lifter's depth head gets no gradient, so
        the Trainer's dropping of it is a no-op here)."""
        from examples.ocr_pose.training import weighted_total

        losses = self._occlusion(x, x, dv, self.visibility(dv), self.rotations(x.shape[0]),
                                 self.visibility(torch.ones_like(dv)))
        total = weighted_total(losses, self.cfg)
        for o in self.occlusion_opts:
            o.zero_grad(set_to_none=True)
        total.backward()
        for o in self.occlusion_opts:
            o.step()

    def step(self, x: torch.Tensor, dv: torch.Tensor) -> torch.Tensor:
        """Backbone, discriminator and occlusion updates; returns the (device) backbone loss."""
        if self.mark_step:  # CUDA-graph trees: a new iteration starts, earlier outputs may be reused
            torch.compiler.cudagraph_mark_step_begin()
        total, fake_2d, x_in = self.step_backbone(x, dv)
        self.step_disc(x, dv, fake_2d, x_in)
        self.step_occlusion(x, dv)
        return total


def cuda_graph_step(stepper: OcrPoseStep, x: torch.Tensor, dv: torch.Tensor, warmup: int = 3) -> Callable[[], None]:
    """Capture ``stepper.step`` on static copies of ``x, dv`` into one CUDA graph; return replay."""
    static_x, static_dv = x.clone(), dv.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            stepper.step(static_x, static_dv)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    for opt in [stepper.opt_backbone, stepper.opt_disc, *stepper.occlusion_opts]:
        opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        stepper.step(static_x, static_dv)
    return graph.replay


def trainer_step(cfg: Any, b: int) -> Callable[[], None]:
    """The example's own ``Trainer.backbone_step`` + ``occlusion_step`` on ``b`` synthetic poses
    (CPU; the Trainer runs a discriminator update every ``schedule.disc_every`` backbone steps)."""
    from examples.ocr_pose.inputs import Poses2D
    from examples.ocr_pose.training import Trainer
    from skelcl.geometry import RootScaleNormalizer2D

    x, dv = synthetic_batch(b, torch.device("cpu"))
    trainer = Trainer(cfg, Poses2D(x, dv, "synthetic"), RootScaleNormalizer2D(), "camera", None,
                      tempfile.mkdtemp(prefix="skelcl_bench_"), progress=False)
    idx = torch.arange(b)

    def run() -> None:
        trainer.backbone_step(idx)
        trainer.occlusion_step(idx)

    return run


def _mem_available_mib() -> Optional[float]:
    """``MemAvailable`` from ``/proc/meminfo`` in MiB (``None`` where unknown)."""
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError):
        return None
    return None


def sync_check(stepper: OcrPoseStep, x: torch.Tensor, dv: torch.Tensor) -> tuple[bool, str]:
    """Run one eager step with CUDA sync debugging set to ``error``; ``(ok, message)``."""
    prev = torch.cuda.get_sync_debug_mode()
    try:
        torch.cuda.set_sync_debug_mode("error")
        stepper.step(x, dv)
        return True, "no host synchronisation in the eager step"
    except RuntimeError as exc:
        tb = traceback.extract_tb(exc.__traceback__)
        where = next((f"{f.filename.split('/main/')[-1]}:{f.lineno} {f.name}" for f in reversed(tb) if "skelcl" in f.filename or "examples" in f.filename), "?")
        return False, f"host sync at {where}: {str(exc).splitlines()[0]}"
    finally:
        torch.cuda.set_sync_debug_mode(prev)
        torch.cuda.synchronize()


def numeric_effect(cfg: Any, device: torch.device, x: torch.Tensor, dv: torch.Tensor, **options: Any) -> Dict[str, float]:
    """Relative difference of every loss of one step (no update) between ``cfg`` and ``cfg``
    with the ``schedule`` ``options``: same weights, masks and rotations, dropout 0."""
    base = with_options(cfg)
    base.model.dropout = 0.0
    out = []
    for c in (base, with_options(base, **options)):
        st = OcrPoseStep(c, device)
        torch.manual_seed(1234)
        out.append({k: float(v.detach()) for k, v in st.losses(x, dv).items()})
    ref, alt = out
    return {k: abs(alt[k] - ref[k]) / max(abs(ref[k]), 1e-2) for k in ref}


def measure_interleaved(
    fns: Dict[str, Callable[[], Any]], warmup: int, repeats: int, max_seconds: Optional[float] = None
) -> tuple[Dict[str, Timing], Dict[str, Optional[float]]]:
    """Time several CPU callables round-robin: ``warmup`` untimed rounds, then ``repeats`` rounds
    in which every callable runs once (in the given order). On a shared machine whose load
    drifts, every variant then sees the same load, so ratios between them are meaningful (timed
    one after the other, a variant measured during a busy minute looks slower).

    Returns:
        ``(timings, peak_mb)``: per name the :class:`~benchmarks.common.Timing` and the peak
        memory of its first warm-up call (MiB, ``None`` where unknown).
    """
    peak: Dict[str, Optional[float]] = {}
    for w in range(max(1, warmup)):
        for name, fn in fns.items():
            if w == 0:
                with PeakMemory("cpu") as pm:
                    fn()
                peak[name] = pm.peak_mb
            else:
                fn()
    samples: Dict[str, list] = {name: [] for name in fns}
    t_total = time.perf_counter()
    for r in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
        if max_seconds is not None and r >= 2 and time.perf_counter() - t_total > max_seconds:
            break
    return {k: Timing.from_samples(v, warmup, "perf_counter (interleaved)") for k, v in samples.items()}, peak


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """Run the benchmark; returns the report dict (see :class:`benchmarks.common.Report`)."""
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=None, help="batch of the variant comparison (default 512)")
    p.add_argument("--batches", default=None, help="comma-separated scaling sizes (default 512,4096,16384)")
    p.add_argument("--hidden", type=int, default=None, help="override the network width (smoke runs)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
    p.add_argument("--no-options", action="store_true", help="CPU: skip the bf16 / oneDNN option variants")
    p.add_argument("--max-seconds", type=float, default=60.0, help="time budget per variant's timed calls")
    args = p.parse_args(argv)
    device = setup_from_args(args, default_repeats=10, default_warmup=3)
    cuda = device.type == "cuda"
    cfg = load_ocr_pose_config(args.hidden or (32 if args.smoke else None))
    b0 = args.batch or (64 if args.smoke else 512)
    if args.batches:
        sizes = [int(s) for s in args.batches.split(",")]
    elif args.smoke:
        sizes = [b0, 2 * b0]
    elif args.quick and not cuda:
        sizes = [512, 4096]
    else:
        sizes = [512, 4096, 16384]
    # CPU compile takes minutes on 2 cores: only in full (non-quick) CPU runs
    do_compile = not args.no_compile and (cuda or not (args.quick or args.smoke))
    rep = Report(
        "train_step",
        f"full OCR-Pose training step (backbone + disc + occlusion updates), B={b0}",
        str(device),
        {
            "batch": b0, "scaling_batches": sizes, "hidden": cfg.model.hidden, "dtype": "float32 params",
            "repeats": args.repeats, "compile": do_compile,
        },
        quiet=args.quiet,
    )
    rep.note("one step = backbone update + discriminator update (every step here; every 3rd in the example) + occlusion update on the same batch; poses/s = B / step time")

    def timed(case: str, variant: str, fn: Callable[[], Any], b: int, baseline: bool = False, note: str = "", vs: Optional[str] = None) -> None:
        try:
            with PeakMemory(device) as pm:
                big = b > 4096 and not cuda  # minutes per call on a small CPU
                t = measure(fn, device=device, warmup=1 if big else args.warmup, repeats=2 if big else args.repeats, max_seconds=args.max_seconds)
            rep.add(case, variant, t, items=b, unit="poses/s", baseline=baseline, peak_mb=pm.peak_mb, note=note, vs=vs)
        except Exception as exc:  # noqa: BLE001 - a variant that does not apply is reported
            rep.add(case, variant, None, note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
            if cuda:
                torch.cuda.synchronize()

    def timed_parts(case: str, name: str, st: OcrPoseStep, baseline: bool = False, note: str = "") -> None:
        """The full step, then each of its three updates alone (rows ``name: ... only``)."""
        timed(case, name, lambda: st.step(x, dv), b0, baseline=baseline, note=note)
        timed(case, f"{name}: backbone update only", lambda: st.step_backbone(x, dv), b0, vs=name)
        _, f2d, xin = st.step_backbone(x, dv)
        timed(case, f"{name}: discriminator update only", lambda: st.step_disc(x, dv, f2d, xin), b0, vs=name)
        timed(case, f"{name}: occlusion update only", lambda: st.step_occlusion(x, dv), b0, vs=name)

    case = f"B={b0}"
    x, dv = synthetic_batch(b0, device, args.seed)
    eager = OcrPoseStep(cfg, device)
    options: list[tuple[str, Dict[str, Any]]] = []
    if cuda:
        timed_parts(case, "eager fp32", eager, baseline=True)
        ok, msg = sync_check(eager, x, dv)
        rep.check("eager step without host synchronisation (0 = none)", 0.0 if ok else 1.0, 0.0)
        rep.note(msg)
    else:
        if not args.no_options:
            from examples.ocr_pose.training import onednn_available

            options.append((CPU_BF16, {"autocast": "bfloat16"}))
            if onednn_available():
                options += [(CPU_ONEDNN, {"cpu_matmul": "onednn"}),
                            (CPU_BOTH, {"cpu_matmul": "onednn", "autocast": "bfloat16"})]
        # every CPU variant round-robin in this one process (see measure_interleaved)
        fns: Dict[str, Callable[[], Any]] = {}
        meta: Dict[str, Dict[str, Any]] = {}
        for name, opts in [("eager fp32", {})] + options:
            st = eager if not opts else OcrPoseStep(with_options(cfg, **opts), device)
            _, f2d, xin = st.step_backbone(x, dv)
            note = "schedule." + ", schedule.".join(f"{k}={v}" for k, v in opts.items()) if opts else ""
            fns[name] = lambda st=st: st.step(x, dv)
            meta[name] = dict(baseline=not opts, note=note)
            fns[f"{name}: backbone update only"] = lambda st=st: st.step_backbone(x, dv)
            fns[f"{name}: discriminator update only"] = lambda st=st, f=f2d, i=xin: st.step_disc(x, dv, f, i)
            fns[f"{name}: occlusion update only"] = lambda st=st: st.step_occlusion(x, dv)
            for part in ("backbone", "discriminator", "occlusion"):
                meta[f"{name}: {part} update only"] = dict(vs=name)
            trainer = "examples Trainer eager fp32" if not opts else f"examples Trainer, {name.removeprefix('CPU ')}"
            try:
                fns[trainer] = trainer_step(with_options(cfg, **opts), b0)
                meta[trainer] = dict(vs="eager fp32", note="Trainer.backbone_step + occlusion_step (disc every 3rd)")
            except Exception as exc:  # noqa: BLE001
                rep.add(case, trainer, None, note=f"failed: {exc!r}"[:200])
        load0 = os.getloadavg()[0]
        timings, peaks = measure_interleaved(fns, args.warmup, args.repeats, args.max_seconds * len(fns))
        rep.note(f"CPU variants timed round-robin (one call of each per round, {args.repeats} rounds), "
                 f"load average {load0:.2f} -> {os.getloadavg()[0]:.2f}")
        for name, t in timings.items():
            rep.add(case, name, t, items=b0, unit="poses/s", peak_mb=peaks.get(name), **meta[name])
        del fns, timings
    del eager
    for name, opts in options + ([("bf16 autocast", {"autocast": "bfloat16"})] if cuda else []):
        diff = numeric_effect(cfg, device, x, dv, **opts)
        worst = max(diff, key=diff.get)
        rep.note(f"{name} vs eager fp32, same weights/masks/rotations, dropout 0: relative loss differences "
                 + ", ".join(f"{k} {v:.1e}" for k, v in diff.items()))
        tol = 1e-4 if "autocast" not in opts else 0.1
        rep.check(f"{name}: largest relative loss difference vs fp32 ({worst})", diff[worst], tol)
    if do_compile:
        st = OcrPoseStep(cfg, device, compile_mode="default", fused=cuda)
        timed(case, "torch.compile", lambda: st.step(x, dv), b0, note="step modules compiled; first calls (compilation) untimed")
    else:
        rep.add(case, "torch.compile", None, note="--no-compile, or --quick/--smoke on the CPU: compilation takes minutes there)")
    if cuda:
        st = OcrPoseStep(cfg, device, autocast=True)
        timed(case, "eager bf16 autocast", lambda: st.step(x, dv), b0, note="schedule.autocast=bfloat16 (networks in bf16)")
        if do_compile:
            st = OcrPoseStep(cfg, device, compile_mode="default", autocast=True, fused=True)
            timed(case, "torch.compile + bf16 autocast", lambda: st.step(x, dv), b0)
            st = OcrPoseStep(cfg, device, compile_mode="reduce-overhead", fused=True)
            timed(case, "torch.compile reduce-overhead", lambda: st.step(x, dv), b0, note="CUDA-graph trees inside each compiled loss")
        for name, ac in (("CUDA graph full step fp32", False), ("CUDA graph full step bf16", True)):
            try:
                st = OcrPoseStep(cfg, device, autocast=ac, capturable=True)
                replay = cuda_graph_step(st, x, dv)
                timed(case, name, replay, b0, note="whole step captured once, replayed")
            except Exception as exc:  # noqa: BLE001 - capture fails on any host sync
                rep.add(case, name, None, note=f"capture failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}")
                torch.cuda.synchronize()
    else:
        rep.add(case, "eager bf16 autocast", None, note=f"CUDA only (on the CPU: the rows '{CPU_BF16}')")
        rep.add(case, "CUDA graph full step", None, note="CUDA only")

    # scaling with the batch size
    prev: Optional[tuple[int, float]] = None  # (batch, peak MiB) of the last measured size
    for b in sizes:
        sc = f"scaling B={b}"
        avail = _mem_available_mib() if not cuda else None
        if prev is not None and avail is not None:
            # activations grow linearly with B; the contrastive B x B matrices (about six live
            # float32 copies in the miners' forward + backward) quadratically
            need = prev[1] * (b / prev[0]) + 6 * b * b * 4 / 2**20
            if need > 0.6 * avail:
                rep.add(sc, "eager fp32", None, note=f"needs ~{need / 1024:.1f} GiB (extrapolated from B={prev[0]}), {avail / 1024:.1f} GiB available")
                continue
        try:
            xb, dvb = synthetic_batch(b, device, args.seed)
            st = OcrPoseStep(cfg, device)
            timed(sc, "eager fp32", lambda: st.step(xb, dvb), b, baseline=True)
            if rep.rows[-1].get("peak_mem_mb"):
                prev = (b, rep.rows[-1]["peak_mem_mb"])
            del st
            if cuda:
                try:
                    st = OcrPoseStep(cfg, device, capturable=True)
                    replay = cuda_graph_step(st, xb, dvb)
                    timed(sc, "CUDA graph full step fp32", replay, b)
                    del st, replay
                except Exception as exc:  # noqa: BLE001
                    rep.add(sc, "CUDA graph full step fp32", None, note=f"capture failed: {type(exc).__name__}")
        except Exception as exc:  # noqa: BLE001 - e.g. out of memory at the largest size
            rep.add(sc, "eager fp32", None, note=f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
        if cuda:
            torch.cuda.empty_cache()

    # targets
    timed_rows = [r for r in rep.rows if r["case"] == case and r.get("median_s")]
    eager_row = next((r for r in timed_rows if r["variant"] == "eager fp32"), None)
    if eager_row is None:
        rep.target("eager step time at B=512 (s)", None, 0.5, higher_is_better=False)
    elif cuda:
        full = [r for r in timed_rows if ": " not in r["variant"]]  # not the single-update rows
        best = max(full, key=lambda r: r["throughput"])
        rep.note(f"fastest variant: {best['variant']}")
        rep.target(f"poses/s of the fastest variant ({best['variant']})", best["throughput"], 100_000.0)
        rep.target("fastest variant over eager fp32 (x)", eager_row["median_s"] / best["median_s"], 5.0)
    else:
        rep.target(f"CPU eager fp32 full step (3 updates) at B={b0} (s)", eager_row["median_s"], 0.5, higher_is_better=False)
    for name in ["eager fp32"] + [n for n, _ in options]:
        parts = {r["variant"].split(": ")[1]: r["median_s"] for r in timed_rows if r["variant"].startswith(name + ": ")}
        if len(parts) != 3:
            continue
        per_update = (parts["backbone update only"] + parts["discriminator update only"] / 3 + parts["occlusion update only"]) / 2
        rep.note(
            f"{name}: mean time per optimisation step of the example's schedule (backbone:occlusion 1:1, disc every 3rd "
            f"backbone step) at B={b0}: {per_update:.3g} s = (backbone + disc/3 + occlusion) / 2"
        )
        if not cuda:
            label = "eager fp32" if name == "eager fp32" else name
            rep.target(f"CPU {label.removeprefix('CPU ')} mean optimisation step of the example's schedule at B={b0} (s)", per_update, 0.5, higher_is_better=False)
    return finish(rep, args)


if __name__ == "__main__":
    main()
