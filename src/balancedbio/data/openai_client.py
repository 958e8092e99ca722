"""Client for any OpenAI-compatible chat endpoint (vLLM, SGLang, TGI, our own server).

Requests run concurrently under a semaphore; connection errors, timeouts, 408/429 and 5xx
are retried with exponential backoff and jitter (``Retry-After`` honoured, capped). After the
retries a conversation's entry is a :class:`BackendError` with the reason: one bad request
never fails the whole call. :class:`BackendStats` tracks the time with at least one request
in flight, so a benchmark can report how busy the backend was kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from balancedbio.config import ConfigError

log = logging.getLogger(__name__)

T = TypeVar("T")
Message = dict[str, str]
RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})


class BackendError(RuntimeError):
    """A conversation could not be completed; ``reason`` says why (kept in rejection logs)."""

    def __init__(self, reason: str, *, status: int | None = None, attempts: int = 0):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.attempts = attempts


@dataclass
class BackendStats:
    """Counters and busy time (wall time with >= 1 request in flight) of a backend."""

    requests: int = 0
    failures: int = 0
    attempts: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    busy_s: float = 0.0
    _inflight: int = field(default=0, repr=False)
    _since: float = field(default=0.0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextlib.contextmanager
    def busy(self) -> Iterator[None]:
        """Count the enclosed block as in-flight work."""
        with self._lock:
            if self._inflight == 0:
                self._since = time.perf_counter()
            self._inflight += 1
        try:
            yield
        finally:
            with self._lock:
                self._inflight -= 1
                if self._inflight == 0:
                    self.busy_s += time.perf_counter() - self._since

    def busy_share(self, wall_s: float) -> float:
        """Share of ``wall_s`` the backend had work in flight."""
        return self.busy_s / wall_s if wall_s > 0 else 0.0

    def snapshot(self) -> dict[str, float | int]:
        keys = ("requests", "failures", "attempts", "retries", "prompt_tokens", "completion_tokens")
        return {k: getattr(self, k) for k in keys} | {"busy_s": round(self.busy_s, 6)}


def run_sync(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to completion from sync code, in a private event loop.

    Inside a running loop (e.g. a notebook) the private loop runs in a helper thread.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())  # type: ignore[arg-type]
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()  # type: ignore[arg-type]


class OpenAIBackend:
    """Chat completions from ``{base_url}/chat/completions`` (``base_url`` ends in ``/v1``)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        concurrency: int = 8,
        timeout_s: float = 60,
        max_retries: int = 4,
        backoff_s: float = 0.5,
        max_backoff_s: float = 20.0,
        extra_body: dict[str, Any] | None = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if concurrency < 1 or max_retries < 0 or timeout_s <= 0:
            raise ConfigError("need concurrency >= 1, max_retries >= 0 and timeout_s > 0")
        self.name = f"openai:{model}"
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = api_key
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.extra_body = dict(extra_body or {})
        self.stats = BackendStats()
        self._rng = random.Random()

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIBackend(url={self.url!r}, model={self.model!r})"

    def generate(
        self,
        conversations: Sequence[Sequence[Message]],
        *,
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
        n: int = 1,
        top_p: float = 1.0,
    ) -> list[list[str] | BackendError]:
        """Sync wrapper around :meth:`agenerate` (private event loop)."""
        return run_sync(
            lambda: self.agenerate(
                conversations,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
                seed=seed,
                n=n,
                top_p=top_p,
            )
        )

    async def agenerate(
        self,
        conversations: Sequence[Sequence[Message]],
        *,
        max_new_tokens: int,
        temperature: float,
        seed: int | None,
        n: int = 1,
        top_p: float = 1.0,
    ) -> list[list[str] | BackendError]:
        """All conversations concurrently (at most ``concurrency`` requests in flight)."""
        import aiohttp

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        sem = asyncio.Semaphore(self.concurrency)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

            async def one(conv: Sequence[Message]) -> list[str] | BackendError:
                payload = {
                    "model": self.model,
                    "messages": list(conv),
                    "max_tokens": max_new_tokens,
                    "temperature": temperature,
                    "top_p": top_p,
                    "n": n,
                    **({"seed": seed} if seed is not None else {}),
                    **self.extra_body,
                }
                try:
                    return await self._post(session, sem, payload, n)
                except BackendError as exc:
                    self.stats.failures += 1
                    log.warning("chat request failed (%s attempts): %s", exc.attempts, exc.reason)
                    return exc
                finally:
                    self.stats.requests += 1

            return list(await asyncio.gather(*(one(c) for c in conversations)))

    async def _post(
        self, session: Any, sem: asyncio.Semaphore, payload: dict[str, Any], n: int
    ) -> list[str]:
        import aiohttp

        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        reason, status = "no attempt made", None
        for attempt in range(self.max_retries + 1):
            retry_after: str | None = None
            try:
                async with sem:
                    self.stats.attempts += 1
                    with self.stats.busy():
                        async with session.post(self.url, json=payload, timeout=timeout) as resp:
                            status, body = resp.status, await resp.text()
                            retry_after = resp.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, reason = None, f"{type(exc).__name__}: {exc}".rstrip(": ")
            else:
                if status == 200:
                    return self._parse(body, n, attempt + 1)
                reason = f"HTTP {status}: {body[:300]}"
                if status not in RETRY_STATUS:
                    raise BackendError(reason, status=status, attempts=attempt + 1)
            if attempt < self.max_retries:
                self.stats.retries += 1
                await asyncio.sleep(self._delay(attempt, retry_after))
        raise BackendError(
            f"gave up after {self.max_retries + 1} attempts: {reason}",
            status=status,
            attempts=self.max_retries + 1,
        )

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        delay = min(self.max_backoff_s, self.backoff_s * 2**attempt) * (0.5 + self._rng.random())
        with contextlib.suppress(TypeError, ValueError):
            delay = max(delay, min(float(retry_after), self.max_backoff_s))  # type: ignore[arg-type]
        return delay

    def _parse(self, body: str, n: int, attempts: int) -> list[str]:
        import json

        try:
            data = json.loads(body)
            choices = sorted(data["choices"], key=lambda c: c.get("index", 0))
            texts = [c["message"]["content"] for c in choices]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackendError(
                f"malformed response ({exc!r}): {body[:200]}", attempts=attempts
            ) from None
        if len(texts) != n or not all(isinstance(t, str) for t in texts):
            raise BackendError(
                f"expected {n} text choice(s), got {len(texts)}: {body[:200]}", attempts=attempts
            )
        usage = data.get("usage") or {}
        self.stats.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.stats.completion_tokens += int(usage.get("completion_tokens") or 0)
        return texts
