from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from balancedbio.knowledge import KnowledgeConfig, KnowledgeGraph, cache_dir_for, load_knowledge
from balancedbio.knowledge import cache as cache_mod
from balancedbio.knowledge.cache import ARRAYS, MANIFEST, STRINGS, CacheError, cache_key, load
from balancedbio.knowledge.data import ARRAY_SPECS, SCHEMA_VERSION, STRING_NAMES
from balancedbio.knowledge.sources import locate

SMALL = {"sources": ("mondo",), "include_genes": False}  # builds in seconds


def _no_build(*_: Any, **__: Any) -> Any:
    raise AssertionError("the graph was rebuilt although a valid cache exists")


def _same(a: KnowledgeGraph, b: KnowledgeGraph) -> None:
    assert a.stats() == b.stats() and a.versions == b.versions and len(a) == len(b)
    assert a.mondo_links == b.mondo_links
    for name in ARRAY_SPECS:
        assert np.array_equal(a.data.arrays[name], b.data.arrays[name]), name
    for name in STRING_NAMES:
        assert a.data.strings[name] == b.data.strings[name], name


def test_warm_load_equals_cold_build(
    kg: KnowledgeGraph, kg_cfg: KnowledgeConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = kg
    if kg.from_cache:  # a persistent test cache was reused: build cold here to compare
        files = {name: locate(name) for name in kg_cfg.sources}
        cold = KnowledgeGraph(cache_mod.build_graph(files, include_genes=kg_cfg.include_genes))
    assert not cold.from_cache
    monkeypatch.setattr(cache_mod, "build_graph", _no_build)
    warm = load_knowledge(kg_cfg)
    assert warm.from_cache
    _same(cold, warm)
    assert warm.cache_dir == kg.cache_dir == cache_dir_for(kg_cfg)
    assert sorted(p.name for p in warm.cache_dir.iterdir()) == [ARRAYS, MANIFEST, STRINGS]
    for fact in (
        {"relation": "is_a", "subject": "HP:0001250", "object": "HP:0000118"},
        {"relation": "has_phenotype", "subject": "MONDO:0007739", "object": "HP:0002072"},
    ):
        assert warm.check(fact) == kg.check(fact)
    assert warm.ground("short stature") == kg.ground("short stature")


def test_cache_location_and_key(
    kg_cfg: KnowledgeConfig, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    directory = cache_dir_for(kg_cfg)
    assert directory.parent == Path(kg_cfg.cache_dir) / "knowledge"
    assert directory.name.startswith(f"v{SCHEMA_VERSION}-")
    monkeypatch.setenv("BALANCEDBIO_CACHE", str(tmp_path))
    assert cache_dir_for(KnowledgeConfig()).parent == tmp_path / "knowledge"
    files = {name: locate(name) for name in ("mondo",)}
    key1, _ = cache_key(KnowledgeConfig(**SMALL), files)
    key2, _ = cache_key(KnowledgeConfig(sources=("mondo",), include_genes=True), files)
    assert key1 != key2


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[KnowledgeConfig, KnowledgeGraph]:
    cfg = KnowledgeConfig(cache_dir=str(tmp_path_factory.mktemp("small-cache")), **SMALL)
    return cfg, load_knowledge(cfg)


def _identity(cfg: KnowledgeConfig) -> dict[str, Any]:
    return cache_key(cfg, {name: locate(name) for name in cfg.sources})[1]


def _corrupt(directory: Path, how: str) -> None:
    manifest = directory / MANIFEST
    if how == "truncated arrays":
        data = (directory / ARRAYS).read_bytes()
        (directory / ARRAYS).write_bytes(data[: len(data) // 2])
    elif how == "garbled strings":
        data = bytearray((directory / STRINGS).read_bytes())
        data[len(data) // 2 : len(data) // 2 + 64] = bytes(64)
        (directory / STRINGS).write_bytes(bytes(data))
    elif how == "garbled manifest":
        manifest.write_text(manifest.read_text()[:100])
    elif how == "missing strings":
        (directory / STRINGS).unlink()
    elif how == "stale schema":
        m = json.loads(manifest.read_text())
        m["schema"] = SCHEMA_VERSION - 1
        manifest.write_text(json.dumps(m))
    elif how == "stale sources":
        m = json.loads(manifest.read_text())
        m["fingerprints"]["mondo"][0][2] += 1  # the source file's size "changed"
        manifest.write_text(json.dumps(m))
    else:
        raise ValueError(how)


KINDS = [
    "truncated arrays",
    "garbled strings",
    "garbled manifest",
    "missing strings",
    "stale schema",
    "stale sources",
]


@pytest.mark.parametrize("how", KINDS)
def test_bad_cache_is_detected(
    small: tuple[KnowledgeConfig, KnowledgeGraph], tmp_path: Path, how: str
) -> None:
    cfg, graph = small
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in graph.cache_dir.iterdir():
        (copy / f.name).write_bytes(f.read_bytes())
    load(copy, _identity(cfg))  # an intact copy loads
    _corrupt(copy, how)
    with pytest.raises(CacheError):
        load(copy, _identity(cfg))


@pytest.mark.parametrize("how", ["garbled strings", "stale schema"])
def test_bad_cache_is_rebuilt(
    small: tuple[KnowledgeConfig, KnowledgeGraph],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    cfg, graph = small
    calls: list[int] = []
    real_build = cache_mod.build_graph

    def counting_build(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real_build(*args, **kwargs)

    monkeypatch.setattr(cache_mod, "build_graph", counting_build)
    _corrupt(graph.cache_dir, how)
    with caplog.at_level(logging.WARNING, logger="balancedbio.knowledge.cache"):
        rebuilt = load_knowledge(cfg)
    assert calls == [1] and "rebuilding" in caplog.text
    _same(graph, rebuilt)
    load(graph.cache_dir, _identity(cfg))  # the rewritten cache is valid again
    monkeypatch.setattr(cache_mod, "build_graph", _no_build)
    _same(graph, load_knowledge(cfg))


def test_progress_flag(kg_cfg: KnowledgeConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_mod, "build_graph", _no_build)
    assert len(load_knowledge(kg_cfg, progress=True)) > 100_000
