"""Corruption operators: break one thing in a valid item, on purpose.

Used by the tests (every operator's item must be rejected with its :data:`EXPECTED`
reason) and by the reward model's preference pairs (:func:`preference_pair`: the valid
reference is *chosen*, a corrupted one *rejected*). Each operator returns a new item (the
input is not modified), or None when it does not apply to that item.
"""

from __future__ import annotations

import copy
import json
import random
import re
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from balancedbio.data.records import LETTERS

DISEASE_PREFIXES = frozenset({"OMIM", "ORPHA", "MONDO", "DECIPHER"})

if TYPE_CHECKING:
    from balancedbio.data.index import KnowledgeIndex
    from balancedbio.knowledge import KnowledgeGraph

Item = dict[str, Any]


def _copy(item: Mapping[str, Any]) -> Item:
    return copy.deepcopy(dict(item))


def assert_false_fact(item: Mapping[str, Any], relation: str | None = None) -> Item | None:
    """Claim that a distractor relation holds (e.g. a false ``is_a``): ``false_fact:<rel>``."""
    out = _copy(item)
    for f in out.get("facts") or []:
        if not f["holds"] and (relation is None or f["relation"] == relation):
            f["holds"] = True
            out["facts"].remove(f)
            out["facts"].insert(0, f)
            return out
    return None


def unannotated_finding(
    item: Mapping[str, Any], kg: KnowledgeGraph, index: KnowledgeIndex, rng: random.Random
) -> Item | None:
    """Swap one finding of a case for a specific phenotype *not* annotated to the diagnosis
    (in the question, reference, findings, facts and entities): ``false_fact:has_phenotype``."""
    diag, findings = item.get("diagnosis_id"), list(item.get("findings") or [])
    if not diag or not findings:
        return None
    aliases = index.disease_aliases(diag) or (diag,)
    pool = sorted(p for p in index.reverse if index.specific(p) and len(index.reverse[p]) < 5)
    for new in rng.sample(pool, min(len(pool), 50)):
        if new not in findings and not index.has_phenotype_any(aliases, new):
            break
    else:
        return None
    old = findings[0]
    out = _copy(item)
    old_text = next((e["text"] for e in out["entities"] if e["id"] == old), index.display(old))
    new_text = index.display(new)
    pattern = re.compile(re.escape(old_text), re.IGNORECASE)
    for key in ("question", "reference"):
        out[key] = pattern.sub(new_text, out[key])
    out["prompt"] = [dict(m, content=pattern.sub(new_text, m["content"])) for m in out["prompt"]]
    out["findings"] = [new if f == old else f for f in findings]
    for f in out["facts"]:
        if f["subject"] == diag and f["object"] == old:
            f["object"] = new
    for e in out["entities"]:
        if e["id"] == old:
            e.update(text=new_text, id=new)
    return out


def _lines(text: str) -> list[str]:
    return text.split("\n")


def reorder_workflow(item: Mapping[str, Any]) -> Item | None:
    """Put the diagnosis before the differential: ``workflow:order``."""
    lines = _lines(str(item.get("reference") or ""))
    i = next((k for k, ln in enumerate(lines) if re.match(r"\W*differential", ln, re.I)), None)
    j = next((k for k, ln in enumerate(lines) if re.match(r"\W*diagnosis\s*:", ln, re.I)), None)
    if i is None or j is None or j <= i:
        return None
    lines[i], lines[j] = lines[j], lines[i]
    out = _copy(item)
    out["reference"] = "\n".join(lines)
    return out


def drop_step(item: Mapping[str, Any], step: str = "differential") -> Item | None:
    """Remove a required step from the reference: ``workflow:required_steps``."""
    lines = _lines(str(item.get("reference") or ""))
    kept = [ln for ln in lines if not re.match(rf"\W*{step}", ln, re.I)]
    if len(kept) == len(lines):
        return None
    out = _copy(item)
    out["reference"] = "\n".join(kept)
    return out


def invent_entity(item: Mapping[str, Any]) -> Item | None:
    """Rename one entity to a made-up term everywhere it appears: ``unknown_entity``."""
    ents = item.get("entities") or []
    if not ents:
        return None
    out = _copy(item)
    target = out["entities"][-1]
    fake = "Zorblaxian dysplasia syndrome"
    pattern = re.compile(re.escape(target["text"]))
    for key in ("question", "reference"):
        out[key] = pattern.sub(fake, out[key])
    out["prompt"] = [dict(m, content=pattern.sub(fake, m["content"])) for m in out["prompt"]]
    out["choices"] = [pattern.sub(fake, c) for c in out.get("choices") or []]
    target["text"] = fake
    return out


def wrong_answer(item: Mapping[str, Any]) -> Item | None:
    """Change the gold answer so the reference no longer earns it: ``answer_mismatch``."""
    out = _copy(item)
    kind = item.get("answer_kind")
    if kind == "choice":
        n = len(item["choices"])
        out["answer"] = LETTERS[(LETTERS.index(item["answer"]) + 1) % n]
    elif kind == "numeric" and item.get("output_kind") in ("decimal", "integer"):
        value = float(item["answer"]) * 3 + 7
        out["answer"] = str(int(value)) if item["output_kind"] == "integer" else str(value)
        out["lower"] = out["upper"] = None if item["output_kind"] == "decimal" else value
    elif kind == "text":
        out["answer"], out["answer_aliases"] = "Unrelated disease", []
    else:
        return None
    return out


_BREAKERS: tuple[Callable[[str], str], ...] = (
    lambda t: t + "\n\nExtra words, with a comma, *stars* - and MORE TEXT.",
    lambda t: t.upper(),
    lambda t: t.lower(),
    lambda t: "Sure. " + t,
    lambda t: t.replace("*", "").replace("<<", "").replace(">>", ""),
    lambda t: t.replace("\n", " "),
    lambda t: t[: max(1, len(t) // 3)],
    lambda t: t.replace("[", "").replace("]", ""),
    lambda t: t + " " + " ".join(["word"] * 400),
    lambda t: t.replace("My answer is", "I think"),
    lambda t: "",
)


def break_instruction(item: Mapping[str, Any]) -> Item | None:
    """Edit the reference until its first instruction fails (strict): ``ifeval:<id>``."""
    from balancedbio.data.validate import instruction_failures

    ids = item.get("instruction_id_list") or []
    if not ids:
        return None
    for breaker in _BREAKERS:
        text = breaker(str(item["reference"]))
        out = _copy(item)
        out["reference"] = text
        if text.strip() and ids[0] in instruction_failures(out, text):
            return out
    return None


def drop_column(item: Mapping[str, Any], column: str) -> Item:
    """Empty a verifier column: ``missing_columns``."""
    out = _copy(item)
    out[column] = [] if isinstance(out.get(column), list) else None
    return out


def malformed_json(text: str) -> str:
    """Model output that is no longer a JSON object (drops the braces): ``parse_error``."""
    return text.replace("{", "").replace("}", "")


#: operator name -> the reason code (prefix) the validator must report.
EXPECTED: dict[str, str] = {
    "assert_false_fact": "false_fact:",
    "unannotated_finding": "false_fact:has_phenotype",
    "reorder_workflow": "workflow:order",
    "drop_step": "workflow:required_steps",
    "invent_entity": "unknown_entity",
    "wrong_answer": "answer_mismatch",
    "break_instruction": "ifeval:",
    "drop_column": "missing_columns",
}


def preference_pair(
    item: Mapping[str, Any],
    rng: random.Random,
    kg: KnowledgeGraph | None = None,
    index: KnowledgeIndex | None = None,
) -> dict[str, Any] | None:
    """``{prompt, chosen, rejected, corruption}``: the reference vs a corrupted reference."""
    ops: list[tuple[str, Callable[[], Item | None]]] = [
        ("reorder_workflow", lambda: reorder_workflow(item)),
        ("drop_step", lambda: drop_step(item)),
        ("break_instruction", lambda: break_instruction(item)),
    ]
    if kg is not None and index is not None:
        ops.append(("unannotated_finding", lambda: unannotated_finding(item, kg, index, rng)))
    if item.get("answer_kind") in ("choice", "numeric", "text"):
        ops.append(("wrong_final_answer", lambda: _wrong_final(item)))
    rng.shuffle(ops)
    for name, op in ops:
        bad = op()
        if bad is not None and bad["reference"] != item["reference"]:
            return {
                "prompt": list(item["prompt"]),
                "chosen": item["reference"],
                "rejected": bad["reference"],
                "corruption": name,
            }
    return None


def _wrong_final(item: Mapping[str, Any]) -> Item | None:
    """Replace the reference's final answer line with a plausible wrong answer: the next
    option letter, a number just outside the tolerance, or another disease the case names
    (never a fixed string a reward model could learn as a surface cue)."""
    ref = str(item["reference"])
    m = list(re.finditer(r"(?im)^(\W*answer\s*:\s*)(.+)$", ref))
    if not m:
        return None
    kind = item.get("answer_kind")
    if kind == "choice":
        n = len(item["choices"])
        wrong = LETTERS[(LETTERS.index(item["answer"]) + 1) % n]
    elif kind == "numeric":
        wrong = _wrong_number(item)
    else:
        wrong = _other_disease(item)
    if wrong is None:
        return None
    last = m[-1]
    out = _copy(item)
    out["reference"] = ref[: last.start(2)] + wrong + ref[last.end(2) :]
    return out


def _wrong_number(item: Mapping[str, Any]) -> str | None:
    """The gold value moved just outside ``[lower, upper]``, in the gold's own format."""
    try:
        gold = float(item["answer"])
        lower = float(item.get("lower") if item.get("lower") is not None else gold)
        upper = float(item.get("upper") if item.get("upper") is not None else gold)
    except (TypeError, ValueError):
        return None
    decimals = len(str(item["answer"]).partition(".")[2])
    step = max(abs(gold) * 0.2, 10.0**-decimals, upper - lower)
    up = zlib.crc32(str(item.get("id", "")).encode()) % 2 == 0 or lower - step < 0 <= gold
    value = upper + step if up else lower - step
    text = f"{value:.{decimals}f}"
    return text if not lower <= float(text) <= upper else None


def _other_disease(item: Mapping[str, Any]) -> str | None:
    """Another disease named in the case (its differential), not the diagnosis."""
    gold = {str(item.get("answer", "")).casefold()}
    gold |= {str(a).casefold() for a in _listish(item.get("answer_aliases"))}
    for entity in _listish(item.get("entities")):
        if not isinstance(entity, Mapping):
            continue
        prefix = str(entity.get("id", "")).partition(":")[0]
        text = str(entity.get("text", ""))
        if prefix in DISEASE_PREFIXES and entity.get("id") != item.get("diagnosis_id"):
            if text and text.casefold() not in gold:
                return text
    return None


def _listish(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return []
    return list(value) if isinstance(value, list | tuple) else []


__all__ = [
    "EXPECTED",
    "assert_false_fact",
    "break_instruction",
    "drop_column",
    "drop_step",
    "invent_entity",
    "malformed_json",
    "preference_pair",
    "reorder_workflow",
    "unannotated_finding",
    "wrong_answer",
]
