"""The evaluation config shared by the runner tests and their subprocess worker."""

from __future__ import annotations

from eval_paths import DATA, KG_CACHE

from balancedbio.eval import EvalConfig


def config(**changes: object) -> EvalConfig:
    """Every held-out benchmark plus two external ones, tiny chunks (many resume points)."""
    base: dict[str, object] = {
        "benchmarks": ("heldout", "mmlu_anatomy", "mmlu_clinical_knowledge", "ifeval"),
        "files": {"biomed_mmlu": str(DATA / "mmlu"), "ifeval": str(DATA / "ifeval.jsonl")},
        "batch_size": 2,
        "chunk_size": 2,
        "max_new_tokens": 8,
        "knowledge_cache_dir": KG_CACHE,
    }
    base.update(changes)
    return EvalConfig(**base)  # type: ignore[arg-type]
