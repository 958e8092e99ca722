"""The name index: normalized names/synonyms -> ranked node entries (built once, cached).

Every node name and synonym is normalized (:func:`~balancedbio.knowledge.normalize.normalize`)
at build time. Unique keys go to the string list ``keys``; ``key_ptr`` slices each key's
entries, sorted best first by: current before obsolete, name before EXACT/unscoped synonym
before RELATED before BROAD/NARROW, then HPO > MONDO > OMIM > ORPHA > DECIPHER > ICD-10-CM
> NCBI gene, then node index. ``key_entry`` points into ``names + syn_text`` (the original
spelling, needed for case-sensitive abbreviations when grounding).
"""

from __future__ import annotations

import numpy as np

from balancedbio.knowledge.normalize import normalize
from balancedbio.knowledge.records import (
    F_OBSOLETE,
    SC_BROAD,
    SC_EXACT,
    SC_NARROW,
    SC_RELATED,
    SC_UNSPECIFIED,
    SRC_DECIPHER,
    SRC_GENE,
    SRC_HPO,
    SRC_ICD,
    SRC_MONDO,
    SRC_OMIM,
    SRC_ORPHA,
)

#: Entry rank of a primary name and of each synonym scope (lower is better).
RANK_NAME = 0
SCOPE_RANK = {SC_EXACT: 1, SC_UNSPECIFIED: 1, SC_RELATED: 2, SC_BROAD: 3, SC_NARROW: 3}
#: Added to the rank of entries of obsolete nodes.
RANK_OBSOLETE = 8
SOURCE_RANK = {
    SRC_HPO: 0,
    SRC_MONDO: 1,
    SRC_OMIM: 2,
    SRC_ORPHA: 3,
    SRC_DECIPHER: 4,
    SRC_ICD: 5,
    SRC_GENE: 6,
}


def build_name_index(
    names: list[str],
    syn_text: list[str],
    syn_ptr: np.ndarray,
    syn_scope: np.ndarray,
    node_source: np.ndarray,
    node_flags: np.ndarray,
) -> tuple[list[str], dict[str, np.ndarray]]:
    """Return ``(keys, arrays)``; arrays: ``key_ptr``, ``key_node``, ``key_entry``, ``key_rank``."""
    n = len(names)
    node = np.concatenate(
        [np.arange(n, dtype=np.int32), np.repeat(np.arange(n, dtype=np.int32), np.diff(syn_ptr))]
    )
    scope_rank = np.zeros(5, dtype=np.int16)
    for scope, rank in SCOPE_RANK.items():
        scope_rank[scope] = rank
    rank = np.concatenate([np.full(n, RANK_NAME, np.int16), scope_rank[syn_scope]])
    rank += np.where(node_flags[node] & F_OBSOLETE, RANK_OBSOLETE, 0).astype(np.int16)
    src_rank = np.zeros(256, dtype=np.int16)
    for src, r in SOURCE_RANK.items():
        src_rank[src] = r
    key_ids: dict[str, int] = {}
    entry_key = np.fromiter(
        (key_ids.setdefault(normalize(t), len(key_ids)) for t in [*names, *syn_text]),
        dtype=np.int32,
        count=node.shape[0],
    )
    keys = list(key_ids)
    # Drop entries whose key normalized to "" (names made only of punctuation).
    empty = key_ids.get("")
    entry = np.arange(node.shape[0], dtype=np.int32)
    if empty is not None:
        keep = entry_key != empty
        entry, entry_key = entry[keep], entry_key[keep]
    order = np.lexsort((node[entry], src_rank[node_source[node[entry]]], rank[entry], entry_key))
    entry, entry_key = entry[order], entry_key[order]
    # Remove duplicate (key, node) pairs, keeping the best-ranked one (the first).
    pair = entry_key.astype(np.int64) * (n + 1) + node[entry]
    _, first = np.unique(pair, return_index=True)
    first.sort()
    entry, entry_key = entry[first], entry_key[first]
    counts = np.bincount(entry_key, minlength=len(keys))
    ptr = np.zeros(len(keys) + 1, dtype=np.int32)
    ptr[1:] = np.cumsum(counts)
    arrays = {
        "key_ptr": ptr,
        "key_node": node[entry].astype(np.int32),
        "key_entry": entry.astype(np.int32),
        "key_rank": rank[entry].astype(np.uint8),
    }
    return keys, arrays
