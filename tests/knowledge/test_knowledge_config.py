from __future__ import annotations

import pytest

from balancedbio.config import ConfigError, from_dict
from balancedbio.knowledge import VALID_SOURCES, KnowledgeConfig


def test_defaults() -> None:
    cfg = KnowledgeConfig()
    assert cfg.sources == VALID_SOURCES == ("hpo", "mondo", "icd10cm")
    assert cfg.cache_dir is None and cfg.include_genes is True


def test_unknown_source_lists_valid_names() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown knowledge source 'snomed'; valid: hpo, icd10cm, mondo"
    ):
        KnowledgeConfig(sources=("hpo", "snomed"))


def test_sources_canonical_order_and_dedup() -> None:
    assert KnowledgeConfig(sources=("icd10cm", "hpo", "hpo")).sources == ("hpo", "icd10cm")


def test_empty_or_string_sources_rejected() -> None:
    with pytest.raises(ConfigError, match="at least one"):
        KnowledgeConfig(sources=())
    with pytest.raises(ConfigError, match="expected a list"):
        KnowledgeConfig(sources="hpo")  # type: ignore[arg-type]


def test_from_dict_yaml_style() -> None:
    cfg = from_dict(KnowledgeConfig, {"sources": ["mondo"], "include_genes": False})
    assert cfg == KnowledgeConfig(sources=("mondo",), include_genes=False)
    with pytest.raises(ConfigError, match="valid keys"):
        from_dict(KnowledgeConfig, {"srcs": ["hpo"]})
