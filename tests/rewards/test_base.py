"""RewardFunction: TRL calling convention, capability gating, crash/timeout isolation, stats."""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from balancedbio.rewards.base import RewardFunction, completion_text, row_capabilities


def _length(text: str, row: Mapping[str, Any]) -> float:
    return float(len(text))


def _boom_on_bad(text: str, row: Mapping[str, Any]) -> float:
    if "bad" in text:
        raise ValueError("cannot grade this")
    return 1.0


def _slow_on_slow(text: str, row: Mapping[str, Any]) -> float:
    if "slow" in text:
        time.sleep(5)
    return 1.0


def test_completion_text_both_formats() -> None:
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "conv"}]) == "conv"
    assert completion_text({"role": "assistant", "content": "one"}) == "one"
    parts = [
        {
            "role": "assistant",
            "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
        }
    ]
    assert completion_text(parts) == "ab"
    mixed = [{"role": "tool", "content": "ignored"}, {"role": "assistant", "content": "kept"}]
    assert completion_text(mixed) == "kept"
    assert completion_text(None) == ""


def test_call_with_string_and_conversational_completions() -> None:
    reward = RewardFunction("length", _length)
    assert reward.__name__ == "length"
    assert reward(["ab", "abcd"]) == [2.0, 4.0]
    conv = [[{"role": "assistant", "content": "abc"}], [{"role": "assistant", "content": ""}]]
    assert reward(conv) == [3.0, 0.0]


def test_trl_calling_convention() -> None:
    """Called exactly as trl 1.16 GRPOTrainer._calculate_rewards does (no trainer built)."""
    seen: list[Mapping[str, Any]] = []

    def score(text: str, row: Mapping[str, Any]) -> float:
        seen.append(dict(row))
        return 1.0 if text.strip() == row["answer"] else 0.0

    reward = RewardFunction("match", score)
    prompts = [[{"role": "user", "content": "q1"}], [{"role": "user", "content": "q2"}]]
    completions = [[{"role": "assistant", "content": "B"}], [{"role": "assistant", "content": "A"}]]
    metrics: dict[str, list[float]] = {}
    out = reward(
        prompts=prompts,
        completions=completions,
        completion_ids=[[1, 2], [3]],
        answer=["B", "B"],
        capability=["knowledge", "knowledge"],
        trainer_state=None,
        log_extra=lambda column, values: None,
        log_metric=lambda name, value: metrics.setdefault(name, []).append(value),
    )
    assert out == [1.0, 0.0]
    assert seen[0]["answer"] == "B" and seen[0]["prompt"] == prompts[0]
    assert "trainer_state" not in seen[0] and "completion_ids" not in seen[0]


def test_capability_gating_returns_none_not_zero() -> None:
    reward = RewardFunction("len", _length, capabilities={"knowledge"})
    out = reward(
        ["aa", "bbb", "c", "dddd", "ee"],
        capability=["knowledge", "instruction", None, ["reasoning", "knowledge"], ["reasoning"]],
    )
    assert out == [2.0, None, 1.0, 4.0, None]  # untagged rows are scored
    stats = reward.stats()
    assert stats["not_applicable"] == 2 and stats["none_count"] == 2 and stats["errors"] == 0
    assert RewardFunction("all", _length)(["x"], capability=["instruction"]) == [1.0]
    assert row_capabilities(("a", "b")) == frozenset({"a", "b"})


def test_crash_is_isolated_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    reward = RewardFunction("crashy", _boom_on_bad)
    with caplog.at_level(logging.WARNING, logger="balancedbio.rewards.base"):
        out = reward(["good", "bad input " + "x" * 1000, "good"], answer=["A", "B", "C"])
    assert out == [1.0, None, 1.0]
    assert reward.stats() == {
        "calls": 1,
        "samples": 3,
        "errors": 1,
        "timeouts": 0,
        "none_count": 1,
        "not_applicable": 0,
    }
    [record] = [r for r in caplog.records if "crashy" in r.getMessage()]
    message = record.getMessage()
    assert "ValueError" in message and "cannot grade this" in message
    assert "bad input" in message and "'B'" in message  # the offending input is shown
    assert "more chars" in message  # ... truncated
    assert len(message) < 1000


def test_non_finite_score_is_an_error() -> None:
    reward = RewardFunction("nan", lambda text, row: float("nan"))
    assert reward(["x"]) == [None]
    assert reward.stats()["errors"] == 1


def test_scorer_none_is_counted_not_an_error() -> None:
    reward = RewardFunction("maybe", lambda text, row: None)
    assert reward(["x", "y"]) == [None, None]
    stats = reward.stats()
    assert stats["none_count"] == 2 and stats["errors"] == 0


def test_slow_scorer_times_out_main_thread(caplog: pytest.LogCaptureFixture) -> None:
    reward = RewardFunction("slow", _slow_on_slow, timeout_s=0.2)
    start = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="balancedbio.rewards.base"):
        out = reward(["fast", "slow", "fast"])
    assert time.monotonic() - start < 2.0
    assert out == [1.0, None, 1.0]
    assert reward.stats()["timeouts"] == 1 and reward.stats()["errors"] == 0
    assert any("timed out" in r.getMessage() for r in caplog.records)
    # the alarm is disarmed and no handler is left behind
    import signal

    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None)


def test_slow_scorer_times_out_in_worker_thread() -> None:
    reward = RewardFunction("slow", _slow_on_slow, timeout_s=0.2)
    results: list[list[float | None]] = []
    worker = threading.Thread(target=lambda: results.append(reward(["slow", "fast"])))
    start = time.monotonic()
    worker.start()
    worker.join(5)
    assert time.monotonic() - start < 2.0
    assert results == [[None, 1.0]]
    assert reward.stats()["timeouts"] == 1


def test_exception_in_worker_thread_is_an_error() -> None:
    reward = RewardFunction("crashy", _boom_on_bad, timeout_s=1.0)
    results: list[list[float | None]] = []
    worker = threading.Thread(target=lambda: results.append(reward(["bad", "good"])))
    worker.start()
    worker.join(5)
    assert results == [[None, 1.0]] and reward.stats()["errors"] == 1


def test_pop_stats_resets_and_pickles() -> None:
    reward = RewardFunction("len", _length)
    reward(["a", "b"])
    reward(["c"])
    assert reward.pop_stats()["calls"] == 2
    assert reward.stats() == dict.fromkeys(reward.stats(), 0)
    clone = pickle.loads(pickle.dumps(reward))
    assert clone(["abc"]) == [3.0] and clone.__name__ == "len"
    assert reward.score_text("abcd") == 4.0


def test_importing_rewards_does_not_import_torch_or_trl() -> None:
    code = (
        "import sys, balancedbio.rewards.registry, balancedbio.rewards.calculators;"
        "bad = [m for m in ('torch', 'trl', 'transformers') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_trl_sees_a_named_sync_reward() -> None:
    """trl's own helpers name the reward by ``__name__`` and call it synchronously."""
    trl_utils = pytest.importorskip("trl.trainer.utils")  # imports torch: a few seconds
    reward = RewardFunction("mcq_accuracy", _length)
    assert trl_utils.get_callable_name(reward) == "mcq_accuracy"
    assert not trl_utils.is_async_callable(reward)
