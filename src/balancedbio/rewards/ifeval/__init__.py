"""IFEval instruction-following verifiers, verdict-for-verdict identical to lm-eval 0.4.13.

All 25 instruction types of lm-eval's ``ifeval`` task, strict and loose, as pure functions
(no torch, no lm-eval at run time, no downloads)::

    from balancedbio.rewards.ifeval import check_instruction, follow_instructions

    check_instruction("punctuation:no_comma", {}, "No commas here.")  # (True, True)
    follow_instructions(prompt, response, ["startend:quotation"], [{}]).strict  # [...]

:func:`describe_instruction` renders an instruction's text for the data generator.
"""

from balancedbio.rewards.ifeval._text import LANGDETECT_SEED
from balancedbio.rewards.ifeval.describe import complete_kwargs, describe_instruction
from balancedbio.rewards.ifeval.evaluate import (
    IFEvalResult,
    check_instruction,
    follow_instructions,
    loose_variants,
)
from balancedbio.rewards.ifeval.registry import (
    INSTRUCTION_ARGS,
    INSTRUCTION_IDS,
    LANGUAGE_CODES,
    IFEvalKwargsError,
    normalize_kwargs,
)

__all__ = [
    "INSTRUCTION_ARGS",
    "INSTRUCTION_IDS",
    "LANGDETECT_SEED",
    "LANGUAGE_CODES",
    "IFEvalKwargsError",
    "IFEvalResult",
    "check_instruction",
    "complete_kwargs",
    "describe_instruction",
    "follow_instructions",
    "loose_variants",
    "normalize_kwargs",
]
