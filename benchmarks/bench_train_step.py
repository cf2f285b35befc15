"""The full OCR-Pose training step: poses/s for eager, torch.compile, bf16 autocast, CUDA graphs.

**What one step is.** On one batch of ``B`` normalised 2D poses (synthetic: Gaussian joints of
scale 0.05 with the root at 0, all visible; the cost does not depend on the pose values), with
the networks and loss weights of ``examples/ocr_pose/configs/ocr_pose.json`` (decoupled lifter
C = 512, 4 blocks; filling network; discriminator; the two attention hard-negative miners):

1. a backbone update: random masking of 0..3 limb joints, filling + Eq. 10 fusion, ``L_pf``, the
   lift-rotate-project cycle (:func:`skelcl.losses.lift_cycle`) with a fresh view rotation per
   pose, ``L_2D``, ``L_3D``, ``L_adv``, ``L_rot``, backward, Adam;
2. a discriminator update (LSGAN). The example updates it every 3rd backbone step; here it runs
   every step, so the figures are slightly conservative;
3. an occlusion update: TiCLR and VeCLR (InfoNCE through the attention miners, in-batch
   negatives ``K = B - 1``), backward, Adam.

This mirrors ``examples.ocr_pose.training.Trainer.backbone_step`` + ``occlusion_step`` (METHOD.md
§2-3), re-composed here from the same skelcl parts because the Trainer keeps its data, masks and
random generator on the CPU and so cannot run on CUDA or be captured. On the CPU the Trainer's own
steps are timed as well (row ``examples Trainer``) to show that the re-composition costs the same.
``poses/s = B / step time``.

**Variants** (same run, same batch): ``eager fp32``; ``torch.compile`` (the three loss functions
compiled, ``dynamic=False``; backward and Adam eager; fused Adam on CUDA); on CUDA only also
``eager bf16 autocast``, ``compile + bf16``, ``compile reduce-overhead`` (PyTorch's CUDA-graph
trees) and ``CUDA graph (full step)``: the whole step (three forward/backward passes and three
capturable Adam updates) captured once with :class:`torch.cuda.CUDAGraph` and replayed. A variant
that fails (e.g. a host synchronisation inside the step makes capture impossible) is reported as
skipped with the error. On CUDA one eager step also runs under
``torch.cuda.set_sync_debug_mode("error")`` to check that the step has no host synchronisation.

**Scaling**: eager fp32 (and on CUDA the CUDA-graph step) at ``B = 512, 4096, 16384`` (CPU
``--quick``: 512 and 4096).

Run: ``python -m benchmarks.bench_train_step [--device cuda] [--quick] [--batches 512,4096]``.
"""

from __future__ import annotations

import contextlib
import tempfile
import traceback
from typing import Any, Callable, Dict, Optional, Sequence

import torch

from benchmarks.common import PeakMemory, Report, finish, make_parser, measure, setup_from_args

LIMB_JOINTS = (1, 2, 3, 4, 5, 6, 11, 12, 13, 14, 15, 16)
J = 17


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


class OcrPoseStep:
    """One full OCR-Pose training step (see the module docstring), device-aware and capturable.

    Randomness (masks, rotations, dropout) uses the global torch RNG of the device, so the step is
    a function of its two input tensors only, which :func:`torch.compile` and CUDA graphs need.

    Args:
        cfg: the example's :class:`~examples.ocr_pose.config.Config`.
        device: where the networks live.
        compile_mode: ``None`` (eager) or a :func:`torch.compile` mode (``"default"``,
            ``"reduce-overhead"``) applied to the three loss functions.
        autocast: run the loss functions under ``torch.autocast(dtype=torch.bfloat16)``.
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

        torch.manual_seed(cfg.seed)
        self.cfg = cfg
        self.device = device
        self.models = build_models(cfg).to(device).train()
        m = self.models
        self.lifter, self.filler, self.disc = m["lifter"], m["filler"], m["disc"]
        self.miner_ti, self.miner_ve = m["miner_ti"], m["miner_ve"]
        s = cfg.schedule
        adam: Dict[str, Any] = dict(lr=s.lr, betas=tuple(s.betas), weight_decay=0.0)
        if capturable:
            adam["capturable"] = True
        if fused:
            adam["fused"] = True
        occ = list(self.lifter.trunk.parameters()) + list(self.lifter.occ_head.parameters())
        occ += list(self.filler.parameters()) + list(self.miner_ti.parameters()) + list(self.miner_ve.parameters())
        self.opt_backbone = torch.optim.Adam(list(self.lifter.parameters()) + list(self.filler.parameters()), **adam)
        self.opt_occlusion = torch.optim.Adam(occ, **adam)
        self.opt_disc = torch.optim.Adam(self.disc.parameters(), **adam)
        self.candidates = torch.tensor(LIMB_JOINTS, device=device)
        self.autocast = autocast
        self.capturable = capturable
        self.mark_step = compile_mode == "reduce-overhead"
        fns = (self.backbone_loss, self.disc_loss, self.occlusion_loss)
        if compile_mode is not None:
            fns = tuple(torch.compile(f, mode=compile_mode, dynamic=False) for f in fns)
        self._backbone, self._disc, self._occlusion = fns

    # ----------------------------------------------------------------- pieces
    def _ctx(self) -> contextlib.AbstractContextManager:
        if self.autocast:
            # the autocast weight-cast cache must be off inside CUDA-graph capture
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16, cache_enabled=not self.capturable)
        return contextlib.nullcontext()

    def mask(self, x: torch.Tensor, visible: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask ``n ~ U{0..mask_max}`` random limb joints per pose (zeroed, visibility off)."""
        b = x.shape[0]
        n = torch.randint(0, self.cfg.occlusion.mask_max + 1, (b, 1), device=x.device)
        scores = torch.rand(b, self.candidates.numel(), device=x.device)
        chosen = scores.argsort(dim=1).argsort(dim=1) < n
        masked = torch.zeros(b, J, dtype=torch.bool, device=x.device).index_copy(1, self.candidates, chosen)
        vis = visible & ~masked
        return torch.where(vis[..., None], x, torch.zeros_like(x)), vis

    def rotations(self, b: int) -> torch.Tensor:
        """Fresh view rotations ``(b, 3, 3)`` from the configured angle ranges."""
        from skelcl.geometry import sample_view_rotation

        rc = self.cfg.rotation
        return sample_view_rotation(
            b, azimuth=tuple(rc.azimuth), elevation=tuple(rc.elevation), roll=tuple(rc.roll), device=self.device
        )

    def backbone_loss(self, x: torch.Tensor, dv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``L_backbone``; also returns the detached rotated 2D and the fused input (for the disc)."""
        from skelcl.losses import lift_cycle, lsgan_generator_loss, pose_l2_loss, rotation_consistency_loss

        L = self.cfg.loss
        with self._ctx():
            xm, vis = self.mask(x, dv)
            fo = self.filler(xm, vis)
            l_pf = pose_l2_loss(fo.raw.float(), x, mask=dv & ~vis)
            x_in = fo.filled
            rot = self.rotations(x.shape[0])
            cyc = lift_cycle(self.lifter, x_in, rot, distance=self.cfg.model.distance, clamp=L.clamp_2d)
            l_2d = pose_l2_loss(cyc.recovered_2d.float(), x_in.float())
            l_3d = pose_l2_loss(cyc.relifted_3d.float(), cyc.rotated_3d.float())
            l_adv = lsgan_generator_loss(self.disc(cyc.rotated_2d).float())
            l_rot = rotation_consistency_loss(
                cyc.relifted.rotation.float(), cyc.lifted.rotation.float(), rot.float(), kind=L.rotation_distance
            )
        total = L.w_pf * l_pf + L.w_2d * l_2d + L.w_3d * l_3d + L.w_adv * l_adv + L.w_rot * l_rot
        return total, cyc.rotated_2d.detach(), x_in.detach()

    def disc_loss(self, x: torch.Tensor, dv: torch.Tensor, fake_2d: torch.Tensor, x_in: torch.Tensor) -> torch.Tensor:
        """LSGAN discriminator loss on the real 2D vs the rotated projections."""
        from skelcl.losses import lsgan_discriminator_loss

        with self._ctx():
            real = torch.where(dv[..., None], x, x_in.to(x.dtype))
            return lsgan_discriminator_loss(self.disc(real).float(), self.disc(fake_2d).float())

    def occlusion_loss(self, x: torch.Tensor, dv: torch.Tensor) -> torch.Tensor:
        """``L_occlusion = w_ti L_ti + w_ve L_ve`` (TiCLR, VeCLR through the attention miners)."""
        from skelcl.geometry import depth_to_points, project, view_transform

        L, dist = self.cfg.loss, self.cfg.model.distance
        lifter, filler = self.lifter, self.filler
        with self._ctx():
            full = filler(x, dv).filled
            z_full = lifter.encode_occ(full)
            xm, vm = self.mask(x, dv)
            z_masked = lifter.encode_occ(filler(xm, vm).filled)
            l_ti = self.miner_ti(z_masked.float(), z_full.float())
            with torch.no_grad():  # JR2D: the lifter is not trained by this loss
                lifter.eval()
                depth = lifter(full).depth
                lifter.train()
                p3 = depth_to_points(full.float(), depth.float(), distance=dist)
                jr2d = project(view_transform(p3, self.rotations(x.shape[0]), distance=dist))
                if L.clamp_2d is not None:
                    jr2d = jr2d.clamp(-L.clamp_2d, L.clamp_2d)
            xr, vr = self.mask(jr2d, torch.ones_like(dv))
            z_rot = lifter.encode_occ(filler(xr, vr).filled)
            l_ve = self.miner_ve(z_full.float(), z_rot.float())
        return L.w_ti * l_ti + L.w_ve * l_ve

    # ----------------------------------------------------------------- the step
    def step_backbone(self, x: torch.Tensor, dv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The backbone update; returns ``(loss, rotated 2D, fused input)`` (detached)."""
        total, fake_2d, x_in = self._backbone(x, dv)
        self.opt_backbone.zero_grad(set_to_none=True)
        total.backward()
        self.opt_backbone.step()
        return total.detach(), fake_2d, x_in

    def step_disc(self, x: torch.Tensor, dv: torch.Tensor, fake_2d: torch.Tensor, x_in: torch.Tensor) -> None:
        """The discriminator update."""
        d_loss = self._disc(x, dv, fake_2d, x_in)
        self.opt_disc.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_disc.step()

    def step_occlusion(self, x: torch.Tensor, dv: torch.Tensor) -> None:
        """The occlusion (TiCLR + VeCLR) update."""
        o_loss = self._occlusion(x, dv)
        self.opt_occlusion.zero_grad(set_to_none=True)
        o_loss.backward()
        self.opt_occlusion.step()

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
    for opt in (stepper.opt_backbone, stepper.opt_disc, stepper.opt_occlusion):
        opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        stepper.step(static_x, static_dv)
    return graph.replay


def trainer_step(cfg: Any, b: int) -> Callable[[], None]:
    """The example's own ``Trainer.backbone_step`` + ``occlusion_step`` on ``b`` synthetic poses (CPU)."""
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


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """Run the benchmark; returns the report dict (see :class:`benchmarks.common.Report`)."""
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=None, help="batch of the variant comparison (default 512)")
    p.add_argument("--batches", default=None, help="comma-separated scaling sizes (default 512,4096,16384)")
    p.add_argument("--hidden", type=int, default=None, help="override the network width (smoke runs)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile variants")
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

    case = f"B={b0}"
    x, dv = synthetic_batch(b0, device, args.seed)
    eager = OcrPoseStep(cfg, device)
    timed(case, "eager fp32", lambda: eager.step(x, dv), b0, baseline=True)
    timed(case, "eager fp32: backbone update only", lambda: eager.step_backbone(x, dv), b0, vs="eager fp32")
    _, f2d, xin = eager.step_backbone(x, dv)
    timed(case, "eager fp32: discriminator update only", lambda: eager.step_disc(x, dv, f2d, xin), b0, vs="eager fp32")
    timed(case, "eager fp32: occlusion update only", lambda: eager.step_occlusion(x, dv), b0, vs="eager fp32")
    if cuda:
        ok, msg = sync_check(eager, x, dv)
        rep.check("eager step without host synchronisation (0 = none)", 0.0 if ok else 1.0, 0.0)
        rep.note(msg)
    else:
        try:
            run = trainer_step(cfg, b0)
            timed(case, "examples Trainer eager fp32", run, b0, note="Trainer.backbone_step + occlusion_step (disc every 3rd)")
        except Exception as exc:  # noqa: BLE001
            rep.add(case, "examples Trainer eager fp32", None, note=f"failed: {exc!r}"[:200])
    if do_compile:
        st = OcrPoseStep(cfg, device, compile_mode="default", fused=cuda)
        timed(case, "torch.compile", lambda: st.step(x, dv), b0, note="loss functions compiled; first calls (compilation) untimed")
    else:
        rep.add(case, "torch.compile", None, note="--no-compile, or --quick/--smoke on the CPU: compilation takes minutes there)")
    if cuda:
        st = OcrPoseStep(cfg, device, autocast=True)
        timed(case, "eager bf16 autocast", lambda: st.step(x, dv), b0)
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
        for name in ("eager bf16 autocast", "CUDA graph full step"):
            rep.add(case, name, None, note="CUDA only")
    del eager

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
        best = max(timed_rows, key=lambda r: r["throughput"])
        rep.note(f"fastest variant: {best['variant']}")
        rep.target(f"poses/s of the fastest variant ({best['variant']})", best["throughput"], 100_000.0)
        rep.target("fastest variant over eager fp32 (x)", eager_row["median_s"] / best["median_s"], 5.0)
    else:
        rep.target(f"CPU eager fp32 full step (3 updates) at B={b0} (s)", eager_row["median_s"], 0.5, higher_is_better=False)
    parts = {r["variant"].split(": ")[1]: r["median_s"] for r in timed_rows if r["variant"].startswith("eager fp32: ")}
    if len(parts) == 3:
        per_update = (parts["backbone update only"] + parts["discriminator update only"] / 3 + parts["occlusion update only"]) / 2
        rep.note(
            f"mean time per optimisation step of the example's schedule (backbone:occlusion 1:1, disc every 3rd "
            f"backbone step) at B={b0}: {per_update:.3g} s = (backbone + disc/3 + occlusion) / 2"
        )
        if not cuda:
            rep.target(f"CPU eager fp32 mean optimisation step of the example's schedule at B={b0} (s)", per_update, 0.5, higher_is_better=False)
    return finish(rep, args)


if __name__ == "__main__":
    main()
