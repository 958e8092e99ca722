"""Per-sample logs that make an evaluation resumable after a kill.

A benchmark's samples are cut into fixed chunks (``chunk_size`` consecutive samples); each
scored chunk is appended to ``samples/<benchmark>.jsonl`` with one write, then flushed and
fsynced. On restart, only *complete* chunks count (every expected id once, in a line that
parses); anything else (a line cut by the kill, a partial chunk) is dropped and the file is
rewritten without it, so the restarted run recomputes exactly the missing chunks, with the
same batch composition as an uninterrupted run: identical results, no duplicate lines.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from balancedbio.common import atomic_write_bytes

log = logging.getLogger(__name__)


def chunk_ids(ids: Sequence[str], chunk_size: int) -> list[list[str]]:
    """Consecutive chunks of ``chunk_size`` sample ids (the last may be shorter)."""
    return [list(ids[i : i + chunk_size]) for i in range(0, len(ids), chunk_size)]


class SampleLog:
    """The JSONL log of one benchmark: ``{"chunk": k, "id": ..., ...}`` per sample."""

    def __init__(self, path: str | Path, chunks: Sequence[Sequence[str]]) -> None:
        self.path = Path(path)
        self.chunks = [list(c) for c in chunks]

    def load(self) -> dict[int, list[dict[str, Any]]]:
        """Complete chunks already logged (``chunk -> lines`` in sample order); the file is
        cleaned of anything else."""
        if not self.path.is_file():
            return {}
        raw = self.path.read_bytes()
        lines = raw.split(b"\n")
        tail = lines.pop()  # after the last newline: empty, or a line cut by a kill
        by_chunk: dict[int, list[tuple[bytes, dict[str, Any]]]] = {}
        dropped = int(bool(tail.strip()))
        for line in lines:
            try:
                obj = json.loads(line)
                k = int(obj["chunk"])
                str(obj["id"])
            except (ValueError, KeyError, TypeError):
                dropped += 1
                continue
            by_chunk.setdefault(k, []).append((line, obj))
        done: dict[int, list[dict[str, Any]]] = {}
        kept: list[bytes] = []
        for k, entries in sorted(by_chunk.items()):
            expected = self.chunks[k] if 0 <= k < len(self.chunks) else None
            first: dict[str, tuple[bytes, dict[str, Any]]] = {}
            for line, obj in entries:
                first.setdefault(str(obj["id"]), (line, obj))
            if (
                expected is None
                or sorted(first) != sorted(expected)
                or len(entries) != len(expected)
            ):
                dropped += len(entries)
                continue
            done[k] = [first[i][1] for i in expected]
            kept.extend(first[i][0] for i in expected)
        if dropped:
            log.info(
                "%s: dropping %d incomplete log line(s) from an interrupted run",
                self.path.name,
                dropped,
            )
            atomic_write_bytes(self.path, b"".join(line + b"\n" for line in kept))
        return done

    def append(self, chunk: int, entries: Sequence[Mapping[str, Any]]) -> None:
        """Append one chunk's lines in a single write, then flush and fsync."""
        data = "".join(
            json.dumps({"chunk": chunk, **e}, ensure_ascii=False, default=str) + "\n"
            for e in entries
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())


__all__ = ["SampleLog", "chunk_ids"]
