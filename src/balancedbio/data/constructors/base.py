"""What every constructor shares: the build context, the base class, MCQ rendering.

A constructor turns one :class:`~balancedbio.data.seeds.Seed` into one item (a row of
:mod:`balancedbio.data.records`) or a :class:`~balancedbio.data.records.Rejection`:

* template mode: :meth:`Constructor.build` (deterministic given the seed, no model);
* model mode: :meth:`Constructor.request` gives the conversation that asks a chat model
  for JSON (plus private state), :meth:`Constructor.parse` turns the parsed JSON object
  into an item (see :mod:`.model_mode`). A constructor without a model variant builds
  from the template in model mode too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any, ClassVar

from balancedbio.data.index import KnowledgeIndex, name_key
from balancedbio.data.records import LETTERS, Rejection, fact, new_record, user_message
from balancedbio.data.seeds import randint, randrange, sample, shuffle

if TYPE_CHECKING:
    import random

    from balancedbio.data.config import GenerateConfig
    from balancedbio.data.seeds import Seed
    from balancedbio.data.sources import Source
    from balancedbio.knowledge import KnowledgeGraph

Message = dict[str, str]
Result = dict[str, Any] | Rejection

MCQ_FORMAT = (
    "Answer with the letter of the correct option, on a final line of the form 'Answer: <letter>'."
)


@dataclass
class BuildContext:
    """Shared, read-only state of one generation run."""

    kg: KnowledgeGraph
    index: KnowledgeIndex
    cfg: GenerateConfig
    sources: dict[str, Source] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    generator: str = "template"


class Constructor:
    """Base class; subclasses set ``task`` and implement :meth:`build`."""

    task: ClassVar[str] = ""
    capability: ClassVar[str] = ""
    has_model_mode: ClassVar[bool] = False

    def __init__(self, ctx: BuildContext) -> None:
        self.ctx = ctx
        self.kg = ctx.kg
        self.index = ctx.index
        self.cfg = ctx.cfg

    @property
    def source(self) -> Source:
        return self.ctx.sources[self.task]

    def build(self, seed: Seed) -> Result:
        raise NotImplementedError

    # model mode (see model_mode.py)
    def request(self, seed: Seed) -> tuple[list[Message], Any] | Rejection:
        raise NotImplementedError

    def parse(self, seed: Seed, obj: dict[str, Any], state: Any) -> Result:
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers

    def record(self, seed: Seed, *, mode: str = "template", **fields: Any) -> dict[str, Any]:
        """A new row with id, capability, task, split and provenance filled in."""
        prov = {
            "constructor": f"{self.task}/{mode}",
            "mode": mode,
            "generator": self.ctx.generator if mode == "model" else "template",
            "seed": self.cfg.seed,
            "seed_index": seed.index,
            "seed_entity": seed.entity,
            "source": seed.source,
            "source_ids": sorted({seed.entity, *fields.pop("source_ids", ())}),
            "versions": self.ctx.versions,
        }
        return new_record(
            id=seed.id,
            capability=self.capability,
            task=self.task,
            split=seed.split,
            provenance=prov,
            **fields,
        )

    def n_options(self, rng: random.Random) -> int:
        c = self.cfg.construct
        return randint(rng, c.min_options, c.max_options)


def most_shared(shared: dict[str, int], n: int) -> list[str]:
    """The ``n`` keys with the highest counts, ties by key (``sorted(shared, key=lambda d:
    (-shared[d], d))[:n]``), with C-level sorts only: a common finding brings hundreds.
    Keys counted above the ``n``-th highest count are all kept; of those at it, the first
    by key fill up (plain strings and ints sort much faster than pairs)."""
    if len(shared) <= n:
        return [k for k, _ in sorted(sorted(shared.items()), key=itemgetter(1), reverse=True)]
    if n <= 0:
        return []
    cut = sorted(shared.values(), reverse=True)[n - 1]
    above = sorted([k for k, v in shared.items() if v > cut])
    above.sort(key=shared.__getitem__, reverse=True)  # stable: equal counts stay by key
    ties = sorted([k for k, v in shared.items() if v == cut])
    return above + ties[: n - len(above)]


def reject(reason: str, message: str, stage: str = "construct") -> Rejection:
    return Rejection(reason, message, stage, [{"code": reason, "message": message}])


def letter_options(options: Sequence[str]) -> str:
    return "\n".join(f"{LETTERS[i]}. {text}" for i, text in enumerate(options))


@dataclass
class Option:
    """An answer option: its text, the entity it names, and the facts verifying it."""

    text: str
    id: str
    facts: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class McqSpec:
    """An ontology MCQ before rendering: the correct option and its verified distractors."""

    question: str
    correct: Option
    distractors: list[Option]
    entities: list[dict[str, str]]
    explanation: str  # one sentence stating the fact (checked as a claim)
    facts: list[dict[str, Any]] = field(default_factory=list)  # item-level facts


def distinct(options: Sequence[Option]) -> list[Option]:
    """Options with distinct normalized texts and ids (first kept)."""
    seen: set[str] = set()
    out = []
    for opt in options:
        key = name_key(opt.text)
        if key and key not in seen and opt.id not in seen:
            seen.update((key, opt.id))
            out.append(opt)
    return out


def render_mcq(con: Constructor, seed: Seed, spec: McqSpec, rng: random.Random) -> Result:
    """Shuffle the correct option in among the distractors and build the row."""
    n = con.n_options(rng)
    pool = distinct([spec.correct, *spec.distractors])
    n = min(n, len(pool))  # fewer options (down to min_options) when distractors are scarce
    if pool[0] is not spec.correct or n < con.cfg.construct.min_options:
        return reject(
            "insufficient_distractors",
            f"{len(pool) - 1} verified distractor(s) for {seed.entity}, need {n - 1}",
        )
    chosen = sample(rng, pool[1:], n - 1)
    position = randrange(rng, n)
    options = chosen[:position] + [spec.correct] + chosen[position:]
    letter = LETTERS[position]
    texts = [o.text for o in options]
    question = f"{spec.question}\n{letter_options(texts)}"
    facts = list(spec.facts) + [f for o in options for f in o.facts]
    entities = list(spec.entities)
    for o in options:
        ent = {"text": o.text, "id": o.id}
        if ent not in entities:
            entities.append(ent)
    return mcq_record(
        con,
        seed,
        question,
        letter,
        texts,
        spec.explanation,
        facts,
        entities,
        source_ids=[o.id for o in options],
    )


def mcq_record(
    con: Constructor,
    seed: Seed,
    question: str,
    letter: str,
    texts: list[str],
    explanation: str,
    facts: list[dict[str, Any]],
    entities: list[dict[str, Any]],
    **extra: Any,
) -> dict[str, Any]:
    """The row of a lettered MCQ (``question`` already lists the options), in either mode."""
    return con.record(
        seed,
        prompt=user_message(f"{question}\n\n{MCQ_FORMAT}"),
        question=question,
        answer=letter,
        answer_kind="choice",
        choices=texts,
        reference=f"{explanation}\nAnswer: {letter}",
        facts=facts,
        entities=entities,
        **extra,
    )


__all__ = [
    "MCQ_FORMAT",
    "BuildContext",
    "Constructor",
    "McqSpec",
    "Option",
    "Result",
    "distinct",
    "fact",
    "letter_options",
    "reject",
    "render_mcq",
    "shuffle",
]
