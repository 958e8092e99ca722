from __future__ import annotations

from itertools import repeat
from typing import Any

from balancedbio.knowledge import KnowledgeGraph, Mention
from balancedbio.knowledge.normalize import tokenize


def spans(mentions: list[Mention]) -> list[tuple[str, str]]:
    return [(m.text, m.id) for m in mentions]


def test_ground_basic_spans(kg: KnowledgeGraph) -> None:
    text = "A 7-year-old with recurrent Seizures and short stature; father has Huntington disease."
    mentions = kg.ground(text)
    assert spans(mentions) == [
        ("Seizures", "HP:0001250"),
        ("short stature", "HP:0004322"),
        ("Huntington disease", "MONDO:0007739"),
    ]
    for m in mentions:
        assert text[m.start : m.end] == m.text
    assert mentions[0].source == "hpo" and mentions[0].name == "Seizure"
    assert mentions[2].source == "mondo"
    assert kg.ground_spans(text) == [(m.start, m.end, m.id, m.name) for m in mentions]


def test_longest_match_wins(kg: KnowledgeGraph) -> None:
    m = kg.ground("diagnosed with type 2 diabetes mellitus last year")
    assert spans(m) == [("type 2 diabetes mellitus", "MONDO:0005148")]
    m = kg.ground("Bilateral tonic-clonic seizure and focal seizures were observed.")
    assert spans(m) == [
        ("Bilateral tonic-clonic seizure", "HP:0002069"),  # not "seizure" (HP:0001250)
        ("focal seizures", "HP:0007359"),
    ]


def test_punctuation_whitespace_and_case(kg: KnowledgeGraph) -> None:
    m = kg.ground("SHORT-STATURE,\n\nand  Short\n stature.")
    assert [x.id for x in m] == ["HP:0004322", "HP:0004322"]
    assert m[1].text == "Short\n stature"


def test_word_boundaries_and_noise(kg: KnowledgeGraph) -> None:
    assert kg.ground("antiseizures") == []  # no match inside a word
    assert kg.ground("All other findings were normal and the disease is rare.") == []
    assert kg.ground("") == [] and kg.ground(None) == []  # type: ignore[arg-type]
    # abbreviation synonyms need their exact case: MEN (multiple endocrine neoplasia), not "men"
    assert spans(kg.ground("MEN")) == [("MEN", "MONDO:0017169")]
    assert kg.ground("two men arrived") == []


def test_ground_unicode_offsets(kg: KnowledgeGraph) -> None:
    text = "Çocuk — “seizures” ve short stature…"
    for m in kg.ground(text):
        assert text[m.start : m.end] == m.text
    assert [m.id for m in kg.ground(text)] == ["HP:0001250", "HP:0004322"]


def test_no_mention_across_sentences(kg: KnowledgeGraph) -> None:
    text = "Rhegmatogenous retinal detachment. Autosomal dominant inheritance."
    assert spans(kg.ground(text)) == [
        ("Rhegmatogenous retinal detachment", "HP:0012230"),
        ("Autosomal dominant inheritance", "HP:0000006"),
    ]
    assert spans(kg.ground("Seen in deafness. Autosomal recessive 1A")) == [
        ("deafness", "HP:0000365"),
        ("Autosomal recessive", "HP:0000007"),
    ]
    # one sentence: the comma does not split the name
    m = kg.ground("Deafness, autosomal recessive 1A was confirmed.")
    assert spans(m) == [("Deafness, autosomal recessive 1A", "OMIM:220290")]
    # a name that itself contains a period still grounds whole
    assert spans(kg.ground("St. Louis encephalitis was seen."))[0][1] == "MONDO:0005969"


def _select_plain(g: Any, text: str) -> list[tuple[int, int, int]]:
    """``Grounder._select`` from :func:`tokenize`'s token list (the reference its
    pieces-based fast path must match)."""
    if not isinstance(text, str) or not text or not g.n_keys:
        return []
    tokens, starts, ends = tokenize(text)
    encoded = "".join(map(g._codes.get, tokens, repeat(g._unknown)))
    hits = [
        (starts[(last := end // g.width) - more] - ends[last], last - more, last, key, case)
        for end, (key, more, case) in g.automaton.iter(encoded)
    ]
    return g._greedy(text, hits, starts, ends, 0) if hits else hits


def test_fast_select_matches_plain_on_fuzzed_text(kg: KnowledgeGraph) -> None:
    """The pieces-based ``_select`` equals the ``tokenize``-based reference: names, their
    fragments and case variants, runs of spaces/punctuation, sentence breaks, non-ASCII."""
    import random

    g = kg.grounder
    names = g.node_names[:2000]
    words = [w for n in names for w in n.split()] + [tok for tok in g._codes if tok][:500]
    seps = [" ", "  ", ", ", ". ", "! ", ".\n", "-", " (", ") ", ": ", "\t", " é ", " İ", "Σ "]
    rng = random.Random(7)
    for _ in range(600):
        parts = []
        for _ in range(rng.randint(1, 40)):
            w = rng.choice(names) if rng.random() < 0.3 else rng.choice(words)
            w = rng.choice([w, w.upper(), w.title(), w.lower()])
            parts += [w, rng.choice(seps)]
        text = "".join(parts)[: rng.randint(1, 600)]
        assert g._select(text) == _select_plain(g, text), text
    for text in ("", " ", "  x  ", "Seizures", "MEN 2 and men", "St. Louis encephalitis. Seizure"):
        assert g._select(text) == _select_plain(g, text)
