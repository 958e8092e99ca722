"""The root CLI: every subcommand has --help; the demo runs end to end on tiny-random."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from balancedbio.cli import app

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


def test_demo_runs_on_tiny_model(tmp_path):
    result = runner.invoke(
        app,
        [
            "demo",
            "-c",
            "configs/demo.yaml",
            "model=tiny-random",
            f"output_root={tmp_path}",
            "run_name=t1",
            "smoke.max_new_tokens=4",
        ],
    )
    assert result.exit_code == 0, result.output
    run_dir = tmp_path / "t1"
    assert (tmp_path / "latest").resolve() == run_dir.resolve()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert set(summary["stage_seconds"]) >= {"knowledge", "model"}
    knowledge = summary["results"]["knowledge"]
    assert knowledge["versions"]["hpo"].startswith("hp/releases/")
    assert any(m["id"] == "HP:0001250" for m in knowledge["vignette_mentions"])  # seizures
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert saved["model"]["name"] == "tiny-random"
