from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from balancedbio.knowledge import KnowledgeGraph
from balancedbio.knowledge import cache as cache_mod
from balancedbio.knowledge.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _warm_only(kg: KnowledgeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    """The session graph is cached; the CLI must load it, never rebuild."""

    def no_build(*_: Any, **__: Any) -> Any:
        raise AssertionError("rebuilt")

    monkeypatch.setattr(cache_mod, "build_graph", no_build)


def test_stats_json(kg_cache_dir: Path) -> None:
    result = runner.invoke(app, ["stats", "--json", "--cache-dir", str(kg_cache_dir)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["versions"]["hpo"] == "hp/releases/2025-01-16"
    assert set(payload["versions"]) >= {"hpo", "mondo", "icd10cm"}
    for source in ("hpo", "mondo", "omim", "orpha", "icd10cm"):
        assert set(payload["stats"][source]) >= {"terms", "diseases", "annotations", "codes"}
    assert payload["mondo_links"]["mondo_linked"] > 8000


def test_stats_table(kg_cache_dir: Path) -> None:
    result = runner.invoke(app, ["stats", "--cache-dir", str(kg_cache_dir)])
    assert result.exit_code == 0, result.output
    for text in ("hpo", "mondo", "icd10cm", "hp/releases/2025-01-16", "ICD-10-CM April 1 2026"):
        assert text in result.stdout


FACTS = [
    '{"relation": "is_a", "subject": "HP:0001250", "object": "HP:0000118", "id": 1}',
    "this is not json",
    "",
    "[1, 2]",
    '{"relation": "icd10_parent", "subject": "E119", "object": "E08-E13"}',
    '{"relation": "is_a", "subject": "HP:0000057", "object": "HP:0000118"}',
    '{"relation": "frobnicate", "subject": "HP:0001250"}',
]


def _check_output(stdout: str) -> list[dict[str, Any]]:
    lines = stdout.splitlines()
    assert len(lines) == len(FACTS)
    out = [json.loads(line) for line in lines]  # stdout holds only JSON lines
    assert out[0] == {
        "relation": "is_a",
        "subject": "HP:0001250",
        "object": "HP:0000118",
        "id": 1,
        "valid": True,
        "reason": None,
    }
    assert (
        out[1] == {"line": 2, "raw": "this is not json", "valid": False, "reason": out[1]["reason"]}
        and "not JSON" in out[1]["reason"]
    )
    assert out[2]["line"] == 3 and out[2]["valid"] is False
    assert out[3]["line"] == 4 and "JSON object" in out[3]["reason"]
    assert out[4]["valid"] is True and out[4]["subject"] == "E119"
    assert out[5]["valid"] is False and "replaced by HP:0008665" in out[5]["reason"]
    assert out[6]["valid"] is False and "valid relations" in out[6]["reason"]
    return out


def test_check_file(tmp_path: Path, kg_cache_dir: Path) -> None:
    path = tmp_path / "facts.jsonl"
    path.write_text("\n".join(FACTS) + "\n")
    result = runner.invoke(app, ["check", str(path), "--cache-dir", str(kg_cache_dir)])
    assert result.exit_code == 0, result.output
    _check_output(result.stdout)
    assert "checked 7 line(s): 2 valid" in result.stderr and "hp/releases" in result.stderr


def test_check_stdin(kg_cache_dir: Path) -> None:
    result = runner.invoke(
        app, ["check", "-", "--cache-dir", str(kg_cache_dir)], input="\n".join(FACTS) + "\n"
    )
    assert result.exit_code == 0, result.output
    _check_output(result.stdout)


def test_check_missing_file(tmp_path: Path, kg_cache_dir: Path) -> None:
    result = runner.invoke(
        app, ["check", str(tmp_path / "nope.jsonl"), "--cache-dir", str(kg_cache_dir)]
    )
    assert result.exit_code == 2 and result.stdout == "" and "cannot read" in result.stderr


def test_ground(kg_cache_dir: Path) -> None:
    text = "Recurrent seizures and short stature."
    result = runner.invoke(app, ["ground", text, "--json", "--cache-dir", str(kg_cache_dir)])
    assert result.exit_code == 0, result.output
    mentions = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(m["text"], m["id"]) for m in mentions] == [
        ("seizures", "HP:0001250"),
        ("short stature", "HP:0004322"),
    ]
    assert text[mentions[0]["start"] : mentions[0]["end"]] == "seizures"
    table = runner.invoke(app, ["ground", text, "--cache-dir", str(kg_cache_dir)])
    assert table.exit_code == 0 and "HP:0004322" in table.stdout


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for cmd in ("stats", "check", "ground"):
        assert cmd in result.stdout


def test_check_crlf_and_bom(tmp_path: Path, kg_cache_dir: Path) -> None:
    path = tmp_path / "facts.jsonl"
    path.write_bytes(
        b'\xef\xbb\xbf{"relation": "exists", "subject": "HP:0001250"}\r\n'
        b'{"relation": "exists", "subject": "HP:9999999"}\r\n'
    )
    result = runner.invoke(app, ["check", str(path), "--cache-dir", str(kg_cache_dir)])
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["valid"] for o in out] == [True, False]
