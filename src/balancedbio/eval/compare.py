"""Merge several models' ``results.json`` into one run-level file and comparison table.

The run-level ``results.json`` (what :mod:`balancedbio.report` reads) is::

    {"schema": "balancedbio.run/1",
     "models": {"base": <evaluate() result>, "sft": ..., "grpo_capability_aware": ...,
                "grpo_vanilla": ...}}

Labels are free-form; the four above are the stages of the method and are ordered and
named for display. Deltas are against ``base`` (else the first model).
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from balancedbio.common import write_json

RUN_SCHEMA = "balancedbio.run/1"
MODEL_ORDER: tuple[str, ...] = ("base", "sft", "grpo_capability_aware", "grpo_vanilla")
MODEL_NAMES: dict[str, str] = {
    "base": "Base",
    "sft": "SFT",
    "grpo_capability_aware": "Capability-aware GRPO",
    "grpo_vanilla": "Vanilla GRPO",
}
CAPABILITY_ORDER: tuple[str, ...] = ("knowledge", "reasoning", "instruction", "integrated")
CAPABILITY_NAMES: dict[str, str] = {
    "knowledge": "Domain knowledge",
    "reasoning": "Reasoning",
    "instruction": "Instruction following",
    "integrated": "Integration score",
}


def model_name(label: str) -> str:
    return MODEL_NAMES.get(label, label)


def ordered_labels(labels: Any) -> list[str]:
    """The method's stages first (base, SFT, GRPO variants), then others in given order."""
    labels = list(labels)
    return [m for m in MODEL_ORDER if m in labels] + [m for m in labels if m not in MODEL_ORDER]


def load_result(src: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    """A per-model result: a mapping, a ``results.json`` path or a directory holding one."""
    if isinstance(src, Mapping):
        return dict(src)
    path = Path(src)
    if path.is_dir():
        path = path / "results.json"
    data = json.loads(path.read_text())
    if "benchmarks" not in data:
        raise ValueError(f"{path} is not an evaluate() result (no 'benchmarks')")
    return data


def compare(results: Mapping[str, str | Path | Mapping[str, Any]]) -> dict[str, Any]:
    """Merge per-model results (``label -> result | path``) into a run-level result."""
    models = {label: load_result(src) for label, src in results.items()}
    return {"schema": RUN_SCHEMA, "models": {k: models[k] for k in ordered_labels(models)}}


@contextmanager
def _locked(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(f".{path.name}.lock"), "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def merge_into_run(run_dir: str | Path, label: str, result: Mapping[str, Any]) -> dict[str, Any]:
    """Add (or replace) one model in ``run_dir/results.json``; safe against parallel evals."""
    path = Path(run_dir) / "results.json"
    with _locked(path):
        current = json.loads(path.read_text()) if path.is_file() else {"models": {}}
        models = dict(current.get("models", {}))
        models[label] = dict(result)
        merged = compare(models)
        write_json(path, merged)
    return merged


def _baseline(labels: list[str]) -> str | None:
    return "base" if "base" in labels else (labels[0] if labels else None)


def comparison_rows(merged: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Table rows: capability scores, then every benchmark/group metric.

    Each row: ``section`` (capability | benchmark), ``name``, ``metric``, ``values`` and
    ``stderr`` (label -> float | None, straight from the results) and ``delta`` (label ->
    value - baseline value)."""
    models: Mapping[str, Any] = merged.get("models", {})
    labels = ordered_labels(models)
    base = _baseline(labels)
    rows: list[dict[str, Any]] = []

    def add(
        section: str,
        name: str,
        metric: str,
        values: dict[str, Any],
        errs: dict[str, Any],
        n: dict[str, Any],
    ) -> None:
        ref = values.get(base) if base else None
        delta = {
            k: (v - ref if v is not None and ref is not None and k != base else None)
            for k, v in values.items()
        }
        rows.append(
            {
                "section": section,
                "name": name,
                "metric": metric,
                "values": values,
                "stderr": errs,
                "n": n,
                "delta": delta,
            }
        )

    caps = [
        c for c in CAPABILITY_ORDER if any(c in models[m].get("capabilities", {}) for m in labels)
    ]
    for cap in caps:
        vals = {m: models[m].get("capabilities", {}).get(cap, {}).get("score") for m in labels}
        add("capability", cap, "score", vals, dict.fromkeys(labels), dict.fromkeys(labels))
    names: dict[str, list[str]] = {}
    for m in labels:
        for section in ("groups", "benchmarks"):
            for b, entry in models[m].get(section, {}).items():
                metrics = names.setdefault(b, [])
                metrics.extend(k for k in entry["metrics"] if k not in metrics)
    for b, metrics in names.items():
        for metric in metrics:
            vals, errs, ns = {}, {}, {}
            for m in labels:
                entry = (
                    models[m].get("benchmarks", {}).get(b)
                    or models[m].get("groups", {}).get(b)
                    or {}
                )
                cell = entry.get("metrics", {}).get(metric) or {}
                vals[m], errs[m], ns[m] = cell.get("value"), cell.get("stderr"), cell.get("n")
            add("benchmark", b, metric, vals, errs, ns)
    return rows


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}"


def format_table(merged: Mapping[str, Any]) -> str:
    """A Markdown table (percent, deltas vs the baseline in parentheses)."""
    labels = ordered_labels(merged.get("models", {}))
    base = _baseline(labels)
    head = "| section | benchmark | metric | " + " | ".join(model_name(m) for m in labels) + " |"
    lines = [head, "|---|---|---|" + "---:|" * len(labels)]
    for row in comparison_rows(merged):
        cells = []
        for m in labels:
            text = _pct(row["values"][m])
            d = row["delta"][m]
            cells.append(text if m == base or d is None else f"{text} ({100 * d:+.2f})")
        name = (
            CAPABILITY_NAMES.get(row["name"], row["name"])
            if row["section"] == "capability"
            else row["name"]
        )
        lines.append(f"| {row['section']} | {name} | {row['metric']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


__all__ = [
    "CAPABILITY_NAMES",
    "CAPABILITY_ORDER",
    "MODEL_NAMES",
    "MODEL_ORDER",
    "RUN_SCHEMA",
    "compare",
    "comparison_rows",
    "format_table",
    "load_result",
    "merge_into_run",
    "model_name",
    "ordered_labels",
]
