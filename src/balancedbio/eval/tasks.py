"""Benchmark definitions: which items, which capability, how they are scored.

================== ============ ==================================================================
benchmark          capability   items and scoring
================== ============ ==================================================================
heldout_knowledge  knowledge    MKGSG held-out MCQs: log-likelihood ``acc``/``acc_norm`` and
                                generated letter ``acc_gen``
heldout_reasoning  reasoning    held-out calculator cases (numeric tolerance, MedCalc-Bench) and
                                multi-hop diagnosis cases (exact match against answer + aliases;
                                workflow validity reported separately)
heldout_instruction instruction held-out medical instruction set (IFEval metrics)
heldout_integrated integrated   integrated cases: the integration score and its components
mmlu_<subject>     knowledge    the six medical MMLU subsets (group ``biomed_mmlu``)
medqa, medmcqa     knowledge    MCQ as above
pubmedqa           knowledge    yes/no/maybe (continuations are the words)
medcalc            reasoning    MedCalc-Bench ``test_data.csv``
ifeval             instruction  IFEval-format JSONL
================== ============ ==================================================================

Held-out items come from a generated dataset directory: its ``heldout/`` sub-directory when
present (``generate`` writes it with ``heldout.enabled``), else the directory itself; only
``split == "eval"`` items are used (generated with their own seed, entity-disjoint from
training, decontaminated).
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from balancedbio.config import ConfigError
from balancedbio.eval import readers
from balancedbio.eval.config import EXTERNAL, GROUPS, HELDOUT, MMLU_SUBJECTS, EvalConfig
from balancedbio.eval.config import expand_benchmarks as _expand
from balancedbio.eval.mcq import MCQRequest

log = logging.getLogger(__name__)
Row = dict[str, Any]

KIND: dict[str, str] = {
    "heldout_knowledge": "mcq",
    "heldout_reasoning": "reasoning",
    "heldout_instruction": "instruction",
    "heldout_integrated": "integrated",
    "medcalc": "reasoning",
    "ifeval": "instruction",
    **{name: "mcq" for name in EXTERNAL if name.startswith("mmlu_")},
    "medqa": "mcq",
    "medmcqa": "mcq",
    "pubmedqa": "mcq",
}
CAPABILITY: dict[str, str] = {
    "mcq": "knowledge",
    "reasoning": "reasoning",
    "instruction": "instruction",
    "integrated": "integrated",
}
PRIMARY: dict[str, str] = {
    "reasoning": "accuracy",
    "instruction": "prompt_level_strict_acc",
    "integrated": "integration_score",
}


@dataclass(frozen=True)
class Benchmark:
    """A named list of item records and where they came from."""

    name: str
    kind: str  # mcq | reasoning | instruction | integrated
    records: list[Row]
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def capability(self) -> str:
        return CAPABILITY[self.kind]

    def primary(self, cfg: EvalConfig) -> str:
        """The headline metric (``acc`` by log-likelihood for MCQs when that mode runs)."""
        if self.kind == "mcq":
            return "acc" if "loglik" in cfg.mcq_modes else "acc_gen"
        return PRIMARY[self.kind]


# --------------------------------------------------------------------------- selection


def select(records: list[Row], max_items: int | None, seed: int, name: str) -> list[Row]:
    """At most ``max_items`` records: a seeded sample that keeps the original order."""
    if max_items is None or len(records) <= max_items:
        return records
    keep = sorted(random.Random(f"{seed}:{name}").sample(range(len(records)), max_items))
    return [records[i] for i in keep]


def mcq_request(record: Mapping[str, Any], target: str = "letter") -> MCQRequest:
    """The log-likelihood request of an MCQ record: context ``question + "\\nAnswer:"``;
    targets are the letters, or the option texts (always for PubMedQA)."""
    choices = list(record["choices"])
    gold = readers.LETTERS.index(str(record["answer"]).strip().upper())
    use_text = target == "text" or record.get("task") == "pubmedqa"
    targets = tuple(choices) if use_text else tuple(readers.LETTERS[: len(choices)])
    return MCQRequest(f"{record['question']}\nAnswer:", targets, gold)


def prompt_text(record: Mapping[str, Any]) -> str:
    """The user turns of a record's chat prompt, joined (what the instructions refer to)."""
    prompt = record.get("prompt")
    if isinstance(prompt, str):
        return prompt
    return "\n".join(str(m.get("content", "")) for m in prompt or [] if m.get("role") == "user")


# --------------------------------------------------------------------------- held-out sets


def heldout_dir(data_dir: str | Path) -> Path:
    """The directory holding held-out items: ``data_dir/heldout`` if present, else itself."""
    data_dir = Path(data_dir)
    sub = data_dir / "heldout"
    return sub if (sub / "progress.json").is_file() else data_dir


def dataset_info(path: Path) -> dict[str, Any]:
    """Provenance of a generated dataset from its ``manifest.json`` (empty if unfinished)."""
    manifest = path / "manifest.json"
    if not manifest.is_file():
        return {"dir": str(path)}
    m = json.loads(manifest.read_text())
    keys = ("generator", "mode", "seed", "split", "items", "fingerprint", "source_versions")
    return {"dir": str(path), **{k: m.get(k) for k in keys if k in m}}


def load_heldout(data_dir: str | Path) -> tuple[dict[str, list[Row]], dict[str, Any]]:
    """Held-out (``split == "eval"``) items of a generated dataset, by capability."""
    from balancedbio.data.shards import iter_items

    path = heldout_dir(data_dir)
    if not (path / "progress.json").is_file():
        raise ConfigError(f"{data_dir} is not a generated dataset (no progress.json)")
    by_cap: dict[str, list[Row]] = {}
    for item in iter_items(path):
        if item.get("split") == "eval":
            by_cap.setdefault(str(item["capability"]), []).append(item)
    if not by_cap:
        raise ConfigError(
            f"{path} has no split='eval' items; generate with heldout.enabled=true "
            "(written to <out>/heldout) and pass that dataset"
        )
    return by_cap, dataset_info(path)


# --------------------------------------------------------------------------- building


def _external(name: str, path: str, cfg: EvalConfig) -> list[Row]:
    if name.startswith("mmlu_"):
        return readers.read_mmlu(path, name.removeprefix("mmlu_"), name)
    if name == "medqa":
        return readers.read_medqa(path)
    if name == "medmcqa":
        return readers.read_medmcqa(path, cfg.medmcqa_cop_base)
    if name == "pubmedqa":
        return readers.read_pubmedqa(path)
    if name == "medcalc":
        return readers.read_medcalc(path)
    if name == "ifeval":
        return readers.read_ifeval(path)
    raise ConfigError(f"no reader for benchmark {name!r}")


def external_path(name: str, files: Mapping[str, str]) -> str | None:
    """The file (or directory) given for ``name``; MMLU subsets also accept ``biomed_mmlu``."""
    if name in files:
        return files[name]
    if name.startswith("mmlu_"):
        return files.get("biomed_mmlu") or files.get("mmlu")
    return None


def _unique_ids(records: list[Row]) -> list[Row]:
    """Records with unique ids (a repeated id gets ``#2``, ``#3``...): logs key on ids."""
    seen: dict[str, int] = {}
    out = []
    for record in records:
        rid = str(record["id"])
        seen[rid] = seen.get(rid, 0) + 1
        out.append(record if seen[rid] == 1 else {**record, "id": f"{rid}#{seen[rid]}"})
    return out


def requested(cfg: EvalConfig, data_dir: str | Path | None) -> tuple[str, ...]:
    """Benchmark names to run: ``cfg.benchmarks`` (groups expanded), or everything with data."""
    if cfg.benchmarks:
        return _expand(cfg.benchmarks)
    names = list(HELDOUT) if data_dir is not None else []
    names += [n for n in EXTERNAL if external_path(n, cfg.files)]
    if not names:
        raise ConfigError(
            "nothing to evaluate: give a generated dataset (--data) or benchmark files"
        )
    return tuple(names)


def build_benchmarks(cfg: EvalConfig, data_dir: str | Path | None = None) -> list[Benchmark]:
    """The benchmarks of ``cfg`` with their (sampled) records, in a fixed order."""
    names = requested(cfg, data_dir)
    heldout: dict[str, list[Row]] = {}
    info: dict[str, Any] = {}
    if any(n in HELDOUT for n in names):
        if data_dir is None:
            raise ConfigError("held-out benchmarks need a generated dataset directory (--data)")
        heldout, info = load_heldout(data_dir)
    out = []
    for name in names:
        kind = KIND[name]
        if name in HELDOUT:
            records = heldout.get(CAPABILITY[kind], [])
            source = {"dataset": info}
        else:
            path = external_path(name, cfg.files)
            if path is None:
                raise ConfigError(f"benchmark {name!r} needs a file: files.{name}=PATH")
            path = str(Path(path).expanduser())
            records, source = _external(name, path, cfg), {"path": path}
        if not records:
            log.warning("benchmark %s has no items; skipped", name)
            continue
        selected = select(_unique_ids(records), cfg.max_items, cfg.seed, name)
        out.append(Benchmark(name, kind, selected, {**source, "available": len(records)}))
    return out


__all__ = [
    "GROUPS",
    "KIND",
    "MMLU_SUBJECTS",
    "Benchmark",
    "build_benchmarks",
    "dataset_info",
    "heldout_dir",
    "load_heldout",
    "mcq_request",
    "prompt_text",
    "requested",
    "select",
]
