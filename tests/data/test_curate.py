"""Source2Synth curation: halves, k tries, swap, imputation; end to end on tiny-random."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import xxhash  # noqa: E402
from mkgsg_helpers import config, engine, graph, items_of  # noqa: E402

from balancedbio.data.backends import BackendError, FakeBackend  # noqa: E402
from balancedbio.data.curate import curate, halves, impute_filter, mask_finding, solve_filter  # noqa: E402
from balancedbio.data.pipeline import Manifest, generate  # noqa: E402
from balancedbio.data.shards import iter_items  # noqa: E402


def _valid_items() -> list[dict]:
    eng = engine()
    out = []
    for task in ("mcq_phenotype", "calculator", "instruction", "diagnosis_case", "integrated_case"):
        out += [i for i in items_of(task) if eng.validator(i) is None][:4]
    return out


def _solvable(item: dict) -> bool:
    return xxhash.xxh32_intdigest(item["id"].encode()) % 2 == 0


def _answerer(items: list[dict]) -> FakeBackend:
    """Answers with the reference for 'solvable' items, nonsense for the others."""
    by_prompt = {i["prompt"][-1]["content"]: i for i in items}

    def reply(conv: list[dict]) -> str:
        item = by_prompt[conv[-1]["content"]]
        return item["reference"] if _solvable(item) else "I am not sure."

    return FakeBackend(reply)


def test_halves_are_deterministic_disjoint_and_balanced() -> None:
    items = _valid_items()
    a, b = halves(items, seed=3)
    assert (a, b) == halves(items, seed=3) and abs(len(a) - len(b)) <= 1
    assert {i["id"] for i in a}.isdisjoint(i["id"] for i in b) and len(a) + len(b) == len(items)
    assert halves(items, seed=4) != (a, b)


def test_solve_filter_keeps_what_is_answered_within_k_tries() -> None:
    items = _valid_items()
    cfg = config().curate
    kept, dropped = solve_filter(items, _answerer(items), cfg, graph())
    assert {i["id"] for i in kept} == {i["id"] for i in items if _solvable(i)}
    assert {d["reason"] for d in dropped} == {"curation:failed_k_tries"}
    assert len(kept) + len(dropped) == len(items)
    backend = _answerer(items)
    backend.calls.clear()
    calls: list[int] = []
    flaky = FakeBackend(
        lambda conv: calls.append(1) or (BackendError("down") if len(calls) % 2 else "x")
    )
    _, bad = solve_filter(items[:4], flaky, cfg, graph())
    assert {d["reason"] for d in bad} == {"curation:backend_error"}


def test_curate_trains_on_one_half_and_filters_the_other_then_swaps(tmp_path: Path) -> None:
    items = _valid_items()
    trained: list[set[str]] = []

    def train_fn(half: list[dict], out: Path) -> str:
        trained.append({i["id"] for i in half})
        return f"model-{out.name}"

    result = curate(
        items,
        config().curate,
        tmp_path,
        kg=graph(),
        train_fn=train_fn,
        answerer_fn=lambda m: _answerer(items),
    )
    assert (
        len(trained) == 2
        and trained[0].isdisjoint(trained[1])
        and trained[0] | trained[1] == {i["id"] for i in items}
    )
    assert result.models == ["model-model_a", "model-model_b"]
    assert [i["id"] for i in result.kept] == [i["id"] for i in items if _solvable(i)]
    stats = result.stats(3)
    assert stats["kept"] + stats["dropped"] == len(items) and stats["by_reason"] == {
        "curation:failed_k_tries": stats["dropped"]
    }
    assert set(stats["by_capability"]) == {"knowledge", "reasoning", "instruction", "integrated"}


def test_imputation_keeps_cases_whose_masked_finding_is_recovered() -> None:
    kg, cases = (
        graph(),
        [i for i in items_of("diagnosis_case") if engine().validator(i) is None][:4],
    )
    masked = {c["id"]: mask_finding(c, kg) for c in cases}
    assert all(m and "[MASKED]" in m[0] for m in masked.values())
    answers = {m[0]: kg.name_of(m[1]) for m in masked.values()}

    def reply(conv: list[dict]) -> str:
        question = conv[-1]["content"].split("\n\nOne finding was replaced")[0]
        return (
            answers[question]
            if question.startswith(cases[0]["question"][:20])
            else "Nothing at all"
        )

    cfg = config(curate={"impute": True}).curate
    kept, dropped = impute_filter(cases + items_of("calculator")[:2], FakeBackend(reply), kg, cfg)
    assert cases[0] in kept and len(kept) + len(dropped) == len(cases) + 2
    assert all(d["reason"] == "curation:imputation_failed" for d in dropped)
    assert all(c in kept for c in items_of("calculator")[:2])  # no findings: not imputed


def test_curation_runs_end_to_end_on_tiny_random(tmp_path: Path, tiny_model: Path) -> None:
    tasks = {"mcq_phenotype": 3, "calculator": 3, "instruction": 2}
    cfg = config(
        tasks,
        curate={
            "enabled": True,
            "model": str(tiny_model),
            "k": 2,
            "max_new_tokens": 8,
            "impute": True,
            "sft": {"steps": 1, "batch_size": 2, "max_length": 256},
        },
    )
    m = generate(cfg, tmp_path / "run", progress=False, kg=graph())
    cur = m.data["curation"]
    assert cur["items"] == m.items and cur["kept"] + cur["dropped"] == m.items
    assert len(cur["models"]) == 2 and all(
        Path(p, "model.safetensors").is_file() for p in cur["models"]
    )
    assert json.loads((tmp_path / "run" / "curation.json").read_text())["k"] == 2
    curated = Manifest.load(tmp_path / "run" / "curated")
    assert curated.items == cur["kept"] and curated.rejected == cur["dropped"]
    assert [i["id"] for i in iter_items(tmp_path / "run" / "curated")] == [
        i["id"]
        for i in m.iter_items()
        if i["id"] in {x["id"] for x in iter_items(tmp_path / "run" / "curated")}
    ]
