"""Command line of the OCR-Pose example: ``python -m examples.ocr_pose SUBCOMMAND ...``.

Subcommands: ``train``, ``evaluate``, ``predict``, ``reproduce``, ``demo`` (``--help`` on each).
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = argparse.ArgumentParser(
        prog="python -m examples.ocr_pose",
        description="OCR-Pose (Wang, Yu et al., ACM MM 2022): unsupervised, occlusion-aware "
        "2D-to-3D pose lifting, assembled from skelcl.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train one variant (config) on 2D poses")
    t.add_argument("--config", required=True, help="JSON config file or built-in name "
                   "(baseline, no_decouple, decouple, decouple_veclr, ocr_pose, "
                   "occluded_training, supervised, tiny, demo)")
    t.add_argument("--out", required=True, help="run directory (checkpoints, metrics.jsonl)")
    t.add_argument("--data", default=None, help="training pose-dataset .npz (default: the "
                   "embedded synthetic poses)")
    t.add_argument("--val", default=None, help="validation pose-dataset .npz with poses_3d "
                   "(picks best.pt by P-MPJPE; default with synthetic data: a synthetic split)")
    t.add_argument("--resume", action="store_true", help="continue from RUN_DIR/last.pt")
    t.add_argument("--seed", type=int, default=None, help="override the config's seed")
    t.add_argument("--no-progress", action="store_true", help="no progress bars")
    t.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="cpu (default) or cuda; under torchrun each process uses cuda:LOCAL_RANK "
                   "(NCCL) or the CPU (gloo): see docs/guides/multi_gpu.rst")

    e = sub.add_parser("evaluate", help="P-MPJPE / MPJPE / N-MPJPE / PCK3D / AUC on a dataset")
    e.add_argument("--checkpoint", required=True)
    e.add_argument("--data", required=True, help="pose-dataset .npz with poses_3d")
    e.add_argument("--mask-max", type=int, default=0, help="mask n ~ U{0..N} joints per frame")
    e.add_argument("--mask-seed", type=int, default=0)
    e.add_argument("--confidence", choices=("fuse", "threshold", "binary"), default="threshold",
                   help="use the dataset's confidences: 'fuse' (Eq. 10 with c = confidence), "
                   "'threshold' (confidence < 0.1 = missing, then Eq. 10; the default), "
                   "'binary' (c = 1 if confidence >= 0.1 else 0)")
    e.add_argument("--missing-joints", choices=("root", "image_origin"), default="root",
                   help="what a lifter without a filling network (baseline, supervised) sees at "
                   "a missing joint: 'root' (zeroed in the root-centred input; the default) or "
                   "'image_origin' (pixel (0, 0), where detector formats write an undetected "
                   "keypoint); variants with a filling network are not affected")
    e.add_argument("--json", required=True, help="output JSON file")
    e.add_argument("--max-frames", type=int, default=None, help="evaluate a seeded subsample")

    pr = sub.add_parser("predict", help="3D poses from real 2D detector output")
    pr.add_argument("--checkpoint", required=True)
    pr.add_argument("--keypoints", required=True, help="detector output file or folder")
    pr.add_argument("--format", required=True,
                    choices=("coco", "alphapose", "openpose", "mmpose", "pose2sim"))
    pr.add_argument("--out", required=True, help="output .npz (poses_3d, poses_2d_filled, ...)")
    pr.add_argument("--plot", default=None, help="figure of input 2D, completion and 3D (.png)")
    pr.add_argument("--camera", type=int, default=0, help="pose2sim: which camera")
    pr.add_argument("--image-size", type=float, nargs=2, default=None, metavar=("W", "H"),
                    help="image width and height in pixels (files that do not record it)")
    pr.add_argument("--normalizer", choices=("refit", "checkpoint"), default="refit",
                    help="2D scale: refit on this input (default) or the training one")
    pr.add_argument("--confidence", choices=("fuse", "threshold", "binary"), default="threshold")

    r = sub.add_parser("reproduce", help="train all variants on real data, write the tables")
    r.add_argument("--data-dir", required=True, help="directory with *_h36m17.npz "
                   "(the data README's layout)")
    r.add_argument("--out", required=True, help="results directory")
    r.add_argument("--budget", choices=("tiny", "quick", "paper"), default="quick")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--variants", default=None, help="comma-separated subset of the variants")
    r.add_argument("--device", default="cpu", help="training device: cpu (default) or cuda")
    r.add_argument("--jobs", type=int, default=1,
                   help="train up to this many variants at once, each in its own CPU process "
                        "(default 1; 2 on a 2-core machine: about twice the throughput)")
    r.add_argument("--no-progress", action="store_true")

    d = sub.add_parser("demo", help="OCR-Pose end to end on the embedded synthetic data")
    d.add_argument("--out", default="outputs/demo")
    d.add_argument("--budget", choices=("tiny", "demo"), default="demo")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--no-progress", action="store_true")
    return p


def main(argv: Optional[List[str]] = None) -> int:
    """Entry point; returns the process exit status."""
    args = build_parser().parse_args(argv)
    from .config import ConfigError
    from .checkpoint import CheckpointError

    try:
        if args.command == "train":
            from .training import TrainingStopped, train_cli

            try:
                train_cli(args)
            except TrainingStopped as e:
                print(f"error: {e}", file=sys.stderr)
                return 3
        elif args.command == "evaluate":
            from .evaluation import evaluate_cli

            evaluate_cli(args)
        elif args.command == "predict":
            from .prediction import predict_cli

            predict_cli(args)
        elif args.command == "reproduce":
            from .reproduce import reproduce_cli

            reproduce_cli(args)
        elif args.command == "demo":
            from .demo import demo_cli

            demo_cli(args)
    except (ConfigError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    status = main()
    from .distributed import exit_worker, launched_by_torchrun

    if launched_by_torchrun():  # a torchrun worker: skip finalisation (see exit_worker)
        exit_worker(status)
    sys.exit(status)
