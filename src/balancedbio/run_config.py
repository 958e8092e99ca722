"""The root config of a BalancedBio run: one section per stage.

Only the CLI and the pipeline see this module (it imports every stage's config).
Every YAML file under ``configs/`` loads into :class:`RunConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from balancedbio.config import ConfigError, choice_error
from balancedbio.data.config import GenerateConfig
from balancedbio.eval.config import EvalConfig
from balancedbio.knowledge import KnowledgeConfig
from balancedbio.models import ModelConfig
from balancedbio.training.config import GRPO_ALIASES, GRPOStageConfig
from balancedbio.training.reward_model import RewardModelConfig
from balancedbio.training.sft import SFTStageConfig

#: Every stage of the demo, in order (``knowledge`` and ``model`` always run).
STAGES: tuple[str, ...] = (
    "knowledge",
    "model",
    "data",
    "reward_model",
    "sft",
    "grpo",
    "eval",
    "report",
)

DEFAULT_VIGNETTE = (
    "A 9-year-old boy presents with recurrent seizures, short stature and intellectual "
    "disability. Examination shows macrocephaly and cafe-au-lait spots; his mother has "
    "hypertension and type 2 diabetes mellitus."
)


@dataclass(frozen=True)
class SmokeConfig:
    """What the demo runs against the knowledge layer and the model while later stages land."""

    vignette: str = DEFAULT_VIGNETTE
    question: str = "Name three clinical features of Marfan syndrome."
    max_new_tokens: int = 48


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs; saved as ``config.yaml`` in the run directory.

    ``model`` is the base model of every stage (SFT starts from it, GRPO from the SFT
    model, the reward model's backbone follows it). ``trainers`` lists the GRPO runs to
    compare; ``vanilla_weighting`` is the baseline's TRL aggregation. Short override keys
    ``max_steps=``, ``weighting=``, ``aggregator=``... reach the ``grpo`` section.
    """

    __aliases__ = {
        "model_name": "model.name",
        **{k: v for k, v in GRPO_ALIASES.items() if k not in ("trainer", "output_dir")},
    }

    seed: int = 0
    output_root: str = "runs"
    run_name: str | None = None  # None: a timestamp; an existing run's name resumes it
    stages: tuple[str, ...] = STAGES
    model: ModelConfig = field(default_factory=ModelConfig)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    smoke: SmokeConfig = field(default_factory=SmokeConfig)
    data: GenerateConfig = field(default_factory=GenerateConfig)
    reward_model: RewardModelConfig = field(default_factory=RewardModelConfig)
    reward_model_weight: float = 0.5  # its weight among the GRPO rewards (0: not used)
    sft: SFTStageConfig = field(default_factory=SFTStageConfig)
    grpo: GRPOStageConfig = field(default_factory=GRPOStageConfig)
    trainers: tuple[Literal["capability_aware", "vanilla"], ...] = ("capability_aware", "vanilla")
    vanilla_weighting: Literal["fixed", "gdpo"] = "fixed"
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        for stage in self.stages:
            if stage not in STAGES:
                raise choice_error("stage", stage, list(STAGES))
        if "reward_model" in self.stages and "data" not in self.stages:
            raise ConfigError("stage reward_model needs stage data (it trains on its pairs)")
