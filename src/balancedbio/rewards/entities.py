"""Ontology entities in free text, shared by the workflow rules and the claim checker.

``kg.ground`` gives one id per span: the grounder's pick (primary names beat synonyms,
then HPO > MONDO > OMIM > ...). But a span often names the same thing in several
ontologies ("hearing loss": MONDO:0005365 and HP:0000365; "Marfan syndrome": MONDO, OMIM,
ORPHA and ICD-10-CM), and a relation is only meaningful in the right one (``has_phenotype``
needs a disease and an HPO term, ``is_a`` one hierarchy). So an :class:`Entity` keeps every
id its text names, best first: the grounded id, then ``kg.lookup`` of the span and of the
grounded term's name. Checks then pick the ids of the kind they need ("same-source logic").
Explicit CURIEs in the text (``OMIM:154700``) are entities too.

The graph is read-only and costly to load, so rewards share one per process and cache
directory (:func:`shared_graph`, on first use).
"""

from __future__ import annotations

import bisect
import operator
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeVar
from weakref import WeakKeyDictionary

if TYPE_CHECKING:
    from balancedbio.knowledge import KnowledgeGraph

#: CURIE prefixes of disease nodes (MONDO/OMIM/ORPHA/DECIPHER), phenotypes and ICD codes.
DISEASE_PREFIXES = ("MONDO:", "OMIM:", "ORPHA:", "DECIPHER:")
PHENOTYPE_PREFIX = "HP:"
ICD_PREFIX = "ICD10CM:"

_CURIE = re.compile(r"\b(?:HP|MONDO|OMIM|ORPHA|DECIPHER|ICD10CM):[ ]?[A-Z]?\d[\w.-]*(?<![.-])")
#: What every ``_CURIE`` match starts with (its prefix and colon).
_CURIE_HEADS = ("HP:", "MONDO:", "OMIM:", "ORPHA:", "DECIPHER:", "ICD10CM:")
#: Negation cues (NegEx-lite): a cue negates the rest of its clause.
_NEG_CUE = re.compile(
    r"\b(?:no|not|denies|denied|without|absent|negative\s+for|free\s+of|rules?\s+out|"
    r"ruled\s+out|excluded)\b",
    re.IGNORECASE,
)
_CLAUSE_END = re.compile(r"[.;!?\n]|\bbut\b|\bhowever\b|\bwhereas\b", re.IGNORECASE)
_PHRASE_SEP = re.compile(
    r"[,;:\n\u2022]|(?<!\d)\.(?!\d)|\b(?:and|or|with|plus|also)\b", re.IGNORECASE
)
_LEAD = re.compile(r"[\s\-*+>#\d.)]*(?:(?:a|an|the|some|marked|mild|severe)\s+)*", re.IGNORECASE)
_LEAD_LOWER = re.compile(r"[\s\-*+>#\d.)]*(?:(?:a|an|the|some|marked|mild|severe)\s+)*")
_span = operator.methodcaller("span")
_new = object.__new__
#: ``_PHRASE_SEP`` and ``_CLAUSE_END`` for lower-cased ASCII text (same matches there). Each
#: branch leads with a literal, so ``re`` skips ahead to the characters that can start one;
#: ``x(?<!\w\w)`` is ``\bx`` for a letter ``x``, ``\.(?<!\d\.)`` is ``(?<!\d)\.``.
_PHRASE_SEP_LOWER = re.compile(
    r",|;|:|\n|\u2022|\.(?<!\d\.)(?!\d)|a(?<!\w\w)nd\b|o(?<!\w\w)r\b|w(?<!\w\w)ith\b"
    r"|p(?<!\w\w)lus\b|a(?<!\w\w)lso\b"
)
_CLAUSE_END_LOWER = re.compile(r"\.|;|!|\?|\n|b(?<!\w\w)ut\b|h(?<!\w\w)owever\b|w(?<!\w\w)hereas\b")
#: The first word of each ``_NEG_CUE`` cue: a whole word of every text a cue occurs in.
_NEG_WORDS = frozenset(
    b"no not denies denied without absent negative free rule rules ruled excluded".split()
)
#: A bytes table that lower-cases ASCII word characters (``\w``) and blanks every other
#: ASCII character, so ``.split()`` of an encoded ASCII text gives its ``\w+`` runs.
_WORD_TABLE = bytes(
    c | 32 if chr(c).isalpha() else c if chr(c).isdigit() or c == 95 else 32 for c in range(128)
) + bytes(range(128, 256))


T = TypeVar("T")

#: Per graph: ``(grounded node, span text)`` -> the entity's ids (bounded memo).
_mention_ids: WeakKeyDictionary[KnowledgeGraph, dict[tuple[int, str], tuple[str, ...]]]
_mention_ids = WeakKeyDictionary()
_MAX_MEMO = 100_000
#: Per graph: the ids of each grounding key's mentions in ASCII text (``None``: not yet read).
_key_ids: WeakKeyDictionary[KnowledgeGraph, list[tuple[str, ...] | None]] = WeakKeyDictionary()
#: Per graph: text -> its entities, for the latest texts (the claim check and the workflow
#: rules ground the same text in turn). Small: a large memo would hit little more and give
#: the garbage collector many more objects to traverse.
_text_entities: WeakKeyDictionary[KnowledgeGraph, dict[str, tuple[Entity, ...]]]
_text_entities = WeakKeyDictionary()
_MAX_TEXTS = 64
#: Entity ids -> :func:`_kinds_of` them (bounded memo).
_kinds: dict[tuple[str, ...], tuple[tuple[str, ...], ...]] = {}
#: Text -> its phrase spans, for the latest texts (a pure function of the text).
_phrases: dict[str, tuple[tuple[int, int], ...]] = {}


def shared_graph(cache_dir: str | None = None) -> KnowledgeGraph:
    """The process-wide knowledge graph for ``cache_dir`` (default cache), loaded once."""
    from balancedbio.knowledge import KnowledgeConfig, default_graph

    return default_graph(KnowledgeConfig(cache_dir=cache_dir))


class _Kind:
    """The ids of one kind (index into :func:`_kinds_of`), cached on first read in the
    entity's ``__dict__``: a non-data descriptor, so the cached value shadows it (the
    workflow rules read them many times per entity; not a field, so equality, hashing and
    ``repr`` are unchanged)."""

    __slots__ = ("index", "name")

    def __init__(self, index: int) -> None:
        self.index, self.name = index, ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Entity | None, owner: type | None = None) -> tuple[str, ...]:
        if obj is None:
            return self  # type: ignore[return-value]
        got = obj.__dict__[self.name] = _kinds_of(obj.ids)[self.index]
        return got


@dataclass(frozen=True)
class Entity:
    """A grounded span: ``ids`` are every id its text names, the grounded one first.

    ``diseases``, ``phenotypes`` and ``icd`` are the ids of each kind, in order."""

    start: int
    end: int
    text: str
    ids: tuple[str, ...]

    diseases: ClassVar[tuple[str, ...]] = _Kind(0)  # type: ignore[assignment]
    phenotypes: ClassVar[tuple[str, ...]] = _Kind(1)  # type: ignore[assignment]
    icd: ClassVar[tuple[str, ...]] = _Kind(2)  # type: ignore[assignment]

    def overlaps(self, start: int, end: int) -> bool:
        return self.start < end and start < self.end


def _entity(start: int, end: int, text: str, ids: tuple[str, ...]) -> Entity:
    """``Entity(start, end, text, ids)``, built without the frozen dataclass's ``__init__``
    (one ``object.__setattr__`` per field): grounding builds thousands."""
    e = _new(Entity)
    d = e.__dict__
    d["start"], d["end"], d["text"], d["ids"] = start, end, text, ids
    return e


def _kinds_of(ids: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """``(diseases, phenotypes, ICD codes)`` among ``ids``, memoized (a pure function of
    the ids; the workflow rules ask each entity several times)."""
    got = _kinds.get(ids)
    if got is None:
        if len(_kinds) >= _MAX_MEMO:
            _kinds.clear()
        got = _kinds[ids] = (
            tuple(i for i in ids if i.startswith(DISEASE_PREFIXES)),
            tuple(i for i in ids if i.startswith(PHENOTYPE_PREFIX)),
            tuple(i for i in ids if i.startswith(ICD_PREFIX)),
        )
    return got


def _unique(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def same_name_ids(kg: KnowledgeGraph, nid: str) -> tuple[str, ...]:
    """``nid`` (canonical) and every id sharing its name or a synonym of it; () if unknown."""
    canon = kg.resolve(nid)
    if canon is None:
        return ()
    return _unique([canon, *kg.lookup(kg.name_of(canon))])


def find_entities(kg: KnowledgeGraph, text: str, offset: int = 0) -> list[Entity]:
    """Grounded mentions and explicit CURIEs of ``text``, in order; offsets + ``offset``.

    Memoized per graph for the latest texts (the entities are immutable, the list a copy).
    """
    if offset:
        return _find_entities(kg, text, offset)
    memo = _text_entities.get(kg)
    if memo is None:
        memo = _text_entities[kg] = {}
    got = memo.get(text)  # _recent(memo, text, ...), inlined: once per text
    if got is None:
        got = _recent(memo, text, lambda: _find_entities(kg, text, 0))
    return list(got)


def _recent(
    memo: dict[str, tuple[T, ...]], text: str, build: Callable[[], list[T]]
) -> tuple[T, ...]:
    """``memo[text]``, built on a miss; ``memo`` keeps the latest ``_MAX_TEXTS`` texts."""
    got = memo.get(text)
    if got is None:
        if len(memo) >= _MAX_TEXTS:
            del memo[next(iter(memo))]  # the oldest
        got = memo[text] = tuple(build())
    return got


def _find_entities(kg: KnowledgeGraph, text: str, offset: int) -> list[Entity]:
    curies = []
    for m in _CURIE.finditer(text) if _may_cite(text) else ():
        canon = kg.resolve(m.group().replace(" ", ""))
        if canon is not None:
            start, end = m.span()
            curies.append(Entity(start + offset, end + offset, m.group(), same_name_ids(kg, canon)))
    out = list(curies)
    grounder = kg.grounder
    # In ASCII text a span normalizes to the dictionary key it matched, so its ids are those
    # of the key (a list slot); elsewhere (context-dependent lower-casing) per (node, span).
    by_key, memo = None, {}
    if not text.isascii():
        memo = _mention_ids.setdefault(kg, memo)
    elif (by_key := _key_ids.get(kg)) is None:
        by_key = _key_ids[kg] = [None] * grounder.n_keys
    key_node = grounder.key_node
    for start, end, key in grounder.keyed(text):
        span = text[start:end]
        start, end = start + offset, end + offset
        if curies and any(c.overlaps(start, end) for c in curies):
            continue
        if by_key is not None:
            ids = by_key[key]
            if ids is None:
                ids = by_key[key] = _ids_of(kg, key_node[key], span)
        else:
            ids = memo.get((key_node[key], span))
            if ids is None:
                if len(memo) >= _MAX_MEMO:
                    memo.clear()
                ids = memo[key_node[key], span] = _ids_of(kg, key_node[key], span)
        e = _new(Entity)  # _entity(start, end, span, ids), inlined: once per mention
        d = e.__dict__
        d["start"], d["end"], d["text"], d["ids"] = start, end, span, ids
        out.append(e)
    if curies:
        out.sort(key=lambda e: e.start)
    return out


def _ids_of(kg: KnowledgeGraph, node: int, span: str) -> tuple[str, ...]:
    """The ids of ``span`` grounded to ``node``: its id, then what the span and the node's
    name look up to."""
    grounder = kg.grounder
    nid, name = grounder.node_ids[node], grounder.node_names[node]
    return _unique([nid, *kg.lookup(span), *kg.lookup(name)])


def _may_cite(text: str) -> bool:
    """Might ``text`` hold a ``_CURIE``? Each starts with one of ``_CURIE_HEADS``, which
    ``str`` finds far faster than the pattern's scan (most traces have a ":" but no CURIE)."""
    return ":" in text and any(map(text.__contains__, _CURIE_HEADS))


def phrase_spans(text: str) -> list[tuple[int, int]]:
    """Spans of list-like phrases ("tall stature, arachnodactyly and myopia"), trimmed.

    Memoized for the latest texts: the workflow rules split the same steps several times.
    """
    return list(_recent(_phrases, text, lambda: _phrase_spans(text)))


def _phrase_spans(text: str) -> list[tuple[int, int]]:
    if text.isascii():  # ignoring case is lower-casing there
        low = text.lower()
        seps, lead = _PHRASE_SEP_LOWER.finditer(low), _LEAD_LOWER.match
    else:
        low, seps, lead = text, _PHRASE_SEP.finditer(text), _LEAD.match
    spans = []
    pos = 0
    end = len(text)
    for stop, after in [*map(_span, seps), (end, end)]:
        start = lead(low, pos, stop).end()  # it matches (maybe empty) everywhere
        piece = text[start:stop].rstrip(" \t*_")
        if any(map(str.isalpha, piece)):
            spans.append((start, start + len(piece)))
        pos = after
    return spans


def lookup_phrases(
    kg: KnowledgeGraph, text: str, entities: list[Entity], offset: int = 0
) -> list[Entity]:
    """``entities`` plus whole phrases the grounder missed but ``kg.lookup`` knows.

    The grounder skips BROAD/NARROW synonyms ("aortic root dilatation" is a BROAD synonym
    of HP:0002616); a whole list item that is exactly such a name is still a finding.
    Offsets of ``entities`` and of the result are those in ``text`` + ``offset``.
    """
    extra = []
    for start, end in phrase_spans(text):
        lo, hi = start + offset, end + offset
        if any(e.start < hi and lo < e.end for e in entities):  # overlaps, inlined
            continue
        ids = kg.lookup(text[start:end])
        if ids:
            extra.append(_entity(start + offset, end + offset, text[start:end], tuple(ids)))
    return sorted([*entities, *extra], key=lambda e: e.start) if extra else entities


def negated_spans(text: str) -> list[tuple[int, int]]:
    """Spans negated by a cue ("no fever, cough or rash"): cue to the end of its clause;
    sorted and disjoint."""
    if text.isascii():  # there, ignoring case is plain ASCII lower-casing
        if _NEG_WORDS.isdisjoint(text.encode().translate(_WORD_TABLE).split()):
            return []  # no cue's first word: no cue
        ends = [m.start() for m in _CLAUSE_END_LOWER.finditer(text.lower())]
    else:
        ends = [m.start() for m in _CLAUSE_END.finditer(text)]
    spans: list[tuple[int, int]] = []
    for m in _NEG_CUE.finditer(text):
        k = bisect.bisect_left(ends, m.end())
        end = ends[k] if k < len(ends) else len(text)
        if spans and m.start() <= spans[-1][1]:  # merged: sorted and disjoint
            spans[-1] = (spans[-1][0], max(end, spans[-1][1]))
        else:
            spans.append((m.start(), end))
    return spans


def is_negated(entity: Entity, spans: list[tuple[int, int]], offset: int = 0) -> bool:
    """True if ``entity`` (offsets relative to ``offset``) lies in a negated span."""
    pos = entity.start - offset
    k = bisect.bisect_right(spans, (pos, float("inf"))) - 1
    return k >= 0 and pos < spans[k][1]
