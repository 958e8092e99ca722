"""The model section of every stage config."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

DType = Literal["float32", "bfloat16", "float16"]


@dataclass(frozen=True)
class ModelConfig:
    """Which model to load and how.

    ``name`` is a built-in (``smollm2-135m``, ``tiny-random``, ``tiny-random-<seed>``), a local
    Hugging Face model directory (safetensors only) or a hub id such as
    ``Qwen/Qwen2.5-0.5B-Instruct``. ``model=tiny-random`` on a command line sets ``name``.
    """

    __shorthand__: ClassVar[str] = "name"

    name: str = "smollm2-135m"
    cache_dir: str | None = None
    dtype: DType = "float32"
    revision: str | None = None
