"""The config machinery: strict keys, typed coercion, overrides, shorthands, aliases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest
import yaml

from balancedbio.config import ConfigError, from_dict, load_config, save_config, to_dict


@dataclass(frozen=True)
class Inner:
    __shorthand__ = "name"
    name: str = "smollm2-135m"
    lr: float = 1e-4


@dataclass(frozen=True)
class Root:
    __aliases__ = {"steps": "train.max_steps"}
    seed: int = 0
    mode: Literal["fixed", "gdpo"] = "fixed"
    model: Inner = field(default_factory=Inner)
    train: Train = field(default_factory=lambda: Train())
    tags: tuple[str, ...] = ("a",)
    out: str | None = None


@dataclass(frozen=True)
class Train:
    max_steps: int = 10


def test_defaults_and_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 3\nmodel:\n  lr: 0.5\ntags: [x, y]\n")
    cfg = load_config(Root, path)
    assert cfg == Root(seed=3, model=Inner(lr=0.5), tags=("x", "y"))


def test_overrides_dotted_shorthand_alias():
    cfg = load_config(Root, None, ["model=tiny-random", "model.lr=2", "steps=7", "out=null"])
    assert cfg.model == Inner(name="tiny-random", lr=2.0)
    assert cfg.train.max_steps == 7
    assert cfg.out is None


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="valid keys.*seed.*mode.*model"):
        from_dict(Root, {"sede": 1})
    with pytest.raises(ConfigError, match=r"model\.nme.*valid keys under model: name, lr"):
        load_config(Root, None, ["model.nme=x"])


def test_literal_and_types_are_checked():
    with pytest.raises(ConfigError, match="valid: fixed, gdpo"):
        load_config(Root, None, ["mode=dynamic"])
    with pytest.raises(ConfigError, match="expected an integer"):
        load_config(Root, None, ["seed=abc"])
    with pytest.raises(ConfigError, match="key=value"):
        load_config(Root, None, ["seed"])


def test_missing_file_and_bad_top_level(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Root, tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(Root, bad)


def test_save_roundtrip(tmp_path):
    cfg = load_config(Root, None, ["model=x", "tags=[p, q]"])
    path = save_config(cfg, tmp_path)
    assert from_dict(Root, yaml.safe_load(path.read_text())) == cfg
    assert to_dict(cfg)["tags"] == ["p", "q"]
