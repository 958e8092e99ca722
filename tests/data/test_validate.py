"""Validation: deliberately bad items are rejected, each with the right reason."""

from __future__ import annotations

import random
import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mkgsg_helpers import engine, graph, items_of  # noqa: E402

from balancedbio.data import corrupt  # noqa: E402
from balancedbio.data.validate import check_answer, grade_response, instruction_failures  # noqa: E402


def _valid(task: str, pred=lambda item: True) -> dict:  # noqa: ANN001
    eng = engine()
    for item in items_of(task):
        if pred(item) and eng.validator(item) is None:
            return item
    raise AssertionError(f"no valid {task} item")


def _codes(item: dict) -> list[str]:
    return [code for code, _ in engine().validator.problems(item)]


def test_valid_items_pass() -> None:
    for task in ("mcq_phenotype", "diagnosis_case", "calculator", "instruction", "integrated_case"):
        assert _codes(_valid(task)) == []


def test_false_is_a_is_rejected() -> None:
    bad = corrupt.assert_false_fact(_valid("mcq_subtype"), "is_a")
    assert bad is not None and _codes(bad)[0] == "false_fact:is_a"


def test_phenotype_not_annotated_to_the_diagnosis_is_rejected() -> None:
    item = _valid("diagnosis_case")
    bad = corrupt.unannotated_finding(item, graph(), engine().index, random.Random(0))
    assert bad is not None
    codes = _codes(bad)
    assert codes[0] == "false_fact:has_phenotype"
    assert bad["findings"][0] not in item["findings"]


def test_reordered_workflow_is_rejected() -> None:
    for task in ("diagnosis_case", "integrated_case"):
        bad = corrupt.reorder_workflow(_valid(task))
        assert bad is not None and "workflow:order" in _codes(bad)
    bad = corrupt.drop_step(_valid("diagnosis_case"))
    assert bad is not None and "workflow:required_steps" in _codes(bad)


def test_unknown_entity_is_rejected() -> None:
    for task in ("mcq_phenotype", "diagnosis_case"):
        bad = corrupt.invent_entity(_valid(task))
        assert bad is not None and _codes(bad)[0] == "unknown_entity", _codes(bad)
    item = dict(_valid("mcq_icd_category"))
    item["entities"] = [{"text": "E11.9", "id": "ICD10CM:Z99.999"}]
    assert _codes(item)[0] == "unknown_entity"


def test_distractor_that_is_also_correct_is_rejected() -> None:
    item = _valid("mcq_phenotype")
    bad = dict(item)
    true_fact = next(f for f in item["facts"] if f["holds"])
    bad["facts"] = [*item["facts"], dict(true_fact, holds=False)]
    assert "distractor_correct:has_phenotype" in _codes(bad)


def test_wrong_answers_and_broken_instructions_are_rejected() -> None:
    for task in ("mcq_synonym", "calculator", "diagnosis_case", "integrated_case"):
        bad = corrupt.wrong_answer(_valid(task))
        assert bad is not None and "answer_mismatch" in _codes(bad), task
    for item in items_of("instruction")[:25]:
        bad = corrupt.break_instruction(item)
        if bad is not None:
            assert f"ifeval:{item['instruction_id_list'][0]}" in _codes(bad)
    bad = corrupt.drop_column(_valid("calculator"), "output_kind")
    assert _codes(bad) == ["missing_columns"]


def test_false_claims_in_the_reference_are_rejected() -> None:
    item = dict(_valid("mcq_phenotype"))
    item["reference"] = (
        "Marfan syndrome is characterized by hepatosplenomegaly.\n" + item["reference"]
    )
    assert "false_claim:has_phenotype" in _codes(item)


@pytest.mark.parametrize(
    "task", ["mcq_phenotype", "calculator", "diagnosis_case", "instruction", "integrated_case"]
)
def test_grade_response_uses_the_item_verifiers(task: str) -> None:
    item = _valid(task)
    assert grade_response(item, item["reference"], graph(), workflow=True) == (True, "ok")
    if item["answer_kind"] != "none":
        assert check_answer(item, "I do not know.") is False
        assert grade_response(item, "I do not know.")[0] is False
    else:
        assert instruction_failures(item, "") or instruction_failures(item, "x" * 3)


def test_index_shortcuts_agree_with_the_fact_checker() -> None:
    """``holds``/``has_phenotype_any`` give ``kg.check``'s validity; ``findings`` is memoized
    but hands out a fresh list each time."""
    eng = engine()
    kg, index = eng.kg, eng.index
    diseases = ["OMIM:143100", "ORPHA:240094", "MONDO:0007739", "HP:0001250", "OMIM: 143100"]
    phenos = ["HP:0002072", "HP:0002071", "HP:0004322", "HP:0002063", "HP:0001275", "HP:0000057"]
    names = ["Huntington disease", "Huntington chorea", " ", "Achondroplasia"]
    for rel in ("has_phenotype", "is_a", "name", "HAS_PHENOTYPE", None):
        for d in diseases:
            for p in [*phenos, *names, None, 7]:
                expected = kg.check({"relation": rel, "subject": d, "object": p}).valid
                assert index.holds(rel, d, p) is expected, (rel, d, p)
    for p in phenos:
        expected = any(
            kg.check({"relation": "has_phenotype", "subject": d, "object": p}).valid
            for d in diseases
        )
        assert index.has_phenotype_any(diseases, p) is expected, p
    found = index.findings("OMIM:143100")
    found.append("HP:0000001")
    assert index.findings("OMIM:143100") == found[:-1] and found[:-1]


def test_claim_prefilter_matches_its_case_insensitive_pattern() -> None:
    from balancedbio.data.validate import _CLAIM_WORDS, _may_claim

    texts = ["A form of X", "A FORM OF X", "platform", "Sub-Type", "a.k.a", "AKA", "is  in"]
    texts += ["\u212aind of", "\u017fubtype", "E11.9", "e11", "x E1A y", "_E11", "categoryes"]
    texts += ["Caf\u00e9 types", "information", "under", "understood", ""]
    for text in texts:
        icd = re.search(r"\b[A-TV-Z]\d[0-9A-Z]\b", text) is not None
        assert _may_claim(text) == (_CLAIM_WORDS.search(text) is not None or icd), text


def test_claim_prefilter_word_runs_fuzzed() -> None:
    """The word-run shortcut of ``_may_claim`` (ASCII) agrees with the patterns on texts
    made of claim words, their near misses and the multi-run cues ("a.k.a", "is in")."""
    from balancedbio.data.validate import _CLAIM_WORDS, _ICD_LIKE, _may_claim

    words = "type types typed subtype sub-types kinds form forms a.k.a aka a.ka ak.a k ka is in"
    words += " isin this presents presentation caused leads result_ under underline coded part"
    words += " partly associated falls belongs category classes termed characterised E11 x12"
    pieces = words.split()
    rng = random.Random(0)
    for _ in range(5000):
        sep = rng.choice([" ", "", "-", ".", "\t", "  ", "_"])
        text = sep.join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
        text = text.upper() if rng.random() < 0.2 else text
        expected = _CLAIM_WORDS.search(text) is not None or _ICD_LIKE.search(text) is not None
        assert _may_claim(text) == expected, text
