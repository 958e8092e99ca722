"""Train the model-based reward: a sequence-classification reward model on preference pairs.

``train_reward_model(cfg, pairs_train, pairs_eval, out_dir)`` fine-tunes ``cfg.backbone``
(a :mod:`balancedbio.models` spec or HF directory) with TRL's ``RewardTrainer`` (Bradley-Terry
loss on chosen vs rejected) and writes a directory that
:class:`balancedbio.rewards.model_reward.RewardModelScorer` loads:

* ``model.safetensors`` + config + tokenizer: a plain ``num_labels=1`` model (a LoRA adapter,
  when used, is merged in);
* ``reward_model.json``: ``max_length``, the mean/std of raw scores over (a sample of) the
  training chosen+rejected responses -- the scorer's normalization -- and the held-out
  pairwise accuracy, overall and per corruption type.

Pairs are plain dicts ``{prompt, chosen, rejected[, corruption]}`` (build them with
:func:`balancedbio.data.preferences.build_preference_pairs`). They are tokenized here with
the scorer's own :func:`~balancedbio.rewards.model_reward.encode`, so training and scoring
see identical inputs. ``backbone_layers`` keeps only the first N decoder layers: a much
cheaper reward model (GRPO calls it for every completion) that still separates local edits.
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancedbio.common import atomic_dir, write_json
from balancedbio.config import ConfigError, to_dict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RMLoraConfig:
    """LoRA for the reward model (the score head is always fully trained)."""

    enabled: bool = False
    r: int = 16
    alpha: int = 32
    dropout: float = 0.0
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class RewardModelConfig:
    """How to train the reward model (``reward_model:`` in a config file)."""

    backbone: str = "smollm2-135m"
    backbone_layers: int | None = None  # keep the first N decoder layers (None: all)
    cache_dir: str | None = None
    max_steps: int = 200
    learning_rate: float = 5e-5
    batch_size: int = 8  # pairs per step
    max_length: int = 512  # longer inputs keep their last max_length tokens
    warmup_ratio: float = 0.05
    weight_decay: float = 0.0
    freeze_embeddings: bool = True
    lora: RMLoraConfig = field(default_factory=RMLoraConfig)
    seed: int = 0
    user_pairs: str | None = None  # JSONL {prompt, chosen, rejected} added to the pairs
    heldout_frac: float = 0.2
    pairs_per_item: int = 1
    corruptions: tuple[str, ...] = ()  # keep only these corruption types (empty: all)
    capabilities: tuple[str, ...] = ()  # keep pairs of these capabilities (empty: all)
    stats_samples: int = 256  # training responses scored for the normalization stats
    max_train_seconds: float | None = None  # stop training early past this wall time
    threads: int | None = None  # torch CPU threads (None: torch's default)


@dataclass(frozen=True)
class RewardModelResult:
    """Where the model is and how well it ranks held-out pairs."""

    path: Path
    heldout_pairwise_accuracy: float | None
    n_train: int
    n_eval: int
    seconds: float
    train_seconds: float = 0.0
    steps: int = 0
    per_corruption: dict[str, dict[str, float]] = field(default_factory=dict)
    per_task: dict[str, dict[str, float]] = field(default_factory=dict)  # "corruption/task"


def pairwise_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float:
    """Share of pairs whose chosen response scores higher; a tie counts half (chance = 0.5)."""
    if len(chosen) != len(rejected):
        raise ValueError(f"{len(chosen)} chosen scores for {len(rejected)} rejected")
    if not chosen:
        return math.nan
    wins = sum(
        1.0 if c > r else 0.5 if c == r else 0.0 for c, r in zip(chosen, rejected, strict=True)
    )
    return wins / len(chosen)


def _check_pairs(pairs: Sequence[Mapping[str, Any]], what: str) -> None:
    for i, p in enumerate(pairs):
        missing = [k for k in ("prompt", "chosen", "rejected") if k not in p]
        if missing:
            raise ConfigError(f"{what} pair {i}: missing {', '.join(missing)}")


def _truncate_layers(model: Any, n: int | None) -> None:
    """Keep the first ``n`` decoder layers (config updated, so the saved model reloads)."""
    if n is None:
        return
    base = getattr(model, model.base_model_prefix)
    attr = next((a for a in ("layers", "h") if hasattr(base, a)), None)
    if attr is None:
        raise ConfigError(f"backbone_layers: no decoder layer list in {type(base).__name__}")
    layers = getattr(base, attr)
    if not 1 <= n <= len(layers):
        raise ConfigError(f"backbone_layers must be in 1..{len(layers)}, got {n}")
    setattr(base, attr, layers[:n])
    text_cfg = model.config.get_text_config()
    text_cfg.num_hidden_layers = n
    if isinstance(getattr(text_cfg, "layer_types", None), list):
        text_cfg.layer_types = text_cfg.layer_types[:n]


def _load(cfg: RewardModelConfig) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForSequenceClassification
    from trl.trainer.reward_trainer import suppress_seqcls_warning

    from balancedbio.models import ModelConfig, load_tokenizer, resolve_model
    from balancedbio.models.store import quiet_progress

    path = resolve_model(cfg.backbone, cfg.cache_dir)
    tokenizer = load_tokenizer(ModelConfig(name=str(path), cache_dir=cfg.cache_dir))
    tokenizer.padding_side = "right"
    torch.manual_seed(cfg.seed)  # the score head is initialized randomly
    with suppress_seqcls_warning(), quiet_progress(False):
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=1, dtype=torch.float32, use_safetensors=True
        )
    _truncate_layers(model, cfg.backbone_layers)
    model.config.pad_token_id = tokenizer.pad_token_id
    model.config.get_text_config().pad_token_id = tokenizer.pad_token_id
    if cfg.freeze_embeddings and not cfg.lora.enabled:
        model.get_input_embeddings().weight.requires_grad_(False)
    return model, tokenizer


def _encode_pairs(
    tokenizer: Any, pairs: Sequence[Mapping[str, Any]], max_length: int
) -> list[dict]:
    from balancedbio.rewards.model_reward import encode

    rows = []
    for p in pairs:
        chosen = encode(tokenizer, p["prompt"], p["chosen"], max_length)
        rejected = encode(tokenizer, p["prompt"], p["rejected"], max_length)
        rows.append({"chosen_ids": chosen, "rejected_ids": rejected})
    return rows


def _callbacks(max_seconds: float | None) -> list[Any]:
    """Trainer logs to ``logging`` (not stdout) and an optional wall-time budget."""
    from transformers import TrainerCallback

    class LogAndBudget(TrainerCallback):
        start = time.perf_counter()

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.start = time.perf_counter()

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            keys = ("loss", "accuracy", "margin", "learning_rate")
            shown = {k: logs[k] for k in keys if logs and k in logs}
            if shown:
                log.info("reward model step %d: %s", state.global_step, shown)

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> Any:
            if max_seconds is not None and time.perf_counter() - self.start > max_seconds:
                log.warning(
                    "reward model: time budget %.0fs reached at step %d",
                    max_seconds,
                    state.global_step,
                )
                control.should_training_stop = True
            return control

    return [LogAndBudget()]


def _args(cfg: RewardModelConfig, output_dir: Path) -> Any:
    import torch
    from trl import RewardConfig

    on_gpu = torch.cuda.is_available()
    return RewardConfig(
        output_dir=str(output_dir),
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        warmup_steps=round(cfg.warmup_ratio * cfg.max_steps),
        weight_decay=cfg.weight_decay,
        lr_scheduler_type="linear",
        max_length=None,  # inputs are already cut to cfg.max_length (keeping their end)
        bf16=on_gpu and torch.cuda.is_bf16_supported(),
        fp16=False,
        use_cpu=not on_gpu,
        report_to=[],
        save_strategy="no",
        eval_strategy="no",
        logging_steps=max(1, cfg.max_steps // 10),
        disable_tqdm=True,
        seed=cfg.seed,
        data_seed=cfg.seed,
        dataloader_num_workers=0,
        train_sampling_strategy="group_by_length",  # similar lengths per batch: little padding
        length_column_name="length",
        remove_unused_columns=False,
    )


def train_reward_model(
    cfg: RewardModelConfig,
    pairs_train: Sequence[Mapping[str, Any]],
    pairs_eval: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
) -> RewardModelResult:
    """Train on ``pairs_train``, measure pairwise accuracy on ``pairs_eval``, save to
    ``out_dir`` (atomically: a killed run leaves no directory that looks finished)."""
    import os

    import torch
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import RewardTrainer

    from balancedbio.models.finetune import _quiet
    from balancedbio.rewards.model_reward import META_FILE, META_FORMAT, score_ids

    if not pairs_train:
        raise ConfigError("train_reward_model: no training pairs")
    _check_pairs(pairs_train, "training")
    _check_pairs(pairs_eval, "held-out")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    started = time.perf_counter()
    model, tokenizer = _load(cfg)
    rows = _encode_pairs(tokenizer, pairs_train, cfg.max_length)
    for row in rows:
        row["length"] = max(len(row["chosen_ids"]), len(row["rejected_ids"]))
    peft_config = None
    if cfg.lora.enabled:
        from peft import LoraConfig

        peft_config = LoraConfig(
            r=cfg.lora.r,
            lora_alpha=cfg.lora.alpha,
            lora_dropout=cfg.lora.dropout,
            target_modules=list(cfg.lora.target_modules),
            modules_to_save=["score"],
            task_type="SEQ_CLS",
        )
    out = Path(out_dir)
    with atomic_dir(out) as tmp, _quiet():
        trainer = RewardTrainer(
            model=model,
            args=_args(cfg, tmp / "trainer"),
            train_dataset=Dataset.from_list(rows),
            processing_class=tokenizer,
            peft_config=peft_config,
            callbacks=_callbacks(cfg.max_train_seconds),
        )
        trainer.remove_callback(PrinterCallback)  # logs go through logging instead
        t0 = time.perf_counter()
        result = trainer.train()
        train_seconds = time.perf_counter() - t0
        log.info(
            "reward model: %d steps in %.1fs, loss %.4f",
            result.global_step,
            train_seconds,
            result.training_loss,
        )
        model = trainer.model
        if cfg.lora.enabled:
            model = model.merge_and_unload()
        model.eval()
        pad = tokenizer.pad_token_id
        accuracy, per_corruption, per_task = _heldout(model, tokenizer, pairs_eval, cfg, score_ids)
        mean, std = _stats(model, pad, rows, cfg, score_ids)
        del trainer
        import shutil

        shutil.rmtree(tmp / "trainer", ignore_errors=True)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        seconds = time.perf_counter() - started
        write_json(
            tmp / META_FILE,
            {
                "format": META_FORMAT,
                "backbone": cfg.backbone,
                "max_length": cfg.max_length,
                "mean": mean,
                "std": std,
                "n_train": len(pairs_train),
                "n_eval": len(pairs_eval),
                "heldout_pairwise_accuracy": accuracy,
                "per_corruption": per_corruption,
                "per_task": per_task,
                "steps": result.global_step,
                "training_loss": result.training_loss,
                "train_seconds": round(train_seconds, 2),
                "seconds": round(seconds, 2),
                "config": to_dict(cfg),
            },
        )
    return RewardModelResult(
        path=out,
        heldout_pairwise_accuracy=accuracy,
        n_train=len(pairs_train),
        n_eval=len(pairs_eval),
        seconds=seconds,
        train_seconds=train_seconds,
        steps=result.global_step,
        per_corruption=per_corruption,
        per_task=per_task,
    )


Breakdown = dict[str, dict[str, float]]


def _heldout(
    model: Any,
    tokenizer: Any,
    pairs: Sequence[Mapping[str, Any]],
    cfg: RewardModelConfig,
    score_ids: Any,
) -> tuple[float | None, Breakdown, Breakdown]:
    """Held-out pairwise accuracy: overall, per corruption type and per corruption/task
    (pairs without a ``task`` count as ``-``); None when there are no pairs."""
    if not pairs:
        return None, {}, {}
    rows = _encode_pairs(tokenizer, pairs, cfg.max_length)
    seqs = [r["chosen_ids"] for r in rows] + [r["rejected_ids"] for r in rows]
    scores = score_ids(model, tokenizer.pad_token_id, seqs, 2 * cfg.batch_size)
    chosen, rejected = scores[: len(rows)], scores[len(rows) :]
    by_corruption: dict[str, list[int]] = defaultdict(list)
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        corruption = str(p.get("corruption") or "unknown")
        by_corruption[corruption].append(i)
        by_task[f"{corruption}/{p.get('task') or '-'}"].append(i)

    def table(groups: dict[str, list[int]]) -> Breakdown:
        return {
            name: {
                "n": len(idx),
                "accuracy": pairwise_accuracy([chosen[i] for i in idx], [rejected[i] for i in idx]),
            }
            for name, idx in sorted(groups.items())
        }

    return pairwise_accuracy(chosen, rejected), table(by_corruption), table(by_task)


def _stats(
    model: Any, pad: int, rows: Sequence[Mapping[str, Any]], cfg: RewardModelConfig, score_ids: Any
) -> tuple[float, float]:
    """Mean/std of raw scores over a seeded sample of training chosen+rejected responses."""
    seqs = [r["chosen_ids"] for r in rows] + [r["rejected_ids"] for r in rows]
    if len(seqs) > cfg.stats_samples:
        seqs = random.Random(cfg.seed).sample(seqs, max(2, cfg.stats_samples))
    scores = score_ids(model, pad, seqs, 2 * cfg.batch_size)
    mean = sum(scores) / len(scores)
    var = sum((s - mean) ** 2 for s in scores) / max(1, len(scores) - 1)
    return mean, max(math.sqrt(var), 1e-6)


__all__ = [
    "RMLoraConfig",
    "RewardModelConfig",
    "RewardModelResult",
    "pairwise_accuracy",
    "train_reward_model",
]
