"""Random IFEval rows: random kwargs for random instructions on noisy, mixed responses.

Complements the templated cases with inputs nobody thought of: fragments that stress
Punkt and the word tokenizer, markup of every instruction type, case changes, other
languages, intro/outro lines.
"""

from __future__ import annotations

import random
from typing import Any

from ifeval_texts import EN_SENTENCES, FOREIGN, INTROS, OUTROS, PIECES, PROMPTS, UPPER_WORDS

from balancedbio.rewards.ifeval import INSTRUCTION_IDS, complete_kwargs

MARKUP = (
    "***", "******", "\n\n", "\n", "* ", "- ", "P.S.", "p.p.s", "<<T>>", "[x]", "SECTION 2",
    "Section 1", "```json", "```", '{"a": 1}', '"', "*hi*", "**b**", ",", "My answer is yes.",
    "Any other questions?", "insulin", "Insulin", "risk",
)  # fmt: skip
VOCABULARY = ("insulin", "risk", "pain", "the", "a", "section", "p.s")


def _response(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 25)):
        r = rng.random()
        if r < 0.35:
            parts.append(rng.choice(EN_SENTENCES))
        elif r < 0.6:
            parts.append(rng.choice(PIECES))
        elif r < 0.85:
            parts.append(rng.choice(MARKUP))
        elif r < 0.9:
            parts.append(rng.choice(list(FOREIGN.values())))
        else:
            parts.append(rng.choice(UPPER_WORDS))
    text = rng.choice([" ", "", "\n"]).join(parts)
    case = rng.random()
    text = text.upper() if case < 0.2 else text.lower() if case < 0.4 else text
    if rng.random() < 0.3:
        text = f"{rng.choice(INTROS)}\n{text}"
    if rng.random() < 0.3:
        text = f"{text}\n{rng.choice(OUTROS)}"
    return text


def fuzz_cases(n: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        prompt = rng.choice(PROMPTS)
        ids = rng.sample(INSTRUCTION_IDS, rng.randint(1, 3))
        kwargs = []
        for iid in ids:
            kw = complete_kwargs(iid, rng=rng, prompt=prompt, vocabulary=VOCABULARY)
            if "language" in kw:
                kw["language"] = rng.choice(["en", "fr", "es", "de", "hi", "ru"])
            if "num_words" in kw:
                kw["num_words"] = rng.randint(1, 120)
            kwargs.append(kw)
        out.append(
            {"prompt": prompt, "response": _response(rng), "instruction_id_list": ids,
             "kwargs": kwargs}
        )  # fmt: skip
    return out
