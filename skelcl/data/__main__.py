"""Command line of :mod:`skelcl.data`.

::

    python -m skelcl.data project-mocap INPUT.npz OUTPUT.npz --views 4 --seed 0 [--select style!=normal]
    python -m skelcl.data info FILE.npz
    python -m skelcl.data synthetic OUTPUT.npz --frames 6000 --views 4 --seed 0 [--world]

``project-mocap`` turns a world-frame ``*_h36m17.npz`` mocap file into a pose dataset seen by
virtual cameras; ``info`` describes a pose dataset, a mocap file or any other ``.npz``;
``synthetic`` writes a synthetic pose dataset (or, with ``--world``, synthetic world-frame mocap
in the ``*_h36m17.npz`` layout). Errors print one line to stderr and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import torch

from .mocap import load_mocap, save_mocap
from .pose_dataset import load_pose_dataset, read_npz, save_pose_dataset
from .synthetic import synthetic_mocap
from .virtual_cameras import VirtualCameraConfig, project_mocap


def _camera_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--views", type=int, default=4, help="virtual cameras per frame (default 4)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--noise-std", type=float, default=0.0, help="Gaussian 2D noise, pixels (default 0)")
    p.add_argument("--per-clip", action="store_true", help="one camera per clip and view (tracking)")
    p.add_argument("--focal", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="focal-length range in pixels (default 1100 1200)")
    p.add_argument("--compress", action="store_true", help="write a compressed .npz")


def _config(args: argparse.Namespace) -> VirtualCameraConfig:
    return VirtualCameraConfig(focal=tuple(args.focal)) if args.focal else VirtualCameraConfig()


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (sub-commands ``project-mocap``, ``info``, ``synthetic``)."""
    parser = argparse.ArgumentParser(prog="python -m skelcl.data", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("project-mocap", help="world-frame mocap -> pose dataset via virtual cameras")
    p.add_argument("input", type=Path, help="*_h36m17.npz mocap file")
    p.add_argument("output", type=Path, help="pose-dataset .npz to write")
    p.add_argument("--select", action="append", default=[], metavar="EXPR",
                   help="clip selection, e.g. style!=normal or subject=002,005 (repeatable: AND)")
    p.add_argument("--subsample", type=int, default=1, help="keep every k-th frame (default 1)")
    _camera_args(p)
    p = sub.add_parser("info", help="describe an .npz file")
    p.add_argument("file", type=Path)
    p = sub.add_parser("synthetic", help="write a synthetic pose dataset (or world-frame mocap)")
    p.add_argument("output", type=Path)
    p.add_argument("--frames", type=int, default=6000, help="synthetic frames (default 6000)")
    p.add_argument("--clip-length", type=int, default=60, help="frames per clip (default 60)")
    p.add_argument("--world", action="store_true",
                   help="write world-frame mocap (*_h36m17.npz layout) instead of a pose dataset")
    _camera_args(p)
    return parser


def _info(path: Path) -> str:
    arrays = read_npz(path)
    keys = list(arrays)
    if "poses_2d" in keys:
        return f"{path}\n" + load_pose_dataset(path).summary()
    if "poses_3d_mm" in keys:
        return f"{path}\n" + load_mocap(path).summary()
    lines = [f"{path}: neither a pose dataset nor a mocap file; arrays:"]
    lines += [f"  {k}: {v.dtype} {v.shape}" for k, v in arrays.items()]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the command line; returns the exit status (0 ok, 2 on a data or usage error)."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "info":
            print(_info(args.file))
            return 0
        gen = torch.Generator().manual_seed(args.seed)
        start = time.perf_counter()
        if args.command == "project-mocap":
            clips = load_mocap(args.input, selection=args.select or None)
            if clips.num_clips == 0:
                raise ValueError(f"{args.input}: the selection {args.select} keeps no clip")
            if args.subsample > 1:
                clips = clips.subsample(args.subsample)
        else:
            clips = synthetic_mocap(args.frames, clip_length=args.clip_length, generator=gen)
            if args.world:
                save_mocap(clips, args.output)
                print(f"wrote {args.output}: synthetic world-frame mocap, {clips.num_clips} clips, "
                      f"{clips.num_frames} frames")
                return 0
        ds = project_mocap(
            clips, args.views, config=_config(args), noise_std=args.noise_std,
            per_clip=args.per_clip, generator=gen,
        )
        if args.command == "synthetic":
            ds.source = "synthetic: " + ds.source
        save_pose_dataset(ds, args.output, compress=args.compress)
        missing = 100.0 * float((ds.confidence == 0).mean())
        print(f"wrote {args.output}: {len(ds)} poses ({clips.num_frames} frames x {args.views} views), "
              f"{missing:.2f} % joints missing, {time.perf_counter() - start:.1f} s")
        return 0
    except (ValueError, KeyError, FileNotFoundError, RuntimeError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
