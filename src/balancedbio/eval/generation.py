"""Batched greedy chat generation for evaluation (left padding, length-sorted batches).

Unlike :func:`balancedbio.models.generate_chat`, completions are returned unstripped: IFEval's
strict checks see the response exactly as generated, as in lm-eval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from balancedbio.models.loading import chat_inputs

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

Message = dict[str, str]


def _plain(conversation: Sequence[Message]) -> str:
    """A chat as plain text, for tokenizers without a chat template (base models)."""
    return "\n\n".join(m["content"] for m in conversation if m.get("role") != "system") + "\n"


def _encode(tokenizer: PreTrainedTokenizerBase, conversations: Sequence[Sequence[Message]]) -> Any:
    if tokenizer.chat_template:
        return chat_inputs(tokenizer, conversations)
    texts = [_plain(c) for c in conversations]
    return dict(tokenizer(texts, return_tensors="pt", padding=True))


def generate_batched(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    conversations: Sequence[Sequence[Message]],
    *,
    max_new_tokens: int,
    batch_size: int = 8,
) -> list[str]:
    """Greedy replies, in input order; batches group prompts of similar length. Prompts use
    the tokenizer's chat template (plain text joined by blank lines when it has none)."""
    import torch

    if tokenizer.chat_template:
        lengths = [
            len(tokenizer.apply_chat_template(list(c), tokenize=False, add_generation_prompt=True))
            for c in conversations
        ]
    else:
        lengths = [len(_plain(c)) for c in conversations]
    order = sorted(range(len(conversations)), key=lambda i: (-lengths[i], i))
    out = [""] * len(conversations)
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        inputs = _encode(tokenizer, [conversations[i] for i in idx])
        with torch.inference_mode():
            generated = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = generated[:, inputs["input_ids"].shape[1] :]
        for i, text in zip(idx, tokenizer.batch_decode(new, skip_special_tokens=True), strict=True):
            out[i] = text
    return out


__all__ = ["generate_batched"]
