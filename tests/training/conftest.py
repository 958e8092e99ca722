"""Shared fixtures: the suite's model cache (tiny-random built once per session), offline."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))  # `import fixtures`


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The session cache ``tests/conftest.py`` points $BALANCEDBIO_CACHE at (subprocesses
    inherit it); a temporary one if that conftest is not in play."""
    if not os.environ.get("BALANCEDBIO_CACHE"):
        os.environ["BALANCEDBIO_CACHE"] = str(tmp_path_factory.mktemp("bbcache"))
    return os.environ["BALANCEDBIO_CACHE"]


@pytest.fixture(scope="session")
def tiny_model(model_cache: str) -> str:
    """Build ``tiny-random`` once; returns its name (resolved through the session cache)."""
    from balancedbio.models import resolve_model

    resolve_model("tiny-random", model_cache)
    return "tiny-random"
