"""A synthetic run directory with every part the report reads (or only some of them)."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

from balancedbio.eval.compare import compare
from balancedbio.eval.grading import summarize

CAPS = ("knowledge", "reasoning", "instruction")
LABELS = ("base", "sft", "grpo_capability_aware", "grpo_vanilla")


def _series(rng: random.Random, p: float, n: int) -> list[float]:
    return [float(rng.random() < p) for _ in range(n)]


def model_result(label: str, seed: int, *, skill: float) -> dict[str, Any]:
    """An evaluate()-shaped result with plausible scores."""
    rng = random.Random(seed)
    benches = {
        "heldout_knowledge": (
            "knowledge",
            "mcq",
            "acc",
            {"acc": 60, "acc_norm": 60, "acc_gen": 60},
        ),
        "mmlu_anatomy": ("knowledge", "mcq", "acc", {"acc": 40, "acc_norm": 40}),
        "heldout_reasoning": (
            "reasoning",
            "reasoning",
            "accuracy",
            {"accuracy": 50, "workflow_pass_rate": 30},
        ),
        "heldout_instruction": (
            "instruction",
            "instruction",
            "prompt_level_strict_acc",
            {"prompt_level_strict_acc": 40, "inst_level_strict_acc": 70},
        ),
        "heldout_integrated": (
            "integrated",
            "integrated",
            "integration_score",
            {
                "integration_score": 30,
                "answer_acc": 30,
                "workflow_pass_rate": 30,
                "instruction_prompt_strict": 30,
            },
        ),
    }
    out: dict[str, Any] = {}
    for name, (cap, kind, primary, metrics) in benches.items():
        out[name] = {
            "capability": cap,
            "kind": kind,
            "n": max(metrics.values()),
            "primary": primary,
            "metrics": {m: summarize(_series(rng, skill, n)) for m, n in metrics.items()},
            "source": {},
            "log": f"samples/{name}.jsonl",
        }
    caps: dict[str, Any] = {}
    for name, entry in out.items():
        value = entry["metrics"][entry["primary"]]["value"]
        caps.setdefault(entry["capability"], {"from": []})["from"].append(
            {"benchmark": name, "metric": entry["primary"], "value": value}
        )
    for cap in caps.values():
        cap["score"] = sum(f["value"] for f in cap["from"]) / len(cap["from"])
    return {
        "schema": "balancedbio.eval/1",
        "label": label,
        "model": {"spec": f"runs/{label}/final", "path": f"/models/{label}", "dtype": "float32"},
        "config": {"max_items": 60, "seed": 1234},
        "data": {"dir": "data/heldout", "seed": 1000003},
        "benchmarks": out,
        "groups": {},
        "capabilities": caps,
        "versions": {"torch": "2.13.0", "transformers": "5.24.0"},
        "fingerprint": f"fp-{label}",
        "timing": {"wall_s": 1.0},
    }


def metrics_records(steps: int, seed: int, *, aware: bool) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for step in range(1, steps + 1):
        rec: dict[str, Any] = {"step": step, "loss": 0.5 / step + 0.01 * rng.random()}
        for cap in CAPS:
            rec[f"rewards_by_capability/{cap}"] = min(1.0, 0.2 + 0.03 * step * rng.random())
            rec[f"pareto/preservation/{cap}"] = (
                1.0 + 0.02 * math.sin(step + len(cap)) - (0 if aware else 0.004 * step)
            )
            rec[f"pareto/score/{cap}"] = 0.3 + 0.01 * step
            rec[f"conflict/grad_norm/{cap}"] = 1.0 + rng.random()
            rec[f"weights/capability/{cap}"] = 1 / 3 + 0.05 * math.sin(step / 3 + len(cap))
        for name in ("mcq_accuracy", "numeric_accuracy", "ifeval_share"):
            rec[f"rewards/{name}/mean"] = rng.random()
        for a, b in (
            ("knowledge", "reasoning"),
            ("knowledge", "instruction"),
            ("reasoning", "instruction"),
        ):
            rec[f"conflict/cos/{a}__{b}"] = None if step == 1 else rng.uniform(-0.6, 0.8)
        rec["conflict/rate"] = rng.random() / 2
        out.append(rec)
    return out


def manifest(split: str, seed: int) -> dict[str, Any]:
    return {
        "split": split,
        "seed": seed,
        "items": 553,
        "rejected": 12,
        "by_capability": {"knowledge": 256, "reasoning": 141, "instruction": 108, "integrated": 48},
        "by_reason": {
            "duplicate": 3,
            "false_claim:is_a": 2,
            "insufficient_distractors": 4,
            "near_duplicate": 1,
            "ambiguous_case": 2,
        },
        "source_versions": {"hpo": "hp/releases/2025-01-16", "mondo": "MONDO v2026-05-05"},
    }


def write_run(
    root: Path, *, models: tuple[str, ...] = LABELS, training: bool = True, data: bool = True
) -> Path:
    """Write a run directory; pass fewer models / no training / no data for partial runs."""
    root.mkdir(parents=True, exist_ok=True)
    skill = {"base": 0.35, "sft": 0.5, "grpo_capability_aware": 0.62, "grpo_vanilla": 0.55}
    if models:
        merged = compare(
            {m: model_result(m, i, skill=skill.get(m, 0.4)) for i, m in enumerate(models)}
        )
        (root / "results.json").write_text(json.dumps(merged, indent=1))
    if training:
        for stage, aware in (("grpo_capability_aware", True), ("grpo_vanilla", False)):
            (root / stage).mkdir(exist_ok=True)
            lines = [json.dumps(r) for r in metrics_records(30, len(stage), aware=aware)]
            (root / stage / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    if data:
        (root / "data" / "heldout").mkdir(parents=True, exist_ok=True)
        (root / "data" / "manifest.json").write_text(json.dumps(manifest("train", 7)))
        (root / "data" / "heldout" / "manifest.json").write_text(
            json.dumps(manifest("eval", 1000003))
        )
        (root / "config.yaml").write_text("model: smollm2-135m\nseed: 7\n")
    return root
