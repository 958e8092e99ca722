"""A PEFT adapter directory works as a model spec: merged into its base once, cached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from balancedbio.config import ConfigError
from balancedbio.models import ModelConfig, load_model_and_tokenizer, resolve_model
from balancedbio.models.adapters import is_adapter_dir


def _adapter(base: Path, out: Path) -> Path:
    """A LoRA adapter on ``base`` with non-zero B (so the merge changes the logits)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, param in peft.named_parameters():
            if "lora_B" in name:
                param.normal_(0, 0.5)
    peft.save_pretrained(out)
    return out


def test_adapter_dir_resolves_to_a_cached_merged_model(model_cache: str, tmp_path: Path) -> None:
    import torch

    base = resolve_model("tiny-random")
    adapter = _adapter(base, tmp_path / "adapter")
    assert is_adapter_dir(adapter) and not is_adapter_dir(base)

    merged = resolve_model(str(adapter))
    assert merged != base and (merged / "config.json").is_file()
    assert resolve_model(str(adapter)) == merged  # cached: the same build, not a second one

    ids = torch.tensor([[1, 2, 3, 4, 5]])
    base_model, _ = load_model_and_tokenizer(ModelConfig(name="tiny-random"))
    model, tokenizer = load_model_and_tokenizer(ModelConfig(name=str(adapter)))
    assert tokenizer.pad_token is not None
    with torch.no_grad():
        assert not torch.allclose(model(ids).logits, base_model(ids).logits)

    from peft import PeftModel

    reference = PeftModel.from_pretrained(base_model, adapter)
    with torch.no_grad():
        torch.testing.assert_close(model(ids).logits, reference(ids).logits, atol=1e-4, rtol=1e-4)


def test_adapter_without_a_base_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "adapter"
    bad.mkdir()
    (bad / "adapter_config.json").write_text(json.dumps({"r": 4}))
    (bad / "adapter_model.safetensors").write_bytes(b"")
    with pytest.raises(ConfigError, match="base_model_name_or_path"):
        resolve_model(str(bad))
