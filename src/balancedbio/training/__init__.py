"""Capability-aware GRPO on top of TRL: gated rewards, per-capability advantages and gradients,
conflict-free aggregation (TorchJD), Pareto monitoring, resumable runs.

``import balancedbio.training`` is light (configs only); :func:`train_grpo` and the trainer
classes import torch/TRL when first used.
"""

from __future__ import annotations

from typing import Any

from balancedbio.training.config import (
    DEFAULT_CAPABILITIES,
    DEFAULT_REWARDS,
    GRPO_ALIASES,
    GRPOStageConfig,
    LoraConfig,
    ParetoConfig,
    VLLMConfig,
)

__all__ = [
    "DEFAULT_CAPABILITIES",
    "DEFAULT_REWARDS",
    "GRPO_ALIASES",
    "CapabilityAwareGRPOTrainer",
    "GRPOStageConfig",
    "LoraConfig",
    "ParetoConfig",
    "SFTStageConfig",
    "TrackedGRPOTrainer",
    "VLLMConfig",
    "load_rows",
    "read_metrics",
    "train_grpo",
    "train_sft",
]

_LAZY = {
    "train_grpo": "balancedbio.training.run",
    "CapabilityAwareGRPOTrainer": "balancedbio.training.grpo",
    "TrackedGRPOTrainer": "balancedbio.training.grpo",
    "read_metrics": "balancedbio.training.metrics",
    "load_rows": "balancedbio.training.data",
    "train_sft": "balancedbio.training.sft",
    "SFTStageConfig": "balancedbio.training.sft",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'balancedbio.training' has no attribute {name!r}")
