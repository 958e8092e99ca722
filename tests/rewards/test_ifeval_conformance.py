"""Our IFEval checkers against lm-eval 0.4.13's, verdict for verdict, strict and loose."""

from __future__ import annotations

import collections
import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ifeval_cases import generate_cases  # noqa: E402
from ifeval_fuzz import fuzz_cases  # noqa: E402
from ifeval_reference import Reference, load_reference  # noqa: E402

from balancedbio.rewards.ifeval import (  # noqa: E402
    INSTRUCTION_IDS,
    check_instruction,
    describe_instruction,
    follow_instructions,
)

MIN_CASES = 300
FUZZ_ROWS = 300


@pytest.fixture(scope="module")
def ref() -> Reference:
    return load_reference()


@pytest.fixture(scope="module")
def cases() -> list[dict[str, Any]]:
    return generate_cases()


@pytest.fixture(scope="module")
def verdicts(ref: Reference, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for case in cases:
        ours = follow_instructions(
            case["prompt"], case["response"], case["instruction_id_list"], case["kwargs"]
        )
        out.append(
            {
                "ref_strict": ref.strict(case),
                "ref_loose": ref.loose(case),
                "strict": ours.strict,
                "loose": ours.loose,
                "prompt_strict": ours.prompt_strict,
                "prompt_loose": ours.prompt_loose,
            }
        )
    return out


def _report(bad: list[tuple[dict[str, Any], dict[str, Any]]], mode: str) -> str:
    lines = [f"{len(bad)} case(s) disagree with lm-eval ({mode}):"]
    for case, v in bad[:20]:
        lines.append(
            json.dumps(
                {
                    "ids": case["instruction_id_list"],
                    "kwargs": case["kwargs"],
                    "response": case["response"],
                    "lm_eval": v[f"ref_{mode}"],
                    "ours": v[mode],
                },
                ensure_ascii=False,
            )
        )
    return "\n".join(lines)


def test_case_set_is_large_and_covers_every_instruction_both_ways(
    cases: list[dict[str, Any]], verdicts: list[dict[str, Any]]
) -> None:
    assert len(cases) >= MIN_CASES
    seen: dict[tuple[str, str], set[bool]] = collections.defaultdict(set)
    for case, v in zip(cases, verdicts, strict=True):
        for i, iid in enumerate(case["instruction_id_list"]):
            seen[iid, "strict"].add(v["ref_strict"][i])
            seen[iid, "loose"].add(v["ref_loose"][i])
    for iid in INSTRUCTION_IDS:
        for mode in ("strict", "loose"):
            assert seen[iid, mode] == {True, False}, f"{iid} {mode}: only {seen[iid, mode]}"
    loose_only = sum(
        s != lo for v in verdicts for s, lo in zip(v["ref_strict"], v["ref_loose"], strict=True)
    )
    assert loose_only >= 50, "too few cases where the loose variants change the verdict"


@pytest.mark.parametrize("mode", ["strict", "loose"])
def test_verdicts_agree_with_lm_eval(
    mode: str, cases: list[dict[str, Any]], verdicts: list[dict[str, Any]]
) -> None:
    bad = [(c, v) for c, v in zip(cases, verdicts, strict=True) if v[mode] != v[f"ref_{mode}"]]
    per_id = collections.Counter(
        c["instruction_id_list"][i]
        for c, v in bad
        for i in range(len(v[mode]))
        if v[mode][i] != v[f"ref_{mode}"][i]
    )
    assert not bad, f"disagreements per instruction: {dict(per_id)}\n" + _report(bad, mode)


def test_prompt_level_verdicts(verdicts: list[dict[str, Any]]) -> None:
    for v in verdicts:
        assert v["prompt_strict"] == all(v["ref_strict"])
        assert v["prompt_loose"] == all(v["ref_loose"])


def test_check_instruction_agrees_on_single_instruction_rows(
    cases: list[dict[str, Any]], verdicts: list[dict[str, Any]]
) -> None:
    for case, v in zip(cases, verdicts, strict=True):
        if len(case["instruction_id_list"]) == 1:
            got = check_instruction(
                case["instruction_id_list"][0], case["kwargs"][0], case["response"], case["prompt"]
            )
            assert got == (v["ref_strict"][0], v["ref_loose"][0]), case


def test_descriptions_match_lm_eval_build_description(
    ref: Reference, cases: list[dict[str, Any]]
) -> None:
    checked = set()
    for case in cases:
        for iid, kwargs in zip(case["instruction_id_list"], case["kwargs"], strict=True):
            given = {k: v for k, v in kwargs.items() if v}
            expected = ref.registry[iid](iid).build_description(**given)
            assert describe_instruction(iid, kwargs) == expected, (iid, kwargs)
            checked.add(iid)
    assert checked == set(INSTRUCTION_IDS)


def test_random_rows_agree_with_lm_eval(ref: Reference) -> None:
    bad = []
    for case in fuzz_cases(FUZZ_ROWS, seed=0):
        ours = follow_instructions(
            case["prompt"], case["response"], case["instruction_id_list"], case["kwargs"]
        )
        v = {"strict": ours.strict, "loose": ours.loose}
        v |= {"ref_strict": ref.strict(case), "ref_loose": ref.loose(case)}
        if v["strict"] != v["ref_strict"] or v["loose"] != v["ref_loose"]:
            bad.append((case, v))
    assert not bad, _report(bad, "strict") + "\n" + _report(bad, "loose")
