"""Row JSON fast paths: each must give the bytes of the plain ``json`` call it replaces."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import pytest

from balancedbio.data.records import SCHEMA
from balancedbio.data.row_json import SORTED, STRICT, compile_line
from balancedbio.data.schema import Schema, SchemaError, _Mismatch, conform

FALLBACK = (_Mismatch, TypeError, KeyError)


class Tag(str):
    """A str subclass: the plain path accepts it."""


def _leaf(rng: random.Random, schema: str) -> Any:
    wild = [None, 1, 2.5, True, "s", Tag("t"), float("nan"), float("-inf"), -0.0, 10**20, ()]
    if rng.random() < 0.02:
        return rng.choice(wild)
    return {
        "string": lambda: rng.choice(["", "a\u00e9", 'q"\\\n\t\x01', "\u2028\ud7ff", "%s"]),
        "int": lambda: rng.choice([0, -7, 2**40]),
        "float": lambda: rng.choice([0.5, -0.0, 3, 1e300, 1e-7]),
        "bool": lambda: rng.choice([True, False]),
        "null": lambda: None,
    }[schema]()


def _value(rng: random.Random, schema: Schema) -> Any:
    """A random value, mostly of ``schema``, sometimes off it (types, keys, containers)."""
    if isinstance(schema, str):
        return _leaf(rng, schema)
    roll = rng.random()
    if roll < 0.05:
        return None
    if "list" in schema:
        items = [_value(rng, schema["list"]) for _ in range(rng.randrange(4))]
        return tuple(items) if roll > 0.97 else items
    row = {k: _value(rng, s) for k, s in schema["struct"].items()}
    if roll > 0.97 and row:
        row.pop(rng.choice(list(row)))
    elif roll > 0.94:
        row["extra"] = 1
    elif roll > 0.91:
        row = dict(reversed(list(row.items())))  # key order does not matter
    return row


def _plain(value: Any, schema: Schema) -> str | None:
    try:
        return STRICT(conform(value, schema))
    except (SchemaError, ValueError):
        return None


SCHEMAS: list[Schema] = [
    SCHEMA,
    {"struct": {"a": "float", "b": {"list": {"list": "float"}}, "c": {"struct": {}}}},
    {"struct": {"n": "int", "z": "null", "f": {"list": {"struct": {"k%": "bool", "é": "int"}}}}},
    {"list": {"struct": {"x": {"list": "string"}, "y": "string"}}},
]


@pytest.mark.parametrize("schema", SCHEMAS)
def test_compiled_line_is_strict_json_of_the_conformed_row(schema: Schema) -> None:
    fn = compile_line(schema)
    assert fn is not None
    rng, fast = random.Random(7), 0
    for _ in range(1500):
        value = _value(rng, schema)
        try:
            got = fn(value)
        except FALLBACK:
            continue  # the writer takes the plain path, which decides
        assert got == _plain(value, schema), value
        fast += 1
    assert fast > 300  # the fast path is taken for typical rows


def test_compiled_line_refuses_what_the_plain_path_rejects() -> None:
    fn = compile_line({"struct": {"a": "float", "b": "int", "c": {"list": "string"}}})
    assert fn is not None
    for bad in (
        {"a": math.nan, "b": 1, "c": []},  # the plain path raises ValueError
        {"a": 1.0, "b": True, "c": []},  # bool is no int
        {"a": 1.0, "b": 1, "c": [None]},
        {"a": 1.0, "b": 1, "d": []},  # same size, other key
        {"a": 1.0, "b": 1, "c": ("x",)},  # a tuple: conform makes the list
    ):
        with pytest.raises(FALLBACK):
            fn(bad)


def test_compiled_line_gives_up_on_schemas_nested_beyond_the_parser() -> None:
    deep: Any = "string"
    for _ in range(60):
        deep = {"list": deep}
    assert compile_line(deep) is None


def test_sorted_json_matches_json_dumps() -> None:
    def dumps(v: Any) -> str:
        return json.dumps(v, sort_keys=True, ensure_ascii=False, allow_nan=False)

    values = [None, [], "é\n", {"b": [1, 2.5, {"z": 1, "a": None}], "a": -0.0, "c": True}]
    for v in values:
        assert SORTED(v) == dumps(v)
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)
    for bad, error in ((cyclic, ValueError), ({"x": math.inf}, ValueError), ({1, 2}, TypeError)):
        with pytest.raises(error) as want:
            dumps(bad)
        with pytest.raises(error) as got:
            SORTED(bad)
        assert str(got.value) == str(want.value)
        assert SORTED(values[-1]) == dumps(values[-1])  # usable again after an error
