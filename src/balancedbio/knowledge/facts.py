"""Check ontology facts ``{relation, subject, object}`` against the knowledge graph.

Relations:

* ``is_a`` - object is a proper ancestor of subject (HPO, MONDO or ICD-10-CM hierarchy);
* ``has_phenotype`` - disease (OMIM/ORPHA/DECIPHER, or MONDO through its name-match xrefs)
  has the phenotype by the true-path rule; ``NOT`` annotations never count;
* ``has_gene`` - disease (or phenotype) is associated with the gene (``NCBIGene:…`` or symbol);
* ``name`` - object equals the subject's name or one of its EXACT (MONDO: unscoped)
  synonyms, ignoring case and surrounding/repeated whitespace;
* ``icd10_parent`` - object is an ancestor code, block or chapter of an ICD-10-CM code;
* ``exists`` - subject exists and is not obsolete (object ignored).

:meth:`FactChecker.check` never raises: unknown, obsolete or malformed ids, missing fields,
wrong types and unknown relations give ``Verdict(valid=False, reason=...)``. An obsolete id's
reason names its replacement. HPO alt ids count as their primary id; the verdict's reason
then notes the substitution (even when valid).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from balancedbio.knowledge.normalize import normalize
from balancedbio.knowledge.records import (
    ICD_KINDS,
    K_DISEASE,
    K_GENE,
    K_PHENOTYPE,
    KINDS,
    SC_EXACT,
    SC_UNSPECIFIED,
    SOURCES,
    SRC_MONDO,
)

if TYPE_CHECKING:
    from balancedbio.knowledge.graph import KnowledgeGraph

RELATIONS: tuple[str, ...] = ("is_a", "has_phenotype", "has_gene", "name", "icd10_parent", "exists")


@dataclass(frozen=True, slots=True)
class Fact:
    """A fact to check; ``object`` is unused by ``exists``."""

    relation: str
    subject: str
    object: str | None = None


@dataclass(frozen=True, slots=True)
class Verdict:
    """Outcome of a check: ``reason`` says why it is invalid (or notes an alt-id substitution)."""

    valid: bool
    reason: str | None = None


VALID = Verdict(True, None)
_MISS = (-1, None)
#: holds_is_a questions per subject answered by bisection (then the graph's memo)
_ANC_BISECTS = 8
_REL_LIST = ", ".join(RELATIONS)


def _collapse(text: str) -> str:
    return " ".join(text.casefold().split())


class FactChecker:
    """Checks facts against one graph; all lookups are dict hits plus set membership."""

    def __init__(self, graph: KnowledgeGraph) -> None:
        self.g = graph
        self._index = graph._index
        self._obsolete = graph._obsolete
        self._kind = graph._kind
        self._n = len(graph)
        self._anc_keys, self._anc_seen = graph._anc_keys, graph._anc_seen
        self._anc_ptr, self._anc_view = graph._anc_ptr, memoryview(graph._anc_idx)
        self._anc_queries = bytearray(self._n)  # holds_is_a's bisections per subject
        self._ph_keys, self._ph_seen = graph._ph_keys, graph._ph_seen
        # "name" memo: "<node>\t<collapsed name>" strings of nodes seen so far (one set, see
        # KnowledgeGraph's membership memos).
        self._name_keys: set[str] = set()
        self._name_seen = bytearray(self._n)
        self._spellings = graph._spellings
        self._names: list[str] | None = None
        self._handlers: dict[str, Callable[[Any, Any], Verdict]] = {
            "is_a": self._is_a,
            "has_phenotype": self._has_phenotype,
            "has_gene": self._has_gene,
            "name": self._name,
            "icd10_parent": self._icd10_parent,
            "exists": self._exists,
        }

    # ------------------------------------------------------------------ entry points

    def check(self, fact: Mapping[str, Any] | Fact | Any) -> Verdict:
        """Verdict for one fact (a mapping or :class:`Fact`); never raises."""
        try:
            if type(fact) is dict or isinstance(fact, Mapping):
                rel, subj, obj = fact.get("relation"), fact.get("subject"), fact.get("object")
            elif isinstance(fact, Fact):
                rel, subj, obj = fact.relation, fact.subject, fact.object
            else:
                return Verdict(
                    False,
                    "fact must be a mapping (or Fact) with relation, subject and object; "
                    f"got {type(fact).__name__}",
                )
            handler = self._handlers.get(rel) if type(rel) is str else None
            if handler is None:
                if isinstance(rel, str):
                    handler = self._handlers.get(rel.strip().lower())
                if handler is None:
                    what = "missing relation" if rel is None else f"unknown relation {rel!r}"
                    return Verdict(False, f"{what}; valid relations: {_REL_LIST}")
            if subj is None:
                return Verdict(False, "missing subject")
            return handler(subj, obj)
        except Exception as exc:  # noqa: BLE001 - the contract is "never raise"
            return Verdict(False, f"internal error while checking: {type(exc).__name__}: {exc}")

    def check_many(self, facts: Iterable[Mapping[str, Any] | Fact | Any]) -> list[Verdict]:
        """Verdicts for many facts, in order."""
        check = self.check
        return [check(f) for f in facts]

    def holds_phenotype(self, subj: Any, obj: Any) -> bool:
        """``check(has_phenotype).valid`` without composing a reason: the constructors and
        validators ask it for many (disease, phenotype) pairs and only want the answer.
        Exactly spelled current ids take the memo directly; anything else the full check."""
        index, obsolete = self._index, self._obsolete
        i = index.get(subj, -1) if type(subj) is str else -1
        j = index.get(obj, -1) if type(obj) is str else -1
        if i >= 0 and j >= 0 and not obsolete[i] and not obsolete[j]:
            return self._holds_pheno_at(i, j, subj, obj)
        return self.check({"relation": "has_phenotype", "subject": subj, "object": obj}).valid

    def holds_phenotype_any(self, subjects: Iterable[Any], obj: Any) -> bool:
        """``any(holds_phenotype(s, obj) for s in subjects)``, resolving ``obj`` once: MCQs
        test each candidate feature against every id of the disease's name."""
        index, obsolete = self._index, self._obsolete
        j = index.get(obj, -1) if type(obj) is str else -1
        if j < 0 or obsolete[j]:
            return any(self.holds_phenotype(s, obj) for s in subjects)
        for s in subjects:
            i = index.get(s, -1) if type(s) is str else -1
            if (
                self._holds_pheno_at(i, j, s, obj)
                if i >= 0 and not obsolete[i]
                else self.holds_phenotype(s, obj)
            ):
                return True
        return False

    def _holds_pheno_at(self, i: int, j: int, subj: Any, obj: Any) -> bool:
        """:meth:`holds_phenotype` of the current ids at rows ``i``, ``j`` (spelled ``subj``,
        ``obj``): the memo once the subject's keys are in it, else the graph's bisection;
        the full check where that raises (it reports the problem)."""
        if self._ph_seen[i] == 2:
            return i * self._n + j in self._ph_keys
        if self._kind[i] != K_DISEASE:
            return False
        try:
            return self.g._has_pheno(i, j)
        except Exception:  # noqa: BLE001 - the full check reports it
            return self.check({"relation": "has_phenotype", "subject": subj, "object": obj}).valid

    def holds_is_a(self, subj: Any, obj: Any) -> bool:
        """``check(is_a).valid`` without composing a reason (distractor checks mostly fail);
        exactly spelled current ids take the memo directly, anything else the full check.

        The first ``_ANC_BISECTS`` questions about a subject bisect its ancestor slice
        without touching the graph's memo: putting a node's ancestors into the (large)
        shared key set costs ~20 bisections, and most candidates are asked about once."""
        index, obsolete = self._index, self._obsolete
        i = index.get(subj, -1) if type(subj) is str else -1
        j = index.get(obj, -1) if type(obj) is str else -1
        if i >= 0 and j >= 0 and not obsolete[i] and not obsolete[j]:
            if self._anc_seen[i] == 2:
                return i * self._n + j in self._anc_keys
            if self._anc_queries[i] < _ANC_BISECTS:
                self._anc_queries[i] += 1
                lo, hi = self._anc_ptr[i], self._anc_ptr[i + 1]
                k = bisect_left(self._anc_view, j, lo, hi)
                return k < hi and self._anc_view[k] == j
            return bool(self.g._is_anc(j, i))  # numpy's bool on its bisection path
        return self.check({"relation": "is_a", "subject": subj, "object": obj}).valid

    def holds_name(self, subj: Any, obj: Any) -> bool:
        """``check(name).valid`` without composing a reason (see :meth:`holds_is_a`)."""
        i = self._index.get(subj, -1) if type(subj) is str else -1
        if i < 0 or self._obsolete[i] or type(obj) is not str or not obj.strip():
            return self.check({"relation": "name", "subject": subj, "object": obj}).valid
        self._names_ready(i)
        return f"{i}\t{_collapse(obj)}" in self._name_keys

    # ------------------------------------------------------------------ helpers

    def _node(
        self, value: Any, role: str, icd: bool = False
    ) -> tuple[int, str | None, Verdict | None]:
        """``(index, note, None)`` or ``(-1, None, invalid verdict)``; obsolete ids are invalid."""
        i = self._index.get(value) if type(value) is str else None
        note = None
        if i is None:
            if value is None:
                return -1, None, Verdict(False, f"missing {role}")
            i, why = self.g._resolve(value, role=role, icd=icd)
            if i < 0:
                return -1, None, Verdict(False, f"{role}: {why}" if role not in why else why)
            note = why
        if self._obsolete[i]:
            return -1, None, Verdict(False, self.g.obsolete_reason(i))
        return i, note, None

    def _fast(self, subj: Any, obj: Any, icd: bool) -> tuple[int, int]:
        """Indices of two current ids, exactly spelled or already resolved (memo, no note);
        -1 where the slow path is needed."""
        index, obsolete, spellings = self._index, self._obsolete, self._spellings
        i = j = -1
        if type(subj) is str:
            i = index.get(subj, -1)
            if i < 0:
                i, note = spellings.get((subj, icd), _MISS)
                i = -1 if note else i
        if type(obj) is str:
            j = index.get(obj, -1)
            if j < 0:
                j, note = spellings.get((obj, icd), _MISS)
                j = -1 if note else j
        if i >= 0 and obsolete[i]:
            i = -1
        if j >= 0 and obsolete[j]:
            j = -1
        return i, j

    def _label(self, i: int) -> str:
        names = self._names
        if names is None:
            names = self._names = self.g.data.strings["names"]
        return f"{self.g._ids[i]} ({names[i]})"

    def _describe(self, i: int) -> str:
        return f"{self._label(i)} is a {KINDS[self._kind[i]]} ({SOURCES[self.g._source[i]]})"

    @staticmethod
    def _ok(n1: str | None, n2: str | None = None) -> Verdict:
        if n1 is None and n2 is None:
            return VALID
        return Verdict(True, "note: " + "; ".join(n for n in (n1, n2) if n))

    # ------------------------------------------------------------------ relations

    def _pair(
        self, subj: Any, obj: Any, icd: bool = False
    ) -> tuple[int, int, str | None, str | None, Verdict | None]:
        """Resolve subject and object: ``(i, j, note1, note2, None)`` or ``(..., invalid)``.

        The object is read in ICD-10-CM context (bare chapter numbers) when ``icd`` is set or
        the subject is an ICD-10-CM node.
        """
        i, j = self._fast(subj, obj, icd)
        if i >= 0 and j >= 0:
            return i, j, None, None, None
        i, n1, bad = self._node(subj, "subject", icd=icd)
        if bad:
            return -1, -1, None, None, bad
        j, n2, bad = self._node(obj, "object", icd=icd or self._kind[i] in ICD_KINDS)
        if bad:
            return -1, -1, None, None, bad
        return i, j, n1, n2, None

    def _is_a(self, subj: Any, obj: Any) -> Verdict:
        i, j, n1, n2, bad = self._pair(subj, obj)
        if bad:
            return bad
        if self._anc_seen[i] == 2:
            if i * self._n + j in self._anc_keys:
                return self._ok(n1, n2)
        elif self.g._is_anc(j, i):
            return self._ok(n1, n2)
        if i == j:
            return Verdict(
                False, f"{self._label(i)} is the same term; is_a needs a proper ancestor"
            )
        if self.g._source[i] != self.g._source[j]:
            return Verdict(
                False, f"{self._describe(i)} but {self._describe(j)}: different ontologies"
            )
        return Verdict(False, f"{self._label(j)} is not an ancestor of {self._label(i)}")

    def _has_phenotype(self, subj: Any, obj: Any) -> Verdict:
        i, j, n1, n2, bad = self._pair(subj, obj)
        if bad:
            return bad
        if self._ph_seen[i] == 2 and i * self._n + j in self._ph_keys:
            return self._ok(n1, n2)
        if self._kind[i] != K_DISEASE:
            return Verdict(False, f"has_phenotype needs a disease subject; {self._describe(i)}")
        if self._ph_seen[i] != 2 and self.g._has_pheno(i, j):
            return self._ok(n1, n2)
        if self._kind[j] != K_PHENOTYPE:
            return Verdict(
                False, f"has_phenotype needs an HPO phenotype object; {self._describe(j)}"
            )
        if self.g._source[i] == SRC_MONDO and not self.g._xref_targets(i):
            return Verdict(
                False,
                f"{self._label(i)} has no phenotype annotations: it is not linked (by name) "
                "to any OMIM/ORPHA/DECIPHER disease annotated by HPO",
            )
        if self.g._is_negated(i, j):
            return Verdict(False, f"{self._label(i)} is annotated NOT {self._label(j)} (excluded)")
        return Verdict(
            False,
            f"{self._label(i)} is not annotated with {self._label(j)} or any descendant of it",
        )

    def _has_gene(self, subj: Any, obj: Any) -> Verdict:
        i, n1, bad = self._node(subj, "subject")
        if bad:
            return bad
        if self._kind[i] not in (K_DISEASE, K_PHENOTYPE):
            return Verdict(
                False, f"has_gene needs a disease or phenotype subject; {self._describe(i)}"
            )
        if isinstance(obj, str) and ":" not in obj:  # a gene symbol
            genes = [g for g in self.g._name_nodes(normalize(obj)) if self._kind[g] == K_GENE]
            if not genes:
                return Verdict(False, f"object: unknown gene symbol {obj!r}")
            j, n2 = genes[0], None
        else:
            j, n2, bad = self._node(obj, "object")
            if bad:
                return bad
        if self._kind[j] != K_GENE:
            return Verdict(False, f"has_gene needs a gene object; {self._describe(j)}")
        if j in self.g._gene_set(i):
            return self._ok(n1, n2)
        return Verdict(False, f"{self._label(j)} is not associated with {self._label(i)}")

    def _name(self, subj: Any, obj: Any) -> Verdict:
        i, n1, bad = self._node(subj, "subject")
        if bad:
            return bad
        if not isinstance(obj, str) or not obj.strip():
            return Verdict(False, "object must be a non-empty name string")
        self._names_ready(i)
        if f"{i}\t{_collapse(obj)}" in self._name_keys:
            return self._ok(n1)
        return Verdict(
            False, f"{obj!r} is neither the name nor an exact synonym of {self._label(i)}"
        )

    def _names_ready(self, i: int) -> None:
        """Put node ``i``'s "name" memo keys in place (first question about ``i``)."""
        if not self._name_seen[i]:
            self._name_keys.update(f"{i}\t{name}" for name in self._name_set(i))
            self._name_seen[i] = 1

    def _name_set(self, i: int) -> frozenset[str]:
        a, s = self.g.data.arrays, self.g.data.strings
        lo, hi = int(a["syn_ptr"][i]), int(a["syn_ptr"][i + 1])
        scopes = a["syn_scope"][lo:hi].tolist()
        syns = [
            t
            for t, c in zip(s["syn_text"][lo:hi], scopes, strict=True)
            if c in (SC_EXACT, SC_UNSPECIFIED)
        ]
        return frozenset(_collapse(t) for t in [s["names"][i], *syns])

    def _icd10_parent(self, subj: Any, obj: Any) -> Verdict:
        i, j, n1, n2, bad = self._pair(subj, obj, icd=True)
        if bad:
            return bad
        kind = self._kind
        if kind[i] in ICD_KINDS and kind[j] in ICD_KINDS and self.g._is_anc(j, i):
            return self._ok(n1, n2)
        if self._kind[i] not in ICD_KINDS:
            return Verdict(False, f"icd10_parent needs an ICD-10-CM subject; {self._describe(i)}")
        if self._kind[j] not in ICD_KINDS:
            return Verdict(False, f"icd10_parent needs an ICD-10-CM object; {self._describe(j)}")
        if self.g._is_anc(j, i):
            return self._ok(n1, n2)
        return Verdict(
            False, f"{self._label(j)} is not a parent code, block or chapter of {self._label(i)}"
        )

    def _exists(self, subj: Any, obj: Any) -> Verdict:
        i, n1, bad = self._node(subj, "subject")
        return bad if bad else self._ok(n1)


def check(fact: Mapping[str, Any] | Fact | Any, graph: KnowledgeGraph | None = None) -> Verdict:
    """Check one fact against ``graph`` (default: the process-wide :func:`default_graph`)."""
    if graph is None:
        from balancedbio.knowledge.cache import default_graph

        graph = default_graph()
    return graph.check(fact)
