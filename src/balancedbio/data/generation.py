"""Batched chat generation with per-row settings, shared by the local backend and the server.

One ``model.generate`` call serves rows that differ in budget, temperature, top-p and seed:

* sampling is done by a logits processor that draws each row's token with that row's own
  seeded :class:`torch.Generator` and hands a one-hot distribution to greedy decoding, so a
  row's output depends on (conversation, settings, row seed), not on its position or on the
  random draws of its batch companions. The same call is exactly reproducible. Across
  *different* batch compositions (other companions, other padding) the logits differ in the
  last bits, which occasionally flips a sampled token (measured: 1 of 64 completions of 32
  tokens with ``tiny-random``); no batched engine (vLLM included) is batch-invariant;
* a per-row stopping criterion ends each row at its own ``max_new_tokens``; since decoding is
  autoregressive, a short-budget row gets exactly the prefix it would get alone.

Row seeds come from :func:`row_seed` so that the in-process backend and the HTTP server give
the same completions for the same ``(conversation, seed, sample index)``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import xxhash

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

Message = dict[str, str]


@dataclass(frozen=True)
class GenRequest:
    """One completion to produce: a chat and its decoding settings (``temperature`` 0 = greedy)."""

    messages: Sequence[Message]
    max_new_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None


@dataclass(frozen=True)
class GenResult:
    """New text only (special tokens removed), token counts and why generation ended."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str  # "stop" (end of turn) or "length" (budget reached)


def row_seed(seed: int | None, sample: int) -> int:
    """Seed of sample ``sample`` for a request seeded ``seed`` (random when ``seed`` is None)."""
    if seed is None:
        return secrets.randbits(63)
    return xxhash.xxh64_intdigest(f"{seed}:{sample}".encode()) & (2**63 - 1)


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    ids: set[int] = set()
    gen = getattr(model, "generation_config", None)
    eos = getattr(gen, "eos_token_id", None)
    if isinstance(eos, int):
        ids.add(eos)
    elif eos:
        ids.update(int(e) for e in eos)
    if tokenizer.eos_token_id is not None:
        ids.add(int(tokenizer.eos_token_id))
    return ids


def _processors(rows: Sequence[GenRequest]) -> list[Any]:
    import torch
    from transformers import LogitsProcessor

    class RowSampler(LogitsProcessor):
        """Temperature / top-p sampling per row with a private generator per row.

        Inverse-CDF sampling (one uniform draw per row and step) is vectorized over rows;
        ``torch.multinomial`` is ~100x slower on a 50k vocabulary.
        """

        def __init__(self) -> None:
            self.rows = [i for i, r in enumerate(rows) if r.temperature > 0]
            self.gens = [
                torch.Generator().manual_seed(
                    rows[i].seed if rows[i].seed is not None else row_seed(None, 0)
                )
                for i in self.rows
            ]
            self.temps = torch.tensor([rows[i].temperature for i in self.rows])[:, None]
            self.top_p = torch.tensor([rows[i].top_p for i in self.rows])[:, None]
            self.nucleus = bool((self.top_p < 1.0).any())

        def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
            idx = torch.tensor(self.rows, device=scores.device)
            probs = torch.softmax(scores[idx].float().cpu() / self.temps, dim=-1)
            if self.nucleus:
                sorted_p, order = torch.sort(probs, dim=-1, descending=True)
                drop = (sorted_p.cumsum(-1) - sorted_p) > self.top_p  # always keeps the top token
                probs = probs.scatter(-1, order, sorted_p.masked_fill(drop, 0.0))
            cdf = probs.cumsum(-1)
            draws = torch.cat([torch.rand(1, generator=g, dtype=torch.float64) for g in self.gens])
            target = (draws.to(cdf.dtype) * cdf[:, -1])[:, None]
            tokens = torch.searchsorted(cdf, target, right=True).clamp_(max=cdf.shape[-1] - 1)
            out = scores.clone()
            out[idx] = float("-inf")
            out[idx, tokens[:, 0].to(scores.device)] = 0.0
            return out

    return [RowSampler()] if any(r.temperature > 0 for r in rows) else []


def _criteria(rows: Sequence[GenRequest], prompt_len: int) -> list[Any]:
    import torch
    from transformers import StoppingCriteria

    class RowBudget(StoppingCriteria):
        """Row ``i`` is done once it has ``rows[i].max_new_tokens`` new tokens."""

        def __init__(self) -> None:
            self.budget = torch.tensor([r.max_new_tokens for r in rows])

        def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
            done = (input_ids.shape[1] - prompt_len) >= self.budget
            return done.to(input_ids.device)

    return [RowBudget()]


def generate_rows(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, rows: Sequence[GenRequest]
) -> list[GenResult]:
    """Generate all ``rows`` in one left-padded batch (the tokenizer must pad on the left)."""
    import torch

    if not rows:
        return []
    texts = [
        tokenizer.apply_chat_template(list(r.messages), tokenize=False, add_generation_prompt=True)
        for r in rows
    ]
    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    device = next(model.parameters()).device
    inputs = {k: v.to(device) for k, v in enc.items()}
    prompt_len = inputs["input_ids"].shape[1]
    with torch.inference_mode():
        out = model.generate(
            **inputs,
            max_new_tokens=max(r.max_new_tokens for r in rows),
            do_sample=False,
            logits_processor=_processors(rows),
            stopping_criteria=_criteria(rows, prompt_len),
            pad_token_id=tokenizer.pad_token_id,
        )
    eos = _eos_ids(model, tokenizer)
    prompt_counts = enc["attention_mask"].sum(dim=1).tolist()
    results = []
    for i, row in enumerate(rows):
        new = out[i, prompt_len : prompt_len + row.max_new_tokens].tolist()
        end = next((k for k, tok in enumerate(new) if tok in eos), None)
        tokens = new if end is None else new[:end]
        results.append(
            GenResult(
                text=tokenizer.decode(tokens, skip_special_tokens=True),
                prompt_tokens=int(prompt_counts[i]),
                completion_tokens=len(tokens),
                finish_reason="stop" if end is not None else "length",
            )
        )
    return results
