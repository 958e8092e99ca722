"""Interop with lm-eval-harness (a dev dependency): export MCQs as a local lm-eval task and
score them with lm-eval's ``HFLM``, to check that our log-likelihood scores agree.

:func:`write_task` writes ``<dir>/<name>.jsonl`` (``question, choices, answer``) and
``<dir>/<name>.yaml`` (``output_type: multiple_choice``, ``doc_to_text: "{{question}}"``
with our context, ``target_delimiter: " "``, metrics ``acc`` and ``acc_norm``), loadable
with ``TaskManager(include_path=dir)``; the data are read by the ``json`` builder from the
local file, so nothing touches the network (set ``HF_DATASETS_OFFLINE=1``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancedbio.eval.mcq import MCQRequest

TASK_YAML = """task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "{{{{question}}}}"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
target_delimiter: " "
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
  - metric: acc_norm
    aggregation: mean
    higher_is_better: true
"""


@dataclass(frozen=True)
class LMEvalScores:
    """lm-eval's aggregate ``acc``/``acc_norm`` and each document's choice log-likelihoods."""

    acc: float
    acc_norm: float
    lls: list[list[float]]  # by document, in the task's order
    seconds: float


def write_task(requests: Sequence[MCQRequest], task_dir: str | Path, name: str) -> Path:
    """Write the data file and task YAML; returns the YAML path."""
    task_dir = Path(task_dir)
    task_dir.mkdir(parents=True, exist_ok=True)
    data = task_dir / f"{name}.jsonl"
    with data.open("w", encoding="utf-8") as fh:
        for req in requests:
            row = {"question": req.context, "choices": list(req.targets), "answer": req.gold}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    yaml_path = task_dir / f"{name}.yaml"
    yaml_path.write_text(TASK_YAML.format(name=name, data=json.dumps(str(data))))
    return yaml_path


def run_lmeval(
    model_dir: str | Path, task_dir: str | Path, name: str, *, batch_size: int = 8
) -> LMEvalScores:
    """Score a task written by :func:`write_task` with lm-eval's ``HFLM`` on CPU (float32)."""
    import time

    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM
    from lm_eval.tasks import TaskManager

    lm = HFLM(pretrained=str(model_dir), device="cpu", batch_size=batch_size, dtype="float32")
    started = time.perf_counter()
    out: Any = simple_evaluate(
        model=lm,
        tasks=[name],
        task_manager=TaskManager(include_path=str(task_dir)),
        log_samples=True,
        bootstrap_iters=0,
    )
    seconds = time.perf_counter() - started
    res = out["results"][name]
    samples = sorted(out["samples"][name], key=lambda s: s["doc_id"])
    lls = [[float(r[0][0]) for r in s["resps"]] for s in samples]
    return LMEvalScores(float(res["acc,none"]), float(res["acc_norm,none"]), lls, seconds)


__all__ = ["LMEvalScores", "run_lmeval", "write_task"]
