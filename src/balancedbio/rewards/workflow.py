"""Declarative clinical-workflow rules over a reasoning trace.

The trace format is defined in :mod:`balancedbio.rewards.trace`: heading lines
``Presentation:``, ``History/Exam:``, ``Differential:``, ``Investigations:``,
``Diagnosis:``, ``Management:`` (aliases and markdown decoration accepted), then a final
``Answer:`` line.

MKGSG rejects items whose reasoning skips or reorders required steps, recommends a drug
without the data it needs, or states a diagnosis the findings do not support; GRPO uses the
same rules as a reward. A rule has a ``name`` and ``check(trace, context)``, which returns
its violations, or None when the rule does not apply to this trace (e.g. no management
step: nothing to dose). The score is ``1 - violated / applicable`` rules, so each rule
weighs the same however many violations it finds.

Rules (:data:`RULES`; choose with :class:`WorkflowSpec`):

* ``required_steps`` - ``context.required_steps`` are present (default presentation,
  differential, diagnosis);
* ``order`` - each step first appears in clinical order; a heading may repeat later
  (revisiting the differential after investigations is sound), so only first occurrences
  are ordered;
* ``diagnosis_supported`` - the diagnosis grounds to a disease (MONDO/OMIM/ORPHA/DECIPHER;
  else "unknown diagnosis entity"), equals ``context.diagnosis_id`` if given, and at least
  ``min_support`` distinct non-negated findings (presentation/history_exam/investigations,
  plus ``context.findings`` ids) are its phenotypes by the true-path rule. Not applicable
  when the ontology annotates no phenotype for the disease (most common diseases: HPO
  annotates rare ones), since support cannot be judged;
* ``no_management_before_diagnosis`` - management comes after a diagnosis step;
* ``differential_contains_diagnosis`` - the final diagnosis was in the differential (same
  ontology entity, incl. same-name ids across ontologies, or same normalized name): else
  premature closure;
* ``differential_size`` - at least ``min_differential`` (2) candidate diseases;
* ``drug_requires_data`` - see :data:`DRUG_RULES`;
* ``findings_grounded`` - lenient: violated only if no finding phrase of the
  presentation/history_exam grounds to any ontology term (the count goes to ``notes``).

A rule that depends on a step applies when that step is present or required: a required
but missing differential violates ``required_steps`` and both differential rules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from balancedbio.config import ConfigError, choice_error
from balancedbio.rewards.trace import (
    FORMAT_INSTRUCTION,
    STEP_NAMES,
    Step,
    Trace,
    format_trace,
    parse_trace,
)
from balancedbio.rewards.workflow_context import DEFAULT_REQUIRED, WorkflowContext
from balancedbio.rewards.workflow_rules import (
    DRUG_RULES,
    DiagnosisSupported,
    DifferentialSize,
    Violation,
    differential_candidates,
    differential_contains_diagnosis,
    drug_requires_data,
    findings_grounded,
    no_management_before_diagnosis,
    order,
    required_steps,
)

__all__ = [
    "DEFAULT_REQUIRED",
    "DRUG_RULES",
    "FORMAT_INSTRUCTION",
    "RULES",
    "STEP_NAMES",
    "Rule",
    "Step",
    "Trace",
    "Violation",
    "WorkflowContext",
    "WorkflowResult",
    "WorkflowSpec",
    "check_workflow",
    "differential_candidates",
    "evaluate_workflow",
    "format_trace",
    "parse_trace",
    "workflow_score",
]

RuleFn = Callable[[Trace, WorkflowContext], "list[Violation] | None"]


@dataclass(frozen=True)
class Rule:
    """A named rule; ``check`` returns its violations, or None when it does not apply."""

    name: str
    fn: RuleFn

    def check(self, trace: Trace, context: WorkflowContext) -> list[Violation] | None:
        return self.fn(trace, context)


#: Every rule name, in the order they run.
RULES: tuple[str, ...] = (
    "required_steps",
    "order",
    "diagnosis_supported",
    "no_management_before_diagnosis",
    "differential_contains_diagnosis",
    "differential_size",
    "drug_requires_data",
    "findings_grounded",
)
_PLAIN: dict[str, RuleFn] = {
    "required_steps": required_steps,
    "order": order,
    "no_management_before_diagnosis": no_management_before_diagnosis,
    "differential_contains_diagnosis": differential_contains_diagnosis,
    "drug_requires_data": drug_requires_data,
    "findings_grounded": findings_grounded,
}


@dataclass(frozen=True)
class WorkflowSpec:
    """Which rules run (by name, default all) and their parameters."""

    rules: tuple[str, ...] = tuple(RULES)
    min_support: int = 2
    min_differential: int = 2

    def __post_init__(self) -> None:
        if isinstance(self.rules, str) or not self.rules:
            raise ConfigError(f"workflow rules: expected a non-empty list, got {self.rules!r}")
        for name in self.rules:
            if name not in RULES:
                raise choice_error("workflow rule", name, RULES)
        object.__setattr__(self, "rules", tuple(dict.fromkeys(self.rules)))

    def build(self) -> list[Rule]:
        return list(_built(self))


@functools.lru_cache(maxsize=64)
def _built(spec: WorkflowSpec) -> tuple[Rule, ...]:
    """The rules of a spec, built once per spec (they are immutable)."""
    made: dict[str, RuleFn] = {
        **_PLAIN,
        "diagnosis_supported": DiagnosisSupported(spec.min_support),
        "differential_size": DifferentialSize(spec.min_differential),
    }
    return tuple(Rule(name, made[name]) for name in spec.rules)


@dataclass(frozen=True)
class WorkflowResult:
    """Outcome: rules that applied, their violations, notes (counts) and the score."""

    trace: Trace
    checked: tuple[str, ...]
    violations: tuple[Violation, ...]
    notes: dict[str, Any]

    @property
    def violated(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.rule for v in self.violations))

    @property
    def score(self) -> float:
        """``1 - violated / applicable`` rules (1.0 if none applied)."""
        return 1.0 - len(self.violated) / len(self.checked) if self.checked else 1.0


def evaluate_workflow(
    text: str | Trace,
    context: WorkflowContext | Mapping[str, Any] | None = None,
    rules: WorkflowSpec | Sequence[str] | None = None,
) -> WorkflowResult:
    """Run the rules on a trace (text or parsed) and score it."""
    trace = text if isinstance(text, Trace) else parse_trace(text)
    if context is None:
        ctx = WorkflowContext()
    elif isinstance(context, WorkflowContext):
        ctx = context
    else:
        ctx = WorkflowContext.from_row(context, kg=context.get("kg"))
    # per-trace memo and notes; the steps' entities are cut from one grounding of the text
    whole = text if isinstance(text, str) else None
    ctx = ctx.fresh(whole)
    if rules is None:
        spec = WorkflowSpec()
    elif isinstance(rules, WorkflowSpec):
        spec = rules
    else:
        spec = WorkflowSpec(rules if isinstance(rules, str) else tuple(rules))
    checked, violations = [], []
    for rule in _built(spec):
        found = rule.check(trace, ctx)
        if found is not None:
            checked.append(rule.name)
            violations.extend(found)
    return WorkflowResult(trace, tuple(checked), tuple(violations), dict(ctx.notes))


def check_workflow(
    text: str | Trace,
    context: WorkflowContext | Mapping[str, Any] | None = None,
    rules: WorkflowSpec | Sequence[str] | None = None,
) -> list[Violation]:
    """The violations of a trace (see :func:`evaluate_workflow`)."""
    return list(evaluate_workflow(text, context, rules).violations)


def workflow_score(
    text: str | Trace,
    context: WorkflowContext | Mapping[str, Any] | None = None,
    rules: WorkflowSpec | Sequence[str] | None = None,
) -> float:
    """``1 - violated / applicable`` rules, in [0, 1]."""
    return evaluate_workflow(text, context, rules).score
