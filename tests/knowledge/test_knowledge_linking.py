from __future__ import annotations

from balancedbio.knowledge import KnowledgeGraph
from balancedbio.knowledge.linking import link_by_name


def test_link_by_name_tiers_and_ambiguity() -> None:
    mondo = [
        (1, "Huntington disease", ["Huntington chorea"]),
        (2, "Ehlers-Danlos syndrome type 4", []),
        (3, "shared name A", []),
        (4, "shared name A", []),
        (5, "Spinocerebellar ataxia", []),
    ]
    diseases = [
        (10, ["HUNTINGTON DISEASE"]),
        (11, ["Huntington chorea"]),
        (12, ["Ehlers-Danlos syndrome, 4"]),
        (13, ["Shared name A"]),
        (14, ["Spinocerebellar ataxia 1"]),
    ]
    links, report = link_by_name(mondo, diseases)
    assert (1, 10) in links and (1, 11) in links
    assert (2, 12) in links  # "type 4" == "4", the number itself is kept
    assert not any(d == 13 for _, d in links)  # ambiguous
    assert not any(d == 14 for _, d in links)  # subtype never linked to the parent disease
    assert report["ambiguous_names"] == 1 and report["mondo_linked"] == 2


def test_real_mondo_links(kg: KnowledgeGraph) -> None:
    links = kg.mondo_links
    assert links["mondo_linked"] > 8000
    xrefs = {(x.subject, x.object, x.evidence) for x in kg.xrefs("MONDO:0007739")}
    assert ("MONDO:0007739", "OMIM:143100", "name-match") in xrefs
    assert ("MONDO:0007739", "ORPHA:399", "name-match") in xrefs
    assert any(x.subject == "MONDO:0007739" for x in kg.xrefs("OMIM:143100"))
