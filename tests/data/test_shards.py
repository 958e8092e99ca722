"""Shard writer: atomic commits, schema rules, resume after SIGKILL, datasets loading."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from balancedbio.config import ConfigError
from balancedbio.data.schema import SchemaError, arrow_schema, decode_row
from balancedbio.data.shards import ShardWriter, iter_items, load_shards, read_progress

WORKER = Path(__file__).with_name("shard_worker.py")
sys.path.insert(0, str(WORKER.parent))
from shard_worker import seed_output  # noqa: E402


def run_worker(out: Path, seeds: int, shard_size: int, fmt: str, delay: float = 0.0) -> None:
    cmd = [sys.executable, str(WORKER), str(out), str(seeds), str(shard_size), fmt, str(delay)]
    subprocess.run(cmd, check=True, timeout=120)


def expected_ids(seeds: int) -> list[str]:
    return [item["id"] for s in range(seeds) for item in seed_output(s)[0]]


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def cursor(out: Path) -> int:
    state = read_progress(out) if out.exists() else None
    return 0 if state is None else int(state["cursor"])


def write_seeds(writer: ShardWriter, seeds: range) -> None:
    for seed in seeds:
        writer.add_seed(*seed_output(seed))


# --------------------------------------------------------------------------- basics


def test_commits_at_seed_boundaries_with_counts(tmp_path: Path) -> None:
    out = tmp_path / "run"
    writer = ShardWriter(out, shard_size=50, json_fields=["kwargs"])
    write_seeds(writer, range(300))
    manifest = writer.finalize({"seed": 7, "sources": {"hpo": "2025-01"}})

    state = read_progress(out)
    assert state is not None and state["finalized"]
    shards = state["shards"]
    assert all(s["items"] >= 50 for s in shards[:-1])
    assert [s["seeds"][0] for s in shards[1:]] == [s["seeds"][1] for s in shards[:-1]]
    assert state["cursor"] == 300 == manifest["seeds_consumed"]
    items = list(iter_items(out))
    assert [i["id"] for i in items] == expected_ids(300)
    assert isinstance(items[0]["kwargs"], dict)  # decoded from the JSON string
    assert manifest["items"] == len(items) == sum(manifest["by_capability"].values())
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert len(rejected) == manifest["rejected"] == sum(manifest["by_reason"].values())
    assert set(manifest["by_reason"]) <= {"parse_error", "ontology"}
    assert manifest["seed"] == 7 and manifest["sources"] == {"hpo": "2025-01"}
    on_disk = json.loads((out / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["files"] == [f"data/shard-{i:05d}.jsonl" for i in range(len(shards))]


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_output_loads_with_datasets(tmp_path: Path, fmt: str) -> None:
    import datasets

    out = tmp_path / "run"
    writer = ShardWriter(out, shard_size=40, format=fmt, json_fields=["kwargs"])
    write_seeds(writer, range(200))
    manifest = writer.finalize()
    files = [str(out / f) for f in manifest["files"]]
    assert len(files) > 3
    ds = datasets.load_dataset(
        "json" if fmt == "jsonl" else "parquet",
        data_files=files,
        split="train",
        cache_dir=str(tmp_path / "hf"),
    )
    assert len(ds) == manifest["items"]
    row = decode_row(ds[0], manifest["json_fields"])
    assert row["prompt"][1]["role"] == "user"
    assert row["provenance"]["ids"][0].startswith("HP:")
    assert isinstance(row["kwargs"], dict)
    assert ds.features == datasets.Features.from_arrow_schema(arrow_schema(manifest["schema"]))
    assert ds["id"] == expected_ids(200)
    by_card = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf"))
    assert by_card.features == ds.features and len(by_card) == len(ds)


def test_end_seed_count_commits_only_at_group_boundaries(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "a", shard_size=3, json_fields=["kwargs"])
    for start in range(0, 40, 8):  # a model-mode batch of 8 seeds is one unit
        for seed in range(start, start + 8):
            items, rejected = seed_output(seed)
            for item in items:
                writer.add(item)
            for record in rejected:
                writer.reject(record)
        writer.end_seed(8)
        assert writer.cursor == start + 8  # committed: every group holds >= 3 items
    writer.finalize()
    shards = read_progress(tmp_path / "a")["shards"]
    assert [s["seeds"] for s in shards] == [[i, i + 8] for i in range(0, 40, 8)]


def test_empty_run_and_rejection_only_seeds(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "a", shard_size=5)
    for s in range(3):
        writer.add_seed([], [{"seed": s, "reason": "ontology", "capability": "knowledge"}])
    manifest = writer.finalize()
    assert manifest["items"] == 0 and manifest["files"] == []
    assert manifest["by_reason"] == {"ontology": 3}
    assert manifest["rejected_by_capability"] == {"knowledge": 3}
    assert len((tmp_path / "a" / "rejected.jsonl").read_text().splitlines()) == 3


def test_open_seed_blocks_commit(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "a", shard_size=1)
    writer.add({"id": "x", "capability": "knowledge"})
    with pytest.raises(RuntimeError, match="end_seed"):
        writer.finalize()


# --------------------------------------------------------------------------- schema


def test_varying_struct_keys_rejected_early(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "a", shard_size=10)
    writer.add({"id": "a", "kwargs": {"num_words": 3}})
    with pytest.raises(SchemaError, match="json_fields"):
        writer.add({"id": "b", "kwargs": {"keywords": ["x"]}})
    with pytest.raises(SchemaError, match="keys differ"):
        writer.add({"id": "c"})
    writer.close()


def test_untyped_field_in_first_shard_is_an_error(tmp_path: Path) -> None:
    with (
        pytest.raises(SchemaError, match="note, tags\\[\\]"),
        ShardWriter(tmp_path / "a", shard_size=2) as writer,
    ):
        writer.add_seed([{"id": "a", "note": None, "tags": []}])
        writer.add_seed([{"id": "b", "note": None, "tags": []}])
    assert read_progress(tmp_path / "a") is None  # nothing committed


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_declared_schema_types_null_columns(tmp_path: Path, fmt: str) -> None:
    import datasets

    declared = {"struct": {"id": "string", "note": "string", "tags": {"list": "string"}}}
    out = tmp_path / "a"
    writer = ShardWriter(out, shard_size=2, format=fmt, schema=declared)
    writer.add_seed([{"id": "a", "note": None, "tags": []}, {"id": "b", "note": None, "tags": []}])
    writer.add_seed(
        [{"id": "c", "note": "x", "tags": ["t"]}, {"id": "d", "note": None, "tags": []}]
    )
    with pytest.raises(SchemaError, match="expected string"):
        writer.add({"id": "e", "note": 3, "tags": []})
    writer.close()
    other = {"struct": {"id": "string", "note": "int", "tags": {"list": "string"}}}
    with pytest.raises(ConfigError, match="different row schema"):
        ShardWriter(out, shard_size=2, format=fmt, resume=True, schema=other)
    writer = ShardWriter(out, shard_size=2, format=fmt, resume=True, schema=declared)
    writer.finalize()
    cache = str(tmp_path / "hf")
    for ds in (
        load_shards(out, cache_dir=cache),
        datasets.load_dataset(str(out), split="train", cache_dir=cache),  # reads README.md
    ):
        assert ds["note"] == [None, None, "x", None] and ds["tags"][2] == ["t"]
        assert ds.features["note"] == datasets.Value("string")


def test_int_float_promotion_then_frozen(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "a", shard_size=2)
    writer.add_seed([{"id": "a", "score": 1, "n": 1}, {"id": "b", "score": 0.5, "n": 2}])
    writer.add_seed([{"id": "c", "score": 2, "n": None}])  # frozen now: int -> float ok
    with pytest.raises(SchemaError, match="expected int, got float"):
        writer.add({"id": "d", "score": 1.0, "n": 1.5})
    writer.close()
    rows = list(iter_items(tmp_path / "a"))
    assert [r["score"] for r in rows] == [1.0, 0.5, 2.0]
    assert all(isinstance(r["score"], float) for r in rows)


def test_lines_encoded_before_a_refinement_are_redone(tmp_path: Path) -> None:
    writer = ShardWriter(tmp_path / "a", shard_size=10)
    for x in (1, 2, 2.5):  # "2" is encoded under x: int, then x turns float
        writer.add_seed([{"x": x}])
    writer.close()
    assert (tmp_path / "a/data/shard-00000.jsonl").read_text().split() == (
        '{"x": 1.0} {"x": 2.0} {"x": 2.5}'.split()
    )


def test_non_finite_float_raises_when_added_once_frozen(tmp_path: Path) -> None:
    with ShardWriter(tmp_path / "a", shard_size=1) as writer:
        writer.add_seed([{"x": 1.0}])
        with pytest.raises(ValueError, match="Out of range float"):
            writer.add({"x": float("nan")})
        writer.end_seed()
    assert [r["x"] for r in iter_items(tmp_path / "a")] == [1.0]


@pytest.mark.parametrize("declared", [False, True])
def test_checked_lines_match_the_plain_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, declared: bool
) -> None:
    import balancedbio.data.row_json as row_json

    extra = [{"id": "t", "score": 3, "tags": ("u",), "meta": {"b": 1, "a": [2]}}]
    fields = {"id": "string", "score": "float", "tags": {"list": "string"}, "meta": "string"}
    schema = {"struct": fields} if declared else None

    def run(out: Path) -> dict[str, bytes]:
        with ShardWriter(out, shard_size=3, json_fields=["meta"], schema=schema) as writer:
            for seed in range(12):
                writer.add_seed(extra if seed % 5 == 4 else [], [])
                writer.add_seed(
                    [{"id": f"i{seed}", "score": seed / 2, "tags": ["é", '"'], "meta": {"z": seed}}]
                )
        return tree_bytes(out)

    fast = run(tmp_path / "fast")
    monkeypatch.setattr(row_json, "compile_line", lambda schema: None)
    assert run(tmp_path / "plain") == fast


# --------------------------------------------------------------------------- safety


def test_existing_run_needs_resume_or_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "a"
    with ShardWriter(out, shard_size=5, json_fields=["kwargs"]) as writer:
        write_seeds(writer, range(20))
    with pytest.raises(ConfigError, match="resume"):
        ShardWriter(out, shard_size=5)
    with pytest.raises(ConfigError, match="shard_size"):
        ShardWriter(out, shard_size=6, resume=True, json_fields=["kwargs"])
    writer = ShardWriter(out, shard_size=5, overwrite=True)
    assert writer.cursor == 0 and not (out / "data").exists()
    writer.close()


def test_second_writer_is_locked_out(tmp_path: Path) -> None:
    first = ShardWriter(tmp_path / "a", shard_size=5)
    with pytest.raises(ConfigError, match="in use"):
        ShardWriter(tmp_path / "a", shard_size=5, resume=True)
    first.close()
    ShardWriter(tmp_path / "a", shard_size=5, resume=True).close()


def test_resume_drops_uncommitted_files_and_continues(tmp_path: Path) -> None:
    out = tmp_path / "a"
    writer = ShardWriter(out, shard_size=20, json_fields=["kwargs"], fingerprint="f1")
    write_seeds(writer, range(100))
    committed = writer.cursor
    writer._unlock()  # simulate a crash: buffered seeds are lost, the lock dies with the process
    stray = out / "data" / f"shard-{len(read_progress(out)['shards']):05d}.jsonl"
    stray.write_text("half-written garbage\n")
    (out / "data" / ".tmp-shard-xyz").write_text("tmp")
    (out / ".tmp-progress.json-abc").write_text("{")  # killed while committing

    with pytest.raises(ConfigError, match="fingerprint"):
        ShardWriter.resume(out, fingerprint="f2")
    writer = ShardWriter.resume(out)
    assert writer.cursor == committed < 100
    assert not stray.exists() and not (out / "data" / ".tmp-shard-xyz").exists()
    assert not list(out.glob(".tmp-*"))
    assert len(list(writer.iter_committed())) == writer.committed_items
    write_seeds(writer, range(writer.cursor, 100))
    writer.finalize()
    assert [i["id"] for i in iter_items(out)] == expected_ids(100)


def test_finalized_run_resumes_at_the_end(tmp_path: Path) -> None:
    out = tmp_path / "a"
    writer = ShardWriter(out, shard_size=10, json_fields=["kwargs"])
    write_seeds(writer, range(30))
    first = writer.finalize({"seed": 1})
    before = tree_bytes(out)
    writer = ShardWriter.resume(out)
    assert writer.finalized and writer.cursor == 30
    with pytest.raises(RuntimeError, match="finalized"):
        writer.add_seed([])
    assert writer.finalize({"seed": 1}) == first
    assert tree_bytes(out) == before


# --------------------------------------------------------------------------- kill + resume


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_same_seed_gives_byte_identical_output(tmp_path: Path, fmt: str) -> None:
    run_worker(tmp_path / "a", 1500, 100, fmt)
    run_worker(tmp_path / "b", 1500, 100, fmt)
    a, b = tree_bytes(tmp_path / "a"), tree_bytes(tmp_path / "b")
    assert a == b and any(k.startswith("data/") for k in a)


@pytest.mark.parametrize(("fmt", "kills"), [("jsonl", 4), ("parquet", 1)])
def test_sigkill_and_resume_loses_and_duplicates_nothing(
    tmp_path: Path, fmt: str, kills: int
) -> None:
    seeds, shard_size = 5000, 200
    out = tmp_path / "killed"
    rng = random.Random(1234)
    cmd = [sys.executable, str(WORKER), str(out), str(seeds), str(shard_size), fmt, "0.001"]
    for _ in range(kills):
        before = cursor(out)
        proc = subprocess.Popen(cmd)
        deadline = time.monotonic() + 60
        while cursor(out) == before and time.monotonic() < deadline:  # wait for a commit
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.3))  # then kill at a random point of the next shard
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        state = read_progress(out)
        assert state is not None and not state["finalized"], "worker finished before the kill"
        assert state["cursor"] > before
    subprocess.run(cmd[:-1] + ["0"], check=True, timeout=120)

    ids = [item["id"] for item in iter_items(out)]
    assert len(ids) == len(set(ids))
    assert ids == expected_ids(seeds)
    assert len(ids) > 4500
    run_worker(tmp_path / "clean", seeds, shard_size, fmt)
    killed, clean = tree_bytes(out), tree_bytes(tmp_path / "clean")
    assert sorted(killed) == sorted(clean)
    assert [name for name in killed if killed[name] != clean[name]] == []
