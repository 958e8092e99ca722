"""Evaluation: benchmarks, scoring, the integration score and the runner.

``import balancedbio.eval`` is light (no torch); the runner loads the model when it needs it.
Entry points: :func:`evaluate` (one model -> ``results.json``), :func:`compare` (several
models' results -> one table), :class:`EvalConfig`.
"""

from __future__ import annotations

from balancedbio.eval.compare import compare, comparison_rows, format_table, merge_into_run
from balancedbio.eval.config import BENCHMARKS, GROUPS, EvalConfig
from balancedbio.eval.runner import evaluate

__all__ = [
    "BENCHMARKS",
    "GROUPS",
    "EvalConfig",
    "compare",
    "comparison_rows",
    "evaluate",
    "format_table",
    "merge_into_run",
]
