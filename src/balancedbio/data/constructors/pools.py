"""Distractor pools from the ontology hierarchy: sorted children, siblings and cousins.

The broad classes that knowledge MCQs draw distractors from have hundreds to thousands of
members and recur across seeds, so their member lists (sorted, as the draws need them) are
memoized per graph.
"""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from balancedbio.data.constructors.base import shuffle

if TYPE_CHECKING:
    import random


def related(kg: Any, x: str, rng: random.Random, limit: int = 40) -> list[str]:
    """Siblings of ``x``, then cousins (children of its parents' siblings), shuffled."""
    parents = kg.parents(x)
    sibs = [s for s in sorted_below(kg, parents, 1) if s != x]
    shuffle(rng, sibs)
    if len(sibs) >= limit:
        return sibs[:limit]
    grand = tuple(sorted({g for p in parents for g in kg.parents(p)}))
    near = set(sibs)
    cousins = [c for c in sorted_below(kg, grand, 2) if c not in near and c != x]
    shuffle(rng, cousins)
    return sibs + cousins[: limit - len(sibs)]


_BELOW: weakref.WeakKeyDictionary[Any, dict[tuple[str, int], frozenset[str]]] = (
    weakref.WeakKeyDictionary()
)
_SORTED_CHILDREN: weakref.WeakKeyDictionary[Any, dict[str, tuple[str, ...]]] = (
    weakref.WeakKeyDictionary()
)
_SORTED_BELOW: weakref.WeakKeyDictionary[
    Any, dict[tuple[tuple[str, ...], int], tuple[str, ...]]
] = weakref.WeakKeyDictionary()


def sorted_children(kg: Any, node: str) -> tuple[str, ...]:
    """``tuple(sorted(kg.children(node)))``, memoized per graph: MCQs draw distractors from
    the children of the same broad classes again and again."""
    memo = _SORTED_CHILDREN.setdefault(kg, {})
    got = memo.get(node)
    if got is None:
        got = memo[node] = tuple(sorted(kg.children(node)))
    return got


def sorted_below(kg: Any, nodes: tuple[str, ...], depth: int) -> tuple[str, ...]:
    """Sorted union of :func:`_below` over ``nodes``, memoized per graph (sorting a broad
    class's thousands of members once, not per seed)."""
    memo = _SORTED_BELOW.setdefault(kg, {})
    got = memo.get((nodes, depth))
    if got is None:
        members = frozenset().union(*(_below(kg, n, depth) for n in nodes))
        got = memo[(nodes, depth)] = tuple(sorted(members))
    return got


def _below(kg: Any, node: str, depth: int) -> frozenset[str]:
    """Children (``depth=1``) or grandchildren (2) of ``node``, memoized per graph: broad
    classes have thousands, and definition MCQs ask for the same classes again and again."""
    memo = _BELOW.setdefault(kg, {})
    got = memo.get((node, depth))
    if got is None:
        kids = frozenset(kg.children(node))
        if depth > 1:
            kids = frozenset().union(*(_below(kg, k, depth - 1) for k in kids))
        got = memo[(node, depth)] = kids
    return got


__all__ = ["related", "sorted_below", "sorted_children"]
