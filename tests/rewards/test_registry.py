"""Reward registry: specs from config, strict errors, built-in rewards, lazy registration."""

from __future__ import annotations

import sys
import types

import pytest

from balancedbio.config import ConfigError, from_dict
from balancedbio.rewards import registry
from balancedbio.rewards.registry import (
    CAPABILITIES,
    RewardSpec,
    build_reward,
    build_rewards,
    register_lazy,
    register_reward,
    registered_rewards,
)

MCQ_ROW = {"choices": ["Aspirin", "Warfarin", "Heparin"], "answer": "B"}


def test_spec_from_dict_and_shorthand() -> None:
    spec = from_dict(
        RewardSpec, {"name": "format_tags", "weight": 0.5, "params": {"tags": ["answer"]}}
    )
    assert spec == RewardSpec("format_tags", 0.5, (), {"tags": ["answer"]})

    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Run:
        rewards: tuple[RewardSpec, ...] = field(default_factory=tuple)

    run = from_dict(Run, {"rewards": ["mcq_accuracy", {"name": "format_tags", "weight": 0.2}]})
    assert [s.name for s in run.rewards] == ["mcq_accuracy", "format_tags"]
    with pytest.raises(ConfigError, match="valid keys"):
        from_dict(RewardSpec, {"name": "x", "wieght": 1})


def test_build_only_named_rewards_with_defaults() -> None:
    rewards = build_rewards(["mcq_accuracy", {"name": "format_tags", "weight": 0.2}])
    assert [r.__name__ for r in rewards] == ["mcq_accuracy", "format_tags"]
    assert rewards[0].capabilities == {"knowledge", "integrated"} and rewards[0].weight == 1.0
    assert rewards[1].capabilities == frozenset() and rewards[1].weight == 0.2
    assert build_reward("numeric_accuracy").capabilities == {"reasoning"}


def test_unknown_reward_lists_registered_names() -> None:
    with pytest.raises(ConfigError) as err:
        build_rewards(["mcq_acuracy"])
    message = str(err.value)
    assert "mcq_acuracy" in message
    for name in ("mcq_accuracy", "numeric_accuracy", "exact_match", "format_tags"):
        assert name in message


def test_unknown_param_lists_valid_params() -> None:
    with pytest.raises(ConfigError, match=r"unknown param\(s\) 'tag'.*valid params: tags, ordered"):
        build_reward({"name": "format_tags", "params": {"tag": ["answer"]}})
    with pytest.raises(ConfigError, match=r"valid params: \(none\)|valid params: extract"):
        build_reward({"name": "exact_match", "params": {"nope": 1}})
    with pytest.raises(ConfigError, match="bad params"):
        build_reward({"name": "format_tags", "params": {"tags": []}})
    with pytest.raises(ConfigError, match="output kind"):
        build_reward({"name": "numeric_accuracy", "params": {"default_kind": "fraction"}})


def test_capabilities_validated() -> None:
    with pytest.raises(ConfigError) as err:
        build_reward({"name": "exact_match", "capabilities": ["knowlege"]})
    for cap in CAPABILITIES:
        assert cap in str(err.value)
    reward = build_reward({"name": "exact_match", "capabilities": ["knowledge", "integrated"]})
    assert reward.capabilities == {"knowledge", "integrated"}
    with pytest.raises(ConfigError, match="capability"):
        register_reward("bad_caps", ("vision",))


def test_duplicate_names_rejected() -> None:
    with pytest.raises(ConfigError, match="listed twice: format_tags"):
        build_rewards(["format_tags", "format_tags"])


def test_mcq_accuracy_reward() -> None:
    reward = build_reward("mcq_accuracy")
    out = reward(
        ["The answer is B", "Heparin", "unsure", "B"],
        choices=[MCQ_ROW["choices"]] * 4,
        answer=["B", "B", "B", None],
        capability=["knowledge"] * 4,
    )
    assert out == [1.0, 0.0, 0.0, None]  # no gold -> None
    assert reward(["B"], answer=["B"]) == [None]  # missing 'choices' column: an error
    assert reward.stats()["errors"] == 1
    assert reward(["B"], capability=["instruction"], **{k: [v] for k, v in MCQ_ROW.items()}) == [
        None
    ]


def test_mcq_accuracy_grades_integrated_rows_with_choices() -> None:
    reward = build_reward("mcq_accuracy")
    assert reward.capabilities == {"knowledge", "integrated"}
    out = reward(
        ["Answer: B", "Answer: A", "Answer: Marfan syndrome", "Answer: B"],
        choices=[MCQ_ROW["choices"], MCQ_ROW["choices"], None, []],
        answer=["B", "B", "Marfan syndrome", "B"],
        capability=["integrated"] * 4,
    )
    assert out == [1.0, 0.0, None, None]  # no options: not applicable
    assert reward(["B"], answer=["B"], capability=["integrated"]) == [None]  # no column
    assert reward.stats()["errors"] == 0


def test_numeric_accuracy_reward() -> None:
    reward = build_reward("numeric_accuracy")
    rows = {
        "answer": ["25.2381", "3", "06/30/2012", "(16 weeks, 1 days)"],
        "lower": ["23.97619", 3.0, None, None],
        "upper": ["26.50001", 3.0, None, None],
        "output_kind": ["decimal", "integer", "date", "weeks_days"],
    }
    good = ["Answer: 26.4", "Answer: 3", "Answer: 6/30/2012", "Answer: 16 weeks and 1 day"]
    bad = ["Answer: 27", "Answer: 4", "Answer: 7/1/2012", "Answer: (16 weeks, 2 days)"]
    assert reward(good, **rows) == [1.0] * 4
    assert reward(bad, **rows) == [0.0] * 4
    loose = build_reward({"name": "numeric_accuracy", "params": {"rel_tol": 0.1}})
    assert loose(["Answer: 27.5"], answer=["25.2381"], output_kind=["decimal"]) == [1.0]
    assumed = build_reward({"name": "numeric_accuracy", "params": {"default_kind": "decimal"}})
    assert assumed(["Answer: 25"], answer=["25.2381"]) == [1.0]  # no column: kind assumed


def test_numeric_accuracy_skips_rows_without_output_kind() -> None:
    reward = build_reward("numeric_accuracy")
    out = reward(
        ["Answer: Marfan syndrome", "Answer: 3", "Answer: 3"],
        answer=["Marfan syndrome", "3", "3"],  # a diagnosis case has a text answer
        output_kind=[None, "integer", ""],
        capability=["reasoning"] * 3,
    )
    assert out == [None, 1.0, None]
    assert reward(["Answer: Marfan"], answer=["Marfan"]) == [None]  # no output_kind column
    assert reward.stats()["errors"] == 0  # not applicable, never an error


def test_exact_match_and_format_rewards() -> None:
    em = build_reward("exact_match")
    assert em(["Reasoning...\nAnswer: the BRCA1 gene", "TP53"], answer=["BRCA1 gene"] * 2) == [
        1.0,
        0.0,
    ]
    assert em(["x"], answer=[["y", "X"]]) == [1.0]
    tags = build_reward({"name": "format_tags", "params": {"tags": ["answer"]}})
    assert tags(["<answer>B</answer>", "B"]) == [1.0, 0.0]
    sections = build_reward("format_sections")
    assert sections(["Reasoning: x\nAnswer: B", "B"]) == [1.0, 0.0]


def test_lazy_registration_imports_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("fake_lazy_reward")
    calls: list[str] = []

    def register() -> None:
        calls.append("registered")

        @register_reward("fake_lazy", ("instruction",), {"bonus": 1.0})
        def fake(bonus: float):  # type: ignore[no-untyped-def]
            return lambda text, row: bonus

    module.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_lazy_reward", module)
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_LAZY", {})
    register_lazy("fake_lazy", "fake_lazy_reward:register")
    register_lazy("never_registers", "fake_lazy_reward")
    assert "fake_lazy" in registered_rewards() and calls == []
    reward = build_reward({"name": "fake_lazy", "params": {"bonus": 2.0}})
    assert calls == ["registered"] and reward(["x"]) == [2.0]
    assert reward.capabilities == {"instruction"}
    with pytest.raises(ConfigError, match="did not register"):
        build_reward("never_registers")


def test_registry_import_is_light() -> None:
    assert "balancedbio.rewards.ifeval" not in registry.__dict__
    assert all(isinstance(v, str) for v in registry._LAZY.values())
