"""Shared fixtures of the evaluation tests: offline, one model cache per session, a tiny
MKGSG held-out dataset written with the real shard writer, the graph from the local cache."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))  # `import eval_paths`, `runner_config`

from eval_fixtures import heldout_items, write_dataset


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A session cache root; $BALANCEDBIO_CACHE points there so models are built once."""
    root = tmp_path_factory.mktemp("bbcache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BALANCEDBIO_CACHE", str(root))
        yield str(root)


@pytest.fixture(scope="session")
def tiny_dir(model_cache: str) -> Path:
    """``tiny-random`` built once; its directory."""
    from balancedbio.models import resolve_model

    return resolve_model("tiny-random", model_cache)


@pytest.fixture(scope="session")
def tiny(tiny_dir: Path) -> tuple[Any, Any]:
    """(model, tokenizer) of tiny-random, loaded once."""
    from balancedbio.models import ModelConfig, load_model_and_tokenizer

    return load_model_and_tokenizer(ModelConfig(name=str(tiny_dir)))


@pytest.fixture(scope="session")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run directory whose ``heldout/`` holds the fixture items."""
    root = tmp_path_factory.mktemp("mkgsg")
    write_dataset(root / "heldout", heldout_items())
    return root
