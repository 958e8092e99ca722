"""Corruption operators: each breaks exactly what it claims, and preference pairs."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from mkgsg_helpers import engine, graph, items_of  # noqa: E402

from balancedbio.data import corrupt  # noqa: E402
from balancedbio.data.backends import parse_json_object  # noqa: E402


def test_operators_do_not_modify_their_input() -> None:
    item = items_of("diagnosis_case")[0]
    before = repr(item)
    for op in (
        corrupt.reorder_workflow,
        corrupt.drop_step,
        corrupt.invent_entity,
        corrupt.wrong_answer,
        corrupt.assert_false_fact,
    ):
        op(item)
    corrupt.unannotated_finding(item, graph(), engine().index, random.Random(1))
    assert repr(item) == before


def test_every_operator_is_caught_with_its_reason() -> None:
    eng, kg = engine(), graph()
    cases = [i for i in items_of("diagnosis_case") if eng.validator(i) is None][:3]
    ops = {
        "assert_false_fact": lambda i: corrupt.assert_false_fact(i),
        "unannotated_finding": lambda i: corrupt.unannotated_finding(
            i, kg, eng.index, random.Random(2)
        ),
        "reorder_workflow": corrupt.reorder_workflow,
        "drop_step": corrupt.drop_step,
        "invent_entity": corrupt.invent_entity,
        "wrong_answer": corrupt.wrong_answer,
        "drop_column": lambda i: corrupt.drop_column(i, "diagnosis_id"),
    }
    for item in cases:
        for name, op in ops.items():
            bad = op(item)
            assert bad is not None, name
            codes = [c for c, _ in eng.validator.problems(bad)]
            assert any(c.startswith(corrupt.EXPECTED[name]) for c in codes), (name, codes)


def test_not_applicable_operators_return_none() -> None:
    calc = items_of("calculator")[0]
    assert corrupt.reorder_workflow(calc) is None and corrupt.break_instruction(calc) is None
    assert corrupt.unannotated_finding(calc, graph(), engine().index, random.Random(0)) is None
    assert parse_json_object(corrupt.malformed_json('{"a": {"b": 1}}')) is None


def test_preference_pairs() -> None:
    rng = random.Random(0)
    eng = engine()
    for task in ("diagnosis_case", "instruction", "integrated_case", "mcq_phenotype"):
        item = items_of(task)[0]
        pair = corrupt.preference_pair(item, rng, graph(), eng.index)
        assert pair is not None and pair["chosen"] == item["reference"] != pair["rejected"]
        assert pair["prompt"] == item["prompt"] and pair["corruption"]


def test_wrong_final_answer_is_plausible_not_a_fixed_string() -> None:
    from balancedbio.data.corrupt import _wrong_final

    calc = {
        "id": "c1",
        "answer_kind": "numeric",
        "answer": "24.589",
        "lower": 23.35955,
        "upper": 25.81845,
        "reference": "Step 1.\nAnswer: 24.589",
    }
    wrong = float(_wrong_final(calc)["reference"].rsplit(": ", 1)[1])
    assert not 23.35955 <= wrong <= 25.81845 and 15 < wrong < 35
    integer = {**calc, "answer": "2", "lower": 2.0, "upper": 2.0, "reference": "Answer: 2"}
    assert _wrong_final(integer)["reference"] in ("Answer: 3", "Answer: 1")

    case = {
        "id": "d1",
        "answer_kind": "text",
        "answer": "Caroli disease",
        "answer_aliases": ["Caroli's disease"],
        "diagnosis_id": "ORPHA:1",
        "entities": [
            {"text": "Caroli disease", "id": "ORPHA:1"},
            {"text": "hepatomegaly", "id": "HP:0002240"},
            {"text": "Polycystic kidney disease", "id": "MONDO:0020642"},
        ],
        "reference": "Differential: ...\nAnswer: Caroli disease",
    }
    assert _wrong_final(case)["reference"].endswith("Answer: Polycystic kidney disease")
    alone = {**case, "entities": case["entities"][:2]}
    assert _wrong_final(alone) is None  # nothing plausible: no pair rather than a surface cue
