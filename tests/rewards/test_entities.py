"""Entities of free text: grounded spans with every id their text names, and CURIEs."""

from __future__ import annotations

from balancedbio.knowledge import KnowledgeGraph
from balancedbio.rewards.entities import find_entities


def test_find_entities_ids_curies_and_offset(kg: KnowledgeGraph) -> None:
    text = "Marfan syndrome (OMIM:154700) with arachnodactyly; HP:0001250 and seizures."
    ents = find_entities(kg, text)
    assert [e.text for e in ents] == [
        "Marfan syndrome",
        "OMIM:154700",
        "arachnodactyly",
        "HP:0001250",
        "seizures",
    ]
    for e in ents:
        assert text[e.start : e.end] == e.text
    marfan = ents[0]
    assert marfan.ids[0] == kg.ground("Marfan syndrome")[0].id
    assert "OMIM:154700" in marfan.ids and marfan.diseases == marfan.ids[: len(marfan.diseases)]
    assert ents[3].ids[0] == "HP:0001250" and ents[4].ids == ("HP:0001250",)
    # Offsets shift, nothing else changes; a repeated call (memoized ids) gives the same.
    shifted = find_entities(kg, text, offset=100)
    assert [(e.start - 100, e.end - 100, e.text, e.ids) for e in shifted] == [
        (e.start, e.end, e.text, e.ids) for e in ents
    ]
    assert find_entities(kg, text) == ents


def test_find_entities_short_texts(kg: KnowledgeGraph) -> None:
    ents = find_entities(kg, "Seizure (see HP:0001250).")
    assert [(e.text, e.ids[0]) for e in ents] == [
        ("Seizure", "HP:0001250"),
        ("HP:0001250", "HP:0001250"),
    ]
    assert find_entities(kg, "") == [] and find_entities(kg, "nothing here") == []


def test_memoized_results_are_copies(kg: KnowledgeGraph) -> None:
    from balancedbio.rewards.entities import lookup_phrases, phrase_spans

    text = "Tall stature, arachnodactyly and seizures."
    first = find_entities(kg, text)
    assert [e.text for e in first][-2:] == ["arachnodactyly", "seizures"]
    expected = list(first)
    first.clear()
    assert find_entities(kg, text) == expected
    spans = phrase_spans(text)
    spans.clear()
    assert phrase_spans(text) == [(0, 12), (14, 28), (33, 41)]
    # offsets given to lookup_phrases shift its entities and its result alike
    ents = find_entities(kg, text)
    moved = lookup_phrases(kg, text, find_entities(kg, text, 7), 7)
    assert [(e.start - 7, e.end - 7, e.text, e.ids) for e in moved] == [
        (e.start, e.end, e.text, e.ids) for e in lookup_phrases(kg, text, ents)
    ]
