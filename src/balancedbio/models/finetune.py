"""A small shared SFT helper (TRL ``SFTTrainer``; LoRA through peft by default).

``sft_lora(model, rows, out_dir)`` fine-tunes a LoRA adapter on chat rows and writes

* ``<out_dir>/adapter/`` - the peft adapter (``adapter_config.json`` + safetensors), unless
  ``lora=False`` (full fine-tuning);
* ``<out_dir>/merged/`` - the base model with the adapter merged in, as plain safetensors
  plus tokenizer, which ``transformers`` (and ``balancedbio.models`` specs) load directly.

Rows are conversational: ``{"messages": [...]}`` or ``{"prompt": [...], "completion":
[...]}`` (the loss then covers only the completion). Used by MKGSG curation and the
training stage's SFT warm-up. Mixed precision is off on CPU (TRL defaults to bf16).
The output directory appears atomically: a killed run leaves nothing that looks finished.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from balancedbio.common import atomic_dir
from balancedbio.config import ConfigError

log = logging.getLogger(__name__)

DEFAULT_TARGETS: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No datasets/transformers progress bars while preparing and training."""
    from datasets.utils import logging as ds_logging

    from balancedbio.models.store import quiet_progress

    was = ds_logging.is_progress_bar_enabled()
    ds_logging.disable_progress_bar()
    try:
        with quiet_progress(False):
            yield
    finally:
        if was:
            ds_logging.enable_progress_bar()


def _check_rows(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    if not rows:
        raise ConfigError("sft_lora: no training rows")
    out = []
    for i, row in enumerate(rows):
        if "messages" in row:
            out.append({"messages": list(row["messages"])})
        elif "prompt" in row and "completion" in row:
            out.append({"prompt": list(row["prompt"]), "completion": list(row["completion"])})
        else:
            raise ConfigError(f"sft_lora: row {i} needs 'messages' or 'prompt' + 'completion'")
    kinds = {tuple(sorted(r)) for r in out}
    if len(kinds) > 1:
        raise ConfigError("sft_lora: rows mix 'messages' and 'prompt'/'completion' formats")
    return out


def sft_lora(
    model: str | Path,
    rows: Sequence[Mapping[str, Any]],
    out_dir: str | Path,
    *,
    steps: int | None = None,
    epochs: float = 1.0,
    lr: float = 2e-4,
    r: int = 8,
    alpha: int = 16,
    dropout: float = 0.0,
    batch_size: int = 4,
    max_length: int = 512,
    seed: int = 0,
    target_modules: Sequence[str] = DEFAULT_TARGETS,
    cache_dir: str | None = None,
    lora: bool = True,
    callbacks: Sequence[Any] = (),
    logging_steps: int | None = None,
) -> Path:
    """LoRA-SFT ``model`` (a local HF dir or a ``balancedbio.models`` spec) on ``rows``;
    returns ``<out_dir>/merged``. ``steps`` (if given) overrides ``epochs``.

    ``lora=False`` fine-tunes every weight (no ``adapter/``; ``r``/``alpha``/``dropout``/
    ``target_modules`` unused). ``callbacks`` are extra ``TrainerCallback`` objects (progress,
    metrics); ``logging_steps`` turns training logs on (they reach the callbacks' ``on_log``).
    """
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, PrinterCallback
    from trl import SFTConfig, SFTTrainer

    from balancedbio.models.loading import _tokenizer_at
    from balancedbio.models.resolve import resolve_model

    data = Dataset.from_list(_check_rows(rows))
    path = Path(model) if Path(model).is_dir() else resolve_model(str(model), cache_dir)
    tokenizer = _tokenizer_at(path, str(model))
    tokenizer.padding_side = "right"  # training pads on the right
    base = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, use_safetensors=True)
    out = Path(out_dir)
    on_gpu = torch.cuda.is_available()
    with atomic_dir(out) as tmp:
        args = SFTConfig(
            output_dir=str(tmp / "trainer"),
            max_steps=steps if steps is not None else -1,
            num_train_epochs=epochs,
            learning_rate=lr,
            per_device_train_batch_size=batch_size,
            max_length=max_length,
            bf16=on_gpu and torch.cuda.is_bf16_supported(),
            fp16=False,
            gradient_checkpointing=False,
            use_cpu=not on_gpu,
            report_to=[],
            save_strategy="no",
            logging_strategy="steps" if logging_steps else "no",
            logging_steps=logging_steps or 500,
            seed=seed,
            data_seed=seed,
            disable_tqdm=True,
            dataloader_num_workers=0,
        )
        peft_cfg = (
            LoraConfig(
                r=r,
                lora_alpha=alpha,
                lora_dropout=dropout,
                target_modules=list(target_modules),
                task_type="CAUSAL_LM",
            )
            if lora
            else None
        )
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        with _quiet():
            trainer = SFTTrainer(
                model=base,
                args=args,
                train_dataset=data,
                processing_class=tokenizer,
                peft_config=peft_cfg,
                callbacks=list(callbacks) or None,
            )
            trainer.remove_callback(PrinterCallback)  # it prints log dicts to stdout
            result = trainer.train()
        log.info("sft_lora: %d steps, loss %.4f", result.global_step, result.training_loss)
        merged = trainer.model
        if lora:
            trainer.model.save_pretrained(tmp / "adapter", safe_serialization=True)
            merged = trainer.model.merge_and_unload()
        merged.save_pretrained(tmp / "merged", safe_serialization=True)
        tokenizer.padding_side = "left"
        tokenizer.save_pretrained(tmp / "merged")
        (tmp / "train_result.json").write_text(
            f'{{"global_step": {result.global_step}, "training_loss": {result.training_loss}}}\n'
        )
        shutil.rmtree(tmp / "trainer", ignore_errors=True)
    return out / "merged"


def chat_rows(items: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """MKGSG items -> prompt/completion rows (the reference as the assistant turn)."""
    return [
        {
            "prompt": list(item["prompt"]),
            "completion": [{"role": "assistant", "content": str(item["reference"])}],
        }
        for item in items
    ]


__all__ = ["DEFAULT_TARGETS", "chat_rows", "sft_lora"]
