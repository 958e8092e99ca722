"""``generate``: sources -> seeds -> construct -> validate -> dedup/decontaminate -> write
(-> curate).

Output (``out_dir``, see :mod:`balancedbio.data.shards`): ``data/shard-*.jsonl|parquet``
(load with ``datasets.load_dataset("json", data_files=manifest.data_files)``),
``manifest.json`` (counts per capability and per rejection reason, source versions,
config, seed), ``rejected.jsonl`` (every rejected item with its reasons), and with
``heldout.enabled`` a disjoint, decontaminated evaluation set in ``heldout/``.

Resumable: a killed run restarted with the same config continues at the last committed
shard, regenerating exactly the uncommitted seeds (dedup indexes are rebuilt from the
committed items), so the result has the same ids as an uninterrupted run, none twice.
Curation (Source2Synth) needs whole halves of the data, so it runs after the stream, on
the committed items, into ``curated/``.
"""

from __future__ import annotations

import gc
import json
import logging
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from balancedbio.common import write_json
from balancedbio.config import ConfigError, to_dict
from balancedbio.data.config import TASKS, GenerateConfig
from balancedbio.data.gate import (
    Gate,
    build_decontaminator,
    contamination_segments,
    contamination_text,
    dedup_text,
    eval_texts,
)
from balancedbio.data.records import JSON_FIELDS, SCHEMA, Rejection
from balancedbio.data.shards import MANIFEST, ShardWriter, iter_items, load_shards

if TYPE_CHECKING:
    from balancedbio.data.backends import ChatBackend
    from balancedbio.data.engine import Engine
    from balancedbio.knowledge import KnowledgeGraph

log = logging.getLogger(__name__)
BATCH = 64  # seeds per construct/validate round in template mode


@dataclass
class Manifest:
    """``manifest.json`` of a finished run, with convenient accessors."""

    out_dir: Path
    data: dict[str, Any]

    @classmethod
    def load(cls, out_dir: str | Path) -> Manifest:
        path = Path(out_dir) / MANIFEST
        if not path.is_file():
            raise ConfigError(f"{out_dir} has no {MANIFEST}: the run did not finish")
        return cls(Path(out_dir), json.loads(path.read_text()))

    @property
    def items(self) -> int:
        return int(self.data["items"])

    @property
    def rejected(self) -> int:
        return int(self.data["rejected"])

    @property
    def by_capability(self) -> dict[str, int]:
        return dict(self.data["by_capability"])

    @property
    def rejected_by_capability(self) -> dict[str, int]:
        return dict(self.data.get("rejected_by_capability", {}))

    @property
    def by_reason(self) -> dict[str, int]:
        return dict(self.data["by_reason"])

    @property
    def data_files(self) -> list[Path]:
        return [self.out_dir / f for f in self.data["files"]]

    def iter_items(self) -> Iterator[dict[str, Any]]:
        """Items with JSON fields decoded (``kwargs``, ``provenance``)."""
        return iter_items(self.out_dir)

    def dataset(self) -> Any:
        """The items as a typed ``datasets.Dataset`` (JSON fields stay strings)."""
        return load_shards(self.out_dir)


# --------------------------------------------------------------------------- progress


@contextmanager
def _progress(enabled: bool, total: int, done: int) -> Iterator[Any]:
    if not enabled:
        yield lambda **_: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    with Progress(
        TextColumn("[bold]generate[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("seeds  {task.fields[items]} items  {task.fields[rejected]} rejected"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    ) as bar:
        task = bar.add_task("seeds", total=total, completed=done, items=0, rejected=0)
        yield lambda **kw: bar.update(task, **kw)


# --------------------------------------------------------------------------- generate


def generate(
    cfg: GenerateConfig,
    out_dir: str | Path,
    *,
    progress: bool = True,
    resume: bool = True,
    overwrite: bool = False,
    kg: KnowledgeGraph | None = None,
    backend: ChatBackend | None = None,
) -> Manifest:
    """Run MKGSG into ``out_dir`` (resuming a previous run there unless ``resume=False``)."""
    from balancedbio.data.engine import Engine

    out = Path(out_dir)
    resume = resume and not overwrite
    started = time.perf_counter()
    engine = Engine(cfg, kg=kg, backend=backend)
    eval_dirs = list(cfg.decontaminate.eval_dirs)
    heldout = None
    if cfg.heldout.enabled and cfg.split.split == "train":
        heldout = generate_heldout(
            cfg,
            out / "heldout",
            progress=progress,
            resume=resume,
            overwrite=overwrite,
            kg=engine.kg,
        )
        eval_dirs.append(str(heldout.out_dir))
    decon, segments = None, 0
    if cfg.decontaminate.enabled:
        d = cfg.decontaminate
        texts = eval_texts(eval_dirs, d.eval_files)
        segments = len(texts)
        decon = build_decontaminator(texts, d.ngram, d.max_doc_fraction, d.min_docs)
    seeds = engine.seeds()
    writer = ShardWriter(
        out,
        cfg.output.shard_size,
        cfg.output.format,
        resume=resume,
        overwrite=overwrite,
        fingerprint=cfg.fingerprint(),
        json_fields=JSON_FIELDS,
        schema=SCHEMA,  # typed columns even when a run's first shard lacks a capability
    )
    if writer.finalized:
        writer.close()
        log.info("%s is already complete", out)
        manifest = Manifest.load(out)
    else:
        try:
            gate = Gate(cfg, decon)
            for item in writer.iter_committed():
                gate.register(item)
            _run(engine, writer, gate, seeds, progress)
            engine.save_memo()
            extra = _manifest_extra(
                cfg, engine, seeds, heldout, segments, time.perf_counter() - started
            )
            manifest = Manifest(out, writer.finalize(extra))
        except BaseException:
            writer.close()
            raise
    if cfg.curate.enabled and "curation" not in manifest.data:
        from balancedbio.data.curate import curate_run

        manifest = curate_run(manifest, cfg, kg=engine.kg)
    return manifest


_WORKER_ENGINE: Engine | None = None


def _produce(chunk: list[Any]) -> list[Any]:
    assert _WORKER_ENGINE is not None
    return _WORKER_ENGINE.produce(chunk)


@contextmanager
def _producer(engine: Engine, chunks: list[list[Any]]) -> Iterator[Iterator[list[Any]]]:
    """Results per chunk, in order: in-process, or from forked workers sharing the graph."""
    workers = engine.cfg.construct.workers
    if workers <= 1 or engine.cfg.construct.mode == "model" or len(chunks) < 2:
        yield (engine.produce(c) for c in chunks)
        return
    import multiprocessing

    global _WORKER_ENGINE
    _WORKER_ENGINE = engine
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            yield pool.imap(_produce, chunks)
    finally:
        _WORKER_ENGINE = None


#: Young-generation threshold of the item loop where automatic GC stays on (model mode).
_LOOP_GC_THRESHOLD = 20_000
#: Seed chunks between the template loop's own collections (~128k seeds).
GC_EVERY_CHUNKS = 2000


@contextmanager
def _quiet_gc(automatic: bool) -> Iterator[None]:
    """The item loop's GC regime. The pre-existing heap (the knowledge graph, its indexes
    and memos: ~10^5 objects every full collection would scan again) is frozen. Template
    items are trees freed by reference counting (a whole shipped run leaves ~300 unreachable
    objects), while the memos and indexes growing in the loop are ~10^6 objects each
    collection rescans: there (``automatic=False``) automatic collection is off and the loop
    collects every :data:`GC_EVERY_CHUNKS` chunks itself. Elsewhere (model backends: HTTP
    clients, event loops) it stays on, collecting the young generation every
    :data:`_LOOP_GC_THRESHOLD` allocations instead of 700. The caller's state (enabled,
    thresholds, freeze) is restored; a freeze made by the caller is left alone."""
    enabled, thresholds = gc.isenabled(), gc.get_threshold()
    frozen = not gc.get_freeze_count()
    if frozen:
        gc.freeze()
    if automatic:
        gc.set_threshold(max(thresholds[0], _LOOP_GC_THRESHOLD), *thresholds[1:])
    else:
        gc.disable()
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if enabled:
            gc.enable()
        if frozen:
            gc.unfreeze()


def _run(engine: Engine, writer: ShardWriter, gate: Gate, seeds: list[Any], progress: bool) -> None:
    with _quiet_gc(automatic=engine.cfg.construct.mode != "template"):
        _run_items(engine, writer, gate, seeds, progress)


def _run_items(
    engine: Engine, writer: ShardWriter, gate: Gate, seeds: list[Any], progress: bool
) -> None:
    todo = seeds[writer.cursor :]
    batch = engine.cfg.construct.model_batch if engine.cfg.construct.mode == "model" else BATCH
    chunks = [todo[i : i + batch] for i in range(0, len(todo), batch)]
    items = rejected = 0
    with (  # fork the workers (if any) before the progress bar starts its thread
        _producer(engine, chunks) as results,
        _progress(progress, len(seeds), writer.cursor) as update,
    ):
        for k, (chunk, produced) in enumerate(zip(chunks, results, strict=True), 1):
            if k % GC_EVERY_CHUNKS == 0:
                gc.collect()  # off in the template loop (see _quiet_gc); cheap where it is on
            gate.prepare([res for res in produced if isinstance(res, dict)])
            for seed, res in zip(chunk, produced, strict=True):
                if isinstance(res, dict):
                    rej = gate(res)
                    if rej is None:
                        writer.add(res)
                        items += 1
                    else:
                        res = rej
                if isinstance(res, Rejection):
                    writer.reject(res.record(seed.to_dict(), seed.capability, seed.task))
                    rejected += 1
                writer.end_seed()
            update(advance=len(chunk), items=items, rejected=rejected)


def _manifest_extra(
    cfg: GenerateConfig,
    engine: Engine,
    seeds: list[Any],
    heldout: Manifest | None,
    segments: int,
    wall_s: float,
) -> dict[str, Any]:
    per_task = Counter(s.task for s in seeds)
    return {
        "generator": "mkgsg",
        "mode": cfg.construct.mode,
        "model": engine.ctx.generator,
        "seed": cfg.seed,
        "split": cfg.split.split,
        "shard": cfg.shard,
        "source_versions": engine.versions,
        "tasks": {
            t: {
                "capability": TASKS[t],
                "seeds": per_task.get(t, 0),
                "pool": len(engine.pools.get(t, [])),
            }
            for t in engine.tasks
        },
        "heldout": None if heldout is None else {"dir": "heldout", "items": heldout.items},
        "decontamination": {
            "enabled": cfg.decontaminate.enabled,
            "ngram": cfg.decontaminate.ngram,
            "eval_segments": segments,
            "eval_dirs": list(cfg.decontaminate.eval_dirs) + (["heldout"] if heldout else []),
            "eval_files": list(cfg.decontaminate.eval_files),
        },
        "config": to_dict(cfg),
        "timing": {"setup_s": round(engine.setup_s, 2), "wall_s": round(wall_s, 2)},
    }


def heldout_config(cfg: GenerateConfig) -> GenerateConfig:
    """The held-out counterpart of a training config: eval split, own seed, fewer seeds."""
    h = cfg.heldout
    tasks = {t: max(h.min_per_task, round(n * h.fraction)) for t, n in cfg.tasks.items() if n}
    return replace(
        cfg,
        seed=h.seed,
        tasks=tasks,
        shard="0/1",
        split=replace(cfg.split, split="eval"),
        heldout=replace(h, enabled=False),
        decontaminate=replace(cfg.decontaminate, enabled=False),
        curate=replace(cfg.curate, enabled=False),
    )


def generate_heldout(cfg: GenerateConfig, out_dir: str | Path, **kwargs: Any) -> Manifest:
    """Generate the held-out evaluation set of ``cfg`` (eval split, ``heldout.seed``)."""
    return generate(heldout_config(cfg), out_dir, **kwargs)


def update_manifest(out_dir: Path, **fields: Any) -> Manifest:
    """Add fields to a finished run's manifest (atomically)."""
    m = Manifest.load(out_dir)
    m.data.update(fields)
    write_json(out_dir / MANIFEST, m.data)
    return m


__all__ = [
    "Gate",
    "Manifest",
    "build_decontaminator",
    "contamination_segments",
    "contamination_text",
    "dedup_text",
    "eval_texts",
    "generate",
    "generate_heldout",
    "heldout_config",
    "update_manifest",
]
