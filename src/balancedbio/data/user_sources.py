"""User sources: a folder of clinical documents and a JSONL of case records.

Both are linked to the ontologies by grounding (``kg.ground`` / ``kg.lookup``): passages
keep the mentions found in them; records are grounded phrase by phrase when a case is
built (a phrase that does not ground rejects the record with ``unknown_entity``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancedbio.config import ConfigError
from balancedbio.data.source_base import Source

if TYPE_CHECKING:
    from balancedbio.data.index import KnowledgeIndex

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")


def digest(paths: Iterable[Path]) -> str:
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:12]


def split_sentences(text: str) -> list[str]:
    """Plain sentence split of prose (markdown headings and list markers removed)."""
    lines = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            lines.append("")
            continue
        lines.append(re.sub(r"^(?:[-*+]|\d+[.)])\s+", "", line))
    blocks = " ".join(x if x else "\n" for x in lines).split("\n")
    out = []
    for block in blocks:
        block = " ".join(block.split())
        if block:
            out += [s.strip() for s in _SENTENCE.split(block) if s.strip()]
    return out


@dataclass
class Passage:
    key: str
    doc: str
    title: str
    sentences: list[str]
    mentions: list[dict[str, str]] = field(default_factory=list)


class DocumentSource(Source):
    """A folder of clinical documents (``.md``/``.txt``), cut into passages."""

    name, tasks = "documents", ("document_instruction",)

    def __init__(self, folder: str | Path, index: KnowledgeIndex, sentences: int = 4) -> None:
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise ConfigError(f"sources.documents: {self.folder} is not a folder")
        self.files = sorted(p for p in self.folder.rglob("*") if p.suffix in (".md", ".txt"))
        if not self.files:
            raise ConfigError(f"sources.documents: no .md/.txt files in {self.folder}")
        self.kg, self.per = index.kg, max(2, sentences)

    @property
    def version(self) -> str:
        return f"{len(self.files)} files, sha256 {digest(self.files)}"

    @cached_property
    def passages(self) -> dict[str, Passage]:
        out: dict[str, Passage] = {}
        for path in self.files:
            text = path.read_text(encoding="utf-8")
            head = next((ln for ln in text.splitlines() if ln.startswith("#")), path.stem)
            title = head.lstrip("#").strip()
            sents = split_sentences(text)
            rel = path.relative_to(self.folder).as_posix()
            for k in range(0, len(sents), self.per):
                chunk = sents[k : k + self.per]
                mentions = [{"text": m.text, "id": m.id} for m in self.kg.ground(" ".join(chunk))]
                if len(chunk) >= 2 and mentions:
                    key = f"{rel}#{k // self.per}"
                    out[key] = Passage(key, rel, title, chunk, mentions)
        return out

    def pool(self, task: str) -> list[str]:
        return sorted(self.passages)

    def payload(self, key: str) -> dict[str, Any] | None:
        p = self.passages.get(key)
        return None if p is None else vars(p)


class RecordSource(Source):
    """A JSONL of case records (the user's business data)."""

    name, tasks = "records", ("record_case",)
    REQUIRED = ("id", "findings", "diagnosis")

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise ConfigError(f"sources.records: {self.path} is not a file")

    @property
    def version(self) -> str:
        return f"{self.path.name} sha256 {digest([self.path])}"

    @cached_property
    def records(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for n, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{self.path}:{n}: not JSON ({exc})") from exc
            missing = [k for k in self.REQUIRED if not rec.get(k)] if isinstance(rec, dict) else []
            if not isinstance(rec, dict) or missing:
                raise ConfigError(
                    f"{self.path}:{n}: a record needs {self.REQUIRED}, missing {missing}"
                )
            out[str(rec["id"])] = rec
        return out

    def pool(self, task: str) -> list[str]:
        return sorted(self.records)

    def payload(self, key: str) -> dict[str, Any] | None:
        return self.records.get(key)


__all__ = ["DocumentSource", "Passage", "RecordSource", "digest", "split_sentences"]
