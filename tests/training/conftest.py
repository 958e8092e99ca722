"""Shared fixtures: one temporary model cache per session (tiny-random built once), offline."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))  # `import fixtures`


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A session cache root; $BALANCEDBIO_CACHE points there so nothing touches ~/.cache."""
    root = tmp_path_factory.mktemp("bbcache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BALANCEDBIO_CACHE", str(root))
        yield str(root)


@pytest.fixture(scope="session")
def tiny_model(model_cache: str) -> str:
    """Build ``tiny-random`` once; returns its name (resolved through the session cache)."""
    from balancedbio.models import resolve_model

    resolve_model("tiny-random", model_cache)
    return "tiny-random"
