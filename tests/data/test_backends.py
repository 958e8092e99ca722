"""LLM backends: JSON extraction, fake, local transformers, HTTP client (retries, per-item
failures, concurrency) and the OpenAI-compatible server with dynamic batching."""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import pytest

from balancedbio.config import ConfigError, load_config
from balancedbio.data.backends import (
    BackendConfig,
    BackendError,
    ChatBackend,
    FakeBackend,
    OpenAIBackend,
    make_backend,
    parse_json_object,
)
from balancedbio.data.openai_server import ServerHandle, start_server


def chats(*prompts: str) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": p}] for p in prompts]


def agreement(a: list[Any], b: list[Any]) -> float:
    """Share of identical completions. Different batch compositions change logits in the
    last bits, which can flip a sampled token now and then (measured ~1 in 64 completions)."""
    pairs = [(x, y) for xs, ys in zip(a, b, strict=True) for x, y in zip(xs, ys, strict=True)]
    return sum(x == y for x, y in pairs) / len(pairs)


# --------------------------------------------------------------------------- parsing / fake


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        (
            'Sure!\n```json\n{"answer": "B", "why": ["x"]}\n```\nDone.',
            {"answer": "B", "why": ["x"]},
        ),
        ('Here: {"a": {"b": 2}} and {"c": 3}', {"a": {"b": 2}}),
        ('noise {not json} then {"ok": true}', {"ok": True}),
        ('```\n{"fenced": 1}\n```', {"fenced": 1}),
        ('```json\n{"broken": \n```\n {"after": 1}', {"after": 1}),
        ("[1, 2, 3]", None),
        ("no json here", None),
        ('{"unterminated": "x"', None),
        ("", None),
        (None, None),
    ],
)
def test_parse_json_object(text: Any, expected: Any) -> None:
    assert parse_json_object(text) == expected


def test_fake_backend_modes() -> None:
    fake = FakeBackend(["a", "b"])
    assert isinstance(fake, ChatBackend)
    out = fake.generate(chats("x", "y"), max_new_tokens=5, temperature=0, seed=1, n=2)
    assert out == [["a", "b"], ["a", "b"]]
    assert fake.calls[0]["n"] == 2 and fake.calls[0]["seed"] == 1

    by_prompt = FakeBackend({"hi": '{"x": 1}', "boom": RuntimeError("nope")})
    res = by_prompt.generate(
        chats("hi", "missing", "boom"), max_new_tokens=5, temperature=0, seed=None
    )
    assert res[0] == ['{"x": 1}']
    assert isinstance(res[1], BackendError) and "no reply" in res[1].reason
    assert isinstance(res[2], BackendError) and "nope" in res[2].reason
    assert by_prompt.stats.failures == 2

    assert FakeBackend("fixed").generate(chats("a"), max_new_tokens=1, temperature=0, seed=0) == [
        ["fixed"]
    ]
    echo = make_backend(BackendConfig(kind="fake"))
    assert echo.generate(chats("ping"), max_new_tokens=1, temperature=0, seed=0) == [["ping"]]
    assert asyncio.run(
        FakeBackend(lambda c: "z").agenerate(chats("q"), max_new_tokens=1, temperature=0, seed=0)
    ) == [["z"]]


def test_backend_config(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match="fake, openai, transformers"):
        load_config(BackendConfig, overrides=["kind=vllm"])
    with pytest.raises(ConfigError, match="valid: fake, openai, transformers"):
        make_backend(BackendConfig(kind="nope"))  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="base_url"):
        make_backend(BackendConfig(kind="openai"))
    cfg = load_config(BackendConfig, overrides=["kind=openai", "base_url=http://127.0.0.1:9/v1"])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-123")
    backend = make_backend(cfg)
    assert isinstance(backend, OpenAIBackend) and backend.api_key == "sk-test-123"
    assert "sk-test" not in repr(backend)
    assert backend.url == "http://127.0.0.1:9/v1/chat/completions"


# --------------------------------------------------------------------------- local backend


def test_transformers_backend_is_deterministic_and_order_free(tiny_backend: Any) -> None:
    from balancedbio.data.backends import TransformersBackend

    prompts = chats("short", "a much longer prompt " * 5, "middle sized one", "x")
    kw = {"max_new_tokens": 10, "temperature": 0.9, "seed": 123, "n": 2}
    out = tiny_backend.generate(prompts, **kw)
    assert [len(o) for o in out] == [2, 2, 2, 2]
    assert all(isinstance(t, str) for o in out for t in o)
    assert out[0][0] != out[0][1]  # different sample seeds
    assert tiny_backend.generate(prompts, **kw) == out
    assert tiny_backend.generate(prompts[::-1], **kw)[::-1] == out  # same batches, any order
    assert tiny_backend.generate(prompts, **(kw | {"seed": 124})) != out
    single = TransformersBackend("tiny-random", batch_size=1)
    assert agreement(single.generate(prompts, **kw), out) >= 0.75  # up to rare fp flips

    greedy = tiny_backend.generate(prompts[:2], max_new_tokens=6, temperature=0, seed=None, n=2)
    assert greedy[0][0] == greedy[0][1]
    nucleus = tiny_backend.generate(
        prompts[:2], max_new_tokens=6, temperature=1.0, top_p=1e-9, seed=7, n=2
    )
    assert nucleus == greedy  # top_p keeps only the most likely token
    assert tiny_backend.stats.completion_tokens > 0 and tiny_backend.stats.busy_s > 0


# --------------------------------------------------------------------------- our server


def post(url: str, body: Any) -> tuple[int, dict[str, Any]]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_server_protocol(tiny_server: Any) -> None:
    with urllib.request.urlopen(tiny_server.base_url + "/models", timeout=10) as resp:
        models = json.loads(resp.read())
    assert models["data"][0]["id"] == "tiny-random"

    url = tiny_server.base_url + "/chat/completions"
    msgs = [{"role": "user", "content": "hello"}]
    status, body = post(
        url,
        {
            "model": "tiny-random",
            "messages": msgs,
            "max_tokens": 5,
            "n": 2,
            "temperature": 0.8,
            "seed": 5,
        },
    )
    assert status == 200 and body["object"] == "chat.completion"
    assert [c["index"] for c in body["choices"]] == [0, 1]
    assert body["choices"][0]["message"]["role"] == "assistant"
    assert body["usage"]["completion_tokens"] <= 10 and body["usage"]["prompt_tokens"] > 0
    parts = [{"type": "text", "text": "hel"}, {"type": "text", "text": "lo"}]
    _, same = post(
        url,
        {
            "messages": [{"role": "user", "content": parts}],
            "max_tokens": 5,
            "n": 2,
            "temperature": 0.8,
            "seed": 5,
        },
    )
    assert [c["message"] for c in same["choices"]] == [c["message"] for c in body["choices"]]

    _, greedy = post(url, {"messages": msgs, "max_tokens": 4, "temperature": 0})
    assert greedy["choices"][0]["finish_reason"] in {"length", "stop"}
    text = body["choices"][0]["message"]["content"]
    stop = text[len(text) // 2 :][:4]
    sampled = {"messages": msgs, "max_tokens": 5, "n": 2, "temperature": 0.8, "seed": 5}
    _, cut = post(url, sampled | {"stop": [stop, "never-there"]})
    assert cut["choices"][0]["finish_reason"] == "stop"
    assert cut["choices"][0]["message"]["content"] == text[: text.find(stop)]

    bad = [
        {"messages": []},
        {"messages": msgs, "stream": True},
        {"messages": msgs, "n": 0},
        {"messages": msgs, "temperature": 3},
        {"messages": msgs, "max_tokens": 2.5},
        {"messages": [{"content": "no role"}]},
        {"messages": msgs, "seed": "x"},
    ]
    for body in bad:
        status, err = post(url, body)
        assert status == 400 and err["error"]["message"], body
    assert post(url, b"{not json")[0] == 400
    status, err = post(url, {"model": "gpt-x", "messages": msgs})
    assert status == 404 and "tiny-random" in err["error"]["message"]


def test_server_matches_local_backend_and_batches(tiny_server: Any, tiny_backend: Any) -> None:
    prompts = chats(*(f"question number {i} " + "word " * i for i in range(8)))
    kw = {"max_new_tokens": 8, "temperature": 0.7, "seed": 42, "n": 1}
    client = OpenAIBackend(tiny_server.base_url, "tiny-random", concurrency=8)
    batches = tiny_server.server.batches
    remote = client.generate(prompts, **kw)
    assert agreement(remote, tiny_backend.generate(prompts, **kw)) >= 0.75
    assert tiny_server.server.batches - batches <= 4  # 8 concurrent requests, batch_size 4
    assert client.stats.requests == 8 and client.stats.failures == 0
    assert client.stats.completion_tokens > 0 and tiny_server.stats.busy_s > 0


def test_server_binds_loopback_only() -> None:
    with pytest.raises(ConfigError, match="loopback"):
        start_server("tiny-random", host="0.0.0.0")


# --------------------------------------------------------------------------- HTTP client


class Scripted:
    """A scripted endpoint: the prompt says how to misbehave (``status 503 2`` = answer 503
    to the first 2 attempts; ``sleep 2``; ``garbage``; ``auth`` echoes the header)."""

    model_name = "scripted"

    def __init__(self) -> None:
        self.attempts: Counter[str] = Counter()
        self.inflight = 0
        self.max_inflight = 0

    def app(self) -> Any:
        from aiohttp import web

        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        return app

    async def chat(self, request: Any) -> Any:
        from aiohttp import web

        body = await request.json()
        prompt = body["messages"][-1]["content"]
        self.attempts[prompt] += 1
        self.inflight += 1
        self.max_inflight = max(self.max_inflight, self.inflight)
        try:
            words = prompt.split()
            if words[0] == "status" and self.attempts[prompt] <= int(words[2]):
                headers = {"Retry-After": "0"} if words[1] == "429" else {}
                return web.json_response(
                    {"error": "scripted"}, status=int(words[1]), headers=headers
                )
            if words[0] == "sleep":
                await asyncio.sleep(float(words[1]))
            if words[0] == "garbage":
                return web.Response(text="<html>not json</html>")
            content = request.headers.get("Authorization", "") if words[0] == "auth" else prompt
            await asyncio.sleep(0.02)
            choices = [
                {"index": i, "message": {"role": "assistant", "content": f"{content}#{i}"}}
                for i in range(body.get("n", 1))
            ]
            return web.json_response({"choices": choices, "usage": {"completion_tokens": 3}})
        finally:
            self.inflight -= 1


@pytest.fixture(scope="module")
def scripted() -> Any:
    with ServerHandle(Scripted()) as handle:
        yield handle


def client(handle: Any, **kw: Any) -> OpenAIBackend:
    return OpenAIBackend(handle.base_url, "scripted", backoff_s=0.01, **kw)


def test_retries_then_success_and_per_item_failures(scripted: Any) -> None:
    backend = client(scripted, max_retries=2)
    prompts = chats("status 503 2", "status 429 1", "status 400 1", "status 500 9", "garbage", "ok")
    out = backend.generate(prompts, max_new_tokens=4, temperature=0, seed=1, n=2)
    assert out[0] == ["status 503 2#0", "status 503 2#1"]
    assert out[1] == ["status 429 1#0", "status 429 1#1"]
    assert isinstance(out[2], BackendError) and out[2].status == 400 and out[2].attempts == 1
    assert isinstance(out[3], BackendError) and out[3].attempts == 3 and "HTTP 500" in out[3].reason
    assert isinstance(out[4], BackendError) and "malformed" in out[4].reason
    assert out[5] == ["ok#0", "ok#1"]
    assert scripted.server.attempts["status 400 1"] == 1  # 4xx is not retried
    assert scripted.server.attempts["status 500 9"] == 3
    assert backend.stats.failures == 3 and backend.stats.retries == 2 + 1 + 2
    assert backend.stats.completion_tokens == 3 * 3


def test_timeout_and_connection_refused(scripted: Any) -> None:
    slow = client(scripted, timeout_s=0.2, max_retries=1)
    [res] = slow.generate(chats("sleep 2"), max_new_tokens=4, temperature=0, seed=None)
    assert isinstance(res, BackendError) and "Timeout" in res.reason and res.attempts == 2

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    dead = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", max_retries=1, backoff_s=0.01)
    out = dead.generate(chats("a", "b"), max_new_tokens=4, temperature=0, seed=None)
    assert all(isinstance(r, BackendError) and "gave up after 2" in r.reason for r in out)


def test_concurrency_limit_and_busy_time(scripted: Any) -> None:
    deadline = time.monotonic() + 10
    while scripted.server.inflight and time.monotonic() < deadline:  # earlier "sleep" requests
        time.sleep(0.05)
    scripted.server.max_inflight = 0
    backend = client(scripted, concurrency=3)
    started = time.perf_counter()
    out = backend.generate(
        chats(*(f"c{i}" for i in range(12))), max_new_tokens=4, temperature=0, seed=None
    )
    wall = time.perf_counter() - started
    assert [o[0] for o in out] == [f"c{i}#0" for i in range(12)]
    assert scripted.server.max_inflight == 3
    assert 0.05 < backend.stats.busy_s <= wall and 0 < backend.stats.busy_share(wall) <= 1


def test_sync_call_inside_running_loop_and_async_api(scripted: Any) -> None:
    backend = client(scripted, api_key="sk-secret")

    async def inside() -> tuple[Any, Any]:
        sync = backend.generate(chats("auth"), max_new_tokens=4, temperature=0, seed=None)
        asynced = await backend.agenerate(chats("x"), max_new_tokens=4, temperature=0, seed=None)
        return sync, asynced

    sync, asynced = asyncio.run(inside())
    assert sync == [["Bearer sk-secret#0"]] and asynced == [["x#0"]]
