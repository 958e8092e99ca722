"""``balancedbio``: one command line for every stage.

Each stage owns a typer sub-app (``balancedbio.<stage>.cli``); this module mounts them and
adds the cross-stage commands (``demo``). It is the only module that sees every stage.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

from balancedbio.config import ConfigError
from balancedbio.data.cli import generate_command
from balancedbio.eval.cli import app as eval_app
from balancedbio.knowledge.cli import app as knowledge_app
from balancedbio.models.cli import app as models_app
from balancedbio.report.cli import report_command
from balancedbio.rewards.cli import app as rewards_app
from balancedbio.training.cli import grpo_command, sft_command
from balancedbio.training.rm_cli import train_rm_command

app = typer.Typer(
    name="balancedbio",
    help="Train small LMs for biomedicine without losing general skills.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(knowledge_app, name="knowledge", help="Ontologies: stats, fact checking, grounding.")
app.add_typer(models_app, name="models", help="Model assets: prepare, list, generate.")
app.add_typer(rewards_app, name="rewards", help="Verifiers and rewards.")
rewards_app.command("train-rm")(train_rm_command)  # needs data: lives in training
app.add_typer(eval_app, name="eval", help="Evaluate models on knowledge, reasoning, IF.")
app.command("generate")(generate_command)
app.command("sft")(sft_command)
app.command("grpo")(grpo_command)
app.command("report")(report_command)

err = Console(stderr=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="YAML config (configs/*.yaml).")]
Overrides = Annotated[
    list[str] | None, typer.Argument(help="key=value overrides, e.g. model=tiny-random")
]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False) -> None:
    """Set up logging for every subcommand (to stderr: stdout is for machine output)."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False)],
    )


@app.command()
def demo(
    config: ConfigOpt = Path("configs/demo.yaml"),
    overrides: Overrides = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run that runs/latest points at.")
    ] = False,
) -> None:
    """Run the main job end to end on embedded defaults (shipped model and ontologies):
    knowledge -> data -> reward model -> SFT -> GRPO (capability-aware, vanilla) -> eval
    -> report, into runs/<timestamp>/ (and runs/latest)."""
    from balancedbio.config import load_config
    from balancedbio.pipeline import latest_run_name, run_demo
    from balancedbio.run_config import RunConfig

    try:
        cfg = load_config(RunConfig, config, overrides or [])
        if resume:
            cfg = replace(cfg, run_name=latest_run_name(cfg))
    except ConfigError as exc:
        err.print(f"[red]config error:[/] {exc}")
        raise typer.Exit(2) from exc
    run_dir = run_demo(cfg)
    err.print(f"[bold green]done[/]: {run_dir}  (report: {run_dir / 'report.html'})")


if __name__ == "__main__":
    app()
