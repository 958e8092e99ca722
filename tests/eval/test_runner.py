"""The runner: results.json and sample logs on every benchmark kind, refusal to mix
settings, and resume after a SIGKILL with results identical to an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from runner_config import config

from balancedbio.config import ConfigError
from balancedbio.eval import evaluate
from balancedbio.eval.grading import mean_stderr

HERE = Path(__file__).parent


def _logs(out: Path) -> dict[str, list[dict[str, Any]]]:
    return {
        p.stem: [json.loads(line) for line in p.read_text().splitlines()]
        for p in sorted((out / "samples").glob("*.jsonl"))
    }


@pytest.fixture(scope="module")
def reference(
    tmp_path_factory: pytest.TempPathFactory, tiny_dir: Path, dataset_dir: Path
) -> tuple[Path, dict[str, Any]]:
    """An uninterrupted run."""
    out = tmp_path_factory.mktemp("ref")
    return out, evaluate(str(tiny_dir), out, config(), data_dir=dataset_dir, label="base")


def test_results_and_logs(reference: tuple[Path, dict[str, Any]], dataset_dir: Path) -> None:
    out, res = reference
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(res))
    bench = res["benchmarks"]
    assert list(bench) == [
        "heldout_knowledge",
        "heldout_reasoning",
        "heldout_instruction",
        "heldout_integrated",
        "mmlu_anatomy",
        "mmlu_clinical_knowledge",
        "ifeval",
    ]
    assert bench["heldout_knowledge"]["n"] == 6 and bench["heldout_integrated"]["n"] == 3
    assert set(bench["heldout_knowledge"]["metrics"]) == {"acc", "acc_norm", "acc_gen"}
    assert set(bench["ifeval"]["metrics"]) == {
        "prompt_level_strict_acc",
        "inst_level_strict_acc",
        "prompt_level_loose_acc",
        "inst_level_loose_acc",
    }
    integ = bench["heldout_integrated"]["metrics"]
    assert {
        "integration_score",
        "answer_acc",
        "workflow_pass_rate",
        "instruction_prompt_strict",
    } <= set(integ)
    group = res["groups"]["biomed_mmlu"]
    assert group["members"] == ["mmlu_anatomy", "mmlu_clinical_knowledge"] and group["n"] == 5
    assert set(res["capabilities"]) == {"knowledge", "reasoning", "instruction", "integrated"}
    know = res["capabilities"]["knowledge"]
    assert [f["benchmark"] for f in know["from"]] == ["heldout_knowledge", "biomed_mmlu"]
    assert res["data"]["seed"] == 1000003 and res["data"]["source_versions"] == {"hpo": "hp/test"}
    assert res["model"]["path"] and res["config"]["chunk_size"] == 2
    logs = _logs(out)
    for name, entry in bench.items():
        lines = logs[name]
        assert len(lines) == entry["n"] == len({line["id"] for line in lines})
        assert {"id", "chunk", "prompt", "completion", "gold", "verdicts"} <= set(lines[0])
    mcq = logs["heldout_knowledge"][0]
    assert (
        len(mcq["loglik"]["lls"]) == len(mcq["loglik"]["targets"]) and mcq["completion"] is not None
    )
    accs = [float(line["verdicts"]["acc"]) for line in logs["heldout_knowledge"]]
    assert bench["heldout_knowledge"]["metrics"]["acc"]["value"] == sum(accs) / len(accs)
    assert bench["heldout_knowledge"]["metrics"]["acc"]["stderr"] == mean_stderr(accs)


def test_rerun_reuses_logs_and_refuses_other_settings(
    reference: tuple[Path, dict[str, Any]], tiny_dir: Path, dataset_dir: Path
) -> None:
    out, res = reference
    again = evaluate(str(tiny_dir), out, config(), data_dir=dataset_dir, label="base")
    assert again["timing"]["resumed_chunks"] == sum(
        -(-b["n"] // 2) for b in res["benchmarks"].values()
    )
    assert again["benchmarks"] == res["benchmarks"]
    with pytest.raises(ConfigError, match="other settings"):
        evaluate(str(tiny_dir), out, config(max_new_tokens=4), data_dir=dataset_dir)


def test_max_items_is_a_seeded_order_keeping_sample(
    tiny_dir: Path, dataset_dir: Path, tmp_path: Path
) -> None:
    from balancedbio.eval.tasks import build_benchmarks

    cfg = config(benchmarks=("heldout_knowledge",), max_items=3)
    first = [r["id"] for r in build_benchmarks(cfg, dataset_dir)[0].records]
    assert first == [r["id"] for r in build_benchmarks(cfg, dataset_dir)[0].records]
    every = [
        r["id"]
        for r in build_benchmarks(config(benchmarks=("heldout_knowledge",)), dataset_dir)[0].records
    ]
    assert len(first) == 3 and first == sorted(first, key=every.index)
    other = [
        r["id"]
        for r in build_benchmarks(
            config(benchmarks=("heldout_knowledge",), max_items=3, seed=5), dataset_dir
        )[0].records
    ]
    assert other != first


def test_kill_and_resume(
    reference: tuple[Path, dict[str, Any]],
    tiny_dir: Path,
    dataset_dir: Path,
    tmp_path: Path,
    model_cache: str,
) -> None:
    ref_out, ref = reference
    out = tmp_path / "killed"
    env = {**os.environ, "BALANCEDBIO_CACHE": model_cache, "HF_HUB_OFFLINE": "1"}
    cmd = [
        sys.executable,
        str(HERE / "eval_worker.py"),
        str(out),
        str(dataset_dir),
        str(tiny_dir),
        "0.4",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            lines = (
                sum(len(p.read_text().splitlines()) for p in (out / "samples").glob("*.jsonl"))
                if (out / "samples").is_dir()
                else 0
            )
            if lines >= 6:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "results.json").exists()
    partial = _logs(out)
    done = sum(len(v) for v in partial.values())
    assert 0 < done < sum(b["n"] for b in ref["benchmarks"].values())
    # as if the kill had also cut a chunk's write short: a partial chunk and a torn line
    victim = out / "samples" / "heldout_knowledge.jsonl"
    first = victim.read_text().splitlines()[0]
    with victim.open("a") as fh:
        fh.write(json.dumps({**json.loads(first), "chunk": 3}) + "\n" + first[:25])
    resumed = evaluate(str(tiny_dir), out, config(), data_dir=dataset_dir, label="base")
    assert resumed["timing"]["resumed_chunks"] > 0
    assert resumed["benchmarks"] == ref["benchmarks"]
    assert resumed["capabilities"] == ref["capabilities"] and resumed["groups"] == ref["groups"]
    key = lambda e: (e["chunk"], e["id"])  # noqa: E731
    for name, lines in _logs(out).items():
        assert len(lines) == len({e["id"] for e in lines}), f"duplicate sample logs in {name}"
        assert sorted(lines, key=key) == sorted(_logs(ref_out)[name], key=key)
