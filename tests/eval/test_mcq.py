"""MCQ scoring: log-likelihoods against a hand computation, lm-eval's acc/acc_norm, and the
generated-letter path."""

from __future__ import annotations

from typing import Any

import pytest

from balancedbio.eval.mcq import (
    MCQRequest,
    encode_pair,
    letter_metrics,
    loglikelihoods,
    mcq_metrics,
)

REQUESTS = [
    MCQRequest(
        "Which of the following bones is part of the axial skeleton?\nA. Femur\nB. Sternum\nAnswer:",  # noqa: E501
        ("A", "B"),
        1,
    ),
    MCQRequest(
        "Question: Which vitamin deficiency causes scurvy?\nAnswer:",
        ("Vitamin A", "Vitamin C (ascorbic acid)", "Thiamine", "Vitamin D3 deficiency rickets"),
        1,
    ),
    MCQRequest("Abstract: Short.\nQuestion: Is it?\nAnswer: ", ("yes", "no", "maybe"), 0),
]


def hand_loglik(model: Any, tokenizer: Any, context: str, continuation: str) -> tuple[float, bool]:
    """One unbatched forward over context + continuation, as lm-eval computes it."""
    import torch

    ctx, cont = encode_pair(tokenizer, context, continuation)
    ids = torch.tensor([ctx + cont])
    with torch.inference_mode():
        logp = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    total, greedy = 0.0, True
    for j, tok in enumerate(cont):
        row = logp[len(ctx) - 1 + j]
        total += float(row[tok])
        greedy = greedy and int(row.argmax()) == tok
    return total, greedy


def test_encode_pair_moves_trailing_space(tiny: tuple[Any, Any]) -> None:
    _, tok = tiny
    ctx, cont = encode_pair(tok, "Answer: ", "yes")
    assert ctx == tok.encode("Answer:")
    assert cont == tok.encode("Answer: yes")[len(ctx) :]


@pytest.mark.parametrize("batch_size", [1, 2, 8])
def test_loglikelihoods_match_hand_computation(tiny: tuple[Any, Any], batch_size: int) -> None:
    model, tok = tiny
    got = loglikelihoods(model, tok, REQUESTS, batch_size=batch_size)
    for req, scores in zip(REQUESTS, got, strict=True):
        assert len(scores) == len(req.targets)
        for cont, (ll, greedy) in zip(req.continuations, scores, strict=True):
            want_ll, want_greedy = hand_loglik(model, tok, req.context, cont)
            assert ll == pytest.approx(want_ll, abs=1e-4)
            assert greedy == want_greedy
            assert ll < 0


def test_acc_norm_divides_by_characters() -> None:
    # lm-eval: acc = argmax(ll); acc_norm = argmax(ll / len(target)), len in characters
    got = mcq_metrics([-10.0, -12.0], ["ab", "abcdefgh"], gold=1)
    assert got == {"pred": 0, "pred_norm": 1, "acc": 0.0, "acc_norm": 1.0}
    got = mcq_metrics([-6.0, -6.0, -9.0], ["é", "e", "xyz"], gold=0)  # ties: first; chars != bytes
    assert got["pred"] == 0 and got["pred_norm"] == 2 and got["acc"] == 1.0


def test_generated_letter() -> None:
    choices = ["Femur", "Sternum", "Radius", "Scapula"]
    assert letter_metrics("The sternum is axial.\nAnswer: B", choices, "B") == {
        "pred_letter": "B",
        "acc_gen": 1.0,
    }
    assert letter_metrics("Answer: Radius", choices, "B")["pred_letter"] == "C"
    assert letter_metrics("I am not sure.", choices, "B") == {"pred_letter": None, "acc_gen": 0.0}
