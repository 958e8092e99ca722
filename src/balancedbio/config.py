"""Typed configuration: frozen dataclasses loaded from YAML with ``key.sub=value`` overrides.

Every stage defines its own frozen dataclass; this module only knows how to build one from
plain data, strictly:

* unknown keys raise :class:`ConfigError` listing the valid keys;
* ``Literal[...]`` fields reject values outside their choices, listing the choices;
* scalars are coerced from YAML (``max_steps=20`` gives an ``int``), nothing else is guessed.

Two conveniences keep command lines short:

* ``__shorthand__ = "name"`` on a nested dataclass lets ``model=tiny-random`` mean
  ``model.name=tiny-random``;
* ``__aliases__ = {"max_steps": "grpo.max_steps"}`` on a root dataclass maps a short
  top-level key to a dotted path.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, Union

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration value or key is invalid; the message says what is valid."""


def choice_error(what: str, value: object, valid: Sequence[str]) -> ConfigError:
    """The one error used everywhere a name is looked up: it lists the valid names."""
    return ConfigError(f"unknown {what} {value!r}; valid: {', '.join(sorted(map(str, valid)))}")


# --------------------------------------------------------------------------- building


def from_dict(cls: type[T], data: Mapping[str, Any] | None, where: str = "") -> T:
    """Build dataclass ``cls`` from a mapping, validating keys and types recursively."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ConfigError(
            f"unknown config key(s) {', '.join(repr(where + k) for k in unknown)}; "
            f"valid keys{' under ' + where.rstrip('.') if where else ''}: {', '.join(fields)}"
        )
    kwargs = {k: _coerce(hints[k], v, f"{where}{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # missing required fields
        raise ConfigError(f"{where or cls.__name__}: {exc}") from exc


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{key}: {value!r} matches none of {tp}: {'; '.join(errors)}")
    if origin is typing.Literal:
        if value not in args:
            raise choice_error(f"value for {key}:", value, [str(a) for a in args])
        return value
    if dataclasses.is_dataclass(tp):
        if isinstance(tp, type) and isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            shorthand = getattr(tp, "__shorthand__", None)
            if shorthand is None:
                raise ConfigError(f"{key}: expected a mapping, got {value!r}")
            value = {shorthand: value}
        return from_dict(tp, value, f"{key}.")
    if origin in (list, tuple, Sequence) or tp in (list, tuple):
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(_coerce(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if origin in (dict, Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    if tp is Path:
        return Path(value)
    return value


# --------------------------------------------------------------------------- overrides


def parse_override(text: str) -> tuple[str, Any]:
    """``"a.b=3"`` -> ``("a.b", 3)``; the value is parsed as YAML (so ``[1,2]``, ``null``...)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value (e.g. model=tiny-random)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(cls: type, data: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Return a copy of ``data`` with dotted ``key=value`` overrides applied."""
    data = _deep_copy(data)
    aliases: dict[str, str] = getattr(cls, "__aliases__", {})
    for text in overrides:
        key, value = parse_override(text)
        parts = aliases.get(key, key).split(".")
        node = data
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {} if child is None else {"__scalar__": child}
                node[part] = child
            node = child
        node[parts[-1]] = value
    return _resolve_scalars(cls, data)


def _resolve_scalars(cls: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Fold ``{"__scalar__": v, ...}`` (a shorthand later refined by a dotted key) back."""
    hints = typing.get_type_hints(cls) if dataclasses.is_dataclass(cls) else {}
    for key, value in list(data.items()):
        if isinstance(value, dict):
            sub = hints.get(key)
            if "__scalar__" in value:
                shorthand = getattr(sub, "__shorthand__", None)
                scalar = value.pop("__scalar__")
                if shorthand is None:
                    raise ConfigError(f"{key}: cannot set sub-keys of a scalar value {scalar!r}")
                value.setdefault(shorthand, scalar)
            if dataclasses.is_dataclass(sub):
                data[key] = _resolve_scalars(sub, value)
    return data


def _deep_copy(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _deep_copy(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_deep_copy(v) for v in data]
    return data


# --------------------------------------------------------------------------- public API


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Load ``cls`` from a YAML file (optional) plus overrides; validate everything."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        loaded = yaml.safe_load(path.read_text()) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: top level must be a mapping, got {type(loaded).__name__}")
        data = loaded
    return from_dict(cls, apply_overrides(cls, data, overrides))


def to_dict(cfg: Any) -> Any:
    """Plain, YAML-safe data for a config dataclass (tuples become lists, paths strings)."""
    if dataclasses.is_dataclass(cfg) and not isinstance(cfg, type):
        return {f.name: to_dict(getattr(cfg, f.name)) for f in dataclasses.fields(cfg)}
    if isinstance(cfg, (list, tuple)):
        return [to_dict(v) for v in cfg]
    if isinstance(cfg, dict):
        return {str(k): to_dict(v) for k, v in cfg.items()}
    if isinstance(cfg, Path):
        return str(cfg)
    return cfg


def save_config(cfg: Any, out_dir: str | Path, name: str = "config.yaml") -> Path:
    """Write the resolved config next to an output; returns the file path."""
    from balancedbio.common import atomic_write_text

    path = Path(out_dir) / name
    atomic_write_text(path, yaml.safe_dump(to_dict(cfg), sort_keys=False))
    return path
