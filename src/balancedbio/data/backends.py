"""Chat LLM backends for model-based construction: local transformers, any OpenAI-compatible
HTTP server (vLLM, SGLang, TGI, :mod:`balancedbio.data.openai_server`), and a fake for tests.

Every backend answers ``generate(conversations, max_new_tokens=, temperature=, seed=, n=)``
with one entry per conversation, in order: a list of ``n`` completions, or a
:class:`BackendError` when that conversation failed (after retries, for HTTP). A failure is
the caller's rejection to log, never a crash of the run.

Determinism: with a seed, a conversation's completions are a function of (conversation,
seed, sample index), not of its position in the call, for the local backend and our server
alike (see :mod:`balancedbio.data.generation`); a repeated call is exactly reproducible, and
a different batch composition only rarely flips a sampled token (floating point).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from balancedbio.config import ConfigError, choice_error
from balancedbio.data.openai_client import BackendError, BackendStats, OpenAIBackend

log = logging.getLogger(__name__)

Message = dict[str, str]
Conversation = Sequence[Message]
Completions = list[str] | BackendError

__all__ = [
    "BackendConfig",
    "BackendError",
    "BackendStats",
    "ChatBackend",
    "Completions",
    "FakeBackend",
    "OpenAIBackend",
    "TransformersBackend",
    "make_backend",
    "parse_json_object",
]


@runtime_checkable
class ChatBackend(Protocol):
    """What construction code needs from an LLM (``agenerate`` is optional)."""

    name: str

    def generate(
        self,
        conversations: Sequence[Conversation],
        *,
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
        n: int = 1,
    ) -> list[Completions]:
        """One entry per conversation, in order: ``n`` completions or a :class:`BackendError`."""
        ...


BACKEND_KINDS = ("transformers", "openai", "fake")


@dataclass(frozen=True)
class BackendConfig:
    """Which LLM constructs model-based items (``backend=openai`` sets ``kind``).

    ``model`` is a model spec for ``transformers`` (built-in name, local dir, hub id) and the
    served model name for ``openai``; ``base_url`` is the endpoint's ``.../v1`` URL. The API
    key, when the server needs one, is read from the environment variable ``api_key_env``.
    """

    __shorthand__: ClassVar[str] = "kind"

    kind: Literal["transformers", "openai", "fake"] = "transformers"
    model: str = "smollm2-135m"
    base_url: str | None = None
    api_key_env: str | None = "OPENAI_API_KEY"
    concurrency: int = 8
    timeout_s: float = 60
    max_retries: int = 4
    batch_size: int = 8
    max_new_tokens: int = 256
    temperature: float = 0.7
    device: str = "cpu"
    cache_dir: str | None = None


def make_backend(cfg: BackendConfig) -> ChatBackend:
    """Build the backend ``cfg`` describes; unknown kinds raise listing the valid ones."""
    if cfg.kind == "transformers":
        from balancedbio.models import ModelConfig

        model = ModelConfig(name=cfg.model, cache_dir=cfg.cache_dir)
        return TransformersBackend(model, batch_size=cfg.batch_size, device=cfg.device)
    if cfg.kind == "openai":
        if not cfg.base_url:
            raise ConfigError(
                "backend kind 'openai' needs base_url (e.g. http://127.0.0.1:8000/v1)"
            )
        api_key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        return OpenAIBackend(
            cfg.base_url,
            cfg.model,
            api_key=api_key,
            concurrency=cfg.concurrency,
            timeout_s=cfg.timeout_s,
            max_retries=cfg.max_retries,
        )
    if cfg.kind == "fake":
        return FakeBackend(echo_last_user)
    raise choice_error("backend kind", cfg.kind, BACKEND_KINDS)


# --------------------------------------------------------------------------- local


class TransformersBackend:
    """Local batched generation with the tokenizer's chat template (left padding).

    Greedy when ``temperature`` is 0, otherwise sampling with per-row seeded generators.
    Rows (conversation x sample) are sorted by prompt length and run ``batch_size`` at a
    time; results come back in input order and hold only the new text.
    """

    def __init__(self, model: Any = "smollm2-135m", batch_size: int = 8, device: str = "cpu"):
        from balancedbio.models import ModelConfig, load_model_and_tokenizer

        cfg = model if isinstance(model, ModelConfig) else ModelConfig(name=str(model))
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        self.name = f"transformers:{cfg.name}"
        self.batch_size = batch_size
        self.model, self.tokenizer = load_model_and_tokenizer(cfg)
        self.model.to(device)
        self.tokenizer.padding_side = "left"
        self.stats = BackendStats()

    def generate(
        self,
        conversations: Sequence[Conversation],
        *,
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
        n: int = 1,
        top_p: float = 1.0,
    ) -> list[Completions]:
        from balancedbio.data.generation import GenRequest, generate_rows, row_seed

        rows = [
            GenRequest(list(c), max_new_tokens, temperature, top_p, row_seed(seed, j))
            for c in conversations
            for j in range(n)
        ]
        order = sorted(
            range(len(rows)), key=lambda i: sum(len(m["content"]) for m in rows[i].messages)
        )
        texts: list[str] = [""] * len(rows)
        with self.stats.busy():
            for start in range(0, len(order), self.batch_size):
                chunk = order[start : start + self.batch_size]
                for i, res in zip(
                    chunk,
                    generate_rows(self.model, self.tokenizer, [rows[i] for i in chunk]),
                    strict=True,
                ):
                    texts[i] = res.text
                    self.stats.prompt_tokens += res.prompt_tokens
                    self.stats.completion_tokens += res.completion_tokens
        self.stats.requests += len(conversations)
        return [texts[k * n : (k + 1) * n] for k in range(len(conversations))]


# --------------------------------------------------------------------------- fake


def echo_last_user(conversation: Conversation) -> str:
    """The default fake reply: the last user message, echoed."""
    users = [m["content"] for m in conversation if m.get("role") == "user"]
    return users[-1] if users else ""


class FakeBackend:
    """Deterministic replies for tests.

    ``responses`` is a callable ``conversation -> str``; a string (always that reply); a list
    (replies handed out in call order, cycling); or a dict from the last user message to the
    reply (a missing prompt is a :class:`BackendError` entry). A reply that is an
    ``Exception`` becomes a ``BackendError`` entry. Every call is recorded in ``calls``.
    """

    def __init__(
        self,
        responses: Callable[[Conversation], Any]
        | Sequence[Any]
        | Mapping[str, Any] = echo_last_user,
    ):
        self.name = "fake"
        self.responses = responses
        self.calls: list[dict[str, Any]] = []
        self._next = 0
        self.stats = BackendStats()

    def _reply(self, conversation: Conversation) -> Any:
        if callable(self.responses):
            return self.responses(conversation)
        if isinstance(self.responses, str):  # one fixed reply
            return self.responses
        if isinstance(self.responses, Mapping):
            key = echo_last_user(conversation)
            if key not in self.responses:
                return BackendError(f"fake backend has no reply for prompt {key[:60]!r}")
            return self.responses[key]
        if not self.responses:
            return BackendError("fake backend has an empty reply list")
        reply = self.responses[self._next % len(self.responses)]
        self._next += 1
        return reply

    def generate(
        self,
        conversations: Sequence[Conversation],
        *,
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
        n: int = 1,
    ) -> list[Completions]:
        self.calls.append(
            {
                "conversations": [list(c) for c in conversations],
                "max_new_tokens": max_new_tokens,
                "temperature": temperature,
                "seed": seed,
                "n": n,
            }
        )
        results: list[Completions] = []
        for conv in conversations:
            replies = [self._reply(conv) for _ in range(n)]
            bad = next((r for r in replies if isinstance(r, BaseException)), None)
            if bad is not None:
                err = (
                    bad
                    if isinstance(bad, BackendError)
                    else BackendError(f"{type(bad).__name__}: {bad}")
                )
                log.warning("fake backend: conversation failed: %s", err)
                self.stats.failures += 1
                results.append(err)
            else:
                results.append([str(r) for r in replies])
        self.stats.requests += len(conversations)
        return results

    async def agenerate(
        self, conversations: Sequence[Conversation], **kwargs: Any
    ) -> list[Completions]:
        return self.generate(conversations, **kwargs)


# --------------------------------------------------------------------------- parsing

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_MAX_STARTS = 64


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in model output (inside a ```json fence, or bare), else None.

    Fenced blocks are tried first; then each ``{`` in turn (at most 64) is tried as the start
    of an object. Never raises: a parse failure is a rejection for the caller to log.
    """
    if not isinstance(text, str):
        return None
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for chunk in candidates:
        starts = [i for i, ch in enumerate(chunk) if ch == "{"][:_MAX_STARTS]
        for start in starts:
            try:
                obj, _ = decoder.raw_decode(chunk, start)
            except (json.JSONDecodeError, RecursionError):
                continue
            if isinstance(obj, dict):
                return obj
    return None
