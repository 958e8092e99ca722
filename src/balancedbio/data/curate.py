"""Source2Synth curation: keep only items a model fine-tuned on the *other* half can solve.

1. Split the items in two halves A and B (by a hash of the id: deterministic, balanced).
2. LoRA-SFT the base model on A (prompt -> reference,
   :func:`~balancedbio.models.finetune.sft_lora`); sample ``k`` answers per item of B;
   keep an item when at least one answer is graded correct by the item's own verifiers
   (:func:`~balancedbio.data.validate.grade_response`: the answer checker of its
   ``answer_kind`` and, for instruction items, every IFEval instruction; optionally the
   workflow rules). Then swap: train on B, filter A.
3. Optional imputation (``impute``): mask one finding of each case and ask the model to
   fill it in; keep the case if the imputed finding grounds to a phenotype annotated to
   the diagnosis (true-path rule), i.e. the case carries enough signal to reconstruct.

Every dropped item is kept with its reason (``curation:failed_k_tries`` with the last
grader verdict, ``curation:backend_error``, ``curation:imputation_failed``). Training and
answering are injectable (``train_fn``, ``answerer_fn``) so tests can check the mechanics
with a fake answerer.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from balancedbio.data.validate import grade_response

if TYPE_CHECKING:
    from balancedbio.data.backends import ChatBackend
    from balancedbio.data.config import CurateConfig, GenerateConfig
    from balancedbio.data.pipeline import Manifest
    from balancedbio.knowledge import KnowledgeGraph

log = logging.getLogger(__name__)

TrainFn = Callable[[Sequence[Mapping[str, Any]], Path], Any]
AnswererFn = Callable[[Any], "ChatBackend"]
MASK = "[MASKED]"
IMPUTE_ASK = (
    f"One finding was replaced by {MASK}. Name the most likely missing clinical finding; "
    "reply with the finding only."
)


@dataclass
class CurationResult:
    """Kept items, dropped items (with ``reason``), and the counts."""

    kept: list[dict[str, Any]] = field(default_factory=list)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    models: list[str] = field(default_factory=list)

    def stats(self, k: int) -> dict[str, Any]:
        caps: dict[str, Counter[str]] = {}
        for item in self.kept:
            caps.setdefault(item["capability"], Counter())["kept"] += 1
        for rec in self.dropped:
            caps.setdefault(rec["capability"], Counter())["dropped"] += 1
        return {
            "k": k,
            "items": len(self.kept) + len(self.dropped),
            "kept": len(self.kept),
            "dropped": len(self.dropped),
            "by_reason": dict(sorted(Counter(r["reason"] for r in self.dropped).items())),
            "by_capability": {c: dict(v) for c, v in sorted(caps.items())},
            "models": self.models,
        }


def halves(
    items: Sequence[Mapping[str, Any]], seed: int = 0
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Deterministic split in two halves by a seeded hash of each item id."""
    keyed = sorted(
        items, key=lambda it: (xxhash.xxh64_intdigest(f"{seed}:{it['id']}".encode()), it["id"])
    )
    mid = len(keyed) // 2
    return [dict(i) for i in keyed[:mid]], [dict(i) for i in keyed[mid:]]


def _drop(item: Mapping[str, Any], reason: str, message: str) -> dict[str, Any]:
    return {
        "id": item["id"],
        "capability": item["capability"],
        "task": item.get("task"),
        "stage": "curate",
        "reason": reason,
        "message": message,
        "item": dict(item),
    }


def solve_filter(
    items: Sequence[dict[str, Any]],
    backend: ChatBackend,
    cfg: CurateConfig,
    kg: KnowledgeGraph | None = None,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(kept, dropped): an item is kept if one of ``k`` sampled answers is graded correct."""
    kept, dropped = [], []
    for start in range(0, len(items), cfg.batch_size):
        batch = items[start : start + cfg.batch_size]
        replies = backend.generate(
            [list(it["prompt"]) for it in batch],
            max_new_tokens=cfg.max_new_tokens,
            temperature=cfg.temperature,
            seed=seed,
            n=cfg.k,
        )
        for item, reply in zip(batch, replies, strict=True):
            if not isinstance(reply, list):
                dropped.append(_drop(item, "curation:backend_error", str(reply)))
                continue
            verdicts = [
                grade_response(item, text, kg, workflow=cfg.require_workflow) for text in reply
            ]
            if any(ok for ok, _ in verdicts):
                kept.append(item)
            else:
                last = verdicts[-1][1] if verdicts else "no answer"
                msg = f"no correct answer in {cfg.k} tries (last: {last})"
                dropped.append(_drop(item, "curation:failed_k_tries", msg))
    return kept, dropped


def mask_finding(item: Mapping[str, Any], kg: KnowledgeGraph) -> tuple[str, str] | None:
    """(question with one finding masked, the masked finding's id), or None."""
    question = str(item.get("question") or "")
    findings = list(item.get("findings") or [])
    texts = {e["id"]: e["text"] for e in item.get("entities") or [] if e.get("id") in findings}
    if not findings:
        return None
    start = xxhash.xxh64_intdigest(str(item["id"]).encode()) % len(findings)
    for hp in findings[start:] + findings[:start]:
        text = texts.get(hp) or kg.name_of(hp)
        pattern = re.compile(re.escape(text), re.IGNORECASE)
        if pattern.search(question):
            return pattern.sub(MASK, question, count=1), hp
    return None


def impute_filter(
    items: Sequence[dict[str, Any]],
    backend: ChatBackend,
    kg: KnowledgeGraph,
    cfg: CurateConfig,
    seed: int = 0,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Keep case items whose masked finding the model imputes with an annotated phenotype."""
    from balancedbio.data.index import KnowledgeIndex

    index = KnowledgeIndex(kg)
    cases, kept, dropped = [], [], []
    for item in items:
        masked = mask_finding(item, kg) if item.get("diagnosis_id") else None
        (cases if masked else kept).append((item, masked))
    kept = [it for it, _ in kept]
    prompts = [
        [
            {
                "role": "user",
                "content": f"{q}\n\n{IMPUTE_ASK}",
            }
        ]
        for _, (q, _) in cases
    ]
    replies = (
        backend.generate(prompts, max_new_tokens=32, temperature=cfg.temperature, seed=seed, n=1)
        if prompts
        else []
    )
    for (item, _), reply in zip(cases, replies, strict=True):
        text = reply[0] if isinstance(reply, list) and reply else ""
        ids = [m.id for m in kg.ground(text) if m.id.startswith("HP:")] + [
            i for i in kg.lookup(text.strip()) if i.startswith("HP:")
        ]
        aliases = index.disease_aliases(item["diagnosis_id"]) or (item["diagnosis_id"],)
        if any(index.has_phenotype_any(aliases, hp) for hp in ids):
            kept.append(item)
        else:
            dropped.append(
                _drop(
                    item,
                    "curation:imputation_failed",
                    f"imputed {text[:60]!r}: not annotated to {item['diagnosis_id']}",
                )
            )
    return kept, dropped


def curate(
    items: Sequence[Mapping[str, Any]],
    cfg: CurateConfig,
    work_dir: str | Path,
    *,
    kg: KnowledgeGraph | None = None,
    seed: int = 0,
    train_fn: TrainFn | None = None,
    answerer_fn: AnswererFn | None = None,
) -> CurationResult:
    """Source2Synth over ``items`` (see the module docstring); models go to ``work_dir``."""
    work = Path(work_dir)
    rows = [dict(i) for i in items][: cfg.max_items] if cfg.max_items else [dict(i) for i in items]
    train_fn = train_fn or _default_train(cfg, seed)
    answerer_fn = answerer_fn or _default_answerer(cfg)
    first, second = halves(rows, seed)
    result = CurationResult()
    order = {it["id"]: n for n, it in enumerate(rows)}
    for name, train, test in (("a", first, second), ("b", second, first)):
        if not test:
            continue
        model = train_fn(train, work / f"model_{name}") if train else cfg.model
        result.models.append(str(model))
        backend = answerer_fn(model)
        kept, dropped = solve_filter(test, backend, cfg, kg, seed)
        if cfg.impute and kg is not None:
            kept, more = impute_filter(kept, backend, kg, cfg, seed)
            dropped += more
        result.kept += kept
        result.dropped += dropped
    result.kept.sort(key=lambda it: order[it["id"]])
    result.dropped.sort(key=lambda r: order[r["id"]])
    log.info("curation: kept %d of %d items", len(result.kept), len(rows))
    return result


def _default_train(cfg: CurateConfig, seed: int) -> TrainFn:
    def train(half: Sequence[Mapping[str, Any]], out: Path) -> Path:
        from balancedbio.models.finetune import chat_rows, sft_lora

        s = cfg.sft
        return sft_lora(
            cfg.model,
            chat_rows(half),
            out,
            steps=s.steps,
            lr=s.lr,
            r=s.r,
            alpha=s.alpha,
            batch_size=s.batch_size,
            max_length=s.max_length,
            seed=seed,
        )

    return train


def _default_answerer(cfg: CurateConfig) -> AnswererFn:
    def answerer(model: Any) -> ChatBackend:
        from balancedbio.data.backends import TransformersBackend
        from balancedbio.models import ModelConfig

        return TransformersBackend(ModelConfig(name=str(model)), batch_size=cfg.batch_size)

    return answerer


def curate_run(
    manifest: Manifest, cfg: GenerateConfig, *, kg: KnowledgeGraph | None = None, **kwargs: Any
) -> Manifest:
    """Curate a finished run into ``<out>/curated`` and record the outcome in its manifest."""
    from balancedbio.common import write_json
    from balancedbio.data.pipeline import update_manifest
    from balancedbio.data.records import JSON_FIELDS, SCHEMA
    from balancedbio.data.shards import ShardWriter

    out = manifest.out_dir
    result = curate(
        list(manifest.iter_items()), cfg.curate, out / "curate-work", kg=kg, seed=cfg.seed, **kwargs
    )
    writer = ShardWriter(
        out / "curated",
        cfg.output.shard_size,
        cfg.output.format,
        overwrite=True,
        json_fields=JSON_FIELDS,
        schema=SCHEMA,
    )
    for item in result.kept:
        writer.add_seed([item])
    for rec in result.dropped:
        writer.add_seed([], [rec])
    stats = result.stats(cfg.curate.k)
    writer.finalize({"curation": stats, "source": str(out)})
    write_json(out / "curation.json", stats)
    return update_manifest(out, curation={"dir": "curated", **stats})


__all__ = [
    "CurationResult",
    "curate",
    "curate_run",
    "halves",
    "impute_filter",
    "mask_finding",
    "solve_filter",
]
