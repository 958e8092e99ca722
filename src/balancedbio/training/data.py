"""MKGSG output (``balancedbio generate``) -> rows for the SFT and GRPO stages.

``load_rows(data_dir)`` reads the committed shards of a generate run directory. The columns
the verifiers read (``prompt``, ``capability``, ``answer``, ``choices``, ``lower``/``upper``,
``instruction_id_list``, ...) pass through unchanged. The JSON fields (``kwargs``,
``provenance``) stay JSON *strings*: their shape varies by row, and Arrow (which
``train_grpo`` builds its dataset with) would otherwise merge the per-instruction kwargs
dicts into one struct with ``None`` for every key a row lacks, which IFEval reads as
"draw a random value". The IFEval rewards decode the string themselves
(``balancedbio.rewards.builtin._listish``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from balancedbio.config import ConfigError

log = logging.getLogger(__name__)

#: Generate run directories keep their held-out set here (``balancedbio generate``).
HELDOUT_SUBDIR = "heldout"


def load_rows(
    data_dir: str | Path,
    split: str | None = None,
    *,
    capabilities: Sequence[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Committed items of ``data_dir`` as training rows, in generation order.

    ``split`` keeps only items of that split (``train`` / ``eval``); ``capabilities`` keeps
    only items tagged with one of them; ``limit`` keeps the first ``limit`` rows after
    filtering. Raises ``FileNotFoundError`` when ``data_dir`` holds no generated items and
    ``ConfigError`` when the filters leave nothing.
    """
    from balancedbio.data.records import JSON_FIELDS
    from balancedbio.data.shard_read import iter_items, read_progress

    if limit is not None and limit < 1:
        raise ConfigError(f"limit must be >= 1 (or None for every row), got {limit}")
    path = Path(data_dir)
    if read_progress(path) is None:
        raise FileNotFoundError(
            f"{path} is not a `balancedbio generate` output directory (no committed shards); "
            "run `balancedbio generate --out DIR` first"
        )
    wanted = set(capabilities) if capabilities is not None else None
    rows: list[dict[str, Any]] = []
    seen = 0
    for item in iter_items(path, decode=False):
        seen += 1
        if split is not None and item.get("split") != split:
            continue
        if wanted is not None and item.get("capability") not in wanted:
            continue
        rows.append(_encode_json_fields(item, JSON_FIELDS))
        if limit is not None and len(rows) >= limit:
            break
    if not rows:
        raise ConfigError(
            f"{path}: no items left out of {seen} (split={split!r}, capabilities={capabilities})"
        )
    log.info("loaded %d rows from %s", len(rows), path)
    return rows


def heldout_dir(data_dir: str | Path) -> Path | None:
    """``<data_dir>/heldout`` when the generate run wrote a held-out set there, else None."""
    from balancedbio.data.shard_read import read_progress

    candidate = Path(data_dir) / HELDOUT_SUBDIR
    return candidate if read_progress(candidate) is not None else None


def _encode_json_fields(item: dict[str, Any], fields: Sequence[str]) -> dict[str, Any]:
    """JSON fields as strings (``None`` stays ``None``), whatever the shard format wrote."""
    out = dict(item)
    for key in fields:
        value = out.get(key)
        if value is not None and not isinstance(value, str):
            out[key] = json.dumps(value)
    return out


__all__ = ["HELDOUT_SUBDIR", "heldout_dir", "load_rows"]
