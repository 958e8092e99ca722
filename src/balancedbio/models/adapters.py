"""PEFT adapter directories as model specs: merged once into a plain cached checkpoint.

A LoRA run (SFT or GRPO) saves an adapter (``adapter_config.json`` + safetensors) that
needs its base model to load. :func:`merged_adapter_dir` folds the adapter into its base
and caches the result like any other built model (``models/merged-<hash>``, atomic,
manifest-verified), so every consumer (evaluation, a later training stage, ``models
generate``) can take the adapter directory as its model spec.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from balancedbio.config import ConfigError
from balancedbio.models.store import build_cached, models_root, sha256_file, short_hash

log = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"
KIND = "merged-adapter"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def is_adapter_dir(path: Path) -> bool:
    """A PEFT adapter directory: an adapter config and no full model config."""
    return (path / ADAPTER_CONFIG).is_file() and not (path / "config.json").is_file()


def adapter_base(path: Path) -> str:
    """The base model the adapter was trained on (``base_model_name_or_path``)."""
    try:
        config = json.loads((path / ADAPTER_CONFIG).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"adapter {path}: unreadable {ADAPTER_CONFIG}: {exc}") from exc
    base = config.get("base_model_name_or_path")
    if not base:
        raise ConfigError(f"adapter {path}: {ADAPTER_CONFIG} names no base_model_name_or_path")
    return str(base)


def merged_adapter_dir(path: Path, cache_dir: str | None = None, *, progress: bool = False) -> Path:
    """The adapter at ``path`` merged into its base model, built once and cached."""
    from balancedbio.models.resolve import resolve_model

    path = path.resolve()
    weights = sorted(path.glob("adapter_model*.safetensors"))
    if not weights:
        raise ConfigError(f"adapter {path} has no adapter_model*.safetensors weights")
    base = resolve_model(adapter_base(path), cache_dir, progress=progress)
    digest = short_hash(
        sha256_file(path / ADAPTER_CONFIG), *(sha256_file(w) for w in weights), str(base)
    )
    final = models_root(cache_dir) / f"merged-{digest}"
    return build_cached(final, KIND, digest, lambda tmp: _merge_into(tmp, path, base))


def _merge_into(tmp: Path, adapter: Path, base: Path) -> dict[str, Any]:
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("merging adapter %s into %s", adapter, base)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32, use_safetensors=True)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    merged.save_pretrained(tmp, safe_serialization=True)
    has_tokenizer = any((adapter / name).is_file() for name in _TOKENIZER_FILES)
    AutoTokenizer.from_pretrained(adapter if has_tokenizer else base).save_pretrained(tmp)
    return {"adapter": str(adapter), "base": str(base)}
