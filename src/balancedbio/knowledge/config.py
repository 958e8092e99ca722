"""Configuration of the knowledge layer (the ``knowledge:`` section of a run config)."""

from __future__ import annotations

from dataclasses import dataclass

from balancedbio.config import ConfigError, choice_error

#: Sources that can be loaded. ``hpo`` brings the HPO terms plus the OMIM/ORPHA/DECIPHER
#: diseases annotated in ``phenotype.hpoa`` (and NCBI genes when ``include_genes``).
VALID_SOURCES: tuple[str, ...] = ("hpo", "mondo", "icd10cm")


@dataclass(frozen=True)
class KnowledgeConfig:
    """Which ontologies to load and where to cache the built graph.

    ``cache_dir`` overrides the cache root (default: ``$BALANCEDBIO_CACHE`` or
    ``~/.cache/balancedbio``); the graph lives under ``<root>/knowledge/<key>``.
    """

    cache_dir: str | None = None
    sources: tuple[str, ...] = VALID_SOURCES
    include_genes: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.sources, str) or not isinstance(self.sources, (tuple, list)):
            raise ConfigError(f"knowledge.sources: expected a list, got {self.sources!r}")
        for name in self.sources:
            if name not in VALID_SOURCES:
                raise choice_error("knowledge source", name, VALID_SOURCES)
        if not self.sources:
            valid = ", ".join(VALID_SOURCES)
            raise ConfigError(f"knowledge.sources: at least one source is needed; valid: {valid}")
        # Canonical order and no duplicates, so equal configs share one cache entry.
        object.__setattr__(self, "sources", tuple(s for s in VALID_SOURCES if s in self.sources))
