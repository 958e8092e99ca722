"""The workflow rules themselves and their violations (see :mod:`.workflow`; the context
they read is in :mod:`.workflow_context`).

Each rule is ``rule(trace, context) -> list[Violation] | None`` (None: does not apply).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from balancedbio.rewards.entities import (
    Entity,
    is_negated,
    negated_spans,
    phrase_spans,
    same_name_ids,
)
from balancedbio.rewards.trace import STEP_RANK, Step, Trace
from balancedbio.rewards.workflow_context import WorkflowContext

FINDING_STEPS: tuple[str, ...] = ("presentation", "history_exam", "investigations")


def _words(*names: str) -> str:
    return r"\b(?:" + "|".join(names) + r")\b"


#: ``drug_requires_data``: (what, trigger in management, data needed in the findings/case).
#: Weight-based dosing needs a weight; renally cleared drugs (or explicit renal dose
#: adjustment) need creatinine/eGFR/CrCl (or a stated renal function); anticoagulants need
#: coagulation or bleeding-risk data (INR, PT/aPTT, platelets, HAS-BLED).
DRUG_RULES: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (what, re.compile(trigger, re.I), re.compile(data, re.I))
    for what, trigger, data in (
        (
            "weight-based dosing",
            r"\b(?:mg|mcg|\u00b5g|ug|g|units?|iu|ml|mmol|meq)\s*/\s*kg\b|\bper\s+kg\b",
            r"(?<![\w/.])\d+(?:\.\d+)?\s*(?:kg|kilograms?|lbs?|pounds)\b(?!\s*/)"
            r"|\bweigh(?:s|t|ing)?\b[^.\n\d]{0,15}\d",
        ),
        (
            "renally adjusted dosing",
            _words(
                "enoxaparin",
                "metformin",
                "gentamicin",
                "amikacin",
                "tobramycin",
                "vancomycin",
                "lithium",
                "digoxin",
                "dabigatran",
            )
            + r"|\brenal(?:ly)?[\s-]+(?:dos\w*|adjust\w*)|\bdose[\s-]+adjust\w*[^.\n]{0,20}"
            r"(?:renal|kidney|creatinine)",
            r"\b(?:creatinine(?:\s+clearance)?|creat|cr|s?cr|e?gfr|crcl)\b[^.\n\d]{0,25}\d"
            r"|\b(?:normal|impaired|reduced|preserved)\s+(?:renal|kidney)\s+function"
            r"|\b(?:renal|kidney)\s+function\s+(?:is\s+)?(?:normal|impaired|reduced|preserved)",
        ),
        (
            "anticoagulation",
            _words(
                "warfarin",
                "heparin",
                "enoxaparin",
                "dalteparin",
                "fondaparinux",
                "apixaban",
                "rivaroxaban",
                "edoxaban",
                "dabigatran",
            ),
            r"\b(?:inr|a?ptt|prothrombin\s+time|platelets?|plt|platelet\s+count)\b[^.\n\d]{0,25}\d"
            r"|\bhas[\s-]?bled\b|\bbleeding\s+risk\b",
        ),
    )
)


@dataclass(frozen=True)
class Violation:
    """A broken rule: ``span`` is ``(start, end)`` in the trace text when it has a place."""

    rule: str
    message: str
    span: tuple[int, int] | None = None


def _applies(trace: Trace, ctx: WorkflowContext, step: str) -> bool:
    return trace.has(step) or step in ctx.required_steps


def _missing(rule: str, step: str) -> list[Violation]:
    return [Violation(rule, f"no {step} step")]


def _span(step: Step) -> tuple[int, int]:
    return (step.start, step.end)


def _diagnosis(ctx: WorkflowContext, step: Step) -> Entity | None:
    """The stated diagnosis: the first entity grounded to a disease, else the first one
    naming a disease through another ontology ("pneumonia": HP term and MONDO disease)."""
    ents = [e for e in ctx.entities(step) if e.diseases]
    primary = [e for e in ents if e.ids[0] in e.diseases]
    return (primary or ents or [None])[0]


def _name_key(text: str) -> str:
    from balancedbio.knowledge import normalize

    head = re.split(r"[(,;:\n]| - |\b(?:given|because|due|secondary|with)\b", text, maxsplit=1)
    return normalize(head[0])


# --------------------------------------------------------------------------- rules


def required_steps(trace: Trace, ctx: WorkflowContext) -> list[Violation] | None:
    return [
        Violation("required_steps", f"required step {name!r} is missing")
        for name in ctx.required_steps
        if not trace.has(name)
    ]


def order(trace: Trace, ctx: WorkflowContext) -> list[Violation] | None:
    if len(set(trace.names)) < 2:
        return None
    out, seen, latest = [], set(), None
    for step in trace.steps:
        if step.name in seen:
            continue
        seen.add(step.name)
        if latest is not None and STEP_RANK[step.name] < STEP_RANK[latest.name]:
            msg = f"{step.name} ({step.heading!r}) comes after {latest.name} ({latest.heading!r})"
            out.append(Violation("order", msg, _span(step)))
        elif latest is None or STEP_RANK[step.name] > STEP_RANK[latest.name]:
            latest = step
    return out


def no_management_before_diagnosis(trace: Trace, ctx: WorkflowContext) -> list[Violation] | None:
    mgmt = trace.first("management")
    if mgmt is None:
        return None
    diag = trace.first("diagnosis")
    rule = "no_management_before_diagnosis"
    if diag is None:
        return [Violation(rule, "management is given without a diagnosis step", _span(mgmt))]
    if mgmt.start < diag.start:
        return [Violation(rule, "management is given before the diagnosis", _span(mgmt))]
    return []


@dataclass(frozen=True)
class DiagnosisSupported:
    """The diagnosis is a known disease supported by ``min_support`` annotated findings."""

    min_support: int = 2
    name: str = "diagnosis_supported"

    def __call__(self, trace: Trace, ctx: WorkflowContext) -> list[Violation] | None:
        if not _applies(trace, ctx, "diagnosis"):
            return None
        step = trace.first("diagnosis")
        if step is None:
            return _missing(self.name, "diagnosis")
        kg, diag = ctx.graph, _diagnosis(ctx, step)
        if diag is None:
            text = step.content.split("\n", 1)[0][:80]
            return [Violation(self.name, f"unknown diagnosis entity: {text!r}", _span(step))]
        out = []
        if ctx.diagnosis_id:
            expected = same_name_ids(kg, ctx.diagnosis_id)
            if not expected:
                raise ValueError(f"diagnosis_id {ctx.diagnosis_id!r} is not in the graph")
            if not set(expected) & set(diag.ids):
                msg = (
                    f"diagnosis {diag.text!r} ({diag.ids[0]}) is not the expected "
                    f"{expected[0]} ({kg.name_of(expected[0])})"
                )
                out.append(Violation(self.name, msg, (diag.start, diag.end)))
        diseases = [d for d in diag.diseases if kg.annotates(d)]
        if not diseases:
            ctx.notes[self.name] = f"{diag.text!r}: no phenotype annotations, support unchecked"
            return out or None
        supported, unsupported = self._support(trace, ctx, diseases)
        ctx.notes[self.name] = f"{len(supported)}/{len(supported) + len(unsupported)} findings"
        if len(supported) < self.min_support:
            msg = (
                f"diagnosis {diag.text!r} ({diseases[0]}) is supported by {len(supported)} "
                f"finding(s) (need {self.min_support}); not annotated: "
                f"{', '.join(unsupported) or '(none)'}"
            )
            out.append(Violation(self.name, msg, (diag.start, diag.end)))
        return out

    @staticmethod
    def _support(
        trace: Trace, ctx: WorkflowContext, diseases: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        kg = ctx.graph
        found: dict[str, tuple[str, tuple[str, ...]]] = {}  # first HP id -> (text, HP ids)
        for step in trace.all(*FINDING_STEPS):
            negated = negated_spans(step.content)
            for ent in ctx.entities(step, phrases=True):
                if ent.phenotypes and not is_negated(ent, negated, step.content_start):
                    found.setdefault(ent.phenotypes[0], (ent.text, ent.phenotypes))
        for nid in ctx.findings:
            canon = kg.resolve(nid)
            if canon and canon.startswith("HP:"):
                found.setdefault(canon, (kg.name_of(canon), (canon,)))
        supported, unsupported = [], []
        holds = kg.checker.holds_phenotype  # kg.check's verdict, without its reason
        for text, phenos in found.values():
            ok = any(holds(d, p) for d in diseases for p in phenos)
            (supported if ok else unsupported).append(text)
        return supported, unsupported


def differential_contains_diagnosis(trace: Trace, ctx: WorkflowContext) -> list[Violation] | None:
    rule = "differential_contains_diagnosis"
    diag_step = trace.first("diagnosis")
    if diag_step is None or not _applies(trace, ctx, "differential"):
        return None
    steps = trace.all("differential")
    if not steps:
        return _missing(rule, "differential")
    diag = _diagnosis(ctx, diag_step)
    if diag is not None:
        ids = set(diag.ids)
        if any(ids & set(e.ids) for s in steps for e in ctx.entities(s)):
            return []
    name = _name_key(diag.text if diag is not None else diag_step.content)
    from balancedbio.knowledge import normalize

    if name and any(f" {name} " in f" {normalize(s.content)} " for s in steps):
        return []
    what = diag.text if diag is not None else diag_step.content.split("\n", 1)[0][:80]
    msg = f"the diagnosis {what!r} is not in the differential (premature closure)"
    return [Violation(rule, msg, _span(steps[0]))]


_PARENS = re.compile(r"\([^()\n]*\)")
_LIST_ITEM = re.compile(r"\s*(?:\d{1,2}[.)]|[-*+\u2022])\s+")
_REASON = re.compile(r":| [-\u2013\u2014] ")


def _blank(m: re.Match[str]) -> str:
    return " " * (m.end() - m.start())


def differential_candidates(ctx: WorkflowContext, step: Step) -> list[str]:
    """Distinct candidate diseases listed in a differential step (their first ids).

    Items are split at list separators (commas, "or", "vs", new lines); in a list item the
    reasoning after ``:`` or `` - `` and text in parentheses are ignored. An item counts if
    it names a disease (or an ICD-10-CM code) in any ontology.
    """
    text = _PARENS.sub(_blank, step.content) if "(" in step.content else step.content
    masked = []
    for line in text.split("\n"):
        item = _LIST_ITEM.match(line)
        cut = _REASON.search(line) if item else None
        masked.append(line[: cut.start()] + " " * (len(line) - cut.start()) if cut else line)
    text = "\n".join(masked).replace(" vs ", " or ").replace(" versus ", " or ")
    ents = [e for e in ctx.entities(step) if e.diseases or e.icd]
    seen: dict[str, None] = {}
    s0 = step.content_start
    for start, end in phrase_spans(text):
        lo, hi = start + s0, end + s0
        for e in ents:
            if e.start < hi and lo < e.end:  # overlaps, inlined
                if not any(i in seen for i in e.ids):
                    seen[e.ids[0]] = None
                break
    return list(seen)


@dataclass(frozen=True)
class DifferentialSize:
    """The differential lists at least ``min_differential`` candidate diseases."""

    min_differential: int = 2
    name: str = "differential_size"

    def __call__(self, trace: Trace, ctx: WorkflowContext) -> list[Violation] | None:
        if not _applies(trace, ctx, "differential"):
            return None
        steps = trace.all("differential")
        if not steps:
            return _missing(self.name, "differential")
        found = {i for s in steps for i in differential_candidates(ctx, s)}
        ctx.notes[self.name] = len(found)
        if len(found) >= self.min_differential:
            return []
        msg = f"differential lists {len(found)} candidate(s) (need {self.min_differential})"
        return [Violation(self.name, msg, _span(steps[0]))]


def drug_requires_data(trace: Trace, ctx: WorkflowContext) -> list[Violation] | None:
    mgmt = trace.all("management")
    if not mgmt:
        return None
    data = "\n".join([ctx.case_text, *(s.content for s in trace.all(*FINDING_STEPS))])
    out = []
    for what, trigger, needed in DRUG_RULES:
        for step in mgmt:
            m = trigger.search(step.content)
            if m and not needed.search(data):
                msg = f"{what} ({m.group()!r}) without the data it needs in the findings"
                span = (step.content_start + m.start(), step.content_start + m.end())
                out.append(Violation("drug_requires_data", msg, span))
                break
    return out


def findings_grounded(trace: Trace, ctx: WorkflowContext) -> list[Violation] | None:
    steps = trace.all("presentation", "history_exam")
    if not steps:
        return None
    n = grounded = 0
    for step in steps:
        ents = ctx.entities(step, phrases=True)
        for start, end in phrase_spans(step.content):
            n += 1
            s, e = start + step.content_start, end + step.content_start
            grounded += any(x.start < e and s < x.end for x in ents)  # overlaps, inlined
    ctx.notes["findings_grounded"] = f"{grounded}/{n} phrases grounded"
    if n and not grounded:
        return [Violation("findings_grounded", "no finding grounds to an ontology term")]
    return []
