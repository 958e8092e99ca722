"""``balancedbio rewards train-rm``: preference pairs from a dataset -> a trained reward model.

It reads ``data`` (training may import data; rewards may not import training), so it lives
in ``training``; ``balancedbio.cli`` mounts :func:`train_rm_command` under the ``rewards``
group, next to ``rewards score``. :func:`train_rm` is the API the demo pipeline calls.
Config (``configs/reward_model.yaml``)::

    dataset: data/mkgsg          # an MKGSG run directory (null: only user pairs)
    out: runs/reward_model
    reward_model: {backbone: smollm2-135m, backbone_layers: 3, max_steps: 40, ...}

Stdout carries one JSON object: the model path and the held-out pairwise accuracy (overall
and per corruption type); progress goes to the log (stderr).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import typer

from balancedbio.config import ConfigError, load_config, save_config
from balancedbio.training.reward_model import (
    RewardModelConfig,
    RewardModelResult,
    train_reward_model,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainRMCommandConfig:
    """What ``train-rm`` reads: the dataset, where to write, how to train."""

    dataset: str | None = None
    out: str = "runs/reward_model"
    reward_model: RewardModelConfig = field(default_factory=RewardModelConfig)


def train_rm(cfg: TrainRMCommandConfig) -> RewardModelResult:
    """Build the pairs of ``cfg.dataset`` (+ ``reward_model.user_pairs``) and train."""
    from balancedbio.data.preferences import build_preference_pairs

    rm = cfg.reward_model
    train, heldout = build_preference_pairs(
        cfg.dataset,
        seed=rm.seed,
        user_pairs_jsonl=rm.user_pairs,
        heldout_frac=rm.heldout_frac,
        pairs_per_item=rm.pairs_per_item,
        corruptions=rm.corruptions,
        capabilities=rm.capabilities,
    )
    log.info("reward model: %d training pairs, %d held-out pairs", len(train), len(heldout))
    result = train_reward_model(rm, train, heldout, cfg.out)
    save_config(cfg, cfg.out, "train_rm_config.yaml")
    return result


def train_rm_command(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="YAML config (configs/reward_model.yaml).")
    ] = Path("configs/reward_model.yaml"),
    overrides: Annotated[
        list[str] | None,
        typer.Argument(help="key=value overrides, e.g. reward_model.max_steps=50"),
    ] = None,
) -> None:
    """Train the reward model on corruption pairs of a dataset (and user pairs)."""
    try:
        cfg = load_config(TrainRMCommandConfig, config, overrides or [])
        result = train_rm(cfg)
    except ConfigError as exc:
        typer.echo(f"config error: {exc}", err=True)
        raise typer.Exit(2) from exc
    summary = {
        "path": str(result.path),
        "heldout_pairwise_accuracy": result.heldout_pairwise_accuracy,
        "per_corruption": result.per_corruption,
        "per_task": result.per_task,
        "n_train": result.n_train,
        "n_eval": result.n_eval,
        "steps": result.steps,
        "train_seconds": round(result.train_seconds, 1),
        "seconds": round(result.seconds, 1),
    }
    typer.echo(json.dumps(summary))


__all__ = ["TrainRMCommandConfig", "train_rm", "train_rm_command"]
