"""Reasoning items: multi-hop diagnosis cases and clinical calculator cases.

* ``diagnosis_case`` - findings -> differential -> diagnosis, grounded in HPO annotations
  (:mod:`.cases`); free-text answer (the disease name, synonyms as aliases), reference in
  the workflow trace format;
* ``record_case`` - the same from a user JSONL record (findings and diagnosis as written,
  grounded to HPO / disease ids; a record whose findings are not annotated to its
  diagnosis is rejected by validation, with the false fact as reason);
* ``calculator`` - a medcalc-bench calculator on seeded random inputs: gold answer,
  tolerance window, output kind, and the calculator's own worked steps as reference.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from balancedbio.data.constructors.base import Constructor, Result, reject
from balancedbio.data.constructors.cases import (
    CASE_FORMAT,
    REQUIRED_STEPS,
    Case,
    add_differential,
    answer_aliases,
    case_entities,
    case_from_disease,
    patient_phrase,
    render_trace,
    trace_steps,
    vignette,
)
from balancedbio.data.records import Rejection, fact, user_message

if TYPE_CHECKING:
    from balancedbio.data.seeds import Seed

CALC_FORMATS = {
    "decimal": "a number",
    "integer": "an integer",
    "date": "a date as MM/DD/YYYY",
    "weeks_days": "a gestational age as (weeks, days)",
}


def case_row(
    con: Constructor, seed: Seed, case: Case, mode: str = "template", **extra: Any
) -> dict[str, Any]:
    """The row of a diagnosis case (free-text answer)."""
    question = f"{vignette(case)}\nWhat is the most likely diagnosis?"
    fmt = CASE_FORMAT.format(what="<diagnosis>")
    fields: dict[str, Any] = {
        "prompt": user_message(f"{question}\n\n{fmt}"),
        "question": question,
        "answer": case.name,
        "answer_kind": "text",
        "answer_aliases": answer_aliases(con, case.disease),
        "reference": render_trace(trace_steps(con, case), case.name),
        "facts": case.facts,
        "entities": case_entities(con, case),
        "required_steps": list(REQUIRED_STEPS),
        "diagnosis_id": case.disease,
        "findings": [p for _, p in case.findings],
        "source_ids": [*case.differential, *(p for _, p in case.findings), *case.source_ids],
    }
    fields.update(extra)
    return con.record(seed, mode=mode, **fields)


class DiagnosisCase(Constructor):
    task, capability, has_model_mode = "diagnosis_case", "reasoning", True

    def build(self, seed: Seed) -> Result:
        case = case_from_disease(self, seed.entity, seed.rng())
        return case if isinstance(case, Rejection) else case_row(self, seed, case)

    def request(self, seed: Seed) -> tuple[list[dict[str, str]], Any] | Rejection:
        case = case_from_disease(self, seed.entity, seed.rng())
        if isinstance(case, Rejection):
            return case
        findings = ", ".join(t for t, _ in case.findings)
        diff = ", ".join(self.kg.name_of(d) for d in case.differential)
        text = (
            f"Write a short clinical vignette of a {case.patient} with {case.name} who has "
            f"exactly these findings: {findings}. Then solve it. "
            f"{CASE_FORMAT.format(what=case.name)} "
            f"The differential should discuss: {diff}.\n"
            'Reply with JSON only: {"case": "<vignette>", "solution": "<step-by-step solution>"}'
        )
        return user_message(text), case

    def parse(self, seed: Seed, obj: dict[str, Any], state: Any) -> Result:
        case: Case = state
        vig, solution = obj.get("case"), obj.get("solution")
        if not isinstance(vig, str) or not isinstance(solution, str) or not vig or not solution:
            return reject("parse_error", "JSON needs string fields 'case' and 'solution'", "model")
        found = [(m.text, m.id) for m in self.kg.ground(vig) if m.id.startswith("HP:")]
        if not found:
            return reject("unknown_entity", "the vignette names no HPO finding", "model")
        case.findings = found
        case.facts = [fact("has_phenotype", case.disease, p, True) for _, p in found]
        question = f"{vig.strip()}\nWhat is the most likely diagnosis?"
        return case_row(
            self,
            seed,
            case,
            mode="model",
            question=question,
            prompt=user_message(f"{question}\n\n{CASE_FORMAT.format(what='<diagnosis>')}"),
            reference=solution.strip(),
        )


def ground_phrase(con: Constructor, phrase: str, prefixes: tuple[str, ...]) -> str | None:
    """The id a phrase names (exact name/synonym first, then a whole-phrase grounding)."""
    text = phrase.strip()
    for nid in con.kg.lookup(text):
        if nid.startswith(prefixes):
            return nid
    for m in con.kg.ground(text):
        if m.start == 0 and m.end == len(text):
            for nid in (m.id, *con.kg.lookup(m.name)):
                if nid.startswith(prefixes):
                    return nid
    return None


class RecordCase(Constructor):
    task, capability = "record_case", "reasoning"

    def build(self, seed: Seed) -> Result:
        rec = self.source.payload(seed.entity) or {}
        rng = seed.rng()
        phrases = [str(x) for x in rec.get("findings", [])] + [str(x) for x in rec.get("exam", [])]
        findings = []
        for phrase in phrases:
            hp = ground_phrase(self, phrase, ("HP:",))
            if hp is None:
                return reject(
                    "unknown_entity", f"record {seed.entity}: finding {phrase!r} does not ground"
                )
            findings.append((phrase.strip(), hp))
        diag = ground_phrase(self, str(rec.get("diagnosis", "")), ("OMIM:", "ORPHA:", "MONDO:"))
        if diag is None:
            return reject(
                "unknown_entity",
                f"record {seed.entity}: diagnosis {rec.get('diagnosis')!r} does not ground",
            )
        # the entry of that name (OMIM, ORPHA, MONDO) whose annotations explain most findings
        disease = max(
            self.index.disease_aliases(diag) or (diag,),
            key=lambda d: (
                sum(self.index.has_phenotype_any((d,), p) for _, p in findings),
                not d.startswith("MONDO:"),
            ),
        )
        patient = rec.get("patient") or (
            f"{rec['age']}-year-old {rec.get('sex', 'patient')}"
            if rec.get("age")
            else patient_phrase(rng, None)
        )
        case = Case(
            disease,
            str(rec["diagnosis"]).strip(),
            findings,
            len(rec.get("findings", [])),
            str(patient),
            facts=[fact("has_phenotype", disease, p, True) for _, p in findings],
            source_ids=[f"record:{seed.entity}"],
        )
        got = add_differential(self, case, rng)
        return got if isinstance(got, Rejection) else case_row(self, seed, got)


# --------------------------------------------------------------------------- calculators


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "present" if v else "absent"
    if isinstance(v, (tuple, list)):
        return " ".join(str(x) for x in v)
    return str(v)


def patient_note(inputs: dict[str, Any]) -> str:
    """The calculator inputs as a short patient note."""
    parts = [f"{k.replace('_', ' ').strip()}: {_value(v)}" for k, v in inputs.items()]
    return "Patient data: " + "; ".join(parts) + "."


class CalculatorCase(Constructor):
    task, capability, has_model_mode = "calculator", "reasoning", True

    def _case(self, seed: Seed) -> Any:
        from balancedbio.rewards.calculators import make_case

        return make_case(seed.entity, seed.rng())

    def _row(self, seed: Seed, case: Any, note: str, mode: str = "template") -> dict[str, Any]:
        from balancedbio.rewards.calculators import MEDCALC_VERSION

        question = f"{note}\nUsing the {case.name}, what is the result for this patient?"
        fmt = (
            "Show your calculation step by step, then give the result on a final line of the "
            f"form 'Answer: <value>' where the value is {CALC_FORMATS[case.output_kind]}."
        )
        row = self.record(
            seed,
            mode=mode,
            prompt=user_message(f"{question}\n\n{fmt}"),
            question=question,
            answer=case.answer_text,
            answer_kind="numeric",
            reference=f"{case.explanation}\nAnswer: {case.answer_text}",
            lower=case.lower,
            upper=case.upper,
            output_kind=case.output_kind,
            calculator_id=case.calculator_id,
        )
        row["provenance"] |= {"medcalc_version": MEDCALC_VERSION, "inputs": repr(case.inputs)}
        return row

    def build(self, seed: Seed) -> Result:
        case = self._case(seed)
        return self._row(seed, case, patient_note(case.inputs))

    def request(self, seed: Seed) -> tuple[list[dict[str, str]], Any] | Rejection:
        case = self._case(seed)
        text = (
            f"Write a realistic two-sentence patient note that states exactly these data: "
            f"{patient_note(case.inputs)} Do not compute anything.\n"
            'Reply with JSON only: {"note": "<patient note>"}'
        )
        return user_message(text), case

    def parse(self, seed: Seed, obj: dict[str, Any], state: Any) -> Result:
        note = obj.get("note")
        if not isinstance(note, str) or not note.strip():
            return reject("parse_error", "JSON needs a string field 'note'", "model")
        numbers = re.findall(r"\d+(?:\.\d+)?", patient_note(state.inputs))
        missing = [n for n in numbers if n not in note]
        if missing:
            return reject("missing_input", f"the note omits input value(s) {missing[:4]}", "model")
        return self._row(seed, state, note.strip(), mode="model")


REASONING_CONSTRUCTORS: tuple[type[Constructor], ...] = (DiagnosisCase, RecordCase, CalculatorCase)

__all__ = [
    "REASONING_CONSTRUCTORS",
    "CalculatorCase",
    "DiagnosisCase",
    "RecordCase",
    "case_row",
    "ground_phrase",
    "patient_note",
]
