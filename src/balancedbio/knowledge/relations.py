"""Relation queries of the knowledge graph: phenotype annotations (true-path rule), gene
associations, cross-references and typed edges. Mixed into :class:`KnowledgeGraph`.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Collection
from typing import Any

import numpy as np

from balancedbio.config import choice_error
from balancedbio.knowledge.data import GraphData
from balancedbio.knowledge.records import (
    RELATIONS,
    SC_EXACT,
    SC_UNSPECIFIED,
    SRC_GENE,
    SRC_MONDO,
    XREF_EVIDENCE,
    Annotation,
    Edge,
    Xref,
)

_EMPTY: frozenset[int] = frozenset()
#: queries about one disease answered by bisection before its pairs go into a set
_PH_BISECTS = 24
_ACCEPTED = (SC_EXACT, SC_UNSPECIFIED)


class RelationsMixin:
    """Annotations, genes, xrefs and edges; relies on the id machinery of KnowledgeGraph."""

    data: GraphData
    _ids: list[str]
    _index: dict[str, int]
    _ann_ptr: list[int]
    _xref_ptr: list[int]
    _xref_to: list[int]
    _n: int
    _source: bytes
    _lazy: dict[str, Any]
    _ph_keys: set[int]
    _ph_seen: bytearray

    def _need(self, nid: str) -> int:  # provided by KnowledgeGraph
        raise NotImplementedError

    def parents(self, nid: str) -> tuple[str, ...]:  # provided by KnowledgeGraph
        raise NotImplementedError

    # ------------------------------------------------------------------ phenotypes

    def _xref_targets(self, i: int) -> list[int]:
        return self._xref_to[self._xref_ptr[i] : self._xref_ptr[i + 1]]

    def _annotated_as(self, i: int) -> list[int]:
        """The diseases whose annotations are node ``i``'s: MONDO's linked diseases, else ``i``."""
        return self._xref_targets(i) if self._source[i] == SRC_MONDO else [i]

    def _direct_arrays(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """(annotated, negated) phenotype indices of disease ``i`` (MONDO: via its xrefs)."""
        pheno, negated = self.data.arrays["ann_pheno"], self.data.arrays["ann_negated"]
        ptr = self._ann_ptr
        pos: list[np.ndarray] = []
        neg: list[np.ndarray] = []
        for d in self._annotated_as(i):
            lo, hi = ptr[d], ptr[d + 1]
            if hi > lo:
                ph, ng = pheno[lo:hi], negated[lo:hi]
                if ng.any():
                    pos.append(ph[ng == 0])
                    neg.append(ph[ng != 0])
                else:
                    pos.append(ph)
        empty = np.zeros(0, dtype=np.int32)
        return (
            np.unique(np.concatenate(pos)) if pos else empty,
            np.unique(np.concatenate(neg)) if neg else empty,
        )

    def _pheno_array(self, i: int) -> np.ndarray:
        """Sorted phenotypes of disease ``i`` closed under ancestors (true-path rule)."""
        ptr, idx = self.data.arrays["ph_ptr"], self.data.arrays["ph_idx"]
        if self._source[i] != SRC_MONDO:
            return idx[ptr[i] : ptr[i + 1]]
        parts = [idx[ptr[d] : ptr[d + 1]] for d in self._xref_targets(i)]
        if len(parts) == 1:
            return parts[0]
        return np.unique(np.concatenate(parts)) if parts else idx[:0]

    def _is_negated(self, i: int, p: int) -> bool:
        """Is disease ``i`` (MONDO: one of its linked diseases) annotated ``NOT p``?"""
        got = self._lazy.get("negated")
        if got is None:
            a = self.data.arrays
            rows = np.flatnonzero(a["ann_negated"])
            disease = np.searchsorted(a["ann_ptr"], rows, side="right") - 1
            pairs = disease.astype(np.int64) * self._n + a["ann_pheno"][rows]
            got = self._lazy["negated"] = (set(pairs.tolist()), set(disease.tolist()))
        keys, diseases = got
        if self._source[i] != SRC_MONDO:
            return i in diseases and i * self._n + p in keys
        return any(d * self._n + p in keys for d in self._xref_targets(i) if d in diseases)

    def _has_pheno(self, i: int, p: int) -> bool:
        """Does disease ``i`` have phenotype ``p`` (true-path rule, NOT annotations excluded)?

        The first ``_PH_BISECTS`` queries about ``i`` bisect its sorted slice (a MONDO disease:
        each linked disease's); later ones read ``i``'s pairs from the ``_ph_keys`` set
        (``_ph_seen[i] == 2``). Materializing costs ~25 bisects: most diseases (distractor and
        differential candidates) are asked a few times only.
        """
        if self._ph_seen[i] == 2:
            return i * self._n + p in self._ph_keys
        views = self._lazy.get("ph_views")
        if views is None:
            views = self._ph_views()
        counts, ptr, idx = views
        if counts[i] < _PH_BISECTS:
            counts[i] += 1
            # bisect the sorted slice (MONDO: each linked disease's); memoryview items are
            # plain ints, no numpy scalars
            for d in self._xref_targets(i) if self._source[i] == SRC_MONDO else (i,):
                lo, hi = ptr[d], ptr[d + 1]
                k = bisect_left(idx, p, lo, hi)
                if k < hi and idx[k] == p:
                    return True
            return False
        self._ph_keys.update((self._pheno_array(i).astype(np.int64) + i * self._n).tolist())
        self._ph_seen[i] = 2
        return i * self._n + p in self._ph_keys

    def _ph_views(self) -> tuple[bytearray, memoryview, memoryview]:
        """Per-disease query counts and memoryviews of the propagated phenotype arrays."""
        a = self.data.arrays
        got = (bytearray(self._n), memoryview(a["ph_ptr"]), memoryview(a["ph_idx"]))
        self._lazy["ph_views"] = got
        return got

    def annotations(self, disease: str) -> tuple[Annotation, ...]:
        """Raw ``phenotype.hpoa`` annotations of a disease (MONDO: of its linked diseases)."""
        i = self._need(disease)
        a, ids, freqs = self.data.arrays, self._ids, self.data.strings["freqs"]
        ptr = self._ann_ptr
        out: list[Annotation] = []
        for d in self._annotated_as(i):
            lo, hi = ptr[d], ptr[d + 1]
            if hi <= lo:
                continue
            rows = zip(
                a["ann_pheno"][lo:hi].tolist(),
                a["ann_freq"][lo:hi].tolist(),
                a["ann_onset"][lo:hi].tolist(),
                a["ann_negated"][lo:hi].tolist(),
                a["ann_aspect"][lo:hi].tolist(),
                strict=True,
            )
            out += [
                Annotation(
                    disease=ids[d],
                    phenotype=ids[p],
                    frequency=freqs[f],
                    onset=ids[o] if o >= 0 else None,
                    negated=bool(n),
                    aspect=chr(x) if x else "",
                )
                for p, f, o, n, x in rows
            ]
        return tuple(out)

    def annotates(self, disease: str) -> bool:
        """Does the disease (MONDO: a linked disease) have a direct phenotype annotation that
        is not ``NOT``? (``bool(disease_phenotypes(disease, propagate=False))``, cheaper.)"""
        i = self._need(disease)
        got = self._lazy.get("annotated")
        if got is None:
            a = self.data.arrays
            rows = np.repeat(np.arange(self._n, dtype=np.int64), np.diff(a["ann_ptr"]))
            pos = np.bincount(rows[a["ann_negated"] == 0], minlength=self._n) > 0
            got = self._lazy["annotated"] = bytes(pos.astype(np.uint8))
        return any(got[d] for d in self._annotated_as(i))

    def unusual_phenotypes(self, disease: str, frequencies: frozenset[str]) -> set[str]:
        """Phenotypes a disease is annotated ``NOT`` or with one of ``frequencies`` (MONDO:
        its linked diseases): :meth:`annotations` filtered, without building them."""
        i = self._need(disease)
        a, ids, ptr = self.data.arrays, self._ids, self._ann_ptr
        codes = self._freq_codes(frequencies)
        out: set[str] = set()
        for d in self._annotated_as(i):
            lo, hi = ptr[d], ptr[d + 1]
            rows = zip(
                a["ann_pheno"][lo:hi].tolist(),
                a["ann_freq"][lo:hi].tolist(),
                a["ann_negated"][lo:hi].tolist(),
                strict=True,
            )
            out.update(ids[p] for p, f, n in rows if n or f in codes)
        return out

    def _freq_codes(self, frequencies: frozenset[str]) -> frozenset[int]:
        """Codes of ``frequencies`` in the frequency string table (memoized per set)."""
        memo = self._lazy.setdefault("freq_codes", {})
        got = memo.get(frequencies)
        if got is None:
            table = self.data.strings["freqs"]
            got = memo[frequencies] = frozenset(k for k, f in enumerate(table) if f in frequencies)
        return got

    def first_annotated(self, disease: str, phenotypes: Collection[str]) -> str | None:
        """The first of ``phenotypes`` in the disease's annotations, in :meth:`annotations`
        order, that is not annotated ``NOT``; None if there is none."""
        i = self._need(disease)
        want = {self._index.get(p) for p in phenotypes}
        a, ptr = self.data.arrays, self._ann_ptr
        for d in self._annotated_as(i):
            lo, hi = ptr[d], ptr[d + 1]
            pheno, negated = a["ann_pheno"][lo:hi].tolist(), a["ann_negated"][lo:hi].tolist()
            for p, n in zip(pheno, negated, strict=True):
                if not n and p in want:
                    return self._ids[p]
        return None

    def disease_phenotypes(self, disease: str, propagate: bool = True) -> frozenset[str]:
        """Phenotypes of a disease (NOT annotations excluded); ``propagate`` adds ancestors."""
        i = self._need(disease)
        got = self._pheno_array(i) if propagate else self._direct_arrays(i)[0]
        return frozenset(self._ids[j] for j in got.tolist())

    def has_phenotype(self, disease: str, phenotype: str) -> bool:
        """True-path rule: the disease is annotated with the phenotype or a descendant of it."""
        return self._has_pheno(self._need(disease), self._need(phenotype))

    def accepted_names(self, nid: str) -> list[str]:
        """The name, then the EXACT and UNSPECIFIED synonyms of a node: ``[node.name, *(s.text
        for s in node.synonyms if s.scope in ("EXACT", "UNSPECIFIED"))]`` without building
        the Node (its definition and replacements are not needed)."""
        return self._names_and_synonyms(nid, _ACCEPTED)

    def synonym_texts(self, nid: str) -> list[str]:
        """``[s.text for s in node.synonyms]`` (every scope), without building the Node."""
        return self._names_and_synonyms(nid, None)[1:]

    def _names_and_synonyms(self, nid: str, scopes: tuple[int, ...] | None) -> list[str]:
        i = self._need(nid)
        a, s = self.data.arrays, self.data.strings
        lo, hi = int(a["syn_ptr"][i]), int(a["syn_ptr"][i + 1])
        texts = s["syn_text"][lo:hi]
        if scopes is not None:
            kept = a["syn_scope"][lo:hi].tolist()
            texts = [t for t, c in zip(texts, kept, strict=True) if c in scopes]
        return [s["names"][i], *texts]

    # ------------------------------------------------------------------ genes and xrefs

    def _gene_maps(self) -> dict[str, dict[int, frozenset[int]]]:
        got = self._lazy.get("genes")
        if got is None:
            a = self.data.arrays
            gene = np.repeat(np.arange(self._n, dtype=np.int32), np.diff(a["gp_ptr"]))
            maps: dict[str, dict[int, set[int]]] = {
                "disease": defaultdict(set),
                "gene": defaultdict(set),
                "pheno": defaultdict(set),
            }
            for g, p, d in zip(
                gene.tolist(), a["gp_pheno"].tolist(), a["gp_disease"].tolist(), strict=True
            ):
                maps["pheno"][p].add(g)
                maps["gene"][g].add(p)
                if d >= 0:
                    maps["disease"][d].add(g)
                    maps["gene"][g].add(d)
            got = self._lazy["genes"] = {
                k: {n: frozenset(v) for n, v in m.items()} for k, m in maps.items()
            }
        return got

    def _gene_set(self, i: int) -> frozenset[int]:
        m = self._gene_maps()
        if self._source[i] == SRC_MONDO:
            return frozenset().union(*(m["disease"].get(d, _EMPTY) for d in self._xref_targets(i)))
        return m["disease"].get(i) or m["pheno"].get(i, _EMPTY)

    def genes(self, nid: str) -> tuple[str, ...]:
        """Genes associated with a disease (MONDO via xrefs) or a phenotype term."""
        return tuple(sorted(self._ids[g] for g in self._gene_set(self._need(nid))))

    def gene_associations(self, gene: str) -> tuple[str, ...]:
        """Diseases and phenotypes associated with a gene (``NCBIGene:…``)."""
        i = self._need(gene)
        return tuple(sorted(self._ids[j] for j in self._gene_maps()["gene"].get(i, _EMPTY)))

    def _reverse_xrefs(self) -> dict[int, list[tuple[int, int]]]:
        got = self._lazy.get("rxref")
        if got is None:
            a = self.data.arrays
            src = np.repeat(np.arange(self._n, dtype=np.int32), np.diff(a["xref_ptr"]))
            rev: dict[int, list[tuple[int, int]]] = defaultdict(list)
            for s, t, e in zip(
                src.tolist(), a["xref_to"].tolist(), a["xref_evidence"].tolist(), strict=True
            ):
                rev[t].append((s, e))
            got = self._lazy["rxref"] = dict(rev)
        return got

    def xrefs(self, nid: str) -> tuple[Xref, ...]:
        """Cross-references from and to a node (MONDO <-> OMIM/ORPHA, evidence ``name-match``)."""
        i = self._need(nid)
        a = self.data.arrays
        lo, hi = int(a["xref_ptr"][i]), int(a["xref_ptr"][i + 1])
        out = [
            Xref(
                self._ids[i], self._ids[int(a["xref_to"][k])], XREF_EVIDENCE[a["xref_evidence"][k]]
            )
            for k in range(lo, hi)
        ]
        out += [
            Xref(self._ids[s], self._ids[i], XREF_EVIDENCE[e])
            for s, e in self._reverse_xrefs().get(i, [])
        ]
        return tuple(out)

    def edges(self, nid: str, relation: str | None = None) -> tuple[Edge, ...]:
        """Typed edges of a node: ``is_a``, ``has_phenotype``, ``gene_associated``, ``xref``."""
        if relation is not None:
            if relation not in RELATIONS:
                raise choice_error("edge relation", relation, RELATIONS)
        i = self._need(nid)
        me = self._ids[i]
        out: list[Edge] = []
        if relation in (None, "is_a"):
            out += [Edge(me, "is_a", p) for p in self.parents(me)]
        if relation in (None, "has_phenotype"):
            out += [
                Edge(
                    me,
                    "has_phenotype",
                    x.phenotype,
                    (
                        ("frequency", x.frequency),
                        ("onset", x.onset),
                        ("negated", x.negated),
                        ("via", x.disease),
                    ),
                )
                for x in self.annotations(me)
            ]
        if relation in (None, "gene_associated"):
            others = self.gene_associations(me) if self._source[i] == SRC_GENE else self.genes(me)
            out += [Edge(me, "gene_associated", o) for o in others]
        if relation in (None, "xref"):
            out += [
                Edge(
                    me,
                    "xref",
                    x.object if x.subject == me else x.subject,
                    (("evidence", x.evidence),),
                )
                for x in self.xrefs(me)
            ]
        return tuple(out)
