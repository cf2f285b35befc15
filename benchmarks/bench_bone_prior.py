"""What the bone-length prior costs per backbone update: off, ``"pair"``, ``"clip"``, ``"image"``.

The example's own ``Trainer.backbone_step`` (``examples/ocr_pose/training.py``; a discriminator
update every ``schedule.disc_every`` = 3rd call, as in training) with the networks of
``examples/ocr_pose/configs/ocr_pose.json``, on ``B`` synthetic normalised 2D poses (Gaussian
joints of scale 0.05, root at 0, all visible) labelled with clips of 14 poses (the median clip
of the ``quick`` budget's training subset). Variants, timed round-robin in one process:

- ``off``: ``loss.w_bone = 0`` (the paper's objective, the naive reference for the cost);
- ``pair``: ``loss.w_bone = 0.3``, ``loss.bone_target = "pair"``: a second lift of a random pose
  of each pose's clip (the ``quick`` default);
- ``clip``: ``loss.w_bone = 0.3``, ``loss.bone_target = "clip"``: the lift against the clips'
  running estimates (:class:`examples.ocr_pose.clip_bones.ClipBoneEstimate`), no second lift;
- ``image``: ``loss.w_bone = 0.3``, ``loss.bone_target = "image"``: the lift against one set of
  proportions read off the training 2D (:func:`skelcl.losses.bone_proportions_from_2d`).

No peer library implements this prior, so there is no third-party row. ``poses/s = B / update
time``.

Run: ``python -m benchmarks.bench_bone_prior [--quick] [--threads N] [--batch 512]``.
"""

from __future__ import annotations

import tempfile
from typing import Any, Callable, Dict, Optional, Sequence

import torch

from benchmarks.bench_train_step import load_ocr_pose_config, measure_interleaved, synthetic_batch
from benchmarks.common import Report, finish, make_parser, setup_from_args

#: Poses per clip of the synthetic training set (the quick budget's median clip).
CLIP_POSES = 14

VARIANTS: Dict[str, Dict[str, Any]] = {
    "off": {"w_bone": 0.0},
    "pair": {"w_bone": 0.3, "bone_target": "pair"},
    "clip": {"w_bone": 0.3, "bone_target": "clip"},
    "image": {"w_bone": 0.3, "bone_target": "image"},
}


def backbone_updates(cfg: Any, loss: Dict[str, Any], n: int, b: int, seed: int) -> Callable[[], None]:
    """A trainer on ``n`` synthetic poses in clips of :data:`CLIP_POSES`; each call runs
    ``Trainer.backbone_step`` on the next batch of ``b`` (a fixed cycle of random batches)."""
    from examples.ocr_pose.config import config_from_dict
    from examples.ocr_pose.inputs import Poses2D
    from examples.ocr_pose.training import Trainer
    from skelcl.geometry import RootScaleNormalizer2D

    d = cfg.to_dict()
    d["loss"].update(loss)
    c = config_from_dict(d)
    x, dv = synthetic_batch(n, torch.device("cpu"), seed)
    data = Poses2D(x, dv, "synthetic", clip=torch.arange(n) // CLIP_POSES)
    trainer = Trainer(c, data, RootScaleNormalizer2D(), "camera", None,
                      tempfile.mkdtemp(prefix="skelcl_bench_"), progress=False)
    g = torch.Generator().manual_seed(seed)
    batches = [torch.randperm(n, generator=g)[:b] for _ in range(8)]
    state = {"i": 0}

    def run() -> None:
        trainer.backbone_step(batches[state["i"] % len(batches)])
        state["i"] += 1

    return run


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """Run the benchmark; returns the report dict (see :class:`benchmarks.common.Report`)."""
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=None, help="batch size B (default 512)")
    p.add_argument("--hidden", type=int, default=None, help="override the network width (smoke runs)")
    p.add_argument("--max-seconds", type=float, default=60.0, help="time budget of the timed rounds")
    args = p.parse_args(argv)
    device = setup_from_args(args, default_repeats=15, default_warmup=3)
    if device.type != "cpu":
        raise SystemExit("bench_bone_prior times the CPU Trainer; run it with --device cpu")
    cfg = load_ocr_pose_config(args.hidden or (32 if args.smoke else None))
    b = args.batch or (32 if args.smoke else 512)
    n = 8 * b
    rep = Report("bone_prior", f"Trainer.backbone_step with the bone-length prior off / pair / clip / image, B={b}",
                 str(device), {"batch": b, "training_poses": n, "clip_poses": CLIP_POSES,
                               "hidden": cfg.model.hidden, "dtype": "float32", "repeats": args.repeats},
                 quiet=args.quiet)
    rep.note("one call = one backbone update (and a discriminator update every 3rd call); "
             "variants timed round-robin (measure_interleaved)")
    fns = {name: backbone_updates(cfg, loss, n, b, args.seed) for name, loss in VARIANTS.items()}
    timings, peak = measure_interleaved(fns, args.warmup, args.repeats, args.max_seconds)
    case = f"B={b}"
    for name, loss in VARIANTS.items():
        note = ", ".join(f"loss.{k}={v}" for k, v in loss.items())
        rep.add(case, name, timings[name], items=b, unit="poses/s", baseline=name == "off",
                peak_mb=peak[name], note=note)
    return finish(rep, args)


if __name__ == "__main__":
    main()
