"""The continuous 6D rotation representation of Zhou et al. (CVPR 2019).

The 6D vector is the **first two columns** of the rotation matrix, concatenated:
``r6 = (R[:, 0], R[:, 1])`` (the paper's choice; note that PyTorch3D uses the first two *rows*).
Decoding applies Gram-Schmidt: ``b1 = a1/|a1|``, ``b2 = normalise(a2 - (b1 . a2) b1)``,
``b3 = b1 x b2``, ``R = [b1 b2 b3]`` (columns). Any 6D vector whose halves are non-zero and not
parallel maps to a proper rotation, which makes this the default output of rotation regressors.
"""

from __future__ import annotations

import torch

from skelcl._validation import TensorLike

from ._utils import as_float, as_rotation

__all__ = ["rotation_6d_to_matrix", "matrix_to_rotation_6d"]


def rotation_6d_to_matrix(rotation_6d: TensorLike, eps: float = 1e-8) -> torch.Tensor:
    """Rotation matrices from 6D vectors by Gram-Schmidt (Zhou et al. 2019).

    Args:
        rotation_6d: ``(..., 6)``: first column ``a1 = r[..., :3]`` and second column
            ``a2 = r[..., 3:]`` of the (unnormalised) rotation.
        eps: lower bound on the norms divided by (zero or parallel halves are degenerate and give
            an arbitrary, still finite, output instead of NaN).

    Returns:
        ``(..., 3, 3)`` rotation matrices with columns ``b1, b2, b3``.
    """
    r = as_float(rotation_6d, "rotation_6d", (6,))
    a1, a2 = r[..., :3], r[..., 3:]
    b1 = torch.nn.functional.normalize(a1, dim=-1, eps=eps)
    b2 = a2 - (b1 * a2).sum(-1, keepdim=True) * b1
    b2 = torch.nn.functional.normalize(b2, dim=-1, eps=eps)
    b3 = torch.linalg.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), -1)


def matrix_to_rotation_6d(matrix: TensorLike) -> torch.Tensor:
    """6D vectors (first two columns) of rotation matrices.

    Args:
        matrix: ``(..., 3, 3)`` rotation matrices.

    Returns:
        ``(..., 6)`` = ``cat(R[..., :, 0], R[..., :, 1])``.
    """
    m = as_rotation(matrix, "matrix")
    return torch.cat((m[..., :, 0], m[..., :, 1]), -1)
