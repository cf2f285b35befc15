"""``predict``: 3D poses from real 2D detector output (paper Sec. 4.5, setting c).

Reads detector output with skelcl's readers (COCO results, AlphaPose, OpenPose, MMPose, or the
Pose2Sim demo file), converts it to H36M-17 (synthesised joints take the minimum confidence of
their sources), fuses and completes it with the filling network (Eq. 10: ``c`` = confidence,
confidences below 0.1 count as missing), lifts it, and writes an ``.npz``:

- ``poses_3d`` ``(N, 17, 3)``: root-relative 3D in the lifter's normalised units (camera frame,
  x right, y down, z forward; the mean training head-to-pelvis length is about 1 unit). A metric
  scale is not observable from one image; multiply by the subject's size if you know it.
- ``poses_2d_input`` / ``poses_2d_completed`` ``(N, 17, 2)``: the normalised 2D before and after
  filling; ``confidence`` and ``visible`` ``(N, 17)``; ``frame`` ``(N,)``; ``layout``.

Normalisation (our choice): ``--normalizer refit`` (default) fits the 2D scale on the input
sequence itself so that its mean head-to-pelvis length is 0.1 (in-the-wild cameras and subject
distances differ from the training data, and no 3D is involved); ``checkpoint`` reuses the
training normaliser (meaningful when the input comes from cameras like the training ones and has a
focal length).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

import numpy as np
import torch

from skelcl.data.pose_dataset import PoseDataset

from .evaluation import LoadedModel, input_weights
from .inputs import CONFIDENCE_THRESHOLD, dataset_to_2d, fit_normalizer
from .model import lift

#: Placeholder image size for detector files that do not record one (only the principal point
#: depends on it, and root-centring removes that).
UNKNOWN_IMAGE_SIZE = (10000.0, 10000.0)


def read_keypoints(path: str, fmt: str, image_size: Optional[Sequence[float]] = None,
                   camera: int = 0) -> PoseDataset:
    """Read detector output into an H36M-17 pose dataset with skelcl's readers."""
    from skelcl.data import keypoints as kp

    size = tuple(image_size) if image_size is not None else UNKNOWN_IMAGE_SIZE
    if fmt == "pose2sim":
        return kp.read_pose2sim_npz(path, cameras=[camera])
    if fmt == "coco":
        return kp.read_coco_keypoints(path, image_size)  # annotation files carry their sizes
    if fmt == "alphapose":
        return kp.read_alphapose(path, size)
    if fmt == "openpose":
        return kp.read_openpose(path, size)
    if fmt == "mmpose":
        return kp.read_mmpose(path, size)
    raise ValueError(f"format: unknown {fmt!r}")


def predict_dataset(model: LoadedModel, ds: PoseDataset, confidence: str = "threshold",
                    normalizer: str = "refit") -> Dict[str, Any]:
    """Lift every pose of ``ds``; returns the arrays written by ``predict``."""
    xy, conf, units = dataset_to_2d(ds)
    if normalizer == "refit" or units != model.input_units:
        norm = fit_normalizer(xy, conf)
    else:
        norm = model.normalizer
    x = norm.transform(torch.from_numpy(xy)).float()
    w = input_weights(conf, confidence)
    filler = model.models["filler"] if "filler" in model.models else None
    old = filler.threshold if filler is not None else None
    if filler is not None and confidence == "fuse":
        filler.threshold = 0.0
    try:
        out = lift(model.models, model.cfg, x, w)
    finally:
        if filler is not None:
            filler.threshold = old
    p3 = out.pose_3d - out.pose_3d[:, :1]
    frame = ds.extras.get("frame", np.arange(len(ds)))
    return {
        "poses_3d": p3.numpy().astype(np.float32),
        "poses_2d_input": x.numpy(),
        "poses_2d_completed": out.input_2d.numpy(),
        "confidence": conf.astype(np.float32),
        "visible": conf >= CONFIDENCE_THRESHOLD,
        "frame": np.asarray(frame),
        "layout": np.asarray("h36m17"),
        "variant": np.asarray(model.cfg.variant),
    }


def plot_prediction(result: Dict[str, Any], path: str, frame: Optional[int] = None,
                    title: str = "") -> str:
    """Figure: input 2D (missing joints marked), completed 2D, and the 3D of one frame."""
    from .figures import prediction_figure

    if frame is None:  # a frame with 1-4 missing joints shows the completion best
        missing = (~result["visible"]).sum(1)
        score = np.where((missing >= 1) & (missing <= 4), missing, -1)
        frame = int(np.argmax(score)) if score.max() > 0 else len(missing) // 2
    return prediction_figure(
        result["poses_2d_input"][frame], result["visible"][frame],
        result["poses_2d_completed"][frame], result["poses_3d"][frame], path,
        title=title or f"{result['variant']} frame {frame}",
    )


def predict_cli(args) -> Dict[str, Any]:
    """``predict`` subcommand."""
    model = LoadedModel(args.checkpoint)
    ds = read_keypoints(args.keypoints, args.format, getattr(args, "image_size", None),
                        getattr(args, "camera", 0))
    res = predict_dataset(model, ds, args.confidence, getattr(args, "normalizer", "refit"))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, **res)
    missing = float((~res["visible"]).mean())
    msg = (f"lifted {len(ds)} poses from {args.keypoints} ({args.format}; {100 * missing:.1f} % "
           f"joints missing or below confidence {CONFIDENCE_THRESHOLD}) -> {out}")
    if args.plot:
        plot_prediction(res, args.plot)
        msg += f", figure {args.plot}"
    print(msg, file=sys.stderr)
    return res
