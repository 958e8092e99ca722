"""The learned reward as a GRPO reward function: batched, gated, crash-isolated, picklable."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from balancedbio.config import ConfigError
from balancedbio.rewards.batch import BatchRewardFunction
from balancedbio.rewards.registry import build_reward

os.environ["HF_HUB_OFFLINE"] = "1"


# --------------------------------------------------------------------------- no torch needed


def _lengths(texts: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[float]:
    if any("bad" in t for t in texts):
        raise RuntimeError("batch poisoned")
    return [float(len(t)) for t in texts]


def _one(text: str, row: Mapping[str, Any]) -> float:
    return _lengths([text], [row])[0]


def test_batch_reward_scores_once_and_gates() -> None:
    calls: list[int] = []

    def batch(texts: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> list[float]:
        calls.append(len(texts))
        return _lengths(texts, rows)

    reward = BatchRewardFunction("len", _one, batch, capabilities=("knowledge",))
    out = reward(
        ["ab", "abc", "abcd"],
        prompts=["p1", "p2", "p3"],
        capability=["knowledge", "instruction", ["knowledge", "reasoning"]],
        trainer_state=None,
    )
    assert out == [2.0, None, 4.0] and calls == [2]  # one call, applicable samples only
    stats = reward.pop_stats()
    assert stats["not_applicable"] == 1 and stats["none_count"] == 1 and stats["samples"] == 3
    assert reward.score_text("xyz") == 3.0  # per-sample path: same rules


def test_crashing_batch_falls_back_per_sample() -> None:
    reward = BatchRewardFunction("len", _one, _lengths)
    out = reward(["ok", "bad one", "fine!"])
    assert out == [2.0, None, 5.0]  # only the culprit loses its score
    stats = reward.pop_stats()
    assert stats["errors"] == 1 and stats["none_count"] == 1


def test_miscounted_or_non_finite_batch_values() -> None:
    short = BatchRewardFunction("short", _one, lambda t, r: [1.0])
    assert short(["a", "bb"]) == [1.0, 2.0]  # wrong count: fall back per sample
    weird = BatchRewardFunction("weird", _one, lambda t, r: [math.nan, None, "x", 0.5])
    assert weird(["a", "b", "c", "d"]) == [None, None, None, 0.5]
    assert weird.pop_stats()["errors"] == 2  # NaN and "x"; None means "no score"


def test_registry_builds_batched_reward_for_score_batch_factories() -> None:
    from balancedbio.rewards import registry

    class Scorer:
        def __call__(self, text: str, row: Mapping[str, Any]) -> float:
            return 1.0

        def score_batch(self, texts: Sequence[str], rows: Sequence[Any]) -> list[float]:
            return [1.0] * len(texts)

    @registry.register_reward("_test_batched", ())
    def _factory() -> Scorer:
        return Scorer()

    try:
        reward = build_reward({"name": "_test_batched", "weight": 0.5})
        assert isinstance(reward, BatchRewardFunction) and reward.weight == 0.5
        assert reward(["a", "b"]) == [1.0, 1.0]
    finally:
        registry._REGISTRY.pop("_test_batched", None)


def test_reward_model_params_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="path"):
        build_reward("reward_model")
    with pytest.raises(ConfigError, match="not a reward model directory"):
        build_reward({"name": "reward_model", "params": {"path": str(tmp_path)}})


def test_import_is_light() -> None:
    code = (
        "import sys, balancedbio.rewards.model_reward, balancedbio.rewards.batch;"
        "bad = [m for m in ('torch', 'transformers', 'balancedbio.training') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --------------------------------------------------------------------------- a tiny reward model


def _byte_tokenizer() -> Any:
    """A byte-level tokenizer with a ChatML template, built in memory (no model cache)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {ch: i for i, ch in enumerate(sorted(alphabet))}
    for special in ("<|im_start|>", "<|im_end|>"):
        vocab[special] = len(vocab)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>")
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    fast.pad_token = fast.eos_token
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}"
    )
    return fast


@pytest.fixture(scope="module")
def rm_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny reward model directory in the scorer's format (built in seconds)."""
    import torch
    from transformers import LlamaConfig, LlamaForSequenceClassification

    from balancedbio.rewards.model_reward import META_FILE

    out = tmp_path_factory.mktemp("rm")
    tokenizer = _byte_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        num_labels=1,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    LlamaForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    meta = {"format": 1, "max_length": 256, "mean": 0.1, "std": 0.5}
    (out / META_FILE).write_text(json.dumps(meta))
    return out


PROMPTS = [
    [{"role": "user", "content": "Which drug treats malaria?\nA. Artemether\nB. Insulin"}],
    [{"role": "user", "content": "Write three words."}],
    [{"role": "user", "content": "Compute the BMI."}],
]
COMPLETIONS = [
    [{"role": "assistant", "content": "Artemether treats malaria.\nAnswer: A"}],
    [{"role": "assistant", "content": "one two three"}],
    [{"role": "assistant", "content": "BMI = 22.5\nAnswer: 22.5"}],
]


def test_reward_model_as_grpo_reward_with_gating(rm_dir: Path) -> None:
    reward = build_reward(
        {
            "name": "reward_model",
            "capabilities": ["knowledge", "reasoning"],
            "params": {"path": str(rm_dir), "batch_size": 2},
        }
    )
    assert isinstance(reward, BatchRewardFunction)
    out = reward(  # exactly as trl 1.16 GRPOTrainer._calculate_rewards calls it
        prompts=PROMPTS,
        completions=COMPLETIONS,
        completion_ids=[[1], [2], [3]],
        capability=["knowledge", "instruction", "reasoning"],
        trainer_state=None,
        log_extra=lambda *a: None,
        log_metric=lambda *a: None,
    )
    assert out[1] is None and all(0.0 < out[i] < 1.0 for i in (0, 2))
    assert reward.pop_stats()["not_applicable"] == 1
    alone = reward(prompts=PROMPTS[2:], completions=COMPLETIONS[2:])
    assert alone[0] == pytest.approx(out[2], abs=1e-5)  # batch composition changes nothing


def test_reward_model_bad_sample_falls_back(rm_dir: Path) -> None:
    reward = build_reward({"name": "reward_model", "params": {"path": str(rm_dir)}})
    prompts = [PROMPTS[0], 12345, PROMPTS[2]]  # the middle prompt cannot be encoded
    out = reward(prompts=prompts, completions=COMPLETIONS)
    assert out[1] is None and out[0] is not None and out[2] is not None
    assert reward.pop_stats()["errors"] == 1
    missing = reward(completions=COMPLETIONS[:1])  # no prompt at all: counted, not crashed
    assert missing == [None] and reward.pop_stats()["errors"] == 1


def test_reward_model_raw_scores_and_pickling(rm_dir: Path) -> None:
    from balancedbio.rewards.model_reward import RewardModelScorer, normalized

    raw = build_reward(
        {"name": "reward_model", "params": {"path": str(rm_dir), "normalize": False}}
    )
    norm = build_reward({"name": "reward_model", "params": {"path": str(rm_dir)}})
    r = raw(prompts=PROMPTS, completions=COMPLETIONS)
    n = norm(prompts=PROMPTS, completions=COMPLETIONS)
    assert n == pytest.approx([normalized(x, 0.1, 0.5) for x in r])
    clone = pickle.loads(pickle.dumps(norm))
    assert clone(prompts=PROMPTS, completions=COMPLETIONS) == pytest.approx(n)
    scorer = RewardModelScorer(rm_dir)
    assert scorer.score(["plain prompt"], ["plain answer"])[0] == pytest.approx(
        norm.score_text("plain answer", {"prompt": "plain prompt"})
    )
    with pytest.raises(ValueError, match="prompts for"):
        scorer.score(["a"], [])


def test_score_cli(rm_dir: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from balancedbio.rewards.cli import app

    src = tmp_path / "in.jsonl"
    lines = [
        json.dumps({"prompt": "Name a beta blocker.", "completion": "Metoprolol."}),
        "{oops",
        json.dumps({"prompt": PROMPTS[0], "completion": COMPLETIONS[0]}),
        json.dumps({"prompt": "no completion"}),
        json.dumps({"prompt": 7, "completion": "bad prompt type"}),
        json.dumps({"prompt": "Name a beta blocker.", "response": "Metoprolol."}),
    ]
    src.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["score", str(src), "--model", str(rm_dir)])
    assert result.exit_code == 0, result.output
    outs = [json.loads(x) for x in result.stdout.strip().splitlines()]
    assert len(outs) == 6
    assert 0 < outs[0]["score"] < 1 and 0 < outs[2]["score"] < 1
    assert "invalid JSON" in outs[1]["error"] and outs[1]["line"] == 2
    assert "missing field(s): completion or response" in outs[3]["error"]
    assert "prompt must be" in outs[4]["error"]
    assert outs[5]["score"] == pytest.approx(outs[0]["score"])  # "response" = "completion"
    raw = CliRunner().invoke(app, ["score", str(src), "-m", str(rm_dir), "--raw"])
    assert json.loads(raw.stdout.splitlines()[0])["score"] != outs[0]["score"]
    missing = CliRunner().invoke(app, ["score", str(src), "-m", str(tmp_path)])
    assert missing.exit_code == 2
