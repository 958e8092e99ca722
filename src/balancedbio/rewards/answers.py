"""Answer extraction and grading: pure functions shared by data validation, rewards and eval.

One verifier, three uses: the same functions check generated data, score GRPO completions
and grade evaluations, so "correct" means the same thing everywhere.

Where to look for the answer (:func:`answer_region`): the last ``<answer>...</answer>`` tag,
else the line after the LAST explicit answer statement ("The answer is", "Answer:",
``"answer": ...`` as in MedCalc-Bench's JSON), else the whole text. A closed ``<think>``
block is skipped when text follows it. Extractors return ``None`` rather than guess.
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Literal

OutputKind = Literal["decimal", "integer", "date", "weeks_days"]
OUTPUT_KINDS: tuple[str, ...] = ("decimal", "integer", "date", "weeks_days")

#: MedCalc-Bench's window for equation-based (decimal) calculators: gold +- 5 %.
DEFAULT_REL_TOL = 0.05
_BOUND_SLACK = 1e-9  # relative slack so a value exactly at +-5 % survives float rounding

# --------------------------------------------------------------------------- text normalization

_ARTICLES = re.compile(r"\b(a|an|the)\b")


#: :func:`normalize_text`'s character steps on ASCII (NFKC and casefold are lower-casing
#: there), as ``bytes.translate`` arguments: Unicode punctuation (category P*) becomes a
#: space, other ``string.punctuation`` is dropped.
_ASCII_NORM = bytes(
    32 if unicodedata.category(chr(c)).startswith("P") else ord(chr(c).lower()) for c in range(256)
)
_ASCII_DROP = bytes(
    ord(c) for c in string.punctuation if not unicodedata.category(c).startswith("P")
)


def normalize_text(text: str) -> str:
    """SQuAD-style normalization: casefold, drop punctuation and articles, squeeze spaces."""
    text = str(text)
    if text.isascii():
        flat = text.encode().translate(_ASCII_NORM, _ASCII_DROP).decode()
        return " ".join(_ARTICLES.sub(" ", flat).split())
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
    text = "".join(ch for ch in text if ch not in string.punctuation)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(pred: str | None, gold: str | Sequence[str]) -> bool:
    """True when ``pred`` equals ``gold`` (or any of a list of golds) after normalization."""
    if pred is None:
        return False
    golds = [gold] if isinstance(gold, str) else list(gold)
    norm = normalize_text(pred)
    return any(norm == normalize_text(g) for g in golds)


# --------------------------------------------------------------------------- tags and sections


def _tag_blocks(text: str, tag: str) -> list[re.Match[str]]:
    if "<" not in text:
        return []  # no tag at all (most texts): skip the regex
    name = re.escape(tag)
    return list(re.finditer(rf"<{name}>(.*?)</{name}>", text, re.DOTALL | re.IGNORECASE))


def extract_tag(text: str, tag: str) -> str | None:
    """Content of the last ``<tag>...</tag>`` block (stripped), or None."""
    blocks = _tag_blocks(text, tag)
    return blocks[-1].group(1).strip() if blocks else None


def has_tags(text: str, tags: Sequence[str] = ("think", "answer"), *, ordered: bool = True) -> bool:
    """Each tag appears as exactly one non-empty ``<tag>...</tag>`` block (in order if asked)."""
    last_end = -1
    for tag in tags:
        blocks = _tag_blocks(text, tag)
        if len(blocks) != 1 or not blocks[0].group(1).strip():
            return False
        opens = len(re.findall(rf"<{re.escape(tag)}>", text, re.IGNORECASE))
        if opens != 1:  # stray unclosed opening tag
            return False
        if ordered:
            if blocks[0].start() < last_end:
                return False
            last_end = blocks[0].end()
    return True


def _heading_re(heading: str) -> re.Pattern[str]:
    # "Answer:", "**Answer:**", "## Answer", "Answer -" at the start of a line.
    return re.compile(
        rf"^[ \t]*(?:#+[ \t]*)?[*_]*{re.escape(heading)}[*_]*[ \t]*(?::|-|\n|$)[*_]*",
        re.IGNORECASE | re.MULTILINE,
    )


def has_sections(
    text: str, headings: Sequence[str] = ("Reasoning", "Answer"), *, ordered: bool = True
) -> bool:
    """Every heading starts a line (``Answer:``, ``**Answer:**``, ``## Answer``), in order."""
    last = -1
    for heading in headings:
        found = list(_heading_re(heading).finditer(text))
        if not found:
            return False
        if ordered:
            later = [m for m in found if m.start() > last]
            if not later:
                return False
            last = later[0].start()
    return True


def extract_section(text: str, heading: str) -> str | None:
    """Text of the last ``heading`` section, up to the next heading-looking line, or None."""
    found = list(_heading_re(heading).finditer(text))
    if not found:
        return None
    rest = text[found[-1].end() :]
    nxt = re.search(r"^[ \t]*(?:#+[ \t]*)?[*_]*[A-Z][\w ]{0,30}[*_]*:", rest, re.MULTILINE)
    return (rest[: nxt.start()] if nxt else rest).strip()


# --------------------------------------------------------------------------- answer region

# An explicit answer statement: "answer is", "Answer:", '"answer": ', "correct option is"...
_CUE = re.compile(
    r"\b(?:answer|option|choice)(?:\s+choice)?[\s*_\"']*"
    r"(?:is\b|would\s+be\b|will\s+be\b|should\s+be\b|:|=)[\s*_\"':]*",
    re.IGNORECASE,
)
#: ``_CUE`` for lower-cased ASCII text (same matches there), led by literals so ``re`` skips
#: ahead to them; ``x(?<!\w\w)`` is ``\bx`` for a letter ``x``.
_CUE_LOWER = re.compile(
    r"(?:a(?<!\w\w)nswer|o(?<!\w\w)ption|c(?<!\w\w)hoice)(?:\s+choice)?[\s*_\"']*"
    r"(?:is\b|would\s+be\b|will\s+be\b|should\s+be\b|:|=)[\s*_\"':]*"
)
_THINK_END = re.compile(r"</think>", re.IGNORECASE)


def _strip_think(text: str) -> str:
    ends = list(_THINK_END.finditer(text))
    if ends:
        after = text[ends[-1].end() :]
        if after.strip():
            return after
    return text


def _cue_fragments(text: str) -> list[str]:
    """The line after each explicit answer statement, last statement first."""
    if text.isascii():  # ASCII: lower-casing is what re.I does
        found = _cues_lower(text.lower())
    else:
        found = list(_CUE.finditer(text))
    frags = []
    for m in found:
        line = text[m.end() :].split("\n", 1)[0]
        frags.append(line.strip())
    return frags[::-1]


def _cues_lower(low: str) -> list[re.Match[str]]:
    """``list(_CUE_LOWER.finditer(low))``, trying the pattern only where one of its first
    words occurs (found by ``str.find``): a match starts at one, so the leftmost match at
    or after a position is the first candidate there that matches."""
    starts = []
    for word in ("answer", "option", "choice"):
        pos = low.find(word)
        while pos >= 0:
            starts.append(pos)
            pos = low.find(word, pos + 1)
    out: list[re.Match[str]] = []
    end = 0
    for pos in sorted(starts):
        if pos >= end:
            m = _CUE_LOWER.match(low, pos)
            if m is not None:
                out.append(m)
                end = m.end()
    return out


def answer_regions(text: str) -> list[tuple[str, bool]]:
    """Candidate answer regions, best first, each flagged explicit (tag / statement) or not.

    A tag is authoritative (it is the only candidate); otherwise the line after each answer
    statement, last first, then the whole text (after any closed ``<think>`` block).
    """
    text = str(text)
    tagged = extract_tag(text, "answer")
    if tagged is not None:
        return [(tagged, True)]
    body = _strip_think(text)
    regions = [(frag, True) for frag in _cue_fragments(body) if frag]
    regions.append((body.strip(), False))
    return regions


def answer_region(text: str) -> tuple[str, bool]:
    """The best candidate of :func:`answer_regions`."""
    return answer_regions(text)[0]


def extract_final_answer(text: str) -> str:
    """Final answer as text: tag content, the line after the last answer statement, or all."""
    region, _ = answer_region(text)
    return region.strip().strip("*_`\"'").strip()


# --------------------------------------------------------------------------- numbers

_NUMBER = re.compile(
    r"(?<![\w^.])(?P<sign>[-\u2212]?)"
    r"(?P<mant>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)"
    r"(?P<exp>[eE][-+]?\d+|\s*[x\u00d7*]\s*10\s*\^\s*[-+\u2212]?\d+)?"
)


def _to_float(m: re.Match[str]) -> float:
    value = float(m.group("mant").replace(",", ""))
    exp = m.group("exp")
    digits = re.search(r"[-+\u2212]?\d+$", exp.strip()) if exp else None
    if digits:  # via the float parser: a huge exponent gives inf instead of OverflowError
        value = float(f"{value!r}e{int(digits.group(0).replace(chr(0x2212), '-'))}")
    return -value if m.group("sign") else value


def find_numbers(text: str) -> list[float]:
    """Every number in ``text``: commas, decimals, negatives, 1e-3 / 1.2 x 10^3, % and units.

    Digits glued to letters or ``^`` (``m^2``, ``CO2``, ``HbA1c``) are not numbers.
    A percentage keeps its value (``45%`` -> 45.0), as MedCalc-Bench answers in percent units.
    """
    return [_to_float(m) for m in _NUMBER.finditer(text)]


def extract_number(text: str) -> float | None:
    """The final numeric answer.

    In an explicit region (tag / answer statement): the first number after the last ``=`` if
    there is one (``Answer: 70/1.7^2 = 24.2``), else the first number (``Answer: 23.5 kg/m^2
    (normal 18.5-24.9)`` -> 23.5). Without an explicit answer: the last number in the text.
    """
    for region, explicit in answer_regions(text):
        if explicit:
            tail = region.rsplit("=", 1)[-1] if "=" in region else region
            nums = find_numbers(tail) or find_numbers(region)
            if nums:
                return nums[0]
        else:
            nums = find_numbers(region)
            return nums[-1] if nums else None
    return None


_DATE = re.compile(r"(?<!\d)(0?[1-9]|1[0-2])/(0?[1-9]|[12]\d|3[01])/(\d{4})(?!\d)")


def _parse_date(value: object) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    found = _DATE.findall(str(value))
    if not found:
        return None
    month, day, year = found[-1]
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def extract_date(text: str) -> date | None:
    """The answer date written MM/DD/YYYY (M/D/YYYY accepted), as MedCalc-Bench outputs it."""
    for region, explicit in answer_regions(text):
        found = _DATE.findall(region)
        if found:
            month, day, year = found[0] if explicit else found[-1]
            try:
                return date(int(year), int(month), int(day))
            except ValueError:
                return None
    return None


_WEEKS_DAYS = (
    re.compile(r"(\d+)\s*['\"]?\s*weeks?\W+(?:and\s+)?['\"]?(\d+)\s*days?", re.IGNORECASE),
    re.compile(r"\(\s*['\"]?(\d+)['\"]?\s*,\s*['\"]?(\d+)['\"]?\s*\)"),
)


def _parse_weeks_days(value: object) -> tuple[int, int] | None:
    if isinstance(value, (tuple, list)) and len(value) == 2:
        try:
            return tuple(int(re.sub(r"\D", "", str(v))) for v in value)  # type: ignore[return-value]
        except ValueError:
            return None
    text = str(value)
    for pattern in _WEEKS_DAYS:
        found = pattern.findall(text)
        if found:
            weeks, days = found[-1]
            return int(weeks), int(days)
    return None


def extract_weeks_days(text: str) -> tuple[int, int] | None:
    """A gestational age ``(weeks, days)``: "(4 weeks, 2 days)", "4 weeks and 2 days", "(4, 2)"."""
    for region, _ in answer_regions(text):
        found = _parse_weeks_days(region)
        if found is not None:
            return found
    return None


def grade_numeric(
    text: str,
    gold: object,
    *,
    lower: float | str | None = None,
    upper: float | str | None = None,
    rel_tol: float | None = None,
    kind: OutputKind | str = "decimal",
) -> bool:
    """Is the final answer in ``text`` correct? Mirrors MedCalc-Bench ``evaluate.py``.

    * ``integer`` (rule-based scores): the extracted number is rounded with Python's
      ``round`` and must equal the gold exactly (``"3.4"`` counts as 3, as in MedCalc-Bench).
    * ``decimal`` (equation-based): ``lower <= answer <= upper``. MedCalc-Bench's
      'Lower Limit'/'Upper Limit' columns are gold x 0.95 / x 1.05; if they are not given
      they are computed here from ``rel_tol`` (default 5 %). ``rel_tol`` overrides limits.
      Bounds are inclusive with a 1e-9 relative slack for float rounding, and ordered
      (min/max) so a negative gold gets a real window.
    * ``date``: same calendar day (``2/4/2004`` == ``02/04/2004``).
    * ``weeks_days``: same ``(weeks, days)`` pair.

    No answer found -> False (an unanswered question is wrong, as in MedCalc-Bench).
    """
    if kind == "date":
        got, want = extract_date(text), _parse_date(gold)
        return got is not None and want is not None and got == want
    if kind == "weeks_days":
        got_wd, want_wd = extract_weeks_days(text), _parse_weeks_days(gold)
        return got_wd is not None and want_wd is not None and got_wd == want_wd
    if kind not in ("decimal", "integer"):
        raise ValueError(f"unknown output kind {kind!r}; valid: {', '.join(OUTPUT_KINDS)}")
    value = extract_number(text)
    gold_value = float(gold)  # type: ignore[arg-type]
    if value is None or not math.isfinite(value):
        return False
    if kind == "integer":
        return round(value) == gold_value
    lo, hi = numeric_bounds(gold_value, lower=lower, upper=upper, rel_tol=rel_tol)
    slack = _BOUND_SLACK * max(abs(lo), abs(hi), 1e-12)
    return lo - slack <= value <= hi + slack


def numeric_bounds(
    gold: float,
    *,
    lower: float | str | None = None,
    upper: float | str | None = None,
    rel_tol: float | None = None,
) -> tuple[float, float]:
    """The accepted ``[lo, hi]`` window for a decimal answer (see :func:`grade_numeric`)."""
    if rel_tol is None and lower not in (None, "") and upper not in (None, ""):
        lo, hi = float(lower), float(upper)  # type: ignore[arg-type]
    else:
        tol = DEFAULT_REL_TOL if rel_tol is None else rel_tol
        lo, hi = gold * (1 - tol), gold * (1 + tol)
    return min(lo, hi), max(lo, hi)


# --------------------------------------------------------------------------- multiple choice

_OPTION_PREFIX = re.compile(r"^\s*[(\[]?[A-Za-z][)\].:]\s+")


def _options(choices: Sequence[str] | Mapping[str, str], letters: str) -> dict[str, str]:
    """Letter -> option text; a leading "A." / "(A)" in option text is dropped."""
    if isinstance(choices, Mapping):
        items = [(str(k).strip().upper(), str(v)) for k, v in choices.items()]
    else:
        pool = letters if len(letters) >= len(choices) else string.ascii_uppercase
        items = list(zip(pool, (str(c) for c in choices), strict=False))
    return {k: _OPTION_PREFIX.sub("", v) for k, v in items}


def _mentioned(fragment: str, options: dict[str, str]) -> list[str]:
    """Letters whose option text occurs in ``fragment`` (longest match wins over its parts)."""
    norm = f" {normalize_text(fragment)} "
    texts = {k: normalize_text(v) for k, v in options.items()}
    hits = {k for k, t in texts.items() if t and f" {t} " in norm}
    return sorted(k for k in hits if not any(k != o and texts[k] in texts[o] for o in hits))


def _starts_with_option(rest: str, option: str) -> bool:
    norm = normalize_text(option)
    return bool(norm) and f"{normalize_text(rest)} ".startswith(f"{norm} ")


def _rest_ok(letter: str, rest: str, options: dict[str, str], cls: str, after_cue: bool) -> bool:
    """Is what follows a letter marker consistent with choosing that letter?"""
    rest = rest.strip().strip("*_`\"' ")
    if not rest or _starts_with_option(rest, options[letter]):
        return True
    if rest[0].islower():  # "E. coli", "A. fib": a word, not a choice
        return False
    if after_cue:
        return True
    others = set(re.findall(rf"[(\[]({cls})[)\]]", rest)) | set(_mentioned(rest, options))
    return not (others - {letter})


# After "The answer is A", these words mean "A" is the choice, not the article ("A cyst").
_CONNECTOR = re.compile(
    r"(?:(?:because|since|as|given|which|due|for|is|was|would)\b|[-\u2013\u2014(;])",
    re.IGNORECASE,
)


def _letter_from(fragment: str, options: dict[str, str], *, after_cue: bool) -> str | None:
    """A letter from an answer fragment; ``after_cue`` relaxes rules after "The answer is"."""
    frag = fragment.strip().strip("*_`\"' \t")
    valid = "".join(options)
    if not frag or not valid:
        return None
    cls = f"[{re.escape(valid)}]"
    # bare: "B", "(B)", "b.", "[B]"
    m = re.fullmatch(rf"[(\[]?({cls})[)\]]?\s*[.!]?", frag, re.IGNORECASE)
    if m:
        return m.group(1).upper()
    # marked: "(B) Marfan", "B. Marfan", "B) ...", "B: ..."
    m = re.match(rf"[(\[]({cls})[)\]]|({cls})[.):](?!\d)", frag)
    if m:
        letter = m.group(1) or m.group(2)
        return letter if _rest_ok(letter, frag[m.end() :], options, cls, after_cue) else None
    # "B Marfan syndrome" (letter + its own text); after a cue also "B because ..."
    m = re.match(rf"({cls})\b([\s,;*]*)(.*)", frag, re.DOTALL)
    if m:
        letter, sep, rest = m.groups()
        if rest and _starts_with_option(rest, options[letter]):
            return letter
        # "A" may be the article ("A cyst"); "A, not B" / "A because" are choices
        article = letter == "A" and rest and not _CONNECTOR.match(rest) and not sep.strip()
        if after_cue and not article:
            return letter
    # option text: the whole fragment, or (after a cue) its start / a unique mention
    norm = normalize_text(frag)
    exact = [k for k, t in options.items() if normalize_text(t) and norm == normalize_text(t)]
    if len(exact) == 1:
        return exact[0]
    if after_cue:
        starts = [k for k, t in options.items() if _starts_with_option(frag, t)]
        if len(starts) == 1:
            return starts[0]
        hits = _mentioned(frag, options)
        if len(hits) == 1:
            return hits[0]
    return None


def _is_answer_line(line: str, options: dict[str, str]) -> bool:
    """A first/last line of a longer text counts only if it is just an (optionally labelled)
    letter: "B", "**B**", "(B) Marfan syndrome", "B. Marfan syndrome"."""
    line = line.strip().strip("*_`\"' ")
    m = re.match(r"[(\[]?([A-Za-z])[)\].:]?(?=\s|$)\s*(.*)", line)
    if not m:
        return False
    letter, rest = m.group(1).upper(), m.group(2)
    return letter in options and (not rest or _starts_with_option(rest, options[letter]))


def extract_choice(
    text: str, choices: Sequence[str] | Mapping[str, str], letters: str = "ABCDE"
) -> str | None:
    """The chosen option letter, or None when there is no clear, unambiguous answer.

    Order: last ``<answer>`` tag; last explicit answer statement ("The answer is (C)",
    "Answer: C", "correct option is C"); the whole text as an answer ("B", "**B**",
    "(B) Marfan syndrome", "Marfan syndrome"); else the last, then the first line if it
    is just a (labelled) letter; finally exactly one option text mentioned anywhere.
    Two different options mentioned with no explicit answer -> None. ``choices`` is a list
    of option texts (lettered from ``letters``) or a mapping letter -> text.
    """
    options = _options(choices, letters)
    text = str(text)
    tagged = extract_tag(text, "answer")
    if tagged is not None:
        return _letter_from(tagged, options, after_cue=True)
    body = _strip_think(text)
    for frag in _cue_fragments(body):
        letter = _letter_from(frag, options, after_cue=True)
        if letter:
            return letter
    lines = [ln for ln in body.splitlines() if ln.strip()]
    candidates = [body] if len(lines) <= 1 else [lines[-1], lines[0]]
    for candidate in candidates:
        letter = _letter_from(candidate, options, after_cue=False)
        if letter and (candidate is body or _is_answer_line(candidate, options)):
            return letter
    hits = _mentioned(body, options)
    return hits[0] if len(hits) == 1 else None


def grade_mcq(
    text: str,
    choices: Sequence[str] | Mapping[str, str],
    answer: str | int,
    letters: str = "ABCDE",
) -> bool:
    """Does ``text`` choose the gold option? ``answer`` is a letter, a 0-based index or the text."""
    options = _options(choices, letters)
    if isinstance(answer, int) and not isinstance(answer, bool):
        keys = list(options)
        gold = keys[answer] if 0 <= answer < len(keys) else None
    else:
        gold_text = str(answer).strip()
        gold = gold_text.upper() if gold_text.upper() in options else None
        if gold is None:
            gold = next((k for k, v in options.items() if exact_match(v, gold_text)), None)
    if gold is None:
        raise ValueError(f"gold answer {answer!r} is not one of the options {list(options)}")
    return extract_choice(text, options) == gold
