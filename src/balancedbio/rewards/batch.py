"""Batched rewards: score all applicable samples of a call at once (a model-based reward).

A reward model is far cheaper per sample in one padded forward pass than in ``n`` single
ones, so :class:`BatchRewardFunction` hands the whole gated batch to a ``score_batch``
callable. It keeps every rule of :class:`~balancedbio.rewards.base.RewardFunction`:
capability gating (``None`` where not applicable), ``None`` for non-finite values, stats,
and crash isolation -- if the batch scorer raises (or returns the wrong number of values)
the call falls back to per-sample scoring, so one bad sample yields ``None`` only for
itself. The per-sample path keeps the spec's ``timeout_s``; the batch call has none (a model
forward cannot be interrupted from Python anyway).

:func:`balancedbio.rewards.registry.build_reward` builds one whenever the registered
factory returns a scorer with a callable ``score_batch(texts, rows)`` attribute.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from balancedbio.rewards.base import (
    _STAT_KEYS,
    RewardFunction,
    ScoreFn,
    completion_text,
    row_columns,
)

logger = logging.getLogger(__name__)

#: Batch scoring function: (completion texts, rows of dataset columns) -> one score each.
BatchScoreFn = Callable[[Sequence[str], Sequence[Mapping[str, Any]]], Sequence[Any]]


class BatchRewardFunction(RewardFunction):
    """A :class:`RewardFunction` whose applicable samples are scored in one batch call.

    ``score`` is the per-sample fallback (also used by :meth:`score_text`); ``score_batch``
    scores a list of texts with their rows and returns one value (or ``None``) per text.
    """

    def __init__(
        self,
        name: str,
        score: ScoreFn,
        score_batch: BatchScoreFn,
        *,
        capabilities: Iterable[str] = (),
        weight: float = 1.0,
        timeout_s: float | None = 10.0,
    ) -> None:
        super().__init__(name, score, capabilities=capabilities, weight=weight, timeout_s=timeout_s)
        self.score_batch = score_batch

    def __repr__(self) -> str:
        return "Batch" + super().__repr__()

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        n = len(completions)
        prompts = kwargs.get("prompts")
        columns = row_columns(n, kwargs)
        counts = dict.fromkeys(_STAT_KEYS, 0)
        texts, rows = [], []
        for i, completion in enumerate(completions):
            row = {k: v[i] for k, v in columns.items()}
            if prompts is not None and len(prompts) == n:
                row.setdefault("prompt", prompts[i])
            texts.append(completion_text(completion))
            rows.append(row)
        out: list[float | None] = [None] * n
        todo = []
        for i, row in enumerate(rows):
            if self.applies_to(row):
                todo.append(i)
            else:
                counts["not_applicable"] += 1
        if todo:
            values = self._batch([texts[i] for i in todo], [rows[i] for i in todo])
            if values is None:  # the batch failed: isolate the culprit(s) sample by sample
                for i in todo:
                    out[i] = self._score_one(texts[i], rows[i], i, counts)
            else:
                for i, value in zip(todo, values, strict=True):
                    out[i] = self._finite(value, i, texts[i], counts)
        counts["none_count"] = sum(v is None for v in out)
        counts["calls"], counts["samples"] = 1, n
        with self._lock:
            for key, count in counts.items():
                self._stats[key] += count
        return out

    def _batch(self, texts: list[str], rows: list[dict[str, Any]]) -> list[Any] | None:
        """The batch scorer's values, or None (logged) when it raised or miscounted."""
        try:
            values = list(self.score_batch(texts, rows))
            if len(values) != len(texts):
                raise ValueError(f"score_batch returned {len(values)} values for {len(texts)}")
            return values
        except Exception as exc:
            logger.warning(
                "reward %s: batch of %d raised %s: %s; scoring sample by sample",
                self.name,
                len(texts),
                type(exc).__name__,
                exc,
            )
            return None

    def _finite(self, value: Any, index: int, text: str, counts: dict[str, int]) -> float | None:
        if value is None:
            return None
        try:
            score = float(value)
            if not math.isfinite(score):
                raise ValueError(f"non-finite score {value!r}")
            return score
        except (TypeError, ValueError) as exc:
            counts["errors"] += 1
            logger.warning(
                "reward %s: sample %d scored %r (%s); completion=%.300r",
                self.name,
                index,
                value,
                exc,
                text,
            )
            return None
