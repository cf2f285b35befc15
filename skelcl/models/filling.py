"""OCR-Pose's pose filling network ``Φ_F`` (Wang, Yu et al., ACM MM 2022, Sec. 3.1, 4.1 and
Eq. 10): complete a 2D pose with missing joints, then fuse the completion with the detection."""

from __future__ import annotations

from typing import NamedTuple

import torch
from einops import rearrange
from torch import nn

from .._validation import check_finite, check_float, check_shape
from ._common import flatten_batch, restore_batch


class FillingOutput(NamedTuple):
    """Output of :class:`PoseFillingNetwork`."""

    #: the fused pose ``X = c X_det + (1 - c) X_fill`` (paper Eq. 10), ``(..., J, 2)``.
    filled: torch.Tensor
    #: the network's completion ``X_fill`` of every joint, ``(..., J, 2)``.
    raw: torch.Tensor
    #: the fusion weight ``c`` actually used, ``(..., J)`` (0 for missing joints).
    weight: torch.Tensor


class PoseFillingNetwork(nn.Module):
    """Auto-encoder completing 2D poses with missing joints, with the output fusion of Eq. 10.

    Input: the 2D pose with the missing joints' coordinates set to 0, concatenated with the binary
    visibility mask (``3 J`` values). Network: ``num_layers`` ``Linear`` layers of width
    ``hidden`` with ReLU between them (the paper: 4 layers, width 128; no normalisation, so any
    batch size works in training mode too), the last one producing ``2 J`` coordinates
    ``X_fill``. PyTorch's default ``Linear`` initialisation.

    Fusion (paper Eq. 10): ``X = c X_det + (1 - c) X_fill`` per joint, where ``c`` is

    - the visibility mask as 0/1 when ``visible_or_confidence`` is boolean, or
    - the detector confidence when it is floating point; confidences below ``threshold``
      (0.1 in the paper, Sec. 4.5) count as missing: ``c = 0`` and the joint is zeroed in the
      network input. Confidences must lie in ``[0, 1]``.

    The coordinates of missing joints are never read (they may hold NaN or stale values); visible
    joints with confidence 1 are returned unchanged in ``filled``.

    Args:
        num_joints: ``J`` (17).
        hidden: hidden width (128).
        num_layers: number of ``Linear`` layers (4), at least 2.
        threshold: confidence below which a joint counts as missing (0.1).
        check_inputs: check values on every call (NaN/inf in visible joints, confidence range;
            a device sync). Shapes and dtypes are always checked.

    Example:
        >>> from skelcl.models import PoseFillingNetwork
        >>> net = PoseFillingNetwork()
        >>> pose = torch.randn(8, 17, 2)
        >>> visible = torch.ones(8, 17, dtype=torch.bool)
        >>> visible[:, 13] = False  # left wrist missing
        >>> out = net(pose, visible)
        >>> bool((out.filled[:, :13] == pose[:, :13]).all())
        True
    """

    def __init__(
        self,
        num_joints: int = 17,
        hidden: int = 128,
        num_layers: int = 4,
        threshold: float = 0.1,
        check_inputs: bool = True,
    ):
        super().__init__()
        if num_joints < 1 or hidden < 1 or num_layers < 2:
            raise ValueError(
                "num_joints and hidden must be >= 1 and num_layers >= 2, got "
                f"{num_joints}, {hidden}, {num_layers}"
            )
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold: expected a value in [0, 1], got {threshold}")
        self.num_joints = num_joints
        self.threshold = float(threshold)
        self.check_inputs = check_inputs
        dims = [3 * num_joints] + [hidden] * (num_layers - 1) + [2 * num_joints]
        layers: list = []
        for i in range(num_layers):
            layers.append(nn.Linear(dims[i], dims[i + 1]))
            if i < num_layers - 1:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def fusion_weight(self, visible_or_confidence: torch.Tensor) -> torch.Tensor:
        """The per-joint fusion weight ``c`` ``(..., J)``: the mask as 0/1, or the confidence with
        values below ``threshold`` set to 0."""
        if visible_or_confidence.dtype == torch.bool:
            return visible_or_confidence.to(torch.get_default_dtype())
        c = visible_or_confidence
        return torch.where(c >= self.threshold, c, torch.zeros_like(c))

    def forward(self, pose_2d: torch.Tensor, visible_or_confidence: torch.Tensor) -> FillingOutput:
        """Complete and fuse.

        Args:
            pose_2d: detected / masked 2D poses ``(..., J, 2)``.
            visible_or_confidence: ``(..., J)``, boolean visibility or confidence in ``[0, 1]``.

        Returns:
            :class:`FillingOutput` with ``filled`` and ``raw`` ``(..., J, 2)``, ``weight``
            ``(..., J)``.
        """
        check_float(pose_2d, "pose_2d")
        check_shape(pose_2d, "pose_2d", (self.num_joints, 2))
        c_in = visible_or_confidence
        if not isinstance(c_in, torch.Tensor):
            raise TypeError(
                f"visible_or_confidence: expected a torch.Tensor, got {type(c_in).__name__}"
            )
        if c_in.dtype != torch.bool and not c_in.is_floating_point():
            raise TypeError(
                "visible_or_confidence: expected a bool mask or floating-point confidences, got "
                f"dtype {c_in.dtype}"
            )
        if c_in.shape != pose_2d.shape[:-1]:
            raise ValueError(
                f"visible_or_confidence: expected shape {tuple(pose_2d.shape[:-1])} (pose_2d "
                f"without its last dimension), got {tuple(c_in.shape)}"
            )
        param = next(self.parameters())
        if pose_2d.dtype != param.dtype:
            raise TypeError(
                f"pose_2d: expected dtype {param.dtype} (the network's), got {pose_2d.dtype}"
            )
        c = self.fusion_weight(c_in).to(pose_2d.dtype)
        visible = c > 0
        x_det = torch.where(visible[..., None], pose_2d, torch.zeros_like(pose_2d))
        if self.check_inputs and not torch.compiler.is_compiling():
            check_finite(x_det, "pose_2d (visible joints)")
            if c_in.dtype != torch.bool:
                check_finite(c_in, "visible_or_confidence")
                if bool(((c_in < 0) | (c_in > 1)).any()):
                    raise ValueError("visible_or_confidence: confidences must lie in [0, 1]")

        flat, spec = flatten_batch(x_det, "* j c")
        vis_flat, _ = flatten_batch(visible.to(pose_2d.dtype), "* j")
        net_in = torch.cat([rearrange(flat, "n j c -> n (j c)"), vis_flat], dim=-1)
        raw = rearrange(self.net(net_in), "n (j c) -> n j c", c=2)
        raw = restore_batch(raw, spec, "* j c")
        w = c[..., None]
        filled = w * x_det + (1 - w) * raw
        return FillingOutput(filled=filled, raw=raw, weight=c)


__all__ = ["PoseFillingNetwork", "FillingOutput"]
