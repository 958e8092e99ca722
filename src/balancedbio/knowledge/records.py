"""Value types of the knowledge graph: node/edge kinds, sources and the records it returns.

Kinds, sources and scopes are stored as small integers in the graph's arrays; the tuples
below give their names (index = code), so the on-disk format stays a plain int array.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Node sources (index = code in ``node_source``).
SOURCES: tuple[str, ...] = ("hpo", "mondo", "omim", "orpha", "decipher", "icd10cm", "ncbigene")
SRC_HPO, SRC_MONDO, SRC_OMIM, SRC_ORPHA, SRC_DECIPHER, SRC_ICD, SRC_GENE = range(7)
SOURCE_CODE: dict[str, int] = {name: i for i, name in enumerate(SOURCES)}
#: CURIE prefix of each source (index = code).
SOURCE_PREFIX: tuple[str, ...] = ("HP", "MONDO", "OMIM", "ORPHA", "DECIPHER", "ICD10CM", "NCBIGene")

#: Node kinds (index = code in ``node_kind``).
KINDS: tuple[str, ...] = (
    "phenotype",
    "disease",
    "gene",
    "icd10cm_chapter",
    "icd10cm_block",
    "icd10cm_category",
    "icd10cm_code",
)
K_PHENOTYPE, K_DISEASE, K_GENE, K_CHAPTER, K_BLOCK, K_CATEGORY, K_CODE = range(7)
ICD_KINDS = frozenset({K_CHAPTER, K_BLOCK, K_CATEGORY, K_CODE})

#: Bits of ``node_flags``.
F_OBSOLETE = 1
F_EXTENSION = 2  # ICD-10-CM code made by a 7th-character extension (S72.001A)

#: Synonym scopes (index = code). MONDO's packaged build gives synonyms without a scope.
SCOPES: tuple[str, ...] = ("EXACT", "RELATED", "BROAD", "NARROW", "UNSPECIFIED")
SC_EXACT, SC_RELATED, SC_BROAD, SC_NARROW, SC_UNSPECIFIED = range(5)
SCOPE_CODE: dict[str, int] = {name: i for i, name in enumerate(SCOPES)}

#: Edge relations exposed by :meth:`KnowledgeGraph.edges`.
RELATIONS: tuple[str, ...] = ("is_a", "has_phenotype", "gene_associated", "xref")

#: Evidence codes of xrefs (index = code in ``xref_evidence``).
XREF_EVIDENCE: tuple[str, ...] = ("name-match",)


@dataclass(frozen=True, slots=True)
class Synonym:
    """A synonym with its OBO scope (``EXACT``, ``RELATED``, ``BROAD``, ``NARROW``, ...)."""

    text: str
    scope: str


@dataclass(frozen=True, slots=True)
class Node:
    """One node of the graph, materialized on demand from the graph's arrays."""

    id: str
    name: str
    kind: str
    source: str
    definition: str | None = None
    synonyms: tuple[Synonym, ...] = ()
    obsolete: bool = False
    replaced_by: tuple[str, ...] = ()
    consider: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Annotation:
    """A disease -> phenotype annotation from ``phenotype.hpoa``.

    ``frequency`` is as written (an HPO frequency term, ``n/m`` or ``x%``; ``""`` if none),
    ``onset`` an HPO onset term or ``None``; ``negated`` marks a ``NOT`` qualifier.
    """

    disease: str
    phenotype: str
    frequency: str
    onset: str | None
    negated: bool
    aspect: str


@dataclass(frozen=True, slots=True)
class Edge:
    """A typed edge; ``attrs`` holds relation-specific data (frequency, onset, evidence)."""

    subject: str
    relation: str
    object: str
    attrs: tuple[tuple[str, str | bool | None], ...] = ()


@dataclass(frozen=True, slots=True)
class Xref:
    """A cross-reference between two graph nodes and the evidence it rests on."""

    subject: str
    object: str
    evidence: str
