"""Link MONDO diseases to the OMIM/ORPHA/DECIPHER diseases that HPO annotates, by name.

The packaged MONDO build (cellxgene-ontology-guide JSON) carries **no** cross-references to
OMIM or Orphanet, so MONDO ids would otherwise reach no phenotypes. We link them by exact
match of *normalized* names, never fuzzily:

1. Keys: :func:`~balancedbio.knowledge.normalize.normalize` of the MONDO label / each MONDO
   synonym, and of each ``disease_name`` spelling in ``phenotype.hpoa`` (case, punctuation
   and whitespace insensitive).
2. Tiers, first non-empty wins: MONDO labels, then MONDO synonyms, then the same two with a
   trailing ``type <token>`` written as ``<token>`` on both sides ("Ehlers-Danlos syndrome,
   type 4" == "Ehlers-Danlos syndrome 4"). The number itself is never dropped, so a
   subtype is never linked to its parent disease.
3. A name whose tier yields more than one MONDO term is ambiguous and not linked.
   Deprecated MONDO terms are never linked.

Each link is stored as an xref MONDO -> disease with evidence ``"name-match"``;
``has_phenotype`` on a MONDO id uses the phenotypes of all diseases it links to.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from balancedbio.knowledge.normalize import normalize

EVIDENCE = "name-match"
_TRAILING_TYPE = re.compile(r"\btype (\w+)$")


def _type_key(key: str) -> str | None:
    stripped = _TRAILING_TYPE.sub(r"\1", key)
    return stripped if stripped != key else None


def link_by_name(
    mondo: Iterable[tuple[int, str, Iterable[str]]],
    diseases: Iterable[tuple[int, Iterable[str]]],
) -> tuple[list[tuple[int, int]], dict[str, int]]:
    """Return ``(links, report)``.

    ``mondo``: ``(node, label, synonyms)`` of non-deprecated MONDO terms; ``diseases``:
    ``(node, names)`` of annotated diseases. ``links`` are ``(mondo_node, disease_node)``
    pairs; ``report`` counts linked MONDO terms, linked diseases and ambiguous names.
    """
    tiers: list[dict[str, set[int]]] = [defaultdict(set) for _ in range(4)]
    for node, label, synonyms in mondo:
        for base, texts in ((0, (label,)), (1, synonyms)):
            for text in texts:
                key = normalize(text)
                if key:
                    tiers[base][key].add(node)
                    tiers[base + 2][_type_key(key) or key].add(node)

    links: set[tuple[int, int]] = set()
    ambiguous = 0
    for disease, names in diseases:
        for name in set(names):
            key = normalize(name)
            if not key:
                continue
            typed = _type_key(key) or key
            found: set[int] = set()
            for tier, k in ((0, key), (1, key), (2, typed), (3, typed)):
                found = tiers[tier].get(k, set())
                if found:
                    break
            if len(found) == 1:
                links.add((next(iter(found)), disease))
            elif found:
                ambiguous += 1
    out = sorted(links)
    report = {
        "mondo_linked": len({m for m, _ in out}),
        "diseases_linked": len({d for _, d in out}),
        "links": len(out),
        "ambiguous_names": ambiguous,
    }
    return out, report
