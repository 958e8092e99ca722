"""Configuration of the GRPO stage: frozen dataclasses, loaded by :mod:`balancedbio.config`.

The root :class:`~balancedbio.run_config.RunConfig` holds one :class:`GRPOStageConfig` under the
key ``grpo``; :data:`GRPO_ALIASES` are the short command-line keys (``max_steps=20``,
``trainer=vanilla``, ...) the root merges into its ``__aliases__``. Loaded standalone (tests,
benches), the same keys are top-level fields already, and ``model=NAME`` is the model's
shorthand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from balancedbio.config import ConfigError
from balancedbio.models import ModelConfig
from balancedbio.rewards.registry import CAPABILITIES, RewardSpec

TrainerKind = Literal["vanilla", "capability_aware"]
Weighting = Literal["fixed", "gdpo", "dynamic", "gradient"]
Aggregator = Literal["sum", "pcgrad", "upgrad", "mgda"]
LossType = Literal["dapo", "grpo", "bnpo", "dr_grpo"]

#: Objectives a capability-aware run balances by default ("integrated" rows are spread over them).
DEFAULT_CAPABILITIES: tuple[str, ...] = ("knowledge", "reasoning", "instruction")

#: One verifier per capability: MCQ letter, calculator answer, IFEval instructions (strict).
DEFAULT_REWARDS: tuple[RewardSpec, ...] = (
    RewardSpec("mcq_accuracy"),
    RewardSpec("numeric_accuracy"),
    RewardSpec("ifeval_strict"),
)


@dataclass(frozen=True)
class LoraConfig:
    """LoRA adapter on the policy (peft). ``enabled=false`` trains every weight."""

    enabled: bool = True
    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")


@dataclass(frozen=True)
class ParetoConfig:
    """Held-out preservation tracking: greedy generation scored by the training verifiers."""

    enabled: bool = True
    eval_every: int = 10  # optimizer steps between evaluations (plus one before training)
    floor: float = 0.9  # warn when current / initial score drops below this, per capability
    max_items: int = 16  # held-out rows per capability
    max_new_tokens: int | None = None  # None: the stage's max_completion_length
    batch_size: int = 8
    smoothing: float = 0.01  # ratio = (now + s) / (initial + s): defined when initial is 0


@dataclass(frozen=True)
class VLLMConfig:
    """TRL's vLLM generation (GPU only): ``colocate`` shares the training GPUs, ``server``
    talks to ``trl vllm-serve``."""

    enabled: bool = False
    mode: Literal["colocate", "server"] = "colocate"
    server_base_url: str | None = None
    gpu_memory_utilization: float = 0.3
    tensor_parallel_size: int = 1
    importance_sampling_correction: bool = True


@dataclass(frozen=True)
class GRPOStageConfig:
    """Everything the GRPO stage needs (model, algorithm, batch, rewards, tracking, output)."""

    model: ModelConfig = field(default_factory=ModelConfig)
    trainer: TrainerKind = "capability_aware"
    weighting: Weighting = "gdpo"
    aggregator: Aggregator = "upgrad"
    capabilities: tuple[str, ...] = DEFAULT_CAPABILITIES
    # Also compute per-capability gradients (cosines, conflict rate) when aggregator=sum.
    conflict_metrics: bool = False
    ema: float = 0.9  # smoothing of dynamic / gradient weights (0: no memory)
    dynamic_statistic: Literal["inverse_cv", "cv", "inverse_std"] = "inverse_cv"
    max_steps: int = 50
    learning_rate: float = 1e-5
    per_device_train_batch_size: int = 16  # completions, i.e. prompts x num_generations
    gradient_accumulation_steps: int = 1
    num_generations: int = 4
    max_completion_length: int = 128
    temperature: float = 1.0
    top_p: float = 1.0
    beta: float = 0.0  # KL to the reference policy (0: no reference pass)
    loss_type: LossType = "dapo"
    scale_rewards: Literal["group", "batch", "none"] = "group"
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = False
    bf16: bool | None = None  # None: on when a CUDA GPU with bf16 is present, never on CPU
    logging_steps: int = 1
    save_steps: int = 25
    save_total_limit: int | None = 2
    seed: int = 0
    resume: str = "auto"  # "auto" (latest complete checkpoint), "never", or a checkpoint path
    lora: LoraConfig = field(default_factory=LoraConfig)
    pareto: ParetoConfig = field(default_factory=ParetoConfig)
    vllm: VLLMConfig = field(default_factory=VLLMConfig)
    rewards: tuple[RewardSpec, ...] = DEFAULT_REWARDS
    output_dir: str = "runs/grpo"

    def __post_init__(self) -> None:
        validate(self)

    @property
    def needs_jacobian(self) -> bool:
        """Whether per-capability gradients are computed (else one summed backward)."""
        if self.trainer != "capability_aware":
            return False
        return self.aggregator != "sum" or self.weighting == "gradient" or self.conflict_metrics


def validate(cfg: GRPOStageConfig) -> None:
    """Cross-field checks; every message says what is valid."""
    for cap in cfg.capabilities:
        if cap not in CAPABILITIES or cap == "integrated":
            valid = [c for c in CAPABILITIES if c != "integrated"]
            raise ConfigError(f"grpo.capabilities: {cap!r} is not an objective; valid: {valid}")
    if len(set(cfg.capabilities)) != len(cfg.capabilities) or not cfg.capabilities:
        raise ConfigError("grpo.capabilities must list distinct objectives (at least one)")
    if cfg.trainer == "vanilla" and cfg.weighting not in ("fixed", "gdpo"):
        raise ConfigError(
            f"trainer=vanilla supports weighting=fixed or gdpo (TRL's own aggregations), "
            f"not {cfg.weighting!r}; use trainer=capability_aware"
        )
    if cfg.weighting == "gradient" and cfg.aggregator not in ("upgrad", "mgda"):
        raise ConfigError(
            "weighting=gradient takes its weights from the aggregator's Gramian weighting: "
            f"set aggregator=upgrad or aggregator=mgda (got {cfg.aggregator!r})"
        )
    if cfg.num_generations < 2:
        raise ConfigError("grpo.num_generations must be >= 2 (advantages are group-relative)")
    if cfg.per_device_train_batch_size % cfg.num_generations:
        raise ConfigError(
            f"grpo.per_device_train_batch_size ({cfg.per_device_train_batch_size}) counts "
            f"completions and must be a multiple of num_generations ({cfg.num_generations})"
        )
    if not 0.0 <= cfg.ema < 1.0:
        raise ConfigError(f"grpo.ema must be in [0, 1), got {cfg.ema}")
    if cfg.max_steps < 1 or cfg.save_steps < 1 or cfg.logging_steps < 1:
        raise ConfigError("grpo.max_steps, save_steps and logging_steps must be >= 1")
    if cfg.pareto.eval_every < 1 or not 0.0 < cfg.pareto.floor <= 1.0:
        raise ConfigError("grpo.pareto.eval_every must be >= 1 and floor in (0, 1]")


#: Short keys for the root RunConfig (which holds this config under ``grpo``).
GRPO_ALIASES: dict[str, str] = {
    key: f"grpo.{key}"
    for key in (
        "max_steps",
        "trainer",
        "weighting",
        "aggregator",
        "output_dir",
        "learning_rate",
        "num_generations",
    )
}
