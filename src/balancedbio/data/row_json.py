"""JSON text of shard rows, built without the per-call set-up of ``json.dumps``.

Every function here returns exactly what the plain ``json`` call it replaces returns, and is
used only where a probe showed that (else the plain call itself):

* :data:`STRICT_ROW` -- ``json.dumps(row, ensure_ascii=False, allow_nan=False)`` for fresh,
  acyclic rows (one C encoder built once, no circular-reference markers);
* :data:`SORTED` -- the same with ``sort_keys=True``, for ``json_fields`` values (caller data,
  so circular references are still detected);
* :func:`compile_line` -- one generated function per row schema that checks a row against the
  schema *and* writes its JSON in the same walk, i.e. ``STRICT_ROW(conform(row, schema))``
  without building the conformed copy. It raises wherever :func:`~balancedbio.data.schema.conform`
  would coerce a container or raise, so callers fall back to the plain path for those rows.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from json import encoder as js
from typing import Any

from balancedbio.data.schema import _MISMATCH, Schema, _Mismatch, conform

Encoder = Callable[[Any], str]

STRICT = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
LOOSE = json.JSONEncoder(ensure_ascii=False, default=str).encode
_SORTED_PLAIN = json.JSONEncoder(sort_keys=True, ensure_ascii=False, allow_nan=False).encode
_PROBE = {"a": [1, 2.5, -0.0, None, True, '\u00e9\n"\\'], "b": {"c": "d", "a": 1e300}, "e": []}


def _c_encoder(markers: dict[int, Any] | None, sort_keys: bool) -> Any:
    """The C encoder ``JSONEncoder.iterencode`` would build (None where there is none)."""
    if js.c_make_encoder is None:
        return None
    default = json.JSONEncoder().default  # the standard "not JSON serializable" TypeError
    try:
        return js.c_make_encoder(
            markers, default, js.encode_basestring, None, ": ", ", ", sort_keys, False, False
        )
    except (TypeError, ValueError):  # another Python's C encoder signature
        return None


def _row_encoder() -> Encoder:
    """``STRICT`` for acyclic rows, as one C encoder built once (no markers)."""
    enc = _c_encoder(None, False)
    if enc is None:
        return STRICT
    try:
        if "".join(enc(_PROBE, 0)) != STRICT(_PROBE):
            return STRICT
    except (TypeError, ValueError):
        return STRICT
    return lambda row: "".join(enc(row, 0))


def _sorted_encoder() -> Encoder:
    """``json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)``, built once.

    The markers dict catches cycles as ``json.dumps`` does; it is emptied after an error
    (an aborted walk leaves entries behind)."""
    markers: dict[int, Any] = {}
    enc = _c_encoder(markers, True)
    if enc is None:
        return _SORTED_PLAIN
    try:
        if "".join(enc(_PROBE, 0)) != _SORTED_PLAIN(_PROBE) or markers:
            return _SORTED_PLAIN
    except (TypeError, ValueError):
        return _SORTED_PLAIN

    def sorted_json(value: Any) -> str:
        try:
            return "".join(enc(value, 0))
        except BaseException:
            markers.clear()
            raise

    return sorted_json


STRICT_ROW = _row_encoder()
SORTED = _sorted_encoder()


# ---------------------------------------------------------------- checked row lines

_ENC = js.encode_basestring


def _bad(*_: Any) -> str:
    raise _MISMATCH


def _float(v: Any) -> str:
    """A float column's JSON text (ints written as floats, as :func:`conform` makes them)."""
    if type(v) is float:
        if v - v != 0.0:  # nan or +-inf: the plain path raises
            raise _MISMATCH
        return float.__repr__(v)
    if type(v) is int:
        return float.__repr__(float(v))
    if v is None:
        return "null"
    raise _MISMATCH


def compile_line(schema: Schema) -> Encoder | None:
    """``STRICT_ROW(conform(row, schema))`` in one walk, or None where it cannot be had.

    The function raises ``_Mismatch``, ``TypeError`` (from the string escaper) or ``KeyError``
    (a dict of the right size without a schema key) for rows that need the plain path:
    another container type, other keys, a non-finite float, a type error. It is one
    expression (comprehensions for lists) and is kept only if it encodes probes of the
    schema exactly as the plain path does.
    """
    names: dict[str, Any] = {
        "_bad": _bad,
        "E": _ENC,
        "F": _float,
        "I": int.__repr__,
        "type": type,
        "int": int,
        "list": list,
        "dict": dict,
        "map": map,
        "len": len,
    }
    try:
        source = f"def line(v):\n    return {_expr(schema, 'v', names, itertools.count())}\n"
        exec(compile(source, "<row line>", "exec"), names)
    except (SyntaxError, RecursionError, MemoryError):  # nested deeper than Python parses
        return None
    fn: Encoder = names["line"]
    return fn if _agrees(fn, schema) else None


def _expr(schema: Schema, src: str, names: dict[str, Any], ids: Iterator[int]) -> str:
    """An expression for the JSON text of the value ``src`` (or one that raises).

    ``src`` is a name or a subscript; a subscript is evaluated once, bound by ``:=``."""
    n = next(ids)
    var = src if src.isidentifier() else f"x{n}"
    first = src if var == src else f"({var} := {src})"  # the first use binds it
    if schema == "float":
        return f"F({src})"
    if schema == "string":
        return f"('null' if {first} is None else E({var}))"
    if schema == "int":
        return f"(I({var}) if type({first}) is int else 'null' if {var} is None else _bad())"
    if schema == "bool":
        return (
            f"('true' if {first} is True else 'false' if {var} is False "
            f"else 'null' if {var} is None else _bad())"
        )
    if schema == "null":
        return f"('null' if {src} is None else _bad())"
    if "list" in schema:
        element = schema["list"]
        if element == "string":  # E raises TypeError on None or a non-string
            body = f"', '.join(map(E, {var}))"
        else:
            body = f"', '.join([{_expr(element, f'e{n}', names, ids)} for e{n} in {var}])"
        return (
            f"('null' if {first} is None else _bad() if type({var}) is not list "
            f"else ''.join(('[', {body}, ']')) if {var} else '[]')"
        )
    fields = schema["struct"]
    parts = []  # literal key texts between the field values: one join, one allocation
    for i, (key, sub) in enumerate(fields.items()):
        parts.append(repr(("{" if i == 0 else ", ") + _ENC(key) + ": "))
        parts.append(_expr(sub, f"{var}[{key!r}]", names, ids))
    parts.append("'}'" if fields else "'{}'")
    return (
        f"(''.join(({', '.join(parts)},)) if type({first}) is dict and len({var}) == {len(fields)} "
        f"else 'null' if {var} is None else _bad())"
    )


class LineEncoder:
    """:func:`compile_line` of the latest schema seen, rebuilt when the schema changes."""

    def __init__(self) -> None:
        self._schema: Schema = None
        self._fn: Encoder | None = None

    def __call__(self, row: Any, schema: Schema) -> str | None:
        """``row``'s line, or None where the plain path must check (and encode) it."""
        if schema is not self._schema:
            self._schema, self._fn = schema, compile_line(schema)
        if self._fn is None:
            return None
        try:
            return self._fn(row)
        except (_Mismatch, TypeError, KeyError):
            return None


_SAMPLES = (  # per probe variant: a value of each leaf type (None: the nullable case)
    {"string": 'x\u00e9"\\\n%s', "int": -12, "float": 2, "bool": True, "null": None},
    {"string": None, "int": None, "float": None, "bool": None, "null": None},
    {"string": "\u2028", "int": 0, "float": -0.0, "bool": False, "null": None},
)


def _probe(schema: Schema, variant: int, depth: int = 0) -> Any:
    """A value of ``schema`` with the leaves of ``_SAMPLES[variant]`` (lists hold two
    elements, one below the fourth level of lists: a probe stays small)."""
    if isinstance(schema, str):
        return _SAMPLES[variant][schema]
    if "list" in schema:
        if variant == 1:
            return None
        others = (2 - variant,) if depth < 4 else ()
        return [_probe(schema["list"], v, depth + 1) for v in (variant, *others)]
    return {k: _probe(s, variant, depth) for k, s in schema["struct"].items()}


def _agrees(fn: Encoder, schema: Schema) -> bool:
    for variant in range(len(_SAMPLES)):
        probe = _probe(schema, variant)
        try:
            if fn(probe) != STRICT(conform(probe, schema)):
                return False
        except (TypeError, ValueError):
            return False
    return True
