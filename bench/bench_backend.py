"""MKGSG model mode: throughput of the OpenAI-compatible path vs in-process generation.

Starts :mod:`balancedbio.data.openai_server` on loopback (background thread, dynamic
batching) with ``--model`` and drives it with :class:`OpenAIBackend` at several client
concurrencies for a fixed set of requests; then runs :class:`TransformersBackend` in-process
with the same model, batch size, prompts and seed. Reports items/s, the share of wall time
the server was generating ("server busy") and the share with a request in flight ("client
busy"), mean rows per server batch, and ratios to in-process. Completions are compared too:
same seed => same text on both paths, up to rare floating-point token flips between batch
compositions (reported as the share of identical completions). Bounded request loops,
loopback only.

    .venv/bin/python bench/bench_backend.py [--model tiny-random] [--reps 5] [--write-results]
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from results import write_section

from balancedbio.data.backends import OpenAIBackend, TransformersBackend  # noqa: E402
from balancedbio.data.openai_server import running_server  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## MKGSG model mode"
TOPICS = ["Marfan syndrome", "Turner syndrome", "cystic fibrosis", "Wilson disease",
          "sickle cell anemia", "phenylketonuria", "hemophilia A", "Gaucher disease"]  # fmt: skip
TASKS = [
    "Write one multiple-choice question about {t} with four options and the answer.",
    "List three phenotypes annotated to {t} and explain the most specific one.",
    "A patient presents with findings typical of {t}. Give the differential diagnosis.",
    "Summarize {t} in two sentences for a medical student.",
]


def prompts(count: int, seed: int = 0) -> list[list[dict[str, str]]]:
    """``count`` distinct chat prompts of varying length (deterministic)."""
    rng = random.Random(seed)
    out = []
    for i in range(count):
        text = rng.choice(TASKS).format(t=rng.choice(TOPICS)) + f" (item {i})"
        text += " Use plain language." * rng.randint(0, 6)
        out.append([{"role": "system", "content": "You are a careful clinician."},
                    {"role": "user", "content": text}])  # fmt: skip
    return out


def run_local(backend: TransformersBackend, convs: list[Any], kw: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    out = backend.generate(convs, **kw)
    wall = time.perf_counter() - start
    return {"wall": wall, "items_s": len(convs) / wall, "out": out}


def run_server(srv: Any, convs: list[Any], kw: dict[str, Any], concurrency: int) -> dict[str, Any]:
    client = OpenAIBackend(srv.base_url, srv.model_name, concurrency=concurrency, timeout_s=600)
    server = srv.server
    busy0, batches0, rows0 = server.stats.busy_s, server.batches, server.rows_done
    start = time.perf_counter()
    out = client.generate(convs, **kw)
    wall = time.perf_counter() - start
    failures = sum(not isinstance(o, list) for o in out)
    if failures:
        raise RuntimeError(f"{failures} requests failed: {next(o for o in out if failures)}")
    batches = server.batches - batches0
    return {
        "wall": wall,
        "items_s": len(convs) / wall,
        "server_busy": (server.stats.busy_s - busy0) / wall,
        "client_busy": client.stats.busy_share(wall),
        "rows_per_batch": (server.rows_done - rows0) / max(batches, 1),
        "out": out,
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    convs = prompts(args.requests)
    kw = {"max_new_tokens": args.max_tokens, "temperature": args.temperature, "seed": 0}
    local = TransformersBackend(args.model, batch_size=args.batch_size)
    warm = convs[: args.batch_size]
    local.generate(warm, **kw)
    paths = ["in-process"] + [f"server c={c}" for c in args.concurrency]
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in paths}
    with running_server(
        args.model, batch_size=args.batch_size, max_wait_ms=args.max_wait_ms
    ) as srv:
        run_server(srv, warm, kw, args.batch_size)
        for rep in range(args.reps):  # rotate the order so drift on a shared machine hits all
            for path in paths[rep % len(paths) :] + paths[: rep % len(paths)]:
                if path == "in-process":
                    runs[path].append(run_local(local, convs, kw))
                else:
                    runs[path].append(run_server(srv, convs, kw, int(path.split("=")[1])))
    reference = runs["in-process"][0]["out"]
    summary = {}
    for name, reps in runs.items():
        med = {k: statistics.median(r[k] for r in reps) for k in reps[0] if k != "out"}
        med["best_items_s"] = max(r["items_s"] for r in reps)
        pairs = [(a, b) for r in reps for a, b in zip(r["out"], reference, strict=True)]
        med["same_text"] = sum(a == b for a, b in pairs) / len(pairs)
        summary[name] = med
    for med in summary.values():
        med["ratio"] = med["items_s"] / summary["in-process"]["items_s"]
        med["best_ratio"] = med["best_items_s"] / summary["in-process"]["best_items_s"]
    return summary


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def render(summary: dict[str, Any], args: argparse.Namespace, command: str) -> str:
    import torch

    date = datetime.date.today().isoformat()
    lines = [
        SECTION,
        "",
        f"Command: `{command}` ({args.reps} repetitions in rotating order; {cpu_name()}, "
        f"{os.cpu_count()} logical CPUs, torch {torch.__version__} with "
        f"{torch.get_num_threads()} threads, Python {platform.python_version()}, {date}).",
        "",
        f"{args.requests} chat requests, `max_tokens` {args.max_tokens}, temperature "
        f"{args.temperature}, seed 0, model `{args.model}`; server batch size "
        f"{args.batch_size}, max wait {args.max_wait_ms:g} ms; in-process "
        f"`TransformersBackend` with batch size {args.batch_size}. Server busy = share of wall "
        "time the server spent generating; client busy = share with >= 1 request in flight.",
        "",
        "| path | items/s (median) | vs in-process | items/s (best) | vs in-process (best) "
        "| server busy | client busy | rows / batch | same text as in-process |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in summary.items():
        server = name != "in-process"
        busy = (
            f"{m['server_busy']:.0%} | {m['client_busy']:.0%} | {m['rows_per_batch']:.1f}"
            if server
            else "- | - | -"
        )
        lines.append(
            f"| {name} | {m['items_s']:.2f} | {m['ratio']:.2f}x | {m['best_items_s']:.2f} | "
            f"{m['best_ratio']:.2f}x | {busy} | {m['same_text']:.0%} |"
        )
    lines += [
        "",
        "Timings come from a shared 2-core machine with other jobs running: compare the rows",
        "of one table, not runs. Client and server share one process and both CPUs (the",
        "server runs in a background thread; torch releases the GIL while generating), so the",
        "HTTP path pays for JSON, sockets and the batching wait on the cores that generate. At",
        "concurrency 1 every request is its own batch; once concurrency reaches the batch size",
        "the dynamic batcher fills every batch and the server is busy nearly all the time,",
        "which is what in-process batched generation does. With a real engine (vLLM, SGLang",
        "on a GPU) set `concurrency` to at least the engine's batch size.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--requests", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-wait-ms", type=float, default=20)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--write-results", action="store_true", help=f"update {RESULTS}")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    summary = bench(args)
    for name, m in summary.items():
        extra = (
            f"server busy {m['server_busy']:.0%}  client busy {m['client_busy']:.0%}  "
            f"rows/batch {m['rows_per_batch']:.1f}"
            if name != "in-process"
            else ""
        )
        print(
            f"{name:14s} {m['items_s']:7.2f} items/s (best {m['best_items_s']:.2f})  "
            f"{m['ratio']:.2f}x in-process (best {m['best_ratio']:.2f}x)  {extra}  "
            f"same text: {m['same_text']:.0%}"
        )
    if args.write_results:
        command = ".venv/bin/python bench/bench_backend.py " + " ".join(sys.argv[1:])
        write_section(SECTION, render(summary, args, command.strip()))
        print(f"wrote {SECTION!r} in {RESULTS}")


if __name__ == "__main__":
    main()
