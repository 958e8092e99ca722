"""Assemble parsed HPO, MONDO and ICD-10-CM records into one :class:`GraphData`.

Nodes get dense integer indices in load order; parents, annotations, gene links and xrefs
become CSR arrays; the proper-ancestor closure of every node is precomputed here (once, at
build time) so that ``is_a`` checks on a warm graph are a slice plus a set lookup.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Sequence

import numpy as np

from balancedbio.knowledge import icd10cm, linking, parsers
from balancedbio.knowledge.data import ARRAY_SPECS, SCHEMA_VERSION, GraphData, StringTable
from balancedbio.knowledge.grounding import compile_dictionary
from balancedbio.knowledge.names import build_name_index
from balancedbio.knowledge.records import (
    F_EXTENSION,
    F_OBSOLETE,
    K_BLOCK,
    K_CATEGORY,
    K_CHAPTER,
    K_CODE,
    K_DISEASE,
    K_GENE,
    K_PHENOTYPE,
    SC_EXACT,
    SC_UNSPECIFIED,
    SCOPE_CODE,
    SOURCE_CODE,
    SOURCES,
    SRC_DECIPHER,
    SRC_GENE,
    SRC_HPO,
    SRC_ICD,
    SRC_MONDO,
    SRC_OMIM,
    SRC_ORPHA,
)
from balancedbio.knowledge.sources import SourceFiles, hpoa_version

log = logging.getLogger(__name__)

_DISEASE_SOURCE = {"OMIM": SRC_OMIM, "ORPHA": SRC_ORPHA, "DECIPHER": SRC_DECIPHER}
_ICD_KIND = {"chapter": K_CHAPTER, "block": K_BLOCK, "category": K_CATEGORY, "code": K_CODE}
_BAD_CHARS = str.maketrans({c: " " for c in range(32)})


def _clean(text: str | None) -> str:
    """No control characters (they separate items in the on-disk string blob)."""
    if not text:
        return ""
    return text.strip() if text.isprintable() else text.translate(_BAD_CHARS).strip()


class _Builder:
    """Mutable accumulator of nodes and edges; :meth:`finish` freezes it into arrays."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.names: list[str] = []
        self.defs: list[str] = []
        self.kind: list[int] = []
        self.source: list[int] = []
        self.flags: list[int] = []
        self.index: dict[str, int] = {}
        self.syns: list[list[tuple[str, int]]] = []
        self.parents: list[list[str]] = []
        self.alt: dict[str, str] = {}
        self.repl: list[tuple[int, int, str]] = []
        self.ann: list[tuple[int, int, int, int, int, int]] = []
        self.gp: list[tuple[int, int, int, int]] = []
        self.xref: list[tuple[int, int, int]] = []
        self.freqs: list[str] = [""]
        self.freq_index: dict[str, int] = {"": 0}
        self.skipped: Counter[str] = Counter()

    def add(
        self,
        nid: str,
        name: str,
        kind: int,
        source: int,
        definition: str | None = None,
        obsolete: bool = False,
    ) -> int:
        if nid in self.index:
            self.skipped["duplicate_ids"] += 1
            return self.index[nid]
        i = len(self.ids)
        self.index[nid] = i
        self.ids.append(nid)
        self.names.append(_clean(name))
        self.defs.append(_clean(definition))
        self.kind.append(kind)
        self.source.append(source)
        self.flags.append(F_OBSOLETE if obsolete else 0)
        self.syns.append([])
        self.parents.append([])
        return i

    def node(self, nid: str) -> int:
        """Index of ``nid`` (through HPO alt ids), or -1."""
        i = self.index.get(nid)
        if i is None:
            primary = self.alt.get(nid)
            i = self.index.get(primary, -1) if primary else -1
        return i

    def freq(self, text: str) -> int:
        i = self.freq_index.get(text)
        if i is None:
            clean = _clean(text)
            i = self.freq_index.get(clean)
            if i is None:
                i = self.freq_index[clean] = len(self.freqs)
                self.freqs.append(clean)
            self.freq_index[text] = i
        return i

    # ------------------------------------------------------------------ sources

    def add_hpo(self, files: SourceFiles, include_genes: bool) -> dict[str, str]:
        version, terms = parsers.parse_obo(files.files["obo"])
        for t in terms:
            i = self.add(t.id, t.name, K_PHENOTYPE, SRC_HPO, t.definition, t.obsolete)
            self.syns[i] = [(_clean(s), SCOPE_CODE[sc]) for s, sc in t.synonyms if _clean(s)]
            self.parents[i] = list(t.parents)
            for alt in t.alt_ids:
                self.alt[alt] = t.id
            self.repl += [(i, 0, r) for r in t.replaced_by] + [(i, 1, c) for c in t.consider]
        ann_version, rows = parsers.parse_hpoa(files.files["hpoa"])
        disease_names: dict[str, Counter[str]] = {}
        for r in rows:
            disease_names.setdefault(r.disease, Counter())[r.disease_name] += 1
        for did, names in disease_names.items():
            src = _DISEASE_SOURCE.get(did.partition(":")[0])
            if src is None:
                self.skipped["unknown_disease_prefix"] += 1
                continue
            primary = names.most_common(1)[0][0]
            i = self.add(did, primary, K_DISEASE, src)
            self.syns[i] = [(_clean(n), SC_EXACT) for n in names if n != primary]
        for r in rows:
            d, p = self.index.get(r.disease, -1), self.node(r.hpo_id)
            if d < 0 or p < 0:
                self.skipped["annotations_unknown_id"] += 1
                continue
            onset = self.node(r.onset) if r.onset else -1
            aspect = ord(r.aspect[0]) if r.aspect else 0
            self.ann.append((d, p, onset, self.freq(r.frequency), int(r.negated), aspect))
        if include_genes:
            for gid, symbol, hpo, freq, dis in parsers.parse_genes(files.files["genes"]):
                nid = f"NCBIGene:{gid}"
                g = self.index.get(nid)
                if g is None:
                    g = self.add(nid, symbol, K_GENE, SRC_GENE)
                p = self.node(hpo)
                if p < 0:
                    self.skipped["gene_links_unknown_id"] += 1
                    continue
                self.gp.append((g, p, self.index.get(dis, -1) if dis else -1, self.freq(freq)))
        hpoa = f"phenotype.hpoa {hpoa_version(files.files['hpoa']) or ann_version}"
        versions = {"hpo": version, "omim": hpoa, "orpha": hpoa, "decipher": hpoa}
        if include_genes:
            versions["ncbigene"] = f"genes_to_phenotype.txt ({version})"
        return versions

    def add_mondo(self, files: SourceFiles) -> dict[str, str]:
        for t in parsers.parse_mondo(files.files["json"]):
            i = self.add(t.id, t.label, K_DISEASE, SRC_MONDO, t.description, t.deprecated)
            label = self.names[i]
            self.syns[i] = [(c, SC_UNSPECIFIED) for s in t.synonyms if (c := _clean(s)) != label]
            self.parents[i] = list(t.parents)
            self.repl += [(i, 0, r) for r in t.replaced_by] + [(i, 1, c) for c in t.consider]
        return {"mondo": files.version}

    def add_icd10cm(self, files: SourceFiles) -> dict[str, str]:
        for e in icd10cm.parse_icd10cm(files.files["xml"], files.files.get("codes")):
            i = self.add(e.id, e.name, _ICD_KIND[e.kind], SRC_ICD)
            if e.extension:
                self.flags[i] |= F_EXTENSION
            if e.parent:
                self.parents[i] = [e.parent]
        return {"icd10cm": files.version}

    def link_mondo(self) -> dict[str, int]:
        mondo = [
            (i, self.names[i], [s for s, _ in self.syns[i]])
            for i in range(len(self.ids))
            if self.source[i] == SRC_MONDO and not self.flags[i] & F_OBSOLETE
        ]
        annotated = sorted({d for d, *_ in self.ann})
        diseases = [(d, [self.names[d], *(s for s, _ in self.syns[d])]) for d in annotated]
        links, report = linking.link_by_name(mondo, diseases)
        self.xref += [(m, d, 0) for m, d in links]
        return report

    # ------------------------------------------------------------------ finish

    def _closure(self, parents: list[list[int]]) -> list[frozenset[int]]:
        """Proper ancestors of every node (iterative DFS; a cycle edge, if any, is ignored)."""
        n = len(parents)
        anc: list[frozenset[int] | None] = [None] * n
        empty: frozenset[int] = frozenset()
        for start in range(n):
            if anc[start] is not None:
                continue
            on_path: set[int] = set()
            stack = [(start, False)]
            while stack:
                node, done = stack.pop()
                if not done:
                    if anc[node] is not None:
                        continue
                    on_path.add(node)
                    stack.append((node, True))
                    stack += [
                        (p, False) for p in parents[node] if anc[p] is None and p not in on_path
                    ]
                    continue
                if anc[node] is not None:
                    continue
                acc: set[int] = set()
                for p in parents[node]:
                    got = anc[p]
                    if got is None:  # on the current path: a cycle
                        self.skipped["cycle_edges"] += 1
                        continue
                    acc.add(p)
                    acc |= got
                anc[node] = frozenset(acc) if acc else empty
                on_path.discard(node)
        return anc  # type: ignore[return-value]

    def finish(self, meta: dict) -> GraphData:
        n = len(self.ids)
        parents: list[list[int]] = []
        for i, plist in enumerate(self.parents):
            resolved = [p for p in (self.node(x) for x in plist) if p >= 0 and p != i]
            self.skipped["unknown_parents"] += len(plist) - len(resolved)
            parents.append(sorted(set(resolved)))
        anc = self._closure(parents)

        def csr(lists: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
            ptr = np.zeros(n + 1, dtype=np.int64)
            ptr[1:] = np.cumsum([len(x) for x in lists])
            flat = np.fromiter((v for x in lists for v in x), dtype=np.int32, count=int(ptr[-1]))
            return ptr.astype(np.int32), flat

        def grouped(rows: list[tuple], key_count: int) -> tuple[np.ndarray, np.ndarray]:
            """Sort rows by their first column; return (ptr over nodes, rows as 2-D array)."""
            arr = np.array(rows, dtype=np.int64).reshape(-1, key_count)
            arr = arr[np.argsort(arr[:, 0], kind="stable")] if len(arr) else arr
            counts = np.bincount(arr[:, 0], minlength=n) if len(arr) else np.zeros(n, np.int64)
            ptr = np.zeros(n + 1, dtype=np.int32)
            ptr[1:] = np.cumsum(counts)
            return ptr, arr

        a: dict[str, np.ndarray] = {}
        a["node_kind"] = np.array(self.kind, dtype=np.uint8)
        a["node_source"] = np.array(self.source, dtype=np.uint8)
        a["node_flags"] = np.array(self.flags, dtype=np.uint8)
        a["syn_ptr"], scopes = csr([[sc for _, sc in s] for s in self.syns])
        a["syn_scope"] = scopes.astype(np.uint8)
        a["par_ptr"], a["par_idx"] = csr(parents)
        a["anc_ptr"], a["anc_idx"] = csr([sorted(s) for s in anc])
        alt_items = sorted((k, self.index[v]) for k, v in self.alt.items() if v in self.index)
        a["alt_target"] = np.array([t for _, t in alt_items], dtype=np.int32)
        a["repl_node"] = np.array([r[0] for r in self.repl], dtype=np.int32)
        a["repl_kind"] = np.array([r[1] for r in self.repl], dtype=np.uint8)
        a["ann_ptr"], ann = grouped(self.ann, 6)
        for j, name in enumerate(
            ("ann_pheno", "ann_onset", "ann_freq", "ann_negated", "ann_aspect")
        ):
            a[name] = ann[:, j + 1].astype(ARRAY_SPECS[name])
        a["ph_ptr"], a["ph_idx"] = propagate_phenotypes(a, n)
        a["gp_ptr"], gp = grouped(self.gp, 4)
        for j, name in enumerate(("gp_pheno", "gp_disease", "gp_freq")):
            a[name] = gp[:, j + 1].astype(ARRAY_SPECS[name])
        a["xref_ptr"], xr = grouped(self.xref, 3)
        a["xref_to"] = xr[:, 1].astype(np.int32)
        a["xref_evidence"] = xr[:, 2].astype(np.uint8)
        syn_text = [t for s in self.syns for t, _ in s]
        keys, key_arrays = build_name_index(
            self.names, syn_text, a["syn_ptr"], a["syn_scope"], a["node_source"], a["node_flags"]
        )
        a.update(key_arrays)
        strings = StringTable(
            {
                "ids": self.ids,
                "names": self.names,
                "defs": self.defs,
                "syn_text": syn_text,
                "alt_ids": [k for k, _ in alt_items],
                "repl_target": [_clean(r[2]) for r in self.repl],
                "freqs": self.freqs,
                "keys": keys,
            }
        )
        meta = {**meta, "schema": SCHEMA_VERSION, "skipped": dict(self.skipped)}
        data = GraphData(a, strings, meta)
        ground_strings, ground_arrays = compile_dictionary(data)
        data.arrays.update(ground_arrays)
        data.strings = StringTable({**{k: strings[k] for k in strings}, **ground_strings})
        data.meta["stats"] = compute_stats(data)
        data.validate()
        return data


def propagate_phenotypes(a: dict[str, np.ndarray], n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR of every disease's phenotypes closed under ancestors (true-path rule), NOT-
    annotations excluded: each annotated term plus all its ancestors, deduplicated."""
    keep = a["ann_negated"] == 0
    disease = np.repeat(np.arange(n, dtype=np.int64), np.diff(a["ann_ptr"]))[keep]
    term = a["ann_pheno"][keep].astype(np.int64)
    starts = a["anc_ptr"][term].astype(np.int64)
    lens = a["anc_ptr"][term + 1] - starts
    offsets = np.repeat(starts - (np.cumsum(lens) - lens), lens) + np.arange(lens.sum())
    keys = np.concatenate(
        [disease * n + term, np.repeat(disease, lens) * n + a["anc_idx"][offsets]]
    )
    keys = np.unique(keys)
    ptr = np.zeros(n + 1, dtype=np.int32)
    ptr[1:] = np.cumsum(np.bincount(keys // n, minlength=n))
    return ptr, (keys % n).astype(np.int32)


def compute_stats(data: GraphData) -> dict[str, dict[str, int]]:
    """Counts per source: terms, obsolete, diseases, annotations, codes, genes, xrefs."""
    a = data.arrays
    src, kind, obs = a["node_source"], a["node_kind"], (a["node_flags"] & F_OBSOLETE).astype(bool)
    ann_src = np.repeat(src, np.diff(a["ann_ptr"]))
    out: dict[str, dict[str, int]] = {}
    for code, name in enumerate(SOURCES):
        mine = src == code
        if not mine.any():
            continue
        live = mine & ~obs
        out[name] = {
            "terms": int(live.sum()),
            "obsolete": int((mine & obs).sum()),
            "diseases": int((live & (kind == K_DISEASE)).sum()),
            "annotations": int((ann_src == code).sum()),
            "codes": int((live & ((kind == K_CATEGORY) | (kind == K_CODE))).sum()),
            "genes": int((live & (kind == K_GENE)).sum()),
            "xrefs": int(np.diff(a["xref_ptr"])[mine].sum()),
        }
    if "hpo" in out:
        out["hpo"]["annotations"] = int(a["ann_pheno"].shape[0])
    if "ncbigene" in out:
        out["ncbigene"]["annotations"] = int(a["gp_pheno"].shape[0])
    return out


def build_graph(
    sources: dict[str, SourceFiles],
    include_genes: bool = True,
    step: Callable[[str], None] | None = None,
) -> GraphData:
    """Parse the given sources (keys ``hpo``, ``mondo``, ``icd10cm``) into a :class:`GraphData`."""
    b = _Builder()
    versions: dict[str, str] = {}
    for name, add in (("hpo", None), ("mondo", b.add_mondo), ("icd10cm", b.add_icd10cm)):
        if name not in sources:
            continue
        if step:
            step(f"parsing {name}")
        log.info("parsing %s (%s)", name, sources[name].version)
        if name == "hpo":
            versions.update(b.add_hpo(sources[name], include_genes))
        else:
            assert add is not None
            versions.update(add(sources[name]))
    link_report: dict[str, int] = {}
    if "hpo" in sources and "mondo" in sources:
        if step:
            step("linking MONDO to OMIM/ORPHA by name")
        link_report = b.link_mondo()
        log.info("MONDO name-match links: %s", link_report)
    if step:
        step("computing closures and the name index")
    return b.finish({"versions": versions, "mondo_links": link_report, "source_codes": SOURCE_CODE})
