"""``balancedbio rewards ...``: reward checks from the command line.

``balancedbio rewards ifeval FILE.jsonl`` (``-`` for stdin) reads one JSON object per line
with ``instruction_id_list``, ``kwargs``, ``prompt`` and ``response``, and writes to stdout
one JSON object per input line, in order: the input plus ``strict`` and ``loose`` (lists of
bools, lm-eval's ``follow_instruction_list``). A line that cannot be checked yields its
object (or ``{"line": N, "raw": ...}`` when it is not a JSON object) with an ``error``
string; the other lines are unaffected. Stdout carries nothing but these JSON lines.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import typer

app = typer.Typer(help="Reward checks (IFEval instruction following, ...).", no_args_is_help=True)

_FIELDS = ("instruction_id_list", "kwargs", "prompt", "response")


@app.callback()
def _group() -> None:
    """Reward checks (IFEval instruction following, ...)."""


def ifeval_record(record: Any, line_no: int) -> dict[str, Any]:
    """Check one parsed input line; never raises (problems go to an ``error`` field)."""
    from balancedbio.rewards.ifeval import follow_instructions

    if not isinstance(record, dict):
        return {"line": line_no, "raw": record, "error": "line is not a JSON object"}
    out = dict(record)
    missing = [f for f in _FIELDS if f not in record]
    if missing:
        out["error"] = f"missing field(s): {', '.join(missing)}"
        return out
    ids, kwargs = record["instruction_id_list"], record["kwargs"]
    problem = None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        problem = "instruction_id_list must be a list of strings"
    elif not isinstance(kwargs, list) or not all(k is None or isinstance(k, dict) for k in kwargs):
        problem = "kwargs must be a list of objects"
    elif not isinstance(record["response"], str):
        problem = "response must be a string"
    elif record["prompt"] is not None and not isinstance(record["prompt"], str):
        problem = "prompt must be a string"
    if problem:
        out["error"] = problem
        return out
    try:
        result = follow_instructions(record["prompt"], record["response"], ids, kwargs)
    except (ValueError, TypeError) as exc:  # ConfigError/IFEvalKwargsError are ValueErrors
        out["error"] = str(exc)
        return out
    out["strict"] = result.strict
    out["loose"] = result.loose
    return out


def ifeval_lines(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """One output object per input line (blank lines included, as errors)."""
    for line_no, raw in enumerate(lines, start=1):
        text = raw.rstrip("\r\n")
        try:
            record = json.loads(text)
        except ValueError as exc:
            yield {"line": line_no, "raw": text, "error": f"invalid JSON: {exc}"}
            continue
        yield ifeval_record(record, line_no)


@app.command("ifeval")
def ifeval_command(
    file: str = typer.Argument(..., help="JSONL file to check, or '-' for stdin."),
) -> None:
    """Check IFEval instructions for each JSONL line; print input + strict/loose verdicts."""
    if file == "-":
        stream = sys.stdin
    else:
        path = Path(file)
        if not path.is_file():
            typer.echo(f"error: no such file: {file}", err=True)
            raise typer.Exit(2)
        stream = path.open(encoding="utf-8")
    try:
        for out in ifeval_lines(stream):
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
    finally:
        if stream is not sys.stdin:
            stream.close()
