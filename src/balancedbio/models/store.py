"""The on-disk cache of built models: manifests, integrity checks, locked atomic builds.

A cached model is a plain Hugging Face directory under ``cache_root()/models/<name>``. It is
written into a temporary sibling and renamed into place only once complete (``atomic_dir``);
its manifest (:data:`MANIFEST`) is the last file written, so a directory without one, with a
stale recipe, or with a file whose size differs from the one recorded is treated as absent
and rebuilt. A per-name file lock keeps two local processes from converting at once; should
two builds still race (no lock support), the loser notices the winner's directory and uses it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import struct
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from balancedbio.common import atomic_dir, cache_root, write_json

log = logging.getLogger(__name__)

MANIFEST = "balancedbio_manifest.json"
"""Completion marker + provenance; written last inside the temporary build directory."""

FORMAT = 1
"""Bump when the layout of built directories changes: older builds are then rebuilt."""

LOCK_TIMEOUT_S = 3600.0


def models_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """``<cache>/models``, created if needed."""
    root = cache_root(cache_dir) / "models"
    root.mkdir(parents=True, exist_ok=True)
    return root


def short_hash(*parts: object, length: int = 12) -> str:
    """A short stable hex digest of ``parts`` (JSON-encoded)."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:length]


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    """Full SHA-256 of a file, streamed."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------- checks


def check_safetensors(path: Path) -> str | None:
    """Cheap structural check of a ``.safetensors`` file; returns a problem or ``None``.

    Reads only the JSON header and compares the byte span it declares with the file size, so
    a truncated (or padded) file is caught without reading the tensors.
    """
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            raw = fh.read(8)
            if len(raw) < 8:
                return f"{path.name}: too short for a safetensors header"
            (header_len,) = struct.unpack("<Q", raw)
            if header_len > min(size - 8, 100 << 20):
                return f"{path.name}: header length {header_len} exceeds the file"
            header = json.loads(fh.read(header_len))
    except (OSError, ValueError) as exc:
        return f"{path.name}: unreadable safetensors header ({exc})"
    end = max(
        (int(v["data_offsets"][1]) for k, v in header.items() if k != "__metadata__"), default=0
    )
    if 8 + header_len + end != size:
        return f"{path.name}: size {size} != {8 + header_len + end} declared by its header"
    return None


def read_manifest(path: Path) -> dict[str, Any] | None:
    """The manifest of a built directory, or ``None`` when missing/unreadable."""
    try:
        data = json.loads((Path(path) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def problems(path: Path, kind: str, fingerprint: str, *, deep: bool = False) -> list[str]:
    """Why the built directory ``path`` is not a usable ``kind`` build (empty list: usable).

    Checks the manifest (format, kind, fingerprint, completion), every recorded file's
    presence and size, and safetensors headers; ``deep`` also re-hashes every file.
    """
    path = Path(path)
    if not path.is_dir():
        return [f"{path} does not exist"]
    manifest = read_manifest(path)
    if manifest is None:
        return [f"{path.name}: no {MANIFEST} (incomplete build)"]
    found: list[str] = []
    expected = {"format": FORMAT, "kind": kind, "fingerprint": fingerprint, "complete": True}
    for key, value in expected.items():
        if manifest.get(key) != value:
            found.append(f"{path.name}: manifest {key}={manifest.get(key)!r}, expected {value!r}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return [*found, f"{path.name}: manifest lists no files"]
    for name, info in files.items():
        file = path / name
        if not isinstance(info, dict):
            found.append(f"{path.name}: manifest entry for {name} is malformed")
        elif not file.is_file():
            found.append(f"{path.name}: missing {name}")
        elif (size := file.stat().st_size) != info.get("size"):
            found.append(f"{path.name}: {name} has size {size}, not {info.get('size')}")
        elif name.endswith(".safetensors") and (issue := check_safetensors(file)):
            found.append(f"{path.name}: {issue}")
        elif deep and sha256_file(file) != info.get("sha256"):
            found.append(f"{path.name}: {name} content differs from its recorded sha256")
    return found


def _version(distribution: str) -> str:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def write_manifest(
    path: Path, kind: str, fingerprint: str, extra: Mapping[str, Any], started: float
) -> dict[str, Any]:
    """Record every file of the finished build in ``path`` (the completion marker)."""
    files = {}
    for file in sorted(path.rglob("*")):
        if file.is_file() and file.name != MANIFEST:
            file.chmod(0o644)  # some writers create private files; the cache may be shared
            info = {"size": file.stat().st_size, "sha256": sha256_file(file)}
            files[file.relative_to(path).as_posix()] = info
    manifest = {
        "format": FORMAT,
        "kind": kind,
        "fingerprint": fingerprint,
        **extra,
        "transformers_version": _version("transformers"),
        "torch_version": _version("torch"),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": round(time.perf_counter() - started, 2),
        "files": files,
        "complete": True,
    }
    write_json(path / MANIFEST, manifest)
    (path / MANIFEST).chmod(0o644)
    return manifest


# --------------------------------------------------------------------------- building


@contextlib.contextmanager
def quiet_progress(enabled: bool) -> Iterator[None]:
    """Silence transformers' progress bars (including the GGUF dequantization one) unless
    ``enabled``; restores the previous state afterwards."""
    if enabled:
        yield
        return
    import transformers.modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    original = getattr(gguf_utils, "tqdm", None)
    hf_logging.disable_progress_bar()
    if original is not None:
        gguf_utils.tqdm = functools.partial(original, disable=True)
    try:
        yield
    finally:
        if original is not None:
            gguf_utils.tqdm = original
        if was_enabled:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def build_lock(final: Path) -> Iterator[bool]:
    """Exclusive inter-process lock for building ``final``; yields whether it is held
    (``False`` without ``filelock``: builds then rely on the atomic rename alone)."""
    try:
        from filelock import FileLock
    except ImportError:  # pragma: no cover - filelock ships with huggingface_hub
        yield False
        return
    with FileLock(str(final.parent / f".{final.name}.lock"), timeout=LOCK_TIMEOUT_S):
        yield True


def _remove_leftovers(final: Path) -> None:
    """Delete temp/old siblings of ``final`` left by killed builds (call under the lock)."""
    for pattern in (f".tmp-{final.name}-*", f".old-{final.name}-*"):
        for leftover in final.parent.glob(pattern):
            log.info("removing leftover %s", leftover)
            shutil.rmtree(leftover, ignore_errors=True)


def build_cached(
    final: Path,
    kind: str,
    fingerprint: str,
    builder: Callable[[Path], Mapping[str, Any]],
) -> Path:
    """Return ``final`` if it is a valid build, else build it atomically and return it.

    ``builder(tmp)`` writes the model into the temporary directory ``tmp`` and returns extra
    manifest fields; the manifest is written after it, then the directory is renamed into
    place. A failure or kill part-way leaves no ``final`` behind.
    """
    if not problems(final, kind, fingerprint):
        return final
    with build_lock(final) as locked:
        issues = problems(final, kind, fingerprint)
        if not issues:  # built by another process while we waited
            return final
        if final.exists():
            log.warning("rebuilding %s: %s", final, "; ".join(issues))
        if locked:  # nobody else can be building it now
            _remove_leftovers(final)
        started = time.perf_counter()
        try:
            with atomic_dir(final) as tmp:
                tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
                extra = builder(tmp)
                write_manifest(tmp, kind, fingerprint, extra, started)
        except OSError:
            # Lost a lock-free race: the rename failed because a complete build appeared.
            if problems(final, kind, fingerprint):
                raise
            log.info("%s was completed concurrently; using it", final)
    return final
