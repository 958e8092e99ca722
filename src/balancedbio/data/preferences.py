"""Preference pairs for the reward model, from the user's own (generated) domain data.

Each MKGSG item gives a pair ``chosen`` = its verified reference, ``rejected`` = the same
reference with one thing broken on purpose (:func:`balancedbio.data.corrupt.preference_pair`:
a workflow step, an instruction, the final answer, a finding). Users may add their own
pairs in JSONL (``{"prompt": str | messages, "chosen": str, "rejected": str}`` per line).

The held-out split is by prompt group: all pairs of one prompt (one item, or items that
happen to share a prompt) land on the same side, so held-out accuracy measures prompts the
reward model never saw.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancedbio.config import ConfigError
from balancedbio.data.corrupt import preference_pair

if TYPE_CHECKING:
    from balancedbio.data.index import KnowledgeIndex
    from balancedbio.knowledge import KnowledgeGraph

Pair = dict[str, Any]


def item_pairs(
    items: Iterable[Mapping[str, Any]],
    *,
    seed: int = 0,
    pairs_per_item: int = 1,
    corruptions: Iterable[str] = (),
    kg: KnowledgeGraph | None = None,
    index: KnowledgeIndex | None = None,
) -> list[Pair]:
    """Corruption pairs of items: ``{prompt, chosen, rejected, corruption, item_id,
    capability, task}``; up to ``pairs_per_item`` distinct rejections per item.

    ``corruptions`` (non-empty) keeps only those types: an item is re-drawn a few times
    for one of them and skipped when none applies (e.g. MCQ items, whose only corruption
    is a wrong final answer, when that type is left out).
    """
    rng = random.Random(seed)
    keep = frozenset(corruptions)
    tries = 16 * max(1, pairs_per_item) if keep else max(1, pairs_per_item)
    out: list[Pair] = []
    for n, item in enumerate(items):
        seen: set[str] = set()
        for _ in range(tries):
            if len(seen) >= max(1, pairs_per_item):
                break
            pair = preference_pair(item, rng, kg, index)
            if pair is None or pair["rejected"] in seen:
                continue
            if keep and pair["corruption"] not in keep:
                continue
            seen.add(pair["rejected"])
            pair["item_id"] = str(item.get("id") or f"item-{n}")
            pair["capability"] = item.get("capability")
            pair["task"] = item.get("task")
            out.append(pair)
    return out


def read_user_pairs(path: str | Path) -> list[Pair]:
    """Validated pairs of a user JSONL file; a bad line raises naming ``file:line``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"user preference file not found: {path}")
    out: list[Pair] = []
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path}:{line_no}"
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise ConfigError(f"{where}: invalid JSON: {exc}") from exc
            out.append(_user_pair(record, where, f"user:{path.name}:{line_no}"))
    if not out:
        raise ConfigError(f"{path}: no preference pairs")
    return out


def _user_pair(record: Any, where: str, item_id: str) -> Pair:
    if not isinstance(record, dict):
        raise ConfigError(f"{where}: expected a JSON object with prompt, chosen, rejected")
    missing = [k for k in ("prompt", "chosen", "rejected") if k not in record]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {', '.join(missing)}")
    prompt = record["prompt"]
    if isinstance(prompt, str) and prompt.strip():
        prompt = [{"role": "user", "content": prompt}]
    elif not (
        isinstance(prompt, list)
        and prompt
        and all(
            isinstance(m, dict)
            and isinstance(m.get("role"), str)
            and isinstance(m.get("content"), str)
            for m in prompt
        )
    ):
        raise ConfigError(
            f"{where}: prompt must be a non-empty string or a list of {{role, content}} messages"
        )
    for key in ("chosen", "rejected"):
        if not isinstance(record[key], str) or not record[key].strip():
            raise ConfigError(f"{where}: {key} must be a non-empty string")
    if record["chosen"] == record["rejected"]:
        raise ConfigError(f"{where}: chosen and rejected are identical")
    return {
        "prompt": [{"role": m["role"], "content": m["content"]} for m in prompt],
        "chosen": record["chosen"],
        "rejected": record["rejected"],
        "corruption": str(record.get("corruption") or "user"),
        "item_id": item_id,
        "capability": record.get("capability"),
        "task": record.get("task") or "user",
    }


def prompt_key(prompt: Any) -> str:
    """A stable key of a prompt (pairs sharing it stay on one side of the split)."""
    text = json.dumps(prompt, sort_keys=True, ensure_ascii=False)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def split_pairs(
    pairs: Iterable[Pair], heldout_frac: float, seed: int = 0
) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out) by prompt group: no prompt (hence no item) is on both sides.

    ``round(heldout_frac * groups)`` groups, chosen by a seeded shuffle, are held out (at
    least one when ``heldout_frac > 0`` and there are two groups or more).
    """
    if not 0.0 <= heldout_frac < 1.0:
        raise ConfigError(f"heldout_frac must be in [0, 1), got {heldout_frac}")
    pairs = list(pairs)
    keys = sorted({prompt_key(p["prompt"]) for p in pairs})
    n_eval = round(heldout_frac * len(keys))
    if heldout_frac > 0 and len(keys) >= 2:
        n_eval = min(max(n_eval, 1), len(keys) - 1)
    random.Random(seed).shuffle(keys)
    held = set(keys[:n_eval])
    train = [p for p in pairs if prompt_key(p["prompt"]) not in held]
    evals = [p for p in pairs if prompt_key(p["prompt"]) in held]
    return train, evals


def build_preference_pairs(
    source: str | Path | Iterable[Mapping[str, Any]] | None,
    *,
    seed: int = 0,
    user_pairs_jsonl: str | Path | None = None,
    heldout_frac: float = 0.2,
    pairs_per_item: int = 1,
    corruptions: Iterable[str] = (),
    capabilities: Iterable[str] = (),
    kg: KnowledgeGraph | None = None,
    index: KnowledgeIndex | None = None,
) -> tuple[list[Pair], list[Pair]]:
    """(train, held-out) pairs from a dataset directory (or items) plus user JSONL pairs.

    ``capabilities`` (non-empty) keeps the pairs of those capabilities (and untagged user
    pairs) *after* the split, so a scoped run holds out exactly the prompts an unscoped
    run with the same seed holds out.
    """
    pairs: list[Pair] = []
    if source is not None:
        if isinstance(source, (str, Path)):
            from balancedbio.data.shards import iter_items

            if not Path(source).is_dir():
                raise ConfigError(f"dataset directory not found: {source}")
            items: Iterable[Mapping[str, Any]] = iter_items(source)
        else:
            items = source
        pairs = item_pairs(
            items,
            seed=seed,
            pairs_per_item=pairs_per_item,
            corruptions=corruptions,
            kg=kg,
            index=index,
        )
    if user_pairs_jsonl:
        pairs += read_user_pairs(user_pairs_jsonl)
    if not pairs:
        raise ConfigError("no preference pairs: the dataset gave none and no user pairs given")
    train, heldout = split_pairs(pairs, heldout_frac, seed)
    scope = frozenset(capabilities)
    if scope:
        keep = lambda p: p.get("capability") in scope or p.get("capability") is None  # noqa: E731
        train, heldout = [p for p in train if keep(p)], [p for p in heldout if keep(p)]
        if not train:
            raise ConfigError(f"no training pairs for capabilities {sorted(scope)}")
    return train, heldout


__all__ = [
    "build_preference_pairs",
    "item_pairs",
    "prompt_key",
    "read_user_pairs",
    "split_pairs",
]
