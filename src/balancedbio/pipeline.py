"""The end-to-end job behind ``balancedbio demo``, told as a short story.

config -> run directory -> knowledge -> model -> (data -> rewards -> SFT -> GRPO -> eval ->
report, as those stages land). Each stage is a short function; wall time per stage is
recorded in ``summary.json`` so the README's timing claims are measured, not guessed.
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
        write_json(
            self.run_dir / "summary.json",
            {"stage_seconds": self.stages, "results": self.results},
        )


def make_run_dir(cfg: RunConfig) -> Path:
    """Create ``<output_root>/<timestamp>`` and point ``<output_root>/latest`` at it."""
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


def knowledge_stage(cfg: RunConfig, record: RunRecord) -> Any:
    """Load (or build once and cache) the ontology graph; ground and fact-check a vignette."""
    from balancedbio.knowledge import load_knowledge

    graph = load_knowledge(cfg.knowledge, progress=True)
    mentions = graph.ground(cfg.smoke.vignette)
    record.results["knowledge"] = {
        "versions": graph.versions,
        "stats": graph.stats(),
        "vignette_mentions": [
            {"text": m.text, "id": m.id, "source": m.source, "span": [m.start, m.end]}
            for m in mentions
        ],
    }
    console.print(
        f"grounded {len(mentions)} mentions: " + ", ".join(f"{m.text}→{m.id}" for m in mentions)
    )
    return graph


def model_stage(cfg: RunConfig, record: RunRecord) -> Path:
    """Resolve the model (converting the shipped GGUF once) and run a greedy chat smoke test."""
    from balancedbio.models import generate_chat, load_model_and_tokenizer, resolve_model

    path = resolve_model(cfg.model.name, cfg.model.cache_dir, progress=True)
    model, tokenizer = load_model_and_tokenizer(cfg.model)
    answer = generate_chat(
        model, tokenizer, [cfg.smoke.question], max_new_tokens=cfg.smoke.max_new_tokens
    )[0]
    record.results["model"] = {"name": cfg.model.name, "path": str(path), "sample": answer}
    console.print(f"[dim]{cfg.smoke.question}[/]\n{answer}")
    return path


def run_demo(cfg: RunConfig) -> Path:
    """Run every stage that exists, end to end, into a fresh run directory."""
    run_dir = make_run_dir(cfg)
    save_config(cfg, run_dir)
    record = RunRecord(run_dir)
    console.print(f"run directory: [bold]{run_dir}[/]")
    with record.stage("knowledge"):
        knowledge_stage(cfg, record)
    with record.stage("model"):
        model_stage(cfg, record)
    console.print(json.dumps(record.stages))
    return run_dir
