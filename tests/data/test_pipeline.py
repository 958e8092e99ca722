"""generate(): manifest, shards loadable by datasets, re-validation, determinism, held-out
disjointness + decontamination, shards, resume after a crash or a SIGKILL, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from mkgsg_helpers import KG_CACHE, ROOT, config, engine, graph  # noqa: E402

from balancedbio.config import to_dict  # noqa: E402
from balancedbio.data.backends import FakeBackend  # noqa: E402
from balancedbio.data.pipeline import (  # noqa: E402
    Manifest,
    build_decontaminator,
    contamination_segments,
    eval_texts,
    generate,
)
from balancedbio.data.records import COLUMNS  # noqa: E402
from balancedbio.data.shards import iter_items, read_progress  # noqa: E402

FAST = {
    "mcq_phenotype": 10,
    "mcq_icd_category": 10,
    "calculator": 20,
    "instruction": 12,
    "diagnosis_case": 6,
    "integrated_case": 6,
}


def _rejected(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    out = tmp_path_factory.mktemp("mkgsg") / "run"
    cfg = config(heldout={"enabled": True, "fraction": 0.3, "min_per_task": 3})
    return generate(cfg, out, progress=False, kg=graph())


def test_manifest_counts_and_rejection_log(small_run: Manifest) -> None:
    m = small_run
    assert set(m.by_capability) == {"knowledge", "reasoning", "instruction", "integrated"}
    assert sum(m.by_capability.values()) == m.items > 100
    assert sum(m.by_reason.values()) == m.rejected == len(_rejected(m.out_dir))
    assert {"hpo", "mondo", "icd10cm", "medcalc", "documents", "records"} <= set(
        m.data["source_versions"]
    )
    assert m.data["seed"] == 0 and m.data["config"]["tasks"]["instruction"] == 30
    for rec in _rejected(m.out_dir):
        assert rec["reason"] and rec["reasons"] and rec["seed"]["task"] == rec["task"]
    assert any(
        r["reason"] == "false_fact:has_phenotype" and r["seed"]["entity"] == "rec-011"
        for r in _rejected(m.out_dir)
    )


def test_shards_load_with_datasets_and_revalidate_clean(small_run: Manifest) -> None:
    from datasets import load_dataset

    ds = load_dataset("json", data_files=[str(p) for p in small_run.data_files], split="train")
    assert ds.num_rows == small_run.items and set(ds.column_names) == set(COLUMNS)
    typed = load_dataset(str(small_run.out_dir), split="train")  # README.md carries the features
    assert typed.num_rows == small_run.items and typed.features == small_run.dataset().features
    items = list(small_run.iter_items())
    assert len({i["id"] for i in items}) == len(items)
    validator = engine().validator
    problems = {i["id"]: validator.problems(i) for i in items}
    assert {k: v for k, v in problems.items() if v} == {}


def test_heldout_is_disjoint_and_decontaminated(small_run: Manifest) -> None:
    held = Manifest.load(small_run.out_dir / "heldout")
    assert (
        held.items > 0
        and held.data["split"] == "eval"
        and held.data["seed"] != small_run.data["seed"]
    )
    eng = engine()
    train = list(small_run.iter_items())
    keys = {
        (i["task"], eng.sources[i["task"]].split_key(i["provenance"]["seed_entity"]))
        for i in held.iter_items()
    }
    assert (
        not {
            (i["task"], eng.sources[i["task"]].split_key(i["provenance"]["seed_entity"]))
            for i in train
        }
        & keys
    )
    decon = build_decontaminator(eval_texts([held.out_dir], []), 13, 0.02, 3)
    assert decon is not None
    assert not [i["id"] for i in train if any(decon.check(s) for s in contamination_segments(i))]


def test_same_seed_same_dataset_and_shards_partition(tmp_path: Path) -> None:
    cfg = config(FAST)
    a = generate(cfg, tmp_path / "a", progress=False, kg=graph())
    b = generate(cfg, tmp_path / "b", progress=False, kg=graph())
    assert [p.read_bytes() for p in a.data_files] == [p.read_bytes() for p in b.data_files]
    whole = {i["id"] for i in a.iter_items()} | {r["id"] for r in _rejected(a.out_dir)}
    parts = []
    for i in range(2):
        m = generate(replace(cfg, shard=f"{i}/2"), tmp_path / f"s{i}", progress=False, kg=graph())
        parts.append({x["id"] for x in m.iter_items()} | {r["id"] for r in _rejected(m.out_dir)})
    assert not parts[0] & parts[1] and parts[0] | parts[1] == whole


def test_parquet_output_with_a_single_capability(tmp_path: Path) -> None:
    from datasets import load_dataset

    m = generate(
        config({"mcq_subtype": 8}, output={"format": "parquet", "shard_size": 3}),
        tmp_path / "p",
        progress=False,
        kg=graph(),
    )
    ds = load_dataset("parquet", data_files=[str(p) for p in m.data_files], split="train")
    assert ds.num_rows == m.items and str(ds.features["lower"].dtype) == "float64"
    assert m.by_capability == {"knowledge": m.items}


def test_resume_after_a_crash_regenerates_exactly_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from balancedbio.data import pipeline
    from balancedbio.data.engine import Engine

    cfg = config(FAST, output={"shard_size": 7})
    ref = generate(cfg, tmp_path / "ref", progress=False, kg=graph())
    real, calls = Engine.produce, {"n": 0}

    def flaky(self: Engine, seeds: list) -> list:
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("simulated crash")
        return real(self, seeds)

    monkeypatch.setattr(Engine, "produce", flaky)
    monkeypatch.setattr(pipeline, "BATCH", 16)
    with pytest.raises(RuntimeError, match="simulated crash"):
        generate(cfg, tmp_path / "run", progress=False, kg=graph())
    assert 0 < read_progress(tmp_path / "run")["cursor"] < sum(FAST.values())
    done = generate(cfg, tmp_path / "run", progress=False, kg=graph())
    # the crashed run committed its completed seeds on the way out, so shard boundaries may
    # differ; the items themselves (order and content) must not
    assert list(done.iter_items()) == list(ref.iter_items())
    assert done.by_reason == ref.by_reason


def _write_config(path: Path, tasks: dict[str, int], shard_size: int) -> Path:
    cfg = to_dict(config(tasks, output={"shard_size": shard_size}))
    cfg["knowledge"]["cache_dir"] = KG_CACHE
    path.write_text(yaml.safe_dump(cfg))
    return path


def _cli(cfg: Path, out: Path) -> list[str]:
    code = "from balancedbio.data.cli import app; app()"
    return [sys.executable, "-c", code, "--config", str(cfg), "--out", str(out), "--no-progress"]


def test_sigkill_and_restart_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    tasks = {
        "calculator": 300,
        "mcq_icd_category": 100,
        "mcq_phenotype": 60,
        "mcq_subtype": 30,
        "instruction": 40,
        "diagnosis_case": 20,
        "integrated_case": 15,
        "mcq_synonym": 20,
        "mcq_definition": 20,
    }
    cfg_path = _write_config(tmp_path / "gen.yaml", tasks, shard_size=25)
    env = {**os.environ, "BALANCEDBIO_CACHE": KG_CACHE}
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        _cli(cfg_path, out), env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = read_progress(out) if out.exists() else None
        if state and state["cursor"] > 0:
            break
        if proc.poll() is not None:
            pytest.fail(
                f"generate ended before it could be killed: {proc.stderr.read().decode()[-2000:]}"
            )
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    partial = read_progress(out)
    assert partial is not None and not partial["finalized"]
    done = subprocess.run(_cli(cfg_path, out), env=env, cwd=ROOT, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    ref = generate(
        config(tasks, output={"shard_size": 25}), tmp_path / "ref", progress=False, kg=graph()
    )
    ids = [i["id"] for i in iter_items(out)]
    assert len(ids) == len(set(ids)) and ids == [i["id"] for i in ref.iter_items()]
    assert sorted(r["id"] for r in _rejected(out)) == sorted(
        r["id"] for r in _rejected(ref.out_dir)
    )


def test_cli_prints_the_summary_and_reports_config_errors(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from balancedbio.data.cli import generate_command

    root = typer.Typer()
    root.command("generate")(generate_command)
    root.command("noop")(lambda: None)
    cfg_path = _write_config(
        tmp_path / "gen.yaml", {"calculator": 5, "mcq_subtype": 4}, shard_size=10
    )
    runner = CliRunner()
    res = runner.invoke(
        root,
        [
            "generate",
            "--config",
            str(cfg_path),
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
            "seed=3",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "MKGSG: 9 items" in res.output and "reasoning" in res.output
    assert Manifest.load(tmp_path / "o").data["seed"] == 3
    bad = runner.invoke(
        root, ["generate", "--config", str(cfg_path), "--out", str(tmp_path / "x"), "tasks.nope=3"]
    )
    assert bad.exit_code == 2 and "unknown task" in bad.output
    again = runner.invoke(
        root,
        [
            "generate",
            "--config",
            str(cfg_path),
            "--out",
            str(tmp_path / "o"),
            "seed=4",
            "--no-progress",
        ],
    )
    assert again.exit_code == 2 and "--overwrite" in again.output


def test_model_mode_run_logs_parse_failures(tmp_path: Path) -> None:
    tasks = {"mcq_subtype": 4, "calculator": 3, "instruction": 3}
    cfg = config(tasks, construct={"mode": "model"})
    backend = FakeBackend(["not json at all", '{"note": "nothing"}'])
    m = generate(cfg, tmp_path / "model", progress=False, kg=graph(), backend=backend)
    assert m.by_reason.get("parse_error", 0) + m.by_reason.get("missing_input", 0) >= 6
    assert m.data["mode"] == "model" and m.data["model"] == "fake"
    assert m.items + m.rejected == 10


@pytest.mark.slow
def test_shipped_config_writes_10k_valid_items(tmp_path: Path) -> None:
    """~1-2 minutes: the shipped template config, re-validated item by item, MCQ
    distractors checked against the ontology one by one."""
    from balancedbio.config import load_config
    from balancedbio.data.config import GenerateConfig
    from balancedbio.data.engine import Engine

    cfg = load_config(
        GenerateConfig,
        ROOT / "configs/generate.yaml",
        [f"knowledge.cache_dir={KG_CACHE}", "construct.workers=2"],
    )
    cfg = replace(
        cfg,
        sources=replace(
            cfg.sources,
            documents=str(ROOT / "examples/user_source/docs"),
            records=str(ROOT / "examples/user_source/records.jsonl"),
        ),
    )
    kg = graph()
    m = generate(cfg, tmp_path / "full", progress=False, kg=kg)
    assert m.items >= 10_000 and set(m.by_capability) == {
        "knowledge",
        "reasoning",
        "instruction",
        "integrated",
    }
    validator = Engine(cfg, kg=kg).validator
    items = list(m.iter_items())
    bad = [i["id"] for i in items if validator.problems(i)]
    assert bad == []
    # MCQ distractors are never also correct: each has a fact the ontology says is false
    mcqs = [i for i in items if i["task"].startswith("mcq_")]
    assert len(mcqs) >= 4_000
    for item in mcqs:
        wrong = [f for f in item["facts"] if not f["holds"]]
        assert len(wrong) >= len(item["choices"]) - 1, item["id"]
        assert not any(kg.check(f).valid for f in wrong), item["id"]


def test_model_mode_through_an_openai_compatible_server(tmp_path: Path, tiny_server) -> None:  # noqa: ANN001
    """The real path (OpenAIBackend -> HTTP server -> tiny-random): nothing to keep, no crash."""
    cfg = config(
        {"mcq_subtype": 3, "calculator": 2, "diagnosis_case": 2},
        construct={"mode": "model", "model_batch": 4},
        backend={
            "kind": "openai",
            "base_url": tiny_server.base_url,
            "model": "tiny-random",
            "max_new_tokens": 12,
            "concurrency": 4,
        },
    )
    m = generate(cfg, tmp_path / "served", progress=False, kg=graph())
    assert m.data["model"] == "openai:tiny-random"
    assert m.items + m.rejected == 7 and m.by_reason.get("parse_error", 0) >= 1


@pytest.mark.parametrize("automatic", [False, True])
def test_item_loop_gc_settings_are_restored(automatic):
    """The item loop freezes the pre-existing heap and turns automatic collection off
    (template mode) or down (model mode), then restores the caller's GC state exactly."""
    import gc

    from balancedbio.data.pipeline import _LOOP_GC_THRESHOLD, _quiet_gc

    before = gc.get_threshold()
    assert gc.isenabled()
    with _quiet_gc(automatic):
        assert gc.isenabled() is automatic
        assert gc.get_freeze_count() > 0
        if automatic:
            assert gc.get_threshold()[0] >= _LOOP_GC_THRESHOLD
    assert gc.isenabled()
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
    gc.disable()
    try:
        with _quiet_gc(automatic):
            pass
        assert not gc.isenabled()  # a caller's disabled GC stays disabled
    finally:
        gc.enable()


def test_template_loop_collects_periodically(tmp_path, monkeypatch):
    """With automatic GC off, the template loop collects every GC_EVERY_CHUNKS chunks."""
    import gc

    from balancedbio.data import pipeline

    calls = []
    monkeypatch.setattr(pipeline, "GC_EVERY_CHUNKS", 2)
    monkeypatch.setattr(pipeline.gc, "collect", lambda *a: calls.append(a) or 0)
    cfg = config(tasks={"calculator": 5 * pipeline.BATCH}, heldout={"enabled": False})
    generate(cfg, tmp_path / "out", progress=False, kg=graph())
    assert len(calls) == 2  # after chunks 2 and 4 of 5
    assert gc.isenabled()
