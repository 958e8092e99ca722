"""The learned reward: a trained reward model scoring (prompt, completion) pairs in batches.

A reward model directory (written by :func:`balancedbio.training.reward_model.train_reward_model`)
holds a ``num_labels=1`` sequence-classification model (safetensors), its tokenizer and
``reward_model.json``: the ``max_length`` it was trained with and the mean/std of its raw
scores over training chosen+rejected responses. :class:`RewardModelScorer` encodes exactly
as training did (:func:`encode`: chat template of prompt + assistant turn, keeping the last
``max_length`` tokens so the final answer is never cut) and, by default, maps each raw
score to ``sigmoid((raw - mean) / std)`` in (0, 1): a stable range next to the 0/1 rule
rewards, whatever the logits' scale.

Registered as reward ``reward_model`` (params ``path`` -- required --, ``batch_size``,
``normalize``, ``device``); it applies to every capability by default and is batched (see
:mod:`balancedbio.rewards.batch`). torch/transformers are imported on first use only.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from balancedbio.config import ConfigError
from balancedbio.rewards.base import completion_text
from balancedbio.rewards.registry import register_reward

META_FILE = "reward_model.json"
META_FORMAT = 1

Messages = list[dict[str, str]]


# --------------------------------------------------------------------------- encoding


def to_messages(prompt: Any) -> Messages:
    """A prompt as chat messages: a string becomes one user turn; messages are copied."""
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    if isinstance(prompt, Sequence) and prompt and all(isinstance(m, Mapping) for m in prompt):
        return [{"role": str(m["role"]), "content": completion_text(m)} for m in prompt]
    raise ValueError(f"prompt must be a string or a list of chat messages, got {prompt!r:.200}")


def conversation(prompt: Any, completion: Any) -> Messages:
    """Prompt messages followed by the completion as the assistant turn."""
    return [*to_messages(prompt), {"role": "assistant", "content": completion_text(completion)}]


def encode(tokenizer: Any, prompt: Any, completion: Any, max_length: int | None) -> list[int]:
    """Token ids of (prompt, completion), as the reward model is trained and scored.

    The chat template when the tokenizer has one (plain ``prompt\\n\\ncompletion<eos>``
    otherwise); longer than ``max_length``: the *last* ``max_length`` tokens are kept, so
    the end of the response (final answer, last steps) always counts.
    """
    messages = conversation(prompt, completion)
    if getattr(tokenizer, "chat_template", None):
        ids = list(
            tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
        )
    else:
        text = "\n\n".join(m["content"] for m in messages) + (tokenizer.eos_token or "")
        ids = list(tokenizer(text)["input_ids"])
    if max_length is not None and len(ids) > max_length:
        ids = ids[-max_length:]
    return ids


def score_ids(
    model: Any, pad_id: int, sequences: Sequence[Sequence[int]], batch_size: int = 16
) -> list[float]:
    """Raw scores (the ``num_labels=1`` logit) of token-id sequences, in input order.

    Sequences are batched longest first (little padding) and right-padded with ``pad_id``:
    the model reads the last non-pad token, exactly as in TRL's reward training.
    """
    import torch

    device = next(model.parameters()).device
    order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
    out = [0.0] * len(sequences)
    with torch.inference_mode():
        for start in range(0, len(order), max(1, batch_size)):
            idx = order[start : start + max(1, batch_size)]
            width = max(len(sequences[i]) for i in idx)
            ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, i in enumerate(idx):
                seq = torch.as_tensor(list(sequences[i]), dtype=torch.long)
                ids[row, : len(seq)] = seq
                mask[row, : len(seq)] = 1
            logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
            for row, value in zip(idx, logits[:, 0].float().cpu().tolist(), strict=True):
                out[row] = float(value)
    return out


def normalized(raw: float, mean: float, std: float) -> float:
    """``sigmoid((raw - mean) / std)``: 0.5 at the training mean, in (0, 1)."""
    z = (raw - mean) / max(std, 1e-6)
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def read_meta(path: str | Path) -> dict[str, Any]:
    """``reward_model.json`` of a reward model directory (clear errors when it is not one)."""
    meta_path = Path(path) / META_FILE
    if not meta_path.is_file():
        raise ConfigError(f"{path} is not a reward model directory (no {META_FILE})")
    meta = json.loads(meta_path.read_text())
    missing = [k for k in ("max_length", "mean", "std") if k not in meta]
    if missing:
        raise ConfigError(f"{meta_path}: missing key(s) {', '.join(missing)}")
    return meta


# --------------------------------------------------------------------------- scorer


class RewardModelScorer:
    """Batched scoring with a trained reward model; the weights load on first use."""

    def __init__(
        self,
        path: str | Path,
        batch_size: int = 16,
        device: str = "cpu",
        normalize: bool = True,
    ) -> None:
        self.path = Path(path)
        self.meta = read_meta(self.path)
        self.batch_size = int(batch_size)
        self.device = device
        self.normalize = bool(normalize)
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # picklable: the weights reload lazily
        state = self.__dict__.copy()
        state.update(_model=None, _tokenizer=None)
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def max_length(self) -> int | None:
        return self.meta.get("max_length")

    def load(self) -> tuple[Any, Any]:
        """(model, tokenizer), loaded once (safetensors only, eval mode)."""
        with self._lock:
            if self._model is None:
                import torch
                from transformers import AutoModelForSequenceClassification, AutoTokenizer

                device = self.device
                if device == "auto":
                    device = "cuda" if torch.cuda.is_available() else "cpu"
                tokenizer = AutoTokenizer.from_pretrained(self.path)
                if tokenizer.pad_token is None:
                    tokenizer.pad_token = tokenizer.eos_token
                model = AutoModelForSequenceClassification.from_pretrained(
                    self.path, dtype=torch.float32, use_safetensors=True
                )
                model.config.pad_token_id = tokenizer.pad_token_id
                self._model, self._tokenizer = model.to(device).eval(), tokenizer
        return self._model, self._tokenizer

    def raw_scores(self, prompts: Sequence[Any], completions: Sequence[Any]) -> list[float]:
        """Unnormalized scores (the model's logit), one per (prompt, completion)."""
        if len(prompts) != len(completions):
            raise ValueError(f"{len(prompts)} prompts for {len(completions)} completions")
        if not completions:
            return []
        model, tokenizer = self.load()
        ids = [
            encode(tokenizer, p, c, self.max_length)
            for p, c in zip(prompts, completions, strict=True)
        ]
        return score_ids(model, tokenizer.pad_token_id, ids, self.batch_size)

    def score(
        self, prompts: Sequence[Any], completions: Sequence[Any], normalize: bool | None = None
    ) -> list[float]:
        """Scores of (prompt, completion) pairs: in (0, 1) when normalizing (the default)."""
        raw = self.raw_scores(prompts, completions)
        if not (self.normalize if normalize is None else normalize):
            return raw
        mean, std = float(self.meta["mean"]), float(self.meta["std"])
        return [normalized(r, mean, std) for r in raw]


# --------------------------------------------------------------------------- reward


class ModelReward:
    """Per-sample and batched scoring of rows that carry their ``prompt`` (GRPO passes it)."""

    def __init__(self, scorer: RewardModelScorer) -> None:
        self.scorer = scorer

    def __call__(self, text: str, row: Mapping[str, Any]) -> float:
        return self.score_batch([text], [row])[0]

    def score_batch(self, texts: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[float]:
        return self.scorer.score([_prompt(row) for row in rows], texts)


def _prompt(row: Mapping[str, Any]) -> Any:
    if row.get("prompt") in (None, "", []):
        raise KeyError(f"reward_model needs the prompt; row has: {', '.join(sorted(row))}")
    return row["prompt"]


@register_reward(
    "reward_model",
    (),
    {"path": None, "batch_size": 16, "normalize": True, "device": "cpu"},
)
def reward_model(path: str | None, batch_size: int, normalize: bool, device: str) -> ModelReward:
    """Learned preference score of (prompt, completion), sigmoid-normalized to (0, 1)."""
    if not path:
        raise ValueError("params.path (a trained reward model directory) is required")
    if device not in ("cpu", "cuda", "auto") and not str(device).startswith("cuda:"):
        raise ValueError(f"device must be cpu, cuda[:N] or auto, got {device!r}")
    return ModelReward(RewardModelScorer(path, batch_size, device, normalize))


__all__ = [
    "META_FILE",
    "ModelReward",
    "RewardModelScorer",
    "conversation",
    "encode",
    "normalized",
    "read_meta",
    "reward_model",
    "score_ids",
    "to_messages",
]
