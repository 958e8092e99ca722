"""Load a resolved model and tokenizer the safe way, and a small chat-generation helper."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancedbio.models.config import ModelConfig
from balancedbio.models.resolve import resolve_model
from balancedbio.models.store import quiet_progress

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

log = logging.getLogger(__name__)

Message = dict[str, str]


def torch_dtype(name: str) -> torch.dtype:
    """``"bfloat16"`` -> ``torch.bfloat16`` (names as in :class:`ModelConfig`)."""
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def load_tokenizer(cfg: ModelConfig, *, progress: bool = False) -> PreTrainedTokenizerBase:
    """The model's tokenizer, with a pad token and left padding (ready for batched generation)."""
    path = resolve_model(cfg.name, cfg.cache_dir, progress=progress, revision=cfg.revision)
    return _tokenizer_at(path, cfg.name)


def _tokenizer_at(path: Path, name: str) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=False)
    if tokenizer.pad_token is None:
        fallback = tokenizer.eos_token or tokenizer.unk_token
        if fallback is None:
            raise ValueError(f"tokenizer of {name!r} has no pad, eos or unk token")
        tokenizer.pad_token = fallback
    tokenizer.padding_side = "left"
    if not tokenizer.chat_template:
        log.warning("tokenizer of %r has no chat template; chat formatting will fail", name)
    return tokenizer


def load_model_and_tokenizer(
    cfg: ModelConfig, *, progress: bool = False
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Causal LM (eval mode, ``cfg.dtype``) and tokenizer; never runs remote code, never
    unpickles weights (safetensors only)."""
    from transformers import AutoModelForCausalLM

    path = resolve_model(cfg.name, cfg.cache_dir, progress=progress, revision=cfg.revision)
    tokenizer = _tokenizer_at(path, cfg.name)
    with quiet_progress(progress):
        model = AutoModelForCausalLM.from_pretrained(
            path,
            dtype=torch_dtype(cfg.dtype),
            trust_remote_code=False,
            use_safetensors=True,
        )
    model.eval()
    gen = model.generation_config
    if gen is not None and gen.pad_token_id is None:
        gen.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def chat_inputs(
    tokenizer: PreTrainedTokenizerBase, conversations: Sequence[Sequence[Message]]
) -> dict[str, Any]:
    """Left-padded tensors for a batch of chats, each ending with an assistant turn prompt."""
    texts = [
        tokenizer.apply_chat_template(list(c), tokenize=False, add_generation_prompt=True)
        for c in conversations
    ]
    return dict(tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False))


def generate_chat(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[str | Sequence[Message]],
    *,
    max_new_tokens: int = 64,
) -> list[str]:
    """Greedy replies to a batch of prompts (strings become single user turns)."""
    import torch

    conversations = [[{"role": "user", "content": p}] if isinstance(p, str) else p for p in prompts]
    inputs = chat_inputs(tokenizer, conversations)
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
        )
    new = out[:, inputs["input_ids"].shape[1] :]
    return [text.strip() for text in tokenizer.batch_decode(new, skip_special_tokens=True)]
