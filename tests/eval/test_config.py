"""EvalConfig: the shipped YAML loads; bad names are rejected with the valid ones listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from balancedbio.config import ConfigError, load_config
from balancedbio.eval.config import EvalConfig, expand_benchmarks

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_yaml_and_overrides() -> None:
    cfg = load_config(
        EvalConfig,
        ROOT / "configs" / "eval.yaml",
        ["medmcqa_cop_base=1", "benchmarks=[biomed_mmlu, ifeval]"],
    )  # noqa: E501
    assert cfg.medmcqa_cop_base == "1" and cfg.max_items == 200
    assert expand_benchmarks(cfg.benchmarks)[:2] == ("mmlu_anatomy", "mmlu_clinical_knowledge")
    assert len(expand_benchmarks(cfg.benchmarks)) == 7


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"benchmarks": ("mmlu",)}, "unknown benchmark 'mmlu'"),
        ({"files": {"medqaa": "x"}}, "unknown benchmark in files 'medqaa'"),
        ({"mcq_modes": ("sample",)}, "unknown mcq mode 'sample'"),
        ({"mcq_modes": ()}, "mcq_modes"),
        ({"chunk_size": 0}, "chunk_size must be >= 1"),
        ({"medmcqa_cop_base": "2"}, "valid: 0, 1, auto"),
    ],
)
def test_invalid(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        EvalConfig(**kwargs)  # type: ignore[arg-type]
