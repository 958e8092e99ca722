"""A small in-memory GRPO dataset with the MKGSG column contract, plus matching rewards.

Rows (the data generator produces exactly these columns):

* every row: ``id``, ``prompt`` (chat messages), ``capability`` (a name, or a list for
  integrated rows);
* knowledge: ``choices`` (list[str]) and ``answer`` (gold letter);
* reasoning: ``answer``, ``lower``, ``upper``, ``output_kind`` (+ provenance) from
  ``balancedbio.rewards.calculators.make_case(...).to_row()``;
* instruction: ``instruction_id_list`` and ``kwargs`` (one dict per instruction), the text
  rendered by ``balancedbio.rewards.ifeval.describe_instruction``;
* integrated: knowledge + instruction columns together, ``capability`` a list.

Also used by ``bench/bench_grpo.py`` and the multi-process test (``write_jsonl``).
"""

from __future__ import annotations

import json
import random
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from balancedbio.rewards.base import RewardFunction
from balancedbio.rewards.calculators import make_case
from balancedbio.rewards.ifeval import complete_kwargs, describe_instruction, follow_instructions
from balancedbio.rewards.registry import RewardSpec, build_rewards

MCQS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("Which organ produces insulin?", ("Liver", "Pancreas", "Kidney", "Spleen"), "B"),
    ("Marfan syndrome is caused by variants in which gene?", ("FBN1", "CFTR", "HBB", "DMD"), "A"),
    (
        "Which vitamin deficiency causes scurvy?",
        ("Vitamin A", "Vitamin D", "Vitamin C", "Vitamin K"),
        "C",
    ),
    (
        "Which cell type produces antibodies?",
        ("Neutrophils", "T cells", "Platelets", "Plasma cells"),
        "D",
    ),
    (
        "Cafe-au-lait spots are typical of which disorder?",
        ("Neurofibromatosis type 1", "Down syndrome", "Gout", "Asthma"),
        "A",
    ),
    (
        "Which electrolyte disturbance causes peaked T waves?",
        ("Hyponatremia", "Hyperkalemia", "Hypocalcemia", "Hypermagnesemia"),
        "B",
    ),
)
CALCULATORS: tuple[str, ...] = ("bmi_calculator", "anion_gap", "bsa_calculator")
INSTRUCTIONS: tuple[str, ...] = (
    "punctuation:no_comma",
    "change_case:english_lowercase",
    "length_constraints:number_words",
    "detectable_format:title",
    "startend:quotation",
)
TASKS: tuple[str, ...] = (
    "Explain why hand washing prevents infections.",
    "Describe the symptoms of dehydration.",
    "Give advice on sleeping well before surgery.",
)
CALC_QUESTION = (
    "A patient has {inputs}. Using the {name}, what is the result? End with 'Answer: <value>'."
)


def _user(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def knowledge_row(i: int) -> dict[str, Any]:
    question, choices, answer = MCQS[i % len(MCQS)]
    options = "\n".join(f"{letter}) {c}" for letter, c in zip("ABCD", choices, strict=False))
    text = f"{question}\n{options}\nAnswer with the letter of the correct option."
    return {
        "id": f"k-{i}",
        "prompt": _user(text),
        "capability": "knowledge",
        "choices": list(choices),
        "answer": answer,
    }


def reasoning_row(i: int) -> dict[str, Any]:
    case = make_case(CALCULATORS[i % len(CALCULATORS)], random.Random(i))
    inputs = ", ".join(
        f"{k.replace('_', ' ')} {' '.join(map(str, v)) if isinstance(v, tuple) else v}"
        for k, v in case.inputs.items()
    )
    text = CALC_QUESTION.format(inputs=inputs, name=case.name)
    row = case.to_row()
    row.update(id=f"r-{i}", prompt=_user(text), capability="reasoning")
    return row


def _instructions(
    task: str, rng: random.Random, n: int
) -> tuple[str, list[str], list[dict[str, Any]]]:
    ids = rng.sample(INSTRUCTIONS, n)
    kwargs = [complete_kwargs(iid, {}, rng=rng, prompt=task) for iid in ids]
    text = " ".join(describe_instruction(iid, kw) for iid, kw in zip(ids, kwargs, strict=True))
    return text, ids, kwargs


def instruction_row(i: int) -> dict[str, Any]:
    rng = random.Random(1000 + i)
    task = TASKS[i % len(TASKS)]
    text, ids, kwargs = _instructions(task, rng, 1 + i % 2)
    return {
        "id": f"i-{i}",
        "prompt": _user(f"{task} {text}"),
        "capability": "instruction",
        "instruction_id_list": ids,
        "kwargs": kwargs,
    }


def integrated_row(i: int) -> dict[str, Any]:
    row = knowledge_row(i)
    text, ids, kwargs = _instructions(row["prompt"][0]["content"], random.Random(2000 + i), 1)
    row.update(
        id=f"x-{i}",
        prompt=_user(f"{row['prompt'][0]['content']} {text}"),
        capability=["knowledge", "instruction"],
        instruction_id_list=ids,
        kwargs=kwargs,
    )
    return row


def build_rows(
    per_capability: int = 4, *, integrated: int = 0, offset: int = 0
) -> list[dict[str, Any]]:
    """``per_capability`` rows of each capability (interleaved) plus ``integrated`` rows."""
    rows: list[dict[str, Any]] = []
    for i in range(offset, offset + per_capability):
        rows += [knowledge_row(i), reasoning_row(i), instruction_row(i)]
    rows += [integrated_row(offset + i) for i in range(integrated)]
    return rows


def instruction_score(text: str, row: Mapping[str, Any]) -> float | None:
    """Share of the row's IFEval instructions followed (strict)."""
    ids = row.get("instruction_id_list")
    if not ids:
        return None
    prompt = row.get("prompt")
    prompt_text = prompt[-1]["content"] if isinstance(prompt, Sequence) and prompt else None
    result = follow_instructions(prompt_text, text, list(ids), list(row.get("kwargs") or []))
    return sum(result.strict) / len(result.strict)


def make_rewards() -> list[RewardFunction]:
    """mcq_accuracy (knowledge), numeric_accuracy (reasoning) and a strict IFEval share
    (instruction), all registered-style RewardFunctions."""
    rewards = build_rewards([RewardSpec("mcq_accuracy"), RewardSpec("numeric_accuracy")])
    rewards.append(RewardFunction("ifeval_share", instruction_score, capabilities=("instruction",)))
    return rewards


def registry_reward_specs() -> list[dict[str, Any]]:
    """Registered rewards only (for subprocess runs configured by key=value)."""
    return [
        {"name": "mcq_accuracy"},
        {"name": "numeric_accuracy"},
        {"name": "format_tags", "capabilities": ["instruction"], "params": {"tags": ["answer"]}},
    ]


def write_jsonl(rows: Sequence[Mapping[str, Any]], path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _hash_score(text: str, row: Mapping[str, Any]) -> float:
    """A deterministic, completion-dependent value in [0, 1): gives a random policy's
    completions different rewards, hence non-zero advantages and gradients."""
    return (zlib.crc32(text.encode("utf-8")) % 1000) / 1000.0


def shaping_rewards() -> list[RewardFunction]:
    """One hash-valued reward per capability (tests only: real verifiers give a random model
    all-zero rewards, so nothing would move)."""
    return [
        RewardFunction(f"hash_{cap}", _hash_score, capabilities=(cap,))
        for cap in ("knowledge", "reasoning", "instruction")
    ]
