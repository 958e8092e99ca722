"""Our MCQ log-likelihood acc/acc_norm equal lm-eval 0.4.13's (HFLM, local model dir,
local JSONL task loaded through ``TaskManager(include_path=...)``), item by item."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eval_fixtures import heldout_items
from eval_paths import DATA

from balancedbio.eval import readers
from balancedbio.eval.mcq import MCQRequest, loglikelihoods, mcq_metrics
from balancedbio.eval.tasks import mcq_request

pytest.importorskip("lm_eval")


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Internet connections are refused and recorded; the test fails if any was tried."""
    import socket

    tried: list[Any] = []
    real = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            tried.append(address)
            raise OSError(f"network disabled in tests: {address!r}")
        return real(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield tried
    assert not tried, f"network access attempted: {tried}"


def agreement_requests() -> list[MCQRequest]:
    """Every MCQ fixture (MKGSG held-out, MMLU, MedQA, MedMCQA, PubMedQA), option texts as
    targets so that acc_norm differs from acc."""
    records = [i for i in heldout_items() if i["capability"] == "knowledge"]
    records += readers.read_mmlu(DATA / "mmlu", "anatomy")
    records += readers.read_mmlu(DATA / "mmlu", "clinical_knowledge")
    records += readers.read_medqa(DATA / "medqa.jsonl")
    records += readers.read_medmcqa(DATA / "medmcqa_hf.jsonl")
    records += readers.read_pubmedqa(DATA / "pubmedqa_ori_pqal.json")
    return [mcq_request(r, "text") for r in records]


# Not marked slow: the acceptance check of the evaluation issue runs in CI (~20-40 s).
def test_lm_eval_agreement(
    tiny: tuple[Any, Any], tiny_dir: Path, tmp_path: Path, no_network: list[Any]
) -> None:
    from balancedbio.eval.lmeval import run_lmeval, write_task

    assert os.environ.get("HF_DATASETS_OFFLINE") == "1" and os.environ.get("HF_HUB_OFFLINE") == "1"
    requests = agreement_requests()
    write_task(requests, tmp_path, "bb_agreement_mcq")
    theirs = run_lmeval(tiny_dir, tmp_path, "bb_agreement_mcq", batch_size=4)
    model, tokenizer = tiny
    ours_lls = [[s for s, _ in r] for r in loglikelihoods(model, tokenizer, requests, batch_size=4)]
    assert len(theirs.lls) == len(ours_lls) == len(requests) == 18
    for mine, ref in zip(ours_lls, theirs.lls, strict=True):
        assert mine == pytest.approx(ref, abs=2e-4)
    per_item = [
        mcq_metrics(lls, r.targets, r.gold) for lls, r in zip(ours_lls, requests, strict=True)
    ]
    acc = sum(m["acc"] for m in per_item) / len(per_item)
    acc_norm = sum(m["acc_norm"] for m in per_item) / len(per_item)
    assert abs(acc - theirs.acc) <= 0.001 and abs(acc_norm - theirs.acc_norm) <= 0.001
    assert any(m["pred"] != m["pred_norm"] for m in per_item)  # the normalization mattered
