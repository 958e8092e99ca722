"""MedCalc-Bench adapter: every supported calculator yields cases the grader agrees with."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from balancedbio.rewards.answers import grade_numeric
from balancedbio.rewards.calculators import (
    MEDCALC_VERSION,
    CalculatorCase,
    compute_case,
    list_calculators,
    make_case,
    random_inputs,
    supported_calculators,
    unsupported_calculators,
)
from balancedbio.rewards.registry import build_reward

SUPPORTED = supported_calculators()
COMMON = [
    "bmi_calculator",
    "mean_arterial_pressure",
    "anion_gap",
    "cha2ds2_vasc_score",
    "curb_65",
    "centor_score",
    "creatinine_clearance",
    "ckd_epi_2021_creatinine",
    "calcium_correction",
    "qt_calculator_bazett",
    "wells_criteria_pe",
    "has_bled_score",
    "glasgow_coma_score",
    "sch",
    "free_water_deficit",
    "ldl_calculated",
]


def _perturbed(case: CalculatorCase) -> str:
    """The gold made wrong: +10 % for decimals (+1 at 0), +1 for scores, +1 day for dates."""
    if case.output_kind == "decimal":
        value = float(case.answer)
        return str(value * 1.1 if value else 1.0)
    if case.output_kind == "integer":
        return str(int(case.answer) + 1)
    if case.output_kind == "date":
        day = datetime.strptime(str(case.answer), "%m/%d/%Y") + timedelta(days=1)
        return day.strftime("%m/%d/%Y")
    weeks, days = case.answer  # type: ignore[misc]
    return f"({weeks} weeks, {days + 1} days)"


def test_version_recorded_and_common_calculators_supported() -> None:
    assert MEDCALC_VERSION == "1.7.0"
    missing = [c for c in COMMON if c not in SUPPORTED]
    assert not missing, unsupported_calculators()
    assert len(SUPPORTED) >= 40


def test_broken_calculators_are_listed_not_raised() -> None:
    infos = list_calculators()
    assert "target_weight" in infos  # its import fails in medcalc-bench 1.7.0
    broken = infos["target_weight"]
    assert not broken.supported and "ImportError" in broken.reason and broken.function is None
    reasons = unsupported_calculators()
    assert all(reasons.values())  # every unsupported calculator says why
    with pytest.raises(KeyError, match="target_weight"):
        make_case("target_weight", 0)


def test_buggy_calculators_fail_their_self_check() -> None:
    reasons = unsupported_calculators()
    assert "self-check failed" in reasons["sirs_criteria"]  # counts HR <= 90 as a criterion
    assert "self-check failed" in reasons["framingham_risk_score"]


@pytest.mark.parametrize("calculator_id", SUPPORTED)
def test_gold_accepted_and_perturbed_rejected(calculator_id: str) -> None:
    rng = random.Random(1234)
    for _ in range(5):
        case = make_case(calculator_id, rng)
        assert case.explanation and case.calculator_id == calculator_id
        assert case.output_kind in ("decimal", "integer", "date", "weeks_days")
        kw = {"lower": case.lower, "upper": case.upper, "kind": case.output_kind}
        assert grade_numeric(f"The answer is {case.answer_text}.", case.answer, **kw), case
        wrong = _perturbed(case)
        assert not grade_numeric(f"The answer is {wrong}.", case.answer, **kw), (case, wrong)
        if case.output_kind == "decimal":
            assert case.lower is not None and case.upper is not None
            assert case.lower <= float(case.answer) <= case.upper
            assert case.upper - case.lower == pytest.approx(0.1 * abs(float(case.answer)))


def test_cases_are_reproducible_and_inputs_not_mutated() -> None:
    a, b = make_case("centor_score", 7), make_case("centor_score", random.Random(7))
    assert a == b
    inputs = random_inputs("has_bled_score", random.Random(3))
    snapshot = repr(inputs)
    compute_case("has_bled_score", inputs)
    assert repr(inputs) == snapshot  # medcalc mutates its argument; we pass a copy


def test_known_values() -> None:
    bmi = compute_case("bmi_calculator", {"weight": (70.0, "kg"), "height": (175.0, "cm")})
    assert bmi.answer == pytest.approx(22.857) and bmi.output_kind == "decimal"
    gcs = compute_case(
        "glasgow_coma_score",
        {
            "best_eye_response": "eyes open spontaneously",
            "best_verbal_response": "oriented",
            "best_motor_response": "obeys commands",
        },
    )
    assert gcs.answer == 15 and gcs.lower == gcs.upper == 15.0
    age = compute_case(
        "gestational_age", {"current_date": "03/01/2020", "menstrual_date": "01/01/2020"}
    )
    assert age.answer == (8, 4) and age.answer_text == "(8 weeks, 4 days)"


def test_case_row_feeds_numeric_reward() -> None:
    reward = build_reward("numeric_accuracy")
    cases = [make_case(cid, 11) for cid in ("bmi_calculator", "curb_65", "conception_date")]
    rows = [c.to_row() for c in cases]
    columns = {k: [row[k] for row in rows] for k in rows[0]}
    good = [f"<answer>{c.answer_text}</answer>" for c in cases]
    bad = [f"<answer>{_perturbed(c)}</answer>" for c in cases]
    assert reward(good, **columns) == [1.0, 1.0, 1.0]
    assert reward(bad, **columns) == [0.0, 0.0, 0.0]
    assert rows[0]["medcalc_version"] == MEDCALC_VERSION
