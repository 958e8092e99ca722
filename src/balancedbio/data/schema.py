"""Row schemas for shards: every row must load into one Arrow table across all shard files.

``datasets.load_dataset("json" | "parquet", data_files=[...])`` types the columns from the
first file and casts the rest; it fails when a later file refines a type (null -> string,
int -> float, a struct gaining a key). So a run's schema is fixed once, from the first shard,
and every later row must conform. A schema is plain JSON:

``"string" | "int" | "float" | "bool" | "null" | {"list": S} | {"struct": {key: S, ...}}``

Rules (enforced by :class:`SchemaTracker`, which :class:`~balancedbio.data.shards.ShardWriter`
uses):

1. Rows are dicts with string keys; every row has the same keys; every nested dict in a
   given column has the same keys (struct fields are fixed; missing keys are an error).
2. ``None`` is allowed anywhere, but every field (and list element type) needs a non-null
   value somewhere in the first shard so its type is known; an empty list alone does not
   type its elements.
3. ``int`` and ``float`` mix into ``float`` within the first shard (ints are then written
   as floats); after that a column typed ``int`` rejects floats -- write ``1.0``.
4. Fields whose shape varies by row (IFEval kwargs, verifier arguments, free-form metadata)
   go in ``json_fields``: they are stored as JSON strings (sorted keys) and decoded with
   :func:`decode_row`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

Schema = Any  # str | {"list": Schema} | {"struct": {str: Schema}}


class SchemaError(ValueError):
    """A row does not fit the run's schema; the message names the field and the fix."""


_FIX = "store fields whose shape varies as JSON strings (json_fields=[...])"


def infer(value: Any, path: str = "") -> Schema:
    """The schema of one value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                raise SchemaError(f"{path or 'row'}: dict keys must be strings, got {key!r}")
        return {"struct": {k: infer(v, f"{path}.{k}" if path else k) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        element: Schema = "null"
        for i, item in enumerate(value):
            element = merge(element, infer(item, f"{path}[{i}]"), f"{path}[]")
        return {"list": element}
    raise SchemaError(f"{path or 'value'}: unsupported type {type(value).__name__}; {_FIX}")


def merge(a: Schema, b: Schema, path: str = "") -> Schema:
    """The schema covering both ``a`` and ``b`` (null refines, int+float -> float)."""
    if a == "null":
        return b
    if b == "null" or a == b:
        return a
    if isinstance(a, str) and isinstance(b, str) and {a, b} == {"int", "float"}:
        return "float"
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        if "list" in a:
            return {"list": merge(a["list"], b["list"], f"{path}[]")}
        ka, kb = list(a["struct"]), list(b["struct"])
        if set(ka) != set(kb):
            raise SchemaError(
                f"{path or 'row'}: keys differ between rows: {sorted(ka)} vs {sorted(kb)}; {_FIX}"
            )
        return {
            "struct": {
                k: merge(a["struct"][k], b["struct"][k], f"{path}.{k}" if path else k) for k in ka
            }
        }
    raise SchemaError(f"{path or 'row'}: type {describe(b)} conflicts with {describe(a)}; {_FIX}")


def describe(schema: Schema) -> str:
    if isinstance(schema, str):
        return schema
    if "list" in schema:
        return f"list<{describe(schema['list'])}>"
    return "struct<" + ", ".join(f"{k}: {describe(v)}" for k, v in schema["struct"].items()) + ">"


def unresolved(schema: Schema, path: str = "") -> list[str]:
    """Paths whose type is still unknown (null everywhere so far)."""
    if schema == "null":
        return [path or "row"]
    if isinstance(schema, str):
        return []
    if "list" in schema:
        return unresolved(schema["list"], f"{path}[]")
    out: list[str] = []
    for k, v in schema["struct"].items():
        out += unresolved(v, f"{path}.{k}" if path else k)
    return out


def conform(value: Any, schema: Schema, path: str = "") -> Any:
    """``value`` checked against a fixed ``schema`` (ints become floats in float fields)."""
    if value is None:
        return None
    if schema == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(schema, dict) and "struct" in schema and isinstance(value, Mapping):
        fields = schema["struct"]
        if set(value) != set(fields):
            missing, extra = sorted(set(fields) - set(value)), sorted(set(value) - set(fields))
            raise SchemaError(
                f"{path or 'row'}: keys differ from the run's schema "
                f"(missing {missing}, unexpected {extra}); {_FIX}"
            )
        return {k: conform(value[k], s, f"{path}.{k}" if path else k) for k, s in fields.items()}
    if isinstance(schema, dict) and "list" in schema and isinstance(value, (list, tuple)):
        return [conform(v, schema["list"], f"{path}[{i}]") for i, v in enumerate(value)]
    got = infer(value, path)
    if got != schema:
        raise SchemaError(
            f"{path or 'row'}: expected {describe(schema)}, got {describe(got)}; {_FIX}"
        )
    return value


def arrow_type(schema: Schema) -> Any:
    """The pyarrow type of a (resolved) schema."""
    import pyarrow as pa

    if isinstance(schema, str):
        return {
            "string": pa.string(),
            "int": pa.int64(),
            "float": pa.float64(),
            "bool": pa.bool_(),
            "null": pa.null(),
        }[schema]
    if "list" in schema:
        return pa.list_(arrow_type(schema["list"]))
    return pa.struct([pa.field(k, arrow_type(v)) for k, v in schema["struct"].items()])


def arrow_schema(schema: Schema) -> Any:
    """``pa.Schema`` for a row schema (a struct); e.g. ``Features.from_arrow_schema(...)``."""
    import pyarrow as pa

    return pa.schema(list(arrow_type(schema)))


def encode_json_fields(row: Mapping[str, Any], json_fields: Sequence[str]) -> dict[str, Any]:
    """Copy of ``row`` with ``json_fields`` serialized (sorted keys; None stays None)."""
    out = dict(row)
    for key in json_fields:
        value = out.get(key)
        if value is not None and not isinstance(value, str):
            out[key] = json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)
    return out


def decode_row(row: Mapping[str, Any], json_fields: Sequence[str]) -> dict[str, Any]:
    """Inverse of the writer's encoding: parse the ``json_fields`` strings back."""
    out = dict(row)
    for key in json_fields:
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out


class _Mismatch(Exception):
    """Raised by a compiled conformer where the slow path must decide (coerce or explain)."""


_MISMATCH = _Mismatch()
Conformer = Callable[[Any], Any]
_EXACT = {"string": str, "int": int, "bool": bool}


def _leaf(schema: str) -> Conformer:
    if schema == "float":

        def conform_float(v: Any) -> Any:
            if v is None or type(v) is float:
                return v
            if type(v) is int:
                return float(v)
            raise _MISMATCH

        return conform_float
    if schema == "null":

        def conform_null(v: Any) -> Any:
            if v is None:
                return v
            raise _MISMATCH

        return conform_null
    exact = _EXACT[schema]

    def conform_exact(v: Any) -> Any:
        if v is None or type(v) is exact:
            return v
        raise _MISMATCH

    return conform_exact


def compile_conformer(schema: Schema) -> Conformer:
    """A fast :func:`conform` for plain ``dict``/``list``/scalar rows of ``schema``.

    Built once per schema (the writer conforms every row): it returns what :func:`conform`
    returns, and raises ``_Mismatch`` wherever :func:`conform` would coerce a subclass or
    raise, so callers fall back to :func:`conform` for the verdict and the message. The
    checks are generated as one flat function (no call per field); a schema nested too
    deeply for one function body gets the closure version.
    """
    lines: list[str] = []
    names: dict[str, Any] = {"_M": _MISMATCH, "str": str, "int": int, "bool": bool}
    _emit(schema, "v", 1, lines, names, itertools.count())
    source = "def conform(v):\n" + "\n".join(lines) + "\n    return v\n"
    try:
        code = compile(source, "<conformer>", "exec")
    except (SyntaxError, RecursionError):  # more nested blocks than Python allows
        return _closure_conformer(schema)
    exec(code, names)
    return names["conform"]  # type: ignore[no-any-return]


_LEAF_CHECK = {
    "string": "if {v} is not None and type({v}) is not str: raise _M",
    "int": "if {v} is not None and type({v}) is not int: raise _M",
    "bool": "if {v} is not None and type({v}) is not bool: raise _M",
    "null": "if {v} is not None: raise _M",
}


def _emit(
    schema: Schema, var: str, depth: int, out: list[str], names: dict[str, Any], ids: Iterator[int]
) -> None:
    """Append statements that replace ``var`` by its conformed value (or raise ``_M``)."""
    pad = "    " * depth
    if isinstance(schema, str):
        if schema == "float":
            out.append(f"{pad}if {var} is not None and type({var}) is not float:")
            out.append(f"{pad}    if type({var}) is not int: raise _M")
            out.append(f"{pad}    {var} = float({var})")
        else:
            out.append(pad + _LEAF_CHECK[schema].format(v=var))
        return
    n = next(ids)
    out.append(f"{pad}if {var} is not None:")
    pad += "    "
    if "list" in schema:
        out.append(f"{pad}if type({var}) is not list: raise _M")
        element, e = schema["list"], f"e{n}"
        if isinstance(element, str) and element != "float":  # checked, copied unchanged
            out.append(f"{pad}for {e} in {var}:")
            out.append(f"{pad}    " + _LEAF_CHECK[element].format(v=e))
            out.append(f"{pad}{var} = [*{var}]")
            return
        out.append(f"{pad}out{n} = []")
        out.append(f"{pad}for {e} in {var}:")
        _emit(element, e, depth + 2, out, names, ids)
        out.append(f"{pad}    out{n}.append({e})")
        out.append(f"{pad}{var} = out{n}")
        return
    fields = schema["struct"]
    names[f"K{n}"] = set(fields)
    out.append(f"{pad}if type({var}) is not dict or {var}.keys() != K{n}: raise _M")
    built = []
    for i, (key, sub) in enumerate(fields.items()):
        f = f"f{n}_{i}"
        out.append(f"{pad}{f} = {var}[{key!r}]")
        _emit(sub, f, depth + 1, out, names, ids)
        built.append(f"{key!r}: {f}")
    out.append(f"{pad}{var} = {{{', '.join(built)}}}")


def _closure_conformer(schema: Schema) -> Conformer:
    """:func:`compile_conformer` built from nested closures (any depth)."""
    if isinstance(schema, str):
        return _leaf(schema)
    if "list" in schema:
        element = _closure_conformer(schema["list"])

        def conform_list(v: Any) -> Any:
            if v is None:
                return v
            if type(v) is not list:
                raise _MISMATCH
            return [element(x) for x in v]

        return conform_list
    fields = [(k, _closure_conformer(s)) for k, s in schema["struct"].items()]
    keys = set(schema["struct"])

    def conform_struct(v: Any) -> Any:
        if v is None:
            return v
        if type(v) is not dict or v.keys() != keys:
            raise _MISMATCH
        return {k: fn(v[k]) for k, fn in fields}

    return conform_struct


class SchemaTracker:
    """Accumulates the schema until it is frozen (at the first shard commit), then enforces it."""

    def __init__(self, frozen: Schema | None = None):
        self.schema: Schema | None = frozen
        self.frozen = frozen is not None
        self._compiled: tuple[Schema, Conformer] | None = None

    def _conformer(self) -> Conformer:
        if self._compiled is None or self._compiled[0] is not self.schema:
            self._compiled = (self.schema, compile_conformer(self.schema))
        return self._compiled[1]

    def check(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Validate one row; returns the (possibly coerced) row to store."""
        if self.schema is not None:
            try:  # a row the schema already covers: merging would not change the schema
                fitted = self._conformer()(row)
            except _Mismatch:
                pass
            else:
                return fitted if self.frozen else dict(row)
        if self.frozen:
            return conform(row, self.schema)
        seen = infer(row)
        self.schema = seen if self.schema is None else merge(self.schema, seen)
        return dict(row)

    def freeze(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Fix the schema (raising if any field is still untyped); rows are conformed to it."""
        self.fix()
        fast = self._conformer()
        out = []
        for r in rows:
            try:
                out.append(fast(r))
            except _Mismatch:
                out.append(conform(r, self.schema))
        return out

    def fix(self) -> None:
        """Fix the schema, raising if any field is still untyped (null in every row so far)."""
        if self.schema is None:
            raise SchemaError("no rows to take a schema from")
        missing = unresolved(self.schema)
        if missing:
            raise SchemaError(
                f"field(s) {', '.join(missing)} are null/empty in every row of the first shard, "
                "so their type is unknown; give them a typed value or store them as JSON "
                "strings (json_fields=[...])"
            )
        self.frozen = True
