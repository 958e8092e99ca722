"""A small OpenAI-compatible chat server backed by transformers, with dynamic batching.

For tests, benchmarks and users who want an HTTP endpoint without vLLM. Implements
``POST /v1/chat/completions`` (``messages``, ``max_tokens``/``max_completion_tokens``,
``temperature``, ``top_p``, ``seed``, ``n``, ``stop``; no streaming) and ``GET /v1/models``.

Concurrent requests are queued; a batcher takes up to ``batch_size`` rows (a request with
``n`` choices is ``n`` rows) that arrive within ``max_wait_ms`` of the first one and runs
them as one ``generate`` call in a worker thread, so the event loop keeps accepting requests.
A batch that fails is retried row by row so only the offending request gets the error.
Binds to loopback only.

    with running_server("tiny-random") as srv:
        OpenAIBackend(srv.base_url, srv.model_name).generate(...)

or from a shell: ``python -m balancedbio.data.openai_server --model tiny-random --port 8000``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from balancedbio.config import ConfigError
from balancedbio.data.generation import GenRequest, GenResult, generate_rows, row_seed
from balancedbio.data.openai_client import BackendStats

log = logging.getLogger(__name__)

LOOPBACK = ("127.0.0.1", "localhost", "::1")
MAX_N = 16
DEFAULT_MAX_TOKENS = 256


class BadRequest(ValueError):
    """A request the server refuses with HTTP 400."""


@dataclass
class _Pending:
    rows: list[GenRequest]
    stops: list[str]
    future: asyncio.Future[list[GenResult]]
    arrived: float


def _content(message: Any) -> dict[str, str]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise BadRequest("each message must be an object with a string 'role'")
    content = message.get("content")
    if isinstance(content, list):  # [{"type": "text", "text": ...}, ...]
        parts = [
            p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text"
        ]
        content = "".join(parts)
    if not isinstance(content, str):
        raise BadRequest("message content must be a string or a list of text parts")
    return {"role": message["role"], "content": content}


def _number(
    value: Any, key: str, default: float, lo: float, hi: float, *, integer: bool = False
) -> float:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"'{key}' must be a number")
    if (integer and value != int(value)) or not lo <= value <= hi:
        raise BadRequest(f"'{key}' must be {'an integer ' if integer else ''}in [{lo}, {hi}]")
    return float(value)


def parse_request(body: Any) -> tuple[list[GenRequest], list[str], str | None]:
    """Validate a chat-completions body; returns (rows, stop strings, requested model)."""
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    if body.get("stream"):
        raise BadRequest("stream=true is not supported by this server")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("'messages' must be a non-empty list")
    msgs = [_content(m) for m in messages]

    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    max_tokens = int(_number(limit, "max_tokens", DEFAULT_MAX_TOKENS, 1, 8192, integer=True))
    temperature = _number(body.get("temperature"), "temperature", 1.0, 0.0, 2.0)
    top_p = _number(body.get("top_p"), "top_p", 1.0, 0.0, 1.0)
    n = int(_number(body.get("n"), "n", 1, 1, MAX_N, integer=True))
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest("'seed' must be an integer")
    stop = body.get("stop") or []
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise BadRequest("'stop' must be a string or a list of non-empty strings")
    rows = [GenRequest(msgs, max_tokens, temperature, top_p, row_seed(seed, j)) for j in range(n)]
    return rows, stops, body.get("model")


def _apply_stop(res: GenResult, stops: list[str]) -> tuple[str, str]:
    cut = min((i for i in (res.text.find(s) for s in stops) if i >= 0), default=-1)
    return (res.text[:cut], "stop") if cut >= 0 else (res.text, res.finish_reason)


class ChatServer:
    """The aiohttp application around a loaded model; see the module docstring."""

    def __init__(
        self,
        model: Any = "tiny-random",
        *,
        batch_size: int = 8,
        max_wait_ms: float = 20,
        served_name: str | None = None,
    ):
        from balancedbio.models import ModelConfig, load_model_and_tokenizer

        cfg = model if isinstance(model, ModelConfig) else ModelConfig(name=str(model))
        if batch_size < 1 or max_wait_ms < 0:
            raise ConfigError("need batch_size >= 1 and max_wait_ms >= 0")
        self.model_name = served_name or cfg.name
        self.batch_size = batch_size
        self.max_wait_s = max_wait_ms / 1000
        self.model, self.tokenizer = load_model_and_tokenizer(cfg)
        self.tokenizer.padding_side = "left"
        self.stats = BackendStats()  # busy_s = time spent generating
        self.batches = 0
        self.rows_done = 0
        self._queue: asyncio.Queue[_Pending] | None = None
        self._held: deque[_Pending] = deque()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="bb-generate")
        self._batcher: asyncio.Task[None] | None = None

    # ------------------------------------------------------------------ app

    def app(self) -> Any:
        from aiohttp import web

        app = web.Application(client_max_size=8 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.on_startup.append(self._on_startup)
        app.on_cleanup.append(self._on_cleanup)
        return app

    async def _on_startup(self, app: Any) -> None:
        self._queue = asyncio.Queue()
        self._batcher = asyncio.get_running_loop().create_task(self._batch_loop())

    async def _on_cleanup(self, app: Any) -> None:
        if self._batcher is not None:
            self._batcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._batcher
        self._executor.shutdown(wait=True)

    @staticmethod
    def _error(status: int, message: str, kind: str = "invalid_request_error") -> Any:
        from aiohttp import web

        return web.json_response({"error": {"message": message, "type": kind}}, status=status)

    async def _models(self, request: Any) -> Any:
        from aiohttp import web

        model = {"id": self.model_name, "object": "model", "created": 0, "owned_by": "balancedbio"}
        return web.json_response({"object": "list", "data": [model]})

    async def _chat(self, request: Any) -> Any:
        from aiohttp import web

        try:
            rows, stops, model = parse_request(await request.json())
        except ValueError as exc:  # BadRequest, or invalid JSON
            return self._error(400, str(exc))
        if model not in (None, self.model_name):
            return self._error(404, f"model {model!r} is not served; available: {self.model_name}")
        assert self._queue is not None
        future: asyncio.Future[list[GenResult]] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Pending(rows, stops, future, time.perf_counter()))
        self.stats.requests += 1
        try:
            results = await future
        except Exception as exc:  # noqa: BLE001 - reported to the client
            self.stats.failures += 1
            return self._error(
                500, f"generation failed: {type(exc).__name__}: {exc}", "server_error"
            )
        choices, prompt_tokens, completion_tokens = [], 0, 0
        for index, res in enumerate(results):
            text, finish = _apply_stop(res, stops)
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": finish,
                    "logprobs": None,
                }
            )
            prompt_tokens = res.prompt_tokens
            completion_tokens += res.completion_tokens
        return web.json_response(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": self.model_name,
                "choices": choices,
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            }
        )

    # ------------------------------------------------------------------ batching

    async def _next(self, timeout: float | None) -> _Pending | None:
        if self._held:
            return self._held.popleft()
        assert self._queue is not None
        if timeout is None:
            return await self._queue.get()
        if timeout <= 0:
            return None if self._queue.empty() else self._queue.get_nowait()
        try:
            return await asyncio.wait_for(self._queue.get(), timeout)
        except TimeoutError:
            return None

    async def _batch_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            first = await self._next(None)
            assert first is not None
            batch, rows = [first], len(first.rows)
            deadline = first.arrived + self.max_wait_s
            while rows < self.batch_size:
                item = await self._next(deadline - time.perf_counter())
                if item is None:
                    break
                if rows + len(item.rows) > self.batch_size:
                    self._held.append(item)
                    break
                batch.append(item)
                rows += len(item.rows)
            batch = [p for p in batch if not p.future.done()]  # client went away
            flat = [r for p in batch for r in p.rows]
            try:
                results = await loop.run_in_executor(self._executor, self._run, flat)
            except Exception:  # noqa: BLE001 - isolate the failing request(s)
                await self._run_each(batch)
                continue
            offset = 0
            for p in batch:
                if not p.future.done():
                    p.future.set_result(results[offset : offset + len(p.rows)])
                offset += len(p.rows)

    async def _run_each(self, batch: list[_Pending]) -> None:
        loop = asyncio.get_running_loop()
        for p in batch:
            try:
                res = await loop.run_in_executor(self._executor, self._run, p.rows)
            except Exception as exc:  # noqa: BLE001
                log.warning("generation failed for one request: %s", exc)
                if not p.future.done():
                    p.future.set_exception(exc)
            else:
                if not p.future.done():
                    p.future.set_result(res)

    def _run(self, rows: list[GenRequest]) -> list[GenResult]:
        with self.stats.busy():
            results = generate_rows(self.model, self.tokenizer, rows)
        self.batches += 1
        self.rows_done += len(rows)
        for res in results:
            self.stats.prompt_tokens += res.prompt_tokens
            self.stats.completion_tokens += res.completion_tokens
        return results


# --------------------------------------------------------------------------- running


def _check_host(host: str) -> None:
    if host not in LOOPBACK:
        raise ConfigError(f"this server binds to loopback only; host must be one of {LOOPBACK}")


class ServerHandle:
    """A server running in a background thread; ``stop()`` shuts it down.

    ``server`` is a :class:`ChatServer` or anything with ``app()`` (an aiohttp application)
    and ``model_name`` -- tests use that to run scripted fake endpoints.
    """

    def __init__(self, server: Any, host: str = "127.0.0.1", port: int = 0):
        _check_host(host)
        self.server = server
        self.model_name = server.model_name
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._runner: Any = None
        self.port = port
        self.host = host
        self._thread = threading.Thread(target=self._main, name="bb-openai-server", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    @property
    def base_url(self) -> str:
        return (
            f"http://{self.host if ':' not in self.host else '[' + self.host + ']'}:{self.port}/v1"
        )

    @property
    def stats(self) -> BackendStats:
        return self.server.stats  # type: ignore[no-any-return]

    def _main(self) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self._loop)
        try:
            self._runner = web.AppRunner(self.server.app(), access_log=None)
            self._loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            self._loop.run_until_complete(site.start())
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        except BaseException as exc:  # noqa: BLE001 - re-raised in the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def stop(self, timeout_s: float = 30) -> None:
        """Stop accepting requests, finish the running batch, release the port."""
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_server(
    model: Any = "tiny-random",
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    batch_size: int = 8,
    max_wait_ms: float = 20,
) -> ServerHandle:
    """Load ``model`` and serve it from a background thread (port 0 = a free port)."""
    _check_host(host)
    server = ChatServer(model, batch_size=batch_size, max_wait_ms=max_wait_ms)
    return ServerHandle(server, host, port)


@contextlib.contextmanager
def running_server(model: Any = "tiny-random", **kwargs: Any) -> Iterator[ServerHandle]:
    """``with running_server("tiny-random") as srv: ...`` -- stopped cleanly on exit."""
    handle = start_server(model, **kwargs)
    try:
        yield handle
    finally:
        handle.stop()


def serve(
    model_spec: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    batch_size: int = 8,
    max_wait_ms: float = 20,
) -> None:
    """Serve in the foreground until interrupted (Ctrl-C)."""
    from aiohttp import web

    _check_host(host)
    server = ChatServer(model_spec, batch_size=batch_size, max_wait_ms=max_wait_ms)
    log.info("serving %s on http://%s:%s/v1", server.model_name, host, port)
    web.run_app(server.app(), host=host, port=port, access_log=None, print=None)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible chat server (loopback only)")
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--host", default="127.0.0.1", choices=LOOPBACK)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-wait-ms", type=float, default=20)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    serve(args.model, args.host, args.port, args.batch_size, args.max_wait_ms)


if __name__ == "__main__":
    main()
