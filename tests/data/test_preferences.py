"""Preference pairs for the reward model: corruption pairs, user JSONL, split by prompt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from balancedbio.config import ConfigError
from balancedbio.data.preferences import (
    build_preference_pairs,
    item_pairs,
    prompt_key,
    read_user_pairs,
    split_pairs,
)
from balancedbio.data.records import JSON_FIELDS, SCHEMA, new_record, user_message


def _case(i: int, prompt: str | None = None) -> dict:
    ref = (
        f"Presentation: patient {i} with fever and rash.\n"
        "History/Exam: Examination shows lymphadenopathy.\n"
        f"Differential: Disease {i}; Disease {i + 1}.\n"
        "Investigations: Serology.\n"
        f"Diagnosis: Disease {i}, which accounts for the findings.\n"
        "Management: Supportive care.\n"
        f"Answer: Disease {i}"
    )
    return new_record(
        id=f"train-diagnosis_case-{i:07d}",
        capability="reasoning",
        task="diagnosis_case",
        split="train",
        prompt=user_message(prompt or f"Case {i}: fever and rash. What is the diagnosis?"),
        question=f"Case {i}",
        answer=f"Disease {i}",
        answer_kind="text",
        reference=ref,
    )


ITEMS = [_case(i) for i in range(20)]


def test_item_pairs_break_one_thing() -> None:
    pairs = item_pairs(ITEMS, seed=0)
    assert len(pairs) == len(ITEMS)
    for item, pair in zip(ITEMS, pairs, strict=True):
        assert pair["prompt"] == item["prompt"]
        assert pair["chosen"] == item["reference"] != pair["rejected"]
        assert pair["item_id"] == item["id"] and pair["capability"] == "reasoning"
        assert pair["corruption"] in ("reorder_workflow", "drop_step", "wrong_final_answer")
    assert item_pairs(ITEMS, seed=0) == pairs  # deterministic
    several = item_pairs(ITEMS[:3], seed=0, pairs_per_item=4)
    for item in ITEMS[:3]:
        mine = [p["rejected"] for p in several if p["item_id"] == item["id"]]
        assert 1 <= len(mine) == len(set(mine)) <= 4


def test_split_is_disjoint_by_item_and_prompt() -> None:
    items = [*ITEMS, _case(100, prompt=ITEMS[0]["prompt"][0]["content"])]  # shares a prompt
    train, heldout = build_preference_pairs(items, seed=3, heldout_frac=0.25, pairs_per_item=2)
    assert train and heldout
    ids = lambda ps: {p["item_id"] for p in ps}  # noqa: E731
    keys = lambda ps: {prompt_key(p["prompt"]) for p in ps}  # noqa: E731
    assert not ids(train) & ids(heldout)
    assert not keys(train) & keys(heldout)
    assert len(keys(heldout)) == round(0.25 * 20)  # 20 distinct prompts
    same = {ITEMS[0]["id"], "train-diagnosis_case-0000100"}
    assert same <= ids(train) or same <= ids(heldout)
    again = build_preference_pairs(items, seed=3, heldout_frac=0.25, pairs_per_item=2)
    assert again == (train, heldout)
    other = build_preference_pairs(items, seed=4, heldout_frac=0.25, pairs_per_item=2)
    assert ids(other[1]) != ids(heldout)


def test_split_edges() -> None:
    pairs = item_pairs(ITEMS[:2])
    assert split_pairs(pairs, 0.0) == (pairs, [])
    train, heldout = split_pairs(pairs, 0.01)  # rounds to 0 groups: still one held out
    assert len(train) == len(heldout) == 1
    with pytest.raises(ConfigError, match="heldout_frac"):
        split_pairs(pairs, 1.0)


def _write(path: Path, lines: list[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_user_pairs_are_merged(tmp_path: Path) -> None:
    user = _write(
        tmp_path / "prefs.jsonl",
        [
            {
                "prompt": "Dose of amoxicillin for otitis?",
                "chosen": "80 mg/kg/day",
                "rejected": "1 g",
            },
            "",
            {
                "prompt": [{"role": "user", "content": "Define sepsis."}],
                "chosen": "Life-threatening organ dysfunction caused by infection.",
                "rejected": "A rash.",
                "corruption": "clinician",
            },
        ],
    )
    pairs = read_user_pairs(user)
    assert [p["item_id"] for p in pairs] == ["user:prefs.jsonl:1", "user:prefs.jsonl:3"]
    assert pairs[0]["prompt"] == [{"role": "user", "content": "Dose of amoxicillin for otitis?"}]
    assert [p["corruption"] for p in pairs] == ["user", "clinician"]
    train, heldout = build_preference_pairs(ITEMS, user_pairs_jsonl=user, heldout_frac=0.2)
    assert len(train) + len(heldout) == len(ITEMS) + 2
    only_user = build_preference_pairs(None, user_pairs_jsonl=user, heldout_frac=0.5)
    assert sum(map(len, only_user)) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ('["a", "b"]', "expected a JSON object"),
        ('{"prompt": "q", "chosen": "a"}', "missing field"),
        ('{"prompt": "", "chosen": "a", "rejected": "b"}', "prompt must be"),
        ('{"prompt": [{"role": "user"}], "chosen": "a", "rejected": "b"}', "prompt must be"),
        ('{"prompt": "q", "chosen": "a", "rejected": 3}', "rejected must be"),
        ('{"prompt": "q", "chosen": "same", "rejected": "same"}', "identical"),
    ],
)
def test_malformed_user_jsonl_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    good = {"prompt": "q", "chosen": "a", "rejected": "b"}
    path = _write(tmp_path / "bad.jsonl", [good, line])
    with pytest.raises(ConfigError, match=message) as err:
        read_user_pairs(path)
    assert f"{path}:2" in str(err.value)


def test_missing_inputs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        read_user_pairs(tmp_path / "nope.jsonl")
    with pytest.raises(ConfigError, match="no preference pairs"):
        read_user_pairs(_write(tmp_path / "empty.jsonl", ["", "  "]))
    with pytest.raises(ConfigError, match="dataset directory not found"):
        build_preference_pairs(tmp_path / "missing")
    with pytest.raises(ConfigError, match="no preference pairs"):
        build_preference_pairs([])


def test_pairs_from_a_dataset_directory(tmp_path: Path) -> None:
    from balancedbio.data.shards import ShardWriter

    writer = ShardWriter(tmp_path / "ds", 8, "jsonl", json_fields=JSON_FIELDS, schema=SCHEMA)
    for item in ITEMS:
        writer.add(item)
        writer.end_seed()
    writer.finalize({})
    train, heldout = build_preference_pairs(tmp_path / "ds", seed=0, heldout_frac=0.2)
    assert len(train) == 16 and len(heldout) == 4
    assert {p["item_id"] for p in train + heldout} == {i["id"] for i in ITEMS}


def test_corruption_filter_redraws_and_skips() -> None:
    pairs = item_pairs(ITEMS, seed=1, corruptions=["drop_step"])
    assert len(pairs) == len(ITEMS)  # every case has a differential to drop
    assert {p["corruption"] for p in pairs} == {"drop_step"}
    assert {p["task"] for p in pairs} == {"diagnosis_case"}
    assert item_pairs(ITEMS, corruptions=["break_instruction"]) == []  # no instructions
    train, heldout = build_preference_pairs(
        ITEMS, corruptions=["wrong_final_answer", "reorder_workflow"], heldout_frac=0.2
    )
    assert {p["corruption"] for p in train + heldout} <= {"wrong_final_answer", "reorder_workflow"}


def test_capability_scope_keeps_the_unscoped_split() -> None:
    instruction = [
        new_record(
            id=f"train-instruction-{i:07d}",
            capability="instruction",
            task="instruction",
            split="train",
            prompt=user_message(f"Describe topic {i}."),
            question=f"Describe topic {i}.",
            answer="",
            answer_kind="none",
            reference=f"Topic {i} is described here.",
        )
        for i in range(6)
    ]
    items = [*ITEMS, *instruction]
    full = build_preference_pairs(items, seed=2, heldout_frac=0.3)
    scoped = build_preference_pairs(items, seed=2, heldout_frac=0.3, capabilities=["reasoning"])
    for side_full, side_scoped in zip(full, scoped, strict=True):
        assert side_scoped == [p for p in side_full if p["capability"] == "reasoning"]
    with pytest.raises(ConfigError, match="no training pairs for capabilities"):
        build_preference_pairs(items, capabilities=["knowledge"])
