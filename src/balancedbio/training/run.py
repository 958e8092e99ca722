"""``train_grpo``: one GRPO stage, told as a story.

config -> run directory -> rewards -> datasets -> model (+ LoRA) -> trainer (vanilla or
capability-aware) -> callbacks (metrics.jsonl, perf, Pareto) -> resume point -> train ->
final adapter + summary.json. Also runnable as a module, which is how multi-process runs
start::

    accelerate launch --config_file configs/accelerate/cpu_2proc_gloo.yaml \\
        -m balancedbio.training.run --train train.jsonl --heldout heldout.jsonl \\
        model=tiny-random max_steps=2 output_dir=runs/grpo-2proc
"""

from __future__ import annotations

import argparse
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from balancedbio.common import write_json
from balancedbio.config import load_config, save_config, to_dict
from balancedbio.training.config import GRPOStageConfig

log = logging.getLogger(__name__)

Rows = Sequence[Mapping[str, Any]]
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def train_grpo(
    cfg: GRPOStageConfig,
    train_dataset: Rows | Any,
    heldout_dataset: Rows | Any | None = None,
    rewards: Sequence[Any] | None = None,
    *,
    callbacks: Sequence[Any] = (),
) -> Path:
    """Train the policy with GRPO; returns the run directory (``cfg.output_dir``).

    ``train_dataset`` / ``heldout_dataset`` are lists of rows or ``datasets.Dataset`` with a
    conversational ``prompt``, a ``capability`` tag (str or list) and the verifier columns.
    ``rewards`` defaults to ``build_rewards(cfg.rewards)``; ``callbacks`` are extra
    ``transformers.TrainerCallback`` objects. The run directory ends up with
    ``metrics.jsonl``, ``data_order.jsonl``, ``checkpoint-*/``, ``final/`` (adapter or model)
    and ``summary.json``. An interrupted run resumes from its last complete checkpoint
    (``cfg.resume="auto"``) with the same optimizer state, RNG and data order.
    """
    from balancedbio.rewards.registry import build_rewards

    run_dir = Path(cfg.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    reward_funcs = list(rewards) if rewards is not None else build_rewards(cfg.rewards)
    train = to_dataset(train_dataset)
    heldout = [dict(r) for r in heldout_dataset] if heldout_dataset is not None else []
    trainer = build_trainer(cfg, train, heldout, reward_funcs, run_dir)
    for callback in callbacks:
        trainer.add_callback(callback)
    if trainer.accelerator.is_main_process:
        save_config(cfg, run_dir, "grpo_config.yaml")
    checkpoint = resume_point(run_dir, cfg.resume)
    if trainer.accelerator.is_main_process:
        _trim_logs(run_dir, checkpoint)
    trainer.accelerator.wait_for_everyone()
    log.info(
        "GRPO %s -> %s%s", cfg.trainer, run_dir, f" (resuming {checkpoint})" if checkpoint else ""
    )
    result = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    trainer.save_model(str(run_dir / "final"))
    if trainer.accelerator.is_main_process:
        pareto = trainer.extra_state.get("pareto")
        write_json(
            run_dir / "summary.json",
            {
                "trainer": cfg.trainer,
                "weighting": cfg.weighting,
                "aggregator": cfg.aggregator,
                "global_step": trainer.state.global_step,
                "train_metrics": result.metrics,
                "resumed_from": str(checkpoint) if checkpoint else None,
                "pareto": pareto.state_dict() if pareto is not None else None,
                "config": to_dict(cfg),
            },
        )
    trainer.accelerator.wait_for_everyone()
    return run_dir


def build_trainer(
    cfg: GRPOStageConfig, train: Any, heldout: Rows, rewards: Sequence[Any], run_dir: Path
) -> Any:
    """The configured trainer with its callbacks attached (nothing trained yet)."""
    from transformers import PrinterCallback

    from balancedbio.models import load_model_and_tokenizer
    from balancedbio.training.grpo import CapabilityAwareGRPOTrainer, TrackedGRPOTrainer
    from balancedbio.training.metrics import MetricsJsonlCallback, PerfCallback
    from balancedbio.training.pareto import ParetoCallback

    model, tokenizer = load_model_and_tokenizer(cfg.model)
    common: dict[str, Any] = dict(
        model=model,
        reward_funcs=list(rewards),
        args=grpo_args(cfg, run_dir, [float(getattr(r, "weight", 1.0)) for r in rewards]),
        train_dataset=train,
        processing_class=tokenizer,
        peft_config=peft_config(cfg),
        callbacks=[MetricsJsonlCallback(run_dir)],
        capabilities=cfg.capabilities,
        run_dir=run_dir,
    )
    if cfg.trainer == "vanilla":
        trainer = TrackedGRPOTrainer(**common)
    else:
        trainer = CapabilityAwareGRPOTrainer(
            **common,
            weighting=cfg.weighting,
            aggregator=cfg.aggregator,
            conflict_metrics=cfg.conflict_metrics,
            ema=cfg.ema,
            dynamic_statistic=cfg.dynamic_statistic,
        )
    trainer.remove_callback(PrinterCallback)  # metrics.jsonl + a one-line log instead
    trainer.add_callback(PerfCallback().bind(trainer))
    if heldout and cfg.pareto.enabled:
        pareto = ParetoCallback(
            cfg.pareto, heldout, rewards, cfg.capabilities, tokenizer, cfg.max_completion_length
        )
        trainer.add_callback(pareto.bind(trainer))
    return trainer


def grpo_args(cfg: GRPOStageConfig, run_dir: Path, reward_weights: list[float]) -> Any:
    """TRL's GRPOConfig for this stage (bf16 only on a bf16-capable GPU)."""
    import torch
    from trl import GRPOConfig

    from balancedbio.training.metrics import report_to

    bf16 = cfg.bf16
    if bf16 is None:
        bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    vllm: dict[str, Any] = {}
    if cfg.vllm.enabled:
        vllm = dict(
            use_vllm=True,
            vllm_mode=cfg.vllm.mode,
            vllm_server_base_url=cfg.vllm.server_base_url,
            vllm_gpu_memory_utilization=cfg.vllm.gpu_memory_utilization,
            vllm_tensor_parallel_size=cfg.vllm.tensor_parallel_size,
            vllm_importance_sampling_correction=cfg.vllm.importance_sampling_correction,
        )
    return GRPOConfig(
        output_dir=str(run_dir),
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        beta=cfg.beta,
        loss_type=cfg.loss_type,
        scale_rewards=cfg.scale_rewards,
        reward_weights=reward_weights,
        multi_objective_aggregation="normalize_then_sum"
        if cfg.weighting == "gdpo"
        else "sum_then_normalize",
        max_grad_norm=cfg.max_grad_norm,
        activation_checkpointing=cfg.gradient_checkpointing,
        bf16=bf16,
        fp16=False,
        use_cpu=not torch.cuda.is_available(),  # CPU-only: gloo processes under accelerate
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        report_to=report_to(),
        remove_unused_columns=False,
        disable_tqdm=True,
        **vllm,
    )


def peft_config(cfg: GRPOStageConfig) -> Any:
    """peft's LoraConfig for the policy, or None for full fine-tuning."""
    if not cfg.lora.enabled:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=list(cfg.lora.target_modules),
        task_type="CAUSAL_LM",
    )


def to_dataset(data: Rows | Any) -> Any:
    """A ``datasets.Dataset`` from rows: ``capability`` becomes a list column (Arrow cannot mix
    str and list), rows without an ``id`` get ``row-<i>`` (logged as the data order), and
    every row gets every column (``None`` where absent: ``from_list`` reads only the first
    row's keys)."""
    import datasets

    if isinstance(data, datasets.Dataset):
        if "id" not in data.column_names:
            data = data.add_column("id", [f"row-{i}" for i in range(len(data))])
        return data
    rows = []
    for i, row in enumerate(data):
        row = dict(row)
        cap = row.get("capability")
        if isinstance(cap, str):
            row["capability"] = [cap]
        row.setdefault("id", f"row-{i}")
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))
    return datasets.Dataset.from_list([{k: row.get(k) for k in columns} for row in rows])


def resume_point(run_dir: Path, resume: str) -> Path | None:
    """The checkpoint to resume from: ``"never"`` -> None, a path -> it, ``"auto"`` -> the
    newest checkpoint whose extra state was written (the last file of a checkpoint)."""
    from balancedbio.training.grpo import STATE_FILE

    if resume == "never":
        return None
    if resume != "auto":
        path = Path(resume)
        if not (path / "trainer_state.json").is_file():
            raise FileNotFoundError(f"resume={resume!r} is not a checkpoint directory")
        return path
    found = []
    for child in run_dir.glob("checkpoint-*"):
        match = _CHECKPOINT.match(child.name)
        if match and (child / STATE_FILE).is_file() and (child / "trainer_state.json").is_file():
            found.append((int(match.group(1)), child))
    return max(found)[1] if found else None


def _trim_logs(run_dir: Path, checkpoint: Path | None) -> None:
    from balancedbio.training.metrics import METRICS_FILE, truncate_after

    step = int(_CHECKPOINT.match(checkpoint.name).group(1)) if checkpoint else 0  # type: ignore[union-attr]
    for name in (METRICS_FILE, "data_order.jsonl"):
        truncate_after(run_dir / name, step)


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def main(argv: Iterable[str] | None = None) -> Path:
    """``python -m balancedbio.training.run [--config C] --train T.jsonl [--heldout H] k=v``"""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--config", default=None, help="YAML file of a GRPOStageConfig")
    parser.add_argument("--train", required=True, help="training rows (JSONL)")
    parser.add_argument("--heldout", default=None, help="held-out rows for Pareto tracking (JSONL)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides (max_steps=2 ...)")
    args = parser.parse_args(list(argv) if argv is not None else None)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    cfg = load_config(GRPOStageConfig, args.config, args.overrides)
    heldout = read_jsonl(args.heldout) if args.heldout else None
    return train_grpo(cfg, read_jsonl(args.train), heldout)


if __name__ == "__main__":
    main()
