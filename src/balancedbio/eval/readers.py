"""Readers for the standard local formats of public biomedical benchmarks.

The data are not shipped; users point at the files they have. Every reader returns MKGSG
item records (:func:`balancedbio.data.records.new_record`), so one set of graders scores
generated and public benchmarks alike. Supported formats:

* MMLU (medical subsets): hendrycks CSV ``question,A,B,C,D,answer`` without a header
  (``<subject>_test.csv``), or HF rows ``question, subject, choices, answer`` (index or
  letter) as Parquet/JSONL/JSON; a directory is searched for the subject's file;
* MedQA: JSONL ``question, options {A..}, answer_idx`` (or ``answer``: letter or text);
* MedMCQA: ``question, opa..opd, cop``: ``cop`` is 0-3 in the HF dataset, 1-4 in the
  original release (``cop_base``: "0", "1", or "auto" = infer from the file);
* PubMedQA: ``ori_pqal.json`` (``{pmid: {QUESTION, CONTEXTS, final_decision}}``), the
  same as JSONL, or HF ``pqa_labeled`` rows ``question, context.contexts, final_decision``;
* MedCalc-Bench: ``test_data.csv`` (``Patient Note, Question, Ground Truth Answer, Lower
  Limit, Upper Limit, Output Type, Calculator ID ...``);
* IFEval: JSONL ``key, prompt, instruction_id_list, kwargs``.

A malformed record raises :class:`ReaderError` naming the file, the line (row / key) and
the problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from balancedbio.data.records import new_record, user_message
from balancedbio.eval.formats import (
    LETTERS,
    ReaderError,
    choices_list,
    gold_index,
    iter_rows,
    need,
    text_field,
)

LETTER_FORMAT = (
    "Answer with the letter of the correct option, on a final line of the form 'Answer: <letter>'."
)
PUBMEDQA_FORMAT = "Answer yes, no or maybe, on a final line of the form 'Answer: <yes|no|maybe>'."
CALC_FORMAT = (
    "Show your calculation step by step, then give the result on a final line of the form "
    "'Answer: <value>'."
)
Row = dict[str, Any]


def lettered(choices: Sequence[str]) -> str:
    """``A. first\\nB. second ...``"""
    return "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(choices))


def mcq_record(
    task: str,
    rid: str,
    stem: str,
    choices: Sequence[str],
    gold: int,
    source: str,
    *,
    prefix: str = "",
    lettered_options: bool = True,
    answer_format: str = LETTER_FORMAT,
) -> Row:
    """A knowledge MCQ record; ``question`` (the log-likelihood context before ``\\nAnswer:``)
    is ``prefix + stem`` plus the lettered options unless ``lettered_options`` is false."""
    question = prefix + stem + (f"\n{lettered(choices)}" if lettered_options else "")
    return new_record(
        id=rid,
        capability="knowledge",
        task=task,
        split="eval",
        prompt=user_message(f"{question}\n\n{answer_format}"),
        question=question,
        answer=LETTERS[gold],
        answer_kind="choice",
        choices=[str(c) for c in choices],
        reference="",
        provenance={"source": source},
    )


# --------------------------------------------------------------------------- MMLU


def mmlu_files(path: str | Path, subject: str) -> list[Path]:
    """The file(s) of one MMLU subject: ``path`` itself, or found under a directory
    (hendrycks ``<subject>_test.csv``, HF ``<subject>/test-*.parquet`` or JSONL)."""
    path = Path(path)
    if path.is_file():
        return [path]
    patterns = (
        f"{subject}_test.csv",
        f"{subject}/test-*.parquet",
        f"{subject}/test*.jsonl",
        f"{subject}_test.jsonl",
        f"{subject}_test.parquet",
        f"{subject}.jsonl",
    )
    for pattern in patterns:
        found = sorted(path.rglob(pattern))
        if found:
            return found
    raise ReaderError(path, "-", f"no test file for MMLU subject {subject!r} (tried {patterns})")


def read_mmlu(path: str | Path, subject: str, task: str | None = None) -> list[Row]:
    """One MMLU subject as knowledge MCQ records (lm-eval's MMLU prompt with its preamble)."""
    task = task or f"mmlu_{subject}"
    about = subject.replace("_", " ")
    prefix = f"The following are multiple choice questions (with answers) about {about}.\n\n"
    out: list[Row] = []
    for file in mmlu_files(path, subject):
        csv_file = file.suffix.lower() == ".csv"
        for where, row in iter_rows(file, header=False):
            if csv_file:
                cells = [row[str(i)] for i in range(len(row))]
                if len(cells) != 6:
                    raise ReaderError(
                        file,
                        where,
                        f"expected 6 fields (question,A,B,C,D,answer), got {len(cells)}",
                    )
                if out == [] and [c.strip().lower() for c in cells] == [
                    "question",
                    "a",
                    "b",
                    "c",
                    "d",
                    "answer",
                ]:
                    continue  # an exported header line
                stem, choices, answer = (
                    cells[0].strip(),
                    choices_list(file, where, cells[1:5]),
                    cells[5],
                )
                if answer.strip().upper() not in "ABCD" or not answer.strip():
                    raise ReaderError(file, where, f"answer {answer!r} is not A-D")
            else:
                if row.get("subject") not in (None, "", subject):
                    continue
                stem = text_field(file, where, row, "question")
                choices = choices_list(file, where, need(file, where, row, "choices"))
                answer = need(file, where, row, "answer")
            if not stem:
                raise ReaderError(file, where, "empty question")
            gold = gold_index(file, where, answer, choices)
            out.append(
                mcq_record(
                    task,
                    f"{task}-{len(out):05d}",
                    stem,
                    choices,
                    gold,
                    f"{file}:{where}",
                    prefix=prefix,
                )
            )
    return out


# --------------------------------------------------------------------------- MedQA / MedMCQA


def read_medqa(path: str | Path) -> list[Row]:
    """MedQA (USMLE) JSONL: ``question``, ``options`` (A..), ``answer_idx`` or ``answer``."""
    path = Path(path)
    out = []
    for where, row in iter_rows(path):
        stem = text_field(path, where, row, "question")
        choices = choices_list(path, where, need(path, where, row, "options"))
        answer = (
            row.get("answer_idx") if row.get("answer_idx") not in (None, "") else row.get("answer")
        )
        if answer in (None, ""):
            raise ReaderError(path, where, "missing field 'answer_idx' (or 'answer')")
        gold = gold_index(path, where, answer, choices)
        out.append(
            mcq_record(
                "medqa",
                f"medqa-{len(out):05d}",
                f"Question: {stem}",
                choices,
                gold,
                f"{path}:{where}",
            )
        )
    return out


def read_medmcqa(path: str | Path, cop_base: str = "auto") -> list[Row]:
    """MedMCQA: ``question``, ``opa``..``opd``, ``cop`` (0-3 HF, 1-4 original: ``cop_base``)."""
    path = Path(path)
    rows = list(iter_rows(path))
    cops = []
    for where, row in rows:
        cop = row.get("cop")
        if (
            isinstance(cop, bool)
            or not isinstance(cop, (int, str))
            or not str(cop).strip().isdigit()
        ):
            raise ReaderError(path, where, f"cop must be an integer option index, got {cop!r}")
        cops.append(int(cop))
    if cop_base == "auto":
        if 0 in cops and 4 in cops:
            raise ReaderError(path, "-", "cop has both 0 and 4: not 0-3 nor 1-4")
        if 4 in cops:
            cop_base = "1"
        elif 0 in cops or not cops:
            cop_base = "0"
        else:
            raise ReaderError(
                path, "-", "cop is 1-3 throughout: set medmcqa_cop_base to 0 (HF) or 1 (original)"
            )
    out = []
    for (where, row), cop in zip(rows, cops, strict=True):
        stem = text_field(path, where, row, "question")
        choices = [text_field(path, where, row, k) for k in ("opa", "opb", "opc", "opd")]
        gold = gold_index(path, where, cop, choices, base=int(cop_base))
        rid = str(row.get("id") or f"medmcqa-{len(out):05d}")
        out.append(
            mcq_record("medmcqa", rid, f"Question: {stem}", choices, gold, f"{path}:{where}")
        )
    return out


# --------------------------------------------------------------------------- PubMedQA


def read_pubmedqa(path: str | Path) -> list[Row]:
    """PubMedQA: ``QUESTION/CONTEXTS/final_decision`` (JSON keyed by PMID, or JSONL), or HF
    ``question/context.contexts/final_decision`` rows. lm-eval's prompt: abstract, question."""
    path = Path(path)
    out = []
    for where, row in iter_rows(path):
        question = row.get("QUESTION") if row.get("QUESTION") is not None else row.get("question")
        if not isinstance(question, str) or not question.strip():
            raise ReaderError(path, where, "missing field 'QUESTION' (or 'question')")
        contexts = row.get("CONTEXTS")
        if contexts is None:
            ctx = row.get("context")
            contexts = (
                ctx.get("contexts") if isinstance(ctx, Mapping) else row.get("context.contexts")
            )
        if isinstance(contexts, str) or not isinstance(contexts, Sequence) or not contexts:
            raise ReaderError(path, where, "missing field 'CONTEXTS' (or 'context.contexts')")
        decision = str(row.get("final_decision") or "").strip().lower()
        choices = ["yes", "no", "maybe"]
        if decision not in choices:
            raise ReaderError(
                path,
                where,
                f"final_decision must be yes/no/maybe, got {row.get('final_decision')!r}",
            )
        rid = str(row.get("pubid") or row.get("_key") or f"pubmedqa-{len(out):05d}")
        stem = f"Abstract: {' '.join(str(c) for c in contexts)}\nQuestion: {question.strip()}"
        out.append(
            mcq_record(
                "pubmedqa",
                rid,
                stem,
                choices,
                choices.index(decision),
                f"{path}:{where}",
                lettered_options=False,
                answer_format=PUBMEDQA_FORMAT,
            )
        )
    return out


# --------------------------------------------------------------------------- MedCalc-Bench

_MEDCALC_KIND = {"decimal": "decimal", "integer": "integer", "date": "date"}
_GESTATIONAL_AGE_ID = "69"


def read_medcalc(path: str | Path) -> list[Row]:
    """MedCalc-Bench ``test_data.csv`` (or JSONL with the same columns) as reasoning records
    graded by :func:`balancedbio.rewards.answers.grade_numeric`."""
    path = Path(path)
    out = []
    for where, row in iter_rows(path):
        note = text_field(path, where, row, "Patient Note")
        question = text_field(path, where, row, "Question")
        answer = text_field(path, where, row, "Ground Truth Answer")
        calc_id = str(row.get("Calculator ID") or "").strip()
        kind = _MEDCALC_KIND.get(str(row.get("Output Type") or "").strip().lower())
        if calc_id == _GESTATIONAL_AGE_ID:
            kind = "weeks_days"
        if kind is None:
            raise ReaderError(
                path,
                where,
                f"Output Type must be decimal, integer or date, got {row.get('Output Type')!r}",
            )
        lower, upper = row.get("Lower Limit"), row.get("Upper Limit")
        if kind in ("decimal", "integer"):
            try:
                float(answer)
                lower = float(lower) if lower not in (None, "") else None
                upper = float(upper) if upper not in (None, "") else None
            except ValueError as exc:
                raise ReaderError(path, where, f"non-numeric answer or limits ({exc})") from exc
        else:
            lower = upper = None
        text = f"Patient note: {note}\n\nQuestion: {question}"
        out.append(
            new_record(
                id=f"medcalc-{row.get('Row Number') or len(out)}",
                capability="reasoning",
                task="medcalc",
                split="eval",
                prompt=user_message(f"{text}\n\n{CALC_FORMAT}"),
                question=text,
                answer=answer,
                answer_kind="numeric",
                output_kind=kind,
                lower=lower,
                upper=upper,
                calculator_id=calc_id or None,
                reference="",
                provenance={"source": f"{path}:{where}", "calculator": row.get("Calculator Name")},
            )
        )
    return out


# --------------------------------------------------------------------------- IFEval


def read_ifeval(path: str | Path) -> list[Row]:
    """IFEval JSONL (``key, prompt, instruction_id_list, kwargs``) as instruction records;
    instruction ids and kwargs are validated (lm-eval's rules) with the record's line."""
    from balancedbio.config import ConfigError
    from balancedbio.rewards.ifeval import normalize_kwargs

    path = Path(path)
    out = []
    for where, row in iter_rows(path):
        prompt = text_field(path, where, row, "prompt")
        ids, kwargs = row.get("instruction_id_list"), row.get("kwargs")
        if isinstance(ids, str) or not isinstance(ids, list) or not ids:
            raise ReaderError(
                path, where, f"instruction_id_list must be a non-empty list, got {ids!r:.60}"
            )
        if not isinstance(kwargs, list) or len(kwargs) != len(ids):
            raise ReaderError(
                path, where, f"kwargs must be a list of {len(ids)} objects, got {kwargs!r:.60}"
            )
        for iid, kw in zip(ids, kwargs, strict=True):
            try:
                normalize_kwargs(iid, kw)
            except (ConfigError, ValueError, TypeError) as exc:
                raise ReaderError(path, where, f"instruction {iid!r}: {exc}") from exc
        out.append(
            new_record(
                id=f"ifeval-{row.get('key', len(out))}",
                capability="instruction",
                task="ifeval",
                split="eval",
                prompt=user_message(prompt),
                question=prompt,
                answer="",
                answer_kind="none",
                instruction_id_list=list(ids),
                kwargs=[dict(k or {}) for k in kwargs],
                reference="",
                provenance={"source": f"{path}:{where}", "key": row.get("key")},
            )
        )
    return out


__all__ = [
    "CALC_FORMAT",
    "LETTERS",
    "LETTER_FORMAT",
    "ReaderError",
    "iter_rows",
    "lettered",
    "mcq_record",
    "mmlu_files",
    "read_ifeval",
    "read_medcalc",
    "read_medmcqa",
    "read_medqa",
    "read_mmlu",
    "read_pubmedqa",
]
