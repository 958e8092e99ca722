"""Grading and aggregation: IFEval metrics as lm-eval aggregates them, reasoning answers,
and the integration score (all three components must hold at once)."""

from __future__ import annotations

from typing import Any

import pytest
from eval_fixtures import heldout_items
from eval_paths import KG_CACHE

from balancedbio.eval.grading import aggregate, grade, mean_stderr
from balancedbio.eval.integration import integrated
from balancedbio.eval.tasks import prompt_text

ITEMS = {item["id"]: item for item in heldout_items()}


def _grade(item: dict[str, Any], completion: str, kind: str) -> dict[str, Any]:
    return grade(kind, item, completion, prompt_text(item), cache_dir=KG_CACHE)


def test_ifeval_aggregation_matches_lm_eval() -> None:
    verdicts = [
        {
            "strict": [True, False],
            "loose": [True, True],
            "prompt_strict": False,
            "prompt_loose": True,
        },
        {"strict": [True], "loose": [True], "prompt_strict": True, "prompt_loose": True},
        {
            "strict": [False, False, True],
            "loose": [False, True, True],
            "prompt_strict": False,
            "prompt_loose": False,
        },
    ]
    got = aggregate("instruction", verdicts)
    assert got["prompt_level_strict_acc"]["value"] == pytest.approx(1 / 3)
    assert got["inst_level_strict_acc"]["value"] == pytest.approx(3 / 6)
    assert got["prompt_level_loose_acc"]["value"] == pytest.approx(2 / 3)
    assert got["inst_level_loose_acc"]["value"] == pytest.approx(5 / 6)
    assert got["inst_level_strict_acc"]["n"] == 6 and got["prompt_level_strict_acc"]["n"] == 3
    metrics = pytest.importorskip("lm_eval.api.metrics")
    ifeval_utils = pytest.importorskip("lm_eval.tasks.ifeval.utils")
    strict_lists = [v["strict"] for v in verdicts]
    assert got["inst_level_strict_acc"]["value"] == ifeval_utils.agg_inst_level_acc(strict_lists)
    series = [float(v["prompt_strict"]) for v in verdicts]
    assert got["prompt_level_strict_acc"]["stderr"] == pytest.approx(metrics.mean_stderr(series))
    assert mean_stderr([1.0]) is None


def test_instruction_items_graded_with_ifeval() -> None:
    item = ITEMS["eval-instruction-0000001"]  # keywords:existence ["immune", "pressure"]
    assert _grade(item, item["reference"], "instruction")["prompt_strict"] is True
    bad = _grade(item, "Nothing relevant here.", "instruction")
    assert bad == {
        "strict": [False],
        "loose": [False],
        "prompt_strict": False,
        "prompt_loose": False,
    }


def test_reasoning_numeric_and_text_answers() -> None:
    calc = ITEMS["eval-calculator-0000002"]  # decimal 4.5, window [4.275, 4.725]
    assert _grade(calc, "Sum of points.\nAnswer: 4.6", "reasoning")["correct"] is True
    assert _grade(calc, "Answer: 5.0", "reasoning")["correct"] is False
    score = ITEMS["eval-calculator-0000016"]  # integer 8: exact after rounding
    assert _grade(score, "Answer: 8", "reasoning")["correct"] is True
    assert _grade(score, "Answer: 9", "reasoning")["correct"] is False
    case = ITEMS["eval-record_case-0000056"]  # Cystic fibrosis, alias mucoviscidosis
    full = _grade(case, case["reference"], "reasoning")
    assert full["correct"] and full["workflow_pass"] and full["workflow_violations"] == []
    alias_only = _grade(case, "Answer: Mucoviscidosis.", "reasoning")
    assert alias_only["correct"] is True  # right answer, reported separately from ...
    assert alias_only["workflow_pass"] is False  # ... an invalid (absent) workflow
    assert "required_steps" in alias_only["workflow_violations"]
    got = aggregate("reasoning", [full, alias_only, _grade(calc, "Answer: 4.6", "reasoning")])
    assert got["accuracy"]["value"] == 1.0 and got["workflow_pass_rate"]["value"] == 0.5
    assert got["numeric_acc"]["n"] == 1 and got["case_acc"]["n"] == 2


def test_integration_score_needs_all_three() -> None:
    item = ITEMS["eval-integrated_case-0000004"]  # gold B; keywords + no_comma; workflow
    ref = item["reference"]
    assert ref.rstrip().endswith("Answer: B") and "," not in ref
    wrong_answer = ref.replace("Answer: B", "Answer: C")
    no_differential = "\n".join(ln for ln in ref.splitlines() if not ln.startswith("Differential:"))
    comma = ref.replace("Referral to a specialist", "Referral, to a specialist")
    assert comma != ref
    verdicts = [
        _grade(item, text, "integrated") for text in (ref, wrong_answer, no_differential, comma)
    ]
    parts = [(v["answer_correct"], v["workflow_pass"], v["prompt_strict"]) for v in verdicts]
    assert parts == [
        (True, True, True),
        (False, True, True),
        (True, False, True),
        (True, True, False),
    ]
    assert [integrated(v) for v in verdicts] == [True, False, False, False]
    got = aggregate("integrated", verdicts)
    assert got["integration_score"]["value"] == 0.25
    assert got["answer_acc"]["value"] == 0.75
    assert got["workflow_pass_rate"]["value"] == 0.75
    assert got["instruction_prompt_strict"]["value"] == 0.75


def test_every_reference_passes_its_graders() -> None:
    """The held-out references are graded right by the same verifiers that built them."""
    kinds = {
        "knowledge": "mcq",
        "reasoning": "reasoning",
        "instruction": "instruction",
        "integrated": "integrated",
    }
    for item in ITEMS.values():
        kind = kinds[item["capability"]]
        metrics = aggregate(kind, [_grade(item, item["reference"], kind)])
        assert all(m["value"] == 1.0 for m in metrics.values()), (item["id"], metrics)
