"""Checkpoint/resume: optimizer, RNG, data order and BalancedBio's own state survive a kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fixtures
import torch

from balancedbio.config import load_config
from balancedbio.training import GRPOStageConfig, read_metrics, train_grpo

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


def _train_steps(run: Path) -> list[int]:
    return [r["step"] for r in read_metrics(run) if "loss" in r]


def _order(run: Path) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for line in (run / "data_order.jsonl").read_text().splitlines():
        record = json.loads(line)
        out[record["step"]] = record["ids"]
    return out


def test_resume_in_process_continues_state_and_metrics(tmp_path, tiny_model):
    base = [
        f"model={tiny_model}",
        "per_device_train_batch_size=8",
        "max_completion_length=8",
        "save_steps=1",
        "pareto.eval_every=2",
        "pareto.max_items=1",
        f"output_dir={tmp_path / 'run'}",
    ]
    rewards = fixtures.make_rewards() + fixtures.shaping_rewards()
    rows, heldout = fixtures.build_rows(3), fixtures.build_rows(1, offset=10)
    run = train_grpo(
        load_config(GRPOStageConfig, None, [*base, "max_steps=2"]), rows, heldout, rewards
    )
    first = json.loads((run / "checkpoint-2" / "balancedbio_state.json").read_text())
    run = train_grpo(
        load_config(GRPOStageConfig, None, [*base, "max_steps=3"]), rows, heldout, rewards
    )
    summary = json.loads((run / "summary.json").read_text())
    assert summary["resumed_from"].endswith("checkpoint-2") and summary["global_step"] == 3
    assert _train_steps(run) == [1, 2, 3]
    state = json.loads((run / "checkpoint-3" / "balancedbio_state.json").read_text())
    assert state["conflict"]["steps"] == 3  # counters continued, not restarted
    assert state["pareto"]["initial"] == first["pareto"]["initial"]  # baseline kept
    assert [h["step"] for h in state["pareto"]["history"]] == [0, 2]


def _command(run: Path, *overrides: str) -> list[str]:
    return [sys.executable, str(HERE / "run_tiny.py"), str(run), *overrides]


def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path, tiny_model, model_cache):
    """Kill a real run with SIGKILL in epoch 2, right after a checkpoint; resume; the result is
    bit-identical to an uninterrupted run (weights, data order, metrics, extra state)."""
    args = [
        "rows=2",  # 7 rows, 2 prompts/step: epoch 1 is steps 1-3, epoch 2 steps 4-6
        "max_steps=5",
        "save_steps=4",
        "per_device_train_batch_size=8",
        "weighting=dynamic",
        "aggregator=upgrad",
        "pareto.eval_every=2",
    ]
    env = {**os.environ, "BALANCEDBIO_CACHE": model_cache, "HF_HUB_OFFLINE": "1"}
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    subprocess.run(_command(ref, *args), env=env, check=True, cwd=ROOT, capture_output=True)

    marker = killed / "checkpoint-4" / "balancedbio_state.json"
    proc = subprocess.Popen(
        _command(killed, *args),
        env={**env, "BB_PAUSE_AFTER_SAVE": "60", "BB_PAUSE_STEP": "4"},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while not marker.is_file():
        assert proc.poll() is None, "run ended before its checkpoint"
        assert time.monotonic() < deadline
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    assert not (killed / "summary.json").exists()

    subprocess.run(_command(killed, *args), env=env, check=True, cwd=ROOT, capture_output=True)
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["resumed_from"].endswith("checkpoint-4") and summary["global_step"] == 5
    assert _train_steps(killed) == list(range(1, 6))  # metrics continue, no duplicates
    assert _order(killed) == _order(ref)
    a = torch.load(ref / "params-rank0.pt")
    b = torch.load(killed / "params-rank0.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ref_metrics = [r for r in read_metrics(ref) if "loss" in r]
    got_metrics = [r for r in read_metrics(killed) if "loss" in r]
    for key in ("reward", "conflict/rate", "weights/reward/hash_knowledge"):
        assert [r[key] for r in got_metrics] == [r[key] for r in ref_metrics], key
