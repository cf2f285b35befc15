"""The :class:`Skeleton` type: joint names, kinematic tree, left/right symmetry and body parts."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Iterable, Mapping, Sequence

__all__ = ["Skeleton"]

#: Body-part groups every built-in layout defines (``"limbs"`` is derived from the four limbs).
BODY_PARTS: tuple[str, ...] = ("left_arm", "right_arm", "left_leg", "right_leg", "torso", "head")


@dataclass(frozen=True, repr=False)
class Skeleton:
    """An immutable joint layout: names, kinematic tree, left/right pairs and body-part groups.

    Instances are hashable and compare by value. Lists passed to the constructor are converted
    to tuples, and the layout is validated on construction.

    Args:
        name: Short identifier of the layout, e.g. ``"h36m17"``.
        names: Joint names, one per joint, unique; joint ``i`` of a pose array ``(..., J, C)``
            is ``names[i]``.
        parents: Parent index of every joint; exactly one joint (the root) has ``-1``. Following
            parents from any joint must reach the root (the parents form a tree). Parents need
            not precede their children.
        left_right_pairs: ``(left, right)`` joint-index pairs that swap under a horizontal flip.
            A joint appears in at most one pair; joints in no pair map to themselves.
        body_parts: ``(group_name, joint_indices)`` items, e.g. ``("left_arm", (11, 12, 13))``.
            Built-in layouts define ``"left_arm"``, ``"right_arm"``, ``"left_leg"``,
            ``"right_leg"``, ``"torso"`` and ``"head"``; the property :attr:`groups` adds
            ``"limbs"``, the union of the four limbs (the default occludable joints of the
            masking augmenters).

    Raises:
        ValueError: If names are not unique, the parents do not form a single tree, or a pair
            or group refers to an invalid joint.

    Example:
        >>> from skelcl.skeleton import Skeleton
        >>> sk = Skeleton("chain", names=("root", "a", "b"), parents=(-1, 0, 1))
        >>> sk.num_joints, sk.root, sk.bones()
        (3, 0, [(1, 0), (2, 1)])
    """

    name: str
    names: tuple[str, ...]
    parents: tuple[int, ...]
    left_right_pairs: tuple[tuple[int, int], ...] = ()
    body_parts: tuple[tuple[str, tuple[int, ...]], ...] = ()

    def __post_init__(self) -> None:
        # Normalise containers to tuples so the instance is truly immutable and hashable.
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "parents", tuple(_as_int(p, "parents") for p in self.parents))
        object.__setattr__(
            self,
            "left_right_pairs",
            tuple((_as_int(a, "left_right_pairs"), _as_int(b, "left_right_pairs"))
                  for a, b in self.left_right_pairs),
        )
        object.__setattr__(
            self,
            "body_parts",
            tuple((str(g), tuple(_as_int(i, "body_parts") for i in idx))
                  for g, idx in self.body_parts),
        )
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name: expected a non-empty string, got {self.name!r}")
        j = len(self.names)
        if j == 0:
            raise ValueError("names: expected at least one joint, got none")
        if len(set(self.names)) != j:
            dup = sorted({n for n in self.names if self.names.count(n) > 1})
            raise ValueError(f"names: expected unique joint names, duplicates {dup}")
        if len(self.parents) != j:
            raise ValueError(
                f"parents: expected {j} entries (one per name), got {len(self.parents)}"
            )
        roots = [i for i, p in enumerate(self.parents) if p == -1]
        if len(roots) != 1:
            raise ValueError(f"parents: expected exactly one root (-1), got roots at {roots}")
        for i, p in enumerate(self.parents):
            if p != -1 and not 0 <= p < j:
                raise ValueError(f"parents: joint {i} has parent {p}, outside [0, {j})")
            if p == i:
                raise ValueError(f"parents: joint {i} is its own parent")
        for i in range(j):  # every joint must reach the root within j steps (no cycles)
            k, steps = i, 0
            while self.parents[k] != -1:
                k = self.parents[k]
                steps += 1
                if steps > j:
                    raise ValueError(f"parents: joint {i} ({self.names[i]}) is on a cycle")
        seen: set[int] = set()
        for a, b in self.left_right_pairs:
            for x in (a, b):
                if not 0 <= x < j:
                    raise ValueError(f"left_right_pairs: index {x} outside [0, {j})")
            if a == b:
                raise ValueError(f"left_right_pairs: pair ({a}, {b}) pairs a joint with itself")
            if a in seen or b in seen:
                raise ValueError(f"left_right_pairs: joint of pair ({a}, {b}) is in two pairs")
            seen.update((a, b))
        group_names = [g for g, _ in self.body_parts]
        if len(set(group_names)) != len(group_names):
            raise ValueError(f"body_parts: duplicate group names in {group_names}")
        if "limbs" in group_names:
            raise ValueError("body_parts: 'limbs' is derived automatically; do not define it")
        for g, idx in self.body_parts:
            if not g:
                raise ValueError("body_parts: group names must be non-empty strings")
            if len(set(idx)) != len(idx):
                raise ValueError(f"body_parts: group {g!r} repeats a joint: {idx}")
            for x in idx:
                if not 0 <= x < j:
                    raise ValueError(f"body_parts: group {g!r} has index {x} outside [0, {j})")

    def __repr__(self) -> str:
        return (f"Skeleton(name={self.name!r}, num_joints={self.num_joints}, "
                f"root={self.names[self.root]!r})")

    # ------------------------------------------------------------------ properties
    @property
    def num_joints(self) -> int:
        """Number of joints ``J``."""
        return len(self.names)

    @property
    def root(self) -> int:
        """Index of the root joint (the one whose parent is ``-1``)."""
        return self.parents.index(-1)

    @cached_property
    def flip_permutation(self) -> tuple[int, ...]:
        """Joint permutation of a horizontal flip: ``flipped[..., i, :] = pose[..., perm[i], :]``.

        It swaps every ``(left, right)`` pair and fixes the other joints; it is an involution.
        """
        perm = list(range(self.num_joints))
        for a, b in self.left_right_pairs:
            perm[a], perm[b] = b, a
        return tuple(perm)

    @cached_property
    def groups(self) -> Mapping[str, tuple[int, ...]]:
        """Read-only mapping from body-part name to sorted joint indices.

        Contains every group of :attr:`body_parts` plus ``"limbs"``: the sorted union of
        ``left_arm``, ``right_arm``, ``left_leg`` and ``right_leg`` (those present).
        """
        d = {g: tuple(sorted(idx)) for g, idx in self.body_parts}
        limbs: set[int] = set()
        for g in ("left_arm", "right_arm", "left_leg", "right_leg"):
            limbs.update(d.get(g, ()))
        d["limbs"] = tuple(sorted(limbs))
        return MappingProxyType(d)

    # ------------------------------------------------------------------ methods
    def index(self, name: str) -> int:
        """Index of the joint called ``name``.

        Raises:
            KeyError: If the layout has no such joint (the message lists the valid names).
        """
        try:
            return self.names.index(name)
        except ValueError:
            raise KeyError(
                f"{self.name}: no joint {name!r}; joints are {list(self.names)}"
            ) from None

    def indices(self, names: Iterable[str]) -> tuple[int, ...]:
        """Indices of several joints, in the order given."""
        return tuple(self.index(n) for n in names)

    def bones(self) -> list[tuple[int, int]]:
        """``(child, parent)`` pairs for every non-root joint, in joint order (``J - 1`` bones)."""
        return [(i, p) for i, p in enumerate(self.parents) if p != -1]

    def children(self, joint: int) -> tuple[int, ...]:
        """Indices of the joints whose parent is ``joint``."""
        return tuple(i for i, p in enumerate(self.parents) if p == joint)

    def group(self, name: str) -> tuple[int, ...]:
        """Joint indices of body part ``name`` (see :attr:`groups`).

        Raises:
            KeyError: If the group does not exist (the message lists the valid groups).
        """
        try:
            return self.groups[name]
        except KeyError:
            raise KeyError(
                f"{self.name}: no body part {name!r}; groups are {sorted(self.groups)}"
            ) from None


def _as_int(x: object, field: str) -> int:
    if isinstance(x, bool) or not hasattr(x, "__index__"):
        raise TypeError(f"{field}: expected integer joint indices, got {x!r}")
    return int(x)  # type: ignore[call-overload]


def _pairs_by_prefix(names: Sequence[str], left: str, right: str) -> tuple[tuple[int, int], ...]:
    """Pair ``left + X`` with ``right + X`` for every name that starts with ``left``."""
    out = []
    for i, n in enumerate(names):
        if n.startswith(left):
            partner = right + n[len(left):]
            if partner in names:
                out.append((i, list(names).index(partner)))
    return tuple(out)
