"""Reading a shard run directory: committed state, items, a typed ``datasets`` view, and the
dataset card that lets ``datasets.load_dataset(out_dir)`` type every column.

Why the card: ``load_dataset("json", data_files=...)`` types columns from the first file, so a
column that is null in every row of the first JSONL shard (possible with a declared schema)
would be typed ``null`` and later shards would fail to cast. Loading with the run's features
(:func:`load_shards`, or ``load_dataset(out_dir)`` which reads the card) always works;
Parquet shards carry their full schema, so plain Parquet loading always works too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from balancedbio.common import atomic_write_text
from balancedbio.data.schema import Schema, arrow_schema, decode_row

PROGRESS, MANIFEST, REJECTED, CARD = "progress.json", "manifest.json", "rejected.jsonl", "README.md"


def read_progress(out_dir: str | Path) -> dict[str, Any] | None:
    """The committed state of a run directory, or None when nothing was committed."""
    path = Path(out_dir) / PROGRESS
    return json.loads(path.read_text()) if path.is_file() else None


def iter_items(out_dir: str | Path, decode: bool = True) -> Iterator[dict[str, Any]]:
    """Committed items of a run directory, in order; ``json_fields`` decoded unless told not."""
    state = read_progress(out_dir)
    if state is None:
        return
    fields = state["json_fields"] if decode else []
    for shard in state["shards"]:
        if not shard["data"]:
            continue
        path = Path(out_dir) / shard["data"]
        if state["format"] == "jsonl":
            with path.open(encoding="utf-8") as fh:
                rows: Any = [json.loads(line) for line in fh]
        else:
            import pyarrow.parquet as pq

            rows = pq.read_table(path).to_pylist()
        for row in rows:
            yield decode_row(row, fields)


def features(schema: Schema) -> Any:
    """``datasets.Features`` of a row schema."""
    import datasets

    return datasets.Features.from_arrow_schema(arrow_schema(schema))


def write_card(out_dir: Path, fmt: str, files: Sequence[str], schema: Schema | None) -> None:
    """``README.md`` with the ``datasets`` YAML header: data files and typed features."""
    header: dict[str, Any] = {
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": "train", "path": f"data/shard-*.{fmt}"}],
            }
        ]
    }
    if schema is not None and files:
        import datasets

        header["dataset_info"] = datasets.DatasetInfo(features=features(schema))._to_yaml_dict()
    body = (
        "# MKGSG synthetic data\n\n"
        "Written by `balancedbio.data.shards.ShardWriter`; counts and provenance are in\n"
        "`manifest.json`, rejections with reasons in `rejected.jsonl`. Load with\n"
        "`datasets.load_dataset(<this folder>)` or `balancedbio.data.shards.load_shards`;\n"
        "columns listed in `manifest.json` `json_fields` hold JSON strings.\n"
    )
    text = "---\n" + yaml.safe_dump(header, sort_keys=False) + "---\n" + body
    atomic_write_text(out_dir / CARD, text)


def load_shards(out_dir: str | Path, *, cache_dir: str | None = None) -> Any:
    """The committed items as a ``datasets.Dataset``, typed with the run's schema.

    ``json_fields`` columns stay JSON strings (decode rows with
    :func:`balancedbio.data.schema.decode_row`, or use :func:`iter_items`).
    """
    import datasets

    state = read_progress(out_dir)
    if state is None or not any(s["data"] for s in state["shards"]):
        raise FileNotFoundError(f"{out_dir} has no committed items")
    files = [str(Path(out_dir) / s["data"]) for s in state["shards"] if s["data"]]
    return datasets.load_dataset(
        "json" if state["format"] == "jsonl" else "parquet",
        data_files=files,
        features=features(state["schema"]),
        split="train",
        cache_dir=cache_dir,
    )
