"""SFT warm-up: fine-tune the policy on MKGSG reference solutions before GRPO.

``train_sft(cfg, rows)`` turns MKGSG items (conversational ``prompt`` + ``reference``, the
solution that passes every verifier of the item) into prompt/completion rows and trains them
with :func:`balancedbio.models.finetune.sft_lora` (TRL's ``SFTTrainer``; LoRA by default, every
weight with ``lora.enabled=false``). The run directory::

    <output_dir>/sft_config.yaml        the resolved config
    <output_dir>/metrics.jsonl          one line per logged step (loss, learning rate, ...)
    <output_dir>/final/adapter/         the LoRA adapter (LoRA runs only)
    <output_dir>/final/merged/          the merged model + tokenizer (safetensors)

``final/merged`` is what ``train_sft`` returns: ``ModelConfig(name=str(path))`` loads it, so
the GRPO stage starts from it (``balancedbio grpo ... model=<output_dir>/final/merged``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancedbio.config import ConfigError
from balancedbio.models import ModelConfig
from balancedbio.training.config import LoraConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SFTStageConfig:
    """The SFT warm-up: model, LoRA (or full fine-tuning), optimisation, output."""

    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    max_steps: int | None = None  # None: train `epochs` epochs
    epochs: float = 1.0
    learning_rate: float = 2e-4  # LoRA; use ~1e-5 for full fine-tuning
    batch_size: int = 4
    max_length: int = 512
    logging_steps: int = 1
    seed: int = 0
    output_dir: str = "runs/sft"

    def __post_init__(self) -> None:
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"sft.max_steps must be >= 1 or null, got {self.max_steps}")
        if self.epochs <= 0 or self.learning_rate <= 0:
            raise ConfigError("sft.epochs and sft.learning_rate must be > 0")
        if self.batch_size < 1 or self.max_length < 16 or self.logging_steps < 1:
            raise ConfigError(
                "sft.batch_size and sft.logging_steps must be >= 1, sft.max_length >= 16"
            )


def sft_rows(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """MKGSG items -> prompt/completion rows; every item needs a prompt and a reference."""
    from balancedbio.models.finetune import chat_rows

    for i, item in enumerate(items):
        if not item.get("prompt") or not item.get("reference"):
            ident = item.get("id", f"row {i}")
            raise ConfigError(f"SFT item {ident!r} has no prompt or no reference solution")
    return chat_rows(items)


def train_sft(
    cfg: SFTStageConfig,
    rows: Sequence[Mapping[str, Any]],
    *,
    callbacks: Sequence[Any] = (),
) -> Path:
    """Fine-tune ``cfg.model`` on MKGSG items ``rows``; returns ``<output_dir>/final/merged``.

    ``callbacks`` are extra ``transformers.TrainerCallback`` objects (a progress bar, ...).
    """
    from balancedbio.config import save_config
    from balancedbio.models.finetune import sft_lora
    from balancedbio.training.metrics import METRICS_FILE, MetricsJsonlCallback

    data = sft_rows(rows)
    run_dir = Path(cfg.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / METRICS_FILE).unlink(missing_ok=True)  # a rerun starts its log afresh
    save_config(cfg, run_dir, "sft_config.yaml")
    log.info(
        "SFT (%s) %s on %d rows -> %s",
        "LoRA" if cfg.lora.enabled else "full fine-tuning",
        cfg.model.name,
        len(data),
        run_dir,
    )
    merged = sft_lora(
        cfg.model.name,
        data,
        run_dir / "final",
        steps=cfg.max_steps,
        epochs=cfg.epochs,
        lr=cfg.learning_rate,
        r=cfg.lora.r,
        alpha=cfg.lora.alpha,
        dropout=cfg.lora.dropout,
        batch_size=cfg.batch_size,
        max_length=cfg.max_length,
        seed=cfg.seed,
        target_modules=cfg.lora.target_modules,
        cache_dir=cfg.model.cache_dir,
        lora=cfg.lora.enabled,
        callbacks=[MetricsJsonlCallback(run_dir), *callbacks],
        logging_steps=cfg.logging_steps,
    )
    return merged


__all__ = ["SFTStageConfig", "sft_rows", "train_sft"]
