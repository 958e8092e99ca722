"""Batched generation: input order kept, unstripped text, plain prompts without a template."""

from __future__ import annotations

import copy
from typing import Any

from balancedbio.eval.generation import generate_batched


def test_order_and_plain_fallback(tiny: tuple[Any, Any]) -> None:
    model, tok = tiny
    convs = [
        [{"role": "user", "content": "Hi"}],
        [{"role": "user", "content": "A much longer prompt about the anatomy of the heart."}],
        [{"role": "user", "content": "Name a bone."}],
    ]
    single = [generate_batched(model, tok, [c], max_new_tokens=4)[0] for c in convs]
    # one per batch (no padding): the length-sorted run returns each reply in input order
    assert generate_batched(model, tok, convs, max_new_tokens=4, batch_size=1) == single
    batched = generate_batched(model, tok, convs, max_new_tokens=4, batch_size=2)
    assert len(batched) == 3 and all(isinstance(t, str) for t in batched)
    plain = copy.copy(tok)
    plain.chat_template = None
    assert len(generate_batched(model, plain, convs, max_new_tokens=3, batch_size=3)) == 3
