"""Natural-language instruction text for given kwargs, for synthetic prompt generation.

:func:`describe_instruction` renders exactly what lm-eval 0.4.13's ``build_description``
returns for the same (valid) kwargs, so generated prompts read like IFEval prompts.
:func:`complete_kwargs` fills absent arguments the way lm-eval draws them, but from a
caller-supplied, seeded :class:`random.Random` (never the global one) and only within
ranges a response can satisfy (lm-eval can draw ``nth_paragraph = num_paragraphs + 1``).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from balancedbio.rewards.ifeval import checks
from balancedbio.rewards.ifeval.registry import LANGUAGE_CODES, get_spec, normalize_kwargs

ENDING_OPTIONS = ("Any other questions?", "Is there anything else I can help with?")
POSTSCRIPT_MARKERS = ("P.S.", "P.P.S")
SECTION_SPLITTERS = ("Section", "SECTION")

# Keyword pool for sampled keywords / forbidden words / first words. lm-eval draws from a
# general word list; medical vocabulary suits our prompts better.
MEDICAL_VOCABULARY: tuple[str, ...] = (
    "patient", "symptom", "diagnosis", "treatment", "therapy", "dose", "infection",
    "vaccine", "chronic", "acute", "inflammation", "blood", "pressure", "heart", "lung",
    "kidney", "liver", "brain", "gene", "protein", "cell", "tissue", "immune", "antibody",
    "clinical", "trial", "risk", "prevention", "screening", "nutrition", "exercise",
    "sleep", "pain", "fever", "cough", "diabetes", "insulin", "cancer", "tumor", "surgery",
    "recovery", "medication", "allergy", "asthma", "stroke", "cholesterol", "hormone",
    "pregnancy", "infant", "elderly", "hospital", "nurse", "physician", "pharmacy",
)  # fmt: skip

_TEMPLATES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "keywords:existence": lambda a: f"Include keywords {a['keywords']} in the response.",
    "keywords:frequency": lambda a: (
        f"In your response, the word {a['keyword']} should appear {a['relation']} "
        f"{a['frequency']} times."
    ),
    "keywords:forbidden_words": lambda a: (
        f"Do not include keywords {a['forbidden_words']} in the response."
    ),
    "keywords:letter_frequency": lambda a: (
        f"In your response, the letter {a['letter']} should appear {a['let_relation']} "
        f"{a['let_frequency']} times."
    ),
    "language:response_language": lambda a: (
        f"Your ENTIRE response should be in {LANGUAGE_CODES[a['language']]} language, no "
        "other language is allowed."
    ),
    "length_constraints:number_sentences": lambda a: (
        f"Your response should contain {a['relation']} {a['num_sentences']} sentences."
    ),
    "length_constraints:number_paragraphs": lambda a: (
        f"There should be {a['num_paragraphs']} paragraphs. Paragraphs are separated with "
        "the markdown divider: ***"
    ),
    "length_constraints:number_words": lambda a: (
        f"Answer with {a['relation']} {a['num_words']} words."
    ),
    "length_constraints:nth_paragraph_first_word": lambda a: (
        f"There should be {a['num_paragraphs']} paragraphs. Paragraphs and only paragraphs "
        "are separated with each other by two new lines as if it was '\\n\\n' in python. "
        f"Paragraph {a['nth_paragraph']} must start with word {a['first_word']}."
    ),
    "detectable_content:number_placeholders": lambda a: (
        f"The response must contain at least {a['num_placeholders']} placeholders "
        "represented by square brackets, such as [address]."
    ),
    "detectable_content:postscript": lambda a: (
        "At the end of your response, please explicitly add a postscript starting with "
        f"{a['postscript_marker']}"
    ),
    "detectable_format:number_bullet_lists": lambda a: (
        f"Your answer must contain exactly {a['num_bullets']} bullet points. Use the "
        "markdown bullet points such as:\n* This is point 1. \n* This is point 2"
    ),
    "detectable_format:constrained_response": lambda a: (
        f"Answer with one of the following options: {checks.CONSTRAINED_RESPONSE_OPTIONS}"
    ),
    "detectable_format:number_highlighted_sections": lambda a: (
        f"Highlight at least {a['num_highlights']} sections in your answer with markdown, "
        "i.e. *highlighted section*."
    ),
    "detectable_format:multiple_sections": lambda a: (
        f"Your response must have {a['num_sections']} sections. Mark the beginning of each "
        f"section with {a['section_spliter']} X, such as:\n{a['section_spliter']} 1\n"
        f"[content of section 1]\n{a['section_spliter']} 2\n[content of section 2]"
    ),
    "detectable_format:json_format": lambda a: (
        "Entire output should be wrapped in JSON format. You can use markdown ticks such as ```."
    ),
    "detectable_format:title": lambda a: (
        "Your answer must contain a title, wrapped in double angular brackets, such as "
        "<<poem of joy>>."
    ),
    "combination:two_responses": lambda a: (
        "Give two different responses. Responses and only responses should be separated by "
        "6 asterisk symbols: ******."
    ),
    "combination:repeat_prompt": lambda a: (
        "First repeat the request word for word without change, then give your answer (1. "
        "do not say any words or characters before repeating the request; 2. the request "
        "you need to repeat does not include this sentence)"
    ),
    "startend:end_checker": lambda a: (
        f"Finish your response with this exact phrase {a['end_phrase']}. No other words "
        "should follow this phrase."
    ),
    "change_case:capital_word_frequency": lambda a: (
        "In your response, words with all capital letters should appear "
        f"{a['capital_relation']} {a['capital_frequency']} times."
    ),
    "change_case:english_capital": lambda a: (
        "Your entire response should be in English, and in all capital letters."
    ),
    "change_case:english_lowercase": lambda a: (
        "Your entire response should be in English, and in all lowercase letters. No "
        "capital letters are allowed."
    ),
    "punctuation:no_comma": lambda a: (
        "In your entire response, refrain from the use of any commas."
    ),
    "startend:quotation": lambda a: "Wrap your entire response with double quotation marks.",
}


def complete_kwargs(
    instruction_id: str,
    kwargs: Mapping[str, Any] | None = None,
    *,
    rng: random.Random,
    prompt: str | None = None,
    vocabulary: Sequence[str] = MEDICAL_VOCABULARY,
) -> dict[str, Any]:
    """Return ``kwargs`` (falsy values dropped) with every absent argument drawn from ``rng``.

    Ranges follow lm-eval's constants. ``prompt_to_repeat`` defaults to ``prompt``.
    """
    spec = get_spec(instruction_id)
    out = {k: v for k, v in (kwargs or {}).items() if v}
    for name in spec.params:  # in order: num_paragraphs is drawn before nth_paragraph
        if name not in out:
            value = _DRAWS[name](rng, vocabulary, prompt, out)
            if value:
                out[name] = value
    return out


_Draw = Callable[[random.Random, Sequence[str], "str | None", dict[str, Any]], Any]
#: How :func:`complete_kwargs` draws each argument: ``(rng, vocabulary, prompt, drawn so far)``.
_DRAWS: dict[str, _Draw] = {
    "keywords": lambda rng, v, p, out: rng.sample(list(v), k=2),
    "forbidden_words": lambda rng, v, p, out: rng.sample(list(v), k=2),
    "keyword": lambda rng, v, p, out: rng.choice(v),
    "first_word": lambda rng, v, p, out: rng.choice(v),
    "frequency": lambda rng, v, p, out: rng.randint(1, 3),
    "let_frequency": lambda rng, v, p, out: rng.randint(1, 10),
    "capital_frequency": lambda rng, v, p, out: rng.randint(1, 20),
    "relation": lambda rng, v, p, out: rng.choice(checks.RELATIONS),
    "let_relation": lambda rng, v, p, out: rng.choice(checks.RELATIONS),
    "capital_relation": lambda rng, v, p, out: rng.choice(checks.RELATIONS),
    "letter": lambda rng, v, p, out: rng.choice(string.ascii_letters).lower(),
    "language": lambda rng, v, p, out: rng.choice(list(LANGUAGE_CODES)),
    "num_sentences": lambda rng, v, p, out: rng.randint(1, 20),
    "num_placeholders": lambda rng, v, p, out: rng.randint(1, 4),
    "num_bullets": lambda rng, v, p, out: rng.randint(1, 5),
    "num_highlights": lambda rng, v, p, out: rng.randint(1, 4),
    "num_sections": lambda rng, v, p, out: rng.randint(1, 5),
    "num_paragraphs": lambda rng, v, p, out: rng.randint(1, 5),
    "num_words": lambda rng, v, p, out: rng.randint(100, 500),
    "section_spliter": lambda rng, v, p, out: rng.choice(SECTION_SPLITTERS),
    "postscript_marker": lambda rng, v, p, out: rng.choice(POSTSCRIPT_MARKERS),
    "end_phrase": lambda rng, v, p, out: rng.choice(ENDING_OPTIONS),
    "nth_paragraph": lambda rng, v, p, out: rng.randint(1, int(out["num_paragraphs"])),
    "prompt_to_repeat": lambda rng, v, p, out: p,
}


def describe_instruction(
    instruction_id: str,
    kwargs: Mapping[str, Any] | None = None,
    *,
    rng: random.Random | None = None,
    prompt: str | None = None,
) -> str:
    """The instruction text lm-eval's ``build_description`` gives for these kwargs.

    Deterministic: absent arguments raise :class:`IFEvalKwargsError` unless ``rng`` is
    passed, in which case they are drawn by :func:`complete_kwargs`.
    """
    if rng is not None:
        kwargs = complete_kwargs(instruction_id, kwargs, rng=rng, prompt=prompt)
    return _TEMPLATES[instruction_id](normalize_kwargs(instruction_id, kwargs))
