"""The HTML report: renders with full and partial run directories, is self-contained, and
shows exactly the numbers of results.json."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from run_fixture import LABELS, metrics_records, model_result, write_run

from balancedbio.eval.compare import compare
from balancedbio.report import load_run, write_report


class Cells(HTMLParser):
    """Every ``<td>`` with its attributes and text, and every ``<img>`` source."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[dict[str, str], str]] = []
        self.spans: list[dict[str, str]] = []
        self.images: list[str] = []
        self._td: dict[str, str] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "td":
            self._td, self._text = a, []
        elif tag == "span":
            self.spans.append(a)
        elif tag == "img":
            self.images.append(a.get("src", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._td is not None:
            self.cells.append((self._td, "".join(self._text).strip()))
            self._td = None

    def handle_data(self, data: str) -> None:
        if self._td is not None:
            self._text.append(data)


def parse(path: Path) -> Cells:
    cells = Cells()
    cells.feed(path.read_text())
    return cells


def floats(obj: Any) -> set[float]:
    if isinstance(obj, bool):
        return set()
    if isinstance(obj, float):
        return {obj}
    if isinstance(obj, dict):
        return set().union(*(floats(v) for v in obj.values())) if obj else set()
    if isinstance(obj, list):
        return set().union(*(floats(v) for v in obj)) if obj else set()
    return set()


@pytest.fixture(scope="module")
def full_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run with four models, two training stages and data manifests, reported once."""
    run = write_run(tmp_path_factory.mktemp("full") / "run")
    assert write_report(run) == run / "report.html"
    return run


def test_full_report(full_run: Path) -> None:
    run, path = full_run, full_run / "report.html"
    figs = sorted(p.name for p in (run / "figures").glob("*.png"))
    assert figs == [
        "benchmarks.png",
        "capabilities_radar.png",
        "cosine_grpo_capability_aware.png",
        "cosine_grpo_vanilla.png",
        "data.png",
        "training_grpo_capability_aware.png",
        "training_grpo_vanilla.png",
    ]
    html = path.read_text()
    cells = parse(path)
    assert len(cells.images) == 7 and all(
        s.startswith("data:image/png;base64,") for s in cells.images
    )
    assert "http://" not in html and "https://" not in html  # self-contained
    for title in (
        "Capabilities: before and after",
        "Benchmarks",
        "Training",
        "Data",
        "Configuration",
    ):
        assert title in html
    for name in (
        "Base",
        "SFT",
        "Capability-aware GRPO",
        "Vanilla GRPO",
        "insufficient_distractors",
    ):
        assert name in html


def test_numbers_in_report_are_those_of_results_json(full_run: Path) -> None:
    results = json.loads((full_run / "results.json").read_text())
    cells = parse(full_run / "report.html")
    shown = [(a, text) for a, text in cells.cells if "data-value" in a]
    assert len(shown) >= 4 * (4 + 13)  # 4 models x (4 capabilities + 13 benchmark metrics)
    known = floats(results)
    for attrs, text in shown:
        value = float(attrs["data-value"])
        assert value in known, value
        assert text.split()[0] == f"{100 * value:.2f}"
    # capability rows, in order, are each model's capability score
    models = results["models"]
    caps = ["knowledge", "reasoning", "instruction", "integrated"]
    want = [models[m]["capabilities"][c]["score"] for c in caps for m in LABELS]
    assert [float(a["data-value"]) for a, _ in shown[: len(want)]] == want
    for span in cells.spans:
        if "data-stderr" in span:
            assert float(span["data-stderr"]) in known
    deltas = [float(s["data-delta"]) for s in cells.spans if "data-delta" in s]
    base = [models["base"]["capabilities"][c]["score"] for c in caps]
    sft = [models["sft"]["capabilities"][c]["score"] for c in caps]
    assert deltas[:3] == [
        sft[0] - base[0],
        models["grpo_capability_aware"]["capabilities"]["knowledge"]["score"] - base[0],
        models["grpo_vanilla"]["capabilities"]["knowledge"]["score"] - base[0],
    ]


@pytest.mark.parametrize(
    ("models", "training", "data"),
    [
        (("base",), False, False),
        (("base", "grpo_capability_aware"), False, True),
        ((), True, False),
        ((), False, False),
    ],
)
def test_partial_runs_render(
    tmp_path: Path, models: tuple[str, ...], training: bool, data: bool
) -> None:
    run = write_run(tmp_path / "run", models=models, training=training, data=data)
    html = write_report(run).read_text()
    assert "<h2>Training</h2>" in html and "<h2>Data</h2>" in html
    assert ("No results.json in this run" in html) == (not models)
    assert ("No <code>&lt;stage&gt;/metrics.jsonl</code>" in html) == (not training)
    assert ("No <code>data/manifest.json</code>" in html) == (not data)
    figs = {p.name for p in (run / "figures").glob("*.png")}
    assert ("capabilities_radar.png" in figs) == bool(models)
    assert ("data.png" in figs) == data


def test_metrics_read_by_prefix_and_absent_keys_skipped(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "sft").mkdir(parents=True)
    (run / "sft" / "metrics.jsonl").write_text(
        '{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.5}\n{"step": 3, "lo'
    )
    stage = run / "grpo_capability_aware"
    stage.mkdir()
    recs = metrics_records(5, 0, aware=True)
    keep = [
        {k: v for k, v in r.items() if k.startswith(("step", "cosine", "conflict/cos"))}
        for r in recs
    ]
    for r in keep:  # the brief's spelling: cosine/<a>__<b>
        r["cosine/knowledge__integrated"] = 0.5
    (stage / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))
    data = load_run(run)
    assert list(data.metrics) == ["sft", "grpo_capability_aware"]
    assert len(data.metrics["sft"]) == 2  # the torn last line is skipped
    write_report(run)
    figs = {p.name for p in (run / "figures").glob("*.png")}
    assert figs == {"training_sft.png", "cosine_grpo_capability_aware.png"}


def test_per_model_results_without_run_level_file(tmp_path: Path) -> None:
    run = tmp_path / "run"
    for i, label in enumerate(("base", "sft")):
        (run / "eval" / label).mkdir(parents=True)
        (run / "eval" / label / "results.json").write_text(
            json.dumps(model_result(label, i, skill=0.5))
        )
    data = load_run(run)
    assert data.labels == ["base", "sft"]
    html = write_report(run).read_text()
    assert "Capability-aware GRPO" not in html and re.search(r"SFT</th>", html)


def test_two_capabilities_fall_back_to_bars(tmp_path: Path) -> None:
    res = model_result("base", 0, skill=0.5)
    res["capabilities"] = {
        k: v for k, v in res["capabilities"].items() if k in ("knowledge", "reasoning")
    }
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.json").write_text(json.dumps(compare({"base": res})))
    write_report(run)
    assert (run / "figures" / "capabilities_radar.png").is_file()
