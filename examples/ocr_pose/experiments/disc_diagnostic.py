"""Discriminator diagnostic (docs/results.md, "Why the discriminator wins"): can the cycle's
discriminator tell real 2D poses from the rotated projections of a *perfect* lifter?

A perfect lifter is built from the training split's ground-truth camera-frame 3D (diagnostic only:
no lifter is trained here): its relative depth ``d_i = k D (Z_i - Z_root) / Z_root`` makes
``depth_to_points(x, d)`` a similarity transform of the ground truth (``k``: the normaliser's
scale, ``x``: the normalised 2D). Its cycle fakes ``JR2D = clamp(P(T(J3D)))`` are exactly what
the adversarial loss asks the lifter to produce. A fresh discriminator of the ``quick``
architecture (width 128, 2 blocks, LSGAN, Adam 2e-4, betas (0.5, 0.9), batch 256) is trained on
real vs these fakes and scored on held-out poses the way the trainer scores them (training mode:
each 256-pose batch, real or fake, normalised by its own BatchNorm statistics). If it separates them, the adversarial loss
penalises correct depth, and the cycle's rotation distribution, not the lifter, is what it learns
to detect. Usage, from the repository root::

    SKELCL_DATA_DIR=../shared/data OMP_NUM_THREADS=1 \\
        python -m examples.ocr_pose.experiments.disc_diagnostic [STEPS] [TRAIN_POSES|all]

(5,000 further poses of the training split are held out for scoring.)
"""
import json
import math
import sys
from typing import Optional

import torch

from examples.ocr_pose.experiments._report import perfect_lifter_split
from skelcl.geometry import depth_to_points, project, sample_view_rotation, view_transform
from skelcl.losses import lsgan_discriminator_loss
from skelcl.models import PoseDiscriminator

D = 10.0


def main(steps: int = 1500, train_poses: Optional[int] = 40000) -> None:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x, depth, split = perfect_lifter_split(train_poses, distance=D)
    j3d = depth_to_points(x, depth, distance=D)
    n = x.shape[0]

    def fakes(idx, mode, gen):
        if mode == "identity":
            r = torch.eye(3).expand(len(idx), 3, 3)
        elif mode == "azimuth only":
            r = sample_view_rotation(len(idx), elevation=(0.0, 0.0), roll=(0.0, 0.0), generator=gen)
        elif mode == "small (±20° azimuth)":
            r = sample_view_rotation(len(idx), azimuth=(-math.pi / 9, math.pi / 9), generator=gen)
        else:  # the cycle's default ranges (METHOD.md §2)
            r = sample_view_rotation(len(idx), generator=gen)
        src = j3d[idx] if mode != "flat lifter, cycle rotations" else depth_to_points(
            x[idx], torch.zeros_like(depth[idx]), distance=D)
        return project(view_transform(src, r, distance=D), min_depth=0.1).clamp(-0.2, 0.2)

    rows = []
    for mode in ("identity", "small (±20° azimuth)", "azimuth only", "cycle rotations",
                 "flat lifter, cycle rotations"):
        disc = PoseDiscriminator(17, channels=128, num_blocks=2, check_inputs=False)
        opt = torch.optim.Adam(disc.parameters(), lr=2e-4, betas=(0.5, 0.9))
        for _ in range(steps):
            a = torch.randint(0, split, (256,), generator=g)
            b = torch.randint(0, split, (256,), generator=g)
            loss = lsgan_discriminator_loss(disc(x[a]), disc(fakes(b, mode, g)))
            opt.zero_grad()
            loss.backward()
            opt.step()
        # scored as the trainer scores: training mode (BatchNorm statistics of each 256-pose
        # batch, real and fake batches separately), on held-out poses
        drs, dfs = [], []
        with torch.no_grad():
            for s in range(split, n - 255, 256):
                held = torch.arange(s, s + 256)
                drs.append(disc(x[held]))
                dfs.append(disc(fakes(held, mode, g)))
        dr, df = torch.cat(drs), torch.cat(dfs)
        rows.append({"fakes": mode, "held_out_l_disc": round(float(lsgan_discriminator_loss(dr, df)), 4),
                     "accuracy": round(float(((dr > 0.5).float().mean() + (df < 0.5).float().mean()) / 2), 3),
                     "last_train_l_disc": round(float(loss.detach()), 4), "steps": steps,
                     "train_poses": split})
        print(json.dumps(rows[-1]), flush=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    main(int(a[0]) if a else 1500,
         None if len(a) > 1 and a[1] == "all" else (int(a[1]) if len(a) > 1 else 40000))
