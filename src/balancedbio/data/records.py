"""The MKGSG item schema, per-capability column contracts, and rejection records.

Every item has every column (``None`` / ``[]`` where a column does not apply), so one Arrow
schema (:data:`SCHEMA`) covers every shard of every run and ``datasets.load_dataset`` loads
them together. Columns:

=================== ==========================================================================
id                  ``<split>-<task>-<seed index>`` (deterministic)
capability          ``knowledge`` | ``reasoning`` | ``instruction`` | ``integrated``
task                the constructor (``mcq_phenotype``, ``diagnosis_case``, ``calculator``...)
split               ``train`` | ``eval`` (entity-level partition, see ``seeds``)
prompt              chat messages (TRL conversational format): one user turn that also says
                    which answer format the verifiers read
question            the prompt's content without the answer-format instructions (dedup,
                    decontamination, log-likelihood scoring)
answer              gold: option letter (``choice``), number/date (``numeric``) or text;
                    empty for instruction items (``none``: graded by their instructions)
answer_kind         ``choice`` | ``numeric`` | ``text`` | ``none``: which verifier grades it
answer_aliases      other accepted texts (``text`` answers: synonyms of the diagnosis)
reference           a reference response that passes every verifier of the item (SFT target)
choices             option texts (``choice`` items), lettered A, B, ...
facts               ontology facts the item rests on, ``{relation, subject, object, holds}``;
                    ``holds`` is false for distractors (verified not to hold)
entities            medical entities the item mentions, ``{text, id}`` (grounded)
instruction_id_list IFEval instruction ids;  kwargs: their arguments (JSON string on disk)
lower, upper        accepted numeric window; output_kind: MedCalc-Bench kind; calculator_id
required_steps      workflow steps the reference must have; diagnosis_id; findings (HPO ids)
provenance          JSON: constructor, mode, generator, seed, source ids, ontology versions
=================== ==========================================================================
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from balancedbio.config import ConfigError

CAPABILITIES: tuple[str, ...] = ("knowledge", "reasoning", "instruction", "integrated")
ANSWER_KINDS: tuple[str, ...] = ("choice", "numeric", "text", "none")
LETTERS = "ABCDE"

#: Fields stored as JSON strings (their shape varies by row); decoded by ``iter_items``.
JSON_FIELDS: tuple[str, ...] = ("kwargs", "provenance")

_STR, _FLOAT = "string", "float"
_STRS = {"list": _STR}
#: The Arrow-compatible schema of a row (see ``balancedbio.data.schema``).
SCHEMA: dict[str, Any] = {
    "struct": {
        "id": _STR,
        "capability": _STR,
        "task": _STR,
        "split": _STR,
        "prompt": {"list": {"struct": {"role": _STR, "content": _STR}}},
        "question": _STR,
        "answer": _STR,
        "answer_kind": _STR,
        "answer_aliases": _STRS,
        "reference": _STR,
        "choices": _STRS,
        "facts": {
            "list": {"struct": {"relation": _STR, "subject": _STR, "object": _STR, "holds": "bool"}}
        },
        "entities": {"list": {"struct": {"text": _STR, "id": _STR}}},
        "instruction_id_list": _STRS,
        "kwargs": _STR,
        "lower": _FLOAT,
        "upper": _FLOAT,
        "output_kind": _STR,
        "calculator_id": _STR,
        "required_steps": _STRS,
        "diagnosis_id": _STR,
        "findings": _STRS,
        "provenance": _STR,
    }
}
COLUMNS: tuple[str, ...] = tuple(SCHEMA["struct"])

#: Columns every item needs filled, and those each capability's verifiers read.
BASE_REQUIRED: tuple[str, ...] = (
    "id",
    "capability",
    "task",
    "split",
    "prompt",
    "question",
    "answer",
    "answer_kind",
    "reference",
    "provenance",
)
VERIFIER_COLUMNS: dict[str, tuple[str, ...]] = {
    "choice": ("choices",),
    "numeric": ("output_kind",),
    "text": (),
    "knowledge": ("facts",),
    "reasoning": (),
    "instruction": ("instruction_id_list", "kwargs"),
    "integrated": ("choices", "instruction_id_list", "kwargs", "required_steps", "diagnosis_id"),
    "case": ("required_steps", "diagnosis_id", "findings"),
}


def new_record(**fields: Any) -> dict[str, Any]:
    """A row with every column (defaults for the ones not given); unknown keys raise."""
    if not _COLUMN_SET.issuperset(fields):
        unknown = sorted(set(fields) - _COLUMN_SET)
        raise KeyError(f"unknown record column(s) {unknown}; valid: {', '.join(COLUMNS)}")
    row = _EMPTY_ROW.copy()
    row.update(_fresh_defaults())
    row.update(fields)
    return row


def _fresh_defaults() -> dict[str, Any]:
    """New empty containers for the :data:`_DEFAULTS` columns (never shared between rows)."""
    return {
        "answer_aliases": [],
        "choices": [],
        "facts": [],
        "entities": [],
        "instruction_id_list": [],
        "kwargs": [],
        "required_steps": [],
        "findings": [],
        "provenance": {},
    }


#: Columns an item may leave out, with their empty values (copy before use).
_DEFAULTS: dict[str, Any] = _fresh_defaults()


_COLUMN_SET = frozenset(COLUMNS)
_EMPTY_ROW: dict[str, Any] = dict.fromkeys(COLUMNS)


def user_message(text: str) -> list[dict[str, str]]:
    """A one-turn conversational prompt."""
    return [{"role": "user", "content": text}]


def fact(relation: str, subject: str, obj: str | None, holds: bool = True) -> dict[str, Any]:
    return {"relation": relation, "subject": subject, "object": obj, "holds": holds}


def _empty(value: Any) -> bool:
    return value is None or (hasattr(value, "__len__") and len(value) == 0)


def required_columns(row: Mapping[str, Any]) -> tuple[str, ...]:
    """Columns this row's verifiers need, from its capability, answer kind and task."""
    case = str(row.get("task", "")).endswith("_case")
    return _required(str(row.get("answer_kind")), str(row.get("capability")), case)


@functools.lru_cache(maxsize=256)
def _required(answer_kind: str, capability: str, case: bool) -> tuple[str, ...]:
    need = [c for c in BASE_REQUIRED if not (c == "answer" and answer_kind == "none")]
    need += VERIFIER_COLUMNS.get(answer_kind, ())
    need += VERIFIER_COLUMNS.get(capability, ())
    if case:
        need += VERIFIER_COLUMNS["case"]
    return tuple(dict.fromkeys(need))


def missing_columns(row: Mapping[str, Any]) -> list[str]:
    """Required columns that are absent or empty (``[]``, ``None``, ``""``)."""
    out = [c for c in required_columns(row) if c not in row or _empty(row[c])]
    if row.get("answer_kind") not in ANSWER_KINDS and "answer_kind" not in out:
        out.append("answer_kind")
    if row.get("capability") not in CAPABILITIES and "capability" not in out:
        out.append("capability")
    ids, kwargs = row.get("instruction_id_list") or [], row.get("kwargs") or []
    if len(ids) != len(kwargs) and "kwargs" not in out:
        out.append("kwargs")
    return out


# --------------------------------------------------------------------------- stage contracts


@dataclass(frozen=True)
class StageSpec:
    """A pipeline stage: the columns it reads and the columns it adds."""

    name: str
    needs: tuple[str, ...] = ()
    adds: tuple[str, ...] = ()


#: The default chain (``pipeline`` may drop optional stages); checked before generation.
STAGES: tuple[StageSpec, ...] = (
    StageSpec("sources", adds=()),
    StageSpec("seeds", adds=()),
    StageSpec("construct", adds=COLUMNS),
    StageSpec(
        "validate",
        needs=(
            *BASE_REQUIRED,
            "choices",
            "facts",
            "entities",
            "instruction_id_list",
            "kwargs",
            "required_steps",
            "diagnosis_id",
            "findings",
        ),
    ),
    StageSpec("dedup", needs=("id", "question", "answer")),
    StageSpec("decontaminate", needs=("id", "question", "choices")),
    StageSpec("write", needs=COLUMNS),
    StageSpec(
        "curate",
        needs=("id", "capability", "prompt", "answer", "answer_kind", "reference", "choices"),
    ),
)


def check_stages(stages: Sequence[StageSpec]) -> None:
    """Raise :class:`ConfigError` if a stage needs a column no earlier stage adds."""
    available: set[str] = set()
    for stage in stages:
        missing = sorted(set(stage.needs) - available)
        if missing:
            raise ConfigError(
                f"stage {stage.name!r} needs column(s) {missing} that no earlier stage adds"
            )
        available |= set(stage.adds)


# --------------------------------------------------------------------------- rejections


@dataclass
class Rejection:
    """Why a seed produced no item: ``reason`` is a short code (``workflow:order``,
    ``false_fact:is_a``, ``parse_error`` ...), ``reasons`` every problem found."""

    reason: str
    message: str
    stage: str = "construct"
    reasons: list[dict[str, str]] = field(default_factory=list)
    item: dict[str, Any] | None = None

    @classmethod
    def of(
        cls, problems: Sequence[tuple[str, str]], stage: str, item: Mapping[str, Any] | None = None
    ) -> Rejection:
        """From ``[(code, message), ...]`` (the first is the primary reason)."""
        code, message = problems[0]
        listed = [{"code": c, "message": m} for c, m in problems]
        return cls(code, message, stage, listed, dict(item) if item is not None else None)

    def record(self, seed: Mapping[str, Any], capability: str, task: str) -> dict[str, Any]:
        """The ``rejected.jsonl`` line."""
        return {
            "id": (self.item or {}).get("id") or seed.get("id"),
            "capability": capability,
            "task": task,
            "stage": self.stage,
            "reason": self.reason,
            "message": self.message,
            "reasons": self.reasons or [{"code": self.reason, "message": self.message}],
            "seed": dict(seed),
            "item": self.item,
        }


__all__ = [
    "ANSWER_KINDS",
    "CAPABILITIES",
    "COLUMNS",
    "JSON_FIELDS",
    "LETTERS",
    "SCHEMA",
    "STAGES",
    "Rejection",
    "StageSpec",
    "check_stages",
    "fact",
    "missing_columns",
    "new_record",
    "required_columns",
    "user_message",
]
