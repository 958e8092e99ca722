"""The run directory the report reads, and a loader that tolerates missing parts.

Layout (every part optional except that a report without ``results.json`` has no scores)::

    RUN_DIR/
      results.json            {"schema": "balancedbio.run/1", "models": {"base": {...},
                              "sft": {...}, "grpo_capability_aware": {...}, "grpo_vanilla":
                              {...}}}: per-model evaluate() results, merged by
                              `balancedbio eval run --run-dir` or `balancedbio eval compare`
      eval/<label>/results.json   per-model results (used when RUN_DIR/results.json is absent)
      eval/<label>/samples/*.jsonl per-sample logs
      data/manifest.json      the generated training set's manifest (counts, rejections)
      data/heldout/manifest.json  the held-out set's manifest
      <stage>/metrics.jsonl   training curves of each stage (sft/, grpo_capability_aware/,
                              grpo_vanilla/ ...): one JSON object per logging step
      config.yaml             the run's resolved config
      report.html, figures/   written by `balancedbio report RUN_DIR`
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancedbio.eval.compare import compare, ordered_labels

log = logging.getLogger(__name__)

STAGE_ORDER: tuple[str, ...] = ("sft", "grpo_capability_aware", "grpo_vanilla")


@dataclass
class RunData:
    """What a run directory holds (``None`` / empty for missing parts)."""

    run_dir: Path
    results: dict[str, Any] | None = None  # run-level: {"models": {label: result}}
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)  # train / heldout
    metrics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # stage -> records
    config_text: str | None = None

    @property
    def labels(self) -> list[str]:
        return ordered_labels((self.results or {}).get("models", {}))


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Records of a JSONL file; a line cut short (a run still writing) is skipped."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            log.warning("%s: skipping an unreadable line", path)
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _results(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / "results.json"
    if path.is_file():
        data = json.loads(path.read_text())
        if "models" in data:
            return data
        if "benchmarks" in data:  # a single model's result
            return compare({data.get("label") or "model": data})
    per_model = sorted(run_dir.glob("eval/*/results.json"))
    if per_model:
        return compare({p.parent.name: p for p in per_model})
    return None


def _stage_key(name: str) -> tuple[int, str]:
    return (STAGE_ORDER.index(name) if name in STAGE_ORDER else len(STAGE_ORDER), name)


def load_run(run_dir: str | Path) -> RunData:
    """Read everything the report can use from ``run_dir``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    data = RunData(run_dir, results=_results(run_dir))
    for name, rel in (("train", "data/manifest.json"), ("heldout", "data/heldout/manifest.json")):
        path = run_dir / rel
        if path.is_file():
            data.manifests[name] = json.loads(path.read_text())
    found = {
        str(p.parent.relative_to(run_dir)): p
        for p in [*run_dir.glob("*/metrics.jsonl"), *run_dir.glob("*/*/metrics.jsonl")]
        if p.relative_to(run_dir).parts[0] not in ("eval", "figures")
    }
    for stage in sorted(found, key=_stage_key):
        records = read_jsonl(found[stage])
        if records:
            data.metrics[stage] = records
    config = run_dir / "config.yaml"
    if config.is_file():
        data.config_text = config.read_text()
    return data


__all__ = ["STAGE_ORDER", "RunData", "load_run", "read_jsonl"]
