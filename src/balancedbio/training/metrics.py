"""Run metrics: ``metrics.jsonl`` (one JSON object per logging step) and performance counters.

:class:`MetricsJsonlCallback` appends every training log (TRL's averaged metrics plus ours)
to ``<run>/metrics.jsonl`` on the main process; NaN/inf become ``null`` so every line is
strict JSON. TensorBoard needs nothing here: :func:`report_to` turns on transformers' own
``TensorBoardCallback`` when the ``tensorboard`` package is installed.

:class:`PerfCallback` measures each optimizer step's wall time (generation included), tokens
per second (prompt + completion tokens of all processes, from TRL's
``num_input_tokens_seen``) and peak memory: CUDA max allocated on GPU, peak RSS of the
process otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import resource
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
SUMMARY_KEYS = ("loss", "reward", "conflict/rate", "perf/step_seconds")


def report_to() -> list[str]:
    """``["tensorboard"]`` when it is installed, else nothing."""
    return ["tensorboard"] if importlib.util.find_spec("tensorboard") else []


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return _clean(value.item())
    return value


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """All records of a ``metrics.jsonl`` file."""
    path = Path(path)
    if path.is_dir():
        path = path / METRICS_FILE
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def truncate_after(path: Path, step: int) -> None:
    """Drop records with ``step > step`` (a resumed run re-logs the steps after its checkpoint)."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text().splitlines():
        if line.strip() and json.loads(line).get("step", 0) <= step:
            kept.append(line)
    path.write_text("".join(f"{line}\n" for line in kept))


class MetricsJsonlCallback(TrainerCallback):
    """Append each training log to ``metrics.jsonl`` (main process only)."""

    def __init__(self, run_dir: str | Path) -> None:
        self.path = Path(run_dir) / METRICS_FILE

    def on_log(
        self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, "time": round(time.time(), 3)}
        record.update({k: _clean(v) for k, v in logs.items()})
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as fh:
            fh.write(json.dumps(record, default=str) + "\n")
        shown = [f"{k}={record[k]:.4g}" for k in SUMMARY_KEYS if isinstance(record.get(k), float)]
        if shown:
            log.info("step %d/%d %s", state.global_step, state.max_steps, " ".join(shown))


def peak_memory_mb() -> dict[str, float]:
    """Peak memory of this process: CUDA max allocated and/or peak RSS, in MiB."""
    out: dict[str, float] = {}
    if torch.cuda.is_available():
        out["perf/peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["perf/peak_rss_mb"] = rss / (2**20 if sys.platform == "darwin" else 2**10)
    return out


class PerfCallback(TrainerCallback):
    """Step wall time, tokens/s and peak memory, published to the trainer's metrics."""

    def __init__(self) -> None:
        self.trainer: Any = None
        self._start = 0.0
        self._tokens = 0

    def bind(self, trainer: Any) -> PerfCallback:
        self.trainer = trainer
        return self

    def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self._start = time.perf_counter()
        self._tokens = state.num_input_tokens_seen

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        seconds = time.perf_counter() - self._start
        tokens = state.num_input_tokens_seen - self._tokens
        metrics = self.trainer._metrics["train"]
        metrics["perf/step_seconds"].append(seconds)
        metrics["perf/tokens_per_s"].append(tokens / seconds if seconds > 0 else 0.0)
        self.trainer.instant_metrics.update(peak_memory_mb())
