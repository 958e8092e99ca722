"""Reward registry: named factories, config specs, and a builder for the rewards a run uses.

A reward is registered once under a name, with its default capabilities and its params
(name -> default)::

    @register_reward("mcq_accuracy", ("knowledge",), {"letters": "ABCDE"})
    def mcq_accuracy(letters: str) -> ScoreFn: ...

and a run lists the ones it wants as :class:`RewardSpec` (YAML: ``rewards: [mcq_accuracy,
{name: format_tags, weight: 0.2, params: {tags: [answer]}}]``). :func:`build_rewards`
builds only those. Modules with heavy imports (IFEval, ontology/workflow rewards, the
reward model) register lazily with :func:`register_lazy` so importing this module never
imports them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import balancedbio.rewards.answers as answers
from balancedbio.config import ConfigError, choice_error, from_dict
from balancedbio.rewards.base import CAPABILITY_COLUMN, RewardFunction, ScoreFn, row_capabilities

#: The capabilities BalancedBio balances; every reward and dataset row is tagged with these.
CAPABILITIES: tuple[str, ...] = ("knowledge", "reasoning", "instruction", "integrated")


@dataclass(frozen=True)
class RewardSpec:
    """One reward of a run: which, how much it weighs, where it applies, its params."""

    __shorthand__: ClassVar[str] = "name"  # ``rewards: [mcq_accuracy]`` means {name: ...}

    name: str
    weight: float = 1.0
    capabilities: tuple[str, ...] = ()  # empty: the reward's registered default
    params: dict[str, Any] = field(default_factory=dict)
    timeout_s: float | None = 10.0  # per-sample limit; null disables it


@dataclass(frozen=True)
class RewardEntry:
    """A registered reward: ``factory(**params) -> ScoreFn``."""

    name: str
    factory: Callable[..., ScoreFn]
    capabilities: tuple[str, ...]
    params: Mapping[str, Any]
    doc: str = ""


_REGISTRY: dict[str, RewardEntry] = {}
#: reward name -> "package.module" or "package.module:register_fn"; imported on first use.
_LAZY: dict[str, str] = {}


def _check_capabilities(names: Iterable[str], where: str) -> tuple[str, ...]:
    names = tuple(names)
    for cap in names:
        if cap not in CAPABILITIES:
            raise choice_error(f"capability in {where}:", cap, CAPABILITIES)
    return names


def register_reward(
    name: str,
    capabilities_default: Iterable[str] = (),
    params_schema: Mapping[str, Any] | None = None,
) -> Callable[[Callable[..., ScoreFn]], Callable[..., ScoreFn]]:
    """Decorator registering ``factory(**params) -> ScoreFn`` under ``name``.

    ``params_schema`` maps each accepted param to its default; ``capabilities_default``
    is used when a spec names no capabilities (empty: applies to every row).
    """
    caps = _check_capabilities(capabilities_default, f"reward {name!r}")

    def decorator(factory: Callable[..., ScoreFn]) -> Callable[..., ScoreFn]:
        old = _REGISTRY.get(name)
        if old is not None and old.factory.__qualname__ != factory.__qualname__:
            raise ValueError(f"reward {name!r} is already registered by {old.factory!r}")
        doc = (factory.__doc__ or "").strip().split("\n", 1)[0]
        _REGISTRY[name] = RewardEntry(name, factory, caps, dict(params_schema or {}), doc)
        return factory

    return decorator


def register_lazy(name: str, target: str) -> None:
    """Announce reward ``name``, registered when ``target`` ("pkg.mod[:fn]") is imported.

    The module registers on import (``@register_reward``); ``:fn``, if given, is then
    called with no arguments (for modules that register explicitly).
    """
    if name not in _REGISTRY:
        _LAZY[name] = target


def registered_rewards() -> list[str]:
    """All reward names, registered or lazily announced."""
    return sorted(set(_REGISTRY) | set(_LAZY))


def get_reward_entry(name: str) -> RewardEntry:
    """The entry for ``name``, importing its module if it was registered lazily."""
    if name not in _REGISTRY and name in _LAZY:
        module, _, fn = _LAZY[name].partition(":")
        loaded = importlib.import_module(module)
        if fn:
            getattr(loaded, fn)()
        if name not in _REGISTRY:
            raise ConfigError(
                f"reward {name!r}: {_LAZY[name]} was imported but did not register it"
            )
        _LAZY.pop(name, None)
    if name not in _REGISTRY:
        raise choice_error("reward", name, registered_rewards())
    return _REGISTRY[name]


def _coerce_params(entry: RewardEntry, params: Mapping[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(params) - set(entry.params))
    if unknown:
        valid = ", ".join(entry.params) or "(none)"
        raise ConfigError(
            f"reward {entry.name!r}: unknown param(s) {', '.join(map(repr, unknown))}; "
            f"valid params: {valid}"
        )
    merged = dict(entry.params)
    for key, value in params.items():
        if isinstance(entry.params[key], tuple) and isinstance(value, list):
            value = tuple(value)  # YAML lists for tuple-valued params
        merged[key] = value
    return merged


def build_reward(spec: RewardSpec | Mapping[str, Any] | str) -> RewardFunction:
    """Build one reward function from a spec (or its dict / bare-name form)."""
    if isinstance(spec, str):
        spec = RewardSpec(name=spec)
    elif not isinstance(spec, RewardSpec):
        spec = from_dict(RewardSpec, spec)
    entry = get_reward_entry(spec.name)
    caps = _check_capabilities(spec.capabilities, f"reward {spec.name!r}") or entry.capabilities
    try:
        score = entry.factory(**_coerce_params(entry, spec.params))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"reward {spec.name!r}: bad params {spec.params!r}: {exc}") from exc
    score_batch = getattr(score, "score_batch", None)
    if callable(score_batch):  # a batched scorer (e.g. the reward model): one call per batch
        from balancedbio.rewards.batch import BatchRewardFunction

        return BatchRewardFunction(
            spec.name,
            score,
            score_batch,
            capabilities=caps,
            weight=spec.weight,
            timeout_s=spec.timeout_s,
        )
    return RewardFunction(
        spec.name, score, capabilities=caps, weight=spec.weight, timeout_s=spec.timeout_s
    )


def build_rewards(specs: Iterable[RewardSpec | Mapping[str, Any] | str]) -> list[RewardFunction]:
    """Build exactly the named rewards, in order; a name may appear once."""
    rewards = [build_reward(spec) for spec in specs]
    names = [r.name for r in rewards]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"reward(s) listed twice: {', '.join(dupes)}")
    return rewards


# --------------------------------------------------------------------------- built-in rewards


def _column(row: Mapping[str, Any], key: str) -> Any:
    """A dataset column of this row; a missing column is a wiring error (counted, logged)."""
    if key not in row:
        raise KeyError(f"column {key!r} missing; row has: {', '.join(sorted(row)) or '(none)'}")
    return row[key]


def _binary(ok: bool) -> float:
    return 1.0 if ok else 0.0


@register_reward("mcq_accuracy", ("knowledge", "integrated"), {"letters": "ABCDE"})
def mcq_accuracy(letters: str) -> ScoreFn:
    """1 if the chosen option letter is the gold ``answer`` (columns: choices, answer).

    Knowledge rows must carry ``choices`` (a missing column is a wiring error); other rows
    (integrated cases) are graded only when they carry options, else None (not applicable).
    """

    def score(text: str, row: Mapping[str, Any]) -> float | None:
        gold = _column(row, "answer")
        if gold is None or gold == "":
            return None
        tags = row_capabilities(row.get(CAPABILITY_COLUMN))
        if tags is None or "knowledge" in tags:
            choices = _column(row, "choices")
        else:
            choices = row.get("choices")
            if not choices:
                return None
        return _binary(answers.grade_mcq(text, choices, gold, letters))

    return score


@register_reward("numeric_accuracy", ("reasoning",), {"rel_tol": None, "default_kind": None})
def numeric_accuracy(rel_tol: float | None, default_kind: str | None) -> ScoreFn:
    """1 if the final number/date is right by MedCalc-Bench rules (columns: answer, lower,
    upper, output_kind).

    A row whose ``output_kind`` is null or missing is not a calculator row (e.g. a diagnosis
    case with a text answer): None, unless ``default_kind`` names the kind to assume.
    """
    if default_kind is not None and default_kind not in answers.OUTPUT_KINDS:
        raise choice_error("output kind", default_kind, answers.OUTPUT_KINDS)

    def score(text: str, row: Mapping[str, Any]) -> float | None:
        kind = row.get("output_kind") or default_kind
        if kind is None:
            return None
        gold = _column(row, "answer")
        if gold is None or gold == "":
            return None
        ok = answers.grade_numeric(
            text,
            gold,
            lower=row.get("lower"),
            upper=row.get("upper"),
            rel_tol=rel_tol,
            kind=kind,
        )
        return _binary(ok)

    return score


@register_reward("exact_match", (), {"extract": True})
def exact_match(extract: bool) -> ScoreFn:
    """1 if the (extracted) final answer equals ``answer`` after SQuAD normalization."""

    def score(text: str, row: Mapping[str, Any]) -> float | None:
        gold = _column(row, "answer")
        if gold is None or gold == "" or gold == []:
            return None
        pred = answers.extract_final_answer(text) if extract else text
        return _binary(answers.exact_match(pred, gold))

    return score


@register_reward("format_tags", (), {"tags": ("think", "answer"), "ordered": True})
def format_tags(tags: tuple[str, ...], ordered: bool) -> ScoreFn:
    """1 if each tag appears as exactly one non-empty block (in order)."""
    if isinstance(tags, str) or not tags:
        raise ValueError("tags must be a non-empty list of tag names")

    def score(text: str, row: Mapping[str, Any]) -> float:
        return _binary(answers.has_tags(text, tags, ordered=ordered))

    return score


@register_reward("format_sections", (), {"headings": ("Reasoning", "Answer"), "ordered": True})
def format_sections(headings: tuple[str, ...], ordered: bool) -> ScoreFn:
    """1 if each requested heading ("Answer:", "Reasoning:") starts a line (in order)."""
    if isinstance(headings, str) or not headings:
        raise ValueError("headings must be a non-empty list of headings")

    def score(text: str, row: Mapping[str, Any]) -> float:
        return _binary(answers.has_sections(text, headings, ordered=ordered))

    return score


# --------------------------------------------------------------------------- lazy rewards

# Verifier rewards (workflow rules, ontology claims, IFEval): imported on first use.
for _name in ("workflow", "ontology_claims", "ifeval_strict", "ifeval_loose"):
    register_lazy(_name, "balancedbio.rewards.builtin")
del _name
# The learned reward model (torch, loaded on first use): balancedbio.rewards.model_reward.
register_lazy("reward_model", "balancedbio.rewards.model_reward")
