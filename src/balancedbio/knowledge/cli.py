"""``balancedbio knowledge ...``: statistics, batch fact checking and grounding.

Scripts depend on this contract:

* ``stats [--json]`` - counts per source and versions (``--json``: one JSON object);
* ``check FILE.jsonl`` (``-`` = stdin) - one JSON line out per line in, same order: the input
  object plus ``valid`` and ``reason``; a line that is blank, not JSON or not an object gives
  ``{"line": N, "raw": ..., "valid": false, "reason": ...}``. Stdout holds only these lines;
  progress and the summary (with source versions) go to stderr;
* ``ground TEXT [--json]`` (``-`` = stdin) - the mentions found (``--json``: JSON lines).

Every command accepts ``--cache-dir``.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

import click
import typer

from balancedbio.knowledge.cache import load_knowledge
from balancedbio.knowledge.config import KnowledgeConfig
from balancedbio.knowledge.graph import KnowledgeGraph
from balancedbio.knowledge.records import SOURCES

app = typer.Typer(
    name="knowledge",
    help="Ontology knowledge layer (HPO, MONDO, ICD-10-CM): stats, fact checks, grounding.",
    no_args_is_help=True,
    add_completion=False,
)

CacheDirOption = Annotated[
    str | None,
    typer.Option(
        "--cache-dir", help="Cache root (default: $BALANCEDBIO_CACHE or ~/.cache/balancedbio)."
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable JSON output.")]

_COLUMNS = ("terms", "diseases", "annotations", "codes", "genes", "xrefs", "obsolete")


def _err(message: str) -> None:
    click.echo(message, err=True)


def _graph(cache_dir: str | None) -> KnowledgeGraph:
    progress = sys.stderr.isatty()
    return load_knowledge(KnowledgeConfig(cache_dir=cache_dir), progress=progress)


def _versions_line(graph: KnowledgeGraph) -> str:
    return "; ".join(f"{k}: {v}" for k, v in sorted(graph.versions.items()))


@app.command()
def stats(json_out: JsonOption = False, cache_dir: CacheDirOption = None) -> None:
    """Counts per source (terms, diseases, annotations, codes, genes, xrefs) and versions."""
    graph = _graph(cache_dir)
    counts, versions = graph.stats(), graph.versions
    if json_out:
        payload = {
            "versions": versions,
            "stats": counts,
            "mondo_links": graph.mondo_links,
            "nodes": len(graph),
            "cache_dir": str(graph.cache_dir) if graph.cache_dir else None,
        }
        click.echo(json.dumps(payload, sort_keys=True))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="BalancedBio knowledge graph")
    table.add_column("source")
    for col in _COLUMNS:
        table.add_column(col, justify="right")
    order = [s for s in SOURCES if s in counts] + [s for s in counts if s not in SOURCES]
    for source in order:
        table.add_row(source, *(f"{counts[source].get(c, 0):,}" for c in _COLUMNS))
    console = Console(file=sys.stdout)
    console.print(table)
    vtable = Table("source", "version", title="versions")
    for source in order:
        vtable.add_row(source, versions.get(source, ""))
    console.print(vtable)
    links = graph.mondo_links
    if links:
        console.print(
            f"MONDO diseases linked to HPO-annotated diseases by exact name match: "
            f"{links.get('mondo_linked', 0):,} ({links.get('links', 0):,} xrefs)"
        )


def _check_line(graph: KnowledgeGraph, number: int, line: str) -> dict[str, Any]:
    if not line.strip():
        return {
            "line": number,
            "raw": line,
            "valid": False,
            "reason": "blank line: expected a JSON object",
        }
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        reason = f"not JSON: {exc.msg} at column {exc.colno}"
        return {"line": number, "raw": line, "valid": False, "reason": reason}
    if not isinstance(obj, dict):
        reason = f"expected a JSON object with relation, subject, object; got {type(obj).__name__}"
        return {"line": number, "raw": line, "valid": False, "reason": reason}
    verdict = graph.check(obj)
    return {**obj, "valid": verdict.valid, "reason": verdict.reason}


@app.command()
def check(
    file: Annotated[str, typer.Argument(help="JSONL file of facts, or - for stdin.")],
    cache_dir: CacheDirOption = None,
) -> None:
    """Check facts ({relation, subject, object} per line); write one JSON verdict line each."""
    if file == "-":
        stream = sys.stdin
    else:
        try:
            stream = open(file, encoding="utf-8-sig")  # noqa: SIM115 - closed below
        except OSError as exc:
            _err(f"error: cannot read {file}: {exc.strerror or exc}")
            raise typer.Exit(2) from None
    graph = _graph(cache_dir)
    out = sys.stdout
    total = valid = 0
    try:
        for number, raw in enumerate(stream, 1):
            record = _check_line(graph, number, raw.rstrip("\r\n"))
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
            total += 1
            valid += record["valid"] is True
    finally:
        if stream is not sys.stdin:
            stream.close()
    out.flush()
    _err(
        f"checked {total} line(s): {valid} valid, {total - valid} invalid [{_versions_line(graph)}]"
    )


@app.command()
def ground(
    text: Annotated[str, typer.Argument(help="Text to ground, or - to read stdin.")],
    json_out: JsonOption = False,
    cache_dir: CacheDirOption = None,
) -> None:
    """Find ontology mentions (longest non-overlapping matches of names and synonyms)."""
    if text == "-":
        text = sys.stdin.read()
    graph = _graph(cache_dir)
    mentions = graph.ground(text)
    if json_out:
        for m in mentions:
            record = {
                "start": m.start,
                "end": m.end,
                "text": m.text,
                "id": m.id,
                "source": m.source,
            }
            click.echo(json.dumps({**record, "name": m.name}, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(title=f"{len(mentions)} mention(s)")
        for col in ("start", "end", "text", "id", "name", "source"):
            table.add_column(col)
        for m in mentions:
            table.add_row(str(m.start), str(m.end), m.text, m.id, m.name, m.source)
        Console(file=sys.stdout).print(table)
    _err(f"grounded against [{_versions_line(graph)}]")
