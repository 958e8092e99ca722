"""The graph's storage: named integer arrays plus named string lists (the cache's content).

Everything the graph knows is in :class:`GraphData`: numpy arrays indexed by integer node
ids (CSR ``*_ptr`` arrays slice per-node ranges of edge arrays) and lists of strings. The
strings of a cached graph stay in one decoded text blob and each list is split out only
when first used, so a warm load only pays for what it touches.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zstandard

#: Bump on any change of array/string names, dtypes or meaning: old caches then rebuild.
SCHEMA_VERSION = 4

#: name -> dtype of every array (``*_ptr`` arrays have ``n_nodes + 1`` entries).
ARRAY_SPECS: dict[str, str] = {
    "node_kind": "u1",
    "node_source": "u1",
    "node_flags": "u1",  # F_OBSOLETE | F_EXTENSION
    "syn_ptr": "i4",
    "syn_scope": "u1",
    "par_ptr": "i4",
    "par_idx": "i4",
    "anc_ptr": "i4",
    "anc_idx": "i4",
    "alt_target": "i4",
    "repl_node": "i4",
    "repl_kind": "u1",  # 0 replaced_by, 1 consider
    "ann_ptr": "i4",
    "ann_pheno": "i4",
    "ann_onset": "i4",  # -1: none
    "ann_freq": "i4",  # index into strings["freqs"]
    "ann_negated": "u1",
    "ann_aspect": "u1",  # ord() of P/I/C/M/H
    "ph_ptr": "i4",  # propagated (true-path) phenotypes of each annotated disease
    "ph_idx": "i4",
    "gp_ptr": "i4",
    "gp_pheno": "i4",
    "gp_disease": "i4",  # -1: none
    "gp_freq": "i4",
    "xref_ptr": "i4",
    "xref_to": "i4",
    "xref_evidence": "u1",
    "key_ptr": "i4",  # name index (see names.py): n_keys + 1 entries
    "key_node": "i4",
    "key_entry": "i4",
    "key_rank": "u1",
    "ground_node": "i4",  # grounding dictionary (see grounding.compile_dictionary)
}

#: Names of the string lists, in storage order.
STRING_NAMES: tuple[str, ...] = (
    "ids",
    "names",
    "defs",
    "syn_text",
    "alt_ids",
    "repl_target",
    "freqs",
    "keys",
    "ground_vocab",
    "ground_keys",
    "ground_case",
)

#: Separator between the items of one list; the builder guarantees no string contains it.
SEP_ITEM = "\x00"


class StringTable(Mapping[str, list[str]]):
    """Named string lists; each stored as its own zstd frame, decoded only when first used."""

    def __init__(self, lists: Mapping[str, list[str]] | None = None) -> None:
        self._lists: dict[str, list[str]] = dict(lists or {})
        self._raw: dict[str, tuple[bytes, int]] = {}

    @classmethod
    def from_frames(cls, frames: Mapping[str, tuple[bytes, int]]) -> StringTable:
        """Wrap ``name -> (zstd frame, item count)`` as written by :meth:`to_frames`."""
        table = cls()
        table._raw = dict(frames)
        return table

    def to_frames(self, level: int = 3) -> dict[str, bytes]:
        """``name -> zstd frame`` of the ``\\x00``-joined UTF-8 items, for every list."""
        comp = zstandard.ZstdCompressor(level=level, write_checksum=True)
        return {
            name: comp.compress(SEP_ITEM.join(self[name]).encode("utf-8")) for name in STRING_NAMES
        }

    def __getitem__(self, name: str) -> list[str]:
        got = self._lists.get(name)
        if got is not None:
            return got
        items = self.peek(name)
        self._lists[name] = items
        del self._raw[name]
        return items

    def peek(self, name: str) -> list[str]:
        """List ``name`` without keeping the decoded copy (for one-off uses such as building
        the grounding automaton)."""
        got = self._lists.get(name)
        if got is not None:
            return got
        if name not in self._raw:
            raise KeyError(name)
        frame, count = self._raw[name]
        text = zstandard.ZstdDecompressor().decompress(frame).decode("utf-8")
        items = text.split(SEP_ITEM) if count else []
        if len(items) != count:
            raise ValueError(f"string list {name!r} has {len(items)} items, expected {count}")
        return items

    def __iter__(self) -> Iterator[str]:
        return iter([*self._lists, *self._raw])

    def __len__(self) -> int:
        return len(self._lists) + len(self._raw)

    def size(self, name: str) -> int:
        """Number of items of list ``name`` (without splitting it)."""
        if name in self._raw:
            return self._raw[name][1]
        return len(self[name])

    def counts(self) -> dict[str, int]:
        return {name: self.size(name) for name in STRING_NAMES}


@dataclass
class GraphData:
    """Arrays + strings + metadata (versions, stats, link report) of one built graph."""

    arrays: dict[str, np.ndarray]
    strings: StringTable
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return int(self.arrays["node_kind"].shape[0])

    def validate(self) -> None:
        """Check names, dtypes and CSR shapes; raise ``ValueError`` on any inconsistency."""
        missing = sorted(set(ARRAY_SPECS) - set(self.arrays))
        if missing:
            raise ValueError(f"missing arrays: {missing}")
        n = self.n_nodes
        for name, dtype in ARRAY_SPECS.items():
            arr = self.arrays[name]
            if arr.dtype != np.dtype(dtype) or arr.ndim != 1:
                raise ValueError(f"array {name}: dtype {arr.dtype}/{arr.ndim}d, expected {dtype}")
        for ptr, target in (
            ("syn_ptr", "syn_scope"),
            ("par_ptr", "par_idx"),
            ("anc_ptr", "anc_idx"),
            ("ann_ptr", "ann_pheno"),
            ("gp_ptr", "gp_pheno"),
            ("ph_ptr", "ph_idx"),
            ("xref_ptr", "xref_to"),
        ):
            p = self.arrays[ptr]
            if p.shape[0] != n + 1 or p[0] != 0 or p[-1] != self.arrays[target].shape[0]:
                raise ValueError(f"CSR {ptr} does not match {target}")
        k = self.arrays["key_ptr"]
        if (
            k.shape[0] != self.strings.size("keys") + 1
            or k[0] != 0
            or k[-1] != len(self.arrays["key_node"])
        ):
            raise ValueError("CSR key_ptr does not match keys/key_node")
        if self.strings.size("ground_keys") != len(self.arrays["ground_node"]):
            raise ValueError("grounding keys do not match ground_node")
        for name in ("node_source", "node_flags"):
            if self.arrays[name].shape[0] != n:
                raise ValueError(f"array {name} has wrong length")
        for name in ("ids", "names", "defs"):
            if self.strings.size(name) != n:
                raise ValueError(f"string list {name} has wrong length")


def sorted_contains(arr: np.ndarray, lo: int, hi: int, value: int) -> bool:
    """Is ``value`` in the sorted slice ``arr[lo:hi]``? (bisect; no allocation)"""
    k = bisect_left(arr, value, lo, hi)
    return k < hi and arr[k] == value
