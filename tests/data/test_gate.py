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


def _gate_items() -> list[dict[str, object]]:
    """Items with exact and near duplicates among them, numeric ones, contaminated ones."""
    import random

    rng = random.Random(5)
    vocab = [f"w{i}" for i in range(400)]
    out: list[dict[str, object]] = []
    for i in range(120):
        words = [rng.choice(vocab) for _ in range(rng.randint(2, 60))]
        if out and rng.random() < 0.3:  # a copy (maybe one word changed) of an earlier one
            words = str(rng.choice(out)["question"]).split()
            if rng.random() < 0.5 and len(words) > 30:
                words[rng.randrange(len(words))] = "changed"
        item: dict[str, object] = {"id": f"train-x-{i:07d}", "question": " ".join(words)}
        item["answer"] = rng.choice(["A", "B", "Straße", "4.5"])
        if rng.random() < 0.2:
            item["answer_kind"] = "numeric"
        if rng.random() < 0.05:
            item["choices"] = [" ".join(f"e{k}" for k in range(14))]
        out.append(item)
    return out


def test_prepared_gate_decides_as_the_plain_one() -> None:
    """Keys computed per chunk by ``prepare`` (duplicates within a chunk included) give the
    decisions of computing them per item; an item missing from the prepared chunk still works."""
    from balancedbio.data.config import GenerateConfig
    from balancedbio.data.decontam import Decontaminator
    from balancedbio.data.gate import Gate

    items = _gate_items()

    def decisions(chunk: int) -> list[tuple[str, str] | None]:
        decon = Decontaminator([" ".join(f"e{k}" for k in range(13))], n=13)
        gate, out = Gate(GenerateConfig(), decon), []
        for start in range(0, len(items), chunk or len(items)):
            part = items[start : start + chunk] if chunk else []
            if chunk:
                gate.prepare(part[:-1] if start == 0 else part)  # one item left unprepared
            for item in part if chunk else items:
                rej = gate(item)
                out.append(None if rej is None else (rej.reason, rej.message))
        return out

    plain = decisions(0)
    reasons = {d[0] for d in plain if d is not None}
    assert reasons == {"duplicate", "near_duplicate", "contaminated"}, reasons
    for chunk in (1, 7, 64, 500):
        assert decisions(chunk) == plain
