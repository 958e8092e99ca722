"""The unified knowledge graph: HPO phenotypes, MONDO/OMIM/ORPHA/DECIPHER diseases, NCBI
genes and the ICD-10-CM hierarchy behind one id space.

Nodes are dense integers; :class:`~balancedbio.knowledge.data.GraphData` holds their arrays.
Public methods take and return string ids (``HP:0001250``, ``MONDO:0007739``,
``ICD10CM:E11.9`` ...); ids are also accepted in loose spellings (``hp:0001250``, ``E119``,
HPO ``alt_id``s) through :meth:`KnowledgeGraph.resolve`. Derived structures (ancestor sets,
propagated phenotype sets, the name index, children lists) are built lazily and memoized.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from balancedbio.config import choice_error
from balancedbio.knowledge.data import GraphData, sorted_contains
from balancedbio.knowledge.normalize import icd_candidates, normalize, split_curie, syntax_problem
from balancedbio.knowledge.records import (
    F_OBSOLETE,
    KINDS,
    SCOPES,
    SOURCES,
    Node,
    Synonym,
)
from balancedbio.knowledge.relations import RelationsMixin

if TYPE_CHECKING:
    from balancedbio.knowledge.facts import FactChecker, Verdict
    from balancedbio.knowledge.grounding import Grounder, Mention

_PREFIX_SOURCE = {
    "HP": "hpo",
    "MONDO": "mondo",
    "OMIM": "omim",
    "ORPHA": "orpha",
    "DECIPHER": "decipher",
    "NCBIGene": "ncbigene",
    "ICD10CM": "icd10cm",
}
_EMPTY: frozenset[int] = frozenset()
_MAX_SPELLINGS = 200_000


class KnowledgeGraph(RelationsMixin):
    """In-memory graph with O(1) id lookup, closures, annotations, grounding and fact checks."""

    def __init__(
        self, data: GraphData, cache_dir: Path | None = None, *, from_cache: bool = False
    ) -> None:
        self.data = data
        #: Where the graph is cached (None if it could not be written) and whether this
        #: instance was read from that cache (True) or freshly built (False).
        self.cache_dir = cache_dir
        self.from_cache = from_cache
        a = data.arrays
        self._ids: list[str] = data.strings["ids"]
        self._n = len(self._ids)
        self._index: dict[str, int] = dict(zip(self._ids, range(self._n), strict=True))
        self._kind = bytes(a["node_kind"])
        self._source = bytes(a["node_source"])
        self._obsolete = bytes(a["node_flags"] & F_OBSOLETE)
        self._alt: dict[str, int] = dict(
            zip(data.strings["alt_ids"], a["alt_target"].tolist(), strict=True)
        )
        # CSR offsets as Python lists: indexing them is ~10x cheaper than numpy scalars.
        self._anc_ptr: list[int] = a["anc_ptr"].tolist()
        self._ann_ptr: list[int] = a["ann_ptr"].tolist()
        self._xref_ptr: list[int] = a["xref_ptr"].tolist()
        self._xref_to: list[int] = a["xref_to"].tolist()
        self._anc_idx = a["anc_idx"]
        # Membership memos for the checker's hot path: ``i * n + j`` keys in one int set per
        # relation (ancestor pairs, propagated disease-phenotype pairs), filled per node on
        # first use. One set of ints instead of a frozenset per node keeps the number of
        # GC-tracked objects (and thus garbage-collection pauses) constant.
        self._anc_keys: set[int] = set()
        self._anc_seen = bytearray(self._n)
        self._ph_keys: set[int] = set()
        self._ph_seen = bytearray(self._n)
        self._lazy: dict[str, Any] = {}
        self._spellings: dict[tuple[str, bool], tuple[int, str | None]] = {}
        self._lookups: dict[str, tuple[str, ...]] = {}
        self._names: list[str] | None = None

    # ------------------------------------------------------------------ ids

    @property
    def versions(self) -> dict[str, str]:
        """Source -> version/release string of every loaded source."""
        return dict(self.data.meta.get("versions", {}))

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts per source: terms, obsolete, diseases, annotations, codes, genes, xrefs."""
        return {k: dict(v) for k, v in self.data.meta.get("stats", {}).items()}

    @property
    def mondo_links(self) -> dict[str, int]:
        """Report of the MONDO -> OMIM/ORPHA name-match linking (see ``linking``)."""
        return dict(self.data.meta.get("mondo_links", {}))

    def __len__(self) -> int:
        return self._n

    def __contains__(self, nid: object) -> bool:
        return isinstance(nid, str) and self._resolve(nid)[0] >= 0

    def __getitem__(self, nid: str) -> Node:
        i, why = self._resolve(nid)
        if i < 0:
            raise KeyError(why)
        return self._node(i)

    def get(self, nid: str, default: Node | None = None) -> Node | None:
        """The node for ``nid`` (any accepted spelling), or ``default``."""
        i = self._resolve(nid)[0]
        return self._node(i) if i >= 0 else default

    def resolve(self, nid: str, *, icd: bool = False) -> str | None:
        """Canonical id of ``nid`` (alt ids -> primary, ``e119`` -> ``ICD10CM:E11.9``) or None.

        With ``icd=True`` a bare number is read as an ICD-10-CM chapter (``"4"``).
        """
        i = self._resolve(nid, icd=icd)[0]
        return self._ids[i] if i >= 0 else None

    def ids(
        self, *, kind: str | None = None, source: str | None = None, include_obsolete: bool = False
    ) -> list[str]:
        """All ids, optionally of one kind (``phenotype``, ``disease``...) and/or source."""
        mask = np.ones(self._n, dtype=bool)
        a = self.data.arrays
        if kind is not None:
            mask &= a["node_kind"] == _code(KINDS, kind, "node kind")
        if source is not None:
            mask &= a["node_source"] == _code(SOURCES, source, "source")
        if not include_obsolete:
            mask &= (a["node_flags"] & F_OBSOLETE) == 0
        return [self._ids[i] for i in np.flatnonzero(mask).tolist()]

    def _resolve(
        self, value: object, *, role: str = "id", icd: bool = False
    ) -> tuple[int, str | None]:
        """``(index, note)``: index -1 with the reason on failure; note set for alt ids.

        Successful resolutions of non-canonical spellings are memoized (bounded).
        """
        if isinstance(value, str):
            i = self._index.get(value)
            if i is not None:
                return i, None
            hit = self._spellings.get((value, icd))
            if hit is not None:
                return hit
        else:
            return -1, f"{role} must be a string id, got {type(value).__name__} {value!r}"
        found = self._resolve_spelling(value, role, icd)
        if found[0] >= 0:
            if len(self._spellings) >= _MAX_SPELLINGS:
                self._spellings.clear()
            self._spellings[(value, icd)] = found
        return found

    def _resolve_spelling(self, value: str, role: str, icd: bool) -> tuple[int, str | None]:
        text = value.strip()
        if not text:
            return -1, f"{role} is empty"
        prefix, local = split_curie(text)
        if prefix is None:
            cands = icd_candidates(text, chapter_numbers=icd)
            if cands is None:
                head = text.partition(":")[0]
                if ":" in text:
                    return -1, (
                        f"unknown id prefix {head!r} in {text!r}; valid prefixes: "
                        f"{', '.join(sorted(_PREFIX_SOURCE))}"
                    )
                return -1, (
                    f"malformed id {text!r}: expected a CURIE such as HP:0001250, "
                    "MONDO:0007739, OMIM:143100 or an ICD-10-CM code such as E11.9"
                )
        elif prefix == "ICD10CM":
            cands = icd_candidates(local, chapter_numbers=True)
            if cands is None:
                return -1, syntax_problem(prefix, local)
        else:
            problem = syntax_problem(prefix, local)
            if problem:
                return -1, problem
            cands = [f"{prefix}:{local}"]
        for cand in cands:
            i = self._index.get(cand)
            if i is not None:
                return i, None
            j = self._alt.get(cand)
            if j is not None:
                return j, f"{cand} is an alternative id of {self._ids[j]}"
        src = _PREFIX_SOURCE[cands[0].partition(":")[0]]
        where = (
            f"{src} {self.versions[src]}"
            if src in self.versions
            else f"the loaded sources ({src} is not loaded)"
        )
        return -1, f"unknown id {cands[0]}: not in {where}"

    def _node(self, i: int) -> Node:
        s = self.data.strings
        p = self.data.arrays["syn_ptr"]
        lo, hi = int(p[i]), int(p[i + 1])
        scopes = self.data.arrays["syn_scope"][lo:hi].tolist()
        repl, cons = self._replacements().get(i, ((), ()))
        return Node(
            id=self._ids[i],
            name=s["names"][i],
            kind=KINDS[self._kind[i]],
            source=SOURCES[self._source[i]],
            definition=s["defs"][i] or None,
            synonyms=tuple(
                Synonym(t, SCOPES[c]) for t, c in zip(s["syn_text"][lo:hi], scopes, strict=True)
            ),
            obsolete=bool(self._obsolete[i]),
            replaced_by=repl,
            consider=cons,
        )

    def _replacements(self) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
        got = self._lazy.get("repl")
        if got is None:
            acc: dict[int, tuple[list[str], list[str]]] = defaultdict(lambda: ([], []))
            a = self.data.arrays
            targets = self.data.strings["repl_target"]
            for node, kind, target in zip(
                a["repl_node"].tolist(), a["repl_kind"].tolist(), targets, strict=True
            ):
                acc[node][kind].append(target)
            got = self._lazy["repl"] = {k: (tuple(r), tuple(c)) for k, (r, c) in acc.items()}
        return got

    def obsolete_reason(self, i: int) -> str:
        """``"HP:x is obsolete; replaced by HP:y (name)"`` (or ``consider ...``)."""
        repl, cons = self._replacements().get(i, ((), ()))
        targets, verb = (repl, "replaced by") if repl else (cons, "consider")
        if not targets:
            return f"{self._ids[i]} is obsolete (no replacement given)"
        names = []
        for t in targets:
            j = self._index.get(t, -1)
            names.append(f"{t} ({self.data.strings['names'][j]})" if j >= 0 else t)
        return f"{self._ids[i]} is obsolete; {verb} {', '.join(names)}"

    # ------------------------------------------------------------------ hierarchy

    def _anc(self, i: int) -> frozenset[int]:
        lo, hi = self._anc_ptr[i], self._anc_ptr[i + 1]
        return frozenset(self._anc_idx[lo:hi].tolist()) if hi > lo else _EMPTY

    def _is_anc(self, j: int, i: int) -> bool:
        """Is node ``j`` a proper ancestor of node ``i``?

        The first query about ``i`` bisects its sorted ancestor slice; from the second on,
        ``i``'s pairs live in the ``_anc_keys`` set (state in ``_anc_seen``: 0, 1, 2).
        """
        state = self._anc_seen[i]
        if state == 2:
            return i * self._n + j in self._anc_keys
        lo, hi = self._anc_ptr[i], self._anc_ptr[i + 1]
        if state == 0:
            self._anc_seen[i] = 1
            return sorted_contains(self._anc_idx, lo, hi, j)
        if hi > lo:
            self._anc_keys.update((self._anc_idx[lo:hi].astype(np.int64) + i * self._n).tolist())
        self._anc_seen[i] = 2
        return i * self._n + j in self._anc_keys

    def _need(self, nid: str) -> int:
        i, why = self._resolve(nid)
        if i < 0:
            raise KeyError(why)
        return i

    def parents(self, nid: str) -> tuple[str, ...]:
        """Direct ``is_a`` parents (ICD: the enclosing code, block or chapter)."""
        i = self._need(nid)
        p = self.data.arrays["par_ptr"]
        return tuple(self._ids[j] for j in self.data.arrays["par_idx"][p[i] : p[i + 1]].tolist())

    def _children_csr(self) -> tuple[np.ndarray, np.ndarray]:
        got = self._lazy.get("children")
        if got is None:
            a = self.data.arrays
            child = np.repeat(np.arange(self._n, dtype=np.int32), np.diff(a["par_ptr"]))
            order = np.argsort(a["par_idx"], kind="stable")
            ptr = np.zeros(self._n + 1, dtype=np.int64)
            ptr[1:] = np.cumsum(np.bincount(a["par_idx"], minlength=self._n))
            got = self._lazy["children"] = (ptr, child[order])
        return got

    def children(self, nid: str) -> tuple[str, ...]:
        """Direct ``is_a`` children."""
        i = self._need(nid)
        ptr, idx = self._children_csr()
        return tuple(self._ids[j] for j in idx[ptr[i] : ptr[i + 1]].tolist())

    def ancestors(self, nid: str, *, include_self: bool = False) -> frozenset[str]:
        """All proper ancestors (transitive ``is_a``); precomputed at build time."""
        i = self._need(nid)
        out = {self._ids[j] for j in self._anc(i)}
        return frozenset(out | {self._ids[i]} if include_self else out)

    def _desc(self, i: int) -> set[int]:
        ptr, idx = self._children_csr()
        seen: set[int] = set()
        stack = [i]
        while stack:
            node = stack.pop()
            for c in idx[ptr[node] : ptr[node + 1]].tolist():
                if c not in seen:
                    seen.add(c)
                    stack.append(c)
        return seen

    def descendants(self, nid: str, *, include_self: bool = False) -> frozenset[str]:
        """All proper descendants (computed on demand from the children lists)."""
        i = self._need(nid)
        out = self._desc(i) | ({i} if include_self else set())
        return frozenset(self._ids[j] for j in out)

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """True iff ``ancestor`` is a proper ancestor of ``descendant``."""
        return self._is_anc(self._need(ancestor), self._need(descendant))

    # ------------------------------------------------------------------ names

    def _name_nodes(self, key: str) -> list[int]:
        """Node indices of a normalized key, best first (see ``names``)."""
        index = self._lazy.get("keys")
        if index is None:
            keys = self.data.strings["keys"]
            index = self._lazy["keys"] = dict(zip(keys, range(len(keys)), strict=True))
        k = index.get(key)
        if k is None:
            return []
        ptr = self.data.arrays["key_ptr"]
        return self.data.arrays["key_node"][ptr[k] : ptr[k + 1]].tolist()

    def lookup(self, name: str) -> list[str]:
        """Ids whose name or synonym equals ``name`` up to case, punctuation and whitespace.

        Best first: current before obsolete, names before synonyms, HPO > MONDO > OMIM >
        ORPHA > DECIPHER > ICD-10-CM > genes. Memoized per spelling (bounded): generation
        looks the same few names up again and again.
        """
        if not isinstance(name, str):
            return []
        got = self._lookups.get(name)
        if got is None:
            got = tuple([self._ids[i] for i in self._name_nodes(normalize(name))])
            if len(self._lookups) >= _MAX_SPELLINGS:
                self._lookups.clear()
            self._lookups[name] = got
        return list(got)

    def name_of(self, nid: str) -> str:
        """The primary name (label) of a node."""
        i = self._index.get(nid) if isinstance(nid, str) else None
        names = self._names
        if names is None:  # decoded on first use, then held (a hot path of generation)
            names = self._names = self.data.strings["names"]
        return names[self._need(nid) if i is None else i]

    # ------------------------------------------------------------------ grounding / facts

    @property
    def grounder(self) -> Grounder:
        """The Aho-Corasick grounder (built on first use)."""
        got = self._lazy.get("grounder")
        if got is None:
            from balancedbio.knowledge.grounding import Grounder

            got = self._lazy["grounder"] = Grounder(self)
        return got

    def ground(self, text: str) -> list[Mention]:
        """Longest non-overlapping ontology mentions in ``text`` (see ``grounding``)."""
        return self.grounder.ground(text)

    def ground_spans(self, text: str) -> list[tuple[int, int, str, str]]:
        """:meth:`ground` as plain ``(start, end, id, name)`` tuples (cheaper to build)."""
        return self.grounder.spans(text)

    @property
    def checker(self) -> FactChecker:
        got = self._lazy.get("checker")
        if got is None:
            from balancedbio.knowledge.facts import FactChecker

            got = self._lazy["checker"] = FactChecker(self)
        return got

    def check(self, fact: Mapping[str, Any] | Any) -> Verdict:
        """Check one fact ``{relation, subject, object}``; never raises (see ``facts``)."""
        return self.checker.check(fact)


def _code(names: tuple[str, ...], name: str, what: str) -> int:
    if name not in names:
        raise choice_error(what, name, names)
    return names.index(name)


__all__ = ["KnowledgeGraph"]
