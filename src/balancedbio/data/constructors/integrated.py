"""Integrated items: a clinical case whose answer must be right, reasoned through the
workflow, and obey instructions, all at once (capability ``integrated``).

The case is a diagnosis case (:mod:`.cases`) whose differential is offered as lettered
options (answer = the letter: ``mcq_accuracy`` grades it); the reference is the workflow
trace ending ``Answer: <letter>``, shaped by 1-3 IFEval instructions that keep the trace's
headings intact (:data:`~.compose.INLINE`). The row carries every verifier column:
``choices``/``answer``, ``required_steps``/``diagnosis_id``/``findings``,
``instruction_id_list``/``kwargs`` and the ontology ``facts``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from balancedbio.data.constructors import compose
from balancedbio.data.constructors.base import Constructor, Result, letter_options, reject
from balancedbio.data.constructors.cases import (
    CASE_FORMAT,
    REQUIRED_STEPS,
    case_entities,
    case_from_disease,
    render_trace,
    trace_steps,
    vignette,
)
from balancedbio.data.records import LETTERS, Rejection, user_message

if TYPE_CHECKING:
    from balancedbio.data.seeds import Seed

_MGMT = "Management"
TITLE = "Clinical reasoning"
POSTSCRIPT = "Please bring any questions to the next appointment."


class IntegratedCase(Constructor):
    task, capability, has_model_mode = "integrated_case", "integrated", True

    def _plan(self, seed: Seed) -> tuple[Any, ...] | Rejection:
        rng = seed.rng()
        case = case_from_disease(self, seed.entity, rng)
        if isinstance(case, Rejection):
            return case
        options = [self.kg.name_of(d) for d in case.differential]
        letter = LETTERS[case.differential.index(case.disease)]
        question = (
            f"{vignette(case)}\nWhich of the following is the most likely diagnosis?\n"
            f"{letter_options(options)}"
        )
        primary = compose.INLINE[seed.ordinal % len(compose.INLINE)]
        extras = [i for i in compose.INLINE if i not in compose.CASE]  # langdetect: primary only
        ids = compose.pick_instructions(primary, extras, rng, self.cfg.construct.max_instructions)
        steps = trace_steps(self, case)
        avoid = " ".join([question, *(c for _, c in steps), TITLE, POSTSCRIPT])
        kwargs = compose.draw_kwargs(
            ids, rng, prompt=question, vocabulary=compose.SAFE_VOCABULARY, avoid=avoid
        )
        return rng, case, options, letter, question, ids, kwargs, steps

    def build(self, seed: Seed) -> Result:
        got = self._plan(seed)
        if isinstance(got, Rejection):
            return got
        rng, case, options, letter, question, ids, kwargs, steps = got
        plan = compose.Plan(ids, kwargs, "", TITLE, [])
        text = shape_trace(plan, steps, letter)
        compose.fit_kwargs(plan, text, rng, compose.SAFE_VOCABULARY)
        return self._row(seed, case, options, letter, question, plan, text)

    def _row(
        self,
        seed: Seed,
        case: Any,
        options: list[str],
        letter: str,
        question: str,
        plan: compose.Plan,
        reference: str,
        mode: str = "template",
    ) -> Result:
        fmt = CASE_FORMAT.format(what="<letter>")
        plan.task = f"{question}\n\n{fmt}"
        prompt = compose.prompt_text(plan)
        failed = compose.failures(prompt, reference, plan)
        if failed:
            return reject(f"ifeval:{failed[0]}", f"reference does not follow {failed}")
        return self.record(
            seed,
            mode=mode,
            prompt=user_message(prompt),
            question=question,
            answer=letter,
            answer_kind="choice",
            choices=options,
            reference=reference,
            facts=case.facts,
            entities=case_entities(self, case),
            instruction_id_list=list(plan.ids),
            kwargs=[plan.kwargs[i] for i in plan.ids],
            required_steps=list(REQUIRED_STEPS),
            diagnosis_id=case.disease,
            findings=[p for _, p in case.findings],
            source_ids=[*case.differential, *(p for _, p in case.findings)],
        )

    def request(self, seed: Seed) -> tuple[list[dict[str, str]], Any] | Rejection:
        got = self._plan(seed)
        if isinstance(got, Rejection):
            return got
        rng, case, options, letter, question, ids, kwargs, steps = got
        plan = compose.Plan(ids, kwargs, "", TITLE, [])
        # counting instructions get thresholds from a template trace (the model must meet them)
        compose.fit_kwargs(plan, shape_trace(plan, steps, letter), rng, compose.SAFE_VOCABULARY)
        plan.task = f"{question}\n\n{CASE_FORMAT.format(what='<letter>')}"
        text = (
            f"{compose.prompt_text(plan)}\n\nThe correct option is {letter} ({case.name}). "
            'Reply with JSON only: {"solution": "<your full response>"}'
        )
        return user_message(text), (case, options, letter, question, plan)

    def parse(self, seed: Seed, obj: dict[str, Any], state: Any) -> Result:
        case, options, letter, question, plan = state
        solution = obj.get("solution")
        if not isinstance(solution, str) or not solution.strip():
            return reject("parse_error", "JSON needs a string field 'solution'", "model")
        return self._row(seed, case, options, letter, question, plan, solution.strip(), "model")


def shape_trace(plan: compose.Plan, steps: list[tuple[str, str]], answer: str) -> str:
    """Apply the inline instructions to a trace: insertions go into the management step,
    the title before the first heading, postscript and end phrase after the answer line."""
    kw = plan.kwargs
    steps = [list(s) for s in steps]
    extra = []
    if plan.has("keywords:existence"):
        extra.append(
            f"Relevant topics include {' and '.join(kw['keywords:existence']['keywords'])}."
        )
    if plan.has("detectable_content:number_placeholders"):
        n = kw["detectable_content:number_placeholders"]["num_placeholders"]
        extra.append(f"Book a review with {' or '.join(compose.PLACEHOLDERS[:n])}.")
    if plan.has("detectable_format:number_highlighted_sections"):
        n = kw["detectable_format:number_highlighted_sections"]["num_highlights"]
        extra.append("Key points: " + "; ".join(f"*{h}*" for h in compose.HIGHLIGHTS[:n]) + ".")
    for step in steps:
        if step[0] == _MGMT and extra:
            step[1] = f"{step[1]} {' '.join(extra)}"
    text = render_trace([(h, c) for h, c in steps], answer)
    if plan.has("detectable_format:title"):
        text = f"<<{plan.topic}>>\n{text}"
    tail = []
    if plan.has("detectable_content:postscript"):
        marker = kw["detectable_content:postscript"]["postscript_marker"]
        tail.append(f"{marker} {POSTSCRIPT}")
    if plan.has("startend:end_checker"):
        tail.append(kw["startend:end_checker"]["end_phrase"])
    if tail:
        text += "\n" + "\n".join(tail)
    return compose.finish(plan, text)


INTEGRATED_CONSTRUCTORS: tuple[type[Constructor], ...] = (IntegratedCase,)

__all__ = ["INTEGRATED_CONSTRUCTORS", "IntegratedCase", "shape_trace"]
