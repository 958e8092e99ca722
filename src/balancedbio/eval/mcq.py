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
run once (a batch of questions, left-padded, explicit position ids, logits of the last
position only) and the continuations run in a second pass on the context's KV cache, each
row on its question's cache (rows sorted by length, :data:`CONT_ROWS` per pass). lm-eval
runs ``context + continuation`` once per choice (once per question only when every
continuation is one token) and takes the LM head and log-softmax at every position. The
tokens seen are identical; only floating-point rounding differs (tested to 2e-4).
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


#: Continuation rows per pass (rows are sorted by length first, so little padding).
CONT_ROWS = 16


def _score_batch(
    model: Any, batch: list[tuple[list[int], list[list[int]]]], pad_id: int
) -> list[list[tuple[float, bool]]]:
    import torch
    from transformers import DynamicCache

    ctx_len = [len(ctx) for ctx, _ in batch]
    width = max(ctx_len)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ctx, _) in enumerate(batch):
        ids[row, width - len(ctx) :] = torch.tensor(ctx)
        mask[row, width - len(ctx) :] = 1
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    rows = [(b, cont) for b, (_, conts) in enumerate(batch) for cont in conts]
    scores: list[tuple[float, bool]] = [(0.0, True)] * len(rows)
    with torch.inference_mode():
        first = model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            logits_to_keep=1,  # only the last context position predicts a choice token
        )
        last_logp = torch.log_softmax(first.logits[:, -1, :].float(), dim=-1)  # [B, V]
        last_best = last_logp.argmax(-1)
        for r, (b, cont) in enumerate(rows):
            scores[r] = (float(last_logp[b, cont[0]]), int(last_best[b]) == cont[0])
        # tokens after the first: the context's KV cache, selected per row, then one pass
        multi = sorted(
            (r for r, (_, c) in enumerate(rows) if len(c) > 1), key=lambda r: -len(rows[r][1])
        )
        for g in range(0, len(multi), CONT_ROWS):
            group = multi[g : g + CONT_ROWS]
            src = torch.tensor([rows[r][0] for r in group])
            cache = DynamicCache(
                ddp_cache_data=[(lay.keys[src], lay.values[src]) for lay in first.cache.layers]
            )
            span = len(rows[group[0]][1]) - 1
            cont_ids = torch.full((len(group), span), pad_id, dtype=torch.long)
            for i, r in enumerate(group):
                tail = rows[r][1][:-1]
                cont_ids[i, : len(tail)] = torch.tensor(tail)
            pos = torch.tensor([ctx_len[rows[r][0]] for r in group]).unsqueeze(1) + torch.arange(
                span
            )
            out = model(
                input_ids=cont_ids,
                attention_mask=torch.cat([mask[src], torch.ones_like(cont_ids)], dim=1),
                position_ids=pos,
                cache=cache,  # transformers >= 5.2x names it `cache` (was past_key_values)
                use_cache=False,
            )
            logp = torch.log_softmax(out.logits.float(), dim=-1)  # [G, span, V]
            for i, r in enumerate(group):
                want = torch.tensor(rows[r][1][1:])
                step = logp[i, : len(want)]
                total, greedy = scores[r]
                total += float(step.gather(-1, want.unsqueeze(-1)).sum())
                greedy = greedy and bool((step.argmax(-1) == want).all())
                scores[r] = (total, greedy)
    results: list[list[tuple[float, bool]]] = [[] for _ in batch]
    for (b, _), score in zip(rows, scores, strict=True):
        results[b].append(score)
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
