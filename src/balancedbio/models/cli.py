"""``balancedbio models ...``: prepare, list and smoke-test models.

Results (paths, generated text) go to stdout; status and errors go to stderr via rich.
"""

from __future__ import annotations

import logging
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from balancedbio.config import ConfigError

app = typer.Typer(
    name="models",
    help="Prepare (download/convert), list and smoke-test models.",
    no_args_is_help=True,
    add_completion=False,
)
err = Console(stderr=True)
out = Console(highlight=False, soft_wrap=True)

CacheDir = Annotated[
    str | None,
    typer.Option("--cache-dir", help="Cache root (default: $BALANCEDBIO_CACHE or ~/.cache)."),
]
Name = Annotated[
    str, typer.Argument(help="Built-in name, local model directory or hub id org/name.")
]


def _logging() -> None:
    root = logging.getLogger("balancedbio")
    if not any(isinstance(h, RichHandler) for h in root.handlers):
        root.addHandler(RichHandler(console=err, show_path=False, show_time=False))
    root.setLevel(logging.INFO)


def _fail(exc: Exception) -> typer.Exit:
    err.print(f"[red]error:[/red] {exc}")
    return typer.Exit(code=2)


@app.command()
def prepare(name: Name = "smollm2-135m", cache_dir: CacheDir = None) -> None:
    """Resolve NAME (converting or building it once if needed) and print its directory."""
    from balancedbio.models.resolve import resolve_model

    _logging()
    started = time.perf_counter()
    try:
        path = resolve_model(name, cache_dir, progress=True)
    except ConfigError as exc:
        raise _fail(exc) from exc
    err.print(f"[green]ready[/green] {name} in {time.perf_counter() - started:.1f}s")
    out.print(str(path))


@app.command("list")
def list_models(cache_dir: CacheDir = None) -> None:
    """List built-in model names and what is in the model cache."""
    from balancedbio.models.resolve import BUILTINS, list_cached
    from balancedbio.models.store import models_root

    builtins = Table(title="built-in models", title_justify="left")
    builtins.add_column("name")
    builtins.add_column("description")
    for name, description in BUILTINS.items():
        builtins.add_row(name, description)
    out.print(builtins)
    cached = list_cached(cache_dir)
    table = Table(title=f"cached in {models_root(cache_dir)}", title_justify="left")
    for column in ("directory", "kind", "status", "MB"):
        table.add_column(column)
    for entry in cached:
        status = "[green]ok[/green]" if entry.ok else "[yellow]incomplete (rebuilt on use)[/yellow]"
        table.add_row(entry.name, entry.kind, status, f"{entry.size_mb:.1f}")
    if not cached:
        table.add_row("(empty)", "", "", "")
    out.print(table)


@app.command()
def generate(
    name: Name,
    prompt: Annotated[str, typer.Argument(help="User message.")],
    max_new_tokens: Annotated[int, typer.Option("--max-new-tokens", min=1)] = 64,
    dtype: Annotated[str, typer.Option(help="float32, bfloat16 or float16.")] = "float32",
    cache_dir: CacheDir = None,
) -> None:
    """Greedy chat reply of NAME to PROMPT (a smoke test)."""
    from balancedbio.config import from_dict
    from balancedbio.models.config import ModelConfig
    from balancedbio.models.loading import generate_chat, load_model_and_tokenizer

    _logging()
    try:
        cfg = from_dict(ModelConfig, {"name": name, "cache_dir": cache_dir, "dtype": dtype})
        model, tokenizer = load_model_and_tokenizer(cfg, progress=True)
    except ConfigError as exc:
        raise _fail(exc) from exc
    started = time.perf_counter()
    with err.status("generating..."):
        (reply,) = generate_chat(model, tokenizer, [prompt], max_new_tokens=max_new_tokens)
    err.print(f"[dim]{time.perf_counter() - started:.1f}s[/dim]")
    out.print(reply)
