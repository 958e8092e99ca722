"""Ontology-checked claims in free text, against the real HPO/MONDO/ICD-10-CM graph."""

from __future__ import annotations

import random

import pytest

from balancedbio.knowledge import KnowledgeGraph
from balancedbio.rewards.claims import (
    _ADVERBS,
    _CLAUSE_END,
    _CUE,
    _cues,
    check_claims,
    claims_score,
    extract_claims,
)


def facts(text: str, kg: KnowledgeGraph) -> list[tuple[str, str, str, bool]]:
    report = check_claims(text, kg)
    return [
        (c.relation, c.subject, c.object, v.valid)
        for c, v in zip(report.claims, report.verdicts, strict=True)
    ]


def test_is_a_true_and_false(kg: KnowledgeGraph) -> None:
    assert kg.is_ancestor("HP:0000707", "HP:0001250")  # nervous system abnormality > seizure
    text = (
        "Seizure is a type of abnormality of the nervous system. "
        "Focal seizure is a kind of seizure. Seizure is a form of hearing loss."
    )
    assert facts(text, kg) == [
        ("is_a", "HP:0001250", "HP:0000707", True),
        ("is_a", "HP:0007359", "HP:0001250", True),
        ("is_a", "HP:0001250", "HP:0000365", False),  # read in HPO, not as the MONDO disease
    ]
    report = check_claims(text, kg)
    assert report.n_true == 2 and report.n_false == 1 and report.score == pytest.approx(2 / 3)
    ((claim, verdict),) = report.false_claims
    assert claim.text == "Seizure is a form of hearing loss" and "not an ancestor" in verdict.reason


def test_is_a_reads_names_in_one_ontology(kg: KnowledgeGraph) -> None:
    # The grounder picks MONDO for the subject and HPO for "diabetes mellitus"; the claim is
    # read within MONDO, where it holds.
    assert kg.ground("diabetes mellitus")[0].id == "HP:0000819"
    assert facts("Type 2 diabetes mellitus is the most common form of diabetes mellitus.", kg) == [
        ("is_a", "MONDO:0005148", "MONDO:0005015", True)
    ]


def test_has_phenotype_true_and_false(kg: KnowledgeGraph) -> None:
    text = "Marfan syndrome is characterized by arachnodactyly, ectopia lentis and tall stature."
    assert facts(text, kg) == [
        ("has_phenotype", "MONDO:0007947", "HP:0001166", True),
        ("has_phenotype", "MONDO:0007947", "HP:0001083", True),
        ("has_phenotype", "MONDO:0007947", "HP:0000098", True),
    ]
    false = facts("Marfan syndrome typically presents with hypoglycemia and hearing loss.", kg)
    assert false == [
        ("has_phenotype", "MONDO:0007947", "HP:0001943", False),
        ("has_phenotype", "MONDO:0007947", "HP:0000365", False),  # HPO reading of the span
    ]
    assert claims_score("Marfan syndrome presents with hypoglycemia.", kg) == 0.0


def test_subjects_across_clauses(kg: KnowledgeGraph) -> None:
    text = (
        "Marfan syndrome, a disorder of fibrillin, is a type of connective tissue disorder "
        "and is characterized by arachnodactyly. Marfan syndrome causes tall stature, and "
        "achondroplasia causes short stature."
    )
    got = facts(text, kg)
    assert got == [
        ("is_a", "MONDO:0007947", "MONDO:0003900", True),
        ("has_phenotype", "MONDO:0007947", "HP:0001166", True),
        ("has_phenotype", "MONDO:0007947", "HP:0000098", True),
        ("has_phenotype", "MONDO:0007037", "HP:0004322", True),
    ]


def test_negated_statements_are_not_claims(kg: KnowledgeGraph) -> None:
    assert extract_claims("Marfan syndrome does not cause hypoglycemia.", kg) == []
    assert claims_score("Seizure is not a type of hearing loss.", kg) is None


def test_synonyms(kg: KnowledgeGraph) -> None:
    text = (
        "Marfan syndrome is also known as MFS. "
        "Achondroplasia is also called Zorblax disease or ACH."
    )
    assert facts(text, kg) == [
        ("name", "MONDO:0007947", "MFS", True),
        ("name", "MONDO:0007037", "Zorblax disease", False),
        ("name", "MONDO:0007037", "ACH", True),
    ]


def test_icd10_parents(kg: KnowledgeGraph) -> None:
    text = (
        "ICD-10-CM code E11.9 falls under E11. Code E11.9 belongs to block E08-E13. "
        "E11.9 is in chapter IV. Code E11.9 falls under E10. Code E11.9 belongs to chapter 5."
    )
    assert facts(text, kg) == [
        ("icd10_parent", "ICD10CM:E11.9", "ICD10CM:E11", True),
        ("icd10_parent", "ICD10CM:E11.9", "ICD10CM:E08-E13", True),
        ("icd10_parent", "ICD10CM:E11.9", "ICD10CM:4", True),
        ("icd10_parent", "ICD10CM:E11.9", "ICD10CM:E10", False),
        ("icd10_parent", "ICD10CM:E11.9", "ICD10CM:5", False),
    ]
    report = check_claims("Code Z99.999 falls under Z99.", kg)
    assert report.claims == () and report.unknown_entities == ("Z99.999",)


def test_no_claims_is_none_and_unknown_entities_do_not_count(kg: KnowledgeGraph) -> None:
    assert claims_score("The patient was well and went home.", kg) is None
    assert claims_score("Common causes of hypoglycemia include insulinoma.", kg) is None
    report = check_claims("Floopy gorbitis is a type of seizure.", kg)
    assert report.score is None and report.unknown_entities == ("Floopy gorbitis",)


def test_name_ending_in_a_digit_drops_the_final_period(kg: KnowledgeGraph) -> None:
    assert facts("Marfan syndrome is also known as MFS1.", kg) == [
        ("name", "MONDO:0007947", "MFS1", True)
    ]
    text = "Marfan syndrome is also known as MFS1. It is rare."
    assert facts(text, kg) == [("name", "MONDO:0007947", "MFS1", True)]


_WORDS = [
    *_ADVERBS,
    *"is are a an the one of also known as called referred to termed aka a.k.a. a.k.a "
    "type kinds form subtype sub-type subclass variants category class characterized "
    "characterised by presents presenting with manifests causes cause of leads results in "
    "features feature include associated not but whereas which that if unlike X1 E11.9".split(),
    "Marfan syndrome",
    "seizure",
    "ak",
]


def _random_text(rng: random.Random) -> str:
    """Cue words and names in random case, joined by random separators."""
    out = []
    for _ in range(rng.randint(1, 30)):
        word = rng.choice(_WORDS)
        word = rng.choice([word, word, word, word.upper(), word.title()])
        out.append(word + rng.choice([" ", " ", " ", ", ", ". ", "; ", "\n", "  ", "-", "(", ""]))
    return "".join(out)


def test_cue_and_clause_shortcuts_match_plain_regex_scans() -> None:
    """``_cues`` and the per-cue clause search give exactly the full-scan results."""
    rng = random.Random(7)
    texts = [_random_text(rng) for _ in range(3000)] + ["Ünïcode İS A TYPE OF x", "ſo iS"]
    for text in texts:
        plain = list(_CUE.finditer(text))
        assert [(m.span(), m.lastgroup) for m in _cues(text)] == [
            (m.span(), m.lastgroup) for m in plain
        ], text
        ends = [m.start() for m in _CLAUSE_END.finditer(text)]
        for m in plain:
            stop = _CLAUSE_END.search(text, m.end())
            first = next((e for e in ends if e >= m.end()), None)
            assert (stop.start() if stop else None) == first, text
    assert sum(bool(_CUE.search(t)) for t in texts) > 1000  # the texts do exercise the cues


def test_reports_are_memoized_per_graph_for_the_latest_texts(
    kg: KnowledgeGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    from balancedbio.rewards import claims

    monkeypatch.setattr(claims, "_MAX_REPORTS", 8)
    text = "Focal seizure is a kind of seizure. Seizure is a form of hearing loss."
    first = check_claims(text, kg)
    assert check_claims(text, kg) is first  # the validator's repeat of a constructor's pass
    assert first == claims._check_claims(text, kg)  # the same report as a fresh pass
    assert isinstance(first.claims, tuple) and isinstance(first.verdicts, tuple)
    for i in range(claims._MAX_REPORTS + 5):
        check_claims(f"Seizure {i} is a form of hearing loss.", kg)
    memo = claims._reports[kg]
    assert len(memo) == claims._MAX_REPORTS and text not in memo  # the oldest went first


def test_lowered_ascii_patterns_match_the_plain_ones() -> None:
    """``_LOWER`` on an ASCII text's ``lower()`` finds ``_ANY``'s matches."""
    from balancedbio.rewards.claims import _ANY, _LOWER

    rng = random.Random(8)
    extra = ["3.5", "v.2", "x.\u0663", "a.\u00b2", "!", "?", "\n", "n't", "NOT", "No", "OR", "And"]
    texts = []
    for _ in range(3000):
        text = _random_text(rng)
        for _ in range(rng.randint(0, 4)):
            at = rng.randint(0, len(text))
            text = text[:at] + rng.choice(extra) + text[at:]
        texts.append(text)
    for text in texts:
        if not text.isascii():
            continue
        lower = text.lower()
        for plain, fast in zip(_ANY, _LOWER, strict=True):
            for pos in range(0, len(text) + 1, 3):
                want = plain.search(text, pos)
                got = fast.search(lower, pos)
                assert (got and got.span()) == (want and want.span()), (text, pos)
