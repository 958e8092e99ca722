"""The IFEval instruction registry: ids, argument names, validation and checkers.

Validation mirrors what lm-eval 0.4.13 does with a row's kwargs (``build_description``):
falsy values are dropped first (``{k: v for k, v in kwargs.items() if v}``, so ``0`` and
``""`` count as absent, and the many ``None`` keys of the IFEval dataset are ignored),
then each argument is normalised as lm-eval stores it (keywords sorted, forbidden words
de-duplicated, letters lower-cased, phrases stripped). Where lm-eval would *draw a
random value* (an absent argument, a negative count, an out-of-range paragraph index,
a non-letter) or crash, we raise :class:`IFEvalKwargsError` instead: a verdict that
depends on ``random`` cannot be reproduced.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from balancedbio.config import ConfigError, choice_error
from balancedbio.rewards.ifeval import checks

Normalizer = Callable[[str, Mapping[str, Any]], dict[str, Any]]

# ISO 639-1 codes accepted by language:response_language (lm-eval's LANGUAGE_CODES).
LANGUAGE_CODES: Mapping[str, str] = {
    "en": "English", "es": "Spanish", "pt": "Portuguese", "ar": "Arabic", "hi": "Hindi",
    "fr": "French", "ru": "Russian", "de": "German", "ja": "Japanese", "it": "Italian",
    "bn": "Bengali", "uk": "Ukrainian", "th": "Thai", "ur": "Urdu", "ta": "Tamil",
    "te": "Telugu", "bg": "Bulgarian", "ko": "Korean", "pl": "Polish", "he": "Hebrew",
    "fa": "Persian", "vi": "Vietnamese", "ne": "Nepali", "sw": "Swahili", "kn": "Kannada",
    "mr": "Marathi", "gu": "Gujarati", "pa": "Punjabi", "ml": "Malayalam", "fi": "Finnish",
}  # fmt: skip


class IFEvalKwargsError(ConfigError):
    """The kwargs given for an instruction are unknown, missing or invalid."""


@dataclass(frozen=True)
class InstructionSpec:
    """One instruction type: its argument names, validator and checker."""

    id: str
    params: tuple[str, ...]
    normalize: Normalizer
    check: checks.Checker


# --------------------------------------------------------------------------- validators


def _missing(iid: str, name: str) -> IFEvalKwargsError:
    return IFEvalKwargsError(
        f"{iid}: kwarg {name!r} is required (lm-eval drops falsy values such as 0, '' and "
        "None and would then draw a random value, which cannot be checked reproducibly)"
    )


def _int(iid: str, kw: Mapping[str, Any], name: str, *, allow_negative: bool = False) -> int:
    if name not in kw:
        raise _missing(iid, name)
    value = kw[name]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise IFEvalKwargsError(f"{iid}: kwarg {name!r} must be an integer, got {value!r}")
    value = int(value)
    if value < 0 and not allow_negative:
        raise IFEvalKwargsError(
            f"{iid}: kwarg {name!r} must be positive, got {value} "
            "(lm-eval replaces a negative value with a random one)"
        )
    return value


def _str(iid: str, kw: Mapping[str, Any], name: str) -> str:
    if name not in kw:
        raise _missing(iid, name)
    value = kw[name]
    if not isinstance(value, str):
        raise IFEvalKwargsError(f"{iid}: kwarg {name!r} must be a string, got {value!r}")
    return value


def _str_list(iid: str, kw: Mapping[str, Any], name: str) -> list[str]:
    if name not in kw:
        raise _missing(iid, name)
    value = kw[name]
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise IFEvalKwargsError(f"{iid}: kwarg {name!r} must be a list of strings, got {value!r}")
    if not all(isinstance(v, str) for v in value):
        raise IFEvalKwargsError(f"{iid}: kwarg {name!r} must hold only strings, got {value!r}")
    return list(value)


def _relation(iid: str, kw: Mapping[str, Any], name: str) -> str:
    if name not in kw:
        raise _missing(iid, name)
    value = kw[name]
    if value not in checks.RELATIONS:
        raise IFEvalKwargsError(str(choice_error(f"{iid} {name}", value, checks.RELATIONS)))
    return value


def _regex(iid: str, name: str, pattern: str) -> None:
    """lm-eval uses these strings as regular expressions: reject what ``re`` cannot compile."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise IFEvalKwargsError(f"{iid}: kwarg {name!r} is not a valid regex: {exc}") from exc


# --------------------------------------------------------------------------- normalizers


def _no_args(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _existence(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    keywords = sorted(_str_list(iid, kw, "keywords"))
    for k in keywords:
        _regex(iid, "keywords", k)
    return {"keywords": keywords}


def _frequency(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    keyword = _str(iid, kw, "keyword").strip()
    _regex(iid, "keyword", keyword)
    return {
        "keyword": keyword,
        "frequency": _int(iid, kw, "frequency"),
        "relation": _relation(iid, kw, "relation"),
    }


def _forbidden(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    words = sorted(set(_str_list(iid, kw, "forbidden_words")))
    for w in words:
        _regex(iid, "forbidden_words", r"\b" + w + r"\b")
    return {"forbidden_words": words}


def _letter(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    letter = _str(iid, kw, "letter")
    if len(letter) != 1 or len(letter.lower()) != 1 or not 97 <= ord(letter.lower()) <= 122:
        raise IFEvalKwargsError(
            f"{iid}: kwarg 'letter' must be one ASCII letter, got {letter!r} "
            "(lm-eval would draw a random letter)"
        )
    return {
        "letter": letter.strip().lower(),
        "let_frequency": _int(iid, kw, "let_frequency"),
        "let_relation": _relation(iid, kw, "let_relation"),
    }


def _language(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    language = _str(iid, kw, "language")
    if language not in LANGUAGE_CODES:
        raise IFEvalKwargsError(str(choice_error(f"{iid} language", language, LANGUAGE_CODES)))
    return {"language": language}


def _sentences(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "num_sentences": _int(iid, kw, "num_sentences"),
        "relation": _relation(iid, kw, "relation"),
    }


def _words(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    return {"num_words": _int(iid, kw, "num_words"), "relation": _relation(iid, kw, "relation")}


def _count(name: str) -> Normalizer:
    def normalize(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
        return {name: _int(iid, kw, name)}

    return normalize


def _nth_paragraph(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    num = _int(iid, kw, "num_paragraphs")
    nth = _int(iid, kw, "nth_paragraph")
    if not 1 <= nth <= num:
        raise IFEvalKwargsError(
            f"{iid}: kwarg 'nth_paragraph' must be in 1..num_paragraphs ({num}), got {nth} "
            "(lm-eval would draw a random one)"
        )
    return {
        "num_paragraphs": num,
        "nth_paragraph": nth,
        "first_word": _str(iid, kw, "first_word").lower(),
    }


def _postscript(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    marker = _str(iid, kw, "postscript_marker").strip()
    if marker not in ("P.P.S", "P.S."):
        _regex(iid, "postscript_marker", marker.lower())
    return {"postscript_marker": marker}


def _sections(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    spliter = _str(iid, kw, "section_spliter").strip()
    _regex(iid, "section_spliter", spliter)
    return {"section_spliter": spliter, "num_sections": _int(iid, kw, "num_sections")}


def _repeat(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    return {"prompt_to_repeat": _str(iid, kw, "prompt_to_repeat")}


def _end(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    return {"end_phrase": _str(iid, kw, "end_phrase").strip()}


def _capital_frequency(iid: str, kw: Mapping[str, Any]) -> dict[str, Any]:
    return {
        # lm-eval does not reject negative values here (the check is then trivially set).
        "capital_frequency": _int(iid, kw, "capital_frequency", allow_negative=True),
        "capital_relation": _relation(iid, kw, "capital_relation"),
    }


# --------------------------------------------------------------------------- registry

_SPECS: tuple[InstructionSpec, ...] = (
    InstructionSpec("keywords:existence", ("keywords",), _existence, checks.keyword_existence),
    InstructionSpec(
        "keywords:frequency",
        ("keyword", "frequency", "relation"),
        _frequency,
        checks.keyword_frequency,
    ),
    InstructionSpec(
        "keywords:forbidden_words", ("forbidden_words",), _forbidden, checks.forbidden_words
    ),
    InstructionSpec(
        "keywords:letter_frequency",
        ("letter", "let_frequency", "let_relation"),
        _letter,
        checks.letter_frequency,
    ),
    InstructionSpec(
        "language:response_language", ("language",), _language, checks.response_language
    ),
    InstructionSpec(
        "length_constraints:number_sentences",
        ("num_sentences", "relation"),
        _sentences,
        checks.number_sentences,
    ),
    InstructionSpec(
        "length_constraints:number_paragraphs",
        ("num_paragraphs",),
        _count("num_paragraphs"),
        checks.number_paragraphs,
    ),
    InstructionSpec(
        "length_constraints:number_words", ("num_words", "relation"), _words, checks.number_words
    ),
    InstructionSpec(
        "length_constraints:nth_paragraph_first_word",
        ("num_paragraphs", "nth_paragraph", "first_word"),
        _nth_paragraph,
        checks.nth_paragraph_first_word,
    ),
    InstructionSpec(
        "detectable_content:number_placeholders",
        ("num_placeholders",),
        _count("num_placeholders"),
        checks.number_placeholders,
    ),
    InstructionSpec(
        "detectable_content:postscript", ("postscript_marker",), _postscript, checks.postscript
    ),
    InstructionSpec(
        "detectable_format:number_bullet_lists",
        ("num_bullets",),
        _count("num_bullets"),
        checks.number_bullet_lists,
    ),
    InstructionSpec(
        "detectable_format:constrained_response", (), _no_args, checks.constrained_response
    ),
    InstructionSpec(
        "detectable_format:number_highlighted_sections",
        ("num_highlights",),
        _count("num_highlights"),
        checks.number_highlighted_sections,
    ),
    InstructionSpec(
        "detectable_format:multiple_sections",
        ("section_spliter", "num_sections"),
        _sections,
        checks.multiple_sections,
    ),
    InstructionSpec("detectable_format:json_format", (), _no_args, checks.json_format),
    InstructionSpec("detectable_format:title", (), _no_args, checks.title),
    InstructionSpec("combination:two_responses", (), _no_args, checks.two_responses),
    InstructionSpec(
        "combination:repeat_prompt", ("prompt_to_repeat",), _repeat, checks.repeat_prompt
    ),
    InstructionSpec("startend:end_checker", ("end_phrase",), _end, checks.end_checker),
    InstructionSpec(
        "change_case:capital_word_frequency",
        ("capital_frequency", "capital_relation"),
        _capital_frequency,
        checks.capital_word_frequency,
    ),
    InstructionSpec("change_case:english_capital", (), _no_args, checks.english_capital),
    InstructionSpec("change_case:english_lowercase", (), _no_args, checks.english_lowercase),
    InstructionSpec("punctuation:no_comma", (), _no_args, checks.no_comma),
    InstructionSpec("startend:quotation", (), _no_args, checks.quotation),
)

REGISTRY: Mapping[str, InstructionSpec] = {spec.id: spec for spec in _SPECS}
INSTRUCTION_IDS: tuple[str, ...] = tuple(REGISTRY)
"""The 25 instruction ids of lm-eval 0.4.13's ``ifeval`` task, in its registry order."""
INSTRUCTION_ARGS: Mapping[str, tuple[str, ...]] = {s.id: s.params for s in _SPECS}
"""Argument names each instruction accepts (all required; instructions with none: ``()``)."""


def get_spec(instruction_id: str) -> InstructionSpec:
    """The spec of ``instruction_id``; a :class:`ConfigError` listing valid ids otherwise."""
    try:
        return REGISTRY[instruction_id]
    except (KeyError, TypeError):
        raise choice_error("IFEval instruction id", instruction_id, INSTRUCTION_IDS) from None


def normalize_kwargs(instruction_id: str, kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``kwargs`` for ``instruction_id`` and return them as lm-eval stores them."""
    spec = get_spec(instruction_id)
    if kwargs is None:
        kwargs = {}
    if not isinstance(kwargs, Mapping):
        raise IFEvalKwargsError(f"{instruction_id}: kwargs must be a mapping, got {kwargs!r}")
    present = {k: v for k, v in kwargs.items() if v}
    unknown = sorted(set(present) - set(spec.params), key=str)
    if unknown:
        valid = ", ".join(spec.params) or "none"
        raise IFEvalKwargsError(
            f"{instruction_id}: unknown kwarg(s) {', '.join(map(repr, unknown))}; valid: {valid}"
        )
    return spec.normalize(instruction_id, present)
