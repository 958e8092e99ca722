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

import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import xxhash

from balancedbio.data.config import TASKS

_Random = random.Random


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


# --------------------------------------------------------------------------- draws
#
# CPython's ``random.Random`` methods, step for step, for a plain ``random.Random``: the same
# ``getrandbits`` draws give the same results and leave the generator in the same state, but
# without the Python-level ``_randbelow`` (and argument checking) frames per draw, which
# dominate the cost of the short draws constructors make. Other generators (subclasses,
# ``SystemRandom``) and unusual arguments go to the generator's own method.


def randbelow(rng: random.Random, n: int) -> int:
    """``rng._randbelow(n)`` (``n > 0``) for a plain ``random.Random``."""
    getrandbits = rng.getrandbits
    k = n.bit_length()
    r = getrandbits(k)
    while r >= n:
        r = getrandbits(k)
    return r


def randrange(rng: random.Random, stop: int) -> int:
    """``rng.randrange(stop)``."""
    if type(rng) is not _Random or type(stop) is not int or stop <= 0:
        return rng.randrange(stop)
    return randbelow(rng, stop)


def randint(rng: random.Random, a: int, b: int) -> int:
    """``rng.randint(a, b)``."""
    if type(rng) is not _Random or type(a) is not int or type(b) is not int or b < a:
        return rng.randint(a, b)
    return a + randbelow(rng, b - a + 1)


def choice(rng: random.Random, seq: Sequence[Any]) -> Any:
    """``rng.choice(seq)``."""
    if type(rng) is not _Random or not len(seq):
        return rng.choice(seq)
    return seq[randbelow(rng, len(seq))]


def sample(rng: random.Random, population: Sequence[Any], k: int) -> list[Any]:
    """``rng.sample(population, k)`` (a list or tuple population)."""
    n = len(population)
    if type(rng) is not _Random or type(population) not in (list, tuple) or not 0 <= k <= n:
        return rng.sample(population, k)
    result = [None] * k
    setsize = 21  # as in CPython: a pool copy when it is smaller than a k-entry set
    if k > 5:
        setsize += 4 ** math.ceil(math.log(k * 3, 4))
    if n <= setsize:
        pool = list(population)
        for i in range(k):
            j = randbelow(rng, n - i)
            result[i] = pool[j]
            pool[j] = pool[n - i - 1]
    else:
        selected: set[int] = set()
        for i in range(k):
            j = randbelow(rng, n)
            while j in selected:
                j = randbelow(rng, n)
            selected.add(j)
            result[i] = population[j]
    return result


def shuffle(rng: random.Random, items: list[Any]) -> None:
    """``rng.shuffle(items)`` (Fisher-Yates), ~2x faster on long lists: ``getrandbits`` is
    called directly, with one bit width per run of positions."""
    if type(rng) is not _Random:
        rng.shuffle(items)
        return
    getrandbits = rng.getrandbits
    top = len(items) - 1
    while top >= 63:  # long lists: runs of positions drawn with one bit width
        k = (top + 1).bit_length()
        low = (1 << (k - 1)) - 1
        for i in range(top, low - 1, -1):
            j = getrandbits(k)
            while j > i:
                j = getrandbits(k)
            items[i], items[j] = items[j], items[i]
        top = low - 1
    for i in range(top, 0, -1):
        k = (i + 1).bit_length()
        j = getrandbits(k)
        while j > i:
            j = getrandbits(k)
        items[i], items[j] = items[j], items[i]


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
        shuffle(random.Random(_hash("pool", seed, task)), entities)
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


__all__ = [
    "Seed",
    "choice",
    "randbelow",
    "randint",
    "randrange",
    "sample",
    "seed_stream",
    "shuffle",
    "split_of",
    "split_pool",
]
