"""Data pipeline: load the Bandai Namco mocap file and project all frames to 4 virtual views.

Cases (sizes printed with each row):

- ``load``: :func:`skelcl.data.load_mocap` on ``bandai_namco_dataset2_h36m17.npz`` (385k frames;
  int16 mm -> float32 metres, clip bookkeeping).
- ``project``: :func:`skelcl.data.project_mocap` of every frame to ``--views`` (default 4)
  cameras (1.54M poses): camera sampling, world -> camera, pixels, visibility check, building
  and validating the :class:`~skelcl.data.PoseDataset`. Reference row: a per-frame Python loop
  (NumPy look-at camera + pinhole per frame and view, the obvious non-vectorised code), timed
  on ``--loop-subset`` frames and **extrapolated** linearly (the note says so).
- ``save/load``: :func:`~skelcl.data.save_pose_dataset` (uncompressed, atomic) and
  :func:`~skelcl.data.load_pose_dataset` of the projected dataset, in a temporary directory.
- ``synthetic``: :func:`skelcl.data.synthetic_mocap` of the same number of frames.

Target (issue 4): load + project in "seconds, not minutes" (<= 10 s on the 2-core CPU).
The data directory comes from ``--data-dir`` or ``SKELCL_DATA_DIR``; without it (or with
``--smoke``) a synthetic stand-in is used and the row says so.

Run: ``python -m benchmarks.bench_data [--views 4] [--data-dir DIR] [--quick]``.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
import torch

from benchmarks.common import PeakMemory, Report, finish, make_parser, measure, setup_from_args

BANDAI = "bandai_namco_dataset2_h36m17.npz"


def project_loop(world: np.ndarray, views: int, seed: int = 0) -> np.ndarray:
    """Reference: per-frame, per-view Python loop (look-at camera, pinhole), float64 pixels."""
    rng = np.random.default_rng(seed)
    out = np.empty((views, len(world), world.shape[1], 2))
    up = np.array([0.0, 1.0, 0.0])
    for f in range(len(world)):
        pelvis = world[f, 0]
        floor = world[f, :, 1].min()
        for v in range(views):
            az, dist = rng.uniform(0, 2 * math.pi), rng.uniform(4.5, 6.0)
            height, focal = rng.uniform(1.0, 2.0), rng.uniform(1100, 1200)
            dy = np.clip(floor + height - pelvis[1], -0.95 * dist, 0.95 * dist)
            hor = math.sqrt(dist * dist - dy * dy)
            c = pelvis + np.array([hor * math.sin(az), dy, hor * math.cos(az)])
            fwd = (pelvis - c) / np.linalg.norm(pelvis - c)
            right = np.cross(fwd, up)
            right /= np.linalg.norm(right)
            down = np.cross(fwd, right)
            cam = (world[f] - c) @ np.stack([right, down, fwd]).T
            out[v, f] = cam[:, :2] / cam[:, 2:] * focal + 500.0
    return out


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    """Run the benchmark; returns the report dict (see :class:`benchmarks.common.Report`)."""
    p = make_parser(__doc__.split("\n")[0])
    p.add_argument("--views", type=int, default=4)
    p.add_argument("--data-dir", default=None, help="directory with the *_h36m17.npz files")
    p.add_argument("--loop-subset", type=int, default=None, help="frames timed in the loop (default 1000)")
    args = p.parse_args(argv)
    device = setup_from_args(args, default_repeats=5, default_warmup=1)
    from skelcl.data import (
        load_mocap,
        load_pose_dataset,
        project_mocap,
        save_pose_dataset,
        synthetic_mocap,
    )

    data_dir = args.data_dir or os.environ.get("SKELCL_DATA_DIR")
    path = Path(data_dir) / BANDAI if data_dir else None
    use_real = path is not None and path.is_file()
    repeats = max(1, min(args.repeats, 3 if args.quick else args.repeats))
    if args.smoke:
        repeats = 1
    if use_real:
        clips = load_mocap(path)
        if args.smoke:
            clips = clips.take_clips(np.arange(100))
        source = f"{BANDAI}" + (" (first 100 clips, --smoke)" if args.smoke else "")
    else:
        clips = synthetic_mocap(20_000 if args.smoke else 384_931, generator=torch.Generator().manual_seed(0))
        source = "synthetic stand-in (no data directory: set SKELCL_DATA_DIR or --data-dir)"
    frames, views = clips.num_frames, args.views
    n_poses = frames * views
    rep = Report(
        "data",
        f"load mocap + project {frames} frames x {views} views ({n_poses} poses)",
        str(device),
        {"source": source, "frames": frames, "views": views, "poses": n_poses, "repeats": repeats,
         "torch_threads": torch.get_num_threads()},
        quiet=args.quiet,
    )

    if use_real and not args.smoke:
        with PeakMemory("cpu") as pm:
            t_load = measure(lambda: load_mocap(path), warmup=1, repeats=repeats)
        rep.add("load", "load_mocap (int16 mm -> float32 m)", t_load, items=frames, unit="frames/s",
                peak_mb=pm.peak_mb, note=f"{path.stat().st_size / 2**20:.0f} MiB file")
    else:
        t_load = None

    case = f"project F={frames} V={views}"
    subset = min(frames, args.loop_subset or (100 if args.smoke else 1000))
    world64 = clips.poses[:subset].double().numpy()
    t_loop = measure(lambda: project_loop(world64, views), warmup=0, repeats=1)
    rep.add(case, "per-frame Python loop (numpy)", t_loop.scaled(frames / subset), items=n_poses,
            unit="poses/s", baseline=True, note=f"timed on {subset} frames, extrapolated x{frames / subset:.0f}")

    def run_project():
        return project_mocap(clips, views, generator=torch.Generator().manual_seed(args.seed), device=device)

    with PeakMemory(device) as pm:
        t_proj = measure(run_project, device=device, warmup=args.warmup if not args.smoke else 0,
                         repeats=repeats)
    rep.add(case, f"project_mocap ({device})", t_proj, items=n_poses, unit="poses/s", peak_mb=pm.peak_mb)
    ds = run_project()
    missing = float((ds.confidence == 0).mean())
    rep.note(f"joints marked missing (outside the image / behind the camera): {100 * missing:.3f} %")
    pelvis_err = float(np.abs(ds.poses_2d[:, 0] - 500.0).max())
    rep.check("pelvis projects onto the image centre (max px error)", pelvis_err, 1e-2)

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "ds.npz"
        t_save = measure(lambda: save_pose_dataset(ds, out), warmup=0, repeats=1)
        size_mb = out.stat().st_size / 2**20
        rep.add("save/load", "save_pose_dataset (npz, atomic)", t_save, items=len(ds), unit="poses/s",
                note=f"{size_mb:.0f} MiB")
        t_read = measure(lambda: load_pose_dataset(out), warmup=0, repeats=1)
        rep.add("save/load", "load_pose_dataset (+ validation)", t_read, items=len(ds), unit="poses/s")
        back = load_pose_dataset(out)
        rep.check("save -> load round trip (max abs diff, px)",
                  float(np.nanmax(np.abs(back.poses_2d - ds.poses_2d))), 0.0)
    del ds

    t_syn = measure(lambda: synthetic_mocap(frames, generator=torch.Generator().manual_seed(0)),
                    warmup=0, repeats=1)
    rep.add("synthetic", f"synthetic_mocap ({frames} frames)", t_syn, items=frames, unit="frames/s")

    total = (t_load.median_s if t_load is not None else 0.0) + t_proj.median_s
    rep.target("load + project all frames (s)", total if use_real and not args.smoke else None, 10.0,
               higher_is_better=False)
    return finish(rep, args)


if __name__ == "__main__":
    main()
