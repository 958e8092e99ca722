"""The root CLI: every subcommand has --help; the demo runs every stage on tiny-random and
resumes a finished run without redoing its stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from balancedbio.cli import app
from balancedbio.run_config import STAGES

runner = CliRunner()


def _command_paths(group, prefix=()):  # noqa: ANN001, ANN202 - typer internals
    import typer.main

    click_cmd = typer.main.get_command(group)
    stack = [(prefix, click_cmd)]
    while stack:
        path, cmd = stack.pop()
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():
            stack.append(((*path, name), sub))


@pytest.mark.parametrize("path", sorted(_command_paths(app)), ids=lambda p: " ".join(p) or "root")
def test_help_everywhere(path):
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_demo_bad_override_lists_valid_keys(tmp_path):
    result = runner.invoke(app, ["demo", "-c", "configs/demo.yaml", "modle=tiny-random"])
    assert result.exit_code == 2
    assert "valid keys" in result.output


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Every demo stage on the tiny model (configs/smoke.yaml), once for this module."""
    root = tmp_path_factory.mktemp("runs")
    args = ["demo", "-c", "configs/smoke.yaml", f"output_root={root}", "run_name=t1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return root, result.output


def test_demo_runs_every_stage_on_tiny_model(smoke_run: tuple[Path, str]) -> None:
    root, _ = smoke_run
    run_dir = root / "t1"
    assert (root / "latest").resolve() == run_dir.resolve()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert list(summary["stage_seconds"]) == list(STAGES)
    knowledge = summary["results"]["knowledge"]
    assert knowledge["versions"]["hpo"].startswith("hp/releases/")
    assert any(m["id"] == "HP:0001250" for m in knowledge["vignette_mentions"])  # seizures
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["name"] == "tiny-random"
    assert summary["results"]["data"]["curation"]["dir"] == "curated"
    assert summary["results"]["reward_model"]["n_eval"] > 0

    results = json.loads((run_dir / "results.json").read_text())
    assert set(results["models"]) == {"base", "sft", "grpo_capability_aware", "grpo_vanilla"}
    for label, entry in results["models"].items():
        caps = entry["capabilities"]
        assert set(caps) == {"knowledge", "reasoning", "instruction", "integrated"}, label
        assert all(0.0 <= caps[c]["score"] <= 1.0 for c in caps), label
        assert {"prompt_level_strict_acc", "prompt_level_loose_acc"} <= set(
            entry["benchmarks"]["heldout_instruction"]["metrics"]
        )
    for label in ("grpo_capability_aware", "grpo_vanilla"):
        rows = [json.loads(x) for x in (run_dir / label / "metrics.jsonl").read_text().splitlines()]
        assert [r["step"] for r in rows if "loss" in r] == [1, 2]
        assert "rewards/reward_model/mean" in rows[0]  # the trained reward model is a reward
    aware = (run_dir / "grpo_capability_aware" / "metrics.jsonl").read_text()
    assert "pareto/preservation/knowledge" in aware and "grad_norm" in aware

    html = (run_dir / "report.html").read_text()
    score = results["models"]["grpo_capability_aware"]["capabilities"]["knowledge"]["score"]
    assert f'data-value="{score!r}"' in html
    assert (run_dir / "figures" / "capabilities_radar.png").is_file()


def test_demo_resume_skips_finished_stages(smoke_run: tuple[Path, str]) -> None:
    root, _ = smoke_run
    before = (root / "t1" / "results.json").read_text()
    result = runner.invoke(
        app, ["demo", "-c", "configs/smoke.yaml", f"output_root={root}", "--resume"]
    )
    assert result.exit_code == 0, result.output
    for what in ("reward model already trained", "SFT model already trained", "already trained"):
        assert what in result.output
    after = json.loads((root / "t1" / "results.json").read_text())["models"]
    before_models = json.loads(before)["models"]
    assert set(after) == set(before_models)
    for label, entry in after.items():  # same scores (timings may differ)
        assert entry["capabilities"] == before_models[label]["capabilities"], label
        assert entry["benchmarks"] == before_models[label]["benchmarks"], label
