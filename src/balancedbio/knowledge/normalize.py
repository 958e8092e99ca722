"""Text normalization and identifier syntax shared by lookup, grounding and fact checking.

``normalize`` is the single definition of "the same name": lower case, every character that
is not a letter or digit becomes a space, runs of spaces collapse. Grounding applies exactly
the same transform to running text (:func:`tokenize` keeps each token's offsets), so a name
matches in text iff its normalized tokens occur there as consecutive whole tokens.
"""

from __future__ import annotations

import re
from itertools import accumulate, compress, repeat
from operator import add

_NON_WORD = re.compile(r"[\W_]+")
_NON_WORD_CHAR = re.compile(r"[^\w ]|_")
#: ASCII fast path: lower-case letters, keep digits, everything else becomes a space.
_ASCII_TABLE = {c: (chr(c).lower() if chr(c).isalnum() else " ") for c in range(128)}
#: ``_ASCII_TABLE`` as a bytes table: ``bytes.translate`` of the encoded text is several
#: times cheaper than ``str.translate`` with a dict (which rebuilds its cache every call).
_ASCII_BYTES = bytes(ord(_ASCII_TABLE[c]) for c in range(128)) + bytes(range(128, 256))


def _ascii_flat(text: str) -> str:
    """``text.translate(_ASCII_TABLE)`` for an ASCII ``text``."""
    return text.encode().translate(_ASCII_BYTES).decode()


def normalize(text: str) -> str:
    """Case-, punctuation- and whitespace-insensitive form of a name (``""`` if none left)."""
    if text.isascii():
        return " ".join(_ascii_flat(text).split())
    return " ".join(_NON_WORD.sub(" ", _lower_same_length(text)).split())


def _lower_same_length(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    # A few characters (e.g. U+0130) lower-case to two; keep those as-is so offsets hold.
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def tokenize(text: str) -> tuple[list[str], list[int], list[int]]:
    """Normalized tokens of running text with their ``[start, end)`` offsets in ``text``.

    ``" ".join(tokens) == normalize(text)``: the same transform, keeping positions, so a
    name matches in text iff its normalized tokens occur as consecutive tokens. Pure Python
    on C-level iterators: grounding tokenizes many short texts, where numpy's per-call
    overhead dominated.
    """
    # Only " " separates tokens in ``flat``; the pieces between single spaces (empty where
    # spaces repeat) each start one past the end of the previous one.
    pieces = split_pieces(text)
    tokens = list(filter(None, pieces))
    offsets = accumulate(map(add, map(len, pieces), repeat(1)), initial=0)
    starts = list(compress(offsets, pieces))
    return tokens, starts, list(map(add, starts, map(len, tokens)))


def split_pieces(text: str) -> list[str]:
    """``text`` normalized in place (same length: non-word characters become spaces) and
    split at each single space: the tokens of :func:`tokenize`, with ``""`` where spaces
    repeat. Piece ``j`` starts at ``sum(len(p) + 1 for p in pieces[:j])``."""
    if text.isascii():
        return text.encode().translate(_ASCII_BYTES).decode().split(" ")
    return _NON_WORD_CHAR.sub(" ", _lower_same_length(text)).split(" ")


# --------------------------------------------------------------------------- identifiers

#: Accepted spellings of CURIE prefixes (upper-cased) -> canonical prefix.
PREFIX_ALIASES: dict[str, str] = {
    "HP": "HP",
    "HPO": "HP",
    "MONDO": "MONDO",
    "OMIM": "OMIM",
    "MIM": "OMIM",
    "ORPHA": "ORPHA",
    "ORPHANET": "ORPHA",
    "DECIPHER": "DECIPHER",
    "NCBIGENE": "NCBIGene",
    "NCBI GENE": "NCBIGene",
    "ICD10CM": "ICD10CM",
    "ICD-10-CM": "ICD10CM",
    "ICD10": "ICD10CM",
    "ICD-10": "ICD10CM",
}

#: Local-part syntax per canonical prefix, with a human description for error messages.
_ID_SYNTAX: dict[str, tuple[re.Pattern[str], str]] = {
    "HP": (re.compile(r"\d{7}"), "HP:NNNNNNN (7 digits)"),
    "MONDO": (re.compile(r"\d{7}"), "MONDO:NNNNNNN (7 digits)"),
    "OMIM": (re.compile(r"\d{6}"), "OMIM:NNNNNN (6 digits)"),
    "ORPHA": (re.compile(r"\d+"), "ORPHA:N (digits)"),
    "DECIPHER": (re.compile(r"\d+"), "DECIPHER:N (digits)"),
    "NCBIGene": (re.compile(r"\d+"), "NCBIGene:N (digits)"),
}

_ICD_CODE = re.compile(r"([A-Z]\d[0-9A-Z])\.?([0-9A-Z]{1,4})?")
_ICD_BLOCK = re.compile(r"([A-Z]\d[0-9A-Z])-([A-Z]\d[0-9A-Z])")
_ICD_CHAPTER = re.compile(r"(?:CHAPTER[ _-]?)?(\d{1,2})")
ICD_SYNTAX = "an ICD-10-CM code like E11.9 (dot optional), a block like E08-E13 or a chapter number"


def icd_candidates(local: str, *, chapter_numbers: bool) -> list[str] | None:
    """Canonical graph ids an ICD-10-CM spelling may denote, most specific first.

    ``"e119"`` -> ``["ICD10CM:E11.9"]``; ``"C50"`` -> the category, then the one-category
    block ``ICD10CM:C50-C50``; ``"4"`` / ``"chapter 4"`` -> ``["ICD10CM:4"]`` (only with
    ``chapter_numbers``). ``None`` if the text is not ICD-10-CM syntax at all.
    """
    text = local.strip().upper()
    m = _ICD_CODE.fullmatch(text)
    if m:
        head, tail = m.groups()
        if tail:
            return [f"ICD10CM:{head}.{tail}"]
        return [f"ICD10CM:{head}", f"ICD10CM:{head}-{head}"]
    if _ICD_BLOCK.fullmatch(text):
        return [f"ICD10CM:{text}"]
    m = _ICD_CHAPTER.fullmatch(text)
    if m and (chapter_numbers or text.startswith("CHAPTER")):
        return [f"ICD10CM:{int(m.group(1))}"]
    return None


def split_curie(text: str) -> tuple[str | None, str]:
    """``" hp:0001250 "`` -> ``("HP", "0001250")``; prefix ``None`` if none is recognized."""
    text = text.strip()
    head, sep, tail = text.partition(":")
    if not sep:
        return None, text
    prefix = PREFIX_ALIASES.get(head.strip().upper())
    return (prefix, tail.strip()) if prefix else (None, text)


def syntax_problem(prefix: str, local: str) -> str | None:
    """Why ``prefix:local`` is malformed, or ``None`` if its syntax is fine."""
    if prefix == "ICD10CM":
        if icd_candidates(local, chapter_numbers=True) is None:
            return f"malformed id {prefix}:{local!s}: expected {ICD_SYNTAX}"
        return None
    pattern, expected = _ID_SYNTAX[prefix]
    if not pattern.fullmatch(local):
        return f"malformed id {prefix}:{local}: expected {expected}"
    return None
