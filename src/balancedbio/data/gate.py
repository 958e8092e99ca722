"""Dedup and decontamination of the item stream (the stage between validate and write).

* **Dedup** (:mod:`balancedbio.data.dedup`): exact (normalized text hash) and near
  (MinHash/LSH) duplicates of the question + answer + reference, in stream order (first
  occurrence kept). Calculator items differ in their numbers, which word-shingle MinHash
  cannot weigh, so only exact duplicates count for them.
* **Decontamination**: a 13-gram shared with any evaluation set (generated held-out dirs,
  JSONL files) rejects the item. n-grams are taken within a line (so a template line never
  joins content into one n-gram), IFEval instruction texts are removed first, and n-grams
  found in many evaluation documents are template boilerplate, not content, and are
  ignored (``DecontaminateConfig.max_doc_fraction`` / ``min_docs``).
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from balancedbio.data.decontam import Contamination, Decontaminator
from balancedbio.data.dedup import (
    ExactDedup,
    NearDupIndex,
    text_hash,
    tokens,
    utf8_words_many,
    words_hash,
)
from balancedbio.data.records import Rejection
from balancedbio.data.shards import iter_items

if TYPE_CHECKING:
    from balancedbio.data.config import GenerateConfig

log = logging.getLogger(__name__)


def dedup_text(item: Mapping[str, Any]) -> str:
    """What duplicates are judged on: question, gold answer and reference response."""
    return (
        f"{item.get('question') or ''}\n{item.get('answer') or ''}\n{item.get('reference') or ''}"
    )


def contamination_segments(item: Mapping[str, Any]) -> list[str]:
    """The lines of :func:`contamination_text`: n-grams are compared within a line, so
    template lines ("Which of the following is ...") never join content into one n-gram."""
    return [line for line in contamination_text(item).split("\n") if line.strip()]


def contamination_text(item: Mapping[str, Any]) -> str:
    """What decontamination compares: the question with its options, without the fixed text
    of its IFEval instructions (shared by every item with that instruction: not content)."""
    question = str(item.get("question") or "")
    ids, kwargs = item.get("instruction_id_list") or [], item.get("kwargs") or []
    if ids and isinstance(kwargs, list) and len(kwargs) == len(ids):
        for iid, kw in zip(ids, kwargs, strict=True):
            text = _instruction_text(iid, kw)
            if text is not None:
                question = question.replace(text, " ")
    return "\n".join([question, *map(str, item.get("choices") or [])])


_DESCRIPTIONS: dict[tuple[str, str], str | None] = {}  # (id, repr(kwargs)) -> text, bounded


def _instruction_text(iid: str, kwargs: Any) -> str | None:
    """``describe_instruction(iid, kwargs)``, None where it raises ValueError. Memoized by
    the kwargs' repr (a pure function of them; a run repeats few combinations)."""
    key = (iid, repr(kwargs))
    if key in _DESCRIPTIONS:
        return _DESCRIPTIONS[key]
    from balancedbio.rewards.ifeval import describe_instruction

    try:
        text: str | None = describe_instruction(iid, kwargs)
    except ValueError:
        text = None
    if len(_DESCRIPTIONS) < 4096:
        _DESCRIPTIONS[key] = text
    return text


def eval_texts(dirs: Iterable[str | Path], files: Iterable[str | Path]) -> list[str]:
    """Text segments (lines) of evaluation sets: generated run dirs, or JSONL files with a
    ``question``, ``prompt`` (string or messages), ``instruction`` or ``text`` field."""
    out = [seg for d in dirs for item in iter_items(d) for seg in contamination_segments(item)]
    for f in files:
        for line in Path(f).read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            text = next(
                (row[k] for k in ("question", "prompt", "instruction", "text") if row.get(k)), ""
            )
            if not isinstance(text, str):
                text = "\n".join(str(m.get("content", "")) for m in text if isinstance(m, Mapping))
            choices = row.get("choices") or row.get("options") or []
            if isinstance(choices, Mapping):
                choices = list(choices.values())
            out += [seg for seg in [*str(text).split("\n"), *map(str, choices)] if seg.strip()]
    return out


def build_decontaminator(
    texts: list[str], n: int, max_doc_fraction: float, min_docs: int
) -> Decontaminator | None:
    """An n-gram index of ``texts`` without template boilerplate (see ``DecontaminateConfig``)."""
    if not texts:
        return None
    docs: Counter[str] = Counter()
    for text in texts:
        words = tokens(text)
        docs.update({" ".join(words[i : i + n]) for i in range(len(words) - n + 1)})
    limit = max(min_docs, int(max_doc_fraction * len(texts)))
    rare = [g for g, k in docs.items() if k <= limit]
    log.info(
        "decontamination: %d eval docs, %d n-grams (%d boilerplate dropped)",
        len(texts),
        len(rare),
        len(docs) - len(rare),
    )
    return Decontaminator(rare, n=n)


#: an item, its decontamination hit, exact digest, MinHash signature and its band keys
#: (None where not asked; band keys None: not computed yet)
_Keys = tuple[
    Mapping[str, Any],
    Contamination | None,
    str | None,
    tuple[np.ndarray, list[bytes] | None] | None,
]


class Gate:
    """Exact + near-duplicate detection and decontamination, in stream order."""

    def __init__(self, cfg: GenerateConfig, decontaminator: Decontaminator | None) -> None:
        self.exact = ExactDedup() if cfg.dedup.exact else None
        self.near = (
            NearDupIndex(threshold=cfg.dedup.threshold, seed=cfg.seed) if cfg.dedup.near else None
        )
        self.decon = decontaminator
        # id(item) -> its keys from prepare (the item is kept so that its id is not reused)
        self._keys: dict[int, _Keys] = {}

    def prepare(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Compute the contamination hits and dedup keys (exact hashes, MinHash signatures and
        band keys) of the next items to be gated, in a few batched calls (per-item numpy calls
        cost more than their arithmetic). Pure functions of each item: the decisions stay
        :meth:`__call__`'s, in order. Keys left from before are dropped."""
        hits: list[Contamination | None] = [None] * len(items)
        if self.decon is not None:
            hits = self.decon.check_lines([contamination_text(item) for item in items])
        texts = [dedup_text(item) for item in items]
        words = utf8_words_many(texts)
        digests = list(map(words_hash, words)) if self.exact is not None else [None] * len(items)
        near = [i for i, item in enumerate(items) if item.get("answer_kind") != "numeric"]
        sigs: list[tuple[np.ndarray, list[bytes]] | None] = [None] * len(items)
        if self.near is not None and near:
            batch = self.near.hasher.signatures([words[i] for i in near])
            bands = self.near.band_keys(batch)
            for i, sig, keys in zip(near, batch, bands, strict=True):
                sigs[i] = sig, keys
        self._keys = {
            id(item): (item, hit, digest, sig)
            for item, hit, digest, sig in zip(items, hits, digests, sigs, strict=True)
        }

    def _prepared(self, item: Mapping[str, Any]) -> _Keys:
        """The item's contamination and keys from :meth:`prepare` (now if not prepared)."""
        keys = self._keys.pop(id(item), None)
        if keys is not None and keys[0] is item:
            return keys
        hit = None
        if self.decon is not None:
            hit = next(filter(None, map(self.decon.check, contamination_segments(item))), None)
        text = dedup_text(item)
        digest = text_hash(text) if self.exact is not None else None
        sig = None
        if self.near is not None and item.get("answer_kind") != "numeric":
            sig = self.near.hasher.signature(text), None
        return item, hit, digest, sig

    def register(self, item: Mapping[str, Any]) -> None:
        """Index an already written item (after a resume)."""
        text = dedup_text(item)
        if self.exact is not None:
            self.exact.add(item["id"], text)
        if self.near is not None and item.get("answer_kind") != "numeric":
            self.near.add(item["id"], text)

    def __call__(self, item: Mapping[str, Any]) -> Rejection | None:
        _, hit, digest, sig = self._prepared(item)
        if hit is not None:
            msg = f"shares the {hit.n}-gram {hit.ngram!r} with an evaluation set"
            return Rejection("contaminated", msg, "decontaminate", item=dict(item))
        if self.exact is not None and digest is not None:
            first = self.exact.add_digest(item["id"], digest)
            if first is not None:
                return Rejection("duplicate", f"same text as {first}", "dedup", item=dict(item))
        # Calculator items differ in their numbers, which word-shingle MinHash cannot weigh:
        # only exact duplicates count for them (``sig`` is None).
        if self.near is not None and sig is not None:
            first = self.near.add_signature(item["id"], *sig)
            if first is not None:
                return Rejection(
                    "near_duplicate", f"near-duplicate of {first}", "dedup", item=dict(item)
                )
        return None


__all__ = [
    "Gate",
    "build_decontaminator",
    "contamination_segments",
    "contamination_text",
    "dedup_text",
    "eval_texts",
]
