from __future__ import annotations

from typing import Any

import pytest

from balancedbio.knowledge import RELATIONS, Fact, KnowledgeGraph, Verdict, check


def v(kg: KnowledgeGraph, relation: Any, subject: Any, obj: Any = None) -> Verdict:
    return kg.check({"relation": relation, "subject": subject, "object": obj})


@pytest.mark.parametrize(
    ("subject", "obj", "valid"),
    [
        ("HP:0001250", "HP:0000118", True),  # Seizure is_a Phenotypic abnormality (ancestor)
        ("HP:0001250", "HP:0012638", True),  # direct parent
        ("HP:0000118", "HP:0001250", False),  # not vice versa
        ("HP:0001250", "HP:0001250", False),  # proper ancestor only
        ("HP:0001250", "HP:0000478", False),  # unrelated branch (eye)
        ("MONDO:0007739", "MONDO:0005071", True),  # Huntington disease is_a nervous system disorder
        ("MONDO:0007739", "MONDO:0000167", True),
        ("MONDO:0005071", "MONDO:0007739", False),
        ("MONDO:0007739", "HP:0000118", False),  # different ontologies
        ("E11.9", "E11", True),  # ICD hierarchy through is_a too
        ("ICD10CM:E11.9", "4", True),
    ],
)
def test_is_a(kg: KnowledgeGraph, subject: str, obj: str, valid: bool) -> None:
    verdict = v(kg, "is_a", subject, obj)
    assert verdict.valid is valid, verdict.reason
    assert (verdict.reason is None) is valid


def test_is_a_reasons(kg: KnowledgeGraph) -> None:
    assert "is not an ancestor of HP:0000118" in v(kg, "is_a", "HP:0000118", "HP:0001250").reason
    assert "different ontologies" in v(kg, "is_a", "MONDO:0007739", "HP:0000118").reason


def test_obsolete_and_alt_ids(kg: KnowledgeGraph) -> None:
    verdict = v(kg, "is_a", "HP:0000057", "HP:0000118")
    assert not verdict.valid
    assert verdict.reason == "HP:0000057 is obsolete; replaced by HP:0008665 (Clitoral hypertrophy)"
    assert "consider HP:0100886" in v(kg, "exists", "HP:0000489").reason
    assert "no replacement" in v(kg, "exists", "HP:0001587").reason
    assert "replaced by MONDO:0009299" in v(kg, "exists", "MONDO:0000002").reason
    assert not v(kg, "is_a", "HP:0001250", "HP:0000057").valid  # obsolete object
    # HP:0001275 is an alt_id of HP:0001250 (Seizure): valid follows the primary, reason notes it
    alt = v(kg, "is_a", "HP:0001275", "HP:0000118")
    assert alt.valid and "HP:0001275 is an alternative id of HP:0001250" in alt.reason
    assert not v(kg, "is_a", "HP:0000118", "HP:0001275").valid


@pytest.mark.parametrize(
    ("subject", "obj", "valid"),
    [
        ("OMIM:143100", "HP:0002072", True),  # direct annotation (Chorea)
        ("OMIM:143100", "HP:0002071", True),  # true-path: ancestor of Chorea
        ("OMIM:143100", "HP:0000707", True),  # Abnormality of the nervous system
        ("OMIM:143100", "HP:0004322", False),  # unrelated: Short stature
        ("ORPHA:399", "HP:0002072", True),
        ("MONDO:0007739", "HP:0002072", True),  # MONDO via name-match xref to OMIM/ORPHA
        ("MONDO:0007739", "HP:0002071", True),
        ("MONDO:0007739", "HP:0004322", False),
        ("ORPHA:240094", "HP:0002063", False),  # NOT-qualified annotation (Rigidity)
        ("HP:0001250", "HP:0000118", False),  # subject is not a disease
        ("OMIM:143100", "MONDO:0005071", False),  # object is not a phenotype
    ],
)
def test_has_phenotype(kg: KnowledgeGraph, subject: str, obj: str, valid: bool) -> None:
    verdict = v(kg, "has_phenotype", subject, obj)
    assert verdict.valid is valid, verdict.reason


def test_holds_phenotype_is_the_checks_validity(kg: KnowledgeGraph) -> None:
    """The reason-free check agrees with ``check`` on every kind of input, in any order of
    first use (the true-path memo has three states per disease)."""
    subjects = ["OMIM:143100", "ORPHA:399", "MONDO:0007739", "ORPHA:240094", "HP:0001250"]
    subjects += ["OMIM:154700", "MONDO:0000002", "OMIM: 143100", "omim:143100", "X:1", None, 3]
    objects = ["HP:0002072", "HP:0002071", "HP:0000707", "HP:0004322", "HP:0002063"]
    objects += ["HP:0001275", "HP:0000057", "MONDO:0005071", "hp:0002072", "", None, ["x"]]
    pairs = [(s, o) for s in subjects for o in objects]
    for k, (s, o) in enumerate(pairs + pairs[::-1]):
        first = kg.checker.holds_phenotype(s, o) if k % 2 else None
        expected = v(kg, "has_phenotype", s, o).valid
        assert kg.checker.holds_phenotype(s, o) is expected, (s, o)
        assert first in (None, expected), (s, o)


def test_has_phenotype_reasons(kg: KnowledgeGraph) -> None:
    assert "annotated NOT HP:0002063" in v(kg, "has_phenotype", "ORPHA:240094", "HP:0002063").reason
    reason = v(kg, "has_phenotype", "OMIM:143100", "HP:0004322").reason
    assert "not annotated with HP:0004322 (Short stature) or any descendant" in reason
    unlinked = next(i for i in kg.ids(source="mondo") if not kg.xrefs(i) and i != "MONDO:0000001")
    assert "not linked" in v(kg, "has_phenotype", unlinked, "HP:0000118").reason


def test_has_gene(kg: KnowledgeGraph) -> None:
    assert v(kg, "has_gene", "OMIM:143100", "NCBIGene:3064").valid
    assert v(kg, "has_gene", "MONDO:0007739", "HTT").valid
    assert not v(kg, "has_gene", "OMIM:143100", "NCBIGene:10").valid
    assert "unknown gene symbol" in v(kg, "has_gene", "OMIM:143100", "NOTAGENE").reason


@pytest.mark.parametrize(
    ("subject", "obj", "valid"),
    [
        ("HP:0001250", "Seizure", True),
        ("HP:0001250", "seizures", True),  # EXACT synonym, case-insensitive
        ("HP:0001250", "  EPILEPTIC   seizure ", True),
        ("HP:0001250", "Epilepsy", False),  # RELATED synonym only
        ("HP:0001250", "Short stature", False),
        ("MONDO:0007739", "Huntington chorea", True),  # MONDO synonyms have no scope
        ("ICD10CM:E11.9", "type 2 diabetes mellitus without complications", True),
        ("OMIM:143100", "huntington disease", True),
        ("HP:0001250", "", False),
        ("HP:0001250", None, False),
    ],
)
def test_name(kg: KnowledgeGraph, subject: str, obj: str | None, valid: bool) -> None:
    assert v(kg, "name", subject, obj).valid is valid


@pytest.mark.parametrize(
    ("subject", "obj", "valid"),
    [
        ("E11.9", "E11", True),
        ("E119", "E11", True),
        ("E11.9", "E08-E13", True),
        ("E119", "ICD10CM:E08-E13", True),
        ("E11.9", "4", True),
        ("E11.9", "chapter 4", True),
        ("ICD10CM:E11.9", "ICD10CM:4", True),
        ("S72.001A", "S72", True),
        ("C50.911", "C50", True),
        ("E11.9", "E10", False),
        ("E11.9", "3", False),
        ("E11", "E11.9", False),
        ("E11.9", "E11.9", False),
        ("HP:0001250", "E11", False),
        ("E11.9", "HP:0000118", False),
        ("E11.99", "E11", False),  # unknown code
    ],
)
def test_icd10_parent(kg: KnowledgeGraph, subject: str, obj: str, valid: bool) -> None:
    verdict = v(kg, "icd10_parent", subject, obj)
    assert verdict.valid is valid, verdict.reason


def test_exists(kg: KnowledgeGraph) -> None:
    for ok in ("HP:0001250", "MONDO:0007739", "OMIM:143100", "ORPHA:399", "E11.9", "NCBIGene:3064"):
        assert v(kg, "exists", ok).valid, ok
    assert "unknown id HP:9999999" in v(kg, "exists", "HP:9999999").reason
    assert "unknown id ICD10CM:Z99.999" in v(kg, "exists", "Z99.999").reason


@pytest.mark.parametrize(
    ("fact", "needle"),
    [
        ({"relation": "is_a", "subject": "HP:abc", "object": "HP:0000118"}, "malformed id HP:abc"),
        ({"relation": "is_a", "subject": "", "object": "HP:0000118"}, "subject is empty"),
        ({"relation": "is_a", "subject": None, "object": "HP:0000118"}, "missing subject"),
        (
            {"relation": "is_a", "subject": 42, "object": "HP:0000118"},
            "must be a string id, got int",
        ),
        ({"relation": "is_a", "subject": "HP:0001250"}, "missing object"),
        ({"relation": "is_a", "subject": "HP:0001250", "object": ["x"]}, "got list"),
        ({"relation": "is_a", "subject": {"a": 1}, "object": "x"}, "got dict"),
        ({"relation": "is_a", "subject": "XX:1", "object": "HP:0000118"}, "unknown id prefix 'XX'"),
        (
            {"relation": "is_a", "subject": "seizure", "object": "HP:0000118"},
            "malformed id 'seizure'",
        ),
        (
            {"relation": "part_of", "subject": "HP:0001250", "object": "x"},
            "unknown relation 'part_of'",
        ),
        ({"subject": "HP:0001250", "object": "HP:0000118"}, "missing relation"),
        ({"relation": ["is_a"], "subject": "HP:0001250"}, "unknown relation"),
        (None, "fact must be a mapping"),
        (42, "fact must be a mapping"),
        ("is_a HP:1 HP:2", "fact must be a mapping"),
    ],
)
def test_bad_input_never_raises(kg: KnowledgeGraph, fact: Any, needle: str) -> None:
    verdict = kg.check(fact)
    assert verdict.valid is False
    assert needle in verdict.reason


def test_unknown_relation_lists_valid_relations(kg: KnowledgeGraph) -> None:
    reason = v(kg, "part_of", "HP:0001250", "HP:0000118").reason
    for rel in RELATIONS:
        assert rel in reason


def test_fact_dataclass_and_module_check(kg: KnowledgeGraph) -> None:
    assert kg.check(Fact("is_a", "HP:0001250", "HP:0000118")) == Verdict(True, None)
    assert check(Fact("exists", "HP:0001250"), kg).valid
    assert kg.checker.check_many([{"relation": "exists", "subject": "HP:0001250"}, None]) == [
        Verdict(True, None),
        kg.check(None),
    ]
    assert kg.check({"relation": "IS_A", "subject": "HP:0001250", "object": "HP:0000118"}).valid


def test_truth_shortcuts_agree_with_check(kg: KnowledgeGraph) -> None:
    """``holds_is_a``/``holds_name`` give ``check(...).valid`` for every kind of input."""
    subjects = ["HP:0001250", "HP:0001275", "HP:0000057", "MONDO:0007739", "E11.9", None, 7]
    objects = ["HP:0000118", "HP:0012638", "MONDO:0005071", "E11", "HP:0000057", "", None, 3]
    names = ["Seizure", "seizures", "  Seizure ", "Huntington disease", "Huntington chorea", ""]
    checker = kg.checker
    for _ in range(12):  # past the bisection budget, into the graph's memo
        for s in subjects:
            for o in objects:
                assert checker.holds_is_a(s, o) is v(kg, "is_a", s, o).valid, (s, o)
    for s in subjects:
        for o in [*names, *objects]:
            assert checker.holds_name(s, o) is v(kg, "name", s, o).valid, (s, o)


def test_phenotype_bisection_agrees_with_the_materialized_set(kg: KnowledgeGraph) -> None:
    """The first queries about a disease bisect its slice, later ones read the key set: the
    answers are the true-path phenotypes of the disease either way (MONDO via its links)."""
    diseases = ["OMIM:143100", "ORPHA:240094", "MONDO:0007739"]
    phenos = [kg._index[p] for p in ("HP:0002072", "HP:0004322", "HP:0000118", "HP:0001250")]
    for d in diseases:
        i = kg._index[d]
        truth = set(kg._pheno_array(i).tolist())
        probe = [*phenos, *sorted(truth)[:40]]
        for p in probe * 2:  # past the bisection budget, into the memo set
            assert kg._has_pheno(i, p) is (p in truth), (d, p)
        assert kg._ph_seen[i] == 2


def test_accepted_names_match_the_node(kg: KnowledgeGraph) -> None:
    for nid in ("MONDO:0007739", "OMIM:143100", "HP:0001250", "HP:0001275"):
        node = kg[nid]
        syns = [s.text for s in node.synonyms if s.scope in ("EXACT", "UNSPECIFIED")]
        assert kg.accepted_names(nid) == [node.name, *syns]
        assert kg.synonym_texts(nid) == [s.text for s in node.synonyms]


def test_holds_phenotype_any_agrees_with_holds_phenotype(kg: KnowledgeGraph) -> None:
    subjects = ["OMIM:143100", "ORPHA:240094", "MONDO:0007739", "HP:0001250", "OMIM: 143100"]
    objects = ["HP:0002072", "HP:0004322", "HP:0001275", "HP:0000057", "MONDO:0007739", None, 5]
    checker = kg.checker
    for k in range(len(subjects) + 1):
        for obj in objects:
            group = subjects[k:] + subjects[:k][:2]
            expected = any(checker.holds_phenotype(s, obj) for s in group)
            assert checker.holds_phenotype_any(group, obj) is expected, (group, obj)
    assert checker.holds_phenotype_any([], "HP:0002072") is False


def test_is_a_bisection_agrees_with_the_ancestor_slices(kg: KnowledgeGraph) -> None:
    """``holds_is_a`` bisects a fresh subject's ancestors, then defers to the graph's memo."""
    fresh = [i for i in range(len(kg)) if not kg._anc_seen[i] and not kg._obsolete[i]][::997]
    objects = ["HP:0000118", "MONDO:0000001", "MONDO:0005071", "HP:0000001", "ICD10CM:E11"]
    for i in fresh[:40]:
        truth = kg._anc(i)
        probe = [o for o in objects if o in kg._index]
        probe += [kg._ids[a] for a in sorted(truth)[:3]]
        for o in probe * 6:
            assert kg.checker.holds_is_a(kg._ids[i], o) is (kg._index[o] in truth), (i, o)
