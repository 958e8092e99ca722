"""Parsers on small synthetic files (fast, exact) - the real files are covered via the graph."""

from __future__ import annotations

import json
from pathlib import Path

import zstandard

from balancedbio.knowledge.icd10cm import parse_icd10cm
from balancedbio.knowledge.parsers import (
    normalize_obo_id,
    parse_genes,
    parse_hpoa,
    parse_mondo,
    parse_obo,
)

OBO = """format-version: 1.2
data-version: hp/releases/2099-01-01

[Term]
id: HP:0000001
name: All

[Term]
id: HP:0000002
name: Child term
alt_id: HP:0000009
def: "A \\"quoted\\" definition." [PMID:1]
synonym: "Kid term" EXACT layperson []
synonym: "Related kid" RELATED []
synonym: "Old kid" EXACT obsolete_synonym []
is_a: HP:0000001 ! All

[Term]
id: HP:0000003
name: obsolete Old term
is_obsolete: true
replaced_by: HP:0000002
consider: HP:0000001

[Typedef]
id: part_of
name: part of
"""

HPOA = """#description: test
#version: 2099-01-01
database_id\tdisease_name\tqualifier\thpo_id\treference\tevidence\tonset\tfrequency\tsex\tmodifier\taspect\tbiocuration
OMIM:100000\tTest disease\t\tHP:0000002\tPMID:1\tPCS\tHP:0003577\t1/2\t\t\tP\tx
OMIM:100000\tTest disease\tNOT\tHP:0000001\tPMID:1\tPCS\t\t\t\t\tP\tx
"""

GENES = """ncbi_gene_id\tgene_symbol\thpo_id\thpo_name\tfrequency\tdisease_id
10\tNAT2\tHP:0000002\tChild term\t-\tOMIM:100000
"""

ICD_XML = """<?xml version="1.0" encoding="utf-8"?>
<ICD10CM.tabular>
  <version>2099</version>
  <introduction><introSection type="title"><title>x</title></introSection></introduction>
  <chapter>
    <name>19</name>
    <desc>Injury (S00-T88)</desc>
    <section id="S72">
      <desc>Injuries to the hip and thigh (S72)</desc>
      <diag>
        <name>S72</name>
        <desc>Fracture of femur</desc>
        <sevenChrDef>
          <extension char="A">initial encounter</extension>
          <extension char="D">subsequent encounter</extension>
        </sevenChrDef>
        <diag>
          <name>S72.0</name>
          <desc>Fracture of head and neck of femur</desc>
        </diag>
      </diag>
    </section>
    <section id="T07-T07">
      <desc>Multiple injuries (T07)</desc>
      <diag><name>T07</name><desc>Unspecified multiple injuries</desc></diag>
    </section>
  </chapter>
</ICD10CM.tabular>
"""


def test_parse_obo(tmp_path: Path) -> None:
    path = tmp_path / "hp.obo"
    path.write_text(OBO)
    version, terms = parse_obo(path)
    assert version == "hp/releases/2099-01-01"
    assert [t.id for t in terms] == ["HP:0000001", "HP:0000002", "HP:0000003"]
    child = terms[1]
    assert child.definition == 'A "quoted" definition.'
    assert child.synonyms == (("Kid term", "EXACT"), ("Related kid", "RELATED"))  # obsolete dropped
    assert child.parents == ("HP:0000001",) and child.alt_ids == ("HP:0000009",)
    old = terms[2]
    assert old.obsolete and old.replaced_by == ("HP:0000002",) and old.consider == ("HP:0000001",)


def test_parse_hpoa_and_genes(tmp_path: Path) -> None:
    (tmp_path / "a.hpoa").write_text(HPOA)
    version, rows = parse_hpoa(tmp_path / "a.hpoa")
    assert version == "2099-01-01" and len(rows) == 2
    assert rows[0].frequency == "1/2" and rows[0].onset == "HP:0003577" and not rows[0].negated
    assert rows[1].negated
    (tmp_path / "g.txt").write_text(GENES)
    assert parse_genes(tmp_path / "g.txt") == [("10", "NAT2", "HP:0000002", "", "OMIM:100000")]


def test_parse_mondo(tmp_path: Path) -> None:
    data = {
        "MONDO:0000001": {"ancestors": {}, "label": "disease", "deprecated": False},
        "MONDO:0000002": {
            "ancestors": {"MONDO:0000003": 1, "MONDO:0000001": 2},
            "label": "child",
            "synonyms": ["kid"],
            "deprecated": False,
        },
        "MONDO:0000004": {
            "ancestors": {},
            "label": "obsolete x",
            "deprecated": True,
            "consider": ["obo.MONDO_0000002"],
        },
    }
    path = tmp_path / "MONDO-ontology-v2099-01-01.json.zst"
    path.write_bytes(zstandard.ZstdCompressor().compress(json.dumps(data).encode()))
    terms = {t.id: t for t in parse_mondo(path)}
    assert terms["MONDO:0000002"].parents == ("MONDO:0000003",)
    assert set(terms["MONDO:0000002"].ancestors) == {"MONDO:0000003", "MONDO:0000001"}
    assert terms["MONDO:0000004"].deprecated and terms["MONDO:0000004"].consider == (
        "MONDO:0000002",
    )
    assert normalize_obo_id("obo.HP_0000001") == "HP:0000001"


def test_parse_icd10cm_with_extensions_and_single_blocks(tmp_path: Path) -> None:
    xml = tmp_path / "icd.xml"
    xml.write_text(ICD_XML)
    codes = tmp_path / "codes.txt"
    codes.write_text("S72\nS720\nS720XXA\nT07\n")  # S72.0XXD is not a confirmed code
    entries = {e.id: e for e in parse_icd10cm(xml, codes)}
    assert entries["ICD10CM:19"].kind == "chapter" and entries["ICD10CM:19"].name == "Injury"
    block = entries["ICD10CM:S72-S72"]  # single-category block renamed so both ids exist
    assert block.kind == "block" and block.parent == "ICD10CM:19"
    assert entries["ICD10CM:S72"].parent == "ICD10CM:S72-S72"
    assert entries["ICD10CM:S72.0"].parent == "ICD10CM:S72"
    ext = entries["ICD10CM:S72.0XXA"]
    assert ext.extension and ext.parent == "ICD10CM:S72.0"
    assert ext.name == "Fracture of head and neck of femur, initial encounter"
    assert "ICD10CM:S72.0XXD" not in entries
    assert entries["ICD10CM:T07-T07"].kind == "block"
    assert len(parse_icd10cm(xml, None)) == len(entries) + 1  # without the list: XXD kept
