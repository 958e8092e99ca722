"""The ``eval`` and ``report`` command lines: run into a run directory, compare, report."""

from __future__ import annotations

import json
from pathlib import Path

from eval_paths import DATA
from typer.testing import CliRunner

from balancedbio.eval.cli import app as eval_app
from balancedbio.report.cli import app as report_app

runner = CliRunner()


def test_benchmarks_lists_names() -> None:
    res = runner.invoke(eval_app, ["benchmarks"])
    assert res.exit_code == 0, res.output
    for name in ("heldout_integrated", "mmlu_professional_medicine", "pubmedqa", "biomed_mmlu"):
        assert name in res.output


def test_run_compare_report(tiny_dir: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    common = ["-b", "ifeval", "-b", "mmlu_anatomy", "-f", f"ifeval={DATA / 'ifeval.jsonl'}"]
    common += ["-f", f"biomed_mmlu={DATA / 'mmlu'}", "max_new_tokens=4", "batch_size=3"]
    for label in ("base", "sft"):
        res = runner.invoke(
            eval_app,
            ["run", "-m", str(tiny_dir), "--run-dir", str(run_dir), "--label", label, *common],
        )
        assert res.exit_code == 0, res.output
    merged = json.loads((run_dir / "results.json").read_text())
    assert list(merged["models"]) == ["base", "sft"]
    assert merged["models"]["sft"]["benchmarks"] == merged["models"]["base"]["benchmarks"]
    assert (run_dir / "eval" / "sft" / "samples" / "ifeval.jsonl").is_file()
    res = runner.invoke(
        eval_app,
        [
            "compare",
            f"base={run_dir / 'eval' / 'base'}",
            f"grpo_vanilla={run_dir / 'eval' / 'sft' / 'results.json'}",
            "-o",
            str(tmp_path / "cmp.json"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "Vanilla GRPO" in res.output and "prompt_level_strict_acc" in res.output
    assert list(json.loads((tmp_path / "cmp.json").read_text())["models"]) == [
        "base",
        "grpo_vanilla",
    ]
    res = runner.invoke(report_app, [str(run_dir)])
    assert res.exit_code == 0, res.output
    html = (run_dir / "report.html").read_text()
    score = merged["models"]["base"]["benchmarks"]["ifeval"]["metrics"]["inst_level_loose_acc"][
        "value"
    ]
    assert f'data-value="{score!r}"' in html


def test_bad_arguments_exit_2(tmp_path: Path) -> None:
    res = runner.invoke(eval_app, ["run", "-m", "tiny-random", "-o", str(tmp_path), "-b", "nope"])
    assert res.exit_code == 2 and "unknown benchmark 'nope'" in res.output
    res = runner.invoke(eval_app, ["run", "-m", "tiny-random", "-o", str(tmp_path), "-b", "medqa"])
    assert res.exit_code == 2 and "files.medqa=PATH" in res.output
    res = runner.invoke(report_app, [str(tmp_path / "missing")])
    assert res.exit_code == 2
