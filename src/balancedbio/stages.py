"""The stages of ``balancedbio demo``, one short function each.

Each stage reads the run's :class:`~balancedbio.run_config.RunConfig`, writes into its own
sub-directory of the run directory and records what it produced in the
:class:`~balancedbio.pipeline.RunRecord`. A stage whose output is already complete is
skipped, so rerunning a killed demo with the same ``run_name`` continues where it stopped
(MKGSG resumes from its last shard, GRPO from its last checkpoint, evaluation from its
last scored chunk). Cross-stage glue: only the CLI and this module see every stage.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from balancedbio.rewards.registry import RewardSpec

if TYPE_CHECKING:
    from balancedbio.pipeline import RunRecord
    from balancedbio.run_config import RunConfig

console = Console(stderr=True)
log = logging.getLogger(__name__)

#: GRPO run sub-directories (and ``results.json`` labels) per trainer kind.
GRPO_LABELS = {"capability_aware": "grpo_capability_aware", "vanilla": "grpo_vanilla"}
RM_META = "reward_model.json"  # written last by the reward model's trainer


def knowledge_stage(cfg: RunConfig, record: RunRecord) -> Any:
    """Load (or build once and cache) the ontology graph; ground a vignette."""
    from balancedbio.knowledge import load_knowledge

    graph = load_knowledge(cfg.knowledge, progress=True)
    mentions = graph.ground(cfg.smoke.vignette)
    record.results["knowledge"] = {
        "versions": graph.versions,
        "stats": graph.stats(),
        "vignette_mentions": [
            {"text": m.text, "id": m.id, "source": m.source, "span": [m.start, m.end]}
            for m in mentions
        ],
    }
    console.print(
        f"grounded {len(mentions)} mentions: " + ", ".join(f"{m.text}→{m.id}" for m in mentions)
    )
    return graph


def model_stage(cfg: RunConfig, record: RunRecord) -> Path:
    """Resolve the model (converting the shipped GGUF once) and run a greedy chat smoke test."""
    from balancedbio.models import generate_chat, load_model_and_tokenizer, resolve_model

    path = resolve_model(cfg.model.name, cfg.model.cache_dir, progress=True)
    model, tokenizer = load_model_and_tokenizer(cfg.model)
    answer = generate_chat(
        model, tokenizer, [cfg.smoke.question], max_new_tokens=cfg.smoke.max_new_tokens
    )[0]
    record.results["model"] = {"name": cfg.model.name, "path": str(path), "sample": answer}
    console.print(f"[dim]{cfg.smoke.question}[/]\n{answer}")
    return path


def data_stage(cfg: RunConfig, record: RunRecord, graph: Any) -> Path:
    """MKGSG: ontology-validated training data plus a disjoint held-out set (resumable)."""
    from balancedbio.data.pipeline import generate

    out = record.run_dir / "data"
    data_cfg = cfg.data
    if data_cfg.curate.enabled:  # Source2Synth curation fine-tunes the run's own model
        data_cfg = replace(data_cfg, curate=replace(data_cfg.curate, model=cfg.model.name))
    manifest = generate(data_cfg, out, progress=True, kg=graph)
    record.results["data"] = {
        key: manifest.data.get(key) for key in ("counts", "rejections", "curation", "versions")
    }
    return out


def reward_model_stage(cfg: RunConfig, record: RunRecord, data_dir: Path) -> Path:
    """Train the scalar reward model on corruption pairs of the generated data."""
    from balancedbio.training.rm_cli import TrainRMCommandConfig, train_rm

    out = record.run_dir / "reward_model"
    if (out / RM_META).is_file():  # finished by an earlier (resumed) run
        meta = json.loads((out / RM_META).read_text())
        record.results["reward_model"] = {"path": str(out), "resumed": True, **meta}
        console.print(f"reward model already trained: {out}")
        return out
    rm_cfg = replace(cfg.reward_model, backbone=cfg.model.name, seed=cfg.seed)
    result = train_rm(
        TrainRMCommandConfig(dataset=str(data_dir), out=str(out), reward_model=rm_cfg)
    )
    record.results["reward_model"] = _jsonable(result)
    acc = result.heldout_pairwise_accuracy
    console.print(
        f"reward model held-out pairwise accuracy: {acc if acc is None else f'{acc:.3f}'}"
    )
    return Path(result.path)


def sft_stage(cfg: RunConfig, record: RunRecord, data_dir: Path) -> Path:
    """LoRA SFT warm-up on the verified references; returns the merged model directory."""
    from balancedbio.training.cli import progress_callback
    from balancedbio.training.data import load_rows
    from balancedbio.training.sft import train_sft

    out = record.run_dir / "sft"
    merged = out / "final" / "merged"
    if (merged / "config.json").is_file():  # finished by an earlier (resumed) run
        console.print(f"SFT model already trained: {merged}")
    else:
        sft_cfg = replace(cfg.sft, model=cfg.model, output_dir=str(out), seed=cfg.seed)
        merged = train_sft(sft_cfg, load_rows(data_dir), callbacks=[progress_callback("SFT")])
    record.results["sft"] = {"model": str(merged)}
    return merged


def grpo_stage(
    cfg: RunConfig, record: RunRecord, data_dir: Path, policy: Path, rm_path: Path | None
) -> dict[str, Path]:
    """GRPO from the SFT model, once per configured trainer (capability-aware, vanilla),
    on the same data, rewards and seed; returns label -> run directory."""
    from balancedbio.training.cli import progress_callback
    from balancedbio.training.data import load_rows
    from balancedbio.training.run import train_grpo

    train = load_rows(data_dir)
    heldout = load_rows(data_dir / "heldout")
    rewards = demo_rewards(cfg, rm_path)
    runs = {}
    for trainer in cfg.trainers:
        label = GRPO_LABELS[trainer]
        stage_cfg = replace(
            cfg.grpo,
            model=replace(cfg.model, name=str(policy)),
            trainer=trainer,
            weighting=cfg.grpo.weighting if trainer != "vanilla" else cfg.vanilla_weighting,
            rewards=rewards,
            seed=cfg.seed,
            output_dir=str(record.run_dir / label),
        )
        console.rule(f"GRPO: {trainer}")
        runs[label] = run_dir = Path(stage_cfg.output_dir)
        if _grpo_done(run_dir, stage_cfg.max_steps):
            console.print(f"{label} already trained: {run_dir}")
        else:  # resumes from its last checkpoint when a killed run left one
            train_grpo(stage_cfg, train, heldout, callbacks=[progress_callback(label)])
        summary = json.loads((run_dir / "summary.json").read_text())
        record.results[label] = {"global_step": summary.get("global_step")}
    return runs


def _grpo_done(run_dir: Path, max_steps: int) -> bool:
    summary = run_dir / "summary.json"
    if not summary.is_file() or not (run_dir / "final").is_dir():
        return False
    return json.loads(summary.read_text()).get("global_step") == max_steps


def demo_rewards(cfg: RunConfig, rm_path: Path | None) -> tuple[RewardSpec, ...]:
    """The configured rule rewards plus the trained reward model (when there is one)."""
    rewards = tuple(cfg.grpo.rewards)
    if rm_path is None or cfg.reward_model_weight <= 0:
        return rewards
    rm = RewardSpec(
        "reward_model",
        weight=cfg.reward_model_weight,
        capabilities=tuple(cfg.reward_model.capabilities),
        params={"path": str(rm_path)},
        timeout_s=None,
    )
    return (*rewards, rm)


def eval_stage(cfg: RunConfig, record: RunRecord, data_dir: Path, models: dict[str, str]) -> None:
    """Evaluate every model on the held-out sets into ``results.json`` (resumable)."""
    from balancedbio.eval import evaluate, merge_into_run

    merged: dict[str, Any] = {}
    for label, model in models.items():
        console.rule(f"evaluate: {label}")
        spec = replace(cfg.model, name=str(model))
        result = evaluate(
            spec, record.run_dir / "eval" / label, cfg.eval, data_dir=data_dir, label=label
        )
        merged = merge_into_run(record.run_dir, label, result)
    record.results["capabilities"] = {
        label: entry.get("capabilities") for label, entry in merged.get("models", {}).items()
    }


def report_stage(record: RunRecord) -> Path:
    """The self-contained HTML report (and PNG figures) of the run."""
    from balancedbio.report import write_report

    path = write_report(record.run_dir)
    record.results["report"] = str(path)
    return path


def _jsonable(obj: Any) -> Any:
    """A dataclass result as plain JSON types (paths as strings)."""
    from dataclasses import asdict, is_dataclass

    data = asdict(obj) if is_dataclass(obj) else dict(obj)
    return json.loads(json.dumps(data, default=str))


__all__ = [
    "GRPO_LABELS",
    "data_stage",
    "demo_rewards",
    "eval_stage",
    "grpo_stage",
    "knowledge_stage",
    "model_stage",
    "report_stage",
    "reward_model_stage",
    "sft_stage",
]
