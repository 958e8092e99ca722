"""The evaluation config: which benchmarks, how many items, how to score them.

Benchmarks are named (see :data:`BENCHMARKS`): the four MKGSG held-out sets
(``heldout_*``, read from a generated dataset's ``split="eval"`` items) and the standard
public sets read from local files the user has (``files`` maps a benchmark name to a
path; ``biomed_mmlu`` maps to the six medical MMLU subsets at once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from balancedbio.config import ConfigError, choice_error

MCQMode = Literal["loglik", "generate"]
MCQ_MODES: tuple[str, ...] = ("loglik", "generate")

#: The six medical MMLU subsets (the paper's "BIOMED-MMLU").
MMLU_SUBJECTS: tuple[str, ...] = (
    "anatomy",
    "clinical_knowledge",
    "college_biology",
    "college_medicine",
    "medical_genetics",
    "professional_medicine",
)
HELDOUT: tuple[str, ...] = (
    "heldout_knowledge",
    "heldout_reasoning",
    "heldout_instruction",
    "heldout_integrated",
)
EXTERNAL: tuple[str, ...] = (
    *(f"mmlu_{s}" for s in MMLU_SUBJECTS),
    "medqa",
    "medmcqa",
    "pubmedqa",
    "medcalc",
    "ifeval",
)
#: Every benchmark name, and the aliases accepted in ``files`` / ``benchmarks``.
BENCHMARKS: tuple[str, ...] = (*HELDOUT, *EXTERNAL)
GROUPS: dict[str, tuple[str, ...]] = {
    "biomed_mmlu": tuple(f"mmlu_{s}" for s in MMLU_SUBJECTS),
    "heldout": HELDOUT,
}


def expand_benchmarks(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Benchmark names with groups (``biomed_mmlu``, ``heldout``) expanded, order kept."""
    out: list[str] = []
    for name in names:
        if name in GROUPS:
            out.extend(GROUPS[name])
        elif name in BENCHMARKS:
            out.append(name)
        else:
            raise choice_error("benchmark", name, [*BENCHMARKS, *GROUPS])
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True)
class EvalConfig:
    """How to evaluate one model.

    ``benchmarks`` empty means every benchmark that has data (held-out sets when a dataset
    is given, external ones whose file is in ``files``). ``max_items`` caps each benchmark
    (a seeded, order-preserving sample); ``chunk_size`` samples are scored and appended
    to the per-sample log at a time (the resume unit; a multiple of ``batch_size`` keeps
    batches full). ``mcq_target`` picks the log-likelihood continuations of lettered
    MCQs: the option ``letter`` (lm-eval's MMLU/MedQA convention) or the option ``text``
    (where ``acc_norm`` differs from ``acc``); PubMedQA always scores yes/no/maybe.
    """

    benchmarks: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    max_items: int | None = None
    batch_size: int = 8
    chunk_size: int = 32
    max_new_tokens: int = 256
    seed: int = 1234
    mcq_modes: tuple[MCQMode, ...] = ("loglik", "generate")
    mcq_target: Literal["letter", "text"] = "letter"
    medmcqa_cop_base: str = "auto"  # "auto", "0" (HF: cop 0-3) or "1" (original: cop 1-4)
    workflow_rules: tuple[str, ...] = ()  # empty: every rule (balancedbio.rewards.workflow)
    knowledge_cache_dir: str | None = None  # where the ontology graph is cached

    def __post_init__(self) -> None:
        expand_benchmarks(self.benchmarks)
        for key in self.files:
            if key not in BENCHMARKS and key not in ("biomed_mmlu", "mmlu"):
                raise choice_error("benchmark in files", key, [*EXTERNAL, "biomed_mmlu"])
        for mode in self.mcq_modes:
            if mode not in MCQ_MODES:
                raise choice_error("mcq mode", mode, MCQ_MODES)
        if str(self.medmcqa_cop_base) not in ("auto", "0", "1"):
            raise choice_error("medmcqa_cop_base", self.medmcqa_cop_base, ["auto", "0", "1"])
        object.__setattr__(self, "medmcqa_cop_base", str(self.medmcqa_cop_base))
        if not self.mcq_modes:
            raise ConfigError(f"mcq_modes: give at least one of {', '.join(MCQ_MODES)}")
        for name, value in (
            ("batch_size", self.batch_size),
            ("chunk_size", self.chunk_size),
            ("max_new_tokens", self.max_new_tokens),
        ):
            if value < 1:
                raise ConfigError(f"{name} must be >= 1, got {value}")
        if self.max_items is not None and self.max_items < 1:
            raise ConfigError(f"max_items must be >= 1 or null, got {self.max_items}")


__all__ = [
    "BENCHMARKS",
    "EXTERNAL",
    "GROUPS",
    "HELDOUT",
    "MCQ_MODES",
    "MMLU_SUBJECTS",
    "EvalConfig",
    "expand_benchmarks",
]
