"""Reading benchmark files: rows of JSONL / JSON / Parquet / CSV, with errors that say where.

Shared by :mod:`balancedbio.eval.readers`: :class:`ReaderError` carries ``path:where:
problem`` (``where`` is ``line N``, ``row N``, ``record N`` or ``key K``).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

LETTERS = "ABCDEFGHIJ"
Row = dict[str, Any]


class ReaderError(ValueError):
    """A malformed benchmark record: ``path:where: problem``."""

    def __init__(self, path: str | Path, where: str, problem: str) -> None:
        super().__init__(f"{path}:{where}: {problem}")
        self.path, self.where, self.problem = str(path), where, problem


# --------------------------------------------------------------------------- raw rows


def iter_rows(path: str | Path, *, header: bool = True) -> Iterator[tuple[str, Row]]:
    """``(where, row)`` for each record of a JSONL / JSON / Parquet / CSV file.

    ``where`` is ``line N`` (JSONL, CSV), ``row N`` (Parquet) or ``record N`` / ``key K``
    (JSON list / mapping). A CSV without ``header`` yields ``{"0": ..., "1": ...}``.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(path, "-", "file not found")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ReaderError(path, f"line {n}", f"invalid JSON ({exc.msg})") from exc
                if not isinstance(obj, dict):
                    raise ReaderError(path, f"line {n}", f"expected an object, got {obj!r:.60}")
                yield f"line {n}", obj
    elif suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ReaderError(path, f"line {exc.lineno}", f"invalid JSON ({exc.msg})") from exc
        items = data.items() if isinstance(data, dict) else enumerate(data, 1)
        for key, obj in items:
            where = f"key {key!r}" if isinstance(data, dict) else f"record {key}"
            if not isinstance(obj, dict):
                raise ReaderError(path, where, f"expected an object, got {obj!r:.60}")
            yield where, ({"_key": str(key), **obj} if isinstance(data, dict) else obj)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        for n, obj in enumerate(pq.read_table(path).to_pylist(), 1):
            yield f"row {n}", obj
    elif suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            names: list[str] | None = None
            for cells in reader:
                where = f"line {reader.line_num}"
                if header and names is None:
                    names = [c.strip() for c in cells]
                    continue
                if names is not None and len(cells) != len(names):
                    raise ReaderError(path, where, f"{len(cells)} fields, header has {len(names)}")
                keys = names or [str(i) for i in range(len(cells))]
                yield where, dict(zip(keys, cells, strict=True))
    else:
        raise ReaderError(
            path, "-", f"unsupported file type {suffix!r} (jsonl, json, parquet, csv)"
        )


def need(path: Path, where: str, row: Mapping[str, Any], key: str) -> Any:
    value = row.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ReaderError(path, where, f"missing field {key!r}")
    return value


def text_field(path: Path, where: str, row: Mapping[str, Any], key: str) -> str:
    value = need(path, where, row, key)
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ReaderError(path, where, f"field {key!r} must be text, got {value!r:.60}")
    return str(value).strip()


def choices_list(path: Path, where: str, raw: Any, n_min: int = 2) -> list[str]:
    if isinstance(raw, Mapping):
        keys = sorted(raw, key=str)
        if [str(k).upper() for k in keys] != list(LETTERS[: len(keys)]):
            raise ReaderError(path, where, f"options keys must be A, B, ...; got {keys}")
        raw = [raw[k] for k in keys]
    if isinstance(raw, str) or not isinstance(raw, Sequence) or len(raw) < n_min:
        raise ReaderError(path, where, f"expected a list of >= {n_min} options, got {raw!r:.80}")
    out = [str(c).strip() for c in raw]
    if any(not c for c in out):
        raise ReaderError(path, where, "empty option text")
    return out


def gold_index(path: Path, where: str, value: Any, choices: Sequence[str], base: int = 0) -> int:
    """A gold index from an index (``base``-based), a letter, or the option text."""
    if isinstance(value, bool):
        raise ReaderError(path, where, f"invalid answer {value!r}")
    if isinstance(value, int) or (isinstance(value, str) and value.strip().lstrip("-").isdigit()):
        index = int(value) - base
    elif isinstance(value, str) and value.strip().upper() in LETTERS[: len(choices)]:
        index = LETTERS.index(value.strip().upper())
    elif isinstance(value, str) and value.strip() in choices:
        index = list(choices).index(value.strip())
    else:
        raise ReaderError(path, where, f"answer {value!r} is not an option letter, index or text")
    if not 0 <= index < len(choices):
        raise ReaderError(
            path, where, f"answer {value!r} out of range for {len(choices)} options (base {base})"
        )
    return index


__all__ = [
    "LETTERS",
    "ReaderError",
    "choices_list",
    "gold_index",
    "iter_rows",
    "need",
    "text_field",
]
