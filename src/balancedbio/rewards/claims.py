"""Ontology-checked claims in free text: extract stated relations and check each one.

Patterns (over grounded entities, see :mod:`.entities`; case-insensitive):

* ``X is a (type|kind|form|subtype|subclass|variant|category|class) of Y`` -> ``is_a``
  (up to two words may qualify it: "is the most common form of");
* ``X (is characterized by|presents with|manifests as|causes|features|leads to|results
  in|is associated with) Y, Z and W`` with X a disease -> ``has_phenotype`` for each
  phenotype among Y, Z, W (other entities there, e.g. diseases, are skipped);
* ``X (is also known as|is also called|also known as|a.k.a.|is referred to as) Y`` ->
  ``name`` (Y may be a list joined by "or");
* ``(ICD-10-CM )(code )E11.9 (falls under|belongs to|is in|is part of|is classified
  under) (E11|block E08-E13|chapter 4|chapter IV)`` -> ``icd10_parent``.

The subject is the entity right before the cue; if a comma or "and" separates them
("... and is characterized by"), the previous claim's subject in the same sentence is
reused. Negated statements ("does not cause") are not claims. A claim's object list ends
at the clause's end or at the next claim's subject.

Ambiguous names are read charitably: a span's ids are all the ids its text names, and
``is_a`` pairs are taken within one ontology (same CURIE prefix; a phenotype is never a
kind of a disease), ``has_phenotype`` pairs as disease x HPO term; the claim is true if any
such reading is true (reported with that reading), else false (reported with the first
reading). Without any same-ontology reading, the grounded ids are checked (and fail).

Score (:attr:`ClaimReport.score`): fraction of checkable claims that are true; None when
there is none (nothing to verify is "not applicable", never a 0). Spans that match a
pattern but ground to nothing are listed in ``unknown_entities`` and do not count: the
ontologies are incomplete, and an unverifiable statement is not a false one.
"""

from __future__ import annotations

import bisect
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING
from weakref import WeakKeyDictionary

from balancedbio.rewards.entities import Entity, find_entities

if TYPE_CHECKING:
    from balancedbio.knowledge import KnowledgeGraph, Verdict

_ADVERBS = (
    "typically",
    "classically",
    "commonly",
    "often",
    "usually",
    "frequently",
    "mainly",
    "characteristically",
    "primarily",
    "mostly",
    "may",
    "can",
    "also",
)
_ADV = rf"(?:(?:{'|'.join(_ADVERBS)})\s+)*"
_CUES = [
    (
        "is_a",
        r"\b(?:is|are)\s+(?:(?:a|an|one|the)\s+)?(?:[a-z-]+\s+){0,2}?"
        r"(?:type|kind|form|subtype|sub-type|subclass|variant|category|class)(?:e?s)?\s+of\b",
    ),
    (
        "name",
        r"\b(?:(?:is|are)\s+(?:also\s+)?|also\s+)(?:known\s+as|called|referred\s+to\s+as|"
        r"termed)\b|\ba\.?k\.?a\b\.?",
    ),
    (
        "has_phenotype",
        rf"\b(?:(?:is|are)\s+)?{_ADV}(?:characteri[sz]ed\s+by|presents?\s+with|presenting\s+"
        r"with|manifests?\s+(?:as|with)|causes?(?!\s+of)|leads?\s+to|results?\s+in|"
        r"features?(?!\s+(?:of|include))|(?:is|are)\s+associated\s+with)\b",
    ),
]
_CUE = re.compile("|".join(f"(?P<{rel}>{pat})" for rel, pat in _CUES), re.IGNORECASE)
#: Every cue starts, at a word boundary, with one of these (prefixes of its first word; keep
#: in sync with ``_CUES``). ``_CUE_START`` finds them in lower-cased text: first letter as a
#: character set (so ``re`` scans for it quickly), then "no word character before it".
_CUE_FIRST = ("is", "are", "a.", "ak", *_ADVERBS, "characteri", "present", "manifest")
_CUE_FIRST += ("caus", "lead", "result", "feature")
_CUE_START = re.compile(
    f"[{''.join(sorted({w[0] for w in _CUE_FIRST}))}]"
    rf"(?<!\w\w)(?:{'|'.join(re.escape(w[1:]) for w in _CUE_FIRST)})"
)
# A period ends a sentence unless a digit follows (a decimal): "... type 1." ends one too.
_SENT_END = re.compile(r"\.(?!\d)|[;!?\n]")
_CLAUSE_END = re.compile(
    r"\.(?!\d)|[;!?\n]|\b(?:but|whereas|although|while|which|that|because|when|"
    r"unlike|if)\b",
    re.IGNORECASE,
)
_NAME_END = re.compile(r"[,;()\n]|\.(?!\d)")
_NEGATION = re.compile(r"\b(?:not|never|no)\b|n't\b", re.IGNORECASE)
_ELLIPSIS = re.compile(r",|\band\b|\bor\b", re.IGNORECASE)
#: ``(_CLAUSE_END, _NEGATION, _ELLIPSIS)`` as searched in a text (``_ANY``) or, faster, in
#: an ASCII text's ``lower()`` (same offsets; there ``IGNORECASE`` is ASCII case folding).
_ANY = (_CLAUSE_END, _NEGATION, _ELLIPSIS)
_LOWER = tuple(re.compile(p.pattern) for p in _ANY)
_PRONOUN = re.compile(r"^(?:it|this|they|these|which|that|the\s+\w+|a\s+\w+|\W*)$", re.I)
_CODE = r"[A-TV-Z]\d{2}(?:\.[0-9A-Z]{1,4})?"
_ICD = re.compile(
    rf"(?:(?i:\bICD-?10(?:-CM)?)\s+)?(?:(?i:code)\s+)?\b(?P<code>{_CODE})\b"
    r"(?:\s*\([^()\n]{0,80}\))?\s+(?i:falls\s+under|belongs\s+to|is\s+in|is\s+part\s+of|"
    r"is\s+(?:classified|listed|coded)\s+under|is\s+under)\s+(?i:the\s+)?"
    r"(?:(?i:ICD-?10(?:-CM)?)\s+)?(?:(?P<kind>(?i:chapter|block|category|code|range))\s+)?"
    rf"(?P<parent>{_CODE}(?:\s*[-\u2013]\s*{_CODE})?|\d{{1,2}}\b|[IVXLC]+\b)"
)
#: Every ``_ICD`` match contains its code, hence this.
_ICD_HINT = re.compile(r"[A-TV-Z]\d\d")
_ROMAN = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100}


@dataclass(frozen=True)
class Claim:
    """A stated relation: ``subject``/``object`` are ids (``name``: the object is the name
    as written); ``text == original[span[0]:span[1]]``."""

    relation: str
    subject: str
    object: str
    span: tuple[int, int]
    text: str


@dataclass(frozen=True)
class ClaimReport:
    """Claims with their verdicts, the counts, and pattern spans that did not ground."""

    claims: tuple[Claim, ...]
    verdicts: tuple[Verdict, ...]
    n_true: int
    n_false: int
    unknown_entities: tuple[str, ...]

    @property
    def score(self) -> float | None:
        """Fraction of claims that are true; None when there are none."""
        n = self.n_true + self.n_false
        return self.n_true / n if n else None

    @property
    def false_claims(self) -> list[tuple[Claim, Verdict]]:
        return [(c, v) for c, v in zip(self.claims, self.verdicts, strict=True) if not v.valid]


def _prefix(nid: str) -> str:
    return nid.partition(":")[0]


def _pairs(relation: str, subj: Entity, obj: Entity) -> list[tuple[str, str]]:
    """Readings of (subject, object) the relation can hold between, best first."""
    if relation == "has_phenotype":
        return [(s, o) for s in subj.diseases for o in obj.phenotypes]
    return [(s, o) for s in subj.ids for o in obj.ids if _prefix(s) == _prefix(o)]


class _Checks(dict[tuple[str, str, str], "Verdict"]):
    """``checks[relation, subject, object]``: memoized ``kg.check`` verdicts of one text.
    Choosing a claim's reading checks it already; :func:`check_claims` reuses that verdict."""

    def __init__(self, kg: KnowledgeGraph) -> None:
        super().__init__()
        self.kg = kg

    def __missing__(self, key: tuple[str, str, str]) -> Verdict:
        relation, subject, obj = key
        got = self[key] = self.kg.check({"relation": relation, "subject": subject, "object": obj})
        return got


def _claim(checks: _Checks, relation: str, subj: Entity, obj: Entity, text: str) -> Claim | None:
    """The claim under its charitable reading (see the module docstring)."""
    pairs = _pairs(relation, subj, obj)
    if not pairs:
        if relation == "has_phenotype":
            return None  # the object is not a phenotype (or the subject not a disease)
        pairs = [(subj.ids[0], obj.ids[0])]
    chosen = next(
        (p for p in pairs if checks[relation, p[0], p[1]].valid),
        pairs[0],
    )
    span = (min(subj.start, obj.start), max(subj.end, obj.end))
    return Claim(relation, chosen[0], chosen[1], span, text[span[0] : span[1]])


def _name_claim(checks: _Checks, subj: Entity, name: str, end: int, text: str) -> Claim:
    chosen = next((i for i in subj.ids if checks["name", i, name].valid), subj.ids[0])
    return Claim("name", chosen, name, (subj.start, end), text[subj.start : end])


def _subject(
    ents: list[Entity],
    lo: int,
    cue: re.Match[str],
    text: str,
    disease: bool,
    ellipsis: re.Pattern[str] = _ELLIPSIS,
) -> tuple[Entity | None, bool]:
    """``(entity, explicit)``: the last fitting entity in ``[lo, cue)``; explicit when only
    words without a comma or "and" separate it from the cue (``ellipsis`` in ``text``: a
    lower-cased ASCII text takes ``_LOWER``'s)."""
    at = cue.start()
    for last in reversed(ents):  # the last fitting one, whatever the order of ents
        if lo <= last.start and last.end <= at and (last.diseases or not disease):
            return last, not ellipsis.search(text, last.end, at)
    return None, False


def _cues(text: str) -> list[re.Match[str]]:
    """``list(_CUE.finditer(text))``, trying ``_CUE`` only where a cue word starts.

    Scanning every position with the full pattern dominated claim checking. The shortcut
    needs ASCII text: there ``IGNORECASE`` is plain ASCII case folding, so the candidates
    are found in ``text.lower()`` (same offsets) with a case-sensitive pattern.
    """
    return _cues_in(text, text.lower() if text.isascii() else None)


def _cues_in(text: str, lower: str | None) -> list[re.Match[str]]:
    """:func:`_cues`, given ``text.lower()`` for an ASCII text (else None)."""
    if lower is None:
        return list(_CUE.finditer(text))
    out = []
    pos = 0
    for start in _CUE_START.finditer(lower):
        if start.start() >= pos:
            m = _CUE.match(text, start.start())
            if m is not None:
                out.append(m)
                pos = m.end()
    return out


def extract_claims(text: str, kg: KnowledgeGraph, unknown: list[str] | None = None) -> list[Claim]:
    """Relations stated in ``text`` (see the module docstring); spans of a pattern that
    ground to nothing are appended to ``unknown`` if given."""
    return _extract(text, _Checks(kg), [] if unknown is None else unknown)


def _extract(text: str, checks: _Checks, unknown: list[str]) -> list[Claim]:
    kg = checks.kg
    lower = text.lower() if text.isascii() else None
    cues = _cues_in(text, lower)
    if not cues:  # only claims with a cue use entities; ICD claims come in span order
        return _icd_claims(kg, text, unknown)
    ents = find_entities(kg, text)
    folded, (clause_end, negation, ellipsis) = (text, _ANY) if lower is None else (lower, _LOWER)
    claims: list[Claim] = []
    prev_end, prev_subj, prev_sent = 0, None, -1
    sents = [m.end() for m in _SENT_END.finditer(text)]
    for k, cue in enumerate(cues):
        rel = cue.lastgroup or ""
        i = bisect.bisect_right(sents, cue.start())
        sent = sents[i - 1] if i else 0
        if sent != prev_sent:
            prev_subj, prev_sent = None, sent
        lo = max(sent, prev_end)
        subj, explicit = _subject(ents, lo, cue, folded, rel == "has_phenotype", ellipsis)
        if not explicit and prev_subj is not None:
            subj = prev_subj
        if subj is None:
            phrase = text[lo : cue.start()].strip(" ,")
            if not _PRONOUN.match(phrase) and rel != "has_phenotype":
                unknown.append(phrase)
            continue
        if negation.search(folded, max(subj.end, lo), cue.end()):
            continue
        # The first clause end at or after the cue (no finditer match can start inside
        # another: they are single characters or whole words).
        stop = clause_end.search(folded, cue.end())
        hi = stop.start() if stop is not None else len(text)
        if k + 1 < len(cues) and cues[k + 1].start() < hi:
            nxt = cues[k + 1]
            hi = nxt.start()
            after, is_explicit = _subject(ents, cue.end(), nxt, folded, False, ellipsis)
            if after is not None and is_explicit:
                hi = after.start
        prev_subj = subj
        objs = [e for e in ents if cue.end() <= e.start and e.end <= hi]
        if rel == "name":
            stop = _NAME_END.search(text, cue.end(), hi)
            names_end = stop.start() if stop else hi
            for name in re.split(r"\bor\b", text[cue.end() : names_end]):
                name = name.strip().strip("\"'\u201c\u201d*_`").strip()
                if name:
                    claims.append(_name_claim(checks, subj, name, names_end, text))
            prev_end = names_end
        elif rel == "is_a":
            if not objs:
                unknown.append(text[cue.end() : hi].strip())
                continue
            got = _claim(checks, rel, subj, objs[0], text)
            claims += [got] if got else []
            prev_end = objs[0].end
        else:
            for obj in objs:
                got = _claim(checks, rel, subj, obj, text)
                claims += [got] if got else []
            prev_end = hi
    return sorted(claims + _icd_claims(kg, text, unknown), key=lambda c: c.span)


def _chapter(value: str) -> str | None:
    if value.isdigit():
        return value
    total = 0
    for i, ch in enumerate(value.upper()):
        n = _ROMAN[ch]
        following = _ROMAN[value[i + 1].upper()] if i + 1 < len(value) else 0
        total += -n if n < following else n
    return str(total) if 0 < total < 30 else None


def _icd_claims(kg: KnowledgeGraph, text: str, unknown: list[str]) -> list[Claim]:
    out: list[Claim] = []
    if _ICD_HINT.search(text) is None:
        return out
    for m in _ICD.finditer(text):
        code = kg.resolve(m.group("code"))
        raw = re.sub(r"\s*[-\u2013]\s*", "-", m.group("parent"))
        number = _chapter(raw) if re.fullmatch(r"\d{1,2}|[IVXLC]+", raw) else None
        parent = kg.resolve(number, icd=True) if number else kg.resolve(raw)
        if code is None or not code.startswith("ICD10CM:"):
            unknown.append(m.group("code"))
            continue
        if parent is None or not parent.startswith("ICD10CM:"):
            unknown.append(m.group("parent"))
            continue
        out.append(Claim("icd10_parent", code, parent, m.span(), m.group()))
    return out


#: Per graph: text -> its (immutable) report, for the latest texts. A constructor that
#: checks its own reference and the validator that checks it again share one pass (sized,
#: like the IFEval verdict memo, for a whole construct batch checked before validation).
_reports: WeakKeyDictionary[KnowledgeGraph, OrderedDict[str, ClaimReport]]
_reports = WeakKeyDictionary()
_MAX_REPORTS = 4096


def check_claims(text: str, kg: KnowledgeGraph) -> ClaimReport:
    """Extract the claims of ``text`` and check each against the graph (memoized per graph
    for the latest texts)."""
    memo = _reports.get(kg)
    if memo is None:
        memo = _reports[kg] = OrderedDict()
    got = memo.get(text)
    if got is None:
        while len(memo) >= _MAX_REPORTS:
            memo.popitem(last=False)  # the oldest
        got = memo[text] = _check_claims(text, kg)
    return got


def _check_claims(text: str, kg: KnowledgeGraph) -> ClaimReport:
    unknown: list[str] = []
    checks = _Checks(kg)
    claims = _extract(text, checks, unknown)
    verdicts = tuple(checks[c.relation, c.subject, c.object] for c in claims)
    n_true = sum(v.valid for v in verdicts)
    return ClaimReport(
        tuple(claims), verdicts, n_true, len(verdicts) - n_true, tuple(dict.fromkeys(unknown))
    )


def claims_score(text: str, kg: KnowledgeGraph) -> float | None:
    """Fraction of the stated relations that are true; None when none can be checked."""
    return check_claims(text, kg).score
