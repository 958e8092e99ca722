"""Instruction-following items: a medical task plus 1-3 verifiable IFEval instructions.

The item's first instruction cycles through all 25 IFEval types by the seed's ordinal, so
any run with 25+ instruction seeds covers every type; extras are drawn compatible with it
(:mod:`.compose`). The reference response is assembled programmatically from
ontology-grounded sentences (the topic's MONDO definition, annotated phenotypes, a
synonym, its parent class, each stated as a checkable claim) and verified with
``follow_instructions``; a reference that fails its own instructions is rejected.

* ``instruction`` - topic: a MONDO disease (a yes/no task for ``constrained_response``,
  answered from the HPO annotations; a translated response for ``response_language``);
* ``document_instruction`` - summarize a passage of the user's documents (extractive).

Model mode: the same prompt (instructions drawn, counting thresholds fitted to the
template response) is sent to the model, whose JSON ``response`` becomes the reference;
validation then checks every instruction (``ifeval:<id>`` on failure).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any

from balancedbio.data.constructors import compose
from balancedbio.data.constructors.base import Constructor, Result, most_shared, reject
from balancedbio.data.constructors.knowledge import capitalize, first_sentences
from balancedbio.data.constructors.texts import FILLER, LANGUAGE_BANK, TASKS
from balancedbio.data.records import Rejection, fact, user_message
from balancedbio.rewards.ifeval import INSTRUCTION_IDS
from balancedbio.rewards.ifeval.describe import MEDICAL_VOCABULARY

if TYPE_CHECKING:
    import random

    from balancedbio.data.seeds import Seed
    from balancedbio.rewards.claims import ClaimReport

_CONSTRAINED = "detectable_format:constrained_response"
_LANG = "language:response_language"
PRIMARY_ONLY = frozenset({_CONSTRAINED, _LANG, *compose.CASE})


Candidates = list[tuple[str, list[dict[str, Any]]]]


def keep_true(kg: Any, cands: Candidates) -> tuple[list[str], list[dict[str, Any]]]:
    """Sentences (with their facts) minus those stating a false relation, in one claims pass."""
    kept = true_candidates(kg, cands)
    return [s for s, _ in kept], [f for _, fs in kept for f in fs]


def true_candidates(kg: Any, cands: Candidates) -> Candidates:
    """``cands`` minus the sentences a false claim of their joined text overlaps."""
    from balancedbio.rewards.claims import check_claims

    text = " ".join(s for s, _ in cands)
    bad = [c.span for c, _ in check_claims(text, kg).false_claims]
    kept, pos = [], 0
    for sent, fs in cands:
        start, end = pos, pos + len(sent)
        pos = end + 1
        if not any(a < end and start < b for a, b in bad):
            kept.append((sent, fs))
    return kept


def false_sentences(report: ClaimReport, text: str, sents: Sequence[str]) -> set[int] | None:
    """Indices of ``sents`` (each found verbatim in ``text``) that a false claim of ``text``
    overlaps; None when one is not in ``text`` (its claims must then be read on its own)."""
    bad = [c.span for c, _ in report.false_claims]
    out = set()
    for i, sent in enumerate(sents):
        start = text.find(sent)
        if start < 0:
            return None
        while start >= 0 and bad:
            end = start + len(sent)
            if any(a < end and start < b for a, b in bad):
                out.add(i)
            start = text.find(sent, start + 1)
    return out


def with_sentences(x: str, base: dict[str, Any], cands: Candidates) -> dict[str, Any] | Rejection:
    """``base`` with ``cands`` after its lead sentence and their facts before the lead's."""
    sents = [*base["sentences"], *(s for s, _ in cands)]
    if not sents:
        return reject("insufficient_content", f"{x}: nothing verifiable to say")
    facts = [f for _, fs in cands for f in fs]
    return {**base, "sentences": sents, "facts": [*facts, *base["facts"]]}


class InstructionItem(Constructor):
    """Shared machinery: plan -> compose -> fit -> verify -> row."""

    capability = "instruction"
    allowed: tuple[str, ...] = INSTRUCTION_IDS

    def plan(
        self,
        rng: random.Random,
        *,
        task: str,
        topic: str,
        sentences: list[str],
        primary: str,
    ) -> tuple[compose.Plan, str, str]:
        """(plan, template response, prompt): instructions drawn, response composed,
        counting thresholds fitted to it."""
        # a yes/no task, a translated or case-changed response (langdetect-checked): primary only
        extras = [i for i in self.allowed if i not in PRIMARY_ONLY]
        ids = compose.pick_instructions(primary, extras, rng, self.cfg.construct.max_instructions)
        kwargs = compose.draw_kwargs(
            ids,
            rng,
            prompt=task,
            vocabulary=MEDICAL_VOCABULARY,
            avoid=" ".join([task, *sentences]),
            languages=tuple(LANGUAGE_BANK),
        )
        lang = kwargs.get(_LANG, {}).get("language")
        if lang:
            bank = [s.format(t=topic) for s in LANGUAGE_BANK[lang]]
            sentences, filler = bank[:3], bank[3:]
        else:
            filler = list(FILLER)
            rng.shuffle(filler)
        plan = compose.Plan(ids, kwargs, task, topic, sentences, filler)
        response = compose.compose(plan, rng)
        compose.fit_kwargs(plan, response, rng, MEDICAL_VOCABULARY)
        return plan, response, compose.prompt_text(plan)

    def make(
        self,
        seed: Seed,
        rng: random.Random,
        *,
        facts: list[dict[str, Any]],
        entities: list[dict[str, str]],
        **inputs: Any,
    ) -> Result:
        """Template mode: the composed response is the reference (verified here)."""
        plan, response, prompt = self.plan(rng, **inputs)
        return self.verified(seed, plan, prompt, response, facts, entities)

    def verified(
        self,
        seed: Seed,
        plan: compose.Plan,
        prompt: str,
        response: str,
        facts: list[dict[str, Any]],
        entities: list[dict[str, str]],
    ) -> Result:
        """The row of a template response that follows its instructions, else a rejection."""
        failed = compose.failures(prompt, response, plan)
        if failed:
            return reject(f"ifeval:{failed[0]}", f"reference does not follow {failed}", "construct")
        return self.row(seed, plan, prompt, response, facts, entities)

    def row(
        self,
        seed: Seed,
        plan: compose.Plan,
        prompt: str,
        response: str,
        facts: list[dict[str, Any]],
        entities: list[dict[str, str]],
        mode: str = "template",
    ) -> dict[str, Any]:
        return self.record(
            seed,
            mode=mode,
            prompt=user_message(prompt),
            question=prompt,
            answer="",
            answer_kind="none",
            reference=response,
            instruction_id_list=list(plan.ids),
            kwargs=[plan.kwargs[i] for i in plan.ids],
            facts=facts,
            entities=entities,
        )

    def inputs(self, seed: Seed, rng: random.Random) -> dict[str, Any] | Rejection:
        """task, topic, sentences, facts, entities and primary instruction of a seed."""
        raise NotImplementedError

    def build(self, seed: Seed) -> Result:
        rng = seed.rng()
        got = self.inputs(seed, rng)
        return got if isinstance(got, Rejection) else self.make(seed, rng, **got)

    # model mode: the model writes the response; validation checks every instruction
    has_model_mode = True

    def request(self, seed: Seed) -> tuple[list[dict[str, str]], Any] | Rejection:
        rng = seed.rng()
        got = self.inputs(seed, rng)
        if isinstance(got, Rejection):
            return got
        facts, entities = got.pop("facts"), got.pop("entities")
        plan, _, prompt = self.plan(rng, **got)
        text = f'{prompt}\n\nReply with JSON only: {{"response": "<your response>"}}'
        return user_message(text), (plan, prompt, facts, entities)

    def parse(self, seed: Seed, obj: dict[str, Any], state: Any) -> Result:
        plan, prompt, facts, entities = state
        response = obj.get("response")
        if not isinstance(response, str) or not response.strip():
            return reject("parse_error", "JSON needs a non-empty string 'response'", "model")
        return self.row(seed, plan, prompt, response, facts, entities, mode="model")


class TopicInstruction(InstructionItem):
    """A MONDO disease as topic; content sentences state checkable relations."""

    task = "instruction"

    def topic_sentences(self, x: str, rng: random.Random) -> tuple[list[str], list[dict[str, Any]]]:
        """:meth:`candidates` minus those ``rewards.claims`` reads as a false relation."""
        return keep_true(self.kg, self.candidates(x, rng))

    def candidates(self, x: str, rng: random.Random) -> Candidates:
        """Definition, annotated features, a synonym and the parent class of ``x``, each
        with the facts it states (not yet claims-checked)."""
        kg, idx = self.kg, self.index
        name = capitalize(kg.name_of(x))
        cands: Candidates = []
        definition = first_sentences(kg[x].definition or "", 200)
        if definition:
            head = definition[0].lower() + definition[1:]
            if definition.startswith(("A ", "An ")):
                sent = f"{name} is {head}"
            elif definition.startswith("Any "):
                sent = f"{name} refers to {head}"
            else:
                sent = definition
            cands.append((sent if sent.endswith(".") else sent + ".", []))
        annotated = [a for a in idx.disease_aliases(x) if a in idx.direct]
        found = idx.findings(annotated[0]) if annotated else []
        if found:
            picked = rng.sample(found, min(3, len(found)))
            names = [idx.display(p) for p in picked]
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            cands.append(
                (
                    f"{name} is characterized by {listed}.",
                    [fact("has_phenotype", x, p, True) for p in picked],
                )
            )
        syns = self.source.good_synonyms(x)  # type: ignore[attr-defined]
        if syns:
            syn = rng.choice(syns)
            cands.append(
                (
                    f"{name} is also known as {syn}; both names are in use.",
                    [fact("name", x, syn, True)],
                )
            )
        parents = [p for p in kg.parents(x) if idx.plain_name(p)]
        if parents:
            cands.append(
                (
                    f"{name} is a type of {kg.name_of(parents[0])}.",
                    [fact("is_a", x, parents[0], True)],
                )
            )
        return cands

    def inputs(self, seed: Seed, rng: random.Random) -> dict[str, Any] | Rejection:
        """Model mode: the candidate sentences are claims-checked up front."""
        got = self.unchecked(seed, rng)
        if isinstance(got, Rejection):
            return got
        base, cands = got
        return with_sentences(seed.entity, base, true_candidates(self.kg, cands))

    def build(self, seed: Seed) -> Result:
        """Template mode: composed with every candidate sentence, then one claims pass over
        the reference (which the validator's identical pass reuses); only if a false claim
        falls in a candidate sentence is it dropped and the response composed again from
        the same random state (replayed: cheaper than saving it for every seed)."""
        rng = seed.rng()
        got = self.unchecked(seed, rng)
        if isinstance(got, Rejection):
            return got
        base, cands = got
        cands = self.without_false_definition(cands)
        inputs = with_sentences(seed.entity, base, cands)
        if isinstance(inputs, Rejection):
            return inputs
        facts, entities = inputs.pop("facts"), inputs.pop("entities")
        plan, response, prompt = self.plan(rng, **inputs)
        kept = self.true_in(plan, response, cands)
        if len(kept) < len(cands):
            rng = seed.rng()
            self.unchecked(seed, rng)  # the same draws again: rng is where plan() began
            inputs = with_sentences(seed.entity, base, kept)
            if isinstance(inputs, Rejection):
                return inputs
            facts, entities = inputs.pop("facts"), inputs.pop("entities")
            plan, response, prompt = self.plan(rng, **inputs)
        return self.verified(seed, plan, prompt, response, facts, entities)

    def without_false_definition(self, cands: Candidates) -> Candidates:
        """``cands`` minus the definition (first, stating no fact) if it holds a false claim
        on its own: it is where nearly all false claims fall (about 1 topic in 5), and
        dropping it before composing spares composing and checking twice."""
        from balancedbio.rewards.claims import check_claims

        if cands and not cands[0][1] and check_claims(cands[0][0], self.kg).false_claims:
            return cands[1:]
        return cands

    def true_in(self, plan: compose.Plan, response: str, cands: Candidates) -> Candidates:
        """The candidates no false claim of ``response`` overlaps, where the response holds
        them as :func:`compose.shown` renders them; else (translated) read on their own."""
        from balancedbio.rewards.claims import check_claims

        report = check_claims(response, self.kg)
        drop = false_sentences(report, response, [compose.shown(plan, s) for s, _ in cands])
        if drop is None:
            return true_candidates(self.kg, cands)
        return [c for i, c in enumerate(cands) if i not in drop]

    def unchecked(
        self, seed: Seed, rng: random.Random
    ) -> tuple[dict[str, Any], Candidates] | Rejection:
        """Inputs whose ``sentences``/``facts`` hold only the yes/no lead, and the topic's
        candidate sentences (see :func:`with_sentences`)."""
        x = seed.entity
        primary = INSTRUCTION_IDS[seed.ordinal % len(INSTRUCTION_IDS)]
        name = self.kg.name_of(x)
        cands = self.candidates(x, rng)
        entities = [{"text": name, "id": x}]
        lead: list[str] = []
        facts: list[dict[str, Any]] = []
        if primary == _CONSTRAINED:
            got = self.yes_no(x, rng)
            if got is None:
                return reject("insufficient_findings", f"{x}: nothing to ask a yes/no question on")
            task, first, yn_fact, pheno = got
            lead, facts = [first], [yn_fact]
            entities.append({"text": self.kg.name_of(pheno), "id": pheno})
        else:
            task = rng.choice(TASKS).format(t=name)
        base = {
            "task": task,
            "topic": name,
            "sentences": lead,
            "facts": facts,
            "entities": entities,
            "primary": primary,
        }
        return base, cands

    def yes_no_class(
        self, x: str, rng: random.Random
    ) -> tuple[str, str, dict[str, Any], str] | None:
        """ "Is X a type of P?" from the MONDO hierarchy (P a parent, or verified not one)."""
        kg, idx = self.kg, self.index
        parents = [p for p in kg.parents(x) if idx.plain_name(p)]
        if not parents:
            return None
        name = kg.name_of(x)
        if rng.random() < 0.5:
            p = parents[0]
            return (
                f"Is {name} a type of {kg.name_of(p)}?",
                "My answer is yes.",
                fact("is_a", x, p, True),
                p,
            )
        above = kg.ancestors(x)
        others = (
            q
            for g in kg.parents(parents[0])
            for q in sorted(kg.children(g))
            if q not in above
            and q != x
            and idx.plain_name(q)
            and not kg.check({"relation": "is_a", "subject": x, "object": q}).valid
        )
        first = list(islice(others, 30))  # the choice is among the first 30 only
        if not first:
            return None
        q = rng.choice(first)
        return (
            f"Is {name} a type of {kg.name_of(q)}?",
            "My answer is no.",
            fact("is_a", x, q, False),
            q,
        )

    def yes_no(self, x: str, rng: random.Random) -> tuple[str, str, dict[str, Any], str] | None:
        idx = self.index
        annotated = [a for a in idx.disease_aliases(x) if a in idx.direct]
        found = idx.findings(annotated[0]) if annotated else []
        if not found:
            return self.yes_no_class(x, rng)
        name = self.kg.name_of(x)
        if rng.random() < 0.5:
            p = rng.choice(found)
            task = f"Is {idx.display(p)} a recognized feature of {name}?"
            return task, "My answer is yes.", fact("has_phenotype", x, p, True), p
        shared = idx.neighbours(annotated[0], found)
        near = most_shared(shared, 10)
        rng.shuffle(near)
        p = None
        for d in near:
            cands = sorted(
                idx.direct.get(d, frozenset()) - idx.direct.get(annotated[0], frozenset())
            )
            for q in rng.sample(cands, min(len(cands), 5)):
                if idx.specific(q) and not idx.has_phenotype_any((x, *annotated), q):
                    p = q
                    break
            if p is not None:
                break
        if p is None:
            return self.yes_no_class(x, rng)
        task = f"Is {idx.display(p)} a recognized feature of {name}?"
        return task, "My answer is no.", fact("has_phenotype", x, p, False), p


class DocumentInstruction(InstructionItem):
    """Summarize a passage of the user's documents (sentences kept verbatim)."""

    task = "document_instruction"
    allowed = tuple(
        i for i in INSTRUCTION_IDS if i not in (_LANG, _CONSTRAINED, "combination:repeat_prompt")
    )

    def inputs(self, seed: Seed, rng: random.Random) -> dict[str, Any] | Rejection:
        p = self.source.payload(seed.entity)
        if not p:
            return reject("unknown_entity", f"no passage {seed.entity}")
        passage = " ".join(p["sentences"])
        task = f'Summarize this excerpt from the clinic document "{p["title"]}":\n\n{passage}'
        return {
            "task": task,
            "topic": p["title"],
            "sentences": list(p["sentences"]),
            "facts": [],
            "entities": [dict(m) for m in p["mentions"]],
            "primary": self.allowed[seed.ordinal % len(self.allowed)],
        }


INSTRUCTION_CONSTRUCTORS: tuple[type[Constructor], ...] = (TopicInstruction, DocumentInstruction)

__all__ = [
    "FILLER",
    "INSTRUCTION_CONSTRUCTORS",
    "LANGUAGE_BANK",
    "DocumentInstruction",
    "InstructionItem",
    "TopicInstruction",
]
