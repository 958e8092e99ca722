"""Shared fixtures: a session model cache with ``tiny-random``, a local backend and a server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def data_model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A session cache root; $BALANCEDBIO_CACHE points there so nothing touches ~/.cache."""
    root = tmp_path_factory.mktemp("bbcache-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BALANCEDBIO_CACHE", str(root))
        yield str(root)


@pytest.fixture(scope="session")
def tiny_model(data_model_cache: str) -> Path:
    from balancedbio.models import resolve_model

    return resolve_model("tiny-random", data_model_cache)


@pytest.fixture(scope="session")
def tiny_backend(tiny_model: Path):  # noqa: ANN201 - TransformersBackend
    from balancedbio.data.backends import TransformersBackend

    return TransformersBackend("tiny-random", batch_size=4)


@pytest.fixture(scope="session")
def tiny_server(tiny_model: Path):  # noqa: ANN201 - ServerHandle
    from balancedbio.data.openai_server import running_server

    with running_server("tiny-random", batch_size=4, max_wait_ms=50) as handle:
        yield handle
