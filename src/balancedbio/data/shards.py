"""Resumable, atomic shard output for generated datasets.

Layout of ``out_dir``::

    data/shard-00000.jsonl     items (or .parquet), one file per committed shard
    rejected/shard-00000.jsonl rejection records of the same commit
    progress.json              the commit point: shards, seed cursor, counts, schema
    rejected.jsonl             all rejections, written by finalize()
    manifest.json              counts + the caller's provenance, written by finalize()
    README.md                  dataset card: datasets.load_dataset(out_dir) gets typed columns

**Seed cursor.** The generator walks a deterministic seed stream and reports each seed as
done with :meth:`ShardWriter.end_seed` (or :meth:`~ShardWriter.add_seed`). Shards are
committed only at seed boundaries, once ``shard_size`` items (or ``shard_size`` rejections)
are buffered, so a shard holds at least ``shard_size`` items except the last one and one
seed's items never straddle shards. A commit writes the data and rejection files (temp +
``os.replace``) and then ``progress.json`` -- the single commit point, recording how many
seeds are consumed. After a kill at any moment, ``ShardWriter(out_dir, ..., resume=True)``
drops files of the uncommitted shard and reports :attr:`~ShardWriter.cursor`; the generator
restarts the seed stream there, regenerating exactly the uncommitted items: nothing lost,
nothing duplicated, and -- for a deterministic generator -- byte-identical output.

**Schema.** Rows must satisfy :mod:`balancedbio.data.schema` (fixed keys and types from the
first shard, or from a declared ``schema=``, which also types columns that happen to be null
throughout the first shard); fields that vary in shape go in ``json_fields`` and are stored
as JSON strings. Plain ``load_dataset("parquet", data_files=...)`` always works; plain
``load_dataset("json", data_files=...)`` works unless a declared column is null throughout
the first shard (a warning says so) -- ``load_shards`` / ``load_dataset(out_dir)`` always do.

Counts per capability (``item[capability_key]``; a list is joined with ``+``) and per
rejection reason (``record[reason_key]``) are kept in ``progress.json`` and the manifest.
A ``.lock`` file (``flock``) keeps two writers off one directory.
"""

from __future__ import annotations

import fcntl
import logging
import shutil
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from balancedbio.common import atomic_write_bytes, write_json
from balancedbio.config import ConfigError, choice_error
from balancedbio.data.row_json import LOOSE as _LOOSE
from balancedbio.data.row_json import SORTED as _SORTED
from balancedbio.data.row_json import STRICT_ROW as _ROW
from balancedbio.data.row_json import LineEncoder
from balancedbio.data.schema import (
    Schema,
    SchemaError,
    SchemaTracker,
    arrow_schema,
    conform,
    infer,
    merge,
    unresolved,
)
from balancedbio.data.shard_read import (
    CARD,
    MANIFEST,
    PROGRESS,
    REJECTED,
    iter_items,
    load_shards,
    read_progress,
    write_card,
)

log = logging.getLogger(__name__)

__all__ = [
    "FORMATS",
    "MANIFEST",
    "SchemaError",
    "ShardWriter",
    "iter_items",
    "load_shards",
    "read_progress",
]

FORMATS = ("jsonl", "parquet")
LOCK = ".lock"
VERSION = 1


def _json_line(obj: Any, strict: bool) -> str:
    return (_ROW(obj) if strict else _LOOSE(obj)) + "\n"


def _label(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(map(str, value)) or "unknown"
    return "unknown" if value is None else str(value)


class ShardWriter:
    """Write items and rejections to atomic shards with a resumable seed cursor."""

    def __init__(
        self,
        out_dir: str | Path,
        shard_size: int = 1000,
        format: str = "jsonl",
        *,
        resume: bool = False,
        overwrite: bool = False,
        fingerprint: str | None = None,
        json_fields: Sequence[str] = (),
        capability_key: str = "capability",
        reason_key: str = "reason",
        schema: Schema | None = None,
    ):
        if format not in FORMATS:
            raise choice_error("shard format", format, FORMATS)
        if shard_size < 1:
            raise ConfigError(f"shard_size must be >= 1, got {shard_size}")
        self.out_dir = Path(out_dir)
        self.shard_size, self.format = shard_size, format
        self.json_fields = list(json_fields)
        self.capability_key, self.reason_key = capability_key, reason_key
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._lock_fh: IO[str] | None = self._lock()
        try:
            state = read_progress(self.out_dir)
            if state is not None and not resume:
                if not overwrite:
                    raise ConfigError(
                        f"{self.out_dir} already holds a run ({state['cursor']} seeds committed); "
                        "resume it (resume=True) or pass overwrite=True"
                    )
                self._clear()
                state = None
            if state is None:
                state = self._fresh_state(fingerprint)
            else:
                self._check_settings(state, fingerprint)
                log.info(
                    "resuming %s at seed %d (%d items)", out_dir, state["cursor"], state["items"]
                )
            self._state = state
            self._drop_uncommitted()
        except BaseException:
            self._unlock()
            raise
        self._schema = SchemaTracker(state["schema"])
        if schema is not None:
            self._declare(schema)
        # Buffered items: rows (None once a JSONL row is encoded for good), their JSON lines
        # (None where still to encode) and capability labels (frozen schema only).
        self._items: list[dict[str, Any] | None] = []
        self._lines: list[str | None] = []
        self._labels: list[str] = []
        self._line = LineEncoder()
        self._rejected: list[dict[str, Any]] = []
        self._seeds = 0  # seeds completed since the last commit
        self._open_seed = False  # items/rejections added since the last end_seed()
        self._mark = (0, 0)  # buffer lengths at the last end_seed()

    def _declare(self, schema: Schema) -> None:
        """Start inference from a declared schema (types columns that are null at first)."""
        tracker = self._schema
        if not tracker.frozen:
            tracker.schema = schema if tracker.schema is None else merge(schema, tracker.schema)
            return
        try:
            compatible = merge(tracker.schema, schema) == tracker.schema
        except SchemaError:
            compatible = False
        if not compatible:
            raise ConfigError(
                f"{self.out_dir} was written with a different row schema; "
                "finish it with the code that started it, or start a new run"
            )

    @classmethod
    def resume(cls, out_dir: str | Path, **kwargs: Any) -> ShardWriter:
        """Reopen a run with its stored settings (shard size, format, json fields, fingerprint)."""
        state = read_progress(out_dir)
        if state is None:
            raise ConfigError(f"{out_dir} has no {PROGRESS}: nothing to resume")
        settings = {
            "shard_size": state["shard_size"],
            "format": state["format"],
            "json_fields": state["json_fields"],
            "fingerprint": state["fingerprint"],
            "capability_key": state["capability_key"],
            "reason_key": state["reason_key"],
        }
        return cls(out_dir, **(settings | kwargs), resume=True)

    # ------------------------------------------------------------------ state

    def _fresh_state(self, fingerprint: str | None) -> dict[str, Any]:
        return {
            "version": VERSION,
            "format": self.format,
            "shard_size": self.shard_size,
            "json_fields": self.json_fields,
            "fingerprint": fingerprint,
            "capability_key": self.capability_key,
            "reason_key": self.reason_key,
            "cursor": 0,
            "items": 0,
            "rejected": 0,
            "by_capability": {},
            "by_reason": {},
            "rejected_by_capability": {},
            "schema": None,
            "shards": [],
            "finalized": False,
        }

    def _check_settings(self, state: Mapping[str, Any], fingerprint: str | None) -> None:
        mine = {
            "format": self.format,
            "shard_size": self.shard_size,
            "json_fields": self.json_fields,
            "capability_key": self.capability_key,
            "reason_key": self.reason_key,
        }
        if fingerprint is not None:
            mine["fingerprint"] = fingerprint
        diff = {k: (state.get(k), v) for k, v in mine.items() if state.get(k) != v}
        if diff:
            detail = "; ".join(f"{k}: stored {a!r}, given {b!r}" for k, (a, b) in diff.items())
            raise ConfigError(f"cannot resume {self.out_dir} with different settings ({detail})")

    def _lock(self) -> IO[str]:
        fh = open(self.out_dir / LOCK, "a")  # noqa: SIM115 - held for the writer's lifetime
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            raise ConfigError(f"{self.out_dir} is in use by another writer") from None
        return fh

    def _unlock(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def _clear(self) -> None:
        for sub in ("data", "rejected"):
            shutil.rmtree(self.out_dir / sub, ignore_errors=True)
        for name in (PROGRESS, MANIFEST, REJECTED, CARD):
            (self.out_dir / name).unlink(missing_ok=True)

    def _drop_uncommitted(self) -> None:
        for tmp in sorted(self.out_dir.glob(".tmp-*")):  # a write killed half-way
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
        keep = {s[k] for s in self._state["shards"] for k in ("data", "rejected_file") if s[k]}
        for sub in ("data", "rejected"):
            folder = self.out_dir / sub
            for path in sorted(folder.iterdir()) if folder.is_dir() else ():
                if f"{sub}/{path.name}" not in keep:
                    log.info("removing uncommitted %s", path)
                    path.unlink()

    @property
    def cursor(self) -> int:
        """Seeds consumed by committed shards: where a resumed generator starts."""
        return int(self._state["cursor"])

    @property
    def finalized(self) -> bool:
        return bool(self._state["finalized"])

    @property
    def committed_items(self) -> int:
        return int(self._state["items"])

    # ------------------------------------------------------------------ writing

    def _writable(self) -> None:
        if self._lock_fh is None or self._state["finalized"]:  # one test per call: hot
            if self._lock_fh is None:
                raise RuntimeError(f"writer for {self.out_dir} is closed")
            raise RuntimeError(f"{self.out_dir} is finalized; nothing more can be added")

    def add(self, item: Mapping[str, Any]) -> None:
        """Buffer one item of the current seed (validated against the run's schema now).

        A JSONL row is checked and encoded in one walk where the compiled line function
        takes it; other rows go through :meth:`SchemaTracker.check`. Encoding at once means
        a non-finite float in a frozen schema raises here rather than at the commit.
        """
        self._writable()
        row = dict(item)
        for key in self.json_fields:
            row[key] = _SORTED(row.get(key))
        tracker = self._schema
        line = self._fast_line(row) if self.format == "jsonl" else None
        if line is None:
            schema = tracker.schema
            row = tracker.check(row)
            if tracker.schema is not schema:  # refined: lines encoded so far may be stale
                self._lines = [None] * len(self._lines)
            if tracker.frozen and self.format == "jsonl":
                line = _ROW(row)
        if tracker.frozen:  # labels now; rows kept only where a commit needs them
            cap = row.get(self.capability_key)
            self._labels.append(cap if type(cap) is str else self._capability(row))
        self._items.append(row if line is None or not tracker.frozen else None)
        self._lines.append(line)
        self._open_seed = True

    def _capability(self, row: Mapping[str, Any]) -> str:
        """The capability label of a checked row, read as its conformed copy holds it."""
        value = row.get(self.capability_key)
        if value is not None and type(value) is not str:  # e.g. an int in a float column
            value = conform(value, self._schema.schema["struct"][self.capability_key])
        return _label(value)

    def _fast_line(self, row: dict[str, Any]) -> str | None:
        """The row's JSON line under the current schema, or None for the plain path."""
        schema = self._schema.schema
        return None if schema is None else self._line(row, schema)

    def reject(self, record: Mapping[str, Any]) -> None:
        """Buffer one rejection record of the current seed (needs ``record[reason_key]``)."""
        self._writable()
        self._rejected.append(dict(record))
        self._open_seed = True

    def end_seed(self, count: int = 1) -> None:
        """Mark ``count`` seeds as fully processed; commits a shard when one is full."""
        self._writable()
        self._seeds += count
        self._open_seed = False
        if len(self._items) >= self.shard_size or len(self._rejected) >= self.shard_size:
            self._commit()
        self._mark = (len(self._items), len(self._rejected))

    def add_seed(
        self, items: Sequence[Mapping[str, Any]], rejected: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Everything one seed produced (possibly nothing), then :meth:`end_seed`."""
        for item in items:
            self.add(item)
        for record in rejected:
            self.reject(record)
        self.end_seed()

    def _encode(self, rows: list[dict[str, Any] | None]) -> bytes:
        if self.format == "jsonl":
            # Encoded line by line: one joined str would be as wide as its widest character
            # (a single CJK or math sign widens a whole shard), and slower to encode.
            lines = [
                (_ROW(r) if ln is None else ln).encode()
                for r, ln in zip(rows, self._lines, strict=True)
            ]
            lines.append(b"")
            return b"\n".join(lines)
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(rows, schema=arrow_schema(self._schema.schema))
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        return sink.getvalue().to_pybytes()

    def _commit(self) -> None:
        if self._open_seed:
            raise RuntimeError("a seed is still open: call end_seed() before committing")
        if not (self._items or self._rejected or self._seeds):
            return
        state, index = self._state, len(self._state["shards"])
        rows = self._items
        if rows and not self._schema.frozen:
            rows = self._freeze(rows)  # type: ignore[arg-type]  # all kept before the freeze
        data = rejected_file = None
        if rows:
            data = f"data/shard-{index:05d}.{self.format}"
            atomic_write_bytes(self.out_dir / data, self._encode(rows))
        if self._rejected:
            rejected_file = f"rejected/shard-{index:05d}.jsonl"
            text = "".join(_json_line(r, strict=False) for r in self._rejected)
            atomic_write_bytes(self.out_dir / rejected_file, text.encode("utf-8"))
        caps = Counter(state["by_capability"])
        caps.update(self._labels)
        reasons = Counter(state["by_reason"])
        reasons.update(_label(r.get(self.reason_key, "unspecified")) for r in self._rejected)
        rej_caps = Counter(state["rejected_by_capability"])
        rej_caps.update(_label(r.get(self.capability_key)) for r in self._rejected)
        state["shards"].append(
            {
                "data": data,
                "rejected_file": rejected_file,
                "items": len(rows),
                "rejected": len(self._rejected),
                "seeds": [state["cursor"], state["cursor"] + self._seeds],
            }
        )
        state["cursor"] += self._seeds
        state["items"] += len(rows)
        state["rejected"] += len(self._rejected)
        state["by_capability"] = dict(sorted(caps.items()))
        state["by_reason"] = dict(sorted(reasons.items()))
        state["rejected_by_capability"] = dict(sorted(rej_caps.items()))
        state["schema"] = self._schema.schema
        write_json(self.out_dir / PROGRESS, state)  # the commit point
        self._items, self._lines, self._labels = [], [], []
        self._rejected, self._seeds = [], 0

    def _freeze(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Fix the schema at the first commit; conform the rows still without a valid line."""
        tracker = self._schema
        tracker.fix()
        check = tracker.check  # frozen: returns the conformed row
        rows = [check(r) if ln is None else r for r, ln in zip(rows, self._lines, strict=True)]
        self._labels = [self._capability(r) for r in rows]
        self._warn_untyped_first_shard(rows)
        return rows

    def _warn_untyped_first_shard(self, rows: list[dict[str, Any]]) -> None:
        if self.format != "jsonl":
            return
        seen = infer(rows[0])
        for k, row in enumerate(rows[1:], 1):
            seen = merge(seen, infer(row))
            if k % 16 == 0 and not unresolved(seen):
                return  # every column typed already: the rest cannot untype it
        if missing := unresolved(seen):
            log.warning(
                "%s: column(s) %s are null/empty throughout the first shard; load the JSONL "
                "with the run's features (load_shards(), or load_dataset(out_dir) which reads "
                "README.md), not plain load_dataset('json')",
                self.out_dir,
                ", ".join(missing),
            )

    def close(self) -> None:
        """Commit the completed seeds still buffered (dropping a half-done one); release the dir."""
        if self._lock_fh is None:
            return
        try:
            if self._open_seed:  # its items are regenerated when the run resumes
                log.warning(
                    "closing %s with a seed still open; its output is dropped", self.out_dir
                )
                items, rejected = self._mark
                self._items, self._lines = self._items[:items], self._lines[:items]
                self._labels, self._rejected = self._labels[:items], self._rejected[:rejected]
                self._open_seed = False
            if not self.finalized:
                self._commit()
        finally:
            self._unlock()

    def finalize(self, manifest: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Commit the rest, write ``rejected.jsonl`` and ``manifest.json``; returns the manifest.

        ``manifest`` holds the caller's provenance (source versions, config, seed...); the
        writer adds files, counts, schema and ``json_fields`` (its keys win on a clash).
        """
        if self._lock_fh is None:
            raise RuntimeError(f"writer for {self.out_dir} is closed")
        try:
            if not self.finalized:
                self._commit()
            state = self._state
            rejected = b"".join(
                (self.out_dir / s["rejected_file"]).read_bytes()
                for s in state["shards"]
                if s["rejected_file"]
            )
            atomic_write_bytes(self.out_dir / REJECTED, rejected)
            files = [s["data"] for s in state["shards"] if s["data"]]
            ours = {
                "format": self.format,
                "files": files,
                "items": state["items"],
                "rejected": state["rejected"],
                "by_capability": state["by_capability"],
                "by_reason": state["by_reason"],
                "rejected_by_capability": state["rejected_by_capability"],
                "seeds_consumed": state["cursor"],
                "shard_size": self.shard_size,
                "json_fields": self.json_fields,
                "schema": state["schema"],
                "fingerprint": state["fingerprint"],
                "rejected_file": REJECTED,
            }
            clash = sorted(set(manifest or {}) & set(ours))
            if clash:
                log.warning("manifest keys %s are set by the writer; caller values ignored", clash)
            result = {**dict(manifest or {}), **ours}
            write_card(self.out_dir, self.format, files, state["schema"])
            write_json(self.out_dir / MANIFEST, result)
            if not state["finalized"]:
                state["finalized"] = True
                write_json(self.out_dir / PROGRESS, state)
            return result
        finally:
            self._unlock()

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:  # keep only what was committed; a resumed run regenerates the rest
            self._unlock()

    # ------------------------------------------------------------------ reading

    def data_files(self) -> list[Path]:
        """Committed data files, in order."""
        return [self.out_dir / s["data"] for s in self._state["shards"] if s["data"]]

    def iter_committed(self, decode: bool = True) -> Iterator[dict[str, Any]]:
        """Committed items in order (e.g. to rebuild dedup indexes after a resume)."""
        yield from iter_items(self.out_dir, decode=decode)
