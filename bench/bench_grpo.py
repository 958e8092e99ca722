"""Step time and peak memory of vanilla GRPO vs capability-aware GRPO, same data/batch/seed.

SmolLM2-135M-Instruct with LoRA (r=16 on q/k/v/o), 3 capabilities (knowledge MCQ, calculator
reasoning, IFEval instructions: the fixture rows of ``tests/training/fixtures.py`` and their
verifiers), ``--batch / 4`` prompts x 4 generations x ``--completion`` new tokens per step.
Two measurements:

1. **Full GRPO steps** of three trainers, each in its own process (so peak RSS is its own),
   ``--reps`` times in interleaved order, the first ``--warmup`` steps dropped:

   * ``vanilla``: TRL's GRPOTrainer, weighted reward sum;
   * ``aware_gdpo_sum``: capability-aware advantages (gating + GDPO), one summed backward;
   * ``aware_upgrad``: per-capability gradients from sub-batches, UPGrad over 3 capabilities.

   A step is split into *generation + scoring* (TRL's ``_generate_and_score_completions``)
   and *update* (forward, backward(s), aggregation, optimizer step).
2. **Update A/B** on one generated batch, interleaved in one process (both sides see the
   same machine load): one forward+backward of the summed loss (what vanilla does) vs the
   3 sub-batch forward+backward passes + all-reduce + Gramian + UPGrad + ``.grad`` write.
   Wall and CPU time; medians and minima (noise on a shared machine only adds time).

Targets: ``aware_gdpo_sum`` <= 1.05x and ``aware_upgrad`` <= 1.5x (aim: 1.15x) vanilla.

    .venv/bin/python bench/bench_grpo.py [--steps 5] [--warmup 2] [--reps 1] [--ab 5]
                                         [--batch 16] [--completion 32] [--write-results]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## Capability-aware GRPO"
KEEP = "### SmolLM2 GRPO run"  # written by hand after a CLI run; a rewrite keeps it
CONFIGS: dict[str, list[str]] = {
    "vanilla": ["trainer=vanilla", "weighting=fixed"],
    "aware_gdpo_sum": ["trainer=capability_aware", "weighting=gdpo", "aggregator=sum"],
    "aware_upgrad": ["trainer=capability_aware", "weighting=gdpo", "aggregator=upgrad"],
}
GENERATIONS = 4
COMMON = [
    f"num_generations={GENERATIONS}",
    "save_steps=100000",
    "pareto.enabled=false",
    "logging_steps=1",
    "seed=0",
]


def _trainer(name: str, model: str, steps: int, tmp: str, shape: tuple[int, int]) -> Any:
    sys.path.insert(0, str(ROOT / "tests" / "training"))
    import fixtures

    from balancedbio.config import load_config
    from balancedbio.training import GRPOStageConfig
    from balancedbio.training.run import build_trainer, to_dataset

    batch, completion = shape
    overrides = [f"model={model}", f"max_steps={steps}", f"output_dir={tmp}", *COMMON]
    overrides += [f"per_device_train_batch_size={batch}", f"max_completion_length={completion}"]
    cfg = load_config(GRPOStageConfig, None, [*overrides, *CONFIGS[name]])
    rows = to_dataset(fixtures.build_rows(8))
    return build_trainer(cfg, rows, [], fixtures.make_rewards(), Path(tmp))


def child_steps(name: str, model: str, steps: int, out: Path, shape: tuple[int, int]) -> None:
    """Run one trainer for ``steps`` steps; write per-step timings and peak RSS to ``out``."""
    from transformers import TrainerCallback

    from balancedbio.training.metrics import peak_memory_mb

    record: dict[str, list[float]] = {"step": [], "step_cpu": [], "gen": []}
    with tempfile.TemporaryDirectory() as tmp:
        trainer = _trainer(name, model, steps, tmp, shape)
        original = trainer._generate_and_score_completions

        def timed(inputs: Any) -> Any:
            started = time.perf_counter()
            output = original(inputs)
            record["gen"].append(time.perf_counter() - started)
            return output

        trainer._generate_and_score_completions = timed

        class StepTimer(TrainerCallback):
            def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                self.wall, self.cpu = time.perf_counter(), time.process_time()

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                record["step"].append(time.perf_counter() - self.wall)
                record["step_cpu"].append(time.process_time() - self.cpu)

        trainer.add_callback(StepTimer())
        trainer.train()
    out.write_text(json.dumps({**record, **peak_memory_mb()}))


def child_ab(model: str, reps: int, out: Path, shape: tuple[int, int]) -> None:
    """Interleaved update A/B on one generated batch (see the module docstring)."""
    import torch

    from balancedbio.training import conflict

    with tempfile.TemporaryDirectory() as tmp:
        trainer = _trainer("aware_upgrad", model, 1, tmp, shape)
        trainer.model.train()
        trainer.current_gradient_accumulation_steps = 1
        data = trainer.train_dataset
        prompts = shape[0] // GENERATIONS  # rows cycle knowledge, reasoning, instruction
        batch = [dict(data[i]) for i in range(prompts) for _ in range(GENERATIONS)]
        inputs = trainer._generate_and_score_completions(batch)
        model_, params = trainer.model, trainer._params
        gens = trainer.num_generations

        def vanilla() -> None:
            torch.autograd.grad(trainer._compute_loss(model_, inputs), params)

        def gdpo_sum() -> None:  # capability-gated GDPO advantages, then one summed backward
            adv, member = trainer.weighter.advantages(trainer.last_rewards, trainer.last_tags, gens)
            summed = {**inputs, "advantages": (adv * member).sum(dim=1).to(inputs["advantages"])}
            torch.autograd.grad(trainer._compute_loss(model_, summed), params)

        def upgrad() -> None:
            trainer.capability_backward(model_, inputs)
            _, _, weights = conflict.combine(trainer._jacobian, "upgrad")
            trainer._jacobian.write_grads(weights)
            trainer._jacobian.zero_()
            for p in params:
                p.grad = None

        arms = (("vanilla", vanilla), ("gdpo_sum", gdpo_sum), ("upgrad", upgrad))
        times: dict[str, list[float]] = {f"{k}{s}": [] for k, _ in arms for s in ("", "_cpu")}
        rss: dict[str, float] = dict.fromkeys((k for k, _ in arms), 0.0)
        for _ in range(reps):
            for key, fn in arms:
                wall, cpu = time.perf_counter(), time.process_time()
                with RssPeak() as peak:
                    fn()
                times[key].append(time.perf_counter() - wall)
                times[f"{key}_cpu"].append(time.process_time() - cpu)
                rss[key] = max(rss[key], peak.mb)
        sizes = inputs["capability_mask"].sum(0).tolist()
        shape = [*inputs["prompt_ids"].shape, inputs["completion_ids"].shape[1]]
    out.write_text(json.dumps({**times, "rss_mb": rss, "sub_batches": sizes, "shape": shape}))


class RssPeak:
    """Peak resident memory of this process while the block runs (sampled every 2 ms)."""

    def __enter__(self) -> RssPeak:
        import threading

        self.mb = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.002):
            self.mb = max(self.mb, _rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.mb = max(self.mb, _rss_mb())


def _rss_mb() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _child(args: list[str], out: Path, shape: tuple[int, int]) -> dict[str, Any]:
    sizes = ["--batch", str(shape[0]), "--completion", str(shape[1])]
    cmd = [sys.executable, __file__, *args, *sizes, "--out", str(out)]
    subprocess.run(cmd, check=True, cwd=ROOT, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    return json.loads(out.read_text())


def run_all(args: argparse.Namespace) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONFIGS}
    med, low = statistics.median, min
    shape = (args.batch, args.completion)
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(args.reps):
            for name in CONFIGS:
                logging.info("steps, rep %d: %s", rep + 1, name)
                child = [
                    "--child",
                    name,
                    "--model",
                    args.model,
                    "--steps",
                    str(args.warmup + args.steps),
                ]
                runs[name].append(_child(child, Path(tmp) / f"{name}-{rep}.json", shape))
        ab = None
        if args.ab:
            logging.info("update A/B, %d interleaved repetitions", args.ab)
            ab = _child(
                ["--child", "ab", "--model", args.model, "--steps", str(args.ab)],
                Path(tmp) / "ab.json",
                shape,
            )
    steps: dict[str, Any] = {}
    for name, results in runs.items():
        if not results:  # --reps 0: update A/B only
            continue
        cut = args.warmup
        step = [s for r in results for s in r["step"][cut:]]
        gen = [g for r in results for g in r["gen"][cut:]]
        update = [
            s - g for r in results for s, g in zip(r["step"][cut:], r["gen"][cut:], strict=True)
        ]
        cpu = [c for r in results for c in r["step_cpu"][cut:]]
        steps[name] = {
            "step_s": med(step),
            "step_min_s": low(step),
            "step_cpu_s": med(cpu),
            "gen_s": med(gen),
            "update_s": med(update),
            "update_min_s": low(update),
            "peak_rss_mb": max(r["perf/peak_rss_mb"] for r in results),
        }
    base = steps.get("vanilla", {})
    for row in steps.values():
        for key in ("step_s", "step_min_s", "step_cpu_s", "update_s", "update_min_s"):
            row[key.replace("_s", "_ratio")] = row[key] / base[key]
    out: dict[str, Any] = {"steps": steps}
    if ab is not None:
        arms = ("vanilla", "gdpo_sum", "upgrad")
        out["ab"] = {"sub_batches": ab["sub_batches"], "shape": ab["shape"], "rss_mb": ab["rss_mb"]}
        for key in arms:
            for suffix in ("", "_cpu"):
                for stat, fn in (("median", med), ("min", low)):
                    value = fn(ab[f"{key}{suffix}"])
                    base = fn(ab[f"vanilla{suffix}"])
                    out["ab"][f"{stat}_{key}{suffix}"] = value
                    out["ab"][f"{stat}_{key}{suffix}_ratio"] = value / base
    return out


def tables(summary: dict[str, Any]) -> str:
    lines = (
        []
        if not summary["steps"]
        else [
            "| trainer | step s (median) | ratio | step s (min) | ratio | step CPU s | ratio "
            "| generation+scoring s | update s | update ratio | peak RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
    )
    for name, r in summary["steps"].items():
        lines.append(
            f"| {name} | {r['step_s']:.1f} | {r['step_ratio']:.2f}x | {r['step_min_s']:.1f} | "
            f"{r['step_min_ratio']:.2f}x | {r['step_cpu_s']:.1f} | {r['step_cpu_ratio']:.2f}x | "
            f"{r['gen_s']:.1f} | {r['update_s']:.1f} | {r['update_ratio']:.2f}x | "
            f"{r['peak_rss_mb']:.0f} |"
        )
    ab = summary.get("ab")
    if ab:
        lines += [
            "",
            f"Update A/B (batch {ab['shape'][0]} x ({ab['shape'][1]} prompt + {ab['shape'][2]} "
            f"completion) tokens, sub-batches {ab['sub_batches']}):",
            "",
            "| update | wall s median | ratio | wall s min | ratio | CPU s median | ratio "
            "| peak RSS MiB |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        labels = {
            "vanilla": "vanilla: one summed backward",
            "gdpo_sum": "gating + gdpo advantages, one backward",
            "upgrad": "3 sub-batch backwards + UPGrad",
        }
        for key, label in labels.items():
            lines.append(
                f"| {label} | {ab[f'median_{key}']:.2f} | {ab[f'median_{key}_ratio']:.2f}x | "
                f"{ab[f'min_{key}']:.2f} | {ab[f'min_{key}_ratio']:.2f}x | "
                f"{ab[f'median_{key}_cpu']:.2f} | {ab[f'median_{key}_cpu_ratio']:.2f}x | "
                f"{ab['rss_mb'][key]:.0f} |"
            )
    return "\n".join(lines)


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, torch CPU, Python {platform.python_version()}, "
        f"{date.today().isoformat()}, load average {load:.1f} at the end"
    )


def write_results(summary: dict[str, Any], args: argparse.Namespace) -> None:
    command = (
        f".venv/bin/python bench/bench_grpo.py --steps {args.steps} --warmup {args.warmup} "
        f"--reps {args.reps} --ab {args.ab} --batch {args.batch} --completion {args.completion} "
        "--write-results"
    )
    prompts = args.batch // GENERATIONS
    body = f"""{SECTION}

Command: `{command}` ({_machine()}).

SmolLM2-135M-Instruct (fp32) + LoRA r=16 on q/k/v/o, 3 capabilities (knowledge MCQ,
calculator reasoning, IFEval; fixture rows and their verifiers), {prompts} prompts x
{GENERATIONS} generations x {args.completion} new tokens per step, seed 0. Full steps: each
trainer in its own process, {args.reps} run(s) in interleaved order, {args.steps} timed steps
per run after {args.warmup} warm-up steps; *update* = step minus generation+scoring. Update
A/B: {args.ab} interleaved repetitions on one generated batch in one process.

{tables(summary)}

Targets: `aware_gdpo_sum` <= 1.05x and `aware_upgrad` <= 1.5x (aim 1.15x) the vanilla
step. `aware_gdpo_sum` only changes the advantages (one backward). `aware_upgrad` runs one
forward/backward per capability on its own sub-batch (the FLOPs of one summed pass), then one
all-reduce of the 3 x 1.8 M Jacobian, a 3 x 3 Gramian and UPGrad's QP (milliseconds).
Completions differ between trainers after the first update, so generation time (and the full
step ratio) carries sampling noise; the A/B isolates the update. On a shared, oversubscribed
machine, OpenMP threads spin while waiting, which inflates CPU time and penalises the three
smaller passes more than one large pass; minima are the least disturbed numbers.
"""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    if SECTION in text:
        start = text.index(SECTION)
        nxt = text.find("\n## ", start + len(SECTION))
        old = text[start : nxt if nxt != -1 else len(text)]
        kept = old[old.index(KEEP) :].rstrip() + "\n" if KEEP in old else ""
        body = body.rstrip() + "\n" + ("\n" + kept if kept else "")
        text = text[:start] + body + (text[nxt:] if nxt != -1 else "")
    else:
        text = text.rstrip() + "\n\n" + body
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--reps", type=int, default=1)
    parser.add_argument("--ab", type=int, default=5, help="update A/B repetitions (0: skip)")
    parser.add_argument("--batch", type=int, default=16, help="completions per step")
    parser.add_argument("--completion", type=int, default=32, help="max new tokens")
    parser.add_argument("--write-results", action="store_true")
    parser.add_argument("--child", choices=[*sorted(CONFIGS), "ab"], help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.child:
        logging.getLogger().setLevel(logging.WARNING)
        if args.child == "ab":
            child_ab(args.model, args.steps, args.out, (args.batch, args.completion))
        else:
            child_steps(args.child, args.model, args.steps, args.out, (args.batch, args.completion))
        return
    summary = run_all(args)
    print(tables(summary))
    if args.write_results:
        write_results(summary, args)


if __name__ == "__main__":
    main()
