"""Conversion of COCO-17, OpenPose BODY_25 / BODY_25B and MPI-INF-3DHP-17 keypoints to H36M-17.

Every H36M-17 joint is an *affine combination* of source joints (weights summing to one), so the
conversion is a fixed linear map (a ``(17, J)`` weight matrix, see :func:`conversion_matrix`,
applied as a gather of each joint's few sources so that NaN in an unused joint stays local): it
is batched, differentiable,
commutes with translations, rotations and scaling, and works for 2D (``C = 2``) and 3D
(``C = 3``) points alike. The rules (the common midpoint rule, e.g. Pose2Sim's and MotionBERT's
COCO→H36M mappings; see also the data README's BODY_25B rule):

============ =============================================================================
H36M joint    source
============ =============================================================================
pelvis        mid(left hip, right hip)  (BODY_25's detected ``MidHip`` is not used)
hips, knees,  the same joints
ankles,
shoulders,
elbows,
wrists
thorax        mid(left shoulder, right shoulder)  (BODY_25's ``Neck`` and BODY_25B's upper
              ``Neck`` are not used)
spine         mid(pelvis, thorax) = mean of both hips and both shoulders
neck_nose     nose
head          BODY_25B: ``Head`` (the head top). COCO-17 and BODY_25 have no head top:
              ``head = f + k (f - thorax)`` with ``f`` the mean of both eyes and both ears
              and ``k = head_extension`` (default 0.85, a least-squares fit of the head top on
              the real BODY_25B detections of the Pose2Sim demo; the face centre pushed
              away from the thorax, i.e. up the head).
============ =============================================================================

MPI-INF-3DHP-17 maps by name (no joint synthesised): pelvis, hips, knees, ankles, shoulders,
elbows and wrists to the same joints, ``spine → spine``, ``neck → thorax``, ``head →
neck_nose``, ``head_top → head`` (the mapping used by lifting papers that evaluate H36M-trained
models on 3DHP). H36M-17 input is returned unchanged.

Confidences: a copied joint keeps its confidence; a synthesised joint gets the *minimum*
confidence of all its sources (a midpoint is only as reliable as its worst source).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple, Optional, Union

import torch

from .._validation import TensorLike, as_tensor, check_shape
from .layouts import BODY25, BODY25B, COCO17, H36M17, MPI_INF_3DHP17, get_layout
from .skeleton import Skeleton

__all__ = ["H36MConversion", "convert_to_h36m17", "conversion_matrix", "DEFAULT_HEAD_EXTENSION"]

#: Default ``head_extension`` ``k`` of the eyes/ears head rule (fitted on Pose2Sim BODY_25B data).
DEFAULT_HEAD_EXTENSION: float = 0.85


class H36MConversion(NamedTuple):
    """Result of :func:`convert_to_h36m17` (a named tuple)."""

    #: ``(..., 17, C)`` keypoints in H36M-17 order, same dtype/device as the input.
    keypoints: torch.Tensor
    #: ``(..., 17)`` confidences (minimum over the sources), or ``None`` if none were given.
    confidence: Optional[torch.Tensor]
    #: ``(17,)`` bool, ``True`` where a joint was computed from several source joints.
    synthesized: torch.Tensor


# Source recipes: H36M joint -> {source joint name: weight}; a special "head" marker is expanded
# with head_extension. Names are the layouts' own.
def _recipe(layout: Skeleton, k: float) -> dict[str, dict[str, float]]:
    if layout == COCO17:
        lh, rh, ls, rs = "left_hip", "right_hip", "left_shoulder", "right_shoulder"
        limb = {"r_knee": "right_knee", "r_ankle": "right_ankle", "l_knee": "left_knee",
                "l_ankle": "left_ankle", "l_elbow": "left_elbow", "l_wrist": "left_wrist",
                "r_elbow": "right_elbow", "r_wrist": "right_wrist"}
        face = ("left_eye", "right_eye", "left_ear", "right_ear")
        nose, top = "nose", None
    elif layout in (BODY25, BODY25B):
        lh, rh, ls, rs = "LHip", "RHip", "LShoulder", "RShoulder"
        limb = {"r_knee": "RKnee", "r_ankle": "RAnkle", "l_knee": "LKnee", "l_ankle": "LAnkle",
                "l_elbow": "LElbow", "l_wrist": "LWrist", "r_elbow": "RElbow", "r_wrist": "RWrist"}
        face = ("LEye", "REye", "LEar", "REar")
        nose, top = "Nose", ("Head" if layout == BODY25B else None)
    elif layout == MPI_INF_3DHP17:
        same = ("pelvis", "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "spine",
                "l_shoulder", "l_elbow", "l_wrist", "r_shoulder", "r_elbow", "r_wrist")
        r = {n: {n: 1.0} for n in same}
        r.update(thorax={"neck": 1.0}, neck_nose={"head": 1.0}, head={"head_top": 1.0})
        return r
    elif layout == H36M17:
        return {n: {n: 1.0} for n in H36M17.names}
    else:
        raise ValueError(
            f"layout: no H36M-17 conversion for layout {layout.name!r}; supported: "
            "coco17, body25, body25b, mpi_inf_3dhp17, h36m17"
        )
    r = {"pelvis": {lh: 0.5, rh: 0.5}, "r_hip": {rh: 1.0}, "l_hip": {lh: 1.0},
         "l_shoulder": {ls: 1.0}, "r_shoulder": {rs: 1.0},
         "thorax": {ls: 0.5, rs: 0.5}, "spine": {lh: 0.25, rh: 0.25, ls: 0.25, rs: 0.25},
         "neck_nose": {nose: 1.0}}
    r.update({h: {s: 1.0} for h, s in limb.items()})
    if top is not None:
        r["head"] = {top: 1.0}
    else:  # head = f + k (f - thorax) = (1 + k) f - k thorax
        head = {f: (1.0 + k) / len(face) for f in face}
        head.update({ls: -k / 2.0, rs: -k / 2.0})
        r["head"] = head
    return r


@lru_cache(maxsize=32)
def _tables(
    layout: Skeleton, k: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Dense matrix ``(17, J)``, padded source indices / weights ``(17, S)``, synthesised mask."""
    recipe = _recipe(layout, k)
    w = torch.zeros(17, layout.num_joints, dtype=torch.float64)
    width = max(len(v) for v in recipe.values())
    idx = torch.zeros(17, width, dtype=torch.long)
    wt = torch.zeros(17, width, dtype=torch.float64)
    for h, sources in recipe.items():
        row = H36M17.index(h)
        items = [(layout.index(s), weight) for s, weight in sources.items()]
        # Padding repeats the first source with weight 0, so a NaN in an *unused* source joint
        # cannot leak into this joint (and the min-confidence is unchanged).
        items += [(items[0][0], 0.0)] * (width - len(items))
        for col, (j, weight) in enumerate(items):
            idx[row, col] = j
            wt[row, col] = weight
            w[row, j] += weight
    return w, idx, wt, (w != 0).sum(dim=1) > 1


def conversion_matrix(
    layout: Union[str, Skeleton], head_extension: float = DEFAULT_HEAD_EXTENSION
) -> torch.Tensor:
    """The ``(17, J)`` float64 weight matrix ``W`` with ``h36m = W @ keypoints`` (rows sum to 1).

    Args:
        layout: Source layout (name or :class:`~skelcl.skeleton.Skeleton`).
        head_extension: ``k`` of the eyes/ears head rule (layouts without a head top).
    """
    return _tables(get_layout(layout), float(head_extension))[0].clone()


def convert_to_h36m17(
    keypoints: TensorLike,
    layout: Union[str, Skeleton],
    confidence: Optional[TensorLike] = None,
    *,
    head_extension: float = DEFAULT_HEAD_EXTENSION,
) -> H36MConversion:
    """Convert keypoints of another layout to H36M-17 with the midpoint rule (module docs).

    Args:
        keypoints: ``(..., J, C)`` points of ``layout`` (``C`` = 2 or 3; any units; numpy or
            torch; any leading batch shape).
        layout: Source layout: ``"coco17"``, ``"body25"``, ``"body25b"``, ``"mpi_inf_3dhp17"``,
            ``"h36m17"`` or the matching :class:`~skelcl.skeleton.Skeleton`.
        confidence: Optional ``(..., J)`` per-joint confidences (same leading shape).
        head_extension: ``k`` of ``head = f + k (f - thorax)`` for COCO-17 / BODY_25.

    Returns:
        :class:`H36MConversion` with ``keypoints (..., 17, C)``, ``confidence (..., 17)`` or
        ``None`` (synthesised joints get the minimum confidence of their sources), and
        ``synthesized (17,)`` bool.

    Raises:
        ValueError: Unknown/unsupported layout, ``J`` not matching the layout, ``C`` not 2 or 3,
            or a confidence shape that does not match.
    """
    sk = get_layout(layout)
    x = as_tensor(keypoints, "keypoints")
    check_shape(x, "keypoints", (sk.num_joints, None))
    if x.shape[-1] not in (2, 3):
        raise ValueError(f"keypoints: expected shape (..., {sk.num_joints}, 2 or 3), "
                         f"got {tuple(x.shape)}")
    _, idx, wt64, synth = _tables(sk, float(head_extension))
    idx = idx.to(x.device)
    wt = wt64.to(dtype=x.dtype, device=x.device)
    out = (x[..., idx, :] * wt.unsqueeze(-1)).sum(dim=-2)  # (..., 17, C)
    conf_out = None
    if confidence is not None:
        c = as_tensor(confidence, "confidence")
        if c.shape != x.shape[:-1]:
            raise ValueError(f"confidence: expected shape {tuple(x.shape[:-1])} (keypoints "
                             f"without the last dim), got {tuple(c.shape)}")
        conf_out = c[..., idx.to(c.device)].amin(dim=-1)  # (..., 17)
    return H36MConversion(out, conf_out, synth.clone())
