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
from typing import Any, TextIO

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


def _open_input(file: str) -> TextIO:
    """stdin for ``-``, else the file (exit code 2 with a message when it is missing)."""
    if file == "-":
        return sys.stdin
    path = Path(file)
    if not path.is_file():
        typer.echo(f"error: no such file: {file}", err=True)
        raise typer.Exit(2)
    return path.open(encoding="utf-8")


@app.command("ifeval")
def ifeval_command(
    file: str = typer.Argument(..., help="JSONL file to check, or '-' for stdin."),
) -> None:
    """Check IFEval instructions for each JSONL line; print input + strict/loose verdicts."""
    stream = _open_input(file)
    try:
        for out in ifeval_lines(stream):
            sys.stdout.write(json.dumps(out) + "\n")
            sys.stdout.flush()
    finally:
        if stream is not sys.stdin:
            stream.close()


# --------------------------------------------------------------------------- reward model

_SCORE_CHUNK = 256  # lines scored per model call (output streams chunk by chunk)
_COMPLETION_KEYS = ("completion", "response")  # the scored text: either name


def _score_chunk(scorer: Any, records: list[tuple[int, Any]], raw: bool) -> Iterator[dict]:
    """Score one chunk of parsed lines; a bad line gets an ``error``, the others a ``score``."""
    outs: list[dict[str, Any]] = []
    good: list[int] = []
    texts: list[Any] = []
    for line_no, record in records:
        if isinstance(record, Exception):
            outs.append({"line": line_no, "error": str(record)})
            continue
        if not isinstance(record, dict):
            outs.append({"line": line_no, "raw": record, "error": "line is not a JSON object"})
            continue
        out = dict(record)
        key = next((k for k in _COMPLETION_KEYS if k in record), None)
        missing = [] if "prompt" in record else ["prompt"]
        if key is None:
            missing.append(" or ".join(_COMPLETION_KEYS))
        if missing:
            out["error"] = f"missing field(s): {', '.join(missing)}"
        outs.append(out)
        if key is not None and not missing:
            good.append(len(outs) - 1)
            texts.append(record[key])
    if good:
        prompts = [outs[i]["prompt"] for i in good]
        completions = texts
        try:
            scores = scorer.score(prompts, completions, normalize=not raw)
        except (ValueError, TypeError, KeyError):  # isolate the bad line(s)
            scores = []
            for p, c in zip(prompts, completions, strict=True):
                try:
                    scores.append(scorer.score([p], [c], normalize=not raw)[0])
                except (ValueError, TypeError, KeyError) as exc:
                    scores.append(exc)
        for i, value in zip(good, scores, strict=True):
            if isinstance(value, Exception):
                outs[i]["error"] = str(value)
            else:
                outs[i]["score"] = value
    yield from outs


@app.command("score")
def score_command(
    file: str = typer.Argument(
        ..., help="JSONL of {prompt, completion} (or {prompt, response}) lines, or '-'."
    ),
    model: str = typer.Option(..., "--model", "-m", help="Trained reward model directory."),
    batch_size: int = typer.Option(16, help="Sequences per forward pass."),
    device: str = typer.Option("cpu", help="cpu, cuda[:N] or auto."),
    raw: bool = typer.Option(False, "--raw", help="Raw logits instead of (0, 1) scores."),
) -> None:
    """Score {prompt, completion|response} lines with a trained reward model.

    Prints each input line plus ``score`` (in (0, 1): sigmoid of the score standardized by
    the training statistics; the raw logit with --raw), or plus ``error`` for a bad line.
    """
    from balancedbio.config import ConfigError
    from balancedbio.rewards.model_reward import RewardModelScorer

    try:
        scorer = RewardModelScorer(model, batch_size=batch_size, device=device)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    stream = _open_input(file)
    try:
        chunk: list[tuple[int, Any]] = []
        for line_no, line in enumerate(stream, start=1):
            try:
                chunk.append((line_no, json.loads(line)))
            except ValueError as exc:
                chunk.append((line_no, ValueError(f"invalid JSON: {exc}")))
            if len(chunk) >= _SCORE_CHUNK:
                for out in _score_chunk(scorer, chunk, raw):
                    sys.stdout.write(json.dumps(out) + "\n")
                chunk = []
        for out in _score_chunk(scorer, chunk, raw):
            sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()
    finally:
        if stream is not sys.stdin:
            stream.close()
