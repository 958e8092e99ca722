"""The root config of a BalancedBio run: one section per stage.

Only the CLI and the pipeline see this module (it imports every stage's config).
Every YAML file under ``configs/`` loads into :class:`RunConfig`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from balancedbio.knowledge import KnowledgeConfig
from balancedbio.models import ModelConfig

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
    """Everything a run needs; saved as ``config.yaml`` in the run directory."""

    __aliases__ = {"model_name": "model.name"}

    seed: int = 0
    output_root: str = "runs"
    run_name: str | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    smoke: SmokeConfig = field(default_factory=SmokeConfig)
