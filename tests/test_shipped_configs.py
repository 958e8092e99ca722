"""Every shipped YAML under configs/ is loaded and validated by its own loader."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from balancedbio.config import load_config
from balancedbio.data.config import GenerateConfig
from balancedbio.eval.config import EvalConfig
from balancedbio.run_config import RunConfig
from balancedbio.training.cli import GRPOCommandConfig, SFTCommandConfig
from balancedbio.training.rm_cli import TrainRMCommandConfig

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
LOADERS = {
    "demo.yaml": RunConfig,
    "smoke.yaml": RunConfig,
    "generate.yaml": GenerateConfig,
    "generate_model.yaml": GenerateConfig,
    "eval.yaml": EvalConfig,
    "grpo.yaml": GRPOCommandConfig,
    "sft.yaml": SFTCommandConfig,
    "reward_model.yaml": TrainRMCommandConfig,
}


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.name)
def test_top_level_config_loads(path: Path) -> None:
    assert path.name in LOADERS, f"add a loader for {path.name} to this test"
    cfg = load_config(LOADERS[path.name], path)
    assert cfg is not None


@pytest.mark.parametrize("path", sorted((CONFIGS / "accelerate").glob("*.yaml")), ids=str)
def test_accelerate_configs_parse(path: Path) -> None:
    data = yaml.safe_load(path.read_text())
    assert "distributed_type" in data and "num_processes" in data
