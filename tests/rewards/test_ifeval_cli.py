"""``balancedbio rewards ifeval``: JSONL in, one JSON object per line out, errors per line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from balancedbio.rewards.cli import app
from balancedbio.rewards.ifeval import follow_instructions

GOOD = {
    "instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
    "kwargs": [{}, {"num_words": 5, "relation": "at least", "num_bullets": None}],
    "prompt": "Explain anemia without commas.",
    "response": "Sure:\nAnemia means too few red blood cells.",
    "id": "row-1",
}
LINES = [
    json.dumps(GOOD),
    "{not json",
    json.dumps({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}], "prompt": "p"}),
    json.dumps(dict(GOOD, instruction_id_list=["bogus:id", "punctuation:no_comma"])),
    json.dumps(dict(GOOD, kwargs=[{}, {"num_words": 5}])),
    "",
    json.dumps([1, 2]),
    json.dumps(dict(GOOD, response="Commas, here.\nAnd more words than five.")),
]


def _run(args: list[str], stdin: str | None = None) -> list[dict]:
    result = CliRunner().invoke(app, args, input=stdin)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def _check(out: list[dict]) -> None:
    assert len(out) == len(LINES)
    expected = follow_instructions(
        GOOD["prompt"], GOOD["response"], GOOD["instruction_id_list"], GOOD["kwargs"]
    )
    assert out[0] == dict(GOOD, strict=expected.strict, loose=expected.loose)
    assert out[0]["strict"] == [True, True] and out[0]["loose"] == [True, True]
    assert (
        out[1]["line"] == 2 and out[1]["raw"] == "{not json" and "invalid JSON" in out[1]["error"]
    )
    assert "missing field(s): response" in out[2]["error"]
    assert "bogus:id" in out[3]["error"] and "strict" not in out[3]
    assert "'relation' is required" in out[4]["error"]
    assert out[5]["line"] == 6 and "error" in out[5]
    assert out[6] == {"line": 7, "raw": [1, 2], "error": "line is not a JSON object"}
    assert out[7]["strict"] == [False, True] and out[7]["loose"] == [True, True]
    for i in (0, 7):
        assert "error" not in out[i]


def test_stdin() -> None:
    _check(_run(["ifeval", "-"], "\n".join(LINES) + "\n"))


def test_file(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    _check(_run(["ifeval", str(path)]))


def test_missing_file_fails_without_stdout(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["ifeval", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert result.stdout == ""


def test_mounted_as_rewards_subcommand() -> None:
    import typer

    root = typer.Typer()
    root.add_typer(app, name="rewards")
    result = CliRunner().invoke(root, ["rewards", "ifeval", "-"], input=LINES[0] + "\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["strict"] == [True, True]


def test_real_process_stdout_is_only_json_lines() -> None:
    code = "from balancedbio.rewards.cli import app; app(['ifeval', '-'])"
    rows = [
        json.dumps(
            {
                "instruction_id_list": [
                    "language:response_language",
                    "change_case:english_lowercase",
                    "length_constraints:number_sentences",
                    "change_case:capital_word_frequency",
                ],
                "kwargs": [
                    {"language": "en"},
                    {},
                    {"num_sentences": 1, "relation": "at least"},
                    {"capital_frequency": 1, "capital_relation": "less than"},
                ],
                "prompt": "p",
                "response": "12345",  # langdetect raises: counted as followed
            }
        ),
        "oops",
    ]
    proc = subprocess.run(
        [sys.executable, "-c", code],
        input="\n".join(rows) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert out[0]["strict"] == [True, False, True, True]
    assert out[1]["line"] == 2 and "error" in out[1]
