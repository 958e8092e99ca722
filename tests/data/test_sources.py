"""Sources (built-in and user), the seed stream, the train/eval split and shards."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mkgsg_helpers import EXAMPLES, engine, graph  # noqa: E402

from balancedbio.config import ConfigError  # noqa: E402
from balancedbio.data.index import KnowledgeIndex  # noqa: E402
from balancedbio.data.seeds import seed_stream, split_of, split_pool  # noqa: E402
from balancedbio.data.sources import (  # noqa: E402
    DocumentSource,
    RecordSource,
    cached_pool,
    series_stem,
    split_sentences,
)


def test_split_is_deterministic_and_roughly_the_requested_fraction() -> None:
    keys = [f"HP:{i:07d}" for i in range(4000)]
    first = [split_of(k, "salt", 0.1) for k in keys]
    assert first == [split_of(k, "salt", 0.1) for k in keys]
    assert 0.08 < first.count("eval") / len(keys) < 0.12
    assert all(split_of(k, "salt", 0.0) == "train" for k in keys[:50])
    train, held = split_pool(keys, "train", "salt", 0.1), split_pool(keys, "eval", "salt", 0.1)
    assert not set(train) & set(held) and len(train) + len(held) == len(keys)


def test_split_key_groups_series_and_icd_blocks() -> None:
    assert series_stem("Noonan syndrome 1") == series_stem("Noonan syndrome 3") == "noonan syndrome"
    assert series_stem("Short QT syndrome 2") == "short qt syndrome"
    eng = engine()
    icd = eng.sources["mcq_icd_category"]
    assert icd.split_key("ICD10CM:E11.9") == icd.split_key("ICD10CM:E10.9") == "ICD10CM:E08-E13"


def test_seed_stream_interleaves_and_shards_partition_it() -> None:
    tasks = {"mcq_phenotype": 6, "calculator": 3, "instruction": 3}
    pools = {t: [f"{t}-{i}" for i in range(4)] for t in tasks}
    names = dict.fromkeys(tasks, "src")
    full = list(seed_stream(tasks, pools, names, seed=7, split="train"))
    assert Counter(s.task for s in full) == Counter(tasks)
    assert {s.task for s in full[:3]} == set(tasks)  # a prefix is already a mix
    again = list(seed_stream(tasks, pools, names, seed=7, split="train"))
    assert full == again
    parts = [
        list(seed_stream(tasks, pools, names, seed=7, split="train", shard=(i, 3)))
        for i in range(3)
    ]
    assert sorted((s for p in parts for s in p), key=lambda s: s.index) == full
    assert len({s.id for s in full}) == len(full)
    other = list(seed_stream(tasks, pools, names, seed=8, split="train"))
    assert [s.rng_seed for s in other] != [s.rng_seed for s in full]


def test_documents_are_split_into_grounded_passages() -> None:
    src = DocumentSource(EXAMPLES / "docs", KnowledgeIndex(graph()), sentences=4)
    pool = src.pool("document_instruction")
    assert pool and all("#" in key for key in pool)
    p = src.payload(pool[0])
    assert p and p["title"] and 2 <= len(p["sentences"]) <= 4
    assert any(m["id"].startswith(("MONDO:", "HP:", "OMIM:")) for m in p["mentions"])
    assert split_sentences("# Title\n\n- One item. Two here.\nThree") == [
        "One item.",
        "Two here.",
        "Three",
    ]
    with pytest.raises(ConfigError, match="not a folder"):
        DocumentSource(EXAMPLES / "nope", KnowledgeIndex(graph()))


def test_records_are_parsed_and_bad_ones_reported(tmp_path: Path) -> None:
    src = RecordSource(EXAMPLES / "records.jsonl")
    assert len(src.pool("record_case")) == 11
    assert src.payload("rec-001")["diagnosis"] == "Marfan syndrome"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "findings": ["seizure"]}) + "\n")
    with pytest.raises(ConfigError, match="missing"):
        _ = RecordSource(bad).records
    bad.write_text("{not json\n")
    with pytest.raises(ConfigError, match="not JSON"):
        _ = RecordSource(bad).records


def test_builtin_pools_are_cached_on_disk(tmp_path: Path) -> None:
    eng = engine()
    src = eng.sources["calculator"]
    assert cached_pool(src, "calculator", {}, tmp_path) == src.pool("calculator")
    icd = eng.sources["mcq_icd_category"]

    class Counting:
        name = "icd10cm"
        calls = 0

        def pool(self, task: str) -> list[str]:
            Counting.calls += 1
            return ["ICD10CM:E11.9"]

    fake = Counting()
    assert cached_pool(fake, "mcq_icd_category", {"min_options": 4}, tmp_path) == ["ICD10CM:E11.9"]
    assert cached_pool(fake, "mcq_icd_category", {"min_options": 4}, tmp_path) == ["ICD10CM:E11.9"]
    assert Counting.calls == 1 and icd.name == "icd10cm"


def test_cached_split_matches_split_pool(tmp_path: Path) -> None:
    src = engine().sources["mcq_phenotype"]
    pool = cached_pool(src, "mcq_phenotype", {}, tmp_path)
    for split in ("train", "eval"):
        want = split_pool(pool, split, "salt", 0.2, src.split_key)
        for _ in range(2):  # computed, then read back from the cache
            got = cached_pool(src, "mcq_phenotype", {}, tmp_path, (split, "salt", 0.2))
            assert got == want
    assert len(list(tmp_path.glob("hpo-mcq_phenotype-*-split-*.json"))) == 2


def test_engine_pools_respect_the_split() -> None:
    eng = engine()
    for task, pool in eng.pools.items():
        src = eng.sources[task]
        assert all(
            split_of(src.split_key(e), eng.cfg.split.salt, 0.1) == "train" for e in pool[:200]
        ), task
