"""``balancedbio report RUN_DIR``: write the run's self-contained HTML report.

Mount the command directly: ``app.command("report")(report_command)`` (a one-command typer
``app`` is also provided for ``python -m balancedbio.report.cli RUN_DIR``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

err = Console(stderr=True)


def report_command(
    run_dir: Annotated[Path, typer.Argument(help="Run directory (results.json, data/, ...).")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="HTML path (default RUN_DIR/report.html).")
    ] = None,
) -> None:
    """Write RUN_DIR/report.html and RUN_DIR/figures/*.png from the run's results and logs."""
    from balancedbio.report.html import write_report

    try:
        path = write_report(run_dir, out)
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from exc
    err.print(f"[green]wrote[/green] {path}")
    typer.echo(str(path))


app = typer.Typer(name="report", add_completion=False)
app.command()(report_command)

if __name__ == "__main__":
    app()
