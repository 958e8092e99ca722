"""Reasoning-trace parsing and the clinical workflow rules, on real HPO/MONDO/OMIM data."""

from __future__ import annotations

import pytest

from balancedbio.config import ConfigError
from balancedbio.knowledge import KnowledgeGraph
from balancedbio.rewards.workflow import (
    FORMAT_INSTRUCTION,
    RULES,
    WorkflowContext,
    WorkflowSpec,
    check_workflow,
    differential_candidates,
    evaluate_workflow,
    format_trace,
    parse_trace,
    workflow_score,
)

MARFAN = "MONDO:0007947"
MARFAN_OMIM = "OMIM:154700"

VALID = """Presentation: 17-year-old with tall stature, arachnodactyly and ectopia lentis.
History/Exam: Father died of an aortic dissection. Pectus excavatum and myopia. Weight 62 kg.
Differential: Marfan syndrome, homocystinuria, Loeys-Dietz syndrome.
Investigations: Echocardiography shows aortic root dilatation. Creatinine 0.8 mg/dL.
Diagnosis: Marfan syndrome.
Management: Beta-blocker, annual echocardiography, avoid contact sports.
Answer: Marfan syndrome
"""


def trace_with(**steps: str) -> str:
    """A trace with the given steps (name=content), in the given order."""
    label = {"history_exam": "History/Exam"}
    return "\n".join(f"{label.get(k, k.title())}: {v}" for k, v in steps.items())


def rules_of(violations: list) -> set[str]:
    return {v.rule for v in violations}


# --------------------------------------------------------------------------- parsing


def test_parse_trace_canonical_format() -> None:
    trace = parse_trace(VALID)
    assert trace.names == (
        "presentation",
        "history_exam",
        "differential",
        "investigations",
        "diagnosis",
        "management",
    )
    assert trace.answer == "Marfan syndrome"
    diag = trace.first("diagnosis")
    assert diag is not None and diag.content == "Marfan syndrome." and diag.heading == "Diagnosis:"
    for step in trace.steps:
        assert VALID[step.content_start : step.end] == step.content
        assert VALID[step.start :].startswith(step.heading)


def test_parse_trace_heading_variants() -> None:
    text = (
        "**Clinical presentation:** fever\n"
        "## History and Examination\nno rash\n"
        "1. DDx: pneumonia, pulmonary embolism\n"
        "- Work-up - chest X-ray\n"
        "Step 5: Most likely diagnosis: pneumonia\n"
        "**Treatment plan**: amoxicillin\n"
        "PHYSICAL EXAM: crackles\n"
        "**Final answer:** **pneumonia**\n"
    )
    trace = parse_trace(text)
    assert trace.names == (
        "presentation",
        "history_exam",
        "differential",
        "investigations",
        "diagnosis",
        "management",
        "history_exam",
    )
    assert [s.content for s in trace.steps[:3]] == [
        "fever",
        "no rash",
        "pneumonia, pulmonary embolism",
    ]
    assert trace.first("investigations").content == "chest X-ray"  # type: ignore[union-attr]
    assert trace.first("management").heading == "**Treatment plan**:"  # type: ignore[union-attr]
    assert trace.answer == "pneumonia"


def test_prose_is_not_a_heading() -> None:
    text = "Diagnosis: asthma\nThe differential diagnosis includes COPD.\nHistory of smoking."
    trace = parse_trace(text)
    assert trace.names == ("diagnosis",)
    assert "COPD" in trace.steps[0].content and trace.answer is None
    assert parse_trace("").steps == () and parse_trace("no headings here").steps == ()


# --------------------------------------------------------------------------- structure rules


def test_valid_trace_has_no_violations(kg: KnowledgeGraph) -> None:
    result = evaluate_workflow(VALID, WorkflowContext(kg=kg, diagnosis_id=MARFAN_OMIM))
    assert result.violations == ()
    assert result.checked == RULES and result.score == 1.0
    assert result.notes["differential_size"] == 3
    supported, total = map(int, result.notes["diagnosis_supported"].split()[0].split("/"))
    assert supported == total >= 4  # tall stature, arachnodactyly, ectopia lentis, aortic root...


def test_management_before_diagnosis_breaks_order() -> None:
    text = trace_with(
        presentation="fever",
        differential="pneumonia, pulmonary embolism",
        management="amoxicillin",
        diagnosis="pneumonia",
    )
    found = check_workflow(text, rules=["order", "no_management_before_diagnosis"])
    assert rules_of(found) == {"order", "no_management_before_diagnosis"}
    order = next(v for v in found if v.rule == "order")
    assert "diagnosis" in order.message and order.span is not None
    assert text[order.span[0] :].startswith("Diagnosis:")


def test_repeated_differential_is_not_an_order_violation() -> None:
    text = (
        trace_with(
            presentation="fever",
            differential="pneumonia, pulmonary embolism",
            investigations="D-dimer normal",
        )
        + "\nDifferential: pneumonia\nDiagnosis: pneumonia\nManagement: amoxicillin"
    )
    assert check_workflow(text, rules=["order", "no_management_before_diagnosis"]) == []
    no_diag = trace_with(presentation="fever", management="rest")
    assert rules_of(check_workflow(no_diag, rules=["no_management_before_diagnosis"])) == {
        "no_management_before_diagnosis"
    }


def test_missing_differential_and_required_steps_per_item(kg: KnowledgeGraph) -> None:
    text = trace_with(presentation="fever and cough", diagnosis="pneumonia")
    found = check_workflow(text, WorkflowContext(kg=kg))
    assert {"required_steps", "differential_contains_diagnosis", "differential_size"} <= rules_of(
        found
    )
    assert any("'differential' is missing" in v.message for v in found)
    ctx = WorkflowContext(kg=kg, required_steps=("presentation", "diagnosis"))
    assert check_workflow(text, ctx, rules=["required_steps", "differential_size"]) == []
    ctx = WorkflowContext.from_row({"required_steps": "presentation, management"}, kg=kg)
    assert ctx.required_steps == ("presentation", "management")
    with pytest.raises(ConfigError, match="valid: .*differential"):
        WorkflowContext(required_steps=("presentation", "ddx"))


def test_no_trace_scores_zero(kg: KnowledgeGraph) -> None:
    result = evaluate_workflow("The answer is pneumonia.", WorkflowContext(kg=kg))
    assert result.score == 0.0 and "required_steps" in result.violated


def test_spec_rejects_unknown_rule() -> None:
    with pytest.raises(ConfigError) as err:
        WorkflowSpec(("order", "diagnosis_suported"))
    assert "diagnosis_supported" in str(err.value) and "findings_grounded" in str(err.value)
    with pytest.raises(ConfigError):
        WorkflowSpec("order")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- diagnosis support


def test_marfan_support_uses_real_annotations(kg: KnowledgeGraph) -> None:
    for pheno in ("HP:0001166", "HP:0001083", "HP:0002616"):  # arachnodactyly, EL, aortic root
        assert kg.check({"relation": "has_phenotype", "subject": MARFAN, "object": pheno}).valid
    for pheno in ("HP:0001943", "HP:0000365"):  # hypoglycemia, hearing impairment
        assert not kg.check({"relation": "has_phenotype", "subject": MARFAN, "object": pheno}).valid
    supported = trace_with(
        presentation="arachnodactyly, ectopia lentis",
        investigations="aortic root dilatation on echocardiography",
        diagnosis="Marfan syndrome",
    )
    assert check_workflow(supported, WorkflowContext(kg=kg), rules=["diagnosis_supported"]) == []
    unsupported = trace_with(presentation="hypoglycemia, hearing loss", diagnosis="Marfan syndrome")
    found = check_workflow(unsupported, WorkflowContext(kg=kg), rules=["diagnosis_supported"])
    assert len(found) == 1 and "supported by 0 finding(s)" in found[0].message
    assert "hypoglycemia" in found[0].message and unsupported[found[0].span[0] :].startswith(
        "Marfan"
    )


def test_negated_findings_do_not_support(kg: KnowledgeGraph) -> None:
    text = trace_with(
        presentation="No arachnodactyly, ectopia lentis or tall stature. Hypoglycemia.",
        diagnosis="Marfan syndrome",
    )
    found = check_workflow(text, WorkflowContext(kg=kg), rules=["diagnosis_supported"])
    assert len(found) == 1 and "supported by 0" in found[0].message
    # The case's finding ids (given in the prompt) count as support.
    ctx = WorkflowContext(kg=kg, findings=("HP:0001166", "HP:0001083"))
    assert check_workflow(text, ctx, rules=["diagnosis_supported"]) == []


def test_min_support_is_configurable(kg: KnowledgeGraph) -> None:
    text = trace_with(presentation="arachnodactyly and hypoglycemia", diagnosis="Marfan syndrome")
    ctx = WorkflowContext(kg=kg)
    assert workflow_score(text, ctx, WorkflowSpec(("diagnosis_supported",), min_support=1)) == 1.0
    assert workflow_score(text, ctx, WorkflowSpec(("diagnosis_supported",), min_support=2)) == 0.0


def test_unknown_diagnosis_entity(kg: KnowledgeGraph) -> None:
    text = trace_with(presentation="fever", diagnosis="blorpitis of the zanx")
    found = check_workflow(text, WorkflowContext(kg=kg), rules=["diagnosis_supported"])
    assert [v.message for v in found] == ["unknown diagnosis entity: 'blorpitis of the zanx'"]


def test_expected_diagnosis_id_is_compared(kg: KnowledgeGraph) -> None:
    text = trace_with(presentation="arachnodactyly, ectopia lentis", diagnosis="Marfan syndrome")
    rules = ["diagnosis_supported"]
    # OMIM and MONDO name the same disease: the stated name matches either id.
    for expected in (MARFAN, MARFAN_OMIM):
        assert check_workflow(text, WorkflowContext(kg=kg, diagnosis_id=expected), rules) == []
    found = check_workflow(text, WorkflowContext(kg=kg, diagnosis_id="OMIM:219700"), rules)
    assert len(found) == 1 and "not the expected OMIM:219700 (Cystic fibrosis)" in found[0].message
    explicit = trace_with(presentation="arachnodactyly, ectopia lentis", diagnosis="OMIM:154700")
    assert check_workflow(explicit, WorkflowContext(kg=kg, diagnosis_id=MARFAN), rules) == []


def test_unannotated_disease_support_is_not_applicable(kg: KnowledgeGraph) -> None:
    assert not kg.disease_phenotypes("MONDO:0005249", propagate=False)  # pneumonia: no HPO
    text = trace_with(presentation="fever and cough", diagnosis="pneumonia")
    result = evaluate_workflow(text, WorkflowContext(kg=kg), ["diagnosis_supported"])
    assert (
        result.checked == () and "no phenotype annotations" in result.notes["diagnosis_supported"]
    )


# --------------------------------------------------------------------------- differential


def test_differential_must_contain_the_diagnosis(kg: KnowledgeGraph) -> None:
    rules = ["differential_contains_diagnosis"]
    closed = trace_with(
        presentation="tall stature",
        differential="Loeys-Dietz syndrome, homocystinuria",
        diagnosis="Marfan syndrome",
    )
    found = check_workflow(closed, WorkflowContext(kg=kg), rules)
    assert len(found) == 1 and "premature closure" in found[0].message
    # Same disease across ontologies (OMIM id in the differential, name in the diagnosis).
    by_id = trace_with(differential="OMIM:154700 or homocystinuria", diagnosis="Marfan syndrome")
    assert check_workflow(by_id, WorkflowContext(kg=kg), rules) == []
    # An ungrounded diagnosis still matches by name.
    by_name = trace_with(
        differential="Zorblax disease, Marfan syndrome", diagnosis="Zorblax disease"
    )
    assert check_workflow(by_name, WorkflowContext(kg=kg), rules) == []


def test_differential_size_counts_candidate_diseases(kg: KnowledgeGraph) -> None:
    rules = ["differential_size"]
    one = trace_with(differential="Marfan syndrome (tall stature, arachnodactyly)")
    found = check_workflow(one, WorkflowContext(kg=kg), rules)
    assert len(found) == 1 and "1 candidate(s) (need 2)" in found[0].message
    listed = (
        "Differential:\n"
        "1. Marfan syndrome - supported by ectopia lentis and arachnodactyly\n"
        "2. Homocystinuria: intellectual disability would be expected\n"
        "3. Loeys-Dietz syndrome vs Ehlers-Danlos syndrome\n"
    )
    ctx = WorkflowContext(kg=kg)
    step = parse_trace(listed).first("differential")
    assert step is not None and len(differential_candidates(ctx, step)) == 4
    assert check_workflow(listed, ctx, rules) == []
    spec = WorkflowSpec(("differential_size",), min_differential=5)
    assert workflow_score(listed, ctx, spec) == 0.0


# --------------------------------------------------------------------------- drugs and findings


@pytest.mark.parametrize(
    ("findings", "management", "violated"),
    [
        ("Child with fever.", "Gentamicin 7 mg/kg once daily.", True),
        ("Child with fever. Weight 20 kg.", "Gentamicin 7 mg/kg; creatinine 0.4 noted.", True),
        ("Weight 20 kg, creatinine 0.4 mg/dL.", "Gentamicin 7 mg/kg once daily.", False),
        ("BMI 31 kg/m2.", "Ceftriaxone 50 mg/kg.", True),
        ("Hyperglycemia, HbA1c 8.1%.", "Start metformin 500 mg twice daily.", True),
        ("Hyperglycemia, eGFR 75 mL/min.", "Start metformin 500 mg twice daily.", False),
        ("Atrial fibrillation.", "Warfarin, target INR 2-3.", True),
        ("Atrial fibrillation. INR 1.0, platelets 250.", "Warfarin, target INR 2-3.", False),
        ("Atrial fibrillation, HAS-BLED 1.", "Apixaban 5 mg twice daily.", False),
        ("Sore throat.", "Penicillin V 500 mg four times daily.", False),
    ],
)
def test_drug_requires_data(findings: str, management: str, violated: bool) -> None:
    text = trace_with(presentation=findings, diagnosis="x", management=management)
    found = check_workflow(text, rules=["drug_requires_data"])
    assert bool(found) is violated, found
    for v in found:
        assert v.span is not None and text[v.span[0] : v.span[1]].lower() in v.message.lower()


def test_drug_data_in_the_case_text_counts() -> None:
    text = trace_with(presentation="confusion", diagnosis="x", management="metformin")
    ctx = WorkflowContext(case_text="Creatinine 1.1 mg/dL")
    assert check_workflow(text, ctx, ["drug_requires_data"]) == []
    row = {"prompt": [{"role": "system", "content": "eGFR 90"}, {"role": "user", "content": "?"}]}
    found = check_workflow(text, WorkflowContext.from_row(row), ["drug_requires_data"])
    assert len(found) == 1 and "metformin" in found[0].message  # system turns are not the case


def test_findings_grounded_is_lenient(kg: KnowledgeGraph) -> None:
    some = trace_with(presentation="45-year-old plumber with seizures and a flurbish")
    result = evaluate_workflow(some, WorkflowContext(kg=kg), ["findings_grounded"])
    assert result.violations == () and result.notes["findings_grounded"].startswith("1/")
    none = trace_with(presentation="a flurbish and the zanx", diagnosis="x")
    found = check_workflow(none, WorkflowContext(kg=kg), ["findings_grounded"])
    assert rules_of(found) == {"findings_grounded"}


def test_format_trace_round_trips_and_instruction_names_the_headings() -> None:
    steps = {"presentation": "fever", "differential": "pneumonia, asthma", "diagnosis": "pneumonia"}
    text = format_trace(steps, answer="pneumonia")
    trace = parse_trace(text)
    assert trace.names == tuple(steps) and trace.answer == "pneumonia"
    assert [s.content for s in trace.steps] == list(steps.values())
    for heading in ("Presentation:", "History/Exam:", "Differential:", "Management:", "Answer:"):
        assert heading in FORMAT_INSTRUCTION
    with pytest.raises(ConfigError, match="valid: .*history_exam"):
        format_trace({"exam": "x"})


def test_context_reuse_and_array_columns(kg: KnowledgeGraph) -> None:
    np = pytest.importorskip("numpy")
    ctx = WorkflowContext.from_row(
        {"required_steps": np.array(["presentation", "diagnosis"]), "findings": np.array([])},
        kg=kg,
    )
    assert ctx.required_steps == ("presentation", "diagnosis") and ctx.findings == ()
    marfan = trace_with(presentation="arachnodactyly, ectopia lentis", diagnosis="Marfan syndrome")
    other = trace_with(presentation="hypoglycemia, hearing loss", diagnosis="Marfan syndrome")
    rules = ["diagnosis_supported"]
    assert check_workflow(marfan, ctx, rules) == []
    assert len(check_workflow(other, ctx, rules)) == 1  # no stale entities from the last trace
    assert check_workflow(marfan, ctx, rules) == [] and ctx.notes == {}


# --------------------------------------------------------------------------- entities


#: Terms spanning a heading ("family\nHistory": Family history; "Differential: cyanosis":
#: Differential cyanosis) and headings without a space before their content.
CROSSING = """Presentation: tall stature, arachnodactyly and a positive family
History/Exam: pectus excavatum, no myopia. OMIM:154700 HP:0001166
Differential: cyanosis, Marfan syndrome or homocystinuria.
Investigations:echocardiography shows aortic root dilatation
Diagnosis:Marfan syndrome.
Answer: Marfan syndrome"""


@pytest.mark.parametrize(
    "text",
    [
        VALID,
        CROSSING,
        CROSSING.replace(" OMIM:154700 HP:0001166", ""),
        CROSSING.replace(" OMIM:154700 HP:0001166", "").replace("\n", "\n\n"),
    ],
)
def test_step_entities_equal_grounding_each_step(kg: KnowledgeGraph, text: str) -> None:
    """The steps' entities, cut from one grounding of the whole trace, are those of
    grounding each step's content alone; results equal those of the parsed trace (which
    grounds step by step)."""
    from balancedbio.rewards.entities import find_entities, lookup_phrases

    assert any(m.text == "family\nHistory" for m in kg.ground(CROSSING))  # a crossing term
    ctx = WorkflowContext(kg=kg, _text=text)
    for step in parse_trace(text).steps:
        alone = find_entities(kg, step.content)
        phrased = lookup_phrases(kg, step.content, alone)
        for phrases, expected in ((False, alone), (True, phrased)):
            shifted = [(e.start + step.content_start, e.end + step.content_start) for e in expected]
            got = ctx.entities(step, phrases=phrases)
            assert [(e.start, e.end) for e in got] == shifted, (step.name, phrases)
            assert [(e.text, e.ids) for e in got] == [(e.text, e.ids) for e in expected]
    whole = evaluate_workflow(text, {"kg": kg})
    stepwise = evaluate_workflow(parse_trace(text), {"kg": kg})
    assert (whole.checked, whole.violations, whole.notes) == (
        stepwise.checked,
        stepwise.violations,
        stepwise.notes,
    )


def test_headings_at_line_starts_equal_a_full_scan() -> None:
    """Headings matched at line starts only are those of scanning every position."""
    import random

    from balancedbio.rewards.trace import _HEADING, HEADINGS, _headings

    heads = [*HEADINGS, "**Diagnosis:**", "## Plan", "1. DDx:", "Step 5: Diagnosis:", "> Answer"]
    parts = [*heads, "foo", ":", " - ", "\n", "\r\n", "\n\n", "\t", "**", "#", "the ddx is"]
    rng = random.Random(0)
    for _ in range(2000):
        text = "".join(
            rng.choice(parts) + rng.choice(["", " ", ": ", "\n", " - "]) for _ in range(10)
        )
        assert [m.span() for m in _headings(text)] == [m.span() for m in _HEADING.finditer(text)], (
            text
        )
