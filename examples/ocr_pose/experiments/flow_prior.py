"""Normalising-flow 2D pose prior (docs/results.md, "A normalising-flow prior in place of the
discriminator"): does a learned density of real 2D poses prefer the rotated projections of a
*correct* lifter over those of a flat one, and does it help the decoupled lifter in training?

ElePose (Wandt et al., CVPR 2022) replaces the discriminator of the adversarial cycle with a
normalising flow fitted to real 2D poses and reports unsupervised errors close to supervised
ones. Our flow, written for this probe: the normalised 2D pose (METHOD.md §1) is flattened,
projected onto its ``n_pca`` leading principal components and whitened; then ``n_layers``
affine coupling layers (RealNVP, Dinh et al., ICLR 2017) with random half masks,
``tanh``-bounded log-scales and zero-initialised output layers, so that the untrained flow is the
whitened Gaussian of the PCA subspace. :meth:`PoseFlow.nll` is the negative log-density per
dimension of that subspace (nats; lower = more like the real poses).

Two modes, from the repository root::

    SKELCL_DATA_DIR=../shared/data OMP_NUM_THREADS=2 \\
        python -m examples.ocr_pose.experiments.flow_prior diagnose [STEPS] [TRAIN_POSES|all]
    SKELCL_DATA_DIR=../shared/data OMP_NUM_THREADS=1 \\
        python -m examples.ocr_pose.experiments.flow_prior probe VARIANT EPOCHS OUT W_FLOW KEEP_ADV

``diagnose`` fits the flow on ``TRAIN_POSES`` (default 40,000, the ``quick`` budget) training
poses of one virtual view, holds out 5,000 more, and scores the held-out real poses and the
cycle's fakes of a *perfect* lifter (ground-truth relative depth, as in ``disc_diagnostic.py``)
with its depth scaled by ``s`` (``s = 0``: flat; ``s = 1``: correct; ``s = -1``: mirrored), rotated
by a random azimuth about the camera's vertical axis and projected. If correct depth is to be
rewarded, ``s = 1`` must score lowest. Prints one JSON line per row.

``probe`` runs :mod:`examples.ocr_pose.experiments.probe` (same data, split, budget and report)
with the flow fitted on the run's own training 2D (``FLOW_STEPS``, default 3,000, Adam 1e-3) and
``W_FLOW * nll(JR2D)`` added to the generator loss; ``KEEP_ADV = 0`` drops the LSGAN term (the
ElePose arrangement), ``1`` keeps it. Environment: ``FLOW_PCA`` (default 24), ``FLOW_HIDDEN``
(256), ``FLOW_LAYERS`` (6); ``FLOW_POSES=all`` fits the flow on the 2D of the whole training
split (the lifter still trains on the run's own poses).
"""
import json
import math
import os
import sys
import time
from typing import Dict, List, Optional, Tuple

import torch
from torch import nn

D = 10.0


class _Coupling(nn.Module):
    """One affine coupling layer ``y = m x + (1 - m) (x exp(s(m x)) + t(m x))`` (RealNVP).

    ``mask`` ``(d,)`` of 0/1 selects the conditioning half; ``log|det dy/dx| = sum (1 - m) s``."""

    def __init__(self, mask: torch.Tensor, hidden: int) -> None:
        super().__init__()
        d = mask.numel()
        self.register_buffer("mask", mask)
        self.net = nn.Sequential(nn.Linear(d, hidden), nn.LeakyReLU(), nn.Linear(hidden, hidden),
                                 nn.LeakyReLU(), nn.Linear(hidden, 2 * d))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``x`` ``(B, d)`` -> ``(y (B, d), log|det| (B,))``."""
        keep, free = self.mask, 1 - self.mask
        log_s, shift = self.net(x * keep).chunk(2, dim=-1)
        log_s = torch.tanh(log_s) * free
        y = x * keep + free * (x * torch.exp(log_s) + shift)
        return y, log_s.sum(-1)


class PoseFlow(nn.Module):
    """Density of normalised 2D poses: PCA whitening, then affine coupling layers.

    Args:
        poses: ``(N, J, 2)`` real normalised 2D poses, from which the mean and the principal axes
            are computed (float64); coordinates with no spread (the root, at the origin) are
            dropped.
        n_pca: number of leading principal components kept (``<= 2 J``).
        n_layers: coupling layers, each with its own random half mask (seeded by ``seed``).
        hidden: width of each coupling network.
        seed: seed of the masks.
    """

    def __init__(self, poses: torch.Tensor, n_pca: int = 24, n_layers: int = 6,
                 hidden: int = 256, seed: int = 0) -> None:
        super().__init__()
        if poses.ndim != 3 or poses.shape[-1] != 2 or poses.shape[0] < 2:
            raise ValueError(f"poses: expected (N >= 2, J, 2), got {tuple(poses.shape)}")
        x = poses.reshape(poses.shape[0], -1).double()
        keep = x.std(0) > 1e-6
        x = x[:, keep]
        if not 1 <= n_pca <= x.shape[1]:
            raise ValueError(f"n_pca: expected 1..{x.shape[1]}, got {n_pca}")
        mean = x.mean(0)
        eigval, eigvec = torch.linalg.eigh(torch.cov(x.T))  # ascending
        axes = eigvec[:, -n_pca:] / eigval[-n_pca:].sqrt()
        self.register_buffer("keep", keep)
        self.register_buffer("mean", mean.float())
        self.register_buffer("whiten", axes.float())
        self.log_det_whiten = float(-0.5 * torch.log(eigval[-n_pca:]).sum())
        self.dim = n_pca
        g = torch.Generator().manual_seed(seed)
        masks = []
        for _ in range(n_layers):
            m = torch.zeros(n_pca)
            m[torch.randperm(n_pca, generator=g)[: n_pca // 2]] = 1.0
            masks.append(m)
        self.layers = nn.ModuleList(_Coupling(m, hidden) for m in masks)

    def latent(self, poses: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``poses`` ``(B, J, 2)`` -> ``(z (B, n_pca), log|det dz/du| (B,))``, ``u`` the PCA
        coordinates before whitening (the whitening's log-determinant included)."""
        u = poses.reshape(poses.shape[0], -1)[:, self.keep]
        z = (u - self.mean) @ self.whiten
        log_det = torch.full((u.shape[0],), self.log_det_whiten, dtype=z.dtype, device=z.device)
        for layer in self.layers:
            z, ld = layer(z)
            log_det = log_det + ld
        return z, log_det

    def nll(self, poses: torch.Tensor) -> torch.Tensor:
        """Negative log-density per dimension (nats) of ``poses`` ``(B, J, 2)`` in the PCA
        subspace, ``(B,)``: ``-(log N(z; 0, I) + log|det|) / n_pca``."""
        z, log_det = self.latent(poses)
        log_p = -0.5 * (z * z).sum(-1) - 0.5 * self.dim * math.log(2 * math.pi) + log_det
        return -log_p / self.dim


def fit_pose_flow(poses: torch.Tensor, steps: int, *, generator: torch.Generator,
                  batch: int = 512, lr: float = 1e-3, n_pca: int = 24, n_layers: int = 6,
                  hidden: int = 256, log_every: int = 500) -> PoseFlow:
    """Fit a :class:`PoseFlow` to ``poses`` ``(N, J, 2)`` by maximum likelihood (Adam, weight
    decay 1e-5), with 2,000 poses held out and their NLL printed every ``log_every`` steps.
    Returns the flow in eval mode with its parameters frozen."""
    n = poses.shape[0]
    if n < 2000 + batch:
        raise ValueError(f"poses: expected at least {2000 + batch} poses, got {n}")
    perm = torch.randperm(n, generator=generator)
    held, train = poses[perm[:2000]], poses[perm[2000:]]
    flow = PoseFlow(train, n_pca=n_pca, n_layers=n_layers, hidden=hidden)
    opt = torch.optim.Adam(flow.parameters(), lr=lr, weight_decay=1e-5)
    for step in range(steps):
        idx = torch.randint(len(train), (batch,), generator=generator)
        loss = flow.nll(train[idx]).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % log_every == 0 or step == steps - 1:
            with torch.no_grad():
                print(f"flow step {step}: train nll {loss.item():.3f}, held-out "
                      f"{flow.nll(held).mean().item():.3f}", flush=True)
    for p in flow.parameters():
        p.requires_grad_(False)
    return flow.eval()


def _env_flow_kwargs() -> Dict[str, int]:
    return {"n_pca": int(os.environ.get("FLOW_PCA", "24")),
            "hidden": int(os.environ.get("FLOW_HIDDEN", "256")),
            "n_layers": int(os.environ.get("FLOW_LAYERS", "6"))}


def diagnose(steps: int = 3000, train_poses: Optional[int] = 40000) -> List[dict]:
    """The ``diagnose`` mode (module docstring); returns the printed rows."""
    from examples.ocr_pose.experiments._report import perfect_lifter_split
    from skelcl.geometry import depth_to_points, project, sample_view_rotation, view_transform

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x, depth, split = perfect_lifter_split(train_poses, distance=D)
    flow = fit_pose_flow(x[:split], steps, generator=g, **_env_flow_kwargs())
    idx = torch.arange(split, x.shape[0])
    rot = sample_view_rotation(len(idx), elevation=(0.0, 0.0), roll=(0.0, 0.0), generator=g)
    rows = []
    with torch.no_grad():
        nll = flow.nll(x[idx])
        rows.append({"poses": "held-out real", "nll_mean": round(float(nll.mean()), 3),
                     "nll_median": round(float(nll.median()), 3)})
        for s in (-1.0, 0.0, 0.5, 0.8, 1.0, 1.2, 1.5, 2.0):
            j3d = depth_to_points(x[idx], s * depth[idx], distance=D)
            fake = project(view_transform(j3d, rot, distance=D), min_depth=0.1).clamp(-0.2, 0.2)
            nll = flow.nll(fake)
            rows.append({"poses": f"perfect lifter, depth x {s}, azimuth rotation",
                         "nll_mean": round(float(nll.mean()), 3),
                         "nll_median": round(float(nll.median()), 3)})
    for r in rows:
        r.update(train_poses=split, steps=steps, **_env_flow_kwargs())
        print(json.dumps(r), flush=True)
    return rows


def _all_training_2d(norm) -> torch.Tensor:
    """The normalised 2D (``norm``: the run's normaliser) of the whole training split of the
    probe's data (``quick`` views, ``PROBE_SEED``), complete poses only: ``(N, J, 2)``."""
    from examples.ocr_pose.data_sources import real_datasets
    from examples.ocr_pose.inputs import dataset_to_2d
    from examples.ocr_pose.reproduce import BUDGETS, budget_frames

    seed = int(os.environ.get("PROBE_SEED", "0"))
    d = real_datasets(os.environ["SKELCL_DATA_DIR"], views=BUDGETS["quick"]["views"], seed=seed)
    xy, conf, _ = dataset_to_2d(budget_frames(d, "quick", seed, None).train)
    x = norm.transform(torch.from_numpy(xy)).float()
    return x[torch.from_numpy(conf > 0).all(1)]


def probe(argv: List[str]) -> None:
    """The ``probe`` mode (module docstring): ``VARIANT EPOCHS OUT W_FLOW KEEP_ADV``."""
    from examples.ocr_pose import training
    from examples.ocr_pose.experiments import probe as base

    variant, epochs, out, w_flow, keep_adv = argv[0], argv[1], argv[2], float(argv[3]), argv[4] == "1"
    state: Dict[str, object] = {}
    parent = training.BackboneLoss

    class FlowBackboneLoss(parent):  # type: ignore[misc, valid-type]
        def forward(self, *args, **kwargs):
            out_ = super().forward(*args, **kwargs)
            # the trainer weights l_adv by loss.w_adv: divide it out so that the flow's weight is W_FLOW
            l_flow = w_flow / max(state["w_adv"], 1e-12) * state["flow"].nll(out_.rotated_2d).mean()
            out_.losses["l_adv"] = (out_.losses["l_adv"] + l_flow) if keep_adv else l_flow
            return out_

    train = base.train

    def train_with_flow(cfg, out_dir, data, norm, units, curve, progress=False):
        t = time.time()
        real = data.poses[data.visible.all(1)]
        if os.environ.get("FLOW_POSES") == "all":  # the flow on every training pose's 2D
            real = _all_training_2d(norm)
        state["flow"] = fit_pose_flow(real, int(os.environ.get("FLOW_STEPS", "3000")),
                                      generator=torch.Generator().manual_seed(0), **_env_flow_kwargs())
        print(f"flow fitted in {time.time() - t:.0f} s on {len(real)} poses", flush=True)
        state["w_adv"] = cfg.loss.w_adv
        return train(cfg, out_dir, data, norm, units, curve, progress=progress)

    training.BackboneLoss = FlowBackboneLoss
    base.train = train_with_flow
    try:
        base.main([variant, epochs, out])
    finally:
        training.BackboneLoss = parent
        base.train = train


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "diagnose":
        diagnose(int(a[1]) if len(a) > 1 else 3000,
                 None if len(a) > 2 and a[2] == "all" else (int(a[2]) if len(a) > 2 else 40000))
    elif a and a[0] == "probe" and len(a) == 6:
        probe(a[1:])
    else:
        sys.exit(__doc__)
