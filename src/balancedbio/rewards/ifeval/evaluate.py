"""Strict and loose instruction-following verdicts, as lm-eval 0.4.13's ``ifeval/utils.py``.

* strict: ``response.strip()`` is non-empty and the checker accepts ``response``;
* loose: the same on any of 8 variants (the response; without its first line, last
  line, or both; each of those four with every ``*`` removed).

The checkers are pure (langdetect is seeded), so each distinct variant is checked once,
the strict verdict is reused as the loose verdict of the unmodified response, and the
variants are built once per response rather than once per instruction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from balancedbio.rewards.ifeval.registry import IFEvalKwargsError, get_spec, normalize_kwargs


@dataclass(frozen=True)
class IFEvalResult:
    """Per-instruction verdicts (lm-eval's ``follow_instruction_list``) and their conjunction."""

    strict: list[bool]
    loose: list[bool]
    prompt_strict: bool
    prompt_loose: bool


def loose_variants(response: str) -> list[str]:
    """The 8 responses lm-eval's loose check tries, in its order."""
    lines = response.split("\n")
    remove_first = "\n".join(lines[1:]).strip()
    remove_last = "\n".join(lines[:-1]).strip()
    remove_both = "\n".join(lines[1:-1]).strip()
    return [
        response,
        response.replace("*", ""),
        remove_first,
        remove_last,
        remove_both,
        remove_first.replace("*", ""),
        remove_last.replace("*", ""),
        remove_both.replace("*", ""),
    ]


def _extra_variants(response: str) -> list[str]:
    """Distinct non-blank loose variants other than ``response`` itself."""
    seen = {response}
    out = []
    for variant in loose_variants(response)[1:]:
        if variant not in seen and variant.strip():
            seen.add(variant)
            out.append(variant)
    return out


def _verdicts(
    instruction_id: str, args: Mapping[str, Any], response: str, extra: Sequence[str]
) -> tuple[bool, bool]:
    check = get_spec(instruction_id).check
    strict = bool(response.strip()) and check(args, response)
    loose = strict or any(check(args, variant) for variant in extra)
    return strict, loose


def check_instruction(
    instruction_id: str,
    kwargs: Mapping[str, Any] | None,
    response: str,
    prompt: str | None = None,
) -> tuple[bool, bool]:
    """``(strict, loose)`` verdict of one instruction on ``response``.

    ``prompt`` is accepted for symmetry with lm-eval, whose harness re-builds an
    instruction with the row's prompt only when its arguments include a key named
    ``prompt``; none of the 25 do, so ``combination:repeat_prompt`` reads
    ``kwargs["prompt_to_repeat"]`` and ``prompt`` never reaches a checker.
    Raises :class:`ConfigError` for an unknown id, :class:`IFEvalKwargsError` for bad kwargs.
    """
    args = normalize_kwargs(instruction_id, kwargs)
    return _verdicts(instruction_id, args, response, _extra_variants(response))


def follow_instructions(
    prompt: str | None,
    response: str,
    instruction_id_list: Sequence[str],
    kwargs_list: Sequence[Mapping[str, Any] | None],
) -> IFEvalResult:
    """Check every instruction of one IFEval row; all kwargs are validated before checking."""
    if isinstance(instruction_id_list, str) or len(instruction_id_list) != len(kwargs_list):
        raise IFEvalKwargsError(
            "instruction_id_list and kwargs must be lists of the same length, got "
            f"{instruction_id_list!r} and {len(kwargs_list)} kwargs"
        )
    if not isinstance(response, str):
        raise TypeError(f"response must be a string, got {type(response).__name__}")
    ids = tuple(instruction_id_list)
    if not all(map(_plain, kwargs_list)):  # memoized: plain kwargs, which repr identifies
        return _follow(response, ids, kwargs_list)
    key = (response, ids, repr(list(kwargs_list)))
    got = _MEMO.get(key)
    if got is None:
        result = _follow(response, ids, kwargs_list)
        if len(_MEMO) >= _MEMO_SIZE:
            _MEMO.clear()
        got = _MEMO[key] = (tuple(result.strict), tuple(result.loose))
    strict, loose = got
    return IFEvalResult(list(strict), list(loose), all(strict), all(loose))


def _plain(value: Any) -> bool:
    """Is ``value`` built only of None, bool, int, finite float, str, and lists and
    str-keyed dicts of those (exact types)? Such a value's repr identifies it, types
    included, so it may key the memo."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is dict:
        return all(type(k) is str and _plain(v) for k, v in value.items())
    if kind is list:
        return all(map(_plain, value))
    return False


#: Verdicts memoized on (response, ids, kwargs): a generator's self-check and the validator
#: judge the same reference, and the checkers are pure, so the verdicts are equal.
_MEMO: dict[tuple[str, tuple[str, ...], str], tuple[tuple[bool, ...], tuple[bool, ...]]] = {}
_MEMO_SIZE = 4096


def _follow(
    response: str,
    instruction_id_list: Sequence[str],
    kwargs_list: Sequence[Mapping[str, Any] | None],
) -> IFEvalResult:
    """Check every instruction (no memo)."""
    all_args = [
        normalize_kwargs(i, kw) for i, kw in zip(instruction_id_list, kwargs_list, strict=True)
    ]
    extra = _extra_variants(response)
    verdicts = [
        _verdicts(i, args, response, extra)
        for i, args in zip(instruction_id_list, all_args, strict=True)
    ]
    strict = [s for s, _ in verdicts]
    loose = [lo for _, lo in verdicts]
    return IFEvalResult(strict, loose, all(strict), all(loose))
