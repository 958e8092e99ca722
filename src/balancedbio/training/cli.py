"""``balancedbio sft`` and ``balancedbio grpo``: the training stages on MKGSG data.

::

    balancedbio sft  --config configs/sft.yaml  data=data/mkgsg model=smollm2-135m max_steps=50
    balancedbio grpo --config configs/grpo.yaml data=data/mkgsg model=runs/sft/final/merged \\
        trainer=capability_aware weighting=gdpo aggregator=upgrad max_steps=20 output_dir=DIR

The command configs are the stage configs plus where the data is: ``data`` (a ``balancedbio
generate`` output directory), ``limit`` (first N rows) and, for GRPO, ``heldout`` (``auto``:
``<data>/heldout`` when the generate run wrote one, ``none``: no Pareto tracking, or a
directory). A rich progress bar goes to stderr; config and data errors exit with code 2.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from balancedbio.config import ConfigError
from balancedbio.training.config import GRPOStageConfig
from balancedbio.training.sft import SFTStageConfig

log = logging.getLogger(__name__)
err = Console(stderr=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="YAML config (configs/*.yaml).")]
Overrides = Annotated[
    list[str] | None, typer.Argument(help="key=value overrides, e.g. model=tiny-random")
]


@dataclass(frozen=True)
class SFTCommandConfig(SFTStageConfig):
    """``balancedbio sft``: the SFT stage plus its data."""

    data: str = "data/mkgsg"
    limit: int | None = None  # first N items (None: all)


@dataclass(frozen=True)
class GRPOCommandConfig(GRPOStageConfig):
    """``balancedbio grpo``: the GRPO stage plus its training and held-out data."""

    data: str = "data/mkgsg"
    heldout: str = "auto"  # "auto": <data>/heldout if present; "none"; or a directory
    limit: int | None = None  # first N training items (None: all)


def progress_callback(description: str) -> Any:
    """A ``TrainerCallback`` drawing a rich progress bar (optimizer steps) on stderr."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from transformers import TrainerCallback

    class RichProgress(TrainerCallback):
        def __init__(self) -> None:
            self.bar: Progress | None = None
            self.task: Any = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if not state.is_world_process_zero:
                return
            self.bar = Progress(
                TextColumn(description),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=err,
            )
            self.bar.start()
            self.task = self.bar.add_task(description, total=state.max_steps)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if self.bar is not None:
                self.bar.update(self.task, completed=state.global_step)

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if self.bar is not None:
                self.bar.update(self.task, completed=state.global_step)
                self.bar.stop()
                self.bar = None

    return RichProgress()


def _load(cls: type, config: Path, overrides: list[str] | None) -> Any:
    from balancedbio.config import load_config

    if not config.is_file():
        raise ConfigError(f"config file {config} not found")
    return load_config(cls, config, overrides or [])


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]config error:[/] {exc}")
    return typer.Exit(2)


def heldout_rows(cfg: GRPOCommandConfig) -> list[dict[str, Any]] | None:
    """The held-out rows ``cfg.heldout`` names (None: no Pareto tracking)."""
    from balancedbio.training.data import heldout_dir, load_rows

    if cfg.heldout == "none":
        return None
    if cfg.heldout == "auto":
        found = heldout_dir(cfg.data)
        if found is None:
            log.warning("no %s/heldout: Pareto tracking is off (set heldout=DIR)", cfg.data)
            return None
        log.info("held-out set: %s", found)
        return load_rows(found)
    return load_rows(cfg.heldout)


def sft_command(config: ConfigOpt = Path("configs/sft.yaml"), overrides: Overrides = None) -> None:
    """SFT warm-up on MKGSG reference solutions (LoRA, or full fine-tuning); prints the
    merged model directory (use it as model=... for `balancedbio grpo`)."""
    from balancedbio.training.data import load_rows
    from balancedbio.training.sft import train_sft

    try:
        cfg = _load(SFTCommandConfig, config, overrides)
        rows = load_rows(cfg.data, limit=cfg.limit)
    except (ConfigError, FileNotFoundError) as exc:
        raise _fail(exc) from exc
    merged = train_sft(cfg, rows, callbacks=[progress_callback("SFT")])
    err.print(f"[bold green]done[/]: {merged}")
    typer.echo(str(merged))


def grpo_command(
    config: ConfigOpt = Path("configs/grpo.yaml"), overrides: Overrides = None
) -> None:
    """GRPO (vanilla or capability-aware) on MKGSG data; prints the run directory."""
    from balancedbio.training.data import load_rows
    from balancedbio.training.run import train_grpo

    try:
        cfg = _load(GRPOCommandConfig, config, overrides)
        train = load_rows(cfg.data, limit=cfg.limit)
        heldout = heldout_rows(cfg)
    except (ConfigError, FileNotFoundError) as exc:
        raise _fail(exc) from exc
    run_dir = train_grpo(cfg, train, heldout, callbacks=[progress_callback("GRPO")])
    err.print(f"[bold green]done[/]: {run_dir}")
    typer.echo(str(run_dir))


__all__ = ["GRPOCommandConfig", "SFTCommandConfig", "grpo_command", "sft_command"]
