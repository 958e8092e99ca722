"""The shared LoRA SFT helper: row formats (fast); training is exercised end to end by
tests/data/test_curate.py::test_curation_runs_end_to_end_on_tiny_random."""

from __future__ import annotations

import pytest

from balancedbio.config import ConfigError
from balancedbio.models.finetune import _check_rows, chat_rows


def test_rows_must_be_conversational_and_uniform() -> None:
    prompt = [{"role": "user", "content": "hi"}]
    ok = _check_rows(
        [{"prompt": prompt, "completion": [{"role": "assistant", "content": "yo"}], "extra": 1}]
    )
    assert ok == [{"prompt": prompt, "completion": [{"role": "assistant", "content": "yo"}]}]
    assert _check_rows([{"messages": prompt}]) == [{"messages": prompt}]
    with pytest.raises(ConfigError, match="no training rows"):
        _check_rows([])
    with pytest.raises(ConfigError, match="needs 'messages'"):
        _check_rows([{"text": "x"}])
    with pytest.raises(ConfigError, match="mix"):
        _check_rows([{"messages": prompt}, {"prompt": prompt, "completion": prompt}])


def test_chat_rows_use_the_reference_as_the_assistant_turn() -> None:
    item = {"prompt": [{"role": "user", "content": "Q"}], "reference": "Answer: B", "id": "x"}
    assert chat_rows([item]) == [
        {
            "prompt": [{"role": "user", "content": "Q"}],
            "completion": [{"role": "assistant", "content": "Answer: B"}],
        }
    ]
