"""The deterministic seed stream: which entity each item is built from, in which order.

* **Split.** Every seed entity (disease, ICD code, calculator, MONDO term, document passage,
  record) is assigned to ``train`` or ``eval`` by a salted hash of its split key
  (:func:`split_of`); a run draws only from its split's entities, so a held-out set and a
  training set made with the same salt never share a seed entity. The key groups
  near-identical entities: an ICD-10-CM code splits with its block, a numbered disease
  series ("... type 2", "... 3") with its stem.
* **Order.** Task ``t`` with ``n_t`` seeds places its ``k``-th seed at ``(k + 0.5) / n_t``;
  all seeds sorted by that position (ties by task order) interleave the tasks evenly, so
  any prefix of the stream (a resumed or truncated run) is a balanced mix.
* **Entities.** Task ``t``'s pool (its split's part) is shuffled once with a seed derived
  from ``(seed, t)``; the ``k``-th seed takes entity ``k mod len(pool)`` (pools smaller
  than the seed count cycle, with fresh randomness per seed).
* **Randomness.** Seed ``(t, k)`` gets its own ``rng_seed`` from ``(seed, t, k)``, so an
  item depends only on its seed, never on what was generated before it (resume-safe).
* **Shards.** ``--shard i/n`` keeps global positions ``j`` with ``j % n == i``: machines
  split one stream without coordination and item ids (``<split>-<task>-<j>``) stay unique.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import xxhash

from balancedbio.data.config import TASKS


def _hash(*parts: object) -> int:
    return xxhash.xxh64_intdigest(":".join(map(str, parts)).encode("utf-8"))


def split_of(entity: str, salt: str, eval_fraction: float) -> str:
    """``"eval"`` for a ``eval_fraction`` share of entities (by salted hash), else ``"train"``."""
    if eval_fraction <= 0:
        return "train"
    return "eval" if _hash(salt, entity) / 2**64 < eval_fraction else "train"


@dataclass(frozen=True)
class Seed:
    """One unit of work: build one item of ``task`` from ``entity``."""

    index: int  # global position in the stream
    task: str
    entity: str
    ordinal: int  # k: this is the task's k-th seed
    rng_seed: int
    split: str
    source: str

    @property
    def capability(self) -> str:
        return TASKS[self.task]

    @property
    def id(self) -> str:
        return f"{self.split}-{self.task}-{self.index:07d}"

    def rng(self) -> random.Random:
        return random.Random(self.rng_seed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"id": self.id}


def split_pool(
    pool: Sequence[str],
    split: str,
    salt: str,
    eval_fraction: float,
    key: Callable[[str], str] | None = None,
) -> list[str]:
    """The part of ``pool`` belonging to ``split``; ``key`` maps an entity to the unit that
    is partitioned (e.g. an ICD-10-CM code to its block, so sibling codes never straddle)."""
    key = key or (lambda e: e)
    return [e for e in pool if split_of(key(e), salt, eval_fraction) == split]


def seed_stream(
    tasks: Mapping[str, int],
    pools: Mapping[str, Sequence[str]],
    sources: Mapping[str, str],
    *,
    seed: int,
    split: str,
    shard: tuple[int, int] = (0, 1),
) -> Iterator[Seed]:
    """The seeds of one shard, in stream order (see the module docstring).

    ``pools`` hold each task's entities *already restricted to the split*; a task with an
    empty pool is skipped (the caller reports it). ``sources`` maps task -> source name.
    """
    order = list(TASKS)
    slots: list[tuple[float, int, str, int]] = []
    for task, n in tasks.items():
        if n > 0 and pools.get(task):
            rank = order.index(task)
            slots += [((k + 0.5) / n, rank, task, k) for k in range(n)]
    slots.sort()
    shuffled: dict[str, list[str]] = {}
    for task in {s[2] for s in slots}:
        entities = list(pools[task])
        random.Random(_hash("pool", seed, task)).shuffle(entities)
        shuffled[task] = entities
    i, n = shard
    for index, (_, _, task, k) in enumerate(slots):
        if index % n != i:
            continue
        entities = shuffled[task]
        yield Seed(
            index=index,
            task=task,
            entity=entities[k % len(entities)],
            ordinal=k,
            rng_seed=_hash("seed", seed, task, k),
            split=split,
            source=sources.get(task, ""),
        )


__all__ = ["Seed", "seed_stream", "split_of", "split_pool"]
