"""Shared fixtures: the full graph is built cold once per session into a temporary cache.

The suite-wide ``tests/conftest.py`` points ``$BALANCEDBIO_CACHE`` at a per-session
temporary directory; using it here lets other suites reuse the graph built once for these
tests. Run alone (no such variable), a ``tmp_path_factory`` directory is used instead.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from balancedbio.knowledge import KnowledgeConfig, KnowledgeGraph, load_knowledge


@pytest.fixture(scope="session")
def kg_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    shared = os.environ.get("BALANCEDBIO_CACHE")
    return Path(shared) if shared else tmp_path_factory.mktemp("knowledge-cache")


@pytest.fixture(scope="session")
def kg_cfg(kg_cache_dir: Path) -> KnowledgeConfig:
    return KnowledgeConfig(cache_dir=str(kg_cache_dir))


@pytest.fixture(scope="session")
def kg(kg_cfg: KnowledgeConfig) -> KnowledgeGraph:
    """All three sources, built from the packaged files (cold) and cached."""
    return load_knowledge(kg_cfg)
