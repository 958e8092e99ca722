"""Where seeds come from: the built-in ontologies and calculators, and the user's own data.

A source names the tasks it feeds and, per task, a *pool* of seed entity keys (sorted, so
the seed stream is reproducible); user sources also hand out a payload per key. Built-in:

* ``hpo``: HPO disease <-> phenotype annotations (OMIM/ORPHA diseases with specific,
  groundable findings) -> phenotype MCQs, diagnosis cases, integrated cases;
* ``mondo``: MONDO hierarchy, definitions and synonyms (+ HPO synonyms) -> subtype,
  synonym and definition MCQs, instruction topics;
* ``icd10cm``: the ICD-10-CM hierarchy -> category MCQs;
* ``medcalc``: medcalc-bench calculators with exact answers -> calculator cases.

User sources (see ``examples/user_source``): a folder of ``.md``/``.txt`` documents, split
into passages of a few sentences, and a JSONL of case records (``id``, ``age``, ``sex``,
``findings`` (phrases), ``diagnosis`` (name), optional ``exam``). Both are linked to the
ontologies by grounding (``kg.ground`` / ``kg.lookup``); records whose phrases do not
ground are rejected later with ``unknown_entity``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancedbio.common import atomic_write_text
from balancedbio.data.index import KnowledgeIndex
from balancedbio.data.seeds import split_pool
from balancedbio.data.source_base import Source
from balancedbio.data.user_sources import (
    DocumentSource,
    Passage,
    RecordSource,
    split_sentences,
)

if TYPE_CHECKING:
    from balancedbio.data.config import GenerateConfig

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_SYN_BAD = re.compile(r"[,;()\[\]/:]|\bor\b", re.IGNORECASE)


# --------------------------------------------------------------------------- built-in


class HpoSource(Source):
    name, tasks = "hpo", ("mcq_phenotype", "diagnosis_case", "integrated_case")

    def __init__(self, index: KnowledgeIndex, min_findings: int) -> None:
        self.index, self.min_findings = index, min_findings

    @property
    def version(self) -> str:
        return self.index.kg.versions.get("hpo", "unknown")

    def split_key(self, entity: str) -> str:
        """A numbered disease series ("Noonan syndrome 1", "... type 2") splits as one."""
        return series_stem(self.index.kg.name_of(entity))

    @cached_property
    def _with_findings(self) -> dict[str, int]:
        return {
            d: len(self.index.findings(d)) for d in self.index.diseases if self.index.grounds(d)
        }

    def pool(self, task: str) -> list[str]:
        if task == "mcq_phenotype":
            return sorted(d for d, n in self._with_findings.items() if n >= 1)
        return sorted(
            d
            for d, n in self._with_findings.items()
            if n >= self.min_findings and self.index.plain_name(d)
        )


class MondoSource(Source):
    name, tasks = "mondo", ("mcq_subtype", "mcq_synonym", "mcq_definition", "instruction")

    def __init__(self, index: KnowledgeIndex) -> None:
        self.index = index
        self.kg = index.kg

    @property
    def version(self) -> str:
        return self.kg.versions.get("mondo", "unknown")

    @cached_property
    def diseases(self) -> list[str]:
        return sorted(self.kg.ids(kind="disease", source="mondo"))

    def good_synonyms(self, nid: str) -> list[str]:
        """Exact (MONDO: unscoped) synonyms that differ from the name and read cleanly."""
        node = self.kg[nid]
        name = node.name.casefold()
        out = []
        for syn in node.synonyms:
            text = syn.text.strip()
            key = text.casefold()
            if syn.scope not in ("EXACT", "UNSPECIFIED") or len(text) < 4 or key == name:
                continue
            if name in key or key in name or _SYN_BAD.search(text) or not text[0].isalpha():
                continue
            out.append(text)
        return sorted(set(out))

    def pool(self, task: str) -> list[str]:
        idx = self.index
        if task == "mcq_subtype":
            return [d for d in self.diseases if idx.grounds(d) and self._has_child(d)]
        if task == "mcq_synonym":
            hpo = self.kg.ids(kind="phenotype", source="hpo")
            terms = sorted(hpo) + self.diseases
            return [t for t in terms if self.good_synonyms(t) and self._siblings(t) >= 4]
        if task == "mcq_definition":
            return [d for d in self.diseases if self.kg[d].definition and idx.grounds(d)]
        # instruction topics: defined, plainly named diseases
        return [d for d in self.diseases if self.kg[d].definition and idx.plain_name(d)]

    def _siblings(self, nid: str) -> int:
        return sum(len(self.kg.children(p)) for p in self.kg.parents(nid)) - 1

    def _has_child(self, nid: str) -> bool:
        return any(self.index.grounds(c) for c in self.kg.children(nid))


class Icd10Source(Source):
    name, tasks = "icd10cm", ("mcq_icd_category",)

    def __init__(self, index: KnowledgeIndex, min_options: int) -> None:
        self.kg, self.min_options = index.kg, min_options
        self._blocks: dict[str, str] = {}

    @property
    def version(self) -> str:
        return self.kg.versions.get("icd10cm", "unknown")

    def split_key(self, entity: str) -> str:
        """Codes split by block: their MCQs share the block's categories as options."""
        cat = f"ICD10CM:{entity.split(':', 1)[1][:3]}"  # the category is the 3-character stem
        block = self._blocks.get(cat)
        if block is None:
            parents = self.kg.parents(cat) if cat in self.kg else ()
            block = self._blocks[cat] = parents[0] if parents else entity
        return block

    def category_of(self, code: str) -> str | None:
        """The ``icd10cm_category`` ancestor of a code."""
        node = code
        for _ in range(6):
            parents = self.kg.parents(node)
            if not parents:
                return None
            node = parents[0]
            if self.kg[node].kind == "icd10cm_category":
                return node
        return None

    def pool(self, task: str) -> list[str]:
        blocks: dict[str, int] = {}
        out = []
        for code in sorted(self.kg.ids(kind="icd10cm_code")):
            if len(code.split(":", 1)[1].replace(".", "")) >= 7:  # 7th-character extensions
                continue
            cat = self.category_of(code)
            if cat is None:
                continue
            block = self.kg.parents(cat)[0]
            if block not in blocks:
                blocks[block] = len(self.kg.children(block))
            if blocks[block] >= self.min_options:
                out.append(code)
        return out


class CalculatorSource(Source):
    name, tasks = "medcalc", ("calculator",)

    @property
    def version(self) -> str:
        from balancedbio.rewards.calculators import MEDCALC_VERSION

        return f"medcalc-bench {MEDCALC_VERSION}"

    def pool(self, task: str) -> list[str]:
        from balancedbio.rewards.calculators import supported_calculators

        return sorted(supported_calculators())


_SERIES = re.compile(r"(?:[\s,;-]+(?:type|group|form|class)?\s*[0-9]+[a-z]?|[\s,]+[ivx]+)$")


def series_stem(name: str) -> str:
    """ "Noonan syndrome 1" / "..., type 2" / "... 3A" -> the series name (lower case)."""
    key = name.casefold().strip()
    while True:
        stripped = _SERIES.sub("", key).strip(" ,;-")
        if stripped == key or not stripped:
            return key
        key = stripped


# --------------------------------------------------------------------------- assembly


#: Bump when pool or split-key logic changes, to invalidate cached pools and splits.
POOL_VERSION = 1


def _memo_list(path: Path | None, compute: Callable[[], list[str]]) -> list[str]:
    """``compute()``, memoized as a JSON list at ``path`` (recomputed if unreadable)."""
    if path is None:
        return compute()
    if path.is_file():
        try:
            got = json.loads(path.read_text())
            if isinstance(got, list):
                return [str(x) for x in got]
        except (OSError, json.JSONDecodeError):
            pass
    out = compute()
    try:
        atomic_write_text(path, json.dumps(out))
    except OSError:  # a read-only cache is fine: the list is just recomputed next time
        pass
    return out


def cached_pool(
    source: Source,
    task: str,
    params: dict[str, Any],
    cache_dir: Path | None,
    split: tuple[str, str, float] | None = None,
) -> list[str]:
    """``source.pool(task)`` (restricted to ``split`` = (split, salt, eval_fraction) if
    given), memoized on disk next to the knowledge graph cache.

    Built-in pools scan the whole graph (seconds), and splitting hashes every entity's
    split key (a second per run); the files are keyed by the graph's cache key and the
    parameters, so they are rebuilt whenever either changes.
    """
    builtin = cache_dir is not None and source.name in ("hpo", "mondo", "icd10cm")
    ident = json.dumps([POOL_VERSION, task, params], sort_keys=True)
    key = hashlib.sha256(ident.encode()).hexdigest()[:12]
    path = cache_dir / f"{source.name}-{task}-{key}.json" if builtin and cache_dir else None
    pool = _memo_list(path, lambda: source.pool(task))
    if split is None:
        return pool
    name, salt, fraction = split
    if path is not None:
        tag = hashlib.sha256(json.dumps([key, name, salt, fraction]).encode()).hexdigest()[:12]
        path = path.with_name(f"{source.name}-{task}-{key}-split-{tag}.json")
    return _memo_list(path, lambda: split_pool(pool, name, salt, fraction, source.split_key))


def build_sources(cfg: GenerateConfig, index: KnowledgeIndex) -> dict[str, Source]:
    """Task -> the source feeding it, for every task with seeds."""
    c = cfg.construct
    makers = {
        "hpo": lambda: HpoSource(index, c.min_findings),
        "mondo": lambda: MondoSource(index),
        "icd10cm": lambda: Icd10Source(index, c.min_options),
        "medcalc": CalculatorSource,
        "documents": lambda: DocumentSource(
            cfg.sources.documents or "", index, cfg.sources.passage_sentences
        ),
        "records": lambda: RecordSource(cfg.sources.records or ""),
    }
    feeds = {
        "hpo": HpoSource.tasks,
        "mondo": MondoSource.tasks,
        "icd10cm": Icd10Source.tasks,
        "medcalc": CalculatorSource.tasks,
        "documents": DocumentSource.tasks,
        "records": RecordSource.tasks,
    }
    made: dict[str, Source] = {}
    out: dict[str, Source] = {}
    for task, count in cfg.tasks.items():
        if not count:
            continue
        name = next(n for n, tasks in feeds.items() if task in tasks)
        if name not in made:
            made[name] = makers[name]()
        out[task] = made[name]
    return out


def source_versions(kg_versions: dict[str, str], sources: Iterable[Source]) -> dict[str, str]:
    """Ontology versions plus every used source's version string."""
    out = dict(kg_versions)
    for s in sources:
        out[s.name] = s.version
    return dict(sorted(out.items()))


__all__ = [
    "CalculatorSource",
    "DocumentSource",
    "HpoSource",
    "Icd10Source",
    "MondoSource",
    "Passage",
    "RecordSource",
    "Source",
    "build_sources",
    "series_stem",
    "cached_pool",
    "source_versions",
    "split_sentences",
]
