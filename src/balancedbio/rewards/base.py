"""Reward functions: TRL-compatible callables with capability gating, crash isolation and stats.

A reward is a plain callable ``reward(completions, **columns) -> list[float | None]``, the
convention of ``trl.GRPOTrainer`` (1.16): ``completions`` are strings or, for conversational
data, lists of messages; every dataset column arrives as a list with one value per
completion, next to ``prompts``, ``completion_ids``, ``trainer_state``, ``log_extra``,
``log_metric`` (and ``environments``), which are ignored here.

``None`` means "no reward for this sample" (TRL turns it into NaN and the weighted sum
skips it); it is never a disguised 0. A sample gets ``None`` when

* its ``capability`` column does not intersect the reward's capabilities (not applicable),
* the scorer returns ``None`` (nothing to grade against),
* the scorer raises, returns a non-finite value, or runs past ``timeout_s``: these are
  counted (``errors`` / ``timeouts``) and logged with the offending input.

Timeouts: on the main thread of a POSIX process the scorer runs under
``signal.setitimer(ITIMER_REAL)``, whose ``SIGALRM`` raises inside the scorer and really
stops it (the previous handler and timer are restored; if another timer is already armed
the thread fallback is used). Elsewhere (worker threads, Windows) the scorer runs in a
daemon thread joined with a timeout: the caller gets ``None`` in time, but the abandoned
thread runs on until it finishes. Neither can interrupt a long C call that holds the GIL
(e.g. a catastrophic regex); scorers must stay linear-time.
"""

from __future__ import annotations

import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

logger = logging.getLogger(__name__)

#: Per-sample scoring function: (completion text, row of dataset columns) -> score or None.
ScoreFn = Callable[[str, Mapping[str, Any]], float | bool | None]

#: Keyword arguments TRL passes that are not dataset columns.
TRAINER_KWARGS = frozenset(
    {"prompts", "completion_ids", "trainer_state", "log_extra", "log_metric", "environments"}
)
CAPABILITY_COLUMN = "capability"
_STAT_KEYS = ("calls", "samples", "errors", "timeouts", "none_count", "not_applicable")
_LOG_CHARS = 300


class ScoreTimeout(BaseException):
    """A scorer ran past its time limit (a BaseException so a scorer's ``except Exception``
    cannot swallow it)."""


def completion_text(completion: Any) -> str:
    """Text of one completion: a string, a message dict, or a list of messages.

    For a message list the assistant messages are joined (all messages if none has a
    role); multimodal content lists contribute their ``text`` parts.
    """
    if completion is None:
        return ""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        return _content_text(completion.get("content"))
    if isinstance(completion, Sequence):
        messages = [m for m in completion if isinstance(m, Mapping)]
        if not messages:
            return "".join(completion_text(m) for m in completion)
        chosen = [m for m in messages if m.get("role") == "assistant"] or messages
        return "\n".join(_content_text(m.get("content")) for m in chosen)
    return str(completion)


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for part in content:
            if isinstance(part, Mapping):
                if part.get("type", "text") == "text":
                    parts.append(str(part.get("text", "")))
            else:
                parts.append(str(part))
        return "".join(parts)
    return str(content)


def row_capabilities(value: Any) -> frozenset[str] | None:
    """The capabilities a row is tagged with; None when the row carries no tag."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, Iterable):
        return frozenset(str(v) for v in value)
    return frozenset({str(value)})


def _truncate(value: Any, limit: int = _LOG_CHARS) -> str:
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}...<{len(text) - limit} more chars>"


def row_columns(n: int, kwargs: Mapping[str, Any]) -> dict[str, Sequence[Any]]:
    """The dataset columns among TRL's reward kwargs: per-row sequences of length ``n``."""
    return {
        k: v
        for k, v in kwargs.items()
        if k not in TRAINER_KWARGS and isinstance(v, Sequence) and not isinstance(v, str)
        if len(v) == n
    }


class RewardFunction:
    """Wrap a per-sample scorer into a TRL reward function with gating, isolation and stats.

    ``capabilities`` empty means "applies to every row"; a row without a ``capability``
    value is always scored. ``weight`` is carried for the trainer (``reward_weights``).
    """

    def __init__(
        self,
        name: str,
        score: ScoreFn,
        *,
        capabilities: Iterable[str] = (),
        weight: float = 1.0,
        timeout_s: float | None = 10.0,
    ) -> None:
        self.__name__ = name
        self.name = name
        self.score = score
        self.capabilities = frozenset(capabilities)
        self.weight = float(weight)
        self.timeout_s = timeout_s if timeout_s and timeout_s > 0 else None
        self._lock = threading.Lock()
        self._stats = dict.fromkeys(_STAT_KEYS, 0)
        self._logged_traceback = False

    def __repr__(self) -> str:
        caps = ",".join(sorted(self.capabilities)) or "all"
        return f"RewardFunction({self.name!r}, capabilities={caps}, weight={self.weight})"

    # Picklable (TRL may ship reward functions to other processes): drop the lock.
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ calling

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        n = len(completions)
        prompts = kwargs.get("prompts")
        columns = row_columns(n, kwargs)
        out: list[float | None] = []
        counts = dict.fromkeys(_STAT_KEYS, 0)
        for i, completion in enumerate(completions):
            row = {k: v[i] for k, v in columns.items()}
            if prompts is not None and len(prompts) == n:
                row.setdefault("prompt", prompts[i])
            value = self._score_one(completion_text(completion), row, i, counts)
            if value is None:
                counts["none_count"] += 1
            out.append(value)
        counts["calls"], counts["samples"] = 1, n
        with self._lock:
            for key, count in counts.items():
                self._stats[key] += count
        return out

    def applies_to(self, row: Mapping[str, Any]) -> bool:
        """Capability gating: does this reward apply to ``row``?"""
        if not self.capabilities:
            return True
        tags = row_capabilities(row.get(CAPABILITY_COLUMN))
        return tags is None or bool(tags & self.capabilities)

    def score_text(self, text: str, row: Mapping[str, Any] | None = None) -> float | None:
        """Score one text outside a trainer (validation, eval); same rules and stats."""
        return self([text], **{k: [v] for k, v in (row or {}).items()})[0]

    def _score_one(
        self, text: str, row: dict[str, Any], index: int, counts: dict[str, int]
    ) -> float | None:
        if not self.applies_to(row):
            counts["not_applicable"] += 1
            return None
        try:
            value = _run_with_timeout(self.score, (text, row), self.timeout_s)
            if value is None:
                return None
            value = float(value)
            if not math.isfinite(value):
                raise ValueError(f"non-finite score {value!r}")
            return value
        except ScoreTimeout:
            counts["timeouts"] += 1
            logger.warning(
                "reward %s: sample %d timed out after %.3gs; completion=%s row=%s",
                self.name,
                index,
                self.timeout_s,
                _truncate(text),
                _truncate(row),
            )
        except Exception as exc:
            counts["errors"] += 1
            first = not self._logged_traceback
            self._logged_traceback = True
            logger.warning(
                "reward %s: sample %d raised %s: %s; completion=%s row=%s",
                self.name,
                index,
                type(exc).__name__,
                exc,
                _truncate(text),
                _truncate(row),
                exc_info=first,  # full traceback once per reward, then one line each
            )
        return None

    # ------------------------------------------------------------------ stats

    def stats(self) -> dict[str, int]:
        """Counts since creation or the last :meth:`pop_stats`."""
        with self._lock:
            return dict(self._stats)

    def pop_stats(self) -> dict[str, int]:
        """Return the counts and reset them (for per-logging-step metrics)."""
        with self._lock:
            stats, self._stats = dict(self._stats), dict.fromkeys(_STAT_KEYS, 0)
        return stats


# --------------------------------------------------------------------------- timeouts


def _run_with_timeout(fn: ScoreFn, args: tuple[Any, ...], timeout_s: float | None) -> Any:
    if timeout_s is None:
        return fn(*args)
    if _can_use_alarm():
        return _run_with_alarm(fn, args, timeout_s)
    return _run_in_thread(fn, args, timeout_s)


def _can_use_alarm() -> bool:
    return (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )


def _run_with_alarm(fn: ScoreFn, args: tuple[Any, ...], timeout_s: float) -> Any:
    def on_alarm(signum: int, frame: Any) -> None:
        raise ScoreTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout_s)
        try:
            return fn(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    finally:  # restored even if the alarm fires between return and disarm
        signal.signal(signal.SIGALRM, previous)


def _run_in_thread(fn: ScoreFn, args: tuple[Any, ...], timeout_s: float) -> Any:
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = fn(*args)
        except BaseException as exc:  # re-raised in the caller
            result["error"] = exc

    worker = threading.Thread(target=target, name="reward-score", daemon=True)
    start = time.monotonic()
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise ScoreTimeout(f"still running after {time.monotonic() - start:.3g}s")
    if "error" in result:
        raise result["error"]
    return result.get("value")
