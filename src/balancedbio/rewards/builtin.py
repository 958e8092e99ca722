"""Rewards built on the verifiers: ``workflow``, ``ontology_claims``, ``ifeval_strict`` and
``ifeval_loose``.

:mod:`balancedbio.rewards.registry` announces them lazily, so this module (and the
knowledge graph) loads only when a run asks for one of them; building a graph reward loads
the graph (outside any per-sample time limit). Scorers are small picklable objects holding
their params; the graph is never stored in them but taken from the per-process
:func:`~balancedbio.rewards.entities.shared_graph` on each call (loaded again, once, in a
process that unpickled them).

None ("not applicable", never a disguised 0):

* ``workflow`` never returns None: a completion without the trace format scores 0;
* ``ontology_claims``: None when the completion states no checkable relation;
* ``ifeval_*``: None when the row's ``instruction_id_list`` is empty or null.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from balancedbio.rewards.base import ScoreFn
from balancedbio.rewards.registry import _column, register_reward
from balancedbio.rewards.workflow import RULES, WorkflowSpec

NAMES: tuple[str, ...] = ("workflow", "ontology_claims", "ifeval_strict", "ifeval_loose")
#: Workflow rules that read the knowledge graph.
GRAPH_RULES: tuple[str, ...] = (
    "diagnosis_supported",
    "differential_contains_diagnosis",
    "differential_size",
    "findings_grounded",
)


def warm_graph(cache_dir: str | None = None) -> None:
    """Load the shared graph and its grounder now, when the reward is built, so the first
    scored sample does not spend its time limit (``RewardSpec.timeout_s``) loading them."""
    from balancedbio.rewards.claims import check_claims
    from balancedbio.rewards.entities import shared_graph

    # Grounder, name index, annotations and the string tables are built on first use.
    check_claims("Marfan syndrome is characterized by arachnodactyly.", shared_graph(cache_dir))


@dataclass(frozen=True)
class WorkflowScore:
    """Workflow score of the completion's trace; rows may carry ``required_steps``,
    ``diagnosis_id``, ``findings`` (ids) and the case (``case`` or ``prompt``)."""

    spec: WorkflowSpec
    cache_dir: str | None = None

    def __call__(self, text: str, row: Mapping[str, Any]) -> float:
        from balancedbio.rewards.workflow import WorkflowContext, evaluate_workflow

        ctx = WorkflowContext.from_row(row, cache_dir=self.cache_dir)
        return evaluate_workflow(text, ctx, self.spec).score


@dataclass(frozen=True)
class ClaimsScore:
    """Fraction of the completion's ontology claims that are true (None: no claims)."""

    cache_dir: str | None = None

    def __call__(self, text: str, row: Mapping[str, Any]) -> float | None:
        from balancedbio.rewards.claims import check_claims
        from balancedbio.rewards.entities import shared_graph

        return check_claims(text, shared_graph(self.cache_dir)).score


def _listish(value: Any) -> Any:
    """Lists stored as JSON strings (Parquet/CSV exports) are decoded."""
    return json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value


def prompt_text(prompt: Any) -> str | None:
    """The prompt as text: a string, or the last user turn of a message list."""
    if prompt is None or isinstance(prompt, str):
        return prompt
    if isinstance(prompt, Sequence):
        users = [m for m in prompt if isinstance(m, Mapping) and m.get("role") == "user"]
        if users:
            from balancedbio.rewards.base import completion_text

            return completion_text(users[-1])
    return str(prompt)


@dataclass(frozen=True)
class IFEvalScore:
    """Fraction (or all-or-nothing) of the row's IFEval instructions followed."""

    loose: bool
    all_or_nothing: bool = False

    def __call__(self, text: str, row: Mapping[str, Any]) -> float | None:
        from balancedbio.rewards.ifeval import follow_instructions

        ids = _listish(_column(row, "instruction_id_list"))
        if ids is None or len(ids) == 0:
            return None
        if isinstance(ids, str):
            ids = [ids]
        kwargs = _listish(row.get("kwargs"))
        if kwargs is None:
            kwargs = [{}] * len(ids)
        result = follow_instructions(prompt_text(row.get("prompt")), text, ids, kwargs)
        verdicts = result.loose if self.loose else result.strict
        if self.all_or_nothing:
            return float(all(verdicts))
        return sum(verdicts) / len(verdicts)


@register_reward(
    "workflow",
    ("reasoning", "integrated"),
    {"rules": RULES, "min_support": 2, "min_differential": 2, "cache_dir": None},
)
def workflow(
    rules: Sequence[str], min_support: int, min_differential: int, cache_dir: str | None
) -> ScoreFn:
    """Clinical workflow score: 1 - violated/applicable rules of the reasoning trace."""
    names = rules if isinstance(rules, str) else tuple(rules)
    spec = WorkflowSpec(names, int(min_support), int(min_differential))
    if set(spec.rules) & set(GRAPH_RULES):
        warm_graph(cache_dir)
    return WorkflowScore(spec, cache_dir)


@register_reward("ontology_claims", ("knowledge", "reasoning", "integrated"), {"cache_dir": None})
def ontology_claims(cache_dir: str | None) -> ScoreFn:
    """Fraction of stated ontology relations (is_a, has_phenotype, name, ICD parent) true."""
    warm_graph(cache_dir)
    return ClaimsScore(cache_dir)


@register_reward("ifeval_strict", ("instruction", "integrated"), {"all_or_nothing": False})
def ifeval_strict(all_or_nothing: bool) -> ScoreFn:
    """Fraction of the row's IFEval instructions followed (strict; lm-eval 0.4.13)."""
    return IFEvalScore(loose=False, all_or_nothing=bool(all_or_nothing))


@register_reward("ifeval_loose", ("instruction", "integrated"), {"all_or_nothing": False})
def ifeval_loose(all_or_nothing: bool) -> ScoreFn:
    """Fraction of the row's IFEval instructions followed (loose; lm-eval 0.4.13)."""
    return IFEvalScore(loose=True, all_or_nothing=bool(all_or_nothing))
