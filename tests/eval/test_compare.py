"""Merging per-model results into the run-level results.json and the comparison table."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from balancedbio.eval.compare import compare, comparison_rows, format_table, merge_into_run


def result(acc: float, integ: float) -> dict[str, Any]:
    cell = {"value": acc, "stderr": 0.01, "n": 100}
    return {
        "benchmarks": {
            "heldout_knowledge": {
                "capability": "knowledge",
                "primary": "acc",
                "n": 100,
                "metrics": {"acc": cell},
            },
        },
        "groups": {},
        "capabilities": {
            "knowledge": {"score": acc, "from": []},
            "integrated": {"score": integ, "from": []},
        },
    }


def test_compare_orders_stages_and_computes_deltas(tmp_path: Path) -> None:
    path = tmp_path / "sft.json"
    path.write_text(json.dumps(result(0.5, 0.25)))
    merged = compare({"grpo_vanilla": result(0.55, 0.2), "sft": path, "base": result(0.25, 0.0)})
    assert list(merged["models"]) == ["base", "sft", "grpo_vanilla"]
    rows = comparison_rows(merged)
    assert [(r["section"], r["name"], r["metric"]) for r in rows] == [
        ("capability", "knowledge", "score"),
        ("capability", "integrated", "score"),
        ("benchmark", "heldout_knowledge", "acc"),
    ]
    assert rows[0]["values"] == {"base": 0.25, "sft": 0.5, "grpo_vanilla": 0.55}
    assert rows[0]["delta"] == {"base": None, "sft": 0.25, "grpo_vanilla": 0.55 - 0.25}
    table = format_table(merged)
    assert "| Base | SFT | Vanilla GRPO |" in table
    assert (
        "| capability | Integration score | score | 0.00 | 25.00 (+25.00) | 20.00 (+20.00) |"
        in table
    )


def test_merge_into_run_adds_and_replaces(tmp_path: Path) -> None:
    merge_into_run(tmp_path, "sft", result(0.4, 0.1))
    merge_into_run(tmp_path, "base", result(0.2, 0.0))
    merged = merge_into_run(tmp_path, "sft", result(0.5, 0.3))
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk == merged and list(on_disk["models"]) == ["base", "sft"]
    assert on_disk["models"]["sft"]["capabilities"]["knowledge"]["score"] == 0.5
