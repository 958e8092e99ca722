"""Pickle-free, versioned on-disk cache of the built graph, and :func:`load_knowledge`.

Layout of ``<cache_root>/knowledge/<key>/`` (written atomically with ``atomic_dir``):

* ``arrays.bin``  - every array's raw little-endian bytes, back to back (8-byte aligned);
* ``strings.zst`` - one zstd frame (with zstd's own checksum) per string list, holding its
  ``\\x00``-joined UTF-8 items; lists are decompressed lazily, on first use;
* ``manifest.json`` - schema version, source fingerprints, versions, stats, the dtype /
  offset / length of each array, the item count of each string list, and the size and
  CRC-32 of both data files.

``<key>`` = ``v<schema>-<hash of schema, sources, options and source file fingerprints>``.
A cache is loaded only if the manifest's schema and fingerprints equal the current ones and
both files have the recorded size and CRC; anything else (truncated, garbled, stale) is
logged and rebuilt, never loaded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import zstandard

from balancedbio.common import atomic_dir, cache_root
from balancedbio.knowledge.builder import build_graph
from balancedbio.knowledge.config import KnowledgeConfig
from balancedbio.knowledge.data import (
    ARRAY_SPECS,
    SCHEMA_VERSION,
    STRING_NAMES,
    GraphData,
    StringTable,
)
from balancedbio.knowledge.graph import KnowledgeGraph
from balancedbio.knowledge.sources import SourceFiles, locate

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
ARRAYS = "arrays.bin"
STRINGS = "strings.zst"


class CacheError(ValueError):
    """A cache directory is corrupt, incomplete or stale."""


def cache_key(cfg: KnowledgeConfig, files: dict[str, SourceFiles]) -> tuple[str, dict[str, Any]]:
    """Return ``(key, identity)``: identity is what a valid cache's manifest must match."""
    identity = {
        "schema": SCHEMA_VERSION,
        "sources": list(cfg.sources),
        "include_genes": cfg.include_genes,
        "fingerprints": {name: f.fingerprint() for name, f in sorted(files.items())},
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return f"v{SCHEMA_VERSION}-{digest}", identity


def cache_dir_for(cfg: KnowledgeConfig) -> Path:
    """The directory the graph for ``cfg`` is (or would be) cached in."""
    files = {name: locate(name) for name in cfg.sources}
    key, _ = cache_key(cfg, files)
    return cache_root(cfg.cache_dir) / "knowledge" / key


# --------------------------------------------------------------------------- write


def save(data: GraphData, directory: Path, identity: dict[str, Any]) -> None:
    """Write ``data`` to ``directory`` atomically (replacing whatever is there)."""
    layout: dict[str, dict[str, Any]] = {}
    chunks: list[bytes] = []
    offset = 0
    for name, dtype in ARRAY_SPECS.items():
        arr = np.ascontiguousarray(data.arrays[name], dtype=np.dtype(dtype).newbyteorder("<"))
        raw = arr.tobytes()
        layout[name] = {"dtype": arr.dtype.str, "offset": offset, "length": int(arr.shape[0])}
        pad = (-len(raw)) % 8
        chunks += [raw, b"\0" * pad]
        offset += len(raw) + pad
    array_bytes = b"".join(chunks)
    frames = data.strings.to_frames()
    sections: dict[str, dict[str, int]] = {}
    offset = 0
    for name, frame in frames.items():
        sections[name] = {"offset": offset, "size": len(frame), "count": data.strings.size(name)}
        offset += len(frame)
    string_bytes = b"".join(frames.values())
    manifest = {
        **identity,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "versions": data.meta.get("versions", {}),
        "stats": data.meta.get("stats", {}),
        "mondo_links": data.meta.get("mondo_links", {}),
        "skipped": data.meta.get("skipped", {}),
        "arrays": layout,
        "strings": sections,
        "files": {
            ARRAYS: {"size": len(array_bytes), "crc32": zlib.crc32(array_bytes)},
            STRINGS: {"size": len(string_bytes), "crc32": zlib.crc32(string_bytes)},
        },
    }
    with atomic_dir(directory) as tmp:
        (tmp / ARRAYS).write_bytes(array_bytes)
        (tmp / STRINGS).write_bytes(string_bytes)
        # The manifest goes last: a directory without it is never considered complete.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))


# --------------------------------------------------------------------------- read


def _read_checked(directory: Path, name: str, expect: dict[str, Any]) -> bytes:
    try:
        raw = (directory / name).read_bytes()
    except OSError as exc:
        raise CacheError(f"{name}: {exc}") from exc
    if len(raw) != expect.get("size"):
        raise CacheError(f"{name}: size {len(raw)} != recorded {expect.get('size')} (truncated?)")
    if zlib.crc32(raw) != expect.get("crc32"):
        raise CacheError(f"{name}: checksum mismatch (corrupt)")
    return raw


def load(directory: Path, identity: dict[str, Any] | None = None) -> GraphData:
    """Load a cache directory; raise :class:`CacheError` unless it is complete and current."""
    try:
        manifest = json.loads((directory / MANIFEST).read_text())
    except (OSError, ValueError) as exc:
        raise CacheError(f"manifest unreadable: {exc}") from exc
    if not isinstance(manifest, dict):
        raise CacheError("manifest is not an object")
    if manifest.get("schema") != SCHEMA_VERSION:
        raise CacheError(f"stale schema {manifest.get('schema')!r} (current {SCHEMA_VERSION})")
    if identity is not None:
        for field, want in identity.items():
            if manifest.get(field) != json.loads(json.dumps(want)):
                raise CacheError(f"stale cache: {field} differs from the current sources/config")
    try:
        files = manifest["files"]
        array_bytes = _read_checked(directory, ARRAYS, files[ARRAYS])
        string_bytes = _read_checked(directory, STRINGS, files[STRINGS])
        arrays: dict[str, np.ndarray] = {}
        for name, spec in manifest["arrays"].items():
            dtype = np.dtype(spec["dtype"])
            arrays[name] = np.frombuffer(
                array_bytes, dtype=dtype, count=int(spec["length"]), offset=int(spec["offset"])
            )
        layout = manifest["strings"]
        if sorted(layout) != sorted(STRING_NAMES):
            raise CacheError(f"string lists {sorted(layout)} != expected {sorted(STRING_NAMES)}")
        strings = StringTable.from_frames(
            {
                name: (string_bytes[s["offset"] : s["offset"] + s["size"]], int(s["count"]))
                for name, s in layout.items()
            }
        )
        meta = {k: manifest.get(k, {}) for k in ("versions", "stats", "mondo_links", "skipped")}
        data = GraphData(arrays, strings, meta)
        data.validate()
    except CacheError:
        raise
    except (KeyError, TypeError, ValueError, zstandard.ZstdError, UnicodeDecodeError) as exc:
        raise CacheError(f"corrupt cache: {type(exc).__name__}: {exc}") from exc
    return data


# --------------------------------------------------------------------------- entry point


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str], None]]:
    if not enabled:
        yield lambda message: log.debug(message)
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]knowledge[/] {task.description}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=None)
        yield lambda message: bar.update(task, description=message)


def load_knowledge(cfg: KnowledgeConfig | None = None, *, progress: bool = False) -> KnowledgeGraph:
    """Load the knowledge graph from cache, building (and caching) it first if needed.

    The first call parses HPO, MONDO and ICD-10-CM (seconds); later calls read the cache
    (a fraction of a second). A corrupt or stale cache is rebuilt, never loaded.
    """
    cfg = cfg or KnowledgeConfig()
    with _progress(progress) as step:
        step("locating sources")
        files = {name: locate(name) for name in cfg.sources}
        key, identity = cache_key(cfg, files)
        directory = cache_root(cfg.cache_dir) / "knowledge" / key
        if (directory / MANIFEST).exists():
            step("loading cache")
            try:
                data = load(directory, identity)
                log.debug("knowledge graph loaded from %s", directory)
                return KnowledgeGraph(data, cache_dir=directory, from_cache=True)
            except CacheError as exc:
                log.warning("knowledge cache %s unusable (%s); rebuilding", directory, exc)
        data = build_graph(files, include_genes=cfg.include_genes, step=step)
        step("writing cache")
        try:
            save(data, directory, identity)
            log.info("knowledge graph cached in %s", directory)
        except OSError as exc:  # read-only or full disk: still usable, just not cached
            log.warning("could not write the knowledge cache to %s: %s", directory, exc)
            return KnowledgeGraph(data, cache_dir=None)
    return KnowledgeGraph(data, cache_dir=directory)


_DEFAULT: dict[KnowledgeConfig, KnowledgeGraph] = {}


def default_graph(cfg: KnowledgeConfig | None = None) -> KnowledgeGraph:
    """A process-wide graph per config, loaded on first use (for ``facts.check`` & co.)."""
    cfg = cfg or KnowledgeConfig()
    got = _DEFAULT.get(cfg)
    if got is None:
        got = _DEFAULT[cfg] = load_knowledge(cfg)
    return got
