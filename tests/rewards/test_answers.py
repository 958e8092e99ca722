"""Answer extraction and grading: MCQ letters, numbers, dates, exact match, format checks."""

from __future__ import annotations

from datetime import date

import pytest

from balancedbio.rewards.answers import (
    exact_match,
    extract_choice,
    extract_date,
    extract_final_answer,
    extract_number,
    extract_section,
    extract_tag,
    extract_weeks_days,
    find_numbers,
    grade_mcq,
    grade_numeric,
    has_sections,
    has_tags,
    normalize_text,
)

CHOICES = [
    "Ehlers-Danlos syndrome",
    "Marfan syndrome",
    "Homocystinuria",
    "Klinefelter syndrome",
    "Stickler syndrome",
]


# --------------------------------------------------------------------------- multiple choice


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("B", "B"),
        ("b", "B"),
        ("(B)", "B"),
        ("B.", "B"),
        ("**B**", "B"),
        ("The answer is (B)", "B"),
        ("The answer is B.", "B"),
        ("Answer: B", "B"),
        ("**Answer:** B", "B"),
        ("Final answer: **C**", "C"),
        ("(B) Marfan syndrome", "B"),
        ("B. Marfan syndrome", "B"),
        ("B) Marfan syndrome", "B"),
        ("Marfan syndrome", "B"),
        ("marfan  SYNDROME.", "B"),
        ("The answer is: B) Marfan", "B"),
        ('{"answer": "D"}', "D"),
        ("The correct option is E because the palate is cleft.", "E"),
        ("The answer is A because it fits best.", "A"),
        ("The answer is A, not B.", "A"),
        ("The answer is B, not A.", "B"),
        ("Answer: a", "A"),
        ("<answer>C</answer>", "C"),
        ("<think>Could be A or B.</think>\n<answer>(C) Homocystinuria</answer>", "C"),
        ("<think>Lens goes up.</think>The answer is B.", "B"),
        # reasoning first, the LAST explicit statement wins
        ("Upward lens dislocation... so not A. The answer is C.", "C"),
        ("Answer: A\nOn reflection, the answer is D.", "D"),
        ("The answer is C.\nI hope this answer is helpful.", "C"),
        ("Reasoning about A and C...\n\nB", "B"),
        ("Thinking: tall, long fingers, lens up.\n\n(B) Marfan syndrome", "B"),
        ("The answer is Marfan syndrome, not Ehlers-Danlos syndrome.", "B"),
        ("I think it's homocystinuria given the downward lens.", "C"),
    ],
)
def test_extract_choice_phrasings(text: str, letter: str) -> None:
    assert extract_choice(text, CHOICES) == letter


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I am not sure.",
        "It could be Marfan syndrome or Ehlers-Danlos syndrome.",  # two options, no statement
        "(A) is wrong because (C) fits better",  # two letters, no statement
        "E. coli is a common cause.",  # 'E.' is not a choice
        "A 45-year-old man with tall stature.",  # article, not option A
        "The answer is F.",  # not a valid letter
        "The answer is a cyst.",  # article
        "The answer is not clear.",
        "<answer>maybe</answer> The answer is B.",  # the tag is authoritative
    ],
)
def test_extract_choice_refuses_to_guess(text: str) -> None:
    assert extract_choice(text, CHOICES) is None


def test_extract_choice_mapping_letters_and_prefixed_options() -> None:
    options = {"A": "A. Aspirin", "B": "B. Warfarin", "C": "C. Heparin"}
    assert extract_choice("warfarin", options) == "B"
    assert extract_choice("The answer is C", options) == "C"
    assert extract_choice("The answer is D", options) is None  # only A-C exist
    assert extract_choice("Answer: 2", ["x", "y"], letters="12") == "2"


def test_grade_mcq_accepts_letter_index_or_text() -> None:
    assert grade_mcq("The answer is B.", CHOICES, "B")
    assert grade_mcq("The answer is B.", CHOICES, "b")
    assert grade_mcq("The answer is B.", CHOICES, 1)
    assert grade_mcq("The answer is B.", CHOICES, "Marfan syndrome")
    assert not grade_mcq("The answer is C.", CHOICES, "B")
    assert not grade_mcq("unsure", CHOICES, "B")
    with pytest.raises(ValueError, match="not one of the options"):
        grade_mcq("B", CHOICES, "Z")


# --------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42.0),
        ("The answer is 23.5", 23.5),
        ("Answer: 23.5 kg/m^2 (normal 18.5-24.9)", 23.5),
        ("Answer: 70 / (1.75 * 1.75) = 22.86 kg/m^2", 22.86),
        ("The BMI is 24.2 kg/m^2.", 24.2),  # the ^2 is not a number
        ("The anion gap is 140 - (104 + 24) = 12 mEq/L", 12.0),
        ("x = -5", -5.0),
        ("The free water deficit is −3.2 L", -3.2),  # unicode minus
        ("Total: 1,234.5 mL", 1234.5),
        ("The answer is 1.2e-3", 0.0012),
        ("Platelets 2.5 x 10^5", 250000.0),
        ("FENa is 11.6%", 11.6),
        ("<answer>-0.32 L</answer>", -0.32),
        ("The answer is 5.\nI hope this answer is helpful.", 5.0),
        ('{"step_by_step_thinking": "the answer is 3", "answer": "24.2"}', 24.2),
        ("CO2 of 24", 24.0),
        ("<think>maybe 7</think>\nSo the score is 3 points.", 3.0),
        ("range 18.5-24.9", 24.9),
    ],
)
def test_extract_number(text: str, value: float) -> None:
    assert extract_number(text) == pytest.approx(value)


def test_extract_number_none_when_absent() -> None:
    assert extract_number("no numbers here") is None
    assert extract_number("<answer>unknown</answer> 42") is None
    assert find_numbers("HbA1c 7.2, 3 out of 5") == [7.2, 3.0, 5.0]
    assert find_numbers("1.5×10^−2 and 1e999") == [0.015, float("inf")]  # no OverflowError
    assert not grade_numeric("1e999", 1.0)


def test_decimal_tolerance_is_five_percent_inclusive() -> None:
    gold = 23.543
    assert grade_numeric(f"Answer: {gold}", gold)
    assert grade_numeric(f"Answer: {gold * 1.05}", gold)
    assert grade_numeric(f"Answer: {gold * 0.95}", gold)
    assert not grade_numeric(f"Answer: {gold * 1.051}", gold)
    assert not grade_numeric(f"Answer: {gold * 0.949}", gold)
    assert grade_numeric("105", 100) and grade_numeric("95", 100)
    assert not grade_numeric("105.1", 100) and not grade_numeric("94.9", 100)


def test_decimal_uses_dataset_limits_and_rel_tol_override() -> None:
    # MedCalc-Bench row: gold 25.2381, Lower Limit 23.97619, Upper Limit 26.50001
    kw = {"lower": "23.97619", "upper": "26.50001"}
    assert grade_numeric("26.5", "25.2381", **kw)
    assert not grade_numeric("26.6", "25.2381", **kw)
    assert grade_numeric("110", 100, rel_tol=0.1)
    assert not grade_numeric("104", 100, rel_tol=0.01)
    assert grade_numeric("-4.9", -4.75)  # negative gold gets a real window
    assert not grade_numeric("-5.3", -4.75)
    assert not grade_numeric("no answer", 1.0)


def test_integer_is_exact_after_rounding() -> None:
    assert grade_numeric("The score is 3.", 3, kind="integer")
    assert grade_numeric("3.4", "3", kind="integer")  # MedCalc-Bench rounds the answer
    assert not grade_numeric("3.6", 3, kind="integer")
    assert not grade_numeric("4", 3, kind="integer")
    assert grade_numeric("Answer: -1", -1, kind="integer")
    assert not grade_numeric("3 points", 3.5, kind="integer")


def test_dates_and_weeks_days() -> None:
    assert extract_date("The due date is 6/30/2012.") == date(2012, 6, 30)
    assert grade_numeric("The answer is 06/30/2012", "6/30/2012", kind="date")
    assert not grade_numeric("The answer is 07/01/2012", "06/30/2012", kind="date")
    assert not grade_numeric("13/45/2012", "06/30/2012", kind="date")
    assert extract_weeks_days("(4 weeks, 2 days)") == (4, 2)
    assert extract_weeks_days("16 weeks and 1 day") == (16, 1)
    assert extract_weeks_days("('4 weeks', '2 days')") == (4, 2)
    assert extract_weeks_days("Answer: (4, 2)") == (4, 2)
    gold = ("16 weeks", "1 days")  # as medcalc returns it
    assert grade_numeric("The gestational age is 16 weeks and 1 day.", gold, kind="weeks_days")
    assert not grade_numeric("(16 weeks, 2 days)", gold, kind="weeks_days")
    assert grade_numeric("(16, 1)", "(16 weeks, 1 days)", kind="weeks_days")
    with pytest.raises(ValueError, match="unknown output kind"):
        grade_numeric("1", 1, kind="fraction")


# --------------------------------------------------------------------------- exact match, format


def test_normalize_and_exact_match() -> None:
    assert normalize_text("The  Marfan-Syndrome!") == "marfan syndrome"
    assert exact_match("the marfan syndrome", "Marfan syndrome.")
    assert exact_match("BRCA1", ["TP53", "brca1"])
    assert not exact_match("Marfan", "Marfan syndrome")
    assert not exact_match(None, "x")
    assert extract_final_answer("Reasoning...\nAnswer: **Marfan syndrome**") == "Marfan syndrome"


def test_tags() -> None:
    good = "<think>lens up</think>\n<answer>B</answer>"
    assert has_tags(good)
    assert extract_tag(good, "answer") == "B"
    assert extract_tag(good, "missing") is None
    assert not has_tags("<answer>B</answer><think>x</think>")  # wrong order
    assert has_tags("<answer>B</answer><think>x</think>", ordered=False)
    assert not has_tags("<think>x</think>")  # answer missing
    assert not has_tags("<think></think><answer>B</answer>")  # empty block
    assert not has_tags("<think>a</think><think>b</think><answer>B</answer>")  # twice
    assert not has_tags("<think>a</think><answer>B</answer><answer>")  # stray tag
    assert has_tags("<answer>B</answer>", tags=("answer",))


def test_sections() -> None:
    text = "Reasoning: lens dislocates upward.\n\n**Answer:** B"
    assert has_sections(text)
    assert has_sections("## Reasoning\nblah\n## Answer\nB")
    assert not has_sections("**Answer:** B\n**Reasoning:** x")  # wrong order
    assert has_sections("**Answer:** B\n**Reasoning:** x", ordered=False)
    assert not has_sections("Answer the question: B")  # not a heading
    assert extract_section(text, "Answer") == "B"
    assert extract_section(text, "Reasoning") == "lens dislocates upward."
    assert extract_section(text, "Conclusion") is None


def test_ascii_shortcuts_match_the_unicode_paths() -> None:
    """``normalize_text`` and the answer cues on ASCII (one bytes translation; lower-cased
    text with a case-sensitive pattern) equal the general Unicode steps."""
    import random
    import re
    import string
    import unicodedata

    from balancedbio.rewards.answers import _ARTICLES, _CUE, _cue_fragments, normalize_text

    def plain_normalize(text: str) -> str:
        text = unicodedata.normalize("NFKC", text).casefold()
        text = "".join(" " if unicodedata.category(ch).startswith("P") else ch for ch in text)
        text = "".join(ch for ch in text if ch not in string.punctuation)
        return " ".join(_ARTICLES.sub(" ", text).split())

    words = "answer Answer OPTION choice the answer is would be: = ** _ A an The x1 ~ $ + < >"
    pieces = [*words.split(), *map(chr, range(128))]
    rng = random.Random(0)
    for _ in range(3000):
        text = rng.choice(["", " ", "\n"]).join(rng.choice(pieces) for _ in range(12))
        assert normalize_text(text) == plain_normalize(text), text
        frags = [text[m.end() :].split("\n", 1)[0].strip() for m in _CUE.finditer(text)][::-1]
        if re.search("answer|option|choice", text, re.IGNORECASE):
            assert _cue_fragments(text) == frags, text
