"""The BalancedBio clinical reasoning trace format, and its parser.

Reference solutions are written in it and GRPO prompts ask for it. A trace is a sequence
of named steps, each introduced by a heading at the start of a line, followed by a final
``Answer:`` line (not a step)::

    Presentation: 17-year-old with tall stature, arachnodactyly and ectopia lentis.
    History/Exam: Father had an aortic dissection. Pectus excavatum, myopia.
    Differential: Marfan syndrome, homocystinuria, Loeys-Dietz syndrome.
    Investigations: Echocardiography shows aortic root dilatation.
    Diagnosis: Marfan syndrome.
    Management: Beta-blocker, annual echocardiography, avoid contact sports.
    Answer: Marfan syndrome

Canonical steps, in clinical order, and the headings that introduce them
(case-insensitive):

=============== ===========================================================================
presentation    Presentation, Clinical presentation, Presenting complaint, Chief complaint
history_exam    History/Exam, History and examination, History, Examination, Exam,
                Physical examination, Physical exam (``/``, ``and``, ``&`` interchangeable)
differential    Differential, Differential diagnosis, Differential diagnoses,
                Differentials, DDx
investigations  Investigations, Investigation, Workup, Work-up, Tests, Diagnostic tests
diagnosis       Diagnosis, Final diagnosis, Most likely diagnosis, Working diagnosis
management      Management, Plan, Treatment, Management plan, Treatment plan
(answer)        Answer, Final answer
=============== ===========================================================================

A heading is the label followed by ``:`` (or a spaced dash, ``Plan - ...``), or alone on
its line. It may be markdown-decorated: ``**Diagnosis:**``, ``**Diagnosis**:``,
``## Diagnosis``, ``1. Diagnosis:``, ``- Diagnosis:``, ``Step 5: Diagnosis:``. Only a
line's start counts, so "the differential diagnosis includes ..." in prose is not a
heading. A step's content runs from its heading to the next heading (or ``Answer:``) and
may start on the heading's line; a heading may repeat (e.g. a refined differential).
The answer is the rest of the last ``Answer:`` line (or the next non-empty line).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

#: Canonical step names in clinical order.
STEP_NAMES: tuple[str, ...] = (
    "presentation",
    "history_exam",
    "differential",
    "investigations",
    "diagnosis",
    "management",
)
STEP_RANK: dict[str, int] = {name: i for i, name in enumerate(STEP_NAMES)}

#: Heading label -> step name ("answer" ends the steps).
HEADINGS: dict[str, str] = {
    "presentation": "presentation",
    "clinical presentation": "presentation",
    "presenting complaint": "presentation",
    "chief complaint": "presentation",
    "history/exam": "history_exam",
    "history/examination": "history_exam",
    "history and examination": "history_exam",
    "history and exam": "history_exam",
    "history & examination": "history_exam",
    "history & exam": "history_exam",
    "history": "history_exam",
    "examination": "history_exam",
    "exam": "history_exam",
    "physical examination": "history_exam",
    "physical exam": "history_exam",
    "differential": "differential",
    "differential diagnosis": "differential",
    "differential diagnoses": "differential",
    "differentials": "differential",
    "ddx": "differential",
    "investigations": "investigations",
    "investigation": "investigations",
    "workup": "investigations",
    "work-up": "investigations",
    "tests": "investigations",
    "diagnostic tests": "investigations",
    "diagnosis": "diagnosis",
    "final diagnosis": "diagnosis",
    "most likely diagnosis": "diagnosis",
    "working diagnosis": "diagnosis",
    "management": "management",
    "plan": "management",
    "treatment": "management",
    "management plan": "management",
    "treatment plan": "management",
    "answer": "answer",
    "final answer": "answer",
}


#: The heading each step is written with (:func:`format_trace`, :data:`FORMAT_INSTRUCTION`).
CANONICAL_HEADINGS: dict[str, str] = {
    "presentation": "Presentation",
    "history_exam": "History/Exam",
    "differential": "Differential",
    "investigations": "Investigations",
    "diagnosis": "Diagnosis",
    "management": "Management",
}

#: What a GRPO prompt says to ask for this format.
FORMAT_INSTRUCTION = (
    "Reason in steps, each on its own line starting with its heading, in this order: "
    + ", ".join(f"{h}:" for h in CANONICAL_HEADINGS.values())
    + " (skip steps that do not apply). The Differential lists at least two candidate "
    "diagnoses. End with a line 'Answer: <final answer>'."
)


def format_trace(
    steps: Mapping[str, str] | Iterable[tuple[str, str]], answer: str | None = None
) -> str:
    """Write a trace: ``steps`` maps step names to contents, in the order given."""
    items = steps.items() if isinstance(steps, Mapping) else steps
    lines = []
    for name, content in items:
        if name not in CANONICAL_HEADINGS:
            from balancedbio.config import choice_error

            raise choice_error("trace step", name, STEP_NAMES)
        lines.append(f"{CANONICAL_HEADINGS[name]}: {content.strip()}")
    if answer is not None:
        lines.append(f"Answer: {answer.strip()}")
    return "\n".join(lines)


@functools.lru_cache(maxsize=4096)
def _key(label: str) -> str:
    key = re.sub(r"\s*([/&])\s*", r"\1", " ".join(label.lower().split()))
    return key.replace("work up", "work-up")


def _label_pattern(label: str) -> str:
    out = []
    for tok in re.split(r"(\s+|/|&|-)", label):
        if tok in ("/", "&"):
            out.append(rf"[ \t]*+{re.escape(tok)}[ \t]*+")
        elif tok == "-":
            out.append(r"[- ]?")
        elif tok.isspace():
            out.append(r"[ \t]++")
        elif tok:
            out.append(re.escape(tok))
    return "".join(out)


_KEYS = {_key(k): v for k, v in HEADINGS.items()}
_LABELS = "|".join(_label_pattern(k) for k in sorted(HEADINGS, key=len, reverse=True))
# Possessive quantifiers (*+, ++) keep a line of spaces from backtracking quadratically.
_HEADING = re.compile(
    rf"""^[ \t>]*+(?:\#{{1,6}}+[ \t]*+)?(?:(?:\d{{1,2}}[.)]|[-*+\u2022])[ \t]++)?
    (?:step[ \t]*+\d{{1,2}}[ \t]*+[:.)\-\u2013\u2014][ \t]*+)?
    (?:\#{{1,6}}+[ \t]*+)?[*_]{{0,3}}+[ \t]*+
    (?P<label>{_LABELS})(?![\w-])
    [ \t]*+[*_]{{0,3}}+[ \t]*+
    (?:[:\uff1a][ \t]*+[*_]{{0,3}}+|[-\u2013\u2014](?=[ \t])|(?=\r?\n|$))""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)


@dataclass(frozen=True)
class Step:
    """One step: ``heading`` is its heading as written, ``text[start:end]`` the whole step,
    ``content == text[content_start:end]`` (stripped)."""

    name: str
    heading: str
    start: int
    end: int
    content: str
    content_start: int


@dataclass(frozen=True)
class Trace:
    """Parsed trace: steps in text order (headings may repeat) and the final answer."""

    steps: tuple[Step, ...]
    answer: str | None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple([s.name for s in self.steps])

    def has(self, name: str) -> bool:
        return self.first(name) is not None

    def first(self, name: str) -> Step | None:
        """The first step called ``name``, or None."""
        for s in self.steps:  # a plain loop: the workflow rules ask this many times
            if s.name == name:
                return s
        return None

    def all(self, *names: str) -> tuple[Step, ...]:
        """Every step called one of ``names``, in text order."""
        return tuple([s for s in self.steps if s.name in names])


def parse_trace(text: str) -> Trace:
    """Split ``text`` into its steps and final answer (see the module docstring)."""
    text = text if isinstance(text, str) else str(text or "")
    heads = []
    for m in _headings(text):
        name = _KEYS.get(_key(m.group("label")), "")
        if name:
            heads.append((m, name))
    steps: list[Step] = []
    answer: str | None = None
    for k, (m, name) in enumerate(heads):
        stop = heads[k + 1][0].start() if k + 1 < len(heads) else len(text)
        if name == "answer":
            answer = _answer(text, m.end(), stop)
            continue
        body = text[m.end() : stop]
        lead = len(body) - len(body.lstrip())
        content = body.strip()
        c_start = m.end() + lead
        line_start = m.start() + (len(m.group()) - len(m.group().lstrip()))
        heading = m.group().strip()
        steps.append(_step(name, heading, line_start, c_start + len(content), content, c_start))
    return Trace(tuple(steps), answer)


def _headings(text: str) -> list[re.Match[str]]:
    """``list(_HEADING.finditer(text))``, matched at line starts only: a heading starts a
    line (``^``) and never spans a newline, so after one match the scan resumes on the next
    line anyway. Saves trying the pattern at every position of long lines."""
    match = _HEADING.match
    found = [match(text)]
    pos = text.find("\n")
    while pos >= 0:
        found.append(match(text, pos + 1))
        pos = text.find("\n", pos + 1)
    return [m for m in found if m is not None]


_new = object.__new__


def _step(name: str, heading: str, start: int, end: int, content: str, c_start: int) -> Step:
    """``Step(...)`` without the frozen dataclass's ``__init__`` (one ``object.__setattr__``
    per field)."""
    step = _new(Step)
    d = step.__dict__
    d["name"], d["heading"], d["start"], d["end"] = name, heading, start, end
    d["content"], d["content_start"] = content, c_start
    return step


def _answer(text: str, start: int, stop: int) -> str | None:
    for line in text[start:stop].split("\n"):
        line = line.strip().strip("*_`").strip()
        if line:
            return line
    return None
