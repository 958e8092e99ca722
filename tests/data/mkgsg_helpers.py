"""Shared helpers of the MKGSG tests: one knowledge graph per process, small configs.

The graph comes from the real cache root resolved at import time (before any fixture
redirects ``$BALANCEDBIO_CACHE`` to a temporary model cache), so it is loaded, not
rebuilt; configs pin ``knowledge.cache_dir`` to it for the same reason.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from balancedbio.common import cache_root
from balancedbio.config import from_dict
from balancedbio.data.config import GenerateConfig

KG_CACHE = str(cache_root())
ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "user_source"

SMALL_TASKS: dict[str, int] = {
    "mcq_phenotype": 12,
    "mcq_subtype": 8,
    "mcq_icd_category": 8,
    "mcq_synonym": 8,
    "mcq_definition": 8,
    "diagnosis_case": 10,
    "calculator": 12,
    "record_case": 11,
    "instruction": 30,
    "document_instruction": 8,
    "integrated_case": 10,
}


@functools.cache
def graph() -> Any:
    from balancedbio.knowledge import KnowledgeConfig, load_knowledge

    kg = load_knowledge(KnowledgeConfig(cache_dir=KG_CACHE))
    kg.grounder  # noqa: B018 - build the automaton once
    return kg


def config(tasks: dict[str, int] | None = None, **sections: Any) -> GenerateConfig:
    """A small config on the real graph cache and the example user source."""
    data: dict[str, Any] = {
        "tasks": dict(tasks or SMALL_TASKS),
        "knowledge": {"cache_dir": KG_CACHE},
        "sources": {
            "documents": str(EXAMPLES / "docs"),
            "records": str(EXAMPLES / "records.jsonl"),
        },
        "output": {"shard_size": 50},
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return from_dict(GenerateConfig, data)


@functools.cache
def engine(tasks: tuple[tuple[str, int], ...] = tuple(SMALL_TASKS.items())) -> Any:
    from balancedbio.data.engine import Engine

    return Engine(config(dict(tasks)), kg=graph())


@functools.cache
def built(tasks: tuple[tuple[str, int], ...] = tuple(SMALL_TASKS.items())) -> list[Any]:
    """(seed, outcome of construction) for every seed of ``engine(tasks)``."""
    eng = engine(tasks)
    seeds = eng.seeds()
    return list(zip(seeds, eng.construct(seeds), strict=True))


def items_of(task: str) -> list[dict[str, Any]]:
    """Constructed (not yet validated) items of one task from the default small run."""
    return [res for seed, res in built() if seed.task == task and isinstance(res, dict)]
