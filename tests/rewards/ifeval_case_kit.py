"""Building blocks of the IFEval conformance cases: row constructor, medical bodies, wrappers."""

from __future__ import annotations

import random
from typing import Any

from ifeval_texts import EN_SENTENCES, INTROS, OUTROS, PROMPTS

Case = dict[str, Any]
REL = ("less than", "at least")


def make_case(rng: random.Random, iid: str, kwargs: dict[str, Any], response: str) -> Case:
    return {
        "prompt": rng.choice(PROMPTS),
        "response": response,
        "instruction_id_list": [iid],
        "kwargs": [kwargs],
    }


def medical_body(rng: random.Random, n: int, pool: tuple[str, ...] = EN_SENTENCES) -> str:
    return " ".join(rng.sample(pool, n))


def wrap(rng: random.Random, text: str, mode: int | None = None) -> str:
    """Add nothing, an intro line, an outro line, both, or bold markup."""
    mode = rng.randrange(5) if mode is None else mode
    if mode == 1:
        return f"{rng.choice(INTROS)}\n{text}"
    if mode == 2:
        return f"{text}\n{rng.choice(OUTROS)}"
    if mode == 3:
        return f"{rng.choice(INTROS)}\n\n{text}\n\n{rng.choice(OUTROS)}"
    if mode == 4:
        words = text.split(" ")
        i = rng.randrange(len(words))
        words[i] = f"**{words[i]}**"
        return " ".join(words)
    return text


def around(n: int) -> list[int]:
    return [v for v in (n - 1, n, n + 1) if v >= 1]


def threshold_near(i: int, n: int) -> dict[str, Any]:
    """Threshold at the measured count -1, exactly, +1 and both relations, cycling with ``i``.

    Counts are measured with our implementation: where it disagreed with lm-eval's count,
    one of these thresholds flips lm-eval's verdict but not ours.
    """
    return {"n": max(1, n + i % 3 - 1), "relation": REL[(i // 3) % 2]}
