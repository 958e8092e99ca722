"""Readers of the standard benchmark formats: valid files, and malformed records that must
name the file, the line (row / key) and the problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eval_paths import DATA

from balancedbio.eval import readers
from balancedbio.eval.formats import ReaderError, iter_rows
from balancedbio.eval.tasks import mcq_request


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def _raises(fn, *args, match: list[str]) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ReaderError) as info:
        fn(*args)
    for part in match:
        assert part in str(info.value), (part, str(info.value))


# --------------------------------------------------------------------------- MMLU


def test_mmlu_hendrycks_csv() -> None:
    rows = readers.read_mmlu(DATA / "mmlu", "anatomy")
    assert [r["answer"] for r in rows] == ["B", "C", "C"]
    assert rows[1]["choices"][2] == "Biceps brachii"
    assert rows[0]["task"] == "mmlu_anatomy" and rows[0]["capability"] == "knowledge"
    req = mcq_request(rows[0])
    # lm-eval's MMLU prompt: preamble, question, lettered options, "Answer:"; targets letters
    assert req.context.startswith(
        "The following are multiple choice questions (with answers) about anatomy.\n\n"
    )
    assert req.context.endswith("\nA. Femur\nB. Sternum\nC. Radius\nD. Scapula\nAnswer:")
    assert req.targets == ("A", "B", "C", "D") and req.gold == 1
    assert mcq_request(rows[0], "text").targets == ("Femur", "Sternum", "Radius", "Scapula")


def test_mmlu_hf_jsonl_and_parquet(tmp_path: Path) -> None:
    rows = readers.read_mmlu(DATA / "mmlu", "clinical_knowledge")
    assert [r["answer"] for r in rows] == ["B", "A"]
    import pyarrow as pa
    import pyarrow.parquet as pq

    sub = tmp_path / "college_medicine"
    sub.mkdir()
    table = pa.table(
        {
            "question": ["Q1?", "Q2?"],
            "subject": ["college_medicine", "college_medicine"],
            "choices": [["a", "b", "c", "d"], ["e", "f", "g", "h"]],
            "answer": [3, 0],
        }
    )
    pq.write_table(table, sub / "test-00000-of-00001.parquet")
    rows = readers.read_mmlu(tmp_path, "college_medicine")
    assert [r["answer"] for r in rows] == ["D", "A"]
    assert "row 1" in rows[0]["provenance"]["source"]


def test_mmlu_malformed(tmp_path: Path) -> None:
    bad = tmp_path / "anatomy_test.csv"
    bad.write_text("Q1,a,b,c,d,A\nQ2,a,b,c,d,F\n")
    _raises(readers.read_mmlu, bad, "anatomy", match=[str(bad), "line 2", "'F' is not A-D"])
    bad.write_text("Q1,a,b,c,A\n")
    _raises(readers.read_mmlu, bad, "anatomy", match=["line 1", "expected 6 fields"])
    hf = _jsonl(tmp_path / "x.jsonl", [{"question": "Q", "choices": ["a", "b"], "answer": 5}])
    _raises(readers.read_mmlu, hf, "anatomy", match=["line 1", "out of range"])
    _raises(readers.read_mmlu, tmp_path / "nope", "anatomy", match=["no test file"])


# --------------------------------------------------------------------------- MedQA / MedMCQA


def test_medqa() -> None:
    rows = readers.read_medqa(DATA / "medqa.jsonl")
    assert [r["answer"] for r in rows] == ["B", "C", "B"]  # answer_idx, answer text, answer_idx
    assert mcq_request(rows[0]).context.startswith("Question: A 23-year-old woman")


def test_medqa_malformed(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "medqa.jsonl",
        [
            {"question": "Q", "options": {"A": "x", "B": "y"}, "answer_idx": "A"},
            "{not json",
        ],
    )
    _raises(readers.read_medqa, path, match=[str(path), "line 2", "invalid JSON"])
    _jsonl(path, [{"question": "Q", "options": {"A": "x", "B": "y"}, "answer": "z"}])
    _raises(readers.read_medqa, path, match=["line 1", "'z' is not an option"])
    _jsonl(path, [{"question": "Q", "options": {"A": "x", "C": "y"}, "answer_idx": "A"}])
    _raises(readers.read_medqa, path, match=["line 1", "options keys"])


def test_medmcqa_both_conventions() -> None:
    hf = readers.read_medmcqa(DATA / "medmcqa_hf.jsonl")  # cop 0-3, inferred
    orig = readers.read_medmcqa(DATA / "medmcqa_original.jsonl")  # cop 1-4, inferred
    assert [r["answer"] for r in hf] == ["C", "A"]
    assert [r["answer"] for r in orig] == ["C", "D"]
    assert hf[0]["choices"] == orig[0]["choices"]


def test_medmcqa_explicit_base(tmp_path: Path) -> None:
    row = {"question": "Q", "opa": "a", "opb": "b", "opc": "c", "opd": "d", "cop": 2}
    path = _jsonl(tmp_path / "m.jsonl", [row])
    _raises(readers.read_medmcqa, path, "auto", match=["cop is 1-3 throughout", "medmcqa_cop_base"])
    assert readers.read_medmcqa(path, "0")[0]["answer"] == "C"
    assert readers.read_medmcqa(path, "1")[0]["answer"] == "B"
    _jsonl(path, [row, {**row, "cop": 0}])
    _raises(readers.read_medmcqa, path, "1", match=["line 2", "out of range", "base 1"])
    _jsonl(path, [row, {**row, "cop": "x"}])
    _raises(readers.read_medmcqa, path, "0", match=["line 2", "cop must be an integer"])


# --------------------------------------------------------------------------- PubMedQA


def test_pubmedqa_formats() -> None:
    ori = readers.read_pubmedqa(DATA / "pubmedqa_ori_pqal.json")
    hf = readers.read_pubmedqa(DATA / "pubmedqa_labeled.jsonl")
    assert [r["answer"] for r in ori] == ["A", "B"]  # yes, no
    assert [r["answer"] for r in hf] == ["A", "C"]  # yes, maybe
    assert ori[0]["id"] == "21645374" and hf[0]["id"] == "25429730"
    req = mcq_request(ori[0])  # lm-eval's pubmedqa: abstract, question; targets the words
    assert req.context.startswith("Abstract: Programmed cell death (PCD)")
    assert req.context.endswith("?\nAnswer:") and req.targets == ("yes", "no", "maybe")


def test_pubmedqa_malformed(tmp_path: Path) -> None:
    path = tmp_path / "ori.json"
    path.write_text(
        json.dumps({"1": {"QUESTION": "Q?", "CONTEXTS": ["c"], "final_decision": "perhaps"}})
    )
    _raises(readers.read_pubmedqa, path, match=[str(path), "key '1'", "yes/no/maybe"])
    path.write_text(json.dumps({"1": {"QUESTION": "Q?", "final_decision": "yes"}}))
    _raises(readers.read_pubmedqa, path, match=["key '1'", "CONTEXTS"])
    path.write_text('{"1": {"QUESTION": "Q?",\n "CONTEXTS": [}}')
    _raises(readers.read_pubmedqa, path, match=["line 2", "invalid JSON"])


# --------------------------------------------------------------------------- MedCalc / IFEval


def test_medcalc_csv() -> None:
    rows = readers.read_medcalc(DATA / "medcalc_test_data.csv")
    kinds = [(r["output_kind"], r["answer"]) for r in rows]
    assert kinds == [
        ("decimal", "26.122"),
        ("integer", "4"),
        ("date", "10/21/2024"),
        ("weeks_days", "('4 weeks', '3 days')"),
    ]
    assert rows[0]["lower"] == pytest.approx(24.816) and rows[0]["capability"] == "reasoning"


def test_medcalc_malformed(tmp_path: Path) -> None:
    src = (DATA / "medcalc_test_data.csv").read_text().splitlines()
    bad = tmp_path / "medcalc.csv"
    bad.write_text("\n".join([src[0], src[1].replace(",decimal,", ",fraction,")]) + "\n")
    _raises(readers.read_medcalc, bad, match=[str(bad), "line 2", "Output Type"])
    bad.write_text("\n".join([src[0], src[1], "3,6,BMI,physical\n"]))
    _raises(readers.read_medcalc, bad, match=["line 3", "fields, header has 14"])


def test_ifeval_jsonl() -> None:
    rows = readers.read_ifeval(DATA / "ifeval.jsonl")
    assert [r["id"] for r in rows] == ["ifeval-1000", "ifeval-1001", "ifeval-1002"]
    assert rows[0]["instruction_id_list"][1] == "detectable_format:number_highlighted_sections"
    assert rows[2]["kwargs"] == [{"num_highlights": None, "relation": None, "num_words": None}]


def test_ifeval_malformed(tmp_path: Path) -> None:
    good = {
        "key": 1,
        "prompt": "p",
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{}],
    }
    path = _jsonl(tmp_path / "if.jsonl", [good, {**good, "instruction_id_list": ["no:such"]}])
    _raises(readers.read_ifeval, path, match=[str(path), "line 2", "no:such"])
    _jsonl(path, [{**good, "kwargs": []}])
    _raises(readers.read_ifeval, path, match=["line 1", "kwargs must be a list of 1"])
    _jsonl(path, [{**good, "kwargs": [{"num_words": 3}]}])
    _raises(readers.read_ifeval, path, match=["line 1", "unknown kwarg"])


def test_iter_rows_formats(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x")
    _raises(lambda: list(iter_rows(tmp_path / "a.txt")), match=["unsupported file type"])
    _raises(lambda: list(iter_rows(tmp_path / "missing.jsonl")), match=["file not found"])
    path = _jsonl(tmp_path / "b.jsonl", [[1, 2]])
    _raises(lambda: list(iter_rows(path)), match=["line 1", "expected an object"])
