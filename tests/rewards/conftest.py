"""Shared fixtures of the reward tests: one knowledge graph per session.

The graph comes from the default cache (``$BALANCEDBIO_CACHE`` or ``~/.cache/balancedbio``;
built cold once if missing) through the same per-process singleton the rewards use, so
tests and rewards share one loaded graph.
"""

from __future__ import annotations

import pytest

from balancedbio.knowledge import KnowledgeGraph
from balancedbio.rewards.entities import shared_graph


@pytest.fixture(scope="session")
def kg() -> KnowledgeGraph:
    graph = shared_graph()
    graph.grounder  # noqa: B018 - build the grounder once, outside timed tests
    return graph
