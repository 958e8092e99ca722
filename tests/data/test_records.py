"""The item schema, per-capability column contracts and rejection records."""

from __future__ import annotations

from typing import Any

import pytest

from balancedbio.config import ConfigError
from balancedbio.data.records import (
    _DEFAULTS,
    COLUMNS,
    JSON_FIELDS,
    SCHEMA,
    STAGES,
    Rejection,
    StageSpec,
    check_stages,
    missing_columns,
    new_record,
    user_message,
)
from balancedbio.data.schema import SchemaTracker, encode_json_fields


def _knowledge_row(**kw: object) -> dict:
    row = new_record(
        id="train-mcq_phenotype-0000001",
        capability="knowledge",
        task="mcq_phenotype",
        split="train",
        prompt=user_message("Q?\nA. x\nB. y"),
        question="Q?\nA. x\nB. y",
        answer="A",
        answer_kind="choice",
        choices=["x", "y"],
        reference="Answer: A",
        facts=[{"relation": "exists", "subject": "HP:0001250", "object": None, "holds": True}],
        provenance={"constructor": "mcq_phenotype/template"},
    )
    row.update(kw)
    return row


def test_new_record_has_every_column_and_rejects_unknown() -> None:
    row = new_record(id="x")
    assert list(row) == list(COLUMNS) == list(SCHEMA["struct"])
    assert row["choices"] == [] and row["kwargs"] == [] and row["lower"] is None
    for key, value in _DEFAULTS.items():  # fresh containers, never shared between rows
        assert row[key] == value and type(row[key]) is type(value)
        assert row[key] is not new_record(id="y")[key]
    assert new_record(id="x", choices=["a"])["choices"] == ["a"]
    with pytest.raises(KeyError, match="unknown record column"):
        new_record(nonsense=1)


def test_required_columns_depend_on_capability_and_answer_kind() -> None:
    assert missing_columns(_knowledge_row()) == []
    assert "choices" in missing_columns(_knowledge_row(choices=[]))
    assert "facts" in missing_columns(_knowledge_row(facts=[]))
    inst = _knowledge_row(capability="instruction", answer="", answer_kind="none", facts=[])
    assert missing_columns(inst) == ["instruction_id_list", "kwargs"]
    inst.update(instruction_id_list=["punctuation:no_comma"], kwargs=[{}])
    assert missing_columns(inst) == []
    inst["kwargs"] = [{}, {}]
    assert "kwargs" in missing_columns(inst)
    case = _knowledge_row(capability="reasoning", task="diagnosis_case", answer_kind="text")
    assert set(missing_columns(case)) == {"required_steps", "diagnosis_id", "findings"}
    assert "capability" in missing_columns(_knowledge_row(capability="nonsense"))


def test_stage_contract_is_checked() -> None:
    check_stages(STAGES)
    with pytest.raises(ConfigError, match="needs column"):
        check_stages(
            [StageSpec("construct", adds=("id",)), StageSpec("dedup", needs=("question",))]
        )


def test_rows_conform_to_the_declared_schema() -> None:
    tracker = SchemaTracker()
    tracker.schema = SCHEMA  # what the pipeline declares before the first shard
    row = encode_json_fields(_knowledge_row(), JSON_FIELDS)
    frozen = tracker.freeze([tracker.check(row)])
    assert frozen[0]["lower"] is None and isinstance(frozen[0]["provenance"], str)


def test_rejection_record() -> None:
    rej = Rejection.of(
        [("workflow:order", "bad order"), ("answer_mismatch", "x")], "validate", {"id": "i1"}
    )
    rec = rej.record({"id": "seed-1", "task": "diagnosis_case"}, "reasoning", "diagnosis_case")
    assert rec["reason"] == "workflow:order" and rec["stage"] == "validate" and rec["id"] == "i1"
    assert [r["code"] for r in rec["reasons"]] == ["workflow:order", "answer_mismatch"]


@pytest.mark.parametrize("name", ["generate.yaml", "generate_model.yaml"])
def test_shipped_generate_configs_load(name: str) -> None:
    from pathlib import Path

    from balancedbio.config import load_config
    from balancedbio.data.config import GenerateConfig

    path = Path(__file__).resolve().parents[2] / "configs" / name
    cfg = load_config(GenerateConfig, path, ["shard=1/4", "construct.workers=2"])
    assert cfg.shard_index() == (1, 4) and cfg.capabilities[0] == "knowledge"
    assert cfg.fingerprint() == load_config(GenerateConfig, path, ["shard=1/4"]).fingerprint()
    if name == "generate.yaml":
        assert sum(cfg.tasks.values()) > 10_000 and len(cfg.capabilities) == 4
    with pytest.raises(ConfigError, match="shard"):
        load_config(GenerateConfig, path, ["shard=4/4"])


def test_compiled_conformer_matches_conform() -> None:
    from balancedbio.data.schema import SchemaError, compile_conformer, conform

    schema = {
        "struct": {
            "a": "float",
            "b": {"list": "string"},
            "c": {"struct": {"x": "int", "y": "bool"}},
        }
    }
    fast = compile_conformer(schema)
    good = [
        {"a": 1, "b": ["u"], "c": {"x": 2, "y": True}},  # int -> float
        {"a": None, "b": [], "c": None},
        {"a": 0.5, "b": None, "c": {"x": None, "y": False}},
    ]
    for row in good:
        got = fast(row)
        assert got == conform(row, schema) and type(got["a"]) is type(conform(row, schema)["a"])
    tracker = SchemaTracker(schema)
    bad = [
        {"a": "1", "b": [], "c": None},  # wrong type
        {"a": 1.0, "b": [], "c": {"x": True, "y": True}},  # bool is not int
        {"a": 1.0, "b": []},  # missing key
        {"a": 1.0, "b": (), "c": None, "d": 1},  # extra key
    ]
    for row in bad:
        with pytest.raises(SchemaError):
            tracker.check(row)
    # a tuple is no plain list: the slow path decides (and accepts it)
    assert tracker.check({"a": 1.0, "b": ("v",), "c": None})["b"] == ["v"]


def test_generated_conformer_matches_closures_on_nested_and_deep_schemas() -> None:
    from balancedbio.data.schema import _closure_conformer, compile_conformer

    schema = {"list": {"list": "float"}}  # nested loops must not share a loop variable
    row = [[1, 2.5], None, []]
    got = compile_conformer(schema)(row)
    assert repr(got) == repr(_closure_conformer(schema)(row)) == "[[1.0, 2.5], None, []]"
    assert got[0] is not row[0]  # fresh containers, as conform returns
    deep: Any = "string"
    value: Any = "x"
    for _ in range(40):  # too many nested blocks for one function: the closure version
        deep, value = {"struct": {"a": {"list": deep}}}, {"a": [value]}
    assert compile_conformer(deep)(value) == value


def test_row_encoder_matches_strict_json() -> None:
    from balancedbio.data.row_json import STRICT as _STRICT
    from balancedbio.data.row_json import STRICT_ROW as _ROW

    row = {"a": [1, 2.5, -0.0, None, True, 'é\n"\\'], "b": {"c": "d"}, "e": [], "f": 1e300}
    assert _ROW(row) == _STRICT(row)
    with pytest.raises(ValueError):
        _ROW({"a": float("nan")})
