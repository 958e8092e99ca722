"""Instruction topics: one claims pass over the composed reference (see TopicInstruction.build)."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from mkgsg_helpers import engine  # noqa: E402

from balancedbio.data.constructors import compose  # noqa: E402
from balancedbio.data.constructors.instruction import false_sentences  # noqa: E402
from balancedbio.data.records import Rejection  # noqa: E402
from balancedbio.rewards.claims import check_claims  # noqa: E402


def test_build_matches_the_plain_path_unless_the_reference_reads_a_claim_as_false() -> None:
    """``build`` composes first and checks the reference once; the plain path (``inputs``
    then ``make``) claims-checks the sentences up front. Where they differ, the reference
    read in context had a false claim the plain path kept (the validator rejects it)."""
    eng = engine((("instruction", 120),))
    con = eng.constructors["instruction"]
    same = 0
    for seed in eng.seeds():
        fast = con.build(seed)
        rng = seed.rng()
        got = con.inputs(seed, rng)
        plain = got if isinstance(got, Rejection) else con.make(seed, rng, **got)
        if fast == plain:
            same += 1
        else:
            assert isinstance(plain, dict) and eng.validator(plain) is not None, seed
        if isinstance(fast, dict):
            ref = fast["reference"]
            assert check_claims(ref, eng.kg) is check_claims(ref, eng.kg)
            assert eng.validator.claim_problems(ref) == [], ref
    assert same >= 100


def test_shown_sentences_occur_in_the_finished_response() -> None:
    rng = random.Random(3)
    sents = [
        'Erythrokeratoderma is also known as Degos "en cocardes"; both names are in use.',
        "Marfan syndrome is characterized by tall stature, arachnodactyly and myopia.",
        "Ataxia is a type of movement disorder.",
    ]
    steps = [
        "change_case:english_lowercase",
        "change_case:english_capital",
        "punctuation:no_comma",
        "detectable_format:json_format",
        "startend:quotation",
    ]
    for _ in range(60):
        ids = [i for i in steps if rng.random() < 0.5]
        if set(compose.CASE) <= set(ids):
            ids.remove("change_case:english_capital")
        plan = compose.Plan(ids, {i: {} for i in ids}, "Describe it.", "it", sents)
        text = compose.finish(plan, "Intro line.\n\n" + " ".join(sents) + "\nEnd.")
        shown = [compose.shown(plan, s) for s in sents]
        assert all(s in text for s in shown), (ids, text)
        assert false_sentences(check_claims(text, engine().kg), text, shown) is not None
