"""The end-to-end job behind ``balancedbio demo``, told as a short story.

config -> run directory -> knowledge -> model -> MKGSG data -> reward model -> SFT ->
GRPO (capability-aware and vanilla) -> evaluation of base / SFT / both GRPO models ->
report. Each stage is a short function in :mod:`balancedbio.stages`; wall time per stage is
recorded in ``summary.json`` so the README's timing claims are measured, not guessed.
Rerunning with the same ``run_name`` resumes a killed run stage by stage.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from balancedbio import stages
from balancedbio.common import write_json
from balancedbio.config import save_config
from balancedbio.run_config import RunConfig

console = Console(stderr=True)


@dataclass
class RunRecord:
    """What a run produced so far; written to ``summary.json`` after every stage."""

    run_dir: Path
    stages: dict[str, float] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        console.rule(f"[bold]{name}")
        start = time.perf_counter()
        yield
        self.stages[name] = round(time.perf_counter() - start, 2)
        console.print(f"[green]✓ {name}[/] in {self.stages[name]:.1f} s")
        self.save()

    def save(self) -> None:
        total = round(sum(self.stages.values()), 2)
        write_json(
            self.run_dir / "summary.json",
            {"stage_seconds": self.stages, "total_seconds": total, "results": self.results},
        )


def make_run_dir(cfg: RunConfig) -> Path:
    """Create ``<output_root>/<run_name or timestamp>``; point ``<output_root>/latest`` at it."""
    root = Path(cfg.output_root)
    name = cfg.run_name or datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = root / name
    run_dir.mkdir(parents=True, exist_ok=True)
    latest = root / "latest"
    tmp_link = root / f".latest-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    tmp_link.symlink_to(name)
    os.replace(tmp_link, latest)
    return run_dir


def latest_run_name(cfg: RunConfig) -> str:
    """The run ``<output_root>/latest`` points at (for ``demo --resume``)."""
    from balancedbio.config import ConfigError

    latest = Path(cfg.output_root) / "latest"
    if not latest.is_symlink():
        raise ConfigError(f"--resume: {latest} does not exist (no earlier run to continue)")
    return os.readlink(latest)


def run_demo(cfg: RunConfig) -> Path:
    """Run the configured stages end to end into a run directory; returns it."""
    run_dir = make_run_dir(cfg)
    save_config(cfg, run_dir)
    record = RunRecord(run_dir)
    console.print(f"run directory: [bold]{run_dir}[/]")
    on = set(cfg.stages)
    with record.stage("knowledge"):
        graph = stages.knowledge_stage(cfg, record)
    with record.stage("model"):
        stages.model_stage(cfg, record)
    if "data" not in on:
        return _finish(record)
    with record.stage("data"):
        data_dir = stages.data_stage(cfg, record, graph)
    del graph  # the training stages reload what they need; free the memory
    rm_path = None
    if "reward_model" in on:
        with record.stage("reward_model"):
            rm_path = stages.reward_model_stage(cfg, record, data_dir)
    models: dict[str, str] = {"base": cfg.model.name}
    policy = Path(cfg.model.name)
    if "sft" in on:
        with record.stage("sft"):
            policy = stages.sft_stage(cfg, record, data_dir)
        models["sft"] = str(policy)
    if "grpo" in on:
        with record.stage("grpo"):
            runs = stages.grpo_stage(cfg, record, data_dir, policy, rm_path)
        models.update({label: str(path / "final") for label, path in runs.items()})
    if "eval" in on:
        with record.stage("eval"):
            stages.eval_stage(cfg, record, data_dir, models)
    if "report" in on:
        with record.stage("report"):
            stages.report_stage(record)
    return _finish(record)


def _finish(record: RunRecord) -> Path:
    console.print(json.dumps(record.stages))
    return record.run_dir
