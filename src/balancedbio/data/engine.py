"""The assembled generation stages of one run: sources -> seeds -> construct -> validate.

:class:`Engine` loads the knowledge graph once, builds the derived index, the sources and
their (cached) pools, the constructors and the validator, and checks the column contract
of every stage (:func:`~balancedbio.data.records.check_stages`) before any model is
called. :meth:`Engine.produce` turns seeds into validated items or rejections; the
pipeline adds dedup, decontamination and writing.
"""

from __future__ import annotations

import logging
import time
import traceback
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancedbio.common import cache_root
from balancedbio.data.config import GenerateConfig
from balancedbio.data.constructors import BuildContext, make_constructors
from balancedbio.data.constructors.base import reject
from balancedbio.data.index import KnowledgeIndex
from balancedbio.data.records import STAGES, Rejection, check_stages
from balancedbio.data.seeds import Seed, seed_stream
from balancedbio.data.sources import build_sources, cached_pool, source_versions
from balancedbio.data.validate import Validator

if TYPE_CHECKING:
    from balancedbio.data.backends import ChatBackend
    from balancedbio.knowledge import KnowledgeGraph

log = logging.getLogger(__name__)

Outcome = dict[str, Any] | Rejection

_INDEXES: dict[tuple[int, int], KnowledgeIndex] = {}


def shared_index(kg: KnowledgeGraph, max_phenotype_diseases: int) -> KnowledgeIndex:
    """One index per (graph, specificity) in a process: its lazy tables are reused."""
    key = (id(kg), max_phenotype_diseases)
    got = _INDEXES.get(key)
    if got is None or got.kg is not kg:
        got = _INDEXES[key] = KnowledgeIndex(kg, max_phenotype_diseases)
    return got


class Engine:
    """Everything a run needs to turn seeds into validated items."""

    def __init__(
        self,
        cfg: GenerateConfig,
        kg: KnowledgeGraph | None = None,
        backend: ChatBackend | None = None,
    ) -> None:
        from balancedbio.knowledge import load_knowledge

        check_stages(STAGES)
        self.cfg = cfg
        started = time.perf_counter()
        self.kg = kg if kg is not None else load_knowledge(cfg.knowledge)
        self.index = shared_index(self.kg, cfg.construct.max_phenotype_diseases)
        self.tasks = {t: n for t, n in cfg.tasks.items() if n > 0}
        self.sources = build_sources(cfg, self.index)
        self.versions = source_versions(self.kg.versions, set(self.sources.values()))
        self._backend = backend
        generator = "template"
        if cfg.construct.mode == "model":
            generator = (
                backend.name if backend is not None else f"{cfg.backend.kind}:{cfg.backend.model}"
            )
        self.ctx = BuildContext(self.kg, self.index, cfg, self.sources, self.versions, generator)
        self.constructors = make_constructors(self.ctx, list(self.tasks))
        self.validator = Validator(self.kg, self.index, cfg.validate)
        self.pools = self._pools()
        self.setup_s = time.perf_counter() - started

    @property
    def cache_dir(self) -> Path | None:
        """Where derived tables of this graph are cached (pools, grounding verdicts)."""
        if self.kg.cache_dir is None:
            return None
        manifest = self.kg.cache_dir / "manifest.json"
        try:  # a rebuilt graph (same key, new content) gets fresh tables
            stamp = f"{zlib.crc32(manifest.read_bytes()):08x}"
        except OSError:
            return None
        return (
            cache_root(self.cfg.knowledge.cache_dir) / "mkgsg" / f"{self.kg.cache_dir.name}-{stamp}"
        )

    def save_memo(self) -> None:
        if self.cache_dir is not None:
            self.index.save_memo(self.cache_dir / "index-memo.json")

    def _pools(self) -> dict[str, list[str]]:
        cfg, c = self.cfg, self.cfg.construct
        cache = self.cache_dir
        if cache is not None and not self.index._saved:
            self.index.load_memo(cache / "index-memo.json")
        params = {
            "hpo": {"min_findings": c.min_findings, "max_pd": c.max_phenotype_diseases},
            "mondo": {},
            "icd10cm": {"min_options": c.min_options},
        }
        out = {}
        for task in self.tasks:
            src, sp = self.sources[task], cfg.split
            split = (sp.split, sp.salt, sp.eval_fraction)
            out[task] = cached_pool(src, task, params.get(src.name, {}), cache, split)
            if not out[task]:
                log.warning("task %s has no seed entities in split %s", task, cfg.split.split)
        self.save_memo()
        return out

    def seeds(self) -> list[Seed]:
        """This shard's seeds, in stream order."""
        names = {t: self.sources[t].name for t in self.tasks}
        return list(
            seed_stream(
                self.tasks,
                self.pools,
                names,
                seed=self.cfg.seed,
                split=self.cfg.split.split,
                shard=self.cfg.shard_index(),
            )
        )

    @property
    def backend(self) -> ChatBackend:
        """The chat backend (model mode), created on first use: after every check passed."""
        if self._backend is None:
            from balancedbio.data.backends import make_backend

            self._backend = make_backend(self.cfg.backend)
        return self._backend

    def construct(self, seeds: Sequence[Seed]) -> list[Outcome]:
        """Template or model construction of a batch of seeds (never raises per seed)."""
        if self.cfg.construct.mode == "model":
            from balancedbio.data.constructors.model_mode import build_batch

            b = self.cfg.backend
            return build_batch(
                self.constructors,
                seeds,
                self.backend,
                max_new_tokens=b.max_new_tokens,
                temperature=b.temperature,
                seed=self.cfg.seed,
            )
        out: list[Outcome] = []
        for s in seeds:
            try:
                out.append(self.constructors[s.task].build(s))
            except Exception as exc:  # noqa: BLE001 - one bad seed must not end a run
                log.warning("seed %s (%s) failed:\n%s", s.id, s.entity, traceback.format_exc())
                out.append(reject("internal_error", f"{type(exc).__name__}: {exc}"))
        return out

    def produce(self, seeds: Sequence[Seed]) -> list[Outcome]:
        """Construct and validate: one item or rejection per seed, in order."""
        results = self.construct(seeds)
        for i, res in enumerate(results):
            if isinstance(res, dict):
                try:
                    rej = self.validator(res)
                except Exception as exc:  # noqa: BLE001
                    log.warning("validating %s failed:\n%s", res.get("id"), traceback.format_exc())
                    rej = reject(
                        "internal_error", f"validation: {type(exc).__name__}: {exc}", "validate"
                    )
                    rej.item = res
                if rej is not None:
                    results[i] = rej
        return results


__all__ = ["Engine", "Outcome", "shared_index"]
