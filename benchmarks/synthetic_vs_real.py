"""What is the synthetic default worth? Supervised lifters: synthetic-trained vs real-trained.

Trains the same supervised lifter twice and evaluates both on the real validation split of the
data README (Bandai Namco ``style = normal`` + CMU subjects 003, 007), seen by virtual cameras:

- (a) trained on :func:`skelcl.data.synthetic_mocap` poses alone (as many frames as (b));
- (b) trained on the real training split (Bandai Namco ``style != normal`` + CMU 002, 005, 006).

Both see 2D from :func:`skelcl.data.project_mocap` (``--views`` cameras per training frame,
exact 2D), normalised as METHOD.md §1 (root-centred, one global scale fitted on *their own*
training set with :class:`skelcl.geometry.RootScaleNormalizer2D`, so the mean head-pelvis length
is ``1/D = 0.1``). The lifter is :class:`skelcl.models.LiftingNetwork` (``--channels`` wide,
``--blocks`` residual blocks); 3D is ``(x z, y z, z)`` with ``z = max(1, d + D)``, ``D = 10``.
Supervision: the true relative depth in the lifter's units, ``d_i = k (Z_i - Z_root)`` with
``k = s f D / Z_root`` (``s`` the normaliser's scale, ``f`` the focal length; this makes the
lifter's ``x z`` match the true 3D's scale); loss: mean squared depth error. Adam, cosine
learning rate, ``--steps`` steps of ``--batch`` poses, one CPU thread.

Evaluation: P-MPJPE (mm; similarity Procrustes, reflections excluded;
:func:`skelcl.metrics.p_mpjpe`) against the camera-frame 3D on ``--val-poses`` validation poses
(one random camera per frame, a seeded random subset), next to the two floors of METHOD.md §6:

- *mean training pose*: the mean of the (real) training poses after root-centring and turning
  each about the vertical so that its hips point along ``+X`` (the best constant pose up to the
  rotation that Procrustes removes anyway);
- *flat lifting*: the normalised input 2D with zero depth.

Run (about 6 minutes on one shared core; the numbers of issue 4's closing note)::

    SKELCL_DATA_DIR=/path/to/data python -m benchmarks.synthetic_vs_real [--steps 4000]
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

D = 10.0


def _depth_targets(ds, scale: float) -> torch.Tensor:
    """``(N, J)`` relative depth in the lifter's units (see module docstring)."""
    z = torch.as_tensor(ds.poses_3d[..., 2], dtype=torch.float32)
    focal = torch.as_tensor(ds.focal, dtype=torch.float32).reshape(-1)
    k = scale * focal * D / z[:, 0]
    return k[:, None] * (z - z[:, :1])


def _lift(net, x2d: torch.Tensor, batch: int = 8192) -> torch.Tensor:
    """Normalised 2D ``(N, J, 2)`` -> 3D ``(N, J, 3)`` in the lifter's units."""
    out = []
    with torch.no_grad():
        for i in range(0, len(x2d), batch):
            x = x2d[i:i + batch]
            z = (net(x).depth + D).clamp_min(1.0)
            out.append(torch.cat([x * z[..., None], z[..., None]], dim=-1))
    return torch.cat(out)


def _canonical_mean_pose(world: torch.Tensor) -> torch.Tensor:
    """Mean root-relative pose after turning each about +Y so the hips point along +X."""
    rel = world - world[:, :1]
    hips = rel[:, 4] - rel[:, 1]
    ang = torch.atan2(hips[:, 2], hips[:, 0])  # angle of the hip axis from +X towards +Z
    c, s = torch.cos(ang), torch.sin(ang)
    x = rel[..., 0] * c[:, None] + rel[..., 2] * s[:, None]
    z = -rel[..., 0] * s[:, None] + rel[..., 2] * c[:, None]
    return torch.stack([x, rel[..., 1], z], dim=-1).mean(0)


def train_lifter(x2d, depth, args, seed: int, label: str, log) -> torch.nn.Module:
    """Supervised training on normalised 2D ``x2d`` and depth targets; returns the net (eval)."""
    from skelcl.models import LiftingNetwork

    torch.manual_seed(seed)
    net = LiftingNetwork(num_joints=17, channels=args.channels, num_blocks=args.blocks,
                         dropout=args.dropout, check_inputs=False)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, args.steps)
    gen = torch.Generator().manual_seed(seed)
    n = len(x2d)
    t0 = time.perf_counter()
    running = 0.0
    for step in range(args.steps):
        idx = torch.randint(0, n, (args.batch,), generator=gen)
        loss = torch.nn.functional.mse_loss(net(x2d[idx]).depth, depth[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        running += float(loss.detach())
        if (step + 1) % max(1, args.steps // 5) == 0:
            log(f"  [{label}] step {step + 1}/{args.steps} loss {running / max(1, args.steps // 5):.4f} "
                f"({time.perf_counter() - t0:.0f} s)")
            running = 0.0
    return net.eval()


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, Any]:
    """Run the comparison; returns a dict of P-MPJPE values (mm) and settings."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=None, help="directory of the *_h36m17.npz files (else SKELCL_DATA_DIR)")
    p.add_argument("--steps", type=int, default=4000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--channels", type=int, default=256)
    p.add_argument("--blocks", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--bandai-step", type=int, default=3, help="keep every k-th Bandai frame (30 fps)")
    p.add_argument("--cmu-step", type=int, default=6, help="keep every k-th CMU frame (60 fps)")
    p.add_argument("--val-poses", type=int, default=20_000)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="also write the result here")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, flush=True)

    from skelcl.data import MocapClips, project_mocap, suggested_split, synthetic_mocap
    from skelcl.geometry import RootScaleNormalizer2D
    from skelcl.metrics import p_mpjpe

    t_start = time.perf_counter()
    split = suggested_split(args.data_dir)

    def thin(clips: MocapClips) -> MocapClips:
        src = clips.metadata["source"]
        parts = []
        for name, step in (("bandai", args.bandai_step), ("cmu", args.cmu_step)):
            mask = np.char.startswith(src, name)
            if mask.any():
                parts.append(clips.take_clips(np.flatnonzero(mask)).subsample(step))
        return MocapClips.concat(parts)

    train_real = thin(split["train"])
    val = split["validation"]
    gen = torch.Generator().manual_seed(args.seed)
    val_ds = project_mocap(val, 1, generator=gen)
    pick = torch.randperm(len(val_ds), generator=gen)[: args.val_poses].sort().values.numpy()
    val_ds = val_ds.subset(pick)
    train_syn = synthetic_mocap(train_real.num_frames, generator=torch.Generator().manual_seed(args.seed + 1))
    log(f"train frames: real {train_real.num_frames} ({train_real.num_clips} clips), synthetic "
        f"{train_syn.num_frames}; x {args.views} views; validation poses {len(val_ds)} "
        f"(of {val.num_frames} frames); data ready in {time.perf_counter() - t_start:.0f} s")

    target_mm = torch.as_tensor(val_ds.poses_3d, dtype=torch.float64) * 1000.0
    results: Dict[str, Any] = {}

    # floors (on the real training split's normaliser)
    real_ds = project_mocap(train_real, args.views, generator=torch.Generator().manual_seed(args.seed + 2))
    norm_real = RootScaleNormalizer2D().fit(torch.as_tensor(real_ds.poses_2d))
    val_x_real = norm_real.transform(torch.as_tensor(val_ds.poses_2d)).float()
    mean_pose = _canonical_mean_pose(train_real.poses.double())
    results["floor_mean_training_pose"] = float(p_mpjpe(mean_pose.expand_as(target_mm), target_mm))
    flat = torch.cat([val_x_real.double(), torch.zeros_like(val_x_real[..., :1]).double()], dim=-1)
    results["floor_flat_lifting"] = float(p_mpjpe(flat, target_mm))
    log(f"floors: mean training pose {results['floor_mean_training_pose']:.1f} mm, "
        f"flat lifting {results['floor_flat_lifting']:.1f} mm")

    for label, clips, ds in (("real", train_real, real_ds), ("synthetic", train_syn, None)):
        if ds is None:
            ds = project_mocap(clips, args.views, generator=torch.Generator().manual_seed(args.seed + 3))
        norm = norm_real if label == "real" else RootScaleNormalizer2D().fit(torch.as_tensor(ds.poses_2d))
        x2d = norm.transform(torch.as_tensor(ds.poses_2d)).float()
        depth = _depth_targets(ds, norm.scale)
        t0 = time.perf_counter()
        net = train_lifter(x2d, depth, args, args.seed, label, log)
        train_s = time.perf_counter() - t0
        val_x = norm.transform(torch.as_tensor(val_ds.poses_2d)).float()
        pred = _lift(net, val_x).double()
        results[f"supervised_{label}"] = float(p_mpjpe(pred, target_mm))
        results[f"train_s_{label}"] = round(train_s, 1)
        results[f"train_poses_{label}"] = len(ds)
        log(f"supervised lifter trained on {label}: P-MPJPE {results[f'supervised_{label}']:.1f} mm "
            f"on real validation ({train_s:.0f} s training)")
        del ds, x2d, depth

    results.update(
        settings={k: v for k, v in vars(args).items() if k not in ("json", "quiet")},
        val_poses=len(val_ds),
        total_s=round(time.perf_counter() - t_start, 1),
        torch_threads=torch.get_num_threads(),
    )
    log(json.dumps({k: (round(v, 1) if isinstance(v, float) else v) for k, v in results.items()
                    if k != "settings"}))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(results, fh, indent=2)
    return results


if __name__ == "__main__":
    main()
