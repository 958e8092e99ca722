"""``balancedbio models ...`` sub-commands (on tiny-random)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from balancedbio.models.cli import app

runner = CliRunner()


def test_prepare_prints_path(model_cache: str, tiny_dir: Path) -> None:
    result = runner.invoke(app, ["prepare", "tiny-random", "--cache-dir", model_cache])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tiny_dir)


def test_list(model_cache: str, tiny_dir: Path) -> None:
    result = runner.invoke(app, ["list", "--cache-dir", model_cache])
    assert result.exit_code == 0, result.output
    for text in ("smollm2-135m", "tiny-random", "tiny-random-0", "ok"):
        assert text in result.stdout


def test_generate(model_cache: str, tiny_dir: Path) -> None:
    args = ["generate", "tiny-random", "Hello!", "--max-new-tokens", "3"]
    result = runner.invoke(app, [*args, "--cache-dir", model_cache])
    assert result.exit_code == 0, result.output


def test_unknown_model_is_a_clean_error(model_cache: str) -> None:
    result = runner.invoke(app, ["prepare", "no-such-model", "--cache-dir", model_cache])
    assert result.exit_code == 2
    assert "smollm2-135m" in result.stderr and "tiny-random" in result.stderr
    assert "Traceback" not in result.output
