"""MKGSG data -> training rows, `balancedbio sft` -> `balancedbio grpo` on tiny-random, config
errors (exit code 2), full fine-tuning."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from balancedbio.cli import app
from balancedbio.config import ConfigError, load_config
from balancedbio.models import ModelConfig, load_model_and_tokenizer
from balancedbio.rewards.registry import build_rewards
from balancedbio.training import DEFAULT_REWARDS, read_metrics
from balancedbio.training.data import heldout_dir, load_rows
from balancedbio.training.run import to_dataset
from balancedbio.training.sft import SFTStageConfig, sft_rows, train_sft

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from mkgsg_helpers import config, graph  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CAPS = ("knowledge", "reasoning", "instruction")
TASKS = {"mcq_phenotype": 6, "calculator": 6, "instruction": 6, "integrated_case": 3}


@pytest.fixture(scope="module")
def mkgsg_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small template-mode generate run (with its held-out set)."""
    from balancedbio.data.pipeline import generate

    out = tmp_path_factory.mktemp("mkgsg") / "data"
    cfg = config(TASKS, heldout={"enabled": True, "fraction": 0.3, "min_per_task": 2})
    generate(cfg, out, progress=False, kg=graph())
    return out


def _invoke(*args: str) -> object:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def test_load_rows_feeds_the_default_rewards(mkgsg_dir: Path) -> None:
    rows = load_rows(mkgsg_dir)
    assert {r["capability"] for r in rows} == {*CAPS, "integrated"}
    instruction = next(r for r in rows if r["capability"] == "instruction")
    assert isinstance(instruction["kwargs"], str)  # Arrow-safe; the reward decodes it
    data = to_dataset(rows)
    columns = {k: data[k] for k in data.column_names if k != "prompt"}
    completions = [[{"role": "assistant", "content": ref}] for ref in data["reference"]]
    for reward in build_rewards(DEFAULT_REWARDS):
        scores = reward(prompts=data["prompt"], completions=completions, **columns)
        scored = [s for s in scores if s is not None]
        assert scored, reward.name
        assert all(s == 1.0 for s in scored), (reward.name, scores)  # references pass
    assert heldout_dir(mkgsg_dir) == mkgsg_dir / "heldout"
    assert len(load_rows(mkgsg_dir, capabilities=["reasoning"], limit=2)) == 2


def test_load_rows_rejects_bad_input(mkgsg_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="balancedbio generate"):
        load_rows(tmp_path)
    with pytest.raises(ConfigError, match="no items left"):
        load_rows(mkgsg_dir, split="eval")
    with pytest.raises(ConfigError, match="limit"):
        load_rows(mkgsg_dir, limit=0)
    with pytest.raises(ConfigError, match="no reference"):
        sft_rows([{"id": "x", "prompt": [{"role": "user", "content": "q"}], "reference": ""}])


def test_sft_then_grpo_through_the_cli(mkgsg_dir: Path, tmp_path: Path, tiny_model: str) -> None:
    sft_dir, grpo_dir = tmp_path / "sft", tmp_path / "grpo"
    result = _invoke(
        "sft",
        "--config",
        str(ROOT / "configs/sft.yaml"),
        f"data={mkgsg_dir}",
        f"model={tiny_model}",
        "max_steps=2",
        "logging_steps=1",
        "limit=8",
        "max_length=128",
        f"output_dir={sft_dir}",
    )
    merged = sft_dir / "final" / "merged"
    assert result.exit_code == 0
    assert result.stdout.strip() == str(merged)
    assert (sft_dir / "final" / "adapter" / "adapter_config.json").is_file()
    assert (sft_dir / "sft_config.yaml").is_file()
    assert [r["step"] for r in read_metrics(sft_dir) if "loss" in r] == [1, 2]
    model, _ = load_model_and_tokenizer(ModelConfig(name=str(merged)))
    assert model.config.model_type

    result = _invoke(
        "grpo",
        "--config",
        str(ROOT / "configs/grpo.yaml"),
        f"data={mkgsg_dir}",
        f"model={merged}",
        "max_steps=1",
        "per_device_train_batch_size=12",
        "max_completion_length=8",
        "pareto.max_items=2",
        "pareto.batch_size=6",
        "save_steps=1",
        f"output_dir={grpo_dir}",
    )
    assert result.exit_code == 0
    assert result.stdout.strip() == str(grpo_dir)
    saved = (grpo_dir / "grpo_config.yaml").read_text()
    assert str(mkgsg_dir) in saved and "aggregator: upgrad" in saved
    assert (grpo_dir / "checkpoint-1").is_dir()
    assert (grpo_dir / "final" / "adapter_config.json").is_file()
    logged = {k for r in read_metrics(grpo_dir) for k in r}
    assert {f"weights/capability/{c}" for c in CAPS} <= logged
    assert {f"pareto/preservation/{c}" for c in CAPS} <= logged
    assert json.loads((grpo_dir / "summary.json").read_text())["global_step"] == 1


@pytest.mark.parametrize(
    ("command", "override", "message"),
    [
        ("grpo", "aggregator=bogus", "aggregator"),
        ("grpo", "nonsense=1", "nonsense"),
        ("grpo", "data=/nonexistent/data", "balancedbio generate"),
        ("sft", "max_steps=0", "max_steps"),
    ],
)
def test_config_errors_exit_with_code_2(command: str, override: str, message: str) -> None:
    result = _invoke(command, "--config", str(ROOT / f"configs/{command}.yaml"), override)
    assert result.exit_code == 2
    assert "config error" in result.stderr and message in result.stderr


def test_full_fine_tuning_writes_a_loadable_model(
    mkgsg_dir: Path, tmp_path: Path, tiny_model: str
) -> None:
    cfg = load_config(
        SFTStageConfig,
        None,
        [
            f"model={tiny_model}",
            "lora.enabled=false",
            "max_steps=1",
            "learning_rate=0.00001",
            "max_length=128",
            f"output_dir={tmp_path / 'full'}",
        ],
    )
    merged = train_sft(cfg, load_rows(mkgsg_dir, limit=4))
    assert merged == tmp_path / "full" / "final" / "merged"
    assert not (tmp_path / "full" / "final" / "adapter").exists()
    model, _ = load_model_and_tokenizer(ModelConfig(name=str(merged)))
    assert sum(p.numel() for p in model.parameters()) > 0
