"""What the workflow rules know besides the trace (see :mod:`.workflow`): the graph, the
item's fields, and each step's entities, cut from one grounding of the whole trace."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from balancedbio.config import choice_error
from balancedbio.rewards.entities import Entity, find_entities, lookup_phrases, shared_graph
from balancedbio.rewards.trace import STEP_NAMES, Step

if TYPE_CHECKING:
    from balancedbio.knowledge import KnowledgeGraph

DEFAULT_REQUIRED: tuple[str, ...] = ("presentation", "differential", "diagnosis")
_new = object.__new__


@dataclass
class WorkflowContext:
    """What the rules know besides the trace: the graph (None: the shared default graph,
    loaded only if a rule needs it) and the item's fields."""

    kg: KnowledgeGraph | None = None
    cache_dir: str | None = None  # where the shared graph is cached when ``kg`` is None
    required_steps: tuple[str, ...] = DEFAULT_REQUIRED
    diagnosis_id: str | None = None
    findings: tuple[str, ...] = ()  # ontology ids of the case's findings (e.g. HPO)
    case_text: str = ""  # the case as given (prompt): data stated there counts
    notes: dict[str, Any] = field(default_factory=dict)
    _entities: dict[int, list[Entity]] = field(default_factory=dict, repr=False)
    _text: str | None = field(default=None, repr=False)  # the trace's text, if known
    #: entities of ``_text`` (sorted, disjoint), with their starts and ends
    _whole: tuple[list[Entity], list[int], list[int]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.required_steps = _step_names(self.required_steps)

    @classmethod
    def from_row(
        cls,
        row: Mapping[str, Any],
        kg: KnowledgeGraph | None = None,
        cache_dir: str | None = None,
    ) -> WorkflowContext:
        """Context from a dataset row (columns ``required_steps``, ``diagnosis_id``,
        ``findings``, ``case`` or ``prompt``); missing or empty columns mean defaults."""
        case = row.get("case") or row.get("prompt") or ""
        if not isinstance(case, str):  # conversational prompt: its user turns
            turns = [m for m in case if isinstance(m, Mapping)]
            case = "\n".join(str(m.get("content", "")) for m in turns if m.get("role") == "user")
        findings = _given(row.get("findings"), ())
        return cls(
            kg=kg,
            cache_dir=cache_dir,
            required_steps=_given(row.get("required_steps"), DEFAULT_REQUIRED),
            diagnosis_id=row.get("diagnosis_id") or None,
            findings=(findings,) if isinstance(findings, str) else tuple(findings),
            case_text=case,
        )

    def fresh(self, text: str | None = None) -> WorkflowContext:
        """A copy with empty notes and memos, for one trace (``text``: its text, if known).
        Same as ``dataclasses.replace`` without re-validating the fields."""
        new = _new(type(self))
        new.__dict__.update(self.__dict__)
        new.notes, new._entities, new._text, new._whole = {}, {}, text, None
        return new

    @property
    def graph(self) -> KnowledgeGraph:
        if self.kg is None:
            self.kg = shared_graph(self.cache_dir)
        return self.kg

    def entities(self, step: Step, phrases: bool = False) -> list[Entity]:
        """Entities of a step's content (absolute offsets), memoized per step of one trace
        (:func:`~balancedbio.rewards.workflow.evaluate_workflow` gives each trace a fresh
        memo)."""
        key = step.content_start * 2 + phrases
        got = self._entities.get(key)
        if got is None:
            got = self._entities[key] = self._ground(step, phrases)
        return got

    def _ground(self, step: Step, phrases: bool) -> list[Entity]:
        s = step.content_start
        got = self._sliced(step)
        if got is None:
            got = find_entities(self.graph, step.content, s)
        return lookup_phrases(self.graph, step.content, got, s) if phrases else got

    def _sliced(self, step: Step) -> list[Entity] | None:
        """The step's entities cut from one grounding of the whole trace, or None when that
        could differ from grounding the content alone.

        Grounding is token-local (tokens are runs of letters and digits; the longest match
        wins), so both agree when whitespace bounds the content and no whole-text entity
        crosses its bounds (a crossing one may have hidden a shorter one inside). Texts are
        grounded step by step when that cannot be seen: an explicit CURIE (its text has a
        ":") drops the grounder's mentions overlapping it, crossing ones too; a capital sigma
        lower-cases by context.
        """
        text = self._text
        if text is None:
            return None
        start, end = step.content_start, step.content_start + len(step.content)
        if (start and not text[start - 1].isspace()) or (
            end < len(text) and not text[end].isspace()
        ):
            return None
        if self._whole is None:
            whole = None if "\u03a3" in text else find_entities(self.graph, text)
            if whole is None or any(":" in e.text for e in whole):
                self._text = None  # ground each step (see above)
                return None
            self._whole = (whole, [e.start for e in whole], [e.end for e in whole])
        # Mentions are disjoint and sorted, so those meeting [start, end) are a run and only
        # its first and last can cross a bound.
        whole, starts, ends = self._whole
        lo, hi = bisect_right(ends, start), bisect_left(starts, end)
        if lo < hi and (whole[lo].start < start or whole[hi - 1].end > end):
            return None
        return whole[lo:hi]


def _given(value: Any, default: Any) -> Any:
    """``value`` unless it is None or empty (lists, arrays, strings alike)."""
    return default if value is None or len(value) == 0 else value


def _step_names(value: str | Iterable[str]) -> tuple[str, ...]:
    names = [v.strip() for v in value.split(",")] if isinstance(value, str) else list(value)
    for name in names:
        if name not in STEP_NAMES:
            raise choice_error("workflow step", name, STEP_NAMES)
    return tuple(names)
