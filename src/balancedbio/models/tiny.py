"""``tiny-random``: a seeded, random-weight Llama with SmolLM2's real tokenizer.

It has the vocabulary, special tokens and ChatML template of SmolLM2 (so prompts, rewards and
chat formatting behave exactly as with the real model) but only ~3.3 M parameters, so tests
and dry runs train and generate in seconds. Weights depend only on the seed (and the torch
version); the build is cached like any other model under ``models/tiny-random-<seed>``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from balancedbio.models.smollm2 import finalize_tokenizer, tokenizer_dir
from balancedbio.models.store import build_cached, models_root, quiet_progress, short_hash

log = logging.getLogger(__name__)

NAME = "tiny-random"
_SEEDED = re.compile(rf"^{NAME}(?:-(\d{{1,9}}))?$")
MAX_POSITIONS = 512

ARCHITECTURE: dict[str, Any] = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "intermediate_size": 128,
    "max_position_embeddings": MAX_POSITIONS,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "initializer_range": 0.02,
}


def parse_seed(spec: str) -> int | None:
    """``tiny-random`` -> 0, ``tiny-random-7`` -> 7, anything else -> ``None``."""
    match = _SEEDED.match(spec)
    if match is None:
        return None
    return int(match.group(1) or 0)


def build_into(tmp: Path, seed: int, tokenizer_src: Path, progress: bool = False) -> dict[str, Any]:
    """Create the seeded random model in ``tmp``; returns manifest extras."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    log.info("building %s-%d", NAME, seed)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_src, trust_remote_code=False)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        **ARCHITECTURE,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config).to(torch.float32).eval()
    model.config.name_or_path = f"{NAME}-{seed}"
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
    )
    with quiet_progress(progress):
        model.save_pretrained(tmp)
    # Same tokenizer files, only the context limit differs.
    finalize_tokenizer(tokenizer, MAX_POSITIONS).save_pretrained(tmp)
    return {"seed": seed, "architecture": ARCHITECTURE, "tokenizer": tokenizer_src.name}


def tiny_random_dir(seed: int = 0, cache_dir: str | None = None, *, progress: bool = False) -> Path:
    """Path of the cached ``tiny-random`` model for ``seed``, building it if needed."""
    tok = tokenizer_dir(cache_dir, progress=progress)
    fingerprint = short_hash(NAME, seed, ARCHITECTURE, tok.name)
    final = models_root(cache_dir) / f"{NAME}-{seed}"
    return build_cached(final, NAME, fingerprint, lambda tmp: build_into(tmp, seed, tok, progress))
