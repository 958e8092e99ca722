"""Build a response that provably follows a set of IFEval instructions.

Given content sentences, :func:`compose` shapes them in a fixed order so that later steps
cannot undo earlier ones: content (keywords, placeholders, highlights, forbidden words
removed) -> structure (at most one of paragraphs / nth-paragraph / sections / bullets /
two responses / JSON) -> prefix (repeated request, title) and suffix (postscript, end
phrase) -> case -> commas -> JSON wrapping -> quotation marks. Counting instructions
(words, sentences, letter / capital-word / keyword frequency) get their thresholds
*after* composition (:func:`fit_kwargs`), from the finished text: the prompt then states a
constraint the reference meets. Incompatible pairs are never drawn together
(:func:`compatible`); the caller still verifies with ``follow_instructions`` and rejects
any reference that fails (``ifeval:<id>``).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from balancedbio.rewards.ifeval import (
    INSTRUCTION_IDS,
    complete_kwargs,
    describe_instruction,
    follow_instructions,
)
from balancedbio.rewards.ifeval._text import count_sentences, count_words, word_tokenize

if TYPE_CHECKING:
    import random

FITTED = frozenset(
    {
        "length_constraints:number_words",
        "length_constraints:number_sentences",
        "keywords:letter_frequency",
        "change_case:capital_word_frequency",
        "keywords:frequency",
    }
)
STRUCTURE = frozenset(
    {
        "length_constraints:number_paragraphs",
        "length_constraints:nth_paragraph_first_word",
        "detectable_format:multiple_sections",
        "detectable_format:number_bullet_lists",
        "combination:two_responses",
        "detectable_format:json_format",
    }
)
CASE = frozenset({"change_case:english_lowercase", "change_case:english_capital"})
_LANG, _JSON = "language:response_language", "detectable_format:json_format"
_PAIRS = [
    (
        CASE,
        {_LANG, "detectable_format:constrained_response", "detectable_format:multiple_sections"},
    ),
    ({_JSON}, {"startend:end_checker", "combination:repeat_prompt", "startend:quotation"}),
    ({_JSON}, {"detectable_format:title", "detectable_content:postscript"}),
    ({"combination:repeat_prompt"}, {"startend:quotation", _LANG}),
    (
        {"length_constraints:nth_paragraph_first_word"},
        {"combination:repeat_prompt", "detectable_format:title"},
    ),
    (
        {_LANG},
        {
            _JSON,
            "detectable_content:number_placeholders",
            "detectable_format:number_highlighted_sections",
            "length_constraints:nth_paragraph_first_word",
            "keywords:existence",
            "keywords:frequency",
            "detectable_content:postscript",
            "startend:end_checker",
            "detectable_format:constrained_response",
            "detectable_format:multiple_sections",
        },
    ),
]
#: Instructions that can shape a clinical trace without breaking its headings.
INLINE = (
    "keywords:existence",
    "keywords:forbidden_words",
    "keywords:frequency",
    "keywords:letter_frequency",
    "length_constraints:number_words",
    "length_constraints:number_sentences",
    "detectable_content:number_placeholders",
    "detectable_content:postscript",
    "detectable_format:number_highlighted_sections",
    "detectable_format:title",
    "startend:end_checker",
    "change_case:capital_word_frequency",
    "change_case:english_lowercase",
    "punctuation:no_comma",
)
#: Words that are not disease or drug names (safe inside clinical traces).
SAFE_VOCABULARY = (
    "patient", "clinical", "risk", "screening", "prevention", "recovery", "physician",
    "nurse", "hospital", "nutrition", "exercise", "sleep", "pressure", "trial", "therapy",
)  # fmt: skip
PLACEHOLDERS = ("[clinic name]", "[phone number]", "[appointment date]", "[doctor name]")
HIGHLIGHTS = ("early recognition", "regular follow-up", "specialist review", "family support")


@functools.cache  # a pure function of two of the 25 ids
def compatible(a: str, b: str) -> bool:
    """May instructions ``a`` and ``b`` appear in one prompt?"""
    if a == b or (a in STRUCTURE and b in STRUCTURE) or {a, b} == CASE:
        return False
    return not any((a in x and b in y) or (b in x and a in y) for x, y in _PAIRS)


def pick_instructions(
    primary: str, allowed: Sequence[str], rng: random.Random, max_n: int
) -> list[str]:
    """``primary`` plus 0..max_n-1 compatible extras from ``allowed``."""
    ids = [primary]
    extra = [i for i in allowed if i != primary]
    rng.shuffle(extra)
    want = rng.randint(1, max_n)
    for cand in extra:
        if len(ids) >= want:
            break
        if all(compatible(cand, i) for i in ids):
            ids.append(cand)
    return ids


@dataclass
class Plan:
    """Instructions, their kwargs, and the parts of the response being assembled."""

    ids: list[str]
    kwargs: dict[str, dict[str, Any]]
    task: str
    topic: str
    sentences: list[str]
    filler: list[str] = field(default_factory=list)

    def has(self, iid: str) -> bool:
        return iid in self.kwargs


_ASCII_WORD = re.compile(r"[A-Za-z0-9_]+")


def _mentions(text: str, word: str) -> bool:
    """``re.search(rf"\\b{word}\\b", text, re.I)``; for ASCII text and a plain ASCII word it
    is a set lookup among the text's words (one tokenization per text, memoized)."""
    if text.isascii() and _ASCII_WORD.fullmatch(word):
        return word.lower() in _ascii_words(text)
    return re.search(rf"\b{word}\b", text, re.I) is not None


def _mentions_any(text: str, words: Sequence[str]) -> bool:
    """``re.search(r"\\b(?:w1|w2|...)\\b", text, re.I)`` (words escaped), as :func:`_mentions`
    for each word; spares compiling a pattern per set of words."""
    return any(_mentions(text, re.escape(w)) for w in words)


@functools.lru_cache(maxsize=256)
def _ascii_words(text: str) -> frozenset[str]:
    return frozenset(_ASCII_WORD.findall(text.lower()))


def draw_kwargs(
    ids: Sequence[str],
    rng: random.Random,
    *,
    prompt: str,
    vocabulary: Sequence[str],
    avoid: str = "",
    languages: Sequence[str] = (),
) -> dict[str, dict[str, Any]]:
    """kwargs of the non-fitted instructions (forbidden words never occur in ``avoid``)."""
    out: dict[str, dict[str, Any]] = {}
    forbidden = "keywords:forbidden_words"
    for iid in sorted(ids, key=lambda i: i == forbidden):  # forbidden words last
        if iid in FITTED:
            out[iid] = {}
            continue
        given: dict[str, Any] = {}
        if iid == _LANG and languages:
            given["language"] = rng.choice(list(languages))
        if iid == forbidden:
            used = avoid + " " + json.dumps(out) + " " + " ".join(HIGHLIGHTS + PLACEHOLDERS)
            ok = [w for w in vocabulary if not _mentions(used, w)]
            given["forbidden_words"] = rng.sample(ok, 2)
        if iid == "detectable_format:number_highlighted_sections":
            given["num_highlights"] = rng.randint(1, len(HIGHLIGHTS))
        if iid == "detectable_content:number_placeholders":
            given["num_placeholders"] = rng.randint(1, len(PLACEHOLDERS))
        out[iid] = complete_kwargs(iid, given, rng=rng, prompt=prompt, vocabulary=vocabulary)
    return out


def _content(plan: Plan, rng: random.Random) -> list[str]:
    sents = list(plan.sentences)
    kw = plan.kwargs
    if plan.has("keywords:existence"):
        words = kw["keywords:existence"]["keywords"]
        sents.append(f"Relevant topics include {' and '.join(words)}.")
    if plan.has("detectable_content:number_placeholders"):
        n = kw["detectable_content:number_placeholders"]["num_placeholders"]
        sents.append(f"For personal advice contact {' or '.join(PLACEHOLDERS[:n])}.")
    if plan.has("detectable_format:number_highlighted_sections"):
        n = kw["detectable_format:number_highlighted_sections"]["num_highlights"]
        sents.append("Key points: " + "; ".join(f"*{h}*" for h in HIGHLIGHTS[:n]) + ".")
    if plan.has("keywords:forbidden_words"):
        bad = kw["keywords:forbidden_words"]["forbidden_words"]
        sents = [s for s in sents if not _mentions_any(s, bad)]
        plan.filler = [s for s in plan.filler if not _mentions_any(s, bad)]
    return sents


def _pad(sents: list[str], filler: list[str], n: int) -> list[str]:
    extra = [f for f in filler if f not in sents]
    while len(sents) < n and extra:
        sents = [*sents, extra.pop(0)]
    return sents


def _groups(sents: list[str], n: int) -> list[list[str]]:
    size, rest = divmod(len(sents), n)
    out, pos = [], 0
    for i in range(n):
        take = size + (1 if i < rest else 0)
        out.append(sents[pos : pos + take])
        pos += take
    return out


def _structure(plan: Plan, sents: list[str], rng: random.Random) -> tuple[str, str]:
    """The body and the separator used to attach prefix/suffix lines."""
    kw = plan.kwargs
    if plan.has("length_constraints:number_paragraphs"):
        n = kw["length_constraints:number_paragraphs"]["num_paragraphs"]
        groups = _groups(_pad(sents, plan.filler, n), n)
        return "\n\n***\n\n".join(" ".join(g) for g in groups), "\n"
    if plan.has("length_constraints:nth_paragraph_first_word"):
        a = kw["length_constraints:nth_paragraph_first_word"]
        n, nth, word = a["num_paragraphs"], a["nth_paragraph"], a["first_word"]
        groups = _groups(_pad(sents, plan.filler, n), n)
        groups[nth - 1] = [f"{word.capitalize()} is a relevant consideration.", *groups[nth - 1]]
        return "\n\n".join(" ".join(g) for g in groups), "\n"
    if plan.has("detectable_format:multiple_sections"):
        a = kw["detectable_format:multiple_sections"]
        n, split = a["num_sections"], a["section_spliter"]
        groups = _groups(_pad(sents, plan.filler, n), n)
        return "\n\n".join(f"{split} {i + 1}\n{' '.join(g)}" for i, g in enumerate(groups)), "\n\n"
    if plan.has("detectable_format:number_bullet_lists"):
        n = kw["detectable_format:number_bullet_lists"]["num_bullets"]
        items = _pad(sents, plan.filler, n + 1)
        if len(items) <= n:
            items = [f"Here is a summary of {plan.topic}.", *items]
        intro, bullets = " ".join(items[: len(items) - n]), items[len(items) - n :]
        return intro + "\n" + "\n".join(f"* {b}" for b in bullets), "\n\n"
    if plan.has("combination:two_responses"):
        first = " ".join(sents)
        alt = _pad(list(reversed(sents)), plan.filler, len(sents) + 1)
        second = " ".join(alt)
        return f"{first}\n******\n{second}", "\n"
    if len(sents) >= 4 and rng.random() < 0.5:
        half = len(sents) // 2
        return " ".join(sents[:half]) + "\n\n" + " ".join(sents[half:]), "\n\n"
    return " ".join(sents), "\n\n"


def compose(plan: Plan, rng: random.Random) -> str:
    """The response text (see the module docstring for the order of steps)."""
    kw = plan.kwargs
    body, sep = _structure(plan, _content(plan, rng), rng)
    head: list[str] = []
    if plan.has("combination:repeat_prompt"):
        head.append(kw["combination:repeat_prompt"]["prompt_to_repeat"])
    if plan.has("detectable_format:title"):
        head.append(f"<<{plan.topic}>>")
    tail: list[str] = []
    if plan.has("detectable_content:postscript"):
        marker = kw["detectable_content:postscript"]["postscript_marker"]
        tail.append(f"{marker} Please bring any questions to your next appointment.")
    if plan.has("startend:end_checker"):
        tail.append(kw["startend:end_checker"]["end_phrase"])
    text = "\n".join(head + [body]) if head else body
    if tail:
        text = text + sep + "\n".join(tail)
    return finish(plan, text)


def _case_and_commas(plan: Plan, text: str) -> str:
    """The case-change and no-comma steps of :func:`finish`."""
    if plan.has("change_case:english_lowercase"):
        text = text.lower()
    elif plan.has("change_case:english_capital"):
        text = text.upper()
    if plan.has("punctuation:no_comma"):
        text = re.sub(r",\s*", "; ", text).replace(",", " ")
    return text


def finish(plan: Plan, text: str) -> str:
    """Case, commas, JSON and quotation steps (shared with inline composition)."""
    text = _case_and_commas(plan, text)
    if plan.has(_JSON):
        key = "RESPONSE" if plan.has("change_case:english_capital") else "response"
        text = json.dumps({key: text}, ensure_ascii=False)
    if plan.has("startend:quotation"):
        text = f'"{text}"'
    return text


def shown(plan: Plan, sentence: str) -> str:
    """``sentence`` as :func:`finish` renders it inside the response: its case, comma and
    JSON steps act on each character (a comma with the spaces after it) on its own."""
    sentence = _case_and_commas(plan, sentence)
    if plan.has(_JSON):
        sentence = json.dumps(sentence, ensure_ascii=False)[1:-1]
    return sentence


def _relation(rng: random.Random, count: int, lo: int, hi: int) -> tuple[str, int]:
    """A (relation, threshold) in [lo, hi] that ``count`` satisfies."""
    can_least = count >= lo
    can_less = count + 1 <= hi
    if can_least and (not can_less or rng.random() < 0.5):
        return "at least", rng.randint(lo, min(count, hi))
    return "less than", rng.randint(max(count + 1, lo), max(count + 1, hi))


def fit_kwargs(plan: Plan, response: str, rng: random.Random, vocabulary: Sequence[str]) -> None:
    """Set the thresholds of counting instructions from the finished response."""
    kw = plan.kwargs
    if plan.has("length_constraints:number_words"):
        n = count_words(response)
        rel, t = _relation(rng, n, max(5, n // 2 // 5 * 5), n + 60)
        kw["length_constraints:number_words"] = {"relation": rel, "num_words": t}
    if plan.has("length_constraints:number_sentences"):
        n = count_sentences(response)
        rel, t = _relation(rng, n, max(1, n // 2), n + 5)
        kw["length_constraints:number_sentences"] = {"relation": rel, "num_sentences": t}
    if plan.has("keywords:letter_frequency"):
        letter = rng.choice("abcdefghijklmnopqrstuvwxyz")
        rel, t = _relation(rng, response.lower().count(letter), 1, 10)
        kw["keywords:letter_frequency"] = {
            "letter": letter,
            "let_relation": rel,
            "let_frequency": t,
        }
    if plan.has("change_case:capital_word_frequency"):
        n = sum(1 for w in word_tokenize(response) if w.isupper())
        rel, t = _relation(rng, n, 1, 20)
        kw["change_case:capital_word_frequency"] = {"capital_relation": rel, "capital_frequency": t}
    if plan.has("keywords:frequency"):
        word = rng.choice(list(vocabulary))
        n = len(re.findall(word, response, flags=re.IGNORECASE))
        rel, t = _relation(rng, n, 1, 3)
        kw["keywords:frequency"] = {"keyword": word, "relation": rel, "frequency": t}


def prompt_text(plan: Plan) -> str:
    """Task followed by the instruction descriptions (IFEval style, one user turn)."""
    parts = [plan.task]
    for iid in sorted(plan.ids, key=lambda i: i != "combination:repeat_prompt"):
        parts.append(describe_instruction(iid, plan.kwargs[iid]))
    return " ".join(parts)


def failures(prompt: str, response: str, plan: Plan) -> list[str]:
    """Instruction ids the response does not follow (strict)."""
    kwargs = [plan.kwargs[i] for i in plan.ids]
    result = follow_instructions(prompt, response, plan.ids, kwargs)
    return [i for i, ok in zip(plan.ids, result.strict, strict=True) if not ok]


__all__ = [
    "CASE",
    "FITTED",
    "INLINE",
    "INSTRUCTION_IDS",
    "SAFE_VOCABULARY",
    "STRUCTURE",
    "Plan",
    "compatible",
    "compose",
    "draw_kwargs",
    "failures",
    "finish",
    "fit_kwargs",
    "pick_instructions",
    "prompt_text",
    "shown",
]
