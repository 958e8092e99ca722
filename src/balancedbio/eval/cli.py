"""``balancedbio eval ...``: run benchmarks on a model, compare models, list benchmarks.

Mount with ``app.add_typer(eval_app, name="eval")``. Results go to files (and a table on
stdout); status goes to stderr.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from balancedbio.config import ConfigError

app = typer.Typer(
    name="eval",
    help="Evaluate models: knowledge MCQ, reasoning, instruction following, integration.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)
log = logging.getLogger(__name__)


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=2)


def _pairs(items: list[str] | None, what: str) -> dict[str, str]:
    pairs = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise ConfigError(f"{what} {item!r} must look like NAME=PATH")
        pairs[key.strip()] = value.strip()
    return pairs


@app.command()
def run(
    model: Annotated[str, typer.Option("--model", "-m", help="Built-in name, HF dir or hub id.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output dir (default RUN_DIR/eval/LABEL).")
    ] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Generated MKGSG dataset (held-out split).")
    ] = None,
    benchmark: Annotated[
        list[str] | None,
        typer.Option("--benchmark", "-b", help="Benchmark or group (repeatable; default: all)."),
    ] = None,
    file: Annotated[
        list[str] | None,
        typer.Option("--file", "-f", help="NAME=PATH of a local benchmark file (repeatable)."),
    ] = None,
    label: Annotated[str, typer.Option(help="Model label: base, sft, grpo_...")] = "base",
    run_dir: Annotated[
        Path | None, typer.Option("--run-dir", help="Also merge into RUN_DIR/results.json.")
    ] = None,
    config: Annotated[Path | None, typer.Option("--config", "-c", help="EvalConfig YAML.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace a run with other settings.")] = False,
    overrides: Annotated[
        list[str] | None, typer.Argument(help="key=value, e.g. max_items=50 batch_size=16")
    ] = None,
) -> None:
    """Evaluate MODEL; writes results.json and samples/*.jsonl (resumable: rerun to continue)."""
    from balancedbio.config import load_config
    from balancedbio.eval.compare import format_table, merge_into_run
    from balancedbio.eval.config import EvalConfig
    from balancedbio.eval.runner import evaluate

    try:
        extra = list(overrides or [])
        if benchmark:
            extra.append(f"benchmarks=[{','.join(benchmark)}]")
        extra += [f"files.{k}={v}" for k, v in _pairs(file, "--file").items()]
        cfg = load_config(EvalConfig, config, extra)
        if out_dir is None:
            if run_dir is None:
                raise ConfigError("give --out DIR or --run-dir RUN_DIR")
            out_dir = run_dir / "eval" / label
        result = evaluate(model, out_dir, cfg, data_dir=data, label=label, overwrite=overwrite)
    except (ConfigError, ValueError) as exc:
        raise _fail(exc) from exc
    merged = {"models": {label: result}}
    if run_dir is not None:
        merged = merge_into_run(run_dir, label, result)
        err.print(f"merged into {run_dir / 'results.json'}")
    out.print(format_table(merged))
    err.print(f"[green]done[/green]: {out_dir / 'results.json'}")


@app.command()
def compare(
    results: Annotated[list[str], typer.Argument(help="LABEL=PATH (results.json or its dir).")],
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the merged run results.json.")
    ] = None,
) -> None:
    """Merge several models' results into one table (and a run-level results.json)."""
    from balancedbio.common import write_json
    from balancedbio.eval.compare import compare as merge
    from balancedbio.eval.compare import format_table

    try:
        merged = merge(_pairs(results, "result"))
    except (ConfigError, ValueError, OSError) as exc:
        raise _fail(exc) from exc
    if out_file is not None:
        write_json(out_file, merged)
        err.print(f"wrote {out_file}")
    out.print(format_table(merged))


@app.command("benchmarks")
def list_benchmarks() -> None:
    """List benchmark names, their capability and the data each needs."""
    from rich.table import Table

    from balancedbio.eval.config import GROUPS, HELDOUT
    from balancedbio.eval.tasks import CAPABILITY, KIND

    table = Table(title="benchmarks", title_justify="left")
    for column in ("name", "capability", "data"):
        table.add_column(column)
    for name, kind in KIND.items():
        need = "--data DIR (generated dataset)" if name in HELDOUT else f"--file {name}=PATH"
        table.add_row(name, CAPABILITY[kind], need)
    for group, members in GROUPS.items():
        table.add_row(group, "group", ", ".join(members))
    out.print(table)


if __name__ == "__main__":
    app()
