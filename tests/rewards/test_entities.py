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


def _negated_reference(text: str) -> list[tuple[int, int]]:
    """``negated_spans`` by its case-insensitive patterns alone (no ASCII shortcut)."""
    import bisect

    from balancedbio.rewards.entities import _CLAUSE_END, _NEG_CUE

    ends = [m.start() for m in _CLAUSE_END.finditer(text)]
    spans: list[tuple[int, int]] = []
    for m in _NEG_CUE.finditer(text):
        k = bisect.bisect_left(ends, m.end())
        end = ends[k] if k < len(ends) else len(text)
        if spans and m.start() <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((m.start(), end))
    return spans


def _phrases_reference(text: str) -> list[tuple[int, int]]:
    """``phrase_spans`` by its case-insensitive patterns alone (no ASCII shortcut)."""
    from balancedbio.rewards.entities import _LEAD, _PHRASE_SEP

    spans, pos = [], 0
    for m in [*_PHRASE_SEP.finditer(text), None]:
        stop = m.start() if m is not None else len(text)
        start = _LEAD.match(text, pos, stop).end()  # type: ignore[union-attr]
        piece = text[start:stop].rstrip(" \t*_")
        if any(map(str.isalpha, piece)):
            spans.append((start, start + len(piece)))
        pos = m.end() if m is not None else len(text)
    return spans


def test_ascii_shortcuts_match_the_case_insensitive_patterns() -> None:
    """Negation cues and phrase separators found in lower-cased ASCII text (with a word-set
    prefilter for cues) are exactly those of the case-insensitive patterns."""
    import random

    from balancedbio.rewards.entities import _phrase_spans, negated_spans

    words = "No not NOT denies Denied without absent negative for free of rule rules ruled out"
    words += " excluded but However whereas and OR With plus also a An the some mild marked"
    words += " severe fever 1. 2) - * # > 3.5 e.g. rash \u2022 knot noted andes orange isnot"
    pieces = [*words.split(), ",", ";", ":", ".", "\n", "\u212a", "caf\u00e9"]
    rng = random.Random(0)
    for _ in range(3000):
        text = rng.choice(["", " ", ", ", "."]).join(
            rng.choice(pieces) for _ in range(rng.randint(0, 12))
        )
        assert negated_spans(text) == _negated_reference(text), text
        assert _phrase_spans(text) == _phrases_reference(text), text


def test_fast_entities_equal_dataclass_ones() -> None:
    from balancedbio.rewards.entities import Entity, _entity

    ids = ("MONDO:0007947", "HP:0001166", "OMIM:154700", "ICD10CM:Q87.4", "NCBIGene:1")
    fast, plain = _entity(0, 6, "Marfan", ids), Entity(0, 6, "Marfan", ids)
    assert fast == plain and hash(fast) == hash(plain) and repr(fast) == repr(plain)
    for e in (fast, plain):
        assert e.diseases == ("MONDO:0007947", "OMIM:154700") == e.diseases
        assert e.phenotypes == ("HP:0001166",) and e.icd == ("ICD10CM:Q87.4",)
    assert fast == plain and repr(fast) == repr(plain)  # kinds cached, fields unchanged


def test_curie_prefilter_never_hides_a_curie() -> None:
    from balancedbio.rewards.entities import _CURIE, _may_cite

    texts = [
        "Presentation: none",
        "see OMIM:154700 and HP: 0001250",
        "ICD10CM:E11.9",
        "xHP:1",
        "MONDO:",
        "DECIPHER:12; ORPHA:558",
        "hp:0001250",
        "a: b: c",
    ]
    for text in texts:
        if _CURIE.search(text):
            assert _may_cite(text), text
    assert not _may_cite("Presentation: 9-year-old girl")


def test_find_entities_per_key_ids_match_the_plain_path(kg: KnowledgeGraph) -> None:
    """Entities of ASCII text read ids per dictionary key; they equal the plain per-span
    computation (grounded id, then the span's and the name's lookups), in any spelling."""
    import random

    from balancedbio.rewards.entities import _CURIE, _find_entities, _unique

    names = kg.grounder.node_names[:3000]
    rng = random.Random(3)
    seps = [" ", ", ", "; ", ".\n", " and ", "  ", "-", " (", ") ", ": ", " \u00e9 "]
    for _ in range(300):
        parts = []
        for _ in range(rng.randint(1, 12)):
            name = rng.choice(names)
            spelled = rng.choice([name, name.upper(), name.lower(), name.title()])
            parts += [spelled, rng.choice(seps)]
        text = "".join(parts)
        if _CURIE.search(text):
            continue
        for offset in (0, 7):
            got = _find_entities(kg, text, offset)
            want = [
                (s + offset, e + offset, span, _unique([i, *kg.lookup(span), *kg.lookup(n)]))
                for s, e, i, n in kg.ground_spans(text)
                for span in [text[s:e]]
            ]
            assert [(x.start, x.end, x.text, x.ids) for x in got] == want, text
