"""The 25 IFEval checkers as pure functions ``(args, value) -> bool``.

Each mirrors ``check_following`` of the matching class in lm-eval 0.4.13's
``tasks/ifeval/instructions.py`` line for line, quirks included (keywords are regular
expressions, ``-`` lines count as bullets, ``***`` splits paragraphs, the nth paragraph
is indexed before empty ones are dropped, ...). ``args`` is the normalised argument
mapping produced by :mod:`balancedbio.rewards.ifeval.registry`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from balancedbio.rewards.ifeval import _text

Args = Mapping[str, Any]
Checker = Callable[[Args, str], bool]

LESS_THAN = "less than"
AT_LEAST = "at least"
RELATIONS = (LESS_THAN, AT_LEAST)
CONSTRAINED_RESPONSE_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")

_BULLET_STAR = re.compile(r"^\s*\*[^\*].*$", flags=re.MULTILINE)
_BULLET_DASH = re.compile(r"^\s*-.*$", flags=re.MULTILINE)
_HIGHLIGHT = re.compile(r"\*[^\n\*]*\*")
_DOUBLE_HIGHLIGHT = re.compile(r"\*\*[^\n\*]*\*\*")
_PARAGRAPH_DIVIDER = re.compile(r"\s?\*\*\*\s?")
_PLACEHOLDER = re.compile(r"\[.*?\]")
_TITLE = re.compile(r"<<[^\n]+>>")
_PPS = re.compile(r"\s*p\.\s?p\.\s?s.*$", flags=re.MULTILINE)
_PS = re.compile(r"\s*p\.\s?s\..*$", flags=re.MULTILINE)
_FIRST_WORD_PUNCTUATION = frozenset({".", ",", "?", "!", "'", '"'})


def _compare(count: int, relation: str, threshold: int) -> bool:
    # lm-eval's checkers return None (falsy) for an unknown relation; the registry
    # rejects those, so only the two known relations reach here.
    return count < threshold if relation == LESS_THAN else count >= threshold


def keyword_existence(a: Args, value: str) -> bool:
    return all(re.search(kw, value, flags=re.IGNORECASE) for kw in a["keywords"])


def keyword_frequency(a: Args, value: str) -> bool:
    n = len(re.findall(a["keyword"], value, flags=re.IGNORECASE))
    return _compare(n, a["relation"], a["frequency"])


def forbidden_words(a: Args, value: str) -> bool:
    return not any(
        re.search(r"\b" + w + r"\b", value, flags=re.IGNORECASE) for w in a["forbidden_words"]
    )


def letter_frequency(a: Args, value: str) -> bool:
    # Counter(value.lower())[letter] == value.lower().count(letter) for one character.
    return _compare(value.lower().count(a["letter"]), a["let_relation"], a["let_frequency"])


def response_language(a: Args, value: str) -> bool:
    lang = _text.detect_language(value)
    return True if lang is None else lang == a["language"]


def number_sentences(a: Args, value: str) -> bool:
    return _compare(_text.count_sentences(value), a["relation"], a["num_sentences"])


def number_paragraphs(a: Args, value: str) -> bool:
    paragraphs = _PARAGRAPH_DIVIDER.split(value)
    num = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if index == 0 or index == len(paragraphs) - 1:
                num -= 1
            else:
                return False
    return num == a["num_paragraphs"]


def number_words(a: Args, value: str) -> bool:
    return _compare(_text.count_words(value), a["relation"], a["num_words"])


def nth_paragraph_first_word(a: Args, value: str) -> bool:
    paragraphs = value.split("\n\n")
    num = len(paragraphs) - sum(1 for p in paragraphs if not p.strip())
    nth = a["nth_paragraph"]
    if nth > num:
        return False
    # Indexes the list *before* empty paragraphs are dropped, as lm-eval does.
    paragraph = paragraphs[nth - 1].strip()
    if not paragraph:
        return False
    word = paragraph.split()[0].strip().lstrip("'").lstrip('"')
    first_word = ""
    for letter in word:
        if letter in _FIRST_WORD_PUNCTUATION:
            break
        first_word += letter.lower()
    return num == a["num_paragraphs"] and first_word == a["first_word"]


def number_placeholders(a: Args, value: str) -> bool:
    return len(_PLACEHOLDER.findall(value)) >= a["num_placeholders"]


def postscript(a: Args, value: str) -> bool:
    value = value.lower()
    marker = a["postscript_marker"]
    if marker == "P.P.S":
        pattern = _PPS
    elif marker == "P.S.":
        pattern = _PS
    else:
        pattern = re.compile(r"\s*" + marker.lower() + r".*$", flags=re.MULTILINE)
    # ``bool(re.findall(...))`` in lm-eval: true iff there is at least one match.
    return pattern.search(value) is not None


def number_bullet_lists(a: Args, value: str) -> bool:
    n = len(_BULLET_STAR.findall(value)) + len(_BULLET_DASH.findall(value))
    return n == a["num_bullets"]


def constrained_response(a: Args, value: str) -> bool:
    value = value.strip()
    return any(option in value for option in CONSTRAINED_RESPONSE_OPTIONS)


def number_highlighted_sections(a: Args, value: str) -> bool:
    n = sum(1 for h in _HIGHLIGHT.findall(value) if h.strip("*").strip())
    n += sum(
        1
        for h in _DOUBLE_HIGHLIGHT.findall(value)
        if h.removeprefix("**").removesuffix("**").strip()
    )
    return n >= a["num_highlights"]


def multiple_sections(a: Args, value: str) -> bool:
    pattern = r"\s?" + a["section_spliter"] + r"\s?\d+\s?"
    return len(re.split(pattern, value)) - 1 >= a["num_sections"]


def json_format(a: Args, value: str) -> bool:
    value = (
        value.strip()
        .removeprefix("```json")
        .removeprefix("```Json")
        .removeprefix("```JSON")
        .removeprefix("```")
        .removesuffix("```")
        .strip()
    )
    try:
        json.loads(value)
    except ValueError:
        return False
    return True


def title(a: Args, value: str) -> bool:
    return any(t.lstrip("<").rstrip(">").strip() for t in _TITLE.findall(value))


def two_responses(a: Args, value: str) -> bool:
    valid = []
    parts = value.split("******")
    for index, part in enumerate(parts):
        if not part.strip():
            if index != 0 and index != len(parts) - 1:
                return False
        else:
            valid.append(part)
    return len(valid) == 2 and valid[0].strip() != valid[1].strip()


def repeat_prompt(a: Args, value: str) -> bool:
    return value.strip().lower().startswith(a["prompt_to_repeat"].strip().lower())


def end_checker(a: Args, value: str) -> bool:
    return value.strip().strip('"').lower().endswith(a["end_phrase"].strip().lower())


def capital_word_frequency(a: Args, value: str) -> bool:
    n = sum(1 for word in _text.word_tokenize(value) if word.isupper())
    return _compare(n, a["capital_relation"], a["capital_frequency"])


def english_capital(a: Args, value: str) -> bool:
    if not value.isupper():
        return False
    lang = _text.detect_language(value)
    return True if lang is None else lang == "en"


def english_lowercase(a: Args, value: str) -> bool:
    if not value.islower():
        return False
    lang = _text.detect_language(value)
    return True if lang is None else lang == "en"


def no_comma(a: Args, value: str) -> bool:
    return "," not in value


def quotation(a: Args, value: str) -> bool:
    value = value.strip()
    return len(value) > 1 and value[0] == '"' and value[-1] == '"'
