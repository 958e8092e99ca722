"""Shared fixtures: one temporary model cache per session, never the network."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"  # before huggingface_hub is imported anywhere
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

TIMINGS: dict[str, float] = {}


@pytest.fixture(scope="session")
def timings() -> dict[str, float]:
    """Build/convert durations, printed in the terminal summary."""
    return TIMINGS


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A session cache root; $BALANCEDBIO_CACHE points there so nothing touches ~/.cache."""
    root = tmp_path_factory.mktemp("bbcache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BALANCEDBIO_CACHE", str(root))
        yield str(root)


@pytest.fixture(scope="session")
def tiny_dir(model_cache: str) -> Path:
    """``tiny-random`` built once (the first build also extracts the SmolLM2 tokenizer)."""
    from balancedbio.models import resolve_model

    started = time.perf_counter()
    path = resolve_model("tiny-random", model_cache)
    TIMINGS["tiny-random first build (incl. tokenizer extraction)"] = time.perf_counter() - started
    return path


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("model build timings")
        for name, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{name}: {seconds:.1f}s")
