"""Knowledge MCQs whose distractors come from the ontology and are verified to be wrong.

Every option is an ontology entity; the correct one satisfies the question's relation and
each distractor is checked with ``kg.check`` *not* to (for ``has_phenotype`` against every
disease id of the same name, so an ORPHA annotation cannot make an OMIM distractor
right). Types:

* ``mcq_phenotype`` - which feature is annotated to disease X? (true-path rule);
  distractors: specific phenotypes of diseases sharing phenotypes with X;
* ``mcq_subtype`` - which disease is a subtype of Y? distractors: Y's siblings and cousins;
* ``mcq_icd_category`` - which ICD-10-CM category holds code Z? distractors: other
  categories of the same block;
* ``mcq_synonym`` - which term is a synonym of X? distractors: names of X's siblings;
* ``mcq_definition`` - which disease matches this (MONDO) definition? distractors:
  siblings.

Each also has a model mode (:meth:`KnowledgeMcq.judge` grounds the model's options).
"""

from __future__ import annotations

import re
from itertools import filterfalse
from typing import TYPE_CHECKING, Any

from balancedbio.data.constructors.base import (
    Constructor,
    McqSpec,
    Option,
    Result,
    most_shared,
    reject,
    render_mcq,
    shuffle,
)
from balancedbio.data.constructors.pools import related, sorted_below, sorted_children
from balancedbio.data.records import Rejection, fact
from balancedbio.data.seeds import choice, sample

if TYPE_CHECKING:
    import random

    from balancedbio.data.seeds import Seed


def capitalize(text: str) -> str:
    """Upper-case the first letter (sentence start); the rest is left as written."""
    return text[:1].upper() + text[1:]


class KnowledgeMcq(Constructor):
    """Base: ``spec`` builds the MCQ; ``judge`` verifies an option text (model mode)."""

    capability = "knowledge"
    has_model_mode = True
    #: model-mode brief: what the question must test
    brief_template = ""

    def spec(self, seed: Seed, rng: random.Random) -> McqSpec | Rejection:
        raise NotImplementedError

    def build(self, seed: Seed) -> Result:
        rng = seed.rng()
        spec = self.spec(seed, rng)
        return spec if isinstance(spec, Rejection) else render_mcq(self, seed, spec, rng)

    def judge(self, seed: Seed, spec: McqSpec, text: str) -> Option | None:
        """Ground an option written by a model; None if it names no suitable entity."""
        raise NotImplementedError

    def _lookup(self, text: str, prefixes: tuple[str, ...]) -> str | None:
        for nid in self.kg.lookup(text):
            if nid.startswith(prefixes):
                return nid
        for m in self.kg.ground(text):
            if m.start == 0 and m.end == len(text.strip()) and m.id.startswith(prefixes):
                return m.id
        return None

    def _check(self, relation: str, subject: str, obj: str) -> bool:
        return self.index.holds(relation, subject, obj)


# --------------------------------------------------------------------------- phenotype


class McqPhenotype(KnowledgeMcq):
    task = "mcq_phenotype"
    brief_template = "{disease} has the clinical feature {feature} (HPO annotation)."

    def spec(self, seed: Seed, rng: random.Random) -> McqSpec | Rejection:
        d, idx = seed.entity, self.index
        findings = idx.findings(d)
        if not findings:
            return reject("insufficient_findings", f"{d} has no specific groundable phenotype")
        p = choice(rng, findings)
        aliases = idx.disease_aliases(d) or (d,)
        direct = idx.direct.get(d, frozenset())
        shared = idx.neighbours(d, findings)
        ranked = most_shared(shared, 20)  # most similar diseases
        shuffle(rng, ranked)
        out: list[Option] = []
        seen: set[str] = set()
        name_of, holds_any = self.kg.name_of, self.kg.checker.holds_phenotype_any
        for other in ranked:
            # sorted(direct[other] - direct - seen), from the memoized sorted tuple
            cands = [
                *filterfalse(
                    seen.__contains__, filterfalse(direct.__contains__, idx.sorted_direct(other))
                )
            ]
            for q in sample(rng, cands, min(len(cands), 4)):
                seen.add(q)
                if not idx.specific(q) or not idx.ancestors(q).isdisjoint(direct):
                    continue  # unspecific, or a refinement of a true feature (ambiguous)
                if not holds_any(aliases, q):  # idx.has_phenotype_any
                    out.append(Option(name_of(q), q, [fact("has_phenotype", d, q, False)]))
            if len(out) >= 8:
                break
        name = name_of(d)
        return McqSpec(
            question=(
                f"Which of the following clinical features is annotated to {name} in the "
                "Human Phenotype Ontology?"
            ),
            correct=Option(self.kg.name_of(p), p, [fact("has_phenotype", d, p, True)]),
            distractors=out,
            entities=[{"text": name, "id": d}],
            explanation=f"{capitalize(name)} is characterized by {idx.display(p)}.",
        )

    def judge(self, seed: Seed, spec: McqSpec, text: str) -> Option | None:
        q = self._lookup(text, ("HP:",))
        if q is None:
            return None
        aliases = self.index.disease_aliases(seed.entity) or (seed.entity,)
        holds = self.index.has_phenotype_any(aliases, q)
        return Option(text, q, [fact("has_phenotype", seed.entity, q, holds)])


# --------------------------------------------------------------------------- subtype


class McqSubtype(KnowledgeMcq):
    task = "mcq_subtype"
    brief_template = "{child} is a subtype of {parent} (MONDO)."

    def spec(self, seed: Seed, rng: random.Random) -> McqSpec | Rejection:
        y, kg, idx = seed.entity, self.kg, self.index
        children = [c for c in sorted_children(kg, y) if idx.grounds(c)]  # sorted
        if not children:
            return reject("insufficient_distractors", f"{y} has no groundable subtype")
        c = choice(rng, children)
        above = kg.ancestors(y)
        seen, out = {y, *above, *children}, []
        # sorted(set(children of y's parents) - seen), from the memoized sorted union
        sibs = [x for x in sorted_below(kg, kg.parents(y), 1) if x not in seen]
        for sib in sample(rng, sibs, min(len(sibs), 12)):
            nephews = sorted_children(kg, sib)
            for cand in (sib, *sample(rng, nephews, min(len(nephews), 2))):
                if cand in seen:
                    continue
                seen.add(cand)
                if idx.grounds(cand) and not self._check("is_a", cand, y):
                    out.append(Option(kg.name_of(cand), cand, [fact("is_a", cand, y, False)]))
            if len(out) >= 8:
                break
        name = kg.name_of(y)
        return McqSpec(
            question=f"Which of the following is a subtype of {name}?",
            correct=Option(kg.name_of(c), c, [fact("is_a", c, y, True)]),
            distractors=out,
            entities=[{"text": name, "id": y}],
            explanation=f"{capitalize(kg.name_of(c))} is a type of {name}.",
        )

    def judge(self, seed: Seed, spec: McqSpec, text: str) -> Option | None:
        x = self._lookup(text, ("MONDO:",))
        if x is None:
            return None
        return Option(text, x, [fact("is_a", x, seed.entity, self._check("is_a", x, seed.entity))])


# --------------------------------------------------------------------------- ICD-10-CM


class McqIcdCategory(KnowledgeMcq):
    task = "mcq_icd_category"
    brief_template = "ICD-10-CM code {code} belongs to category {category}."

    def spec(self, seed: Seed, rng: random.Random) -> McqSpec | Rejection:
        z, kg = seed.entity, self.kg
        cat = self.source.category_of(z)  # type: ignore[attr-defined]
        if cat is None:
            return reject("unknown_entity", f"{z} has no ICD-10-CM category")
        block = kg.parents(cat)[0]
        out = [
            Option(kg.name_of(x), x, [fact("icd10_parent", z, x, False)])
            for x in sorted_children(kg, block)
            if x != cat and not self._check("icd10_parent", z, x)
        ]
        code = z.split(":", 1)[1]
        return McqSpec(
            question=(
                f"In ICD-10-CM, the code {code} ({kg.name_of(z)}) belongs to which category?"
            ),
            correct=Option(kg.name_of(cat), cat, [fact("icd10_parent", z, cat, True)]),
            distractors=out,
            entities=[{"text": code, "id": z}],
            explanation=f"ICD-10-CM code {code} falls under category {cat.split(':', 1)[1]}.",
        )

    def judge(self, seed: Seed, spec: McqSpec, text: str) -> Option | None:
        cands = [i for i in self.kg.lookup(text) if i.startswith("ICD10CM:")]
        m = re.match(r"\s*([A-Z]\d{2})\b", text)
        if m:
            cands.insert(0, f"ICD10CM:{m.group(1)}")
        for x in cands:
            if x in self.kg and self.kg[x].kind == "icd10cm_category":
                holds = self._check("icd10_parent", seed.entity, x)
                return Option(text, x, [fact("icd10_parent", seed.entity, x, holds)])
        return None


# --------------------------------------------------------------------------- synonym


class McqSynonym(KnowledgeMcq):
    task = "mcq_synonym"
    brief_template = "{synonym} is a synonym of {term}."

    def spec(self, seed: Seed, rng: random.Random) -> McqSpec | Rejection:
        x, kg = seed.entity, self.kg
        syns = self.source.good_synonyms(x)  # type: ignore[attr-defined]
        if not syns:
            return reject("unknown_entity", f"{x} has no usable exact synonym")
        syn = choice(rng, syns)
        every = {s.casefold() for s in kg.synonym_texts(x)} | {kg.name_of(x).casefold()}
        out = []
        for parent in kg.parents(x):
            if len(out) >= 12:
                break
            for sib in sorted_children(kg, parent):
                if len(out) >= 12:
                    break
                name = kg.name_of(sib)
                if sib == x or name.casefold() in every:
                    continue
                if x in kg.lookup(name) or self._check("name", x, name):
                    continue
                out.append(Option(name, sib, [fact("name", x, name, False)]))
        name = kg.name_of(x)
        return McqSpec(
            question=f"Which of the following is a synonym of {name}?",
            correct=Option(syn, x, [fact("name", x, syn, True)]),
            distractors=out,
            entities=[{"text": name, "id": x}],
            explanation=f"{capitalize(name)} is also known as {syn}; both names are in use.",
        )

    def judge(self, seed: Seed, spec: McqSpec, text: str) -> Option | None:
        x = seed.entity
        if self._check("name", x, text):
            return Option(text, x, [fact("name", x, text, True)])
        others = [i for i in self.kg.lookup(text) if i != x]
        if not others:
            return None
        return Option(text, others[0], [fact("name", x, text, False)])


# --------------------------------------------------------------------------- definition


def mask_names(text: str, names: list[str]) -> str:
    """Replace the disease's own names in its definition with "this condition"."""
    low = text.lower() if text.isascii() else None
    for name in sorted(names, key=len, reverse=True):
        if len(name) < 3:
            continue
        if low is not None and name.isascii() and name.lower() not in low:
            continue  # cannot match (ASCII: re.I equals lower-casing); skips a regex compile
        text = re.sub(rf"\b{re.escape(name)}\b", "this condition", text, flags=re.I)
        low = text.lower() if text.isascii() else None
    return text


def first_sentences(text: str, limit: int = 320) -> str:
    parts = re.split(r"(?<=[.!?])\s+", text.strip())
    out = ""
    for part in parts:
        if out and len(out) + len(part) > limit:
            break
        out = f"{out} {part}".strip()
    return out


class McqDefinition(KnowledgeMcq):
    task = "mcq_definition"
    brief_template = "MONDO defines {disease} as: {definition}"

    def spec(self, seed: Seed, rng: random.Random) -> McqSpec | Rejection:
        x, kg, idx = seed.entity, self.kg, self.index
        node = kg[x]
        names = [node.name, *(s.text for s in node.synonyms)]
        definition = mask_names(first_sentences(node.definition or ""), names)
        if not definition:
            return reject("unknown_entity", f"{x} has no definition")
        out: list[Option] = []
        above = kg.ancestors(x)
        for cand in related(kg, x, rng):
            name = kg.name_of(cand)
            if cand in above or not idx.grounds(cand) or x in kg.lookup(name):
                continue
            if self._check("name", x, name) or self._check("is_a", cand, x):
                continue
            out.append(Option(name, cand, [fact("name", x, name, False)]))
            if len(out) >= 8:
                break
        return McqSpec(
            question=f'Which disease does this definition describe?\n"{definition}"',
            correct=Option(node.name, x, [fact("name", x, node.name, True)]),
            distractors=out,
            entities=[],
            explanation=f"The definition is that of {node.name} (MONDO).",
        )

    def judge(self, seed: Seed, spec: McqSpec, text: str) -> Option | None:
        x = seed.entity
        if self._check("name", x, text):
            return Option(text, x, [fact("name", x, text, True)])
        other = self._lookup(text, ("MONDO:", "OMIM:", "ORPHA:"))
        if other is None:
            return None
        return Option(text, other, [fact("name", x, text, False)])


def brief_fields(con: KnowledgeMcq, spec: McqSpec) -> dict[str, Any]:
    """Values for ``brief_template`` (model mode)."""
    kg = con.kg
    correct = spec.correct
    if isinstance(con, McqPhenotype):
        return {"disease": spec.entities[0]["text"], "feature": correct.text}
    if isinstance(con, McqSubtype):
        return {"child": correct.text, "parent": spec.entities[0]["text"]}
    if isinstance(con, McqIcdCategory):
        return {"code": spec.entities[0]["text"], "category": correct.text}
    if isinstance(con, McqSynonym):
        return {"synonym": correct.text, "term": spec.entities[0]["text"]}
    return {"disease": correct.text, "definition": kg[correct.id].definition or ""}


KNOWLEDGE_CONSTRUCTORS: tuple[type[KnowledgeMcq], ...] = (
    McqPhenotype,
    McqSubtype,
    McqIcdCategory,
    McqSynonym,
    McqDefinition,
)

__all__ = [
    "KNOWLEDGE_CONSTRUCTORS",
    "KnowledgeMcq",
    "McqDefinition",
    "McqIcdCategory",
    "McqPhenotype",
    "McqSubtype",
    "McqSynonym",
    "brief_fields",
    "capitalize",
    "first_sentences",
    "mask_names",
]
