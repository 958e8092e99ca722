"""Helpers of the evaluation tests: the MKGSG fixture items and a dataset writer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval_paths import DATA


def heldout_items() -> list[dict[str, Any]]:
    """19 real MKGSG held-out items (every task), decoded as ``iter_items`` gives them."""
    lines = (DATA / "mkgsg_heldout.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def write_dataset(out: Path, items: list[dict[str, Any]]) -> Path:
    """A generated-dataset directory (shards, progress, manifest) holding ``items``."""
    from balancedbio.data.records import JSON_FIELDS, SCHEMA
    from balancedbio.data.shards import ShardWriter

    writer = ShardWriter(out, shard_size=8, json_fields=JSON_FIELDS, schema=SCHEMA)
    for item in items:
        writer.add_seed([item])
    writer.finalize({"seed": 1000003, "split": "eval", "source_versions": {"hpo": "hp/test"}})
    return out
