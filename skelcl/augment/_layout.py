"""Resolving joint index sets from a :class:`~skelcl.skeleton.Skeleton` (internal)."""

from __future__ import annotations

from typing import Optional, Sequence, Union

from skelcl.skeleton import H36M17, Skeleton

JointSpec = Union[str, Sequence[int], None]


def resolve_joints(spec: JointSpec, skeleton: Optional[Skeleton], name: str) -> tuple[int, ...]:
    """``None`` -> the skeleton's ``"limbs"``; a string -> that group; else the given indices."""
    if spec is None or isinstance(spec, str):
        sk = skeleton if skeleton is not None else H36M17
        return sk.group("limbs" if spec is None else spec)
    idx = tuple(int(i) for i in spec)
    if len(set(idx)) != len(idx):
        raise ValueError(f"{name}: joint indices must be distinct, got {idx}")
    if any(i < 0 for i in idx):
        raise ValueError(f"{name}: joint indices must be >= 0, got {idx}")
    if skeleton is not None and any(i >= skeleton.num_joints for i in idx):
        raise ValueError(f"{name}: index outside [0, {skeleton.num_joints}) in {idx}")
    return idx
