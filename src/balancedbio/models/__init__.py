"""Model assets: resolve a model spec to a local HF directory and load it safely.

``import balancedbio.models`` is light (no torch/transformers); heavy imports happen inside
the functions that need them.
"""

from __future__ import annotations

from balancedbio.models.config import ModelConfig
from balancedbio.models.loading import (
    generate_chat,
    load_model_and_tokenizer,
    load_tokenizer,
    torch_dtype,
)
from balancedbio.models.resolve import (
    BUILTINS,
    CachedModel,
    builtin_names,
    check_local_dir,
    list_cached,
    resolve_model,
)
from balancedbio.models.store import MANIFEST, problems

__all__ = [
    "BUILTINS",
    "MANIFEST",
    "CachedModel",
    "ModelConfig",
    "builtin_names",
    "check_local_dir",
    "generate_chat",
    "list_cached",
    "load_model_and_tokenizer",
    "load_tokenizer",
    "problems",
    "resolve_model",
    "torch_dtype",
]
