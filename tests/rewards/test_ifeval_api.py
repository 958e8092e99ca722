"""Public API of balancedbio.rewards.ifeval: registry, errors, kwargs handling, descriptions."""

from __future__ import annotations

import inspect
import random
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ifeval_reference import load_reference  # noqa: E402

from balancedbio.config import ConfigError  # noqa: E402
from balancedbio.rewards.ifeval import (  # noqa: E402
    INSTRUCTION_ARGS,
    INSTRUCTION_IDS,
    IFEvalKwargsError,
    IFEvalResult,
    check_instruction,
    complete_kwargs,
    describe_instruction,
    follow_instructions,
    loose_variants,
)

RESPONSE = "Hypertension raises the risk of stroke.\nKeep your blood pressure under control."


def test_registry_matches_lm_eval() -> None:
    ref = load_reference()
    assert list(INSTRUCTION_IDS) == list(ref.registry)
    assert len(INSTRUCTION_IDS) == 25
    for iid, cls in ref.registry.items():
        params = [
            p.name
            for p in inspect.signature(cls.build_description).parameters.values()
            if p.name != "self"
        ]
        assert list(INSTRUCTION_ARGS[iid]) == params, iid


def test_unknown_instruction_lists_valid_ids() -> None:
    with pytest.raises(ConfigError) as err:
        check_instruction("keywords:nonexistent", {}, RESPONSE)
    assert "keywords:existence" in str(err.value) and "startend:quotation" in str(err.value)


def test_unknown_kwarg_is_rejected_with_valid_names() -> None:
    with pytest.raises(IFEvalKwargsError, match="num_words, relation"):
        check_instruction(
            "length_constraints:number_words", {"num_words": 5, "relaton": "at least"}, RESPONSE
        )
    with pytest.raises(IFEvalKwargsError, match="valid: none"):
        check_instruction("punctuation:no_comma", {"keywords": ["x"]}, RESPONSE)


def test_falsy_kwargs_are_dropped_like_lm_eval() -> None:
    # IFEval rows carry every kwarg name, None where unused: these are ignored.
    kwargs = {"num_highlights": None, "keywords": [], "end_phrase": "", "relation": None}
    assert check_instruction("punctuation:no_comma", kwargs, RESPONSE) == (True, True)
    # ... but 0 is dropped too, after which lm-eval would draw a random threshold.
    with pytest.raises(IFEvalKwargsError, match="'num_bullets' is required"):
        check_instruction("detectable_format:number_bullet_lists", {"num_bullets": 0}, RESPONSE)


@pytest.mark.parametrize(
    ("iid", "kwargs", "match"),
    [
        ("keywords:frequency", {"keyword": "risk", "frequency": 2, "relation": "at most"}, "valid"),
        ("length_constraints:number_sentences", {"num_sentences": -2, "relation": "at least"},
         "positive"),
        ("length_constraints:number_words", {"num_words": "10", "relation": "at least"},
         "integer"),
        ("length_constraints:nth_paragraph_first_word",
         {"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "risk"}, "1..num_paragraphs"),
        ("keywords:letter_frequency", {"letter": "ab", "let_frequency": 2,
                                       "let_relation": "at least"}, "one ASCII letter"),
        ("keywords:existence", {"keywords": "risk"}, "list of strings"),
        ("keywords:existence", {"keywords": ["risk("]}, "regex"),
        ("language:response_language", {"language": "xx"}, "valid"),
        ("combination:repeat_prompt", {}, "prompt_to_repeat"),
        ("change_case:capital_word_frequency", {"capital_frequency": 3}, "capital_relation"),
    ],
)  # fmt: skip
def test_invalid_kwargs_raise(iid: str, kwargs: dict, match: str) -> None:
    with pytest.raises(IFEvalKwargsError, match=match):
        check_instruction(iid, kwargs, RESPONSE)


def test_integral_floats_are_accepted() -> None:
    kwargs = {"num_words": 3.0, "relation": "at least"}
    assert check_instruction("length_constraints:number_words", kwargs, RESPONSE) == (True, True)


def test_follow_instructions_result_and_validation() -> None:
    result = follow_instructions(
        "prompt",
        RESPONSE,
        ["punctuation:no_comma", "keywords:existence"],
        [{}, {"keywords": ["dialysis"]}],
    )
    assert result == IFEvalResult([True, False], [True, False], False, False)
    assert follow_instructions("p", RESPONSE, [], []) == IFEvalResult([], [], True, True)
    with pytest.raises(IFEvalKwargsError, match="same length"):
        follow_instructions("p", RESPONSE, ["punctuation:no_comma"], [])
    # Every instruction is validated before any is checked.
    with pytest.raises(ConfigError):
        follow_instructions("p", RESPONSE, ["punctuation:no_comma", "bogus"], [{}, {}])


def test_memoized_verdicts_are_fresh_and_kwargs_exact() -> None:
    ids = ["length_constraints:number_words"]
    first = follow_instructions("p", RESPONSE, ids, [{"num_words": 3, "relation": "at least"}])
    first.strict[0] = False  # a caller mutating its result does not touch the memo
    again = follow_instructions("p", RESPONSE, ids, [{"num_words": 3, "relation": "at least"}])
    assert again == IFEvalResult([True], [True], True, True)
    # kwargs differing only in type are different keys: a bad value still raises
    with pytest.raises(IFEvalKwargsError):
        follow_instructions("p", RESPONSE, ids, [{"num_words": "3", "relation": "at least"}])
    # unhashable-by-JSON kwargs bypass the memo and still get validated
    with pytest.raises(IFEvalKwargsError):
        follow_instructions("p", RESPONSE, ids, [{"num_words": object(), "relation": "at least"}])


def test_empty_response_never_follows() -> None:
    for iid in ("punctuation:no_comma", "language:response_language"):
        kwargs = {"language": "en"} if iid.startswith("language") else {}
        assert check_instruction(iid, kwargs, "") == (False, False)
        assert check_instruction(iid, kwargs, " \n ") == (False, False)


def test_prompt_never_reaches_repeat_prompt() -> None:
    # lm-eval only re-builds with the row's prompt when an instruction has a "prompt"
    # argument; repeat_prompt's is "prompt_to_repeat", so the row prompt is ignored.
    kwargs = {"prompt_to_repeat": "Explain hypertension."}
    response = "Explain hypertension. It is high blood pressure."
    assert check_instruction("combination:repeat_prompt", kwargs, response, "Other.") == (
        True,
        True,
    )
    assert check_instruction("combination:repeat_prompt", kwargs, "Other. x", "Other.") == (
        False,
        False,
    )


def test_loose_variants_order() -> None:
    assert loose_variants("*a*\nb\n*c*") == [
        "*a*\nb\n*c*", "a\nb\nc", "b\n*c*", "*a*\nb", "b", "b\nc", "a\nb", "b",
    ]  # fmt: skip


def test_describe_is_deterministic_and_completes_with_rng() -> None:
    kwargs = {"num_sentences": 3, "relation": "less than"}
    text = describe_instruction("length_constraints:number_sentences", kwargs)
    assert text == "Your response should contain less than 3 sentences."
    with pytest.raises(IFEvalKwargsError):
        describe_instruction("length_constraints:number_sentences", {})
    a = describe_instruction("keywords:frequency", rng=random.Random(7))
    b = describe_instruction("keywords:frequency", rng=random.Random(7))
    assert a == b


@pytest.mark.parametrize("seed", range(20))
def test_completed_kwargs_are_always_valid(seed: int) -> None:
    rng = random.Random(seed)
    for iid in INSTRUCTION_IDS:
        kwargs = complete_kwargs(iid, rng=rng, prompt="Explain anemia.")
        assert set(kwargs) == set(INSTRUCTION_ARGS[iid])
        check_instruction(iid, kwargs, RESPONSE)  # must not raise
        assert describe_instruction(iid, kwargs)


def test_import_pulls_in_nothing_heavy() -> None:
    code = (
        "import sys, balancedbio.rewards, balancedbio.rewards.ifeval, balancedbio.rewards.cli\n"
        "heavy = [m for m in ('torch', 'nltk', 'langdetect', 'lm_eval', 'regex', "
        "'balancedbio.training') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_memo_keys_only_plain_json_kwargs() -> None:
    """``_plain`` accepts only kwargs that strict JSON encodes and whose repr is exact."""
    import json
    import math

    from balancedbio.rewards.ifeval.evaluate import _plain

    class Text(str):
        pass

    plain = [None, True, 3, 2.5, "x", [], {}, {"a": [1, "b", {"c": None}]}, [False, -0.0]]
    odd = [math.nan, math.inf, (1, 2), {1: "a"}, {"a": (1,)}, Text("x"), object(), {"a": {2}}]
    for value in plain:
        assert _plain(value), value
        json.JSONEncoder(allow_nan=False).encode(value)
    for value in odd:
        assert not _plain(value), value
