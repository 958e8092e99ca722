"""Configuration of MKGSG generation (``balancedbio generate --config configs/generate.yaml``).

Every stage has its own frozen section; :class:`GenerateConfig` is the root. ``tasks`` maps
a task (one constructor: an MCQ type, a case type, ...) to the number of *seeds* to draw
for it; each seed yields at most one item (rejected seeds are logged, not retried), so the
item count is the seed count minus rejections.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from typing import ClassVar, Literal

from balancedbio.config import ConfigError, choice_error, to_dict
from balancedbio.data.backends import BackendConfig
from balancedbio.knowledge import KnowledgeConfig

#: task -> capability. The order is the order tasks interleave in the seed stream.
TASKS: dict[str, str] = {
    "mcq_phenotype": "knowledge",
    "mcq_subtype": "knowledge",
    "mcq_icd_category": "knowledge",
    "mcq_synonym": "knowledge",
    "mcq_definition": "knowledge",
    "diagnosis_case": "reasoning",
    "calculator": "reasoning",
    "record_case": "reasoning",
    "instruction": "instruction",
    "document_instruction": "instruction",
    "integrated_case": "integrated",
}

DEFAULT_TASKS: dict[str, int] = {
    "mcq_phenotype": 40,
    "mcq_subtype": 20,
    "mcq_icd_category": 20,
    "mcq_synonym": 20,
    "mcq_definition": 20,
    "diagnosis_case": 40,
    "calculator": 40,
    "instruction": 60,
    "integrated_case": 30,
}


@dataclass(frozen=True)
class UserSourceConfig:
    """The user's own data: a folder of ``.md``/``.txt`` documents and a JSONL of records."""

    documents: str | None = None
    records: str | None = None
    passage_sentences: int = 4  # sentences per document passage (one seed each)


@dataclass(frozen=True)
class ConstructConfig:
    """How items are built; ``mode=model`` asks the backend (see ``backend``) for JSON."""

    mode: Literal["template", "model"] = "template"
    min_options: int = 4
    max_options: int = 5
    min_findings: int = 3
    max_findings: int = 5
    differential: int = 3  # candidate diseases besides the diagnosis
    max_phenotype_diseases: int = 60  # a finding annotated to more diseases is not specific
    max_instructions: int = 3
    model_batch: int = 32  # seeds per backend call in model mode
    workers: int = 1  # template mode: processes building + validating in parallel (fork)

    def __post_init__(self) -> None:
        if not 2 <= self.min_options <= self.max_options <= 5:
            raise ConfigError("construct: need 2 <= min_options <= max_options <= 5")
        if not 2 <= self.min_findings <= self.max_findings:
            raise ConfigError("construct: need 2 <= min_findings <= max_findings")
        if not 1 <= self.max_instructions <= 3:
            raise ConfigError("construct.max_instructions must be 1, 2 or 3")
        if self.differential < 1 or self.model_batch < 1 or self.workers < 1:
            raise ConfigError("construct: differential, model_batch and workers must be >= 1")


@dataclass(frozen=True)
class ValidateConfig:
    """Which verifiers gate an item (all on by default; each rejection keeps its reason)."""

    ontology: bool = True  # entities grounded, every recorded fact re-checked
    claims: bool = True  # relations stated in the reference text checked (rewards.claims)
    workflow: bool = True  # rewards.workflow rules on case references
    answers: bool = True  # the reference is graded correct by the answer verifiers
    instructions: bool = True  # the reference follows its IFEval instructions (strict)
    min_support: int = 2
    min_differential: int = 2


@dataclass(frozen=True)
class DedupConfig:
    exact: bool = True
    near: bool = True
    threshold: float = 0.85  # MinHash Jaccard of the question + answer text


@dataclass(frozen=True)
class DecontaminateConfig:
    """n-gram decontamination against evaluation sets (generated held-out dirs, JSONL files).

    n-grams found in more than ``max_doc_fraction`` of the evaluation documents (and at
    least ``min_docs`` of them) are template boilerplate, not content, and are ignored.
    """

    enabled: bool = True
    ngram: int = 13
    eval_dirs: tuple[str, ...] = ()
    eval_files: tuple[str, ...] = ()
    max_doc_fraction: float = 0.02
    min_docs: int = 3


@dataclass(frozen=True)
class SplitConfig:
    """Entity-level train/eval partition: a seed entity hashing into ``eval`` is never used
    for training items (and vice versa)."""

    split: Literal["train", "eval"] = "train"
    eval_fraction: float = 0.1
    salt: str = "mkgsg-heldout-v1"

    def __post_init__(self) -> None:
        if not 0.0 <= self.eval_fraction < 1.0:
            raise ConfigError("split.eval_fraction must be in [0, 1)")


@dataclass(frozen=True)
class HeldoutConfig:
    """Also write a held-out evaluation set to ``<out>/heldout`` (eval split, own seed) and
    decontaminate the training data against it."""

    enabled: bool = False
    seed: int = 1_000_003
    fraction: float = 0.05  # held-out seeds per task, as a fraction of the training seeds
    min_per_task: int = 5


@dataclass(frozen=True)
class SftConfig:
    """LoRA SFT settings of curation (models.finetune.sft_lora)."""

    steps: int = 30
    lr: float = 2e-4
    r: int = 8
    alpha: int = 16
    batch_size: int = 4
    max_length: int = 512


@dataclass(frozen=True)
class CurateConfig:
    """Source2Synth curation: fine-tune on one half, keep the other half's items the model
    answers correctly in ``k`` tries, swap. ``impute`` adds the masked-finding filter."""

    enabled: bool = False
    model: str = "smollm2-135m"
    k: int = 3
    temperature: float = 0.7
    max_new_tokens: int = 256
    batch_size: int = 8
    max_items: int | None = None  # curate only the first N items (demo-sized runs)
    require_workflow: bool = False  # integrated/case items also need a valid trace to pass
    impute: bool = False
    sft: SftConfig = field(default_factory=SftConfig)

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ConfigError("curate.k must be >= 1")


@dataclass(frozen=True)
class OutputConfig:
    format: Literal["jsonl", "parquet"] = "jsonl"
    shard_size: int = 1000


@dataclass(frozen=True)
class GenerateConfig:
    """Root config of ``balancedbio generate``; saved into the manifest."""

    __aliases__: ClassVar[dict[str, str]] = {
        "mode": "construct.mode",
        "format": "output.format",
        "shard_size": "output.shard_size",
        "model": "backend.model",
    }

    seed: int = 0
    tasks: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_TASKS))
    shard: str = "0/1"  # "i/n": this machine generates seeds j with j % n == i
    knowledge: KnowledgeConfig = field(default_factory=KnowledgeConfig)
    sources: UserSourceConfig = field(default_factory=UserSourceConfig)
    construct: ConstructConfig = field(default_factory=ConstructConfig)
    backend: BackendConfig = field(default_factory=BackendConfig)
    validate: ValidateConfig = field(default_factory=ValidateConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    decontaminate: DecontaminateConfig = field(default_factory=DecontaminateConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    heldout: HeldoutConfig = field(default_factory=HeldoutConfig)
    curate: CurateConfig = field(default_factory=CurateConfig)
    output: OutputConfig = field(default_factory=OutputConfig)

    def __post_init__(self) -> None:
        for task, count in self.tasks.items():
            if task not in TASKS:
                raise choice_error("task", task, TASKS)
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise ConfigError(f"tasks.{task}: expected a seed count >= 0, got {count!r}")
        if not any(self.tasks.values()):
            raise ConfigError("tasks: at least one task needs a seed count > 0")
        self.shard_index()  # validates the "i/n" syntax
        if self.tasks.get("record_case") and not self.sources.records:
            raise ConfigError("tasks.record_case needs sources.records (a JSONL file)")
        if self.tasks.get("document_instruction") and not self.sources.documents:
            raise ConfigError("tasks.document_instruction needs sources.documents (a folder)")

    def shard_index(self) -> tuple[int, int]:
        """``(i, n)`` from ``shard = "i/n"``."""
        try:
            i, n = (int(x) for x in str(self.shard).split("/"))
        except ValueError:
            raise ConfigError(f"shard must look like i/n (e.g. 0/4), got {self.shard!r}") from None
        if n < 1 or not 0 <= i < n:
            raise ConfigError(f"shard {self.shard!r}: need n >= 1 and 0 <= i < n")
        return i, n

    @property
    def capabilities(self) -> tuple[str, ...]:
        """Capabilities with at least one seed, in canonical order."""
        used = {TASKS[t] for t, n in self.tasks.items() if n}
        return tuple(
            c for c in ("knowledge", "reasoning", "instruction", "integrated") if c in used
        )

    def fingerprint(self) -> str:
        """Hash of everything that changes the items (not output/progress settings)."""
        data = to_dict(
            replace(
                self,
                output=OutputConfig(),
                curate=CurateConfig(),
                construct=replace(self.construct, workers=1),
            )
        )
        data["output_format"] = self.output.format
        data["shard_size"] = self.output.shard_size
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


__all__ = [
    "DEFAULT_TASKS",
    "TASKS",
    "ConstructConfig",
    "CurateConfig",
    "DecontaminateConfig",
    "DedupConfig",
    "GenerateConfig",
    "HeldoutConfig",
    "OutputConfig",
    "SftConfig",
    "SplitConfig",
    "UserSourceConfig",
    "ValidateConfig",
]
