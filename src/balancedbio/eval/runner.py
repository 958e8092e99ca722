"""``evaluate``: one model on a set of benchmarks -> ``results.json`` + per-sample logs.

Output directory (one per model; see :mod:`balancedbio.report` for the run directory)::

    results.json               scores per benchmark (value, stderr, n), groups, capabilities,
                               model, config, dataset provenance and versions
    samples/<benchmark>.jsonl  one line per sample: id, chunk, prompt, completion, gold,
                               verdicts (and the choices' log-likelihoods for MCQs)
    state.json                 fingerprint of (model, config, sample ids): a restart with
                               other settings is refused instead of mixing results

Batched (left-padded generation, shared-prefix log-likelihood), resumable (chunks, see
:mod:`balancedbio.eval.logs`) and deterministic (seeded sampling of items, greedy decoding,
fixed chunk composition).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import platform
import shutil
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from balancedbio.common import write_json
from balancedbio.config import ConfigError, to_dict
from balancedbio.eval.config import GROUPS, EvalConfig
from balancedbio.eval.grading import grade, metric_series, summarize
from balancedbio.eval.logs import SampleLog, chunk_ids
from balancedbio.eval.mcq import loglikelihoods, mcq_metrics
from balancedbio.eval.tasks import Benchmark, build_benchmarks, mcq_request, prompt_text
from balancedbio.models.config import ModelConfig

log = logging.getLogger(__name__)
SCHEMA = "balancedbio.eval/1"
RESULTS, STATE, SAMPLES = "results.json", "state.json", "samples"


class _Scorer:
    """Loads the model on first use and scores chunks of a benchmark."""

    def __init__(self, cfg: EvalConfig, model_cfg: ModelConfig) -> None:
        self.cfg, self.model_cfg = cfg, model_cfg
        self._model: Any = None
        self._tokenizer: Any = None

    def _load(self) -> tuple[Any, Any]:
        if self._model is None:
            import torch

            from balancedbio.models import load_model_and_tokenizer

            torch.manual_seed(self.cfg.seed)
            self._model, self._tokenizer = load_model_and_tokenizer(self.model_cfg)
        return self._model, self._tokenizer

    def chunk(self, bench: Benchmark, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        from balancedbio.eval.generation import generate_batched

        cfg = self.cfg
        model, tokenizer = self._load()
        entries: list[dict[str, Any]] = [
            {
                "id": r["id"],
                "prompt": prompt_text(r),
                "gold": r.get("answer"),
                "completion": None,
                "verdicts": {},
            }
            for r in records
        ]
        if bench.kind == "mcq" and "loglik" in cfg.mcq_modes:
            requests = [mcq_request(r, cfg.mcq_target) for r in records]
            scores = loglikelihoods(model, tokenizer, requests, batch_size=cfg.batch_size)
            for entry, req, sc in zip(entries, requests, scores, strict=True):
                lls = [s for s, _ in sc]
                entry["verdicts"].update(mcq_metrics(lls, req.targets, req.gold))
                entry["loglik"] = {
                    "context": req.context,
                    "targets": list(req.targets),
                    "lls": lls,
                    "greedy": [g for _, g in sc],
                }
        if bench.kind != "mcq" or "generate" in cfg.mcq_modes:
            completions = generate_batched(
                model,
                tokenizer,
                [r["prompt"] for r in records],
                max_new_tokens=cfg.max_new_tokens,
                batch_size=cfg.batch_size,
            )
            for entry, record, completion in zip(entries, records, completions, strict=True):
                entry["completion"] = completion
                entry["verdicts"].update(
                    grade(
                        bench.kind,
                        record,
                        completion,
                        entry["prompt"],
                        rules=cfg.workflow_rules,
                        cache_dir=cfg.knowledge_cache_dir,
                    )
                )
        return json.loads(json.dumps(entries, default=str))  # exactly what a reload gives


def _fingerprint(
    model_cfg: ModelConfig, model_path: Path, cfg: EvalConfig, benches: Sequence[Benchmark]
) -> str:
    blob = json.dumps(
        {
            "model": to_dict(model_cfg),
            "path": str(model_path),
            "config": to_dict(cfg),
            "samples": {b.name: [r["id"] for r in b.records] for b in benches},
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _check_state(out: Path, fingerprint: str, overwrite: bool) -> None:
    state = out / STATE
    if state.is_file():
        old = json.loads(state.read_text()).get("fingerprint")
        if old != fingerprint:
            if not overwrite:
                raise ConfigError(
                    f"{out} holds an evaluation with other settings (fingerprint {old}, now "
                    f"{fingerprint}); use another --out or overwrite"
                )
            shutil.rmtree(out / SAMPLES, ignore_errors=True)
            (out / RESULTS).unlink(missing_ok=True)
    write_json(state, {"fingerprint": fingerprint})


def versions() -> dict[str, str]:
    """Package versions that affect scores."""
    out = {"python": platform.python_version()}
    for pkg in ("balancedbio", "torch", "transformers", "medcalc-bench", "langdetect", "nltk"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _capabilities(benchmarks: Mapping[str, Any], groups: Mapping[str, Any]) -> dict[str, Any]:
    """Headline score per capability: the unweighted mean of its benchmarks' primary metric
    (the MMLU subsets enter once, as their ``biomed_mmlu`` group)."""
    grouped = {m for g in groups.values() for m in g["members"]}
    units = [(n, b) for n, b in benchmarks.items() if n not in grouped] + list(groups.items())
    out: dict[str, Any] = {}
    for name, entry in units:
        metric = entry["metrics"].get(entry["primary"])
        if metric is None or metric["value"] is None:
            continue
        cap = out.setdefault(entry["capability"], {"from": []})
        cap["from"].append(
            {"benchmark": name, "metric": entry["primary"], "value": metric["value"]}
        )
    for cap in out.values():
        cap["score"] = sum(f["value"] for f in cap["from"]) / len(cap["from"])
    return out


def evaluate(
    model: str | ModelConfig,
    out_dir: str | Path,
    config: EvalConfig | None = None,
    *,
    data_dir: str | Path | None = None,
    label: str | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Evaluate ``model`` (a spec: built-in name, local HF dir, hub id; or a ModelConfig) on
    ``config.benchmarks`` and write ``out_dir/results.json``; returns the results.

    ``data_dir`` is a generated MKGSG dataset (its held-out split is used). A killed run
    restarted with the same arguments continues where it stopped and ends with the same
    results as an uninterrupted run.
    """
    from balancedbio.models import resolve_model

    started = time.perf_counter()
    cfg = config or EvalConfig()
    model_cfg = model if isinstance(model, ModelConfig) else ModelConfig(name=str(model))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    benches = build_benchmarks(cfg, data_dir)
    model_path = resolve_model(model_cfg.name, model_cfg.cache_dir, revision=model_cfg.revision)
    fingerprint = _fingerprint(model_cfg, model_path, cfg, benches)
    _check_state(out, fingerprint, overwrite)
    scorer = _Scorer(cfg, model_cfg)
    results: dict[str, Any] = {}
    series: dict[str, dict[str, list[float]]] = {}
    timing: dict[str, float] = {}
    resumed = 0
    for bench in benches:
        t0 = time.perf_counter()
        ids = [str(r["id"]) for r in bench.records]
        chunks = chunk_ids(ids, cfg.chunk_size)
        slog = SampleLog(out / SAMPLES / f"{bench.name}.jsonl", chunks)
        done = slog.load()
        resumed += len(done)
        for k in range(len(chunks)):
            if k not in done:
                part = bench.records[k * cfg.chunk_size : (k + 1) * cfg.chunk_size]
                done[k] = scorer.chunk(bench, part)
                slog.append(k, done[k])
                log.info(
                    "%s: %d/%d samples",
                    bench.name,
                    min((k + 1) * cfg.chunk_size, len(ids)),
                    len(ids),
                )
        verdicts = [e["verdicts"] for k in range(len(chunks)) for e in done[k]]
        series[bench.name] = metric_series(bench.kind, verdicts)
        results[bench.name] = {
            "capability": bench.capability,
            "kind": bench.kind,
            "n": len(ids),
            "primary": bench.primary(cfg),
            "metrics": {k: summarize(v) for k, v in series[bench.name].items()},
            "source": bench.source,
            "log": f"{SAMPLES}/{bench.name}.jsonl",
        }
        timing[bench.name] = round(time.perf_counter() - t0, 3)
    groups = {}
    for group, members in GROUPS.items():
        present = [m for m in members if m in results]
        if group == "heldout" or not present:
            continue
        keys = set.intersection(*(set(series[m]) for m in present))
        groups[group] = {
            "capability": results[present[0]]["capability"],
            "members": present,
            "n": sum(results[m]["n"] for m in present),
            "primary": results[present[0]]["primary"],
            "metrics": {
                k: summarize([x for m in present for x in series[m][k]]) for k in sorted(keys)
            },
        }
    dataset = next((b.source["dataset"] for b in benches if "dataset" in b.source), None)
    payload = {
        "schema": SCHEMA,
        "label": label,
        "model": {"spec": model_cfg.name, "path": str(model_path), "dtype": model_cfg.dtype},
        "config": to_dict(cfg),
        "data": dataset,
        "benchmarks": results,
        "groups": groups,
        "capabilities": _capabilities(results, groups),
        "versions": versions(),
        "fingerprint": fingerprint,
        "timing": {
            "wall_s": round(time.perf_counter() - started, 3),
            "benchmarks_s": timing,
            "resumed_chunks": resumed,
        },
    }
    write_json(out / RESULTS, payload)
    return payload


__all__ = ["RESULTS", "SAMPLES", "SCHEMA", "evaluate", "versions"]
