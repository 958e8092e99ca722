"""MKGSG template mode: overall throughput of the shipped config on one core, and where the
time goes per task and stage.

1. Overall: ``generate()`` on the shipped ``configs/generate.yaml`` as shipped (held-out set
   and decontamination included, ``construct.workers=1``), each run in a fresh process:
   items written, CPU seconds of the process (one core) and wall time. With ``--compare SRC``
   the same is measured with the ``balancedbio`` package of another source tree (e.g. the
   previous commit: ``git archive HEAD src | tar -x -C /tmp/base``), runs interleaved
   (``--rounds``) so both see the same machine load.
2. Per task (``--per-task`` seeds each, after a warm-up): CPU ms per seed of each stage --
   construct, validate (ontology entities + facts + claims, workflow rules, answer and
   IFEval self-checks), gate (dedup + decontamination) and write (``ShardWriter``) -- and
   the validated items per CPU second of the whole chain (one core).

Times are CPU time of the process (``time.process_time``), so other jobs on a shared
machine inflate them less than wall time.

    .venv/bin/python bench/bench_generate.py [--per-task 200] [--scale 1.0]
        [--compare /tmp/base/src] [--rounds 2] [--write-results]
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from results import write_section

from balancedbio.config import load_config  # noqa: E402
from balancedbio.data.config import GenerateConfig  # noqa: E402
from balancedbio.data.engine import Engine  # noqa: E402
from balancedbio.data.gate import Gate  # noqa: E402
from balancedbio.data.pipeline import BATCH, generate  # noqa: E402
from balancedbio.data.records import JSON_FIELDS, SCHEMA, new_record  # noqa: E402
from balancedbio.data.shards import ShardWriter  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## MKGSG template mode"
CONFIG = ROOT / "configs" / "generate.yaml"


def shipped(overrides: list[str]) -> GenerateConfig:
    cfg = load_config(GenerateConfig, CONFIG, overrides)
    src = replace(
        cfg.sources,
        documents=str(ROOT / "examples/user_source/docs"),
        records=str(ROOT / "examples/user_source/records.jsonl"),
    )
    return replace(cfg, sources=src)


def _gated(gate: Gate, chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The items of one chunk the gate keeps, prepared in one batch as the pipeline does."""
    gate.prepare(chunk)
    return [r for r in chunk if gate(r) is None]


def stage_table(per_task: int, kg: Any) -> list[dict[str, Any]]:
    """CPU ms per seed of each stage, per task (each task on its own warm engine)."""
    from balancedbio.data.pipeline import _quiet_gc  # this tree only (not --compare's)

    rows = []
    base = shipped(["heldout.enabled=false", "decontaminate.enabled=false"])
    with tempfile.TemporaryDirectory() as tmp:  # warm the writer's imports and code paths
        w = ShardWriter(tmp, 10, "jsonl", json_fields=JSON_FIELDS, schema=SCHEMA)
        w.add(new_record(id="warm-up", capability="knowledge", answer_kind="choice"))
        w.end_seed()
        w.finalize()
    for task in base.tasks:
        n = per_task if task not in ("record_case", "document_instruction") else base.tasks[task]
        eng = Engine(replace(base, tasks={task: n + 20}), kg=kg)
        seeds = eng.seeds()
        eng.produce(seeds[:20])  # warm lazy tables
        seeds = seeds[20:]
        gate = Gate(base, None)  # built once per run (its LSH band split is computed once)
        with _quiet_gc(automatic=False):  # the GC regime of the pipeline's template loop
            t0 = time.process_time()
            built = eng.construct(seeds)
            t1 = time.process_time()
            valid = [r for r in built if isinstance(r, dict) and eng.validator(r) is None]
            t2 = time.process_time()
            chunks = [valid[i : i + BATCH] for i in range(0, len(valid), BATCH)]
            kept = [r for chunk in chunks for r in _gated(gate, chunk)]
            t3 = time.process_time()
            with tempfile.TemporaryDirectory() as tmp:
                w = ShardWriter(tmp, 1000, "jsonl", json_fields=JSON_FIELDS, schema=SCHEMA)
                for r in kept:
                    w.add(r)
                    w.end_seed()
                w.finalize()
            t4 = time.process_time()
        k = len(seeds)
        rows.append(
            {
                "task": task,
                "seeds": k,
                "valid": len(kept),
                "construct": 1000 * (t1 - t0) / k,
                "validate": 1000 * (t2 - t1) / k,
                "gate": 1000 * (t3 - t2) / k,
                "write": 1000 * (t4 - t3) / k,
                "items_s": len(kept) / (t4 - t0),
            }
        )
        r = rows[-1]
        print(
            f"{task:22s} construct {r['construct']:6.2f}  validate {r['validate']:6.2f}"
            f"  gate {r['gate']:5.2f}  write {r['write']:5.2f} ms/seed"
            f"  -> {r['items_s']:6.0f} items/s",
            flush=True,
        )
    return rows


def overall_once(scale: float) -> dict[str, Any]:
    """One ``generate()`` of the shipped config (task counts scaled by ``scale``), this process."""
    from balancedbio.knowledge import load_knowledge

    cfg = shipped(["construct.workers=1"])
    if scale != 1.0:
        tasks = {t: max(1, round(n * scale)) for t, n in cfg.tasks.items()}
        cfg = replace(cfg, tasks=tasks)
    kg = load_knowledge(cfg.knowledge)
    kg.grounder  # noqa: B018 - build the automaton outside the timings
    tmp = Path(tempfile.mkdtemp(prefix="bench-mkgsg-"))
    try:
        warm_cpu = time.process_time()
        generate(warm_up(cfg), tmp / "warm", progress=False, kg=kg)
        warm_cpu = time.process_time() - warm_cpu
        cpu, wall = time.process_time(), time.perf_counter()
        m = generate(cfg, tmp / "out", progress=False, kg=kg)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    heldout = (m.data.get("heldout") or {}).get("items", 0)
    return {"items": m.items, "heldout": heldout, "cpu": cpu, "wall": wall, "warm_cpu": warm_cpu}


def warm_up(cfg: GenerateConfig) -> GenerateConfig:
    """3% of the seeds under other seeds: every code path runs once (lazy imports such as
    NLTK and langdetect's profiles, lazily built tables) while no item, and so no per-text
    memo entry, of the measured run is made in advance."""
    return replace(
        cfg,
        seed=cfg.seed + 7919,
        tasks={t: max(3, round(n * 0.03)) for t, n in cfg.tasks.items()},
        heldout=replace(cfg.heldout, seed=cfg.heldout.seed + 7919),
    )


def rate(run: dict[str, Any]) -> float:
    """Validated items written (training + held-out) per CPU second."""
    return (run["items"] + run["heldout"]) / run["cpu"]


def overall(scale: float, compare: str | None, rounds: int) -> list[dict[str, Any]]:
    """Interleaved fresh-process runs of :func:`overall_once`, this tree (and ``compare``)."""
    variants = [("this tree", None)] + ([("compare", compare)] if compare else [])
    out = []
    for r in range(rounds):
        for label, src in variants if r % 2 == 0 else variants[::-1]:
            env = dict(os.environ)
            if src is not None:
                env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
            cmd = [sys.executable, __file__, "--overall-once", "--scale", str(scale)]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            row = json.loads(proc.stdout.strip().splitlines()[-1]) | {"variant": label}
            row["source"] = src or str(ROOT / "src")
            out.append(row)
            print(
                f"{label}: {row['items']} items (+{row['heldout']} held out) in "
                f"{row['cpu']:.1f} CPU s = {rate(row):.0f} items/CPU-s "
                f"(wall {row['wall']:.1f} s; warm-up {row['warm_cpu']:.1f} CPU s)",
                flush=True,
            )
    return out


def _overall_lines(runs: list[dict[str, Any]], args: Any) -> list[str]:
    scope = "as shipped" if args.scale == 1.0 else f"with task counts scaled by {args.scale}"
    lines = [
        f"Overall: `generate()` on `configs/generate.yaml` {scope} (held-out set, dedup and "
        "decontamination on, `construct.workers=1`), each run in a fresh process after a "
        "warm-up (3% of the seeds under other seeds, so every code path and lazy import has "
        "run once but no measured item was made in advance; its CPU s, first-use costs "
        "included, is shown too); items/s = validated items written (training + held-out) "
        "per CPU second of the process (one core).",
        "",
        "| code | items | held out | CPU s | items/s (1 core) | wall s | warm-up CPU s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in runs:
        lines.append(
            f"| {r['variant']} | {r['items']} | {r['heldout']} | {r['cpu']:.1f} | "
            f"{rate(r):.0f} | {r['wall']:.1f} | {r['warm_cpu']:.1f} |"
        )
    if args.compare:
        lines += ["", f"*compare* is the package at `{args.compare}` (`{args.compare_label}`)."]
    return lines


def render(stages: list[dict[str, Any]], runs: list[dict[str, Any]], args: Any) -> str:
    today = datetime.date.today().isoformat()
    cpu = platform.processor() or platform.machine()
    cmd = f".venv/bin/python bench/bench_generate.py --per-task {args.per_task}"
    if args.scale != 1.0:
        cmd += f" --scale {args.scale}"
    if args.compare:
        cmd += f" --compare {args.compare} --compare-label '{args.compare_label}'"
        cmd += f" --rounds {args.rounds}"
    lines = [
        SECTION,
        "",
        f"Command: `{cmd} --write-results` ({cpu}, {os.cpu_count()} logical CPUs, "
        f"Python {platform.python_version()}, {today}; load average at start "
        f"{args.load:.1f}).",
        "",
        *_overall_lines(runs, args),
        "",
        "Per task, after a warm-up: CPU ms per seed of each stage of the chain (one core) "
        "and validated, deduplicated, written items per CPU second. *validate* is every "
        "verifier: entities grounded, facts and stated claims checked against the ontology, "
        "workflow rules on case traces, the reference graded by the answer checker, IFEval "
        "instructions followed.",
        "",
        "| task | seeds | kept | construct ms | validate ms | gate ms | write ms "
        "| items/s (1 core) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in stages:
        lines.append(
            f"| {r['task']} | {r['seeds']} | {r['valid']} | {r['construct']:.2f} | "
            f"{r['validate']:.2f} | {r['gate']:.2f} | {r['write']:.2f} | {r['items_s']:.0f} |"
        )
    lines += ["", NOTES.strip(), ""]
    return "\n".join(lines) + "\n"


NOTES = """
*compare* is session 3's code (which measured 555 and 440 items/CPU-s in its own table, on a
busier machine; 245 two sessions ago). Items: 44 more training items than *compare* because
its MinHash was broken (below), 8 more instruction items (a sentence read as a false claim in
the composed response is dropped at construction instead of failing validation); every other
item is byte-identical, and every item is still fully validated by the same verifiers.
What changed (same-run ratio ~1.4x less CPU per run):
- Dedup fix: *compare*'s MinHash permutations `(a*x + b) mod (2**61 - 1)` with `a, x < 2**32`
  wrapped at most 7 times, so all 128 favoured the same small shingle hashes and texts
  sharing only a template scored ~0.9: 44 of its 45 near-duplicate rejections had a true
  Jaccard of 0.02-0.70. Now multiply-add-shift hashes over 64 bits (on 3,600 sampled pairs:
  mean absolute error 0.018 vs 0.042, no pair below 0.75 estimated above 0.85); the run
  keeps exactly the one true near-duplicate rejection.
- Gate: a produced chunk's texts, exact hashes, signatures (one numpy pass over all its
  shingles) and contamination lines are prepared together; decisions stay sequential.
- Writer: one generated function per schema checks a row and writes its JSON line in one
  walk; sorted JSON fields by one C encoder built once (same bytes).
- Instruction items: one claims pass per composed reference (the validator's identical call
  hits a per-graph report memo); langdetect stops once the winner is decided, reads profile
  rows directly, and Punkt runs its regexes without NLTK's per-call timer (fuzzed against
  NLTK); same verdicts.
- Constructors and fact checks: bisected phenotype/ancestor checks for rarely asked
  diseases, reason-free `is_a`/`name` checks, memoized aliases and sorted pools, CPython's
  exact random draws without per-draw Python calls.
- Validator: ASCII fast paths for claim words, negation cues and answer cues (fuzzed against
  the regexes), step entities cut from one trace grounding by bisection, grounding from one
  offsets pass with per-key id memos.
- The template item loop runs with automatic GC off (a whole shipped run leaves ~300
  unreachable objects; the loop collects every 2,000 chunks itself).

The target, >= 1,000 validated items/s on one core, is reached on an idle machine, with
about 1% margin (this tree's rows above; the template loop's GC regime is worth ~2% of it).
A busy machine does not reach it (other jobs on the two cores cost 5-30%). Where time goes
now: construct ~52% of a run, validate ~31%, gate ~8%, writer ~6%; the largest single
pieces are grounding (~8%), claims extraction, langdetect and the knowledge MCQ distractor
search (~2-4% each). Compiling the hot modules with Cython (pure-Python mode) was measured
and gave no gain. The warm-up column is the first-use cost of a process (NLTK imports scipy,
langdetect loads its profiles, `datasets` for the dataset card, lazy tables). To scale out,
run forked workers (`construct.workers=N`, same output) or split the seed stream across
machines (`--shard i/n`, docs/data.md). Timings are CPU time of one process on a shared
2-core machine: compare rows of one table, not runs.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--per-task", type=int, default=200)
    parser.add_argument("--scale", type=float, default=1.0, help="scale the task counts")
    parser.add_argument("--compare", help="another tree's src/ to measure the same way")
    parser.add_argument("--compare-label", default="baseline", help="what --compare is")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved overall runs")
    parser.add_argument("--overall-once", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--write-results", action="store_true", help=f"update {RESULTS}")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.overall_once:  # child process of overall(): one JSON line on stdout
        print(json.dumps(overall_once(args.scale)))
        return
    from balancedbio.knowledge import load_knowledge

    args.load = os.getloadavg()[0]
    runs = overall(args.scale, args.compare, args.rounds)
    kg = load_knowledge(shipped([]).knowledge)
    kg.grounder  # noqa: B018 - build the automaton outside the timings
    stages = stage_table(args.per_task, kg)
    if args.write_results:
        write_section(SECTION, render(stages, runs, args))
        print(f"wrote {SECTION!r} in {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
