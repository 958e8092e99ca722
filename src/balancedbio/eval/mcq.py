"""Multiple-choice scoring: log-likelihood of the choices (lm-eval's ``multiple_choice``)
and the generated answer letter.

**Log-likelihood, as lm-eval 0.4.13 defines it.** A question is a context (``...\\nAnswer:``)
and one continuation per choice (``" " + target``, the target delimiter being a space).
Tokens: ``whole = encode(context + continuation)``, ``ctx = encode(context)`` (trailing
spaces of the context move to the continuation first), continuation tokens are
``whole[len(ctx):]``; the score of a choice is the sum of the continuation tokens'
log-probabilities given ``ctx`` (``is_greedy``: every continuation token is the argmax).
``acc``: the argmax choice is gold; ``acc_norm``: the argmax of ``ll / len(target)``, the
target's length in *characters* (lm-eval's ``completion_len``, without the delimiter).

**Why ours is faster.** Every choice of a question shares the context, so the context is
run once (a batch of questions, left-padded, explicit position ids) and its KV cache is
expanded to one row per choice for the (short) continuations. lm-eval runs
``context + continuation`` once per choice (one forward per question only when every
continuation is one token). The tokens seen are identical; only floating-point rounding
differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from balancedbio.rewards.answers import extract_choice

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

TARGET_DELIMITER = " "


@dataclass(frozen=True)
class MCQRequest:
    """One question for log-likelihood scoring: context, targets (no delimiter), gold index."""

    context: str
    targets: tuple[str, ...]
    gold: int

    @property
    def continuations(self) -> list[str]:
        return [f"{TARGET_DELIMITER}{t}" for t in self.targets]


def encode_pair(
    tokenizer: PreTrainedTokenizerBase, context: str, continuation: str
) -> tuple[list[int], list[int]]:
    """lm-eval's ``_encode_pair`` for causal models (``tokenizer.encode`` defaults)."""
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tokenizer.encode(context + continuation)
    ctx = tokenizer.encode(context)
    return ctx, whole[len(ctx) :]


def tokenize_request(
    tokenizer: PreTrainedTokenizerBase, req: MCQRequest, max_length: int
) -> tuple[list[int], list[list[int]]]:
    """Context tokens (left-truncated so every continuation fits ``max_length``, as lm-eval
    truncates ``context + continuation``) and each choice's continuation tokens."""
    pairs = [encode_pair(tokenizer, req.context, c) for c in req.continuations]
    ctx = pairs[0][0]
    conts = [cont for _, cont in pairs]
    if any(not c for c in conts):
        raise ValueError(f"a choice tokenizes to nothing: {req.targets!r}")
    longest = max(len(c) for c in conts)
    keep = max(1, max_length + 1 - longest)
    return ctx[-keep:], conts


def loglikelihoods(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    requests: Sequence[MCQRequest],
    *,
    batch_size: int = 8,
) -> list[list[tuple[float, bool]]]:
    """``(sum logprob, is_greedy)`` of every choice of every request, batched with a shared
    context prefix (see the module docstring); order follows ``requests``."""
    max_length = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
    encoded = [tokenize_request(tokenizer, r, max_length) for r in requests]
    order = sorted(range(len(requests)), key=lambda i: -len(encoded[i][0]))
    out: list[list[tuple[float, bool]]] = [[] for _ in requests]
    for start in range(0, len(order), batch_size):
        idx = order[start : start + batch_size]
        scored = _score_batch(model, [encoded[i] for i in idx], tokenizer.pad_token_id or 0)
        for i, res in zip(idx, scored, strict=True):
            out[i] = res
    return out


def _score_batch(
    model: Any, batch: list[tuple[list[int], list[list[int]]]], pad_id: int
) -> list[list[tuple[float, bool]]]:
    import torch

    ctx_len = [len(ctx) for ctx, _ in batch]
    width = max(ctx_len)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ctx, _) in enumerate(batch):
        ids[row, width - len(ctx) :] = torch.tensor(ctx)
        mask[row, width - len(ctx) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    with torch.inference_mode():
        first = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,  # only the last context position predicts a choice token
        )
        last_logp = torch.log_softmax(first.logits[:, -1, :].float(), dim=-1)  # [B, V]
        rows = [(b, cont) for b, (_, conts) in enumerate(batch) for cont in conts]
        longest = max(len(c) for _, c in rows)
        tail_logp = None
        if longest > 1:  # continuation tokens after the first need one more pass
            src = torch.tensor([b for b, _ in rows])
            cache = first.cache  # transformers >= 5.2x: `cache` (was past_key_values)
            cache.reorder_cache(src)
            cont_ids = torch.full((len(rows), longest - 1), pad_id, dtype=torch.long)
            for r, (_, cont) in enumerate(rows):
                cont_ids[r, : len(cont) - 1] = torch.tensor(cont[:-1])
            full_mask = torch.cat([mask[src], torch.ones_like(cont_ids)], dim=1)
            pos = torch.tensor([ctx_len[b] for b, _ in rows]).unsqueeze(1) + torch.arange(
                longest - 1
            )
            tail = model(
                input_ids=cont_ids,
                attention_mask=full_mask,
                position_ids=pos,
                cache=cache,
                use_cache=False,
            )
            tail_logp = torch.log_softmax(tail.logits.float(), dim=-1)  # [R, Lc-1, V]
    results: list[list[tuple[float, bool]]] = [[] for _ in batch]
    for r, (b, cont) in enumerate(rows):
        total = float(last_logp[b, cont[0]])
        greedy = int(last_logp[b].argmax()) == cont[0]
        for j, tok in enumerate(cont[1:]):
            step = tail_logp[r, j]  # type: ignore[index]
            total += float(step[tok])
            greedy = greedy and int(step.argmax()) == tok
        results[b].append((total, greedy))
    return results


def mcq_metrics(lls: Sequence[float], targets: Sequence[str], gold: int) -> dict[str, Any]:
    """lm-eval's ``acc`` / ``acc_norm`` (character-length normalized) for one question."""
    norm = [ll / float(len(t)) for ll, t in zip(lls, targets, strict=True)]
    pred = max(range(len(lls)), key=lambda i: (lls[i], -i))
    pred_norm = max(range(len(norm)), key=lambda i: (norm[i], -i))
    return {
        "pred": pred,
        "pred_norm": pred_norm,
        "acc": float(pred == gold),
        "acc_norm": float(pred_norm == gold),
    }


def letter_metrics(completion: str, choices: Sequence[str], gold_letter: str) -> dict[str, Any]:
    """Generated-answer scoring: the letter :func:`~balancedbio.rewards.answers.extract_choice`
    reads (None when there is no clear answer: wrong)."""
    letter = extract_choice(completion, list(choices))
    return {"pred_letter": letter, "acc_gen": float(letter == gold_letter)}


__all__ = [
    "TARGET_DELIMITER",
    "MCQRequest",
    "encode_pair",
    "letter_metrics",
    "loglikelihoods",
    "mcq_metrics",
    "tokenize_request",
]
