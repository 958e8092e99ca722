"""The gate's text extraction: IFEval instruction texts removed before decontamination."""

from __future__ import annotations

from balancedbio.data import gate
from balancedbio.data.gate import contamination_segments, contamination_text
from balancedbio.rewards.ifeval import describe_instruction

KW = {"num_highlights": 2}


def _item(kwargs: list[object]) -> dict[str, object]:
    text = describe_instruction("detectable_format:number_highlighted_sections", KW)
    return {
        "question": f"Explain Marfan syndrome to a patient. {text}",
        "instruction_id_list": ["detectable_format:number_highlighted_sections"],
        "kwargs": kwargs,
        "choices": ["FBN1", "COL1A1"],
    }


def test_instruction_text_is_removed_and_memoized() -> None:
    item = _item([KW])
    want = "Explain Marfan syndrome to a patient.  \nFBN1\nCOL1A1"
    for _ in range(2):  # the second call is answered by the memo
        assert contamination_text(item) == want
    assert contamination_segments(item) == want.split("\n")
    key = ("detectable_format:number_highlighted_sections", repr(KW))
    assert gate._DESCRIPTIONS[key] == describe_instruction(*key[:1], KW)


def test_bad_instruction_kwargs_leave_the_question_alone() -> None:
    item = _item([{"no_such_kwarg": 1}])
    for _ in range(2):
        assert contamination_text(item).startswith(str(item["question"]))
