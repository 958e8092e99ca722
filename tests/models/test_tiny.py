"""tiny-random: built in seconds, real tokenizer + chat template, deterministic, cached."""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from balancedbio.config import ConfigError, apply_overrides, from_dict
from balancedbio.models import (
    MANIFEST,
    ModelConfig,
    generate_chat,
    load_model_and_tokenizer,
    load_tokenizer,
    problems,
    resolve_model,
)
from balancedbio.models import tiny as tiny_mod


def test_tiny_random_loads_without_gguf(tiny_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert tiny_dir.name == "tiny-random-0"
    model = AutoModelForCausalLM.from_pretrained(tiny_dir, use_safetensors=True)
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    assert model.config.model_type == "llama"
    assert model.config.hidden_size == 64 and model.config.num_hidden_layers == 2
    assert model.config.vocab_size == len(tokenizer) == 49152
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert "<|im_start|>" in tokenizer.chat_template
    assert tokenizer.eos_token == tokenizer.pad_token == "<|im_end|>"
    assert tokenizer.model_max_length == 512
    assert not list(tiny_dir.glob("*.gguf"))


def test_tiny_random_rebuild_is_seconds(
    model_cache: str, tiny_dir: Path, timings: dict[str, float]
) -> None:
    started = time.perf_counter()
    path = resolve_model("tiny-random-11", model_cache)
    timings["tiny-random build (tokenizer cached)"] = elapsed = time.perf_counter() - started
    assert path.name == "tiny-random-11" and not problems(path, "tiny-random", _fp(path))
    assert elapsed < 30


def test_tiny_random_generates(model_cache: str, tiny_dir: Path) -> None:
    cfg = ModelConfig(name="tiny-random", cache_dir=model_cache)
    model, tokenizer = load_model_and_tokenizer(cfg)
    assert not model.training and tokenizer.padding_side == "left"
    assert model.dtype == torch.float32
    replies = generate_chat(model, tokenizer, ["Hello", "What is BRCA1?"], max_new_tokens=5)
    assert len(replies) == 2 and all(isinstance(r, str) for r in replies)
    inputs = tokenizer(["Hi there, how are you?"], return_tensors="pt")
    out = model.generate(**inputs, max_new_tokens=4, min_new_tokens=4, do_sample=False)
    assert out.shape[1] == inputs["input_ids"].shape[1] + 4


def test_tiny_random_bfloat16(model_cache: str, tiny_dir: Path) -> None:
    cfg = ModelConfig(name="tiny-random", cache_dir=model_cache, dtype="bfloat16")
    model, _ = load_model_and_tokenizer(cfg)
    assert model.dtype == torch.bfloat16


def test_same_seed_same_weights(model_cache: str, tiny_dir: Path) -> None:
    first = load_file(resolve_model("tiny-random-3", model_cache) / "model.safetensors")
    shutil.rmtree(Path(model_cache) / "models" / "tiny-random-3")
    second = load_file(resolve_model("tiny-random-3", model_cache) / "model.safetensors")
    other = load_file(resolve_model("tiny-random-4", model_cache) / "model.safetensors")
    assert first.keys() == second.keys() == other.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    assert not torch.equal(first["model.embed_tokens.weight"], other["model.embed_tokens.weight"])


def test_cache_reused(model_cache: str, tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = (tiny_dir / MANIFEST).stat().st_mtime_ns

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("cached model was rebuilt")

    monkeypatch.setattr(tiny_mod, "build_into", no_rebuild)
    assert resolve_model("tiny-random", model_cache) == tiny_dir
    assert resolve_model("tiny-random-0", model_cache) == tiny_dir
    assert (tiny_dir / MANIFEST).stat().st_mtime_ns == before


def test_tokenizer_only(model_cache: str, tiny_dir: Path) -> None:
    tokenizer = load_tokenizer(ModelConfig(name="tiny-random", cache_dir=model_cache))
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert text.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert tokenizer.pad_token_id == tokenizer.eos_token_id == 2


@dataclasses.dataclass(frozen=True)
class _Root:
    model: ModelConfig = ModelConfig()


def test_model_config_shorthand_and_choices() -> None:
    assert _Root().model.name == "smollm2-135m"
    cfg = from_dict(_Root, apply_overrides(_Root, {}, ["model=tiny-random"]))
    assert cfg.model == ModelConfig(name="tiny-random")
    cfg = from_dict(_Root, apply_overrides(_Root, {}, ["model=tiny-random", "model.dtype=float16"]))
    assert cfg.model.dtype == "float16"
    with pytest.raises(ConfigError, match="bfloat16"):
        from_dict(_Root, {"model": {"dtype": "fp8"}})


def _fp(path: Path) -> str:
    import json

    return json.loads((path / MANIFEST).read_text())["fingerprint"]
