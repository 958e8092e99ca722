"""Tiny-random GRPO runs for each trainer/weighting/aggregator combination that matters."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path

import fixtures
import pytest

from balancedbio.config import ConfigError, load_config
from balancedbio.training import (
    GRPO_ALIASES,
    GRPOStageConfig,
    ParetoConfig,
    read_metrics,
    train_grpo,
)
from balancedbio.training.pareto import ParetoCallback

CAPS = ("knowledge", "reasoning", "instruction")
COMMON_KEYS = {
    "loss",
    "grad_norm",
    "reward",
    "step_time",
    "perf/step_seconds",
    "perf/tokens_per_s",
    "perf/peak_rss_mb",
    "rewards/mcq_accuracy/mean",
    "reward_crashes/mcq_accuracy/errors",
    "reward_crashes/hash_instruction/timeouts",
}
AWARE_KEYS = {f"weights/capability_scale/{c}" for c in CAPS} | {"weights/reward/hash_knowledge"}
CONFLICT_KEYS = (
    {"conflict/rate", "conflict/step_has_conflict", "conflict/cos/knowledge__reasoning"}
    | {f"conflict/grad_norm/{c}" for c in CAPS}
    | {f"weights/capability/{c}" for c in CAPS}
)
PARETO_KEYS = {f"pareto/preservation/{c}" for c in CAPS} | {"pareto/any_below_floor"}


def _run(tmp_path: Path, tiny_model: str, *overrides: str) -> Path:
    cfg = load_config(
        GRPOStageConfig,
        None,
        [
            f"model={tiny_model}",
            "max_steps=2",
            "per_device_train_batch_size=12",
            "num_generations=4",
            "max_completion_length=8",
            "save_steps=2",
            "pareto.enabled=false",
            f"output_dir={tmp_path / 'run'}",
            *overrides,
        ],
    )
    rewards = fixtures.make_rewards() + fixtures.shaping_rewards()
    heldout = fixtures.build_rows(1, integrated=1, offset=30)
    return train_grpo(cfg, fixtures.build_rows(4, integrated=2), heldout, rewards)


def _check_run(run: Path, expected: set[str]) -> list[dict]:
    records = [r for r in read_metrics(run) if "loss" in r]
    assert [r["step"] for r in records] == [1, 2]
    for record in records:
        missing = expected - set(record)
        assert not missing, f"step {record['step']} lacks {sorted(missing)}"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["global_step"] == 2
    final = run / "final"
    assert (final / "adapter_model.safetensors").is_file() or (
        final / "model.safetensors"
    ).is_file()
    assert (run / "checkpoint-2" / "balancedbio_state.json").is_file()
    order = [json.loads(line) for line in (run / "data_order.jsonl").read_text().splitlines()]
    assert [o["step"] for o in order] == [1, 2] and all(len(o["ids"]) == 3 for o in order)
    return records


def test_vanilla_trl(tmp_path, tiny_model):
    run = _run(tmp_path, tiny_model, "trainer=vanilla", "weighting=fixed")
    records = _check_run(run, COMMON_KEYS)
    assert not any(k.startswith("conflict/") for k in records[-1])


def test_aware_fixed_sum_gating_only(tmp_path, tiny_model):
    run = _run(tmp_path, tiny_model, "weighting=fixed", "aggregator=sum")
    records = _check_run(run, COMMON_KEYS | AWARE_KEYS)
    assert not any(k.startswith("conflict/") for k in records[-1])  # one backward, no Jacobian


def test_aware_gdpo_upgrad_with_pareto(tmp_path, tiny_model):
    run = _run(
        tmp_path,
        tiny_model,
        "weighting=gdpo",
        "aggregator=upgrad",
        "pareto.enabled=true",
        "pareto.eval_every=2",
        "pareto.max_items=1",
    )
    records = _check_run(run, COMMON_KEYS | AWARE_KEYS | CONFLICT_KEYS)
    assert PARETO_KEYS <= set(records[-1])
    assert 0.0 <= records[-1]["conflict/rate"] <= 1.0
    norms = [records[-1][f"conflict/grad_norm/{c}"] for c in CAPS]
    assert any(n and n > 0 for n in norms)
    state = json.loads((run / "checkpoint-2" / "balancedbio_state.json").read_text())
    assert state["conflict"]["steps"] == 2 and state["pareto"]["initial"] is not None


def test_aware_dynamic_pcgrad_full_finetuning(tmp_path, tiny_model):
    run = _run(tmp_path, tiny_model, "weighting=dynamic", "aggregator=pcgrad", "lora.enabled=false")
    assert (run / "final" / "model.safetensors").is_file()
    records = _check_run(run, COMMON_KEYS | AWARE_KEYS | CONFLICT_KEYS)
    weights = [records[-1][f"weights/reward/hash_{c}"] for c in CAPS]
    assert all(w > 0 for w in weights)
    state = json.loads((run / "checkpoint-2" / "balancedbio_state.json").read_text())
    assert state["weights"]["stat_ema"] is not None


def test_aware_gradient_mgda(tmp_path, tiny_model):
    run = _run(tmp_path, tiny_model, "weighting=gradient", "aggregator=mgda")
    records = _check_run(run, COMMON_KEYS | AWARE_KEYS | CONFLICT_KEYS)
    weights = [records[-1][f"weights/capability/{c}"] for c in CAPS]
    active = [w for w in weights if w]
    assert active and math.isclose(sum(active), len(active), rel_tol=1e-3)  # EMA, sum = active
    state = json.loads((run / "checkpoint-2" / "balancedbio_state.json").read_text())
    assert state["weights"]["grad_ema"] is not None


# --------------------------------------------------------------------------- config and Pareto


def test_config_contract():
    cfg = load_config(
        GRPOStageConfig, None, ["model=tiny-random", "trainer=vanilla", "weighting=gdpo"]
    )
    assert cfg.model.name == "tiny-random" and cfg.trainer == "vanilla"
    assert not cfg.needs_jacobian
    assert GRPO_ALIASES["max_steps"] == "grpo.max_steps"
    with pytest.raises(ConfigError, match="valid: dynamic, fixed, gdpo, gradient"):
        load_config(GRPOStageConfig, None, ["weighting=magic"])
    with pytest.raises(ConfigError, match="trainer=vanilla supports"):
        load_config(GRPOStageConfig, None, ["trainer=vanilla", "weighting=dynamic"])
    with pytest.raises(ConfigError, match="aggregator=upgrad or aggregator=mgda"):
        load_config(GRPOStageConfig, None, ["weighting=gradient", "aggregator=sum"])
    with pytest.raises(ConfigError, match="multiple of num_generations"):
        load_config(GRPOStageConfig, None, ["per_device_train_batch_size=6", "num_generations=4"])
    assert load_config(
        GRPOStageConfig, None, ["aggregator=sum", "conflict_metrics=true"]
    ).needs_jacobian


def test_pareto_floor_warns_loudly_and_flags(caplog):
    rows = fixtures.build_rows(1, integrated=1)
    callback = ParetoCallback(
        ParetoConfig(floor=0.9, smoothing=0.0), rows, fixtures.make_rewards(), CAPS, None, 8
    )
    assert len(callback.rows) == 4  # one per capability + the integrated row

    class FakeTrainer:
        instant_metrics: dict = {}
        extra_state: dict = {}

    callback.bind(FakeTrainer())
    scores = iter(
        [
            {"knowledge": 0.8, "reasoning": 0.5, "instruction": 0.4},
            {"knowledge": 0.4, "reasoning": 0.5, "instruction": 0.6},
        ]
    )
    callback.scores = lambda model: next(scores)
    callback.evaluate(None, 0)
    with caplog.at_level(logging.WARNING):
        metrics = callback.evaluate(None, 10)
    assert metrics["pareto/preservation/knowledge"] == pytest.approx(0.5)
    assert metrics["pareto/below_floor/knowledge"] == 1.0
    assert metrics["pareto/below_floor/instruction"] == 0.0
    assert metrics["pareto/any_below_floor"] == 1.0
    assert "PARETO FLOOR BREACHED" in caplog.text and "knowledge" in caplog.text


def test_pareto_scores_with_the_training_verifiers():
    """Scoring a held-out answer: the same reward functions, gated per capability."""
    rows = [fixtures.knowledge_row(0), fixtures.reasoning_row(0)]
    callback = ParetoCallback(
        ParetoConfig(),
        rows,
        fixtures.make_rewards(),
        CAPS,
        None,
        8,
    )
    table = callback._score(rows, ["The answer is B", f"Answer: {rows[1]['answer']}"])
    assert table[0][0] == 1.0 and math.isnan(table[0][1])
    assert table[1][1] == 1.0 and math.isnan(table[1][0])


def _crash_on_odd(text: str, row: dict) -> float:
    """A buggy verifier: raises for every completion whose hash is odd."""
    if fixtures._hash_score(text, row) * 1000 % 2:
        raise RuntimeError("verifier bug")
    return 1.0


@pytest.mark.parametrize("trainer", ["vanilla", "capability_aware"])
def test_crashing_reward_does_not_stop_a_step_and_is_reported(tmp_path, tiny_model, trainer):
    from balancedbio.rewards.base import RewardFunction

    cfg = load_config(
        GRPOStageConfig,
        None,
        [
            f"model={tiny_model}",
            f"trainer={trainer}",
            "weighting=gdpo",
            "aggregator=sum",
            "max_steps=1",
            "per_device_train_batch_size=12",
            "num_generations=4",
            "max_completion_length=8",
            "pareto.enabled=false",
            f"output_dir={tmp_path / 'run'}",
        ],
    )
    crashy = RewardFunction("crashy", _crash_on_odd, capabilities=("knowledge", "instruction"))
    rewards = [*fixtures.make_rewards(), *fixtures.shaping_rewards(), crashy]
    run = train_grpo(cfg, fixtures.build_rows(4, integrated=2), None, rewards)
    [record] = [r for r in read_metrics(run) if "loss" in r]
    assert math.isfinite(record["loss"])
    assert record["reward_crashes/crashy/errors"] > 0  # counted (and logged), not a silent 0
    assert json.loads((run / "summary.json").read_text())["global_step"] == 1
