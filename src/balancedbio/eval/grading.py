"""Per-sample verdicts and their aggregation into benchmark metrics.

Graders are the project's one verifier library (:mod:`balancedbio.rewards`): the functions
that validate generated data and reward GRPO also grade evaluations. Every metric is a mean
of per-item (or, for IFEval's instruction level, per-instruction) 0/1 values, reported
with lm-eval's standard error of the mean (``mean_stderr``: sample standard deviation over
``sqrt(n)``, i.e. ``sqrt(p(1-p)/(n-1))`` for 0/1 values).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from balancedbio.eval.integration import integration_metrics
from balancedbio.eval.mcq import letter_metrics
from balancedbio.rewards.answers import (
    exact_match,
    extract_choice,
    extract_final_answer,
    grade_numeric,
)

Row = Mapping[str, Any]


# --------------------------------------------------------------------------- per sample


def answer_correct(record: Row, completion: str) -> bool:
    """The item's answer verifier: option letter, numeric (MedCalc-Bench tolerance) or text
    (exact match after normalization against ``answer`` and ``answer_aliases``)."""
    kind = record.get("answer_kind")
    if kind == "choice":
        return extract_choice(completion, list(record["choices"])) == str(record["answer"]).upper()
    if kind == "numeric":
        try:
            return grade_numeric(
                completion,
                record["answer"],
                lower=record.get("lower"),
                upper=record.get("upper"),
                kind=record.get("output_kind") or "decimal",
            )
        except ValueError:
            return False
    if kind == "text":
        golds = [str(record["answer"]), *map(str, record.get("answer_aliases") or [])]
        return exact_match(extract_final_answer(completion), golds)
    raise ValueError(f"record {record.get('id')!r} has no gradable answer (answer_kind={kind!r})")


def workflow_verdict(
    record: Row, completion: str, rules: Sequence[str], cache_dir: str | None
) -> dict[str, Any]:
    """Workflow validity of the completion's trace, with the item's steps and diagnosis."""
    from balancedbio.rewards.workflow import WorkflowContext, evaluate_workflow

    ctx = WorkflowContext.from_row(record, cache_dir=cache_dir)
    result = evaluate_workflow(completion, ctx, tuple(rules) or None)
    return {
        "workflow_pass": not result.violations,
        "workflow_score": result.score,
        "workflow_violations": list(result.violated),
    }


def instruction_verdict(prompt: str, record: Row, completion: str) -> dict[str, Any]:
    """IFEval verdicts (lm-eval's strict and loose) of every instruction of the item."""
    from balancedbio.rewards.ifeval import follow_instructions

    kwargs = record.get("kwargs") or [{} for _ in record["instruction_id_list"]]
    res = follow_instructions(prompt, completion, list(record["instruction_id_list"]), kwargs)
    return {
        "strict": res.strict,
        "loose": res.loose,
        "prompt_strict": res.prompt_strict,
        "prompt_loose": res.prompt_loose,
    }


def needs_workflow(record: Row) -> bool:
    """Case items (with required steps or a diagnosis) are checked against the workflow."""
    return bool(record.get("required_steps") or record.get("diagnosis_id"))


def grade(
    kind: str,
    record: Row,
    completion: str,
    prompt: str,
    *,
    rules: Sequence[str] = (),
    cache_dir: str | None = None,
) -> dict[str, Any]:
    """Verdicts of one generated completion for a benchmark of ``kind``."""
    if kind == "mcq":
        return letter_metrics(completion, record["choices"], str(record["answer"]).upper())
    if kind == "reasoning":
        out: dict[str, Any] = {
            "answer_kind": record.get("answer_kind"),
            "correct": answer_correct(record, completion),
        }
        if needs_workflow(record):
            out.update(workflow_verdict(record, completion, rules, cache_dir))
        return out
    if kind == "instruction":
        return instruction_verdict(prompt, record, completion)
    if kind == "integrated":
        out = {"answer_correct": answer_correct(record, completion)}
        out.update(workflow_verdict(record, completion, rules, cache_dir))
        out.update(instruction_verdict(prompt, record, completion))
        return out
    raise ValueError(f"unknown benchmark kind {kind!r}")


# --------------------------------------------------------------------------- aggregation


def mean_stderr(values: Sequence[float]) -> float | None:
    """lm-eval's ``mean_stderr``: sample standard deviation / sqrt(n) (None for n < 2)."""
    n = len(values)
    if n < 2:
        return None
    mu = sum(values) / n
    return math.sqrt(sum((x - mu) ** 2 for x in values) / (n - 1)) / math.sqrt(n)


def summarize(values: Sequence[float]) -> dict[str, Any]:
    """``{value, stderr, n}`` of a 0/1 (or [0, 1]) series."""
    n = len(values)
    return {"value": sum(values) / n if n else None, "stderr": mean_stderr(values), "n": n}


def metric_series(kind: str, verdicts: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """The per-item series each metric of ``kind`` averages (empty series are dropped)."""
    series: dict[str, list[float]] = {}
    if kind == "mcq":
        for key in ("acc", "acc_norm", "acc_gen"):
            series[key] = [float(v[key]) for v in verdicts if key in v]
    elif kind == "reasoning":
        series["accuracy"] = [float(v["correct"]) for v in verdicts]
        series["numeric_acc"] = [
            float(v["correct"]) for v in verdicts if v.get("answer_kind") == "numeric"
        ]
        series["case_acc"] = [
            float(v["correct"]) for v in verdicts if v.get("answer_kind") == "text"
        ]
        series["workflow_pass_rate"] = [
            float(v["workflow_pass"]) for v in verdicts if "workflow_pass" in v
        ]
        series["workflow_score"] = [
            float(v["workflow_score"]) for v in verdicts if "workflow_score" in v
        ]
    elif kind == "instruction":
        series["prompt_level_strict_acc"] = [float(v["prompt_strict"]) for v in verdicts]
        series["inst_level_strict_acc"] = [float(x) for v in verdicts for x in v["strict"]]
        series["prompt_level_loose_acc"] = [float(v["prompt_loose"]) for v in verdicts]
        series["inst_level_loose_acc"] = [float(x) for v in verdicts for x in v["loose"]]
    elif kind == "integrated":
        series = integration_metrics(verdicts)
    else:
        raise ValueError(f"unknown benchmark kind {kind!r}")
    return {k: v for k, v in series.items() if v}


def aggregate(kind: str, verdicts: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Benchmark metrics: ``{metric: {value, stderr, n}}``."""
    return {k: summarize(v) for k, v in metric_series(kind, verdicts).items()}


__all__ = [
    "aggregate",
    "answer_correct",
    "grade",
    "instruction_verdict",
    "mean_stderr",
    "metric_series",
    "needs_workflow",
    "summarize",
    "workflow_verdict",
]
