"""Reward model training (tiny-random): train, save, reload, score; CLI glue; user pairs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from balancedbio.training.reward_model import (
    RewardModelConfig,
    pairwise_accuracy,
    train_reward_model,
)


def _pair(i: int, corruption: str) -> dict:
    prompt = [{"role": "user", "content": f"Question {i}: which drug treats condition {i}?"}]
    return {
        "prompt": prompt,
        "chosen": f"Reasoning about condition {i}.\nAnswer: Drug {i}",
        "rejected": f"Reasoning about condition {i}.\nAnswer: Unrelated disease"
        if corruption == "wrong_final_answer"
        else f"REASONING ABOUT CONDITION {i}.",
        "corruption": corruption,
    }


def _items(n: int) -> list[dict]:
    """Small synthetic diagnosis cases (each gives one corruption pair)."""
    from balancedbio.data.records import new_record, user_message

    return [
        new_record(
            id=f"train-diagnosis_case-{i:07d}",
            capability="reasoning",
            task="diagnosis_case",
            split="train",
            prompt=user_message(f"Case {i}: fever and rash. What is the diagnosis?"),
            question=f"Case {i}",
            answer=f"Disease {i}",
            answer_kind="text",
            reference=f"Differential: Disease {i}; Disease {i + 1}.\n"
            f"Diagnosis: Disease {i}.\nAnswer: Disease {i}",
        )
        for i in range(n)
    ]


PAIRS = [_pair(i, ("wrong_final_answer", "break_instruction")[i % 2]) for i in range(16)]


def test_pairwise_accuracy() -> None:
    assert pairwise_accuracy([2.0, 1.0, 0.0, 5.0], [1.0, 3.0, 0.0, 4.0]) == 0.625  # tie: half
    assert pairwise_accuracy([1.0] * 3, [1.0] * 3) == 0.5  # a constant scorer is at chance
    assert math.isnan(pairwise_accuracy([], []))
    with pytest.raises(ValueError):
        pairwise_accuracy([1.0], [])


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory: pytest.TempPathFactory, tiny_model: str) -> dict:
    """``rewards train-rm`` end to end: a dataset dir + user JSONL -> a tiny reward model."""
    from balancedbio.data.records import JSON_FIELDS, SCHEMA
    from balancedbio.data.shards import ShardWriter
    from balancedbio.training.rm_cli import train_rm_command

    root = tmp_path_factory.mktemp("rm")
    writer = ShardWriter(root / "ds", 8, "jsonl", json_fields=JSON_FIELDS, schema=SCHEMA)
    for item in _items(10):
        writer.add(item)
        writer.end_seed()
    writer.finalize({})
    user = root / "user.jsonl"
    user.write_text(
        "".join(
            json.dumps({k: p[k] for k in ("prompt", "chosen", "rejected")}) + "\n"
            for p in PAIRS[:4]
        )
    )
    config = root / "rm.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "dataset": str(root / "ds"),
                "out": str(root / "rm"),
                "reward_model": {
                    "backbone": "tiny-random",
                    "backbone_layers": 1,
                    "max_steps": 3,
                    "batch_size": 4,
                    "learning_rate": 0.001,
                    "max_length": 96,
                    "user_pairs": str(user),
                    "heldout_frac": 0.25,
                    "stats_samples": 8,
                },
            }
        )
    )
    app = typer.Typer()
    app.command("train-rm")(train_rm_command)
    app.command("noop")(lambda: None)  # two commands: typer keeps the name
    result = CliRunner().invoke(app, ["train-rm", "-c", str(config)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return {"root": root, "summary": summary, "app": app, "config": config}


def test_cli_trains_saves_and_reports(cli_run: dict) -> None:
    summary, root = cli_run["summary"], cli_run["root"]
    path = Path(summary["path"])
    assert path == root / "rm"
    assert summary["n_train"] + summary["n_eval"] == 10 + 4  # 10 items + 4 user pairs
    assert summary["n_eval"] >= 1 and summary["steps"] == 3
    assert 0.0 <= summary["heldout_pairwise_accuracy"] <= 1.0
    assert sum(v["n"] for v in summary["per_corruption"].values()) == summary["n_eval"]
    meta = json.loads((path / "reward_model.json").read_text())
    assert meta["max_length"] == 96 and meta["std"] > 0 and math.isfinite(meta["mean"])
    assert meta["config"]["backbone_layers"] == 1
    assert json.loads((path / "config.json").read_text())["num_hidden_layers"] == 1
    assert (path / "model.safetensors").is_file() and (path / "tokenizer.json").is_file()
    assert (path / "train_rm_config.yaml").is_file()
    assert not any(p.name.startswith(".tmp") for p in root.iterdir())


def test_scorer_loads_and_normalizes(cli_run: dict) -> None:
    from balancedbio.rewards.model_reward import RewardModelScorer, normalized

    scorer = RewardModelScorer(cli_run["summary"]["path"], batch_size=3)
    prompts = [p["prompt"] for p in PAIRS[:6]] + ["a plain string prompt"]
    texts = [p["chosen"] for p in PAIRS[:6]] + ["x " * 300]  # truncated to max_length
    scores = scorer.score(prompts, texts)
    raw = scorer.score(prompts, texts, normalize=False)
    assert len(scores) == 7 and all(0.0 < s < 1.0 for s in scores)
    mean, std = scorer.meta["mean"], scorer.meta["std"]
    assert scores == pytest.approx([normalized(r, mean, std) for r in raw])
    one_by_one = [scorer.score([p], [t])[0] for p, t in zip(prompts, texts, strict=True)]
    assert one_by_one == pytest.approx(scores, abs=1e-5)  # batching/padding changes nothing
    assert scorer.score([], []) == []


def test_malformed_user_jsonl_is_a_clear_cli_error(cli_run: dict, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "q", "chosen": "a", "rejected": "b"}\n{"prompt": "q"}\n')
    result = CliRunner().invoke(
        cli_run["app"],
        ["train-rm", "-c", str(cli_run["config"]), f"reward_model.user_pairs={bad}"],
    )
    assert result.exit_code == 2
    assert f"{bad}:2" in result.output and "missing field" in result.output


def test_lora_reward_model_is_merged(tiny_model: str, tmp_path: Path) -> None:
    cfg = RewardModelConfig(
        backbone="tiny-random",
        max_steps=2,
        batch_size=4,
        max_length=64,
        learning_rate=0.001,
        stats_samples=4,
        lora={"enabled": True, "r": 4, "alpha": 8},  # type: ignore[arg-type]
    )
    from balancedbio.config import from_dict, to_dict

    cfg = from_dict(RewardModelConfig, to_dict(cfg))
    result = train_reward_model(cfg, PAIRS[:8], PAIRS[8:12], tmp_path / "lora")
    assert result.steps == 2 and result.n_train == 8 and result.n_eval == 4
    assert set(result.per_corruption) == {"wrong_final_answer", "break_instruction"}
    files = {p.name for p in result.path.iterdir()}
    assert "adapter_config.json" not in files and "model.safetensors" in files
    from balancedbio.rewards.model_reward import RewardModelScorer

    assert len(RewardModelScorer(result.path).score(["q"], ["a"])) == 1


def test_bad_inputs(tmp_path: Path) -> None:
    from balancedbio.config import ConfigError

    with pytest.raises(ConfigError, match="no training pairs"):
        train_reward_model(RewardModelConfig(backbone="tiny-random"), [], [], tmp_path / "x")
    with pytest.raises(ConfigError, match="missing rejected"):
        train_reward_model(
            RewardModelConfig(backbone="tiny-random"),
            [{"prompt": "q", "chosen": "a"}],
            [],
            tmp_path,
        )
