"""The verifier rewards through the registry: TRL calls, gating, None semantics, isolation."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import pytest

from balancedbio.config import ConfigError
from balancedbio.knowledge import KnowledgeGraph
from balancedbio.rewards.builtin import NAMES
from balancedbio.rewards.ifeval import follow_instructions
from balancedbio.rewards.registry import build_reward, build_rewards, registered_rewards
from balancedbio.rewards.workflow import WorkflowContext, evaluate_workflow

TRACE = """**Presentation:** 17-year-old with tall stature, arachnodactyly and ectopia lentis.
**Differential:** Marfan syndrome, homocystinuria, Loeys-Dietz syndrome.
**Diagnosis:** Marfan syndrome.
Answer: Marfan syndrome"""
MANAGED_FIRST = """Presentation: tall stature, arachnodactyly and ectopia lentis.
Management: losartan 1 mg/kg.
Differential: Marfan syndrome, homocystinuria.
Diagnosis: Marfan syndrome."""


def as_messages(texts: list[str]) -> list[list[dict[str, str]]]:
    return [[{"role": "assistant", "content": t}] for t in texts]


def test_registered_lazily_with_default_capabilities(kg: KnowledgeGraph) -> None:
    assert set(NAMES) <= set(registered_rewards())
    rewards = build_rewards(list(NAMES))
    caps = {r.name: r.capabilities for r in rewards}
    assert caps == {
        "workflow": {"reasoning", "integrated"},
        "ontology_claims": {"knowledge", "reasoning", "integrated"},
        "ifeval_strict": {"instruction", "integrated"},
        "ifeval_loose": {"instruction", "integrated"},
    }


def test_importing_the_registry_loads_no_verifier() -> None:
    code = (
        "import sys, balancedbio.rewards.registry as r;"
        "bad = [m for m in ('balancedbio.rewards.builtin', 'balancedbio.knowledge', 'torch')"
        " if m in sys.modules];"
        "print(bad); sys.exit(1 if bad or 'workflow' not in r.registered_rewards() else 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_workflow_reward_on_trl_call(kg: KnowledgeGraph) -> None:
    reward = build_reward("workflow")
    columns = {
        "capability": ["reasoning", "integrated", "instruction", "reasoning"],
        "required_steps": [None, ["presentation", "diagnosis"], None, None],
        "diagnosis_id": ["OMIM:154700", None, None, "OMIM:219700"],
    }
    texts = [TRACE, MANAGED_FIRST, TRACE, TRACE]
    for completions in (texts, as_messages(texts)):
        out = reward(completions, prompts=["case"] * 4, **columns)
        assert out[0] == 1.0 and out[2] is None  # instruction rows: not applicable
        assert 0.0 < out[1] < 1.0 and 0.0 < out[3] < 1.0
        ctx = WorkflowContext.from_row({"required_steps": ["presentation", "diagnosis"]}, kg=kg)
        assert out[1] == evaluate_workflow(MANAGED_FIRST, ctx).score
        wrong = evaluate_workflow(TRACE, WorkflowContext(kg=kg, diagnosis_id="OMIM:219700"))
        assert out[3] == wrong.score and wrong.violated == ("diagnosis_supported",)
    assert reward(["no trace at all"]) == [0.0]


def test_workflow_params(kg: KnowledgeGraph) -> None:
    order_only = build_reward({"name": "workflow", "params": {"rules": ["order"]}})
    assert order_only.score_text(MANAGED_FIRST) == 0.0
    assert order_only.score_text(TRACE) == 1.0
    strict = build_reward(
        {"name": "workflow", "params": {"rules": ["diagnosis_supported"], "min_support": 4}}
    )
    assert strict.score_text(TRACE) == 0.0  # 3 supporting findings < 4
    with pytest.raises(ConfigError, match="unknown workflow rule 'ordre'; valid: .*order"):
        build_reward({"name": "workflow", "params": {"rules": ["ordre"]}})


def test_ontology_claims_reward(kg: KnowledgeGraph) -> None:
    reward = build_reward("ontology_claims")
    texts = [
        "Marfan syndrome is characterized by arachnodactyly and hypoglycemia.",
        "The patient is feeling better.",
        "Seizure is a type of abnormality of the nervous system.",
        "Seizure is a type of abnormality of the nervous system.",
    ]
    out = reward(
        as_messages(texts), capability=["knowledge", "knowledge", "reasoning", "instruction"]
    )
    assert out == [0.5, None, 1.0, None]
    assert reward.stats()["errors"] == 0 and reward.stats()["not_applicable"] == 1


IFEVAL_ROWS = [
    (["punctuation:no_comma", "change_case:english_lowercase"], [{}, {}]),
    (["startend:end_checker"], [{"end_phrase": "Any other questions?"}]),
    (["length_constraints:number_words"], [{"relation": "at least", "num_words": 5}]),
]
IFEVAL_TEXTS = [
    "all lower case, but with a comma",
    "Here it is.\nAny other questions?\n*",  # strict fails (ends with *), loose passes
    "Too short.",
]


@pytest.mark.parametrize("loose", [False, True])
def test_ifeval_rewards_agree_with_follow_instructions(loose: bool) -> None:
    name = "ifeval_loose" if loose else "ifeval_strict"
    reward = build_reward(name)
    all_or_nothing = build_reward({"name": name, "params": {"all_or_nothing": True}})
    ids = [r[0] for r in IFEVAL_ROWS]
    kwargs = [r[1] for r in IFEVAL_ROWS]
    prompts = [[{"role": "user", "content": "Write."}]] * 3
    got = reward(IFEVAL_TEXTS, prompts=prompts, instruction_id_list=ids, kwargs=kwargs)
    got_all = all_or_nothing(IFEVAL_TEXTS, prompts=prompts, instruction_id_list=ids, kwargs=kwargs)
    for i, text in enumerate(IFEVAL_TEXTS):
        result = follow_instructions("Write.", text, ids[i], kwargs[i])
        verdicts = result.loose if loose else result.strict
        assert got[i] == sum(verdicts) / len(verdicts)
        assert got_all[i] == float(result.prompt_loose if loose else result.prompt_strict)
    assert got[0] == 0.5 and got_all[0] == 0.0
    assert got[1] == (1.0 if loose else 0.0)


def test_ifeval_none_json_columns_and_crash_isolation() -> None:
    reward = build_reward("ifeval_strict")
    out = reward(
        ["no commas here", "fine", "x", "no commas here"],
        instruction_id_list=[
            [],
            None,
            ["no:such_instruction"],
            json.dumps(["punctuation:no_comma"]),
        ],
        kwargs=[[], None, [{}], json.dumps([{}])],
        capability=["instruction", "integrated", "instruction", ["integrated", "reasoning"]],
    )
    assert out == [None, None, None, 1.0]
    stats = reward.stats()
    assert stats["errors"] == 1 and stats["none_count"] == 3
    with pytest.raises(KeyError, match="instruction_id_list"):
        reward.score(  # a missing column is a wiring error (counted as one when called)
            "text", {"kwargs": []}
        )


def test_rewards_stay_picklable(kg: KnowledgeGraph) -> None:
    for reward in build_rewards(list(NAMES)):
        clone = pickle.loads(pickle.dumps(reward))
        assert clone.name == reward.name and clone.capabilities == reward.capabilities
    clone = pickle.loads(pickle.dumps(build_reward("workflow")))
    assert clone([TRACE]) == [1.0]
