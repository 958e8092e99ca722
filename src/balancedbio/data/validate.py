"""Validation: the verifiers of ``balancedbio.rewards`` composed into one item gate.

One verifier, three uses: the functions called here are the ones GRPO rewards and the
evaluation grade with. An item passes when every check passes; otherwise it is rejected
with every problem found, each a ``(code, message)``:

=========================== ================================================================
``missing_columns``         a column its verifiers need is absent or empty
``unknown_entity``          an entity id is unknown/obsolete, or its text does not ground to it
``false_fact:<rel>``        a recorded fact (``holds``) is false in the ontology
``distractor_correct:<rel>`` a distractor fact (``holds: false``) is true (for
                            ``has_phenotype``: for any disease id of the same name)
``bad_choices``             fewer than 2 / more than 5 options, duplicates, letter out of range
``unverified_distractor``   an MCQ distractor without a fact showing it is wrong
``false_claim:<rel>``       a relation stated in the reference is false (``rewards.claims``)
``workflow:<rule>``         a clinical workflow rule is violated (``rewards.workflow``)
``answer_mismatch``         the reference's own answer is graded wrong (``rewards.answers``)
``ifeval:<id>``             the reference does not follow one of its instructions (strict)
=========================== ================================================================
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from balancedbio.data.index import KnowledgeIndex, name_key
from balancedbio.data.records import LETTERS, Rejection, missing_columns
from balancedbio.rewards import answers

if TYPE_CHECKING:
    from balancedbio.data.config import ValidateConfig
    from balancedbio.knowledge import KnowledgeGraph

Problem = tuple[str, str]
#: Words one of which every cue of rewards.claims contains (each starts with a letter).
_CLAIM_WORD_LIST = (
    *("types?", "kinds?", "forms?", "sub-?types?", "subclass(?:es)?", "variants?"),
    *("categor(?:y|ies)", "class(?:es)?", "known", "called", "referred", "termed"),
    *(r"a\.?k\.?a", "characteri[sz]ed", "present(?:s|ing)?", "manifests?", "causes?"),
    *("leads?", "results?", "features?", "associated", "falls", "belongs", r"is\s+in"),
    *("part", "classified", "listed", "coded", "under"),
)
_CLAIM_WORDS = re.compile(rf"\b(?:{'|'.join(_CLAIM_WORD_LIST)})\b", re.IGNORECASE)
#: ``_CLAIM_WORDS`` for lower-cased ASCII text (same matches there): each word's first letter
#: leads, so ``re`` can skip ahead to it, and ``x(?<!\w\w)`` is ``\bx`` for a letter ``x``.
_CLAIM_WORDS_LOWER = re.compile(
    "(?:" + "|".join(rf"{w[0]}(?<!\w\w){w[1:]}" for w in _CLAIM_WORD_LIST) + r")\b"
)
#: The words ``_CLAIM_WORDS`` matches alone, each a whole ``\w+`` run of the text. Its other
#: matches span several runs: "a.k.a" (runs a, k, a / a, ka / ak, a) and "is in".
_CLAIM_TOKENS = frozenset(
    b"""type types kind kinds form forms subtype subtypes subclass subclasses variant variants
    category categories class classes known called referred termed aka characterised
    characterized present presents presenting manifest manifests cause causes lead leads
    result results feature features associated falls belongs part classified listed coded
    under""".split()
)
_CLAIM_MULTI = frozenset((b"k", b"ka", b"ak", b"is"))
#: A bytes table that lower-cases ASCII word characters (``\w``) and blanks every other
#: ASCII character, so ``.split()`` of an encoded ASCII text gives its ``\w+`` runs.
_WORD_TABLE = bytes(
    c | 32 if chr(c).isalpha() else c if chr(c).isdigit() or c == 95 else 32 for c in range(128)
) + bytes(range(128, 256))
#: ``\b[A-TV-Z]\d[0-9A-Z]\b`` (an ICD-10 code), led by its first character likewise.
_ICD_LIKE = re.compile(r"[A-TV-Z](?<!\w\w)\d[0-9A-Z]\b")
_ICD_CODE = re.compile(r"^[A-Z]\d[0-9A-Z](?:\.[0-9A-Z]{1,4})?$")


def last_user_text(prompt: Any) -> str:
    """The last user turn of a conversational prompt (or the prompt if it is a string)."""
    if isinstance(prompt, str):
        return prompt
    users = [
        m.get("content", "")
        for m in prompt or ()
        if isinstance(m, Mapping) and m.get("role") == "user"
    ]
    return str(users[-1]) if users else ""


def check_answer(row: Mapping[str, Any], text: str) -> bool:
    """Is ``text`` a correct answer to ``row`` by its answer verifier (``answer_kind``)?"""
    kind = row.get("answer_kind")
    if kind == "choice":
        return answers.grade_mcq(text, list(row["choices"]), row["answer"])
    if kind == "numeric":
        return answers.grade_numeric(
            text,
            row["answer"],
            lower=row.get("lower"),
            upper=row.get("upper"),
            kind=row.get("output_kind") or "decimal",
        )
    if kind == "text":
        gold = [row["answer"], *(row.get("answer_aliases") or [])]
        return answers.exact_match(answers.extract_final_answer(text), gold)
    return True  # "none": graded by its instructions only


def instruction_failures(row: Mapping[str, Any], text: str) -> list[str]:
    """Instruction ids of ``row`` that ``text`` does not follow (strict)."""
    from balancedbio.rewards.ifeval import follow_instructions

    ids = list(row.get("instruction_id_list") or [])
    if not ids:
        return []
    kwargs = list(row.get("kwargs") or [{}] * len(ids))
    result = follow_instructions(last_user_text(row.get("prompt")), text, ids, kwargs)
    return [i for i, ok in zip(ids, result.strict, strict=True) if not ok]


def workflow_violations(
    row: Mapping[str, Any], text: str, kg: KnowledgeGraph, cfg: Any = None
) -> list[Any]:
    """Workflow rule violations of ``text`` as an answer to a case ``row``."""
    from balancedbio.rewards.workflow import WorkflowContext, check_workflow

    spec = _spec(getattr(cfg, "min_support", 2), getattr(cfg, "min_differential", 2))
    ctx = WorkflowContext(
        kg=kg,
        required_steps=tuple(row.get("required_steps") or ()),
        diagnosis_id=row.get("diagnosis_id") or None,
        findings=tuple(row.get("findings") or ()),
        case_text=str(row.get("question") or last_user_text(row.get("prompt"))),
    )
    return check_workflow(text, ctx, spec)


@functools.lru_cache(maxsize=16)
def _spec(min_support: int, min_differential: int) -> Any:
    """The workflow spec for these parameters, made once (it is immutable)."""
    from balancedbio.rewards.workflow import WorkflowSpec

    return WorkflowSpec(min_support=min_support, min_differential=min_differential)


def grade_response(
    row: Mapping[str, Any], text: str, kg: KnowledgeGraph | None = None, *, workflow: bool = False
) -> tuple[bool, str]:
    """``(ok, reason)``: a model response judged by the row's verifiers (curation, eval)."""
    try:
        if not check_answer(row, text):
            return False, "wrong_answer"
    except ValueError as exc:
        return False, f"ungradable: {exc}"
    failed = instruction_failures(row, text)
    if failed:
        return False, f"ifeval:{failed[0]}"
    if workflow and kg is not None and row.get("required_steps"):
        found = workflow_violations(row, text, kg)
        if found:
            return False, f"workflow:{found[0].rule}"
    return True, "ok"


class Validator:
    """Checks items against the ontology and the reward verifiers (see module docstring)."""

    def __init__(self, kg: KnowledgeGraph, index: KnowledgeIndex, cfg: ValidateConfig) -> None:
        self.kg, self.index, self.cfg = kg, index, cfg
        self._entity_ok: dict[tuple[str, str], str | None] = {}

    def __call__(self, item: Mapping[str, Any]) -> Rejection | None:
        problems = self.problems(item)
        return Rejection.of(problems, "validate", item) if problems else None

    def problems(self, item: Mapping[str, Any]) -> list[Problem]:
        missing = missing_columns(item)
        if missing:
            return [("missing_columns", f"missing or empty: {', '.join(missing)}")]
        out: list[Problem] = []
        cfg = self.cfg
        if cfg.ontology:
            out += self.entity_problems(item.get("entities") or [])
            out += self.fact_problems(item.get("facts") or [])
        if item["answer_kind"] == "choice":
            out += self.choice_problems(item)
        ref = str(item["reference"])
        if cfg.claims and (item.get("entities") or item.get("facts")):
            out += self.claim_problems(ref)
        if cfg.workflow and item.get("required_steps"):
            out += [
                (f"workflow:{v.rule}", v.message)
                for v in workflow_violations(item, ref, self.kg, cfg)
            ]
        if cfg.answers:
            try:
                if not check_answer(item, ref):
                    out.append(
                        (
                            "answer_mismatch",
                            f"the reference is graded wrong against {item['answer']!r}",
                        )
                    )
            except ValueError as exc:
                out.append(("answer_mismatch", f"ungradable answer: {exc}"))
        if cfg.instructions:
            try:
                failed = instruction_failures(item, ref)
            except ValueError as exc:  # bad kwargs
                out.append(("ifeval:kwargs", str(exc)))
            else:
                out += [(f"ifeval:{i}", f"the reference does not follow {i}") for i in failed]
        return out

    # ------------------------------------------------------------------ ontology

    def _names_of(self, text: str) -> set[str]:
        kg = self.kg
        ids = set(kg.lookup(text))
        if not ids:
            stripped = text.strip()
            for m in kg.ground(stripped):
                if m.start == 0 and m.end == len(stripped):
                    ids |= {m.id, *kg.lookup(m.name)}
        if _ICD_CODE.match(text.strip()):
            code = kg.resolve(text.strip())
            if code:
                ids.add(code)
        return ids

    def entity_problem(self, text: str, nid: str) -> str | None:
        key = (text, nid)
        if key in self._entity_ok:
            return self._entity_ok[key]
        verdict = self.kg.check({"relation": "exists", "subject": nid})
        why = None
        if not verdict.valid:
            why = f"{nid}: {verdict.reason}"
        else:
            canon = self.kg.resolve(nid)
            names = self._names_of(text)
            if canon not in names and not any(canon in self.index.same_name(n) for n in names):
                why = f"{text!r} does not ground to {nid}" + (
                    "" if names else " (no ontology match)"
                )
        if len(self._entity_ok) > 200_000:
            self._entity_ok.clear()
        self._entity_ok[key] = why
        return why

    def entity_problems(self, entities: Sequence[Mapping[str, Any]]) -> list[Problem]:
        out = []
        for ent in entities:
            why = self.entity_problem(str(ent.get("text", "")), str(ent.get("id", "")))
            if why:
                out.append(("unknown_entity", why))
        return out

    def fact_problems(self, facts: Sequence[Mapping[str, Any]]) -> list[Problem]:
        out = []
        holds = self.index.holds  # the reason is only needed for a false "holds" fact
        for f in facts:
            rel, subj, obj = f.get("relation"), f.get("subject"), f.get("object")
            valid = holds(rel, subj, obj)
            if f.get("holds", True):
                if not valid:
                    reason = self.index.check(rel, subj, obj).reason
                    out.append((f"false_fact:{rel}", reason or "false"))
                continue
            if valid:
                out.append((f"distractor_correct:{rel}", f"{subj} {rel} {obj} holds"))
            elif rel == "has_phenotype" and isinstance(obj, str):
                aliases = self.index.disease_aliases(str(subj))
                if self.index.has_phenotype_any([a for a in aliases if a != subj], obj):
                    out.append(
                        (
                            f"distractor_correct:{rel}",
                            f"{obj} is annotated to a disease named like {subj}",
                        )
                    )
        return out

    def choice_problems(self, item: Mapping[str, Any]) -> list[Problem]:
        choices = list(item["choices"])
        keys = [name_key(c) for c in choices]
        if not 2 <= len(choices) <= 5 or len(set(keys)) != len(keys) or not all(keys):
            return [("bad_choices", f"need 2-5 distinct options, got {choices}")]
        answer = str(item["answer"])
        if answer not in LETTERS[: len(choices)]:
            return [("bad_choices", f"answer {answer!r} is not one of {LETTERS[: len(choices)]}")]
        out: list[Problem] = []
        if str(item.get("task", "")).startswith("mcq_"):
            wrong = sum(1 for f in item.get("facts") or [] if not f.get("holds", True))
            if wrong < len(choices) - 1:
                out.append(
                    (
                        "unverified_distractor",
                        f"{wrong} distractor fact(s) for {len(choices) - 1} distractors",
                    )
                )
        diag = item.get("diagnosis_id")
        if diag:
            correct = name_key(choices[LETTERS.index(answer)])
            names = {name_key(self.kg.name_of(i)) for i in self.index.same_name(diag)}
            if correct not in names:
                out.append(("answer_mismatch", f"option {answer} is not the diagnosis {diag}"))
        return out

    def claim_problems(self, text: str) -> list[Problem]:
        from balancedbio.rewards.claims import check_claims

        if not _may_claim(text):
            return []
        report = check_claims(text, self.kg)
        return [
            (f"false_claim:{c.relation}", f"{c.text!r}: {v.reason}") for c, v in report.false_claims
        ]


def _may_claim(text: str) -> bool:
    """Does ``text`` hold a claim word or an ICD-10 code? Every cue of rewards.claims does:
    a text without any cannot state a claim, so its claims pass is skipped."""
    if text.isascii():  # there, ignoring case is plain ASCII lower-casing
        words = set(text.encode().translate(_WORD_TABLE).split())
        if not _CLAIM_TOKENS.isdisjoint(words):
            return True
        # only "a.k.a" and "is in" remain, whose runs these are (else: no claim word)
        found = _CLAIM_WORDS_LOWER.search(text.lower()) if words & _CLAIM_MULTI else None
    else:
        found = _CLAIM_WORDS.search(text)
    return found is not None or _ICD_LIKE.search(text) is not None


__all__ = [
    "Validator",
    "check_answer",
    "grade_response",
    "instruction_failures",
    "last_user_text",
    "workflow_violations",
]
