"""Reward model on the demo data: held-out pairwise accuracy per corruption type, CPU time.

1. Demo data: the shipped MKGSG template generator (``configs/generate.yaml``, its task mix
   scaled by ``--scale``; held-out set and decontamination off) -- or ``--dataset DIR``.
2. Corruption preference pairs (:func:`balancedbio.data.preferences.build_preference_pairs`),
   split by prompt: held-out prompts are never trained on.
3. ``train_reward_model`` with ``configs/reward_model.yaml`` (+ ``key=value`` overrides),
   timed: wall time and the process's CPU time (all torch threads), so a loaded shared
   machine can be told apart from a slow method.
4. Held-out pairwise accuracy (chosen scored above rejected), overall and per corruption.

    .venv/bin/python bench/bench_reward_model.py [--scale 0.1] [--write-results] [key=value ...]
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from results import write_section

from balancedbio.config import load_config  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Reward model"
CONFIG = ROOT / "configs" / "reward_model.yaml"


def demo_data(out: Path, scale: float) -> tuple[int, float]:
    """Generate the demo dataset into ``out``: (items, wall seconds)."""
    from balancedbio.data.config import GenerateConfig
    from balancedbio.data.pipeline import generate

    cfg = load_config(
        GenerateConfig,
        ROOT / "configs" / "generate.yaml",
        ["heldout.enabled=false", "decontaminate.enabled=false"],
    )
    tasks = {t: max(1, round(n * scale)) for t, n in cfg.tasks.items()}
    src = replace(
        cfg.sources,
        documents=str(ROOT / "examples/user_source/docs"),
        records=str(ROOT / "examples/user_source/records.jsonl"),
    )
    t0 = time.perf_counter()
    manifest = generate(replace(cfg, tasks=tasks, sources=src), out, progress=False, overwrite=True)
    return manifest.items, time.perf_counter() - t0


def load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def _accuracy(rows: list[dict[str, float]]) -> tuple[int, float]:
    n = sum(int(r["n"]) for r in rows)
    return n, (sum(r["n"] * r["accuracy"] for r in rows) / n if n else float("nan"))


def throughput(path: Path, pairs: list[dict[str, Any]], n: int, reps: int = 2) -> dict[str, float]:
    """Completions/s of the scorer, batched (16 per forward) vs one at a time, interleaved
    in the same process so machine load hits both alike; the weights load first."""
    from balancedbio.rewards.model_reward import RewardModelScorer

    prompts = [p["prompt"] for p in pairs[:n]]
    texts = [p["chosen"] for p in pairs[:n]]
    batched, single = RewardModelScorer(path, batch_size=16), RewardModelScorer(path, batch_size=1)
    batched.score(prompts[:2], texts[:2])  # load the weights, warm up
    single.score(prompts[:1], texts[:1])
    seconds = {"batched": 0.0, "single": 0.0}
    for _ in range(reps):
        for name, scorer in (("batched", batched), ("single", single)):
            t0 = time.perf_counter()
            scorer.score(prompts, texts)
            seconds[name] += time.perf_counter() - t0
    done = reps * len(texts)
    out = {f"{k}_per_s": done / v for k, v in seconds.items()}
    out["n"] = len(texts)
    out["speedup"] = out["batched_per_s"] / out["single_per_s"]
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    from collections import Counter

    from balancedbio.data.preferences import build_preference_pairs
    from balancedbio.training.reward_model import train_reward_model
    from balancedbio.training.rm_cli import TrainRMCommandConfig

    cfg = load_config(TrainRMCommandConfig, CONFIG, args.overrides)
    rm = cfg.reward_model
    tmp = Path(tempfile.mkdtemp(prefix="bench-rm-"))
    try:
        if args.dataset:
            dataset, items, gen_s = Path(args.dataset), None, 0.0
        else:
            dataset = tmp / "demo"
            items, gen_s = demo_data(dataset, args.scale)
        # Every capability's pairs, one split; train on the configured scope only (exactly
        # what `train-rm` trains on), evaluate on every held-out pair (in and out of scope).
        train_all, heldout = build_preference_pairs(
            dataset,
            seed=rm.seed,
            heldout_frac=rm.heldout_frac,
            pairs_per_item=rm.pairs_per_item,
            corruptions=rm.corruptions,
        )
        scope = set(rm.capabilities) or {p["capability"] for p in train_all}
        train = [p for p in train_all if p["capability"] in scope]
        load0, cpu0, t0 = load_average(), time.process_time(), time.perf_counter()
        result = train_reward_model(rm, train, heldout, tmp / "rm")
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
        meta = json.loads((result.path / "reward_model.json").read_text())
        speed = throughput(result.path, heldout, args.throughput_n)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    import torch

    task_cap = {p["task"]: p["capability"] for p in train_all + heldout}
    by_cap: dict[str, list[dict[str, float]]] = {}
    for key, row in result.per_task.items():
        by_cap.setdefault(task_cap.get(key.split("/", 1)[1], "?"), []).append(row)
    in_scope = [r for cap, rows in by_cap.items() if cap in scope for r in rows]
    return {
        "items": items,
        "generate_s": gen_s,
        "scope": sorted(scope),
        "n_train": len(train),
        "n_eval": len(heldout),
        "train_mix": dict(Counter(p["corruption"] for p in train)),
        "accuracy_all": result.heldout_pairwise_accuracy,
        "accuracy_scope": _accuracy(in_scope),
        "per_capability": {cap: _accuracy(rows) for cap, rows in sorted(by_cap.items())},
        "per_corruption": result.per_corruption,
        "per_task": result.per_task,
        "steps": result.steps,
        "train_s": result.train_seconds,
        "total_s": wall,
        "cpu_s": cpu,
        "threads": torch.get_num_threads(),
        "load_before": load0,
        "load_after": load_average(),
        "loss": meta.get("training_loss"),
        "config": meta["config"],
        "throughput": speed,
    }


def per_corruption_in_scope(
    per_task: dict[str, dict[str, float]], scope: set[str]
) -> dict[str, tuple[int, float]]:
    """(pairs, accuracy) per corruption over held-out pairs of in-scope tasks only."""
    from balancedbio.data.config import TASKS

    groups: dict[str, list[dict[str, float]]] = {}
    for key, row in per_task.items():
        corruption, task = key.split("/", 1)
        if TASKS.get(task, "user") in scope or task in ("user", "-"):
            groups.setdefault(corruption, []).append(row)
    return {name: _accuracy(rows) for name, rows in groups.items()}


def report(res: dict[str, Any], args: argparse.Namespace) -> str:
    today = datetime.date.today().isoformat()
    cpu = platform.processor() or platform.machine()
    over = " ".join(args.overrides)
    cmd = "`.venv/bin/python bench/bench_reward_model.py"
    cmd += f" --scale {args.scale}" if not args.dataset else f" --dataset {args.dataset}"
    cmd += f" --write-results{' ' + over if over else ''}`"
    c = res["config"]
    n_scope, acc_scope = res["accuracy_scope"]
    scope = ", ".join(res["scope"])
    lines = [
        SECTION,
        "",
        f"Command: {cmd} ({cpu}, {os.cpu_count()} logical CPUs, {res['threads']} torch threads, "
        f"Python {platform.python_version()}, {today}).",
        "",
        "The same with the CLI: `balancedbio generate -c configs/generate.yaml --out DIR "
        "[tasks.<task>=N ...]`, then `balancedbio rewards train-rm -c "
        "configs/reward_model.yaml dataset=DIR out=runs/reward_model` (prints the held-out "
        "accuracy, overall and per corruption, as JSON) and `balancedbio rewards score "
        "in.jsonl -m runs/reward_model`.",
        "",
        f"Demo data: {res['items'] if res['items'] is not None else '?'} MKGSG items "
        f"(shipped `configs/generate.yaml` mix x {args.scale}, generated in "
        f"{res['generate_s']:.0f}s) -> corruption pairs split by prompt (no held-out prompt "
        f"is trained on): {res['n_train']} training pairs of the reward model's scope "
        f"({scope}), {res['n_eval']} held-out pairs of every capability. Reward model: "
        f"`{c['backbone']}`, first {c['backbone_layers'] or 'all'} decoder layers, "
        f"{'LoRA' if c['lora']['enabled'] else 'full fine-tune'}, {res['steps']} steps x "
        f"{c['batch_size']} pairs, lr {c['learning_rate']}, max_length {c['max_length']} "
        f"(`configs/reward_model.yaml`); final training loss {res['loss']:.3f}.",
        "",
        f"**Held-out pairwise accuracy in scope ({scope}): {acc_scope:.3f}** ({n_scope} "
        f"pairs). On every held-out pair, knowledge MCQ included: {res['accuracy_all']:.3f} "
        f"({res['n_eval']} pairs). Training (load, tokenize, {res['steps']} steps, held-out "
        f"scoring, stats, save): {res['total_s']:.0f}s wall, {res['cpu_s']:.0f} CPU-seconds "
        f"(load average {res['load_before']:.1f} -> {res['load_after']:.1f} on this shared "
        f"machine; CPU-seconds / {res['threads']} threads = {res['cpu_s'] / res['threads']:.0f}s "
        "is the wall time to expect on an otherwise idle machine).",
        "",
        f"Scoring throughput (`RewardModelScorer`, {res['throughput']['n']} held-out "
        f"completions, {res['threads']} threads, interleaved in one process): batched (16 per "
        f"forward) {res['throughput']['batched_per_s']:.1f} completions/s vs one at a time "
        f"{res['throughput']['single_per_s']:.1f}/s: x{res['throughput']['speedup']:.2f}.",
        "",
        "| capability | in scope | held-out pairs | accuracy |",
        "|---|---|---:|---:|",
    ]
    for cap, (n, acc) in res["per_capability"].items():
        lines.append(f"| {cap} | {'yes' if cap in res['scope'] else 'no'} | {n} | {acc:.3f} |")
    lines += [
        "",
        "| corruption | training pairs | held-out in scope: pairs | accuracy "
        "| all held-out: pairs | accuracy |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    scoped = per_corruption_in_scope(res["per_task"], set(res["scope"]))
    for name, row in res["per_corruption"].items():
        n_in, acc_in = scoped.get(name, (0, float("nan")))
        lines.append(
            f"| {name} | {res['train_mix'].get(name, 0)} | {n_in} | {acc_in:.3f} "
            f"| {row['n']} | {row['accuracy']:.3f} |"
        )
    lines += [
        "",
        "Held-out accuracy per corruption and task:",
        "",
        "| corruption / task | held-out pairs | accuracy |",
        "|---|---:|---:|",
    ]
    for name, row in res["per_task"].items():
        lines.append(f"| {name} | {row['n']} | {row['accuracy']:.3f} |")
    lines += [
        "",
        "Corruptions (`balancedbio.data.corrupt.preference_pair`): *wrong_final_answer* "
        "changes only the final `Answer:` line (the next option letter, a wrong number, an "
        "unrelated diagnosis), so the model must check it against the reasoning and options; "
        "*break_instruction* edits the response until its first IFEval instruction fails; "
        "*reorder_workflow* / *drop_step* put the diagnosis before the differential or drop "
        "the differential.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=0.1, help="shipped task mix x scale")
    parser.add_argument("--dataset", help="an existing MKGSG directory instead of generating")
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--throughput-n", type=int, default=64, help="completions timed")
    parser.add_argument("overrides", nargs="*", help="TrainRMCommandConfig key=value overrides")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    res = run(args)
    text = report(res, args)
    print(text)
    print(json.dumps({k: v for k, v in res.items() if k != "config"}, default=str))
    if args.write_results:
        write_section(SECTION, text)


if __name__ == "__main__":
    main()
