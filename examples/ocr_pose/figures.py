"""Figures of the OCR-Pose example (matplotlib, Agg backend; nothing is shown on screen).

Skeletons are drawn with :mod:`skelcl.plots`. The t-SNE is a
plain exact t-SNE (van der Maaten & Hinton, JMLR 2008) in torch for about a thousand points, so
that scikit-learn is not needed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch



def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def draw_2d(ax, pose: np.ndarray, visible: Optional[np.ndarray] = None, style: str = "-",
            alpha: float = 1.0, label: Optional[str] = None) -> None:
    """One H36M-17 2D pose (image convention, y down) via :func:`skelcl.plots.plot_skeleton_2d`."""
    from skelcl.plots import plot_skeleton_2d

    vis = None if visible is None else np.asarray(visible, bool)
    plot_skeleton_2d(ax, np.asarray(pose, np.float64), linestyle=style, visible=vis, label=label,
                     color="0.6" if alpha < 1 else None)


def draw_3d(ax, pose: np.ndarray, style: str = "-", alpha: float = 1.0, label=None) -> None:
    """One H36M-17 3D pose in the camera frame via :func:`skelcl.plots.plot_skeleton_3d`."""
    from skelcl.plots import plot_skeleton_3d

    plot_skeleton_3d(ax, np.asarray(pose, np.float64), linestyle=style, label=label,
                     color="0.5" if alpha < 1 else None)


def prediction_figure(input_2d, visible, completed_2d, pose_3d, path, title: str = "") -> str:
    """Input 2D with missing joints, the filled 2D, and the lifted 3D (one frame)."""
    plt = _plt()
    fig = plt.figure(figsize=(12, 4))
    ax = fig.add_subplot(1, 3, 1)
    draw_2d(ax, input_2d, visible)
    ax.set_title("input 2D (orange: missing)")
    ax = fig.add_subplot(1, 3, 2)
    draw_2d(ax, completed_2d, None)
    ax.set_title("completed 2D (Eq. 10)")
    ax = fig.add_subplot(1, 3, 3, projection="3d")
    draw_3d(ax, pose_3d)
    ax.set_title("lifted 3D")
    fig.suptitle(title)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return str(path)


def skeletons_figure(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], path,
                     titles: Optional[Sequence[str]] = None) -> str:
    """Predicted (solid) vs ground-truth (dashed) 3D skeletons, one panel per sample.

    Predictions should already be aligned to the ground truth (e.g. Procrustes) for display.
    """
    plt = _plt()
    n = len(preds)
    fig = plt.figure(figsize=(3.2 * n, 3.4))
    for i in range(n):
        ax = fig.add_subplot(1, n, i + 1, projection="3d")
        draw_3d(ax, gts[i], style="--", alpha=0.5)
        draw_3d(ax, preds[i], style="-")
        ax.set_title(titles[i] if titles else f"sample {i}", fontsize=9)
    fig.suptitle("predicted (solid) vs ground truth (dashed), after Procrustes alignment")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return str(path)


def completion_figure(masked: Sequence[np.ndarray], visible: Sequence[np.ndarray],
                      completed: Sequence[np.ndarray], truth: Sequence[np.ndarray], path) -> str:
    """Paper Fig. 7 analogue: masked input, the filling network's completion, ground truth."""
    plt = _plt()
    n = len(masked)
    fig, axes = plt.subplots(1, n, figsize=(3 * n, 3.6), squeeze=False)
    for i in range(n):
        ax = axes[0, i]
        draw_2d(ax, truth[i], None, style=":", alpha=0.35)
        draw_2d(ax, completed[i], visible[i])
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"{int((~np.asarray(visible[i], bool)).sum())} joints filled", fontsize=9)
    fig.suptitle("2D completion: masked joints (hollow, dotted bones) filled by the network; ground truth in grey")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return str(path)


def tsne(x: torch.Tensor, dims: int = 2, perplexity: float = 30.0, iterations: int = 500,
         seed: int = 0) -> torch.Tensor:
    """Exact t-SNE of ``x`` ``(N, D)`` -> ``(N, dims)`` (float64, O(N²) memory; N ~ 1000).

    Gaussian affinities with a per-point bandwidth found by bisection to match ``perplexity``,
    symmetrised; Student-t similarities in the embedding; gradient descent with momentum and
    early exaggeration (12 for the first 100 iterations), as in the original paper.
    """
    x = x.double()
    n = x.shape[0]
    x = x - x.mean(0)
    x = x / x.std().clamp_min(1e-12)
    d2 = torch.cdist(x, x).square()
    target = math.log(min(perplexity, max(n - 1, 1) / 3.0 + 1e-9) + 1e-12)
    beta = torch.ones(n, dtype=torch.float64)
    lo = torch.full((n,), 0.0, dtype=torch.float64)
    hi = torch.full((n,), float("inf"), dtype=torch.float64)
    eye = torch.eye(n, dtype=torch.bool)
    for _ in range(60):
        logits = (-d2 * beta[:, None]).masked_fill(eye, -float("inf"))
        p = torch.softmax(logits, dim=1)
        h = -(p * torch.log(p.clamp_min(1e-300))).sum(1)
        too_flat = h > target
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(torch.isinf(hi), beta * 2, (lo + hi) / 2)
    p = (p + p.T) / (2 * n)
    p = p.clamp_min(1e-12)
    g = torch.Generator().manual_seed(seed)
    y = 1e-4 * torch.randn(n, dims, generator=g, dtype=torch.float64)
    vel = torch.zeros_like(y)
    lr = max(n / 12.0, 50.0)
    for it in range(iterations):
        exag = 12.0 if it < 100 else 1.0
        num = 1.0 / (1.0 + torch.cdist(y, y).square())
        num = num.masked_fill(eye, 0.0)
        q = (num / num.sum()).clamp_min(1e-12)
        pq = (exag * p - q) * num
        grad = 4.0 * (pq.sum(1, keepdim=True) * y - pq @ y)
        momentum = 0.5 if it < 250 else 0.8
        vel = momentum * vel - lr * grad
        y = y + vel
        y = y - y.mean(0)
    return y


def tsne_figure(embeddings: Dict[str, np.ndarray], labels: Dict[str, Sequence[str]], path,
                title: str = "t-SNE of f_occ") -> str:
    """One t-SNE panel per model (points coloured by label, e.g. the pose's identity or action)."""
    plt = _plt()
    n = len(embeddings)
    fig, axes = plt.subplots(1, n, figsize=(4 * n, 4), squeeze=False)
    for ax, (name, y) in zip(axes[0], embeddings.items()):
        lab = list(labels[name])
        cats = sorted(set(lab))
        cmap = plt.get_cmap("tab10" if len(cats) <= 10 else "tab20")
        for k, c in enumerate(cats):
            sel = np.array([v == c for v in lab])
            ax.scatter(y[sel, 0], y[sel, 1], s=6, color=cmap(k % cmap.N), label=c)
        ax.set_title(name, fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    if n:
        axes[0, -1].legend(fontsize=7, markerscale=2, loc="best")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return str(path)


def curves_figure(histories: Dict[str, List[dict]], path) -> str:
    """Training curves: validation P-MPJPE and the main losses per epoch, one line per variant."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for name, hist in histories.items():
        ep = [h["epoch"] for h in hist if "val" in h]
        if ep:
            axes[0].plot(ep, [h["val"]["p_mpjpe_mm"] for h in hist if "val" in h], "-o", ms=3,
                         label=name)
        for ax, key in ((axes[1], "l_2d"), (axes[2], "l_sup")):
            pts = [(h["epoch"], h["losses"][key]) for h in hist if key in h.get("losses", {})]
            if pts:
                ax.plot(*zip(*pts), "-", label=name)
    axes[0].set_title("validation P-MPJPE (mm)")
    axes[1].set_title("L_2D (unsupervised variants)")
    axes[2].set_title("supervised loss (m)")
    for ax in axes:
        ax.set_xlabel("epoch")
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return str(path)
