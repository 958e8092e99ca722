from __future__ import annotations

import pytest

from balancedbio.knowledge.normalize import (
    icd_candidates,
    normalize,
    split_curie,
    syntax_problem,
    tokenize,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Short  stature", "short stature"),
        ("Huntington's disease", "huntington s disease"),
        ("  Ehlers-Danlos syndrome, type 4 ", "ehlers danlos syndrome type 4"),
        ("Straße—Ünïcode", "straße ünïcode"),
        ("!!!", ""),
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Seizures, (focal)!  Short-stature\n",
        "Ünïcode—Straße  İx",
        "",
        "   ",
        "a",
        "x\u00a0y\u2028z",
        "  lead and trail  ",
        "a__b--c  d\te\x1cf",
    ],
)
def test_tokenize_matches_normalize_and_offsets(text: str) -> None:
    tokens, starts, ends = tokenize(text)
    assert " ".join(tokens) == normalize(text)
    assert len(tokens) == len(starts) == len(ends)
    for tok, s, e in zip(tokens, starts, ends, strict=True):
        assert normalize(text[s:e]) == tok


def test_icd_candidates() -> None:
    assert icd_candidates("e119", chapter_numbers=False) == ["ICD10CM:E11.9"]
    assert icd_candidates("E11.9", chapter_numbers=False) == ["ICD10CM:E11.9"]
    assert icd_candidates("C50", chapter_numbers=False) == ["ICD10CM:C50", "ICD10CM:C50-C50"]
    assert icd_candidates("E08-E13", chapter_numbers=False) == ["ICD10CM:E08-E13"]
    assert icd_candidates("4", chapter_numbers=False) is None
    assert icd_candidates("4", chapter_numbers=True) == ["ICD10CM:4"]
    assert icd_candidates("Chapter 4", chapter_numbers=False) == ["ICD10CM:4"]
    assert icd_candidates("seizure", chapter_numbers=True) is None


def test_curie_and_syntax() -> None:
    assert split_curie(" hp:0001250 ") == ("HP", "0001250")
    assert split_curie("Orphanet:399") == ("ORPHA", "399")
    assert split_curie("XX:1") == (None, "XX:1")
    assert syntax_problem("HP", "abc") is not None
    assert syntax_problem("HP", "0001250") is None
    assert syntax_problem("OMIM", "12") is not None


def test_ascii_bytes_translation_equals_the_table() -> None:
    from balancedbio.knowledge.normalize import _ASCII_TABLE, _ascii_flat

    text = "".join(map(chr, range(128))) * 2
    assert _ascii_flat(text) == text.translate(_ASCII_TABLE)


def test_split_pieces_are_tokens_with_offsets() -> None:
    from itertools import accumulate

    from balancedbio.knowledge.normalize import split_pieces, tokenize

    for text in ("", "  a--b  c.", "Short-STATURE,\n\nand  x", "İstanbul Σ caf\u00e9  x", "ab"):
        pieces = split_pieces(text)
        starts = list(accumulate((len(p) + 1 for p in pieces[:-1]), initial=0))
        tokens, t_starts, t_ends = tokenize(text)
        assert [p for p in pieces if p] == tokens
        assert [s for s, p in zip(starts, pieces, strict=True) if p] == t_starts
        assert [s + len(p) for s, p in zip(starts, pieces, strict=True) if p] == t_ends
