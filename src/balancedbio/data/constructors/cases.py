"""Clinical cases grounded in HPO annotations, shared by reasoning and integrated items.

A case is a disease with a subset of its specific annotated phenotypes as findings and a
differential of other diseases that share some findings but (verified with ``kg.check``)
not all of them, so the findings single out the diagnosis within the differential. The
reference solution is written in the workflow trace format of
:mod:`balancedbio.rewards.trace` and must pass :mod:`balancedbio.rewards.workflow`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from balancedbio.data.constructors.base import Constructor, most_shared, reject, shuffle
from balancedbio.data.records import Rejection, fact
from balancedbio.data.seeds import choice, randint, randrange, sample

if TYPE_CHECKING:
    import random
    from collections.abc import Callable

REQUIRED_STEPS: tuple[str, ...] = ("presentation", "history_exam", "differential", "diagnosis")
CASE_FORMAT = (
    "Reason step by step under the headings Presentation:, History/Exam:, Differential:, "
    "Investigations:, Diagnosis: and Management:, in this order, then end with a final line "
    "of the form 'Answer: {what}'."
)

#: HPO onset term -> (low, high) age in years (negative: months as -m; 0: newborn).
ONSET_AGES: dict[str, tuple[float, float]] = {
    "HP:0030674": (0, 0),  # antenatal
    "HP:0003577": (0, 0),  # congenital
    "HP:0003623": (0, 0),  # neonatal
    "HP:0003593": (-11, -2),  # infantile
    "HP:0011463": (2, 10),  # childhood
    "HP:0003621": (11, 17),  # juvenile
    "HP:0011462": (18, 39),  # young adult
    "HP:0025708": (18, 29),  # early young adult
    "HP:0003581": (20, 60),  # adult
    "HP:0003596": (40, 60),  # middle age
    "HP:0003584": (61, 80),  # late
}


@dataclass
class Case:
    """A diagnosis case before rendering."""

    disease: str
    name: str
    findings: list[tuple[str, str]]  # (text as written, HPO id), presentation order
    n_presenting: int
    patient: str  # "6-year-old girl"
    differential: list[str] = field(default_factory=list)  # disease ids incl. the diagnosis
    shared: dict[str, list[str]] = field(default_factory=dict)  # candidate -> finding texts
    facts: list[dict[str, Any]] = field(default_factory=list)
    genes: list[str] = field(default_factory=list)
    source_ids: list[str] = field(default_factory=list)


def join_list(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def patient_phrase(rng: random.Random, onset: str | None) -> str:
    lo, hi = ONSET_AGES.get(onset or "", (1, 70))
    person = choice(rng, ("boy", "girl")) if (hi if hi > 0 else 0) < 18 else ""
    if hi == 0:
        return f"newborn {person}"
    if hi < 0:
        return f"{randint(rng, int(-hi), int(-lo))}-month-old {person}"
    age = randint(rng, int(lo), int(hi))
    person = person or choice(rng, ("man", "woman"))
    if age < 18 and person in ("man", "woman"):
        person = "boy" if person == "man" else "girl"
    return f"{age}-year-old {person}"


def article(phrase: str) -> str:
    return "An" if phrase[:1] == "8" or phrase.startswith(("11-", "18-")) else "A"


def onset_of(con: Constructor, disease: str) -> str | None:
    """The disease's first (not ``NOT``) onset annotation with an age range."""
    return con.kg.first_annotated(disease, ONSET_AGES)


def finding_texts(case: Case) -> list[str]:
    return [t for t, _ in case.findings]


def add_differential(con: Constructor, case: Case, rng: random.Random) -> Case | Rejection:
    """Pick candidates sharing findings but (checked) not having all of them."""
    idx, kg = con.index, con.kg
    ids = [p for _, p in case.findings]
    text_of = dict((p, t) for t, p in case.findings)
    aliases = set(idx.disease_aliases(case.disease)) | {case.disease}
    shared = idx.neighbours(case.disease, ids)
    ranked = most_shared(shared, 40)
    shuffle(rng, ranked)
    ranked.sort(key=shared.__getitem__, reverse=True)  # stable: ties keep shuffled order
    chosen: list[str] = []
    names = {kg.name_of(case.disease).casefold()}
    limit, holds = con.cfg.construct.differential, kg.checker.holds_phenotype
    for cand in ranked:
        if len(chosen) >= limit:
            break
        cname = kg.name_of(cand).casefold()
        if cand in aliases or cname in names or not idx.plain_name(cand):
            continue
        cand_aliases = idx.disease_aliases(cand)
        if not aliases.isdisjoint(cand_aliases):
            continue
        has, lacks, first = _split_findings(holds, cand_aliases or (cand,), ids)
        if not has or not lacks:
            continue
        names.add(cname)
        chosen.append(cand)
        case.shared[cand] = [text_of[p] for p in has]
        case.facts += [fact("has_phenotype", first, has[0], True)]
        case.facts += [fact("has_phenotype", cand, lacks[0], False)]
    if len(chosen) < max(1, con.cfg.validate.min_differential - 1):
        return reject(
            "insufficient_differential", f"no discriminable differential for {case.disease}"
        )
    case.differential = chosen
    position = randrange(rng, len(chosen) + 1)
    case.differential.insert(position, case.disease)
    case.shared[case.disease] = finding_texts(case)
    return case


def _split_findings(
    holds: Callable[[str, str], bool], cand_ids: tuple[str, ...], ids: list[str]
) -> tuple[list[str], list[str], str | None]:
    """(findings some of ``cand_ids`` has, findings none has, the first holder of the
    first shared finding); ``holds`` is ``FactChecker.holds_phenotype``."""
    has: list[str] = []
    lacks: list[str] = []
    first = None
    for p in ids:
        for c in cand_ids:
            if holds(c, p):
                if first is None:
                    first = c
                has.append(p)
                break
        else:
            lacks.append(p)
    return has, lacks, first


def case_from_disease(con: Constructor, disease: str, rng: random.Random) -> Case | Rejection:
    """Findings: a random subset of the disease's specific annotated phenotypes."""
    idx, c = con.index, con.cfg.construct
    pool = idx.findings(disease)
    if len(pool) < c.min_findings:
        return reject("insufficient_findings", f"{disease} has {len(pool)} usable findings")
    aliases = set(idx.disease_aliases(disease)) | {disease}
    reverse = idx.reverse
    for _ in range(3):  # a few draws: the findings must single out the disease
        m = randint(rng, c.min_findings, min(c.max_findings, len(pool)))
        picked = sample(rng, pool, m)
        others = set(reverse.get(picked[0], ())).intersection(
            *[reverse.get(p, ()) for p in picked[1:]]
        )
        others -= aliases
        extra = [p for p in pool if p not in picked]
        shuffle(rng, extra)
        while others and extra and len(picked) < c.max_findings + 2:  # sharpen until unique
            p = extra.pop()
            picked.append(p)
            others.intersection_update(reverse.get(p, ()))
        if not others:
            break
    if others:
        return reject("ambiguous_case", f"{sorted(others)[:3]} share all findings of {disease}")
    findings = [(idx.display(p), p) for p in picked]
    patient = patient_phrase(rng, onset_of(con, disease))
    genes = [con.kg.name_of(g) for g in con.kg.genes(disease)][:2]
    case = Case(
        disease,
        con.kg.name_of(disease),
        findings,
        (len(findings) + 1) // 2,
        patient,
        facts=[fact("has_phenotype", disease, p, True) for p in picked],
        genes=genes,
    )
    return add_differential(con, case, rng)


def vignette(case: Case) -> str:
    texts = finding_texts(case)
    present, exam = texts[: case.n_presenting], texts[case.n_presenting :]
    out = f"{article(case.patient)} {case.patient} presents with {join_list(present)}."
    if exam:
        out += f" Examination shows {join_list(exam)}."
    return out


def trace_steps(con: Constructor, case: Case) -> list[tuple[str, str]]:
    """(heading, content) of the reference solution, in clinical order."""
    texts = finding_texts(case)
    present, exam = texts[: case.n_presenting], texts[case.n_presenting :]
    kg = con.kg
    diff = "; ".join(
        f"{kg.name_of(d)} ({join_list(case.shared[d][:3])})" for d in case.differential
    )
    tests = (
        f"targeted genetic testing ({' and '.join(case.genes)})"
        if case.genes
        else ("confirmatory testing for the leading diagnosis")
    )
    return [
        ("Presentation", f"{case.patient} with {join_list(present)}."),
        (
            "History/Exam",
            f"Examination shows {join_list(exam)}." if exam else "Examination is otherwise normal.",
        ),
        ("Differential", f"{diff}."),
        ("Investigations", f"Arrange {tests} to confirm the diagnosis."),
        ("Diagnosis", f"{case.name}, which accounts for {join_list(texts)}."),
        (
            "Management",
            "Referral to a specialist clinic for confirmation, counselling and follow-up.",
        ),
    ]


def render_trace(steps: list[tuple[str, str]], answer: str) -> str:
    return "\n".join(f"{h}: {c}" for h, c in steps) + f"\nAnswer: {answer}"


def case_entities(con: Constructor, case: Case) -> list[dict[str, str]]:
    kg = con.kg
    out = [{"text": case.name, "id": case.disease}]
    out += [{"text": t, "id": p} for t, p in case.findings]
    out += [{"text": kg.name_of(d), "id": d} for d in case.differential if d != case.disease]
    return out


def answer_aliases(con: Constructor, disease: str) -> list[str]:
    """Other accepted names of the diagnosis (names and exact synonyms of same-name ids)."""
    kg, out = con.kg, []
    for nid in con.index.disease_aliases(disease) or (disease,):
        out += kg.accepted_names(nid)
    main = kg.name_of(disease).casefold()
    return sorted({a for a in out if a.casefold() != main})[:12]


__all__ = [
    "CASE_FORMAT",
    "REQUIRED_STEPS",
    "Case",
    "add_differential",
    "answer_aliases",
    "case_entities",
    "case_from_disease",
    "join_list",
    "render_trace",
    "trace_steps",
    "vignette",
]
