"""Two CPU processes (gloo) under ``accelerate launch``: same update on every process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch

from balancedbio.training import read_metrics

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
ACCELERATE_CONFIG = ROOT / "configs" / "accelerate" / "cpu_2proc_gloo.yaml"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_run_all_reduces_the_jacobian(tmp_path, tiny_model, model_cache):
    run = tmp_path / "run"
    accelerate = Path(sys.executable).parent / "accelerate"
    command = [
        str(accelerate),
        "launch",
        "--config_file",
        str(ACCELERATE_CONFIG),
        "--main_process_port",
        str(_free_port()),
        str(HERE / "run_tiny.py"),
        str(run),
        "max_steps=2",
        "save_steps=2",
        "weighting=gdpo",
        "aggregator=upgrad",
        "pareto.eval_every=2",
    ]
    env = {
        **os.environ,
        "BALANCEDBIO_CACHE": model_cache,
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": "1",
    }
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-4000:]
    assert "MULTI_CPU" in (run / "distributed.txt").read_text()
    records = [r for r in read_metrics(run) if "loss" in r]
    assert [r["step"] for r in records] == [1, 2]
    assert "conflict/rate" in records[-1] and "pareto/preservation/knowledge" in records[-1]
    order = [json.loads(line) for line in (run / "data_order.jsonl").read_text().splitlines()]
    assert all(len(o["ids"]) == 4 for o in order)  # 2 prompts per process, gathered
    rank0, rank1 = torch.load(run / "params-rank0.pt"), torch.load(run / "params-rank1.pt")
    assert all(torch.equal(rank0[k], rank1[k]) for k in rank0)  # identical updates
    start = torch.load(run / "params-rank0.pt")
    assert any("lora_B" in k and start[k].abs().sum() > 0 for k in start)  # it did train
