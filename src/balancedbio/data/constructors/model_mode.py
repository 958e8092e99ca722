"""Model mode: ask any chat backend for JSON, parse it into items, never crash.

For each seed the constructor's :meth:`~.base.Constructor.request` gives a conversation
(the seed's verified facts plus the JSON shape wanted) and private state; the backend
answers a whole batch at once (``OpenAIBackend`` keeps a server busy with concurrent
requests, ``TransformersBackend`` batches locally). Each reply goes through
:func:`~balancedbio.data.backends.parse_json_object`; a failed request, unparsable JSON or
a wrong shape becomes a :class:`~balancedbio.data.records.Rejection` (``backend_error``,
``parse_error``) that the pipeline logs like any other. What the model *claims* is
recorded as facts (its marked answer holds, its distractors do not) and judged later by
the validators, so a wrong model answer is rejected as a false fact, not trusted.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from balancedbio.data.backends import BackendError, parse_json_object
from balancedbio.data.constructors.base import (
    Constructor,
    Result,
    letter_options,
    mcq_record,
    reject,
)
from balancedbio.data.constructors.knowledge import KnowledgeMcq, brief_fields
from balancedbio.data.records import LETTERS, Rejection, user_message

if TYPE_CHECKING:
    from balancedbio.data.backends import ChatBackend
    from balancedbio.data.seeds import Seed

log = logging.getLogger(__name__)

MCQ_JSON = '{"question": "<question>", "options": ["<option>", ...], "answer": "<letter>"}'


def mcq_request(con: KnowledgeMcq, seed: Seed) -> tuple[list[dict[str, str]], Any] | Rejection:
    """Ask for an MCQ testing the seed's fact, with ontology terms as options."""
    rng = seed.rng()
    spec = con.spec(seed, rng)
    if isinstance(spec, Rejection):
        return spec
    n = con.n_options(rng)
    brief = con.brief_template.format(**brief_fields(con, spec))
    hints = ", ".join(o.text for o in spec.distractors[:6])
    text = (
        f"Write one multiple-choice question with {n} options that tests this fact: {brief}\n"
        f"Exactly one option must be correct. Use exact ontology term names as options; "
        f"suitable wrong options are: {hints}.\nReply with JSON only: {MCQ_JSON}"
    )
    return user_message(text), spec


def mcq_parse(con: KnowledgeMcq, seed: Seed, obj: dict[str, Any], spec: Any) -> Result:
    question, options, answer = obj.get("question"), obj.get("options"), obj.get("answer")
    if not isinstance(question, str) or not question.strip():
        return reject("parse_error", "JSON needs a non-empty string 'question'", "model")
    if not isinstance(options, list) or not 2 <= len(options) <= 5:
        return reject("parse_error", "JSON needs 'options': a list of 2-5 strings", "model")
    if not all(isinstance(o, str) and o.strip() for o in options):
        return reject("parse_error", "every option must be a non-empty string", "model")
    letter = str(answer or "").strip().strip("().").upper()[:1]
    if letter not in LETTERS[: len(options)]:
        return reject("parse_error", f"answer {answer!r} is not an option letter", "model")
    texts = [o.strip() for o in options]
    facts, entities = [], list(spec.entities)
    for i, text in enumerate(texts):
        opt = con.judge(seed, spec, text)
        if opt is None:
            return reject("unknown_entity", f"option {text!r} names no ontology entity", "model")
        claimed = LETTERS[i] == letter  # what the model asserts; validation judges it
        facts += [dict(f, holds=claimed) for f in opt.facts]
        entities.append({"text": text, "id": opt.id})
    body = f"{question.strip()}\n{letter_options(texts)}"
    return mcq_record(
        con, seed, body, letter, texts, spec.explanation, facts, entities, mode="model"
    )


def request_for(con: Constructor, seed: Seed) -> tuple[list[dict[str, str]], Any] | Rejection:
    if isinstance(con, KnowledgeMcq):
        return mcq_request(con, seed)
    return con.request(seed)


def parse_for(con: Constructor, seed: Seed, obj: dict[str, Any], state: Any) -> Result:
    if isinstance(con, KnowledgeMcq):
        return mcq_parse(con, seed, obj, state)
    return con.parse(seed, obj, state)


def parse_reply(reply: str) -> dict[str, Any] | Rejection:
    """The JSON object in a reply, or a ``parse_error`` rejection."""
    obj = parse_json_object(reply)
    if obj is None:
        snippet = " ".join(str(reply).split())[:120]
        return reject("parse_error", f"no JSON object in model output: {snippet!r}", "model")
    return obj


def build_batch(
    constructors: dict[str, Constructor],
    seeds: Sequence[Seed],
    backend: ChatBackend,
    *,
    max_new_tokens: int,
    temperature: float,
    seed: int | None,
) -> list[Result]:
    """One result per seed, in order (template build where a task has no model mode)."""
    results: list[Result | None] = [None] * len(seeds)
    pending: list[tuple[int, list[dict[str, str]], Any]] = []
    for i, s in enumerate(seeds):
        con = constructors[s.task]
        if not con.has_model_mode:
            results[i] = con.build(s)
            continue
        got = request_for(con, s)
        if isinstance(got, Rejection):
            results[i] = got
        else:
            pending.append((i, got[0], got[1]))
    if pending:
        replies = backend.generate(
            [conv for _, conv, _ in pending],
            max_new_tokens=max_new_tokens,
            temperature=temperature,
            seed=seed,
        )
        for (i, _, state), reply in zip(pending, replies, strict=True):
            s = seeds[i]
            if isinstance(reply, BackendError):
                results[i] = reject("backend_error", reply.reason, "model")
                continue
            obj = parse_reply(reply[0] if reply else "")
            if isinstance(obj, Rejection):
                log.debug("seed %s: %s", s.id, obj.message)
                results[i] = obj
                continue
            try:
                results[i] = parse_for(constructors[s.task], s, obj, state)
            except Exception as exc:  # noqa: BLE001 - a model reply must never crash a run
                results[i] = reject("parse_error", f"{type(exc).__name__}: {exc}", "model")
    return [r if r is not None else reject("internal", "no result") for r in results]


__all__ = ["build_batch", "mcq_parse", "mcq_request", "parse_reply"]
