"""Shared fixtures: the full graph is built cold once per session into a temporary cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancedbio.knowledge import KnowledgeConfig, KnowledgeGraph, load_knowledge


@pytest.fixture(scope="session")
def kg_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("knowledge-cache")


@pytest.fixture(scope="session")
def kg_cfg(kg_cache_dir: Path) -> KnowledgeConfig:
    return KnowledgeConfig(cache_dir=str(kg_cache_dir))


@pytest.fixture(scope="session")
def kg(kg_cfg: KnowledgeConfig) -> KnowledgeGraph:
    """All three sources, built from the packaged files (cold) and cached."""
    return load_knowledge(kg_cfg)
