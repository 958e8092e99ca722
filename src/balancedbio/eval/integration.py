"""The integration score: right answer AND valid reasoning AND every instruction followed.

**Definition.** Over the integrated held-out items (a clinical case with lettered options
that also carries 1-3 IFEval instructions), the integration score is the share of items
whose completion passes all three checks at once:

1. *answer*: the answer graded by the item's verifier is correct (option letter read by
   :func:`~balancedbio.rewards.answers.extract_choice`; numeric / text answers by their
   graders, see :func:`balancedbio.eval.grading.answer_correct`);
2. *workflow*: the reasoning trace has no violation of the clinical-workflow rules
   (:func:`~balancedbio.rewards.workflow.evaluate_workflow` with the item's
   ``required_steps``, ``diagnosis_id`` and ``findings``);
3. *instructions*: every instruction is followed, strict (IFEval prompt-level strict).

The components are reported alongside: ``answer_acc``, ``workflow_pass_rate``,
``instruction_prompt_strict`` (and instruction-level strict accuracy), so a low score says
which part fails. The same three verifiers grade data, reward GRPO and evaluate here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

COMPONENTS: tuple[str, ...] = ("answer_correct", "workflow_pass", "prompt_strict")
#: Metric name of each component in results (value = share of items).
COMPONENT_METRICS: dict[str, str] = {
    "answer_correct": "answer_acc",
    "workflow_pass": "workflow_pass_rate",
    "prompt_strict": "instruction_prompt_strict",
}


def integrated(verdict: Mapping[str, Any]) -> bool:
    """One item: all three components hold (a missing component counts as failed)."""
    return all(bool(verdict.get(c)) for c in COMPONENTS)


def integration_metrics(verdicts: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Per-item 0/1 series of the score and its components (aggregated by the runner)."""
    out: dict[str, list[float]] = {"integration_score": [float(integrated(v)) for v in verdicts]}
    for comp, metric in COMPONENT_METRICS.items():
        out[metric] = [float(bool(v.get(comp))) for v in verdicts]
    out["instruction_inst_strict"] = [float(x) for v in verdicts for x in v.get("strict", [])]
    return out


__all__ = ["COMPONENTS", "COMPONENT_METRICS", "integrated", "integration_metrics"]
