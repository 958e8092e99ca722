"""``balancedbio generate``: run MKGSG from a YAML config plus ``key=value`` overrides.

Mount with ``app.command("generate")(generate_command)`` in the root CLI (or use the
single-command typer app :data:`app` on its own). Prints a rich progress bar while running
and, at the end, the items and rejections per capability and the rejections per reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from balancedbio.config import ConfigError

err = Console(stderr=True)


def summary_tables(manifest: object) -> list[Table]:
    """The final tables: per capability (items, rejected) and per rejection reason."""
    from balancedbio.data.pipeline import Manifest

    assert isinstance(manifest, Manifest)
    caps = Table(title=f"MKGSG: {manifest.items} items, {manifest.rejected} rejected")
    for col in ("capability", "items", "rejected"):
        caps.add_column(col, justify="left" if col == "capability" else "right")
    names = sorted(set(manifest.by_capability) | set(manifest.rejected_by_capability))
    for cap in names:
        caps.add_row(
            cap,
            str(manifest.by_capability.get(cap, 0)),
            str(manifest.rejected_by_capability.get(cap, 0)),
        )
    reasons = Table(title="rejections by reason")
    reasons.add_column("reason")
    reasons.add_column("count", justify="right")
    for reason, n in sorted(manifest.by_reason.items(), key=lambda kv: (-kv[1], kv[0])):
        reasons.add_row(reason, str(n))
    return [caps, reasons]


def generate_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="YAML config (configs/generate.yaml).")
    ] = Path("configs/generate.yaml"),
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value overrides, e.g. seed=3 mode=model")
    ] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Output directory.")] = Path(
        "data/mkgsg"
    ),
    shard: Annotated[
        str | None,
        typer.Option(
            "--shard", help="i/n: generate only seeds j with j % n == i (split across machines)."
        ),
    ] = None,
    heldout: Annotated[
        bool, typer.Option("--heldout", help="Generate the held-out evaluation set instead.")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace a previous run in --out.")
    ] = False,
    no_resume: Annotated[
        bool, typer.Option("--no-resume", help="Fail instead of resuming a run in --out.")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Generate knowledge-grounded synthetic data (MKGSG) into --out (resumable)."""
    from balancedbio.config import load_config
    from balancedbio.data.config import GenerateConfig
    from balancedbio.data.pipeline import generate, generate_heldout

    extra = [f"shard={shard}"] if shard else []
    try:
        cfg = load_config(GenerateConfig, config, [*(overrides or []), *extra])
        run = generate_heldout if heldout else generate
        manifest = run(cfg, out, progress=progress, resume=not no_resume, overwrite=overwrite)
    except ConfigError as exc:
        err.print(f"[red]config error:[/] {exc}")
        if "resume" in str(exc):
            err.print("use --overwrite to start over, or the config the run was started with")
        raise typer.Exit(2) from exc
    caps, reasons = summary_tables(manifest)
    err.print(caps)
    if manifest.rejected:
        err.print(reasons)
    err.print(f"[bold green]done[/]: {manifest.out_dir} ({len(manifest.data_files)} shard files)")


app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
app.command("generate")(generate_command)

__all__ = ["app", "generate_command", "summary_tables"]
