"""Seeded generator of IFEval conformance cases on medical responses.

Every instruction type gets responses built from templates around its decision boundary
(counts exactly at the limit and +-1, both relations), wrapped so that the loose variants
matter (an intro line, an outro line, ``*`` markup), plus a few multi-instruction rows in
the IFEval dataset's kwargs format (every key present, ``None`` where unused).
Hand-written edge cases live in ``data/ifeval_edge_cases.jsonl``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ifeval_case_kit import REL, Case, around, make_case, medical_body, threshold_near, wrap
from ifeval_cases_format import gen_case_punct, gen_combination, gen_format
from ifeval_texts import (
    EN_SENTENCES,
    FOREIGN,
    KEYWORDS,
)

from balancedbio.rewards.ifeval import _text

EDGE_CASES = Path(__file__).parent / "data" / "ifeval_edge_cases.jsonl"


def gen_keywords(rng: random.Random) -> list[Case]:
    out = []
    for i in range(22):
        a, b = rng.sample(KEYWORDS, 2)
        body = medical_body(rng, 2)
        mode = i % 6
        if mode == 0:
            text = f"{body} Discuss {a} and {b.upper()} with your doctor."
        elif mode == 1:
            text = f"{body} Ask about {a}."
        elif mode == 2:
            text = " ".join(s for s in EN_SENTENCES[:6] if a not in s.lower())
        elif mode == 3:
            text = f"{body} Monitor {a[:2]}*{a[2:]} and {b}."
        elif mode == 4:
            text = f"Regarding {a}:\n{body} Also {b}."
        else:
            text = f"{body}\n{b}"
        out.append(make_case(rng, "keywords:existence", {"keywords": [a, b]}, wrap(rng, text)))
    for i in range(24):
        kw = rng.choice(KEYWORDS)
        n = rng.randint(0, 4)
        parts = [f"Think about {kw} carefully." for _ in range(n)] + [medical_body(rng, 2)]
        rng.shuffle(parts)
        text = " ".join(parts)
        if i % 4 == 0:
            text = f"On {kw}:\n{text}"
        freq = rng.choice(around(max(n, 1)))
        kwargs = {"keyword": kw, "frequency": freq, "relation": REL[i % 2]}
        out.append(make_case(rng, "keywords:frequency", kwargs, wrap(rng, text)))
    for i in range(22):
        words = rng.sample(["pain", "fever", "insulin", "drug", "risk", "cold", "dose"], 2)
        clean = [s for s in EN_SENTENCES if not any(w in s.lower() for w in words)]
        body = " ".join(rng.sample(clean, 3))
        mode = i % 5
        if mode == 1:
            body += f" The {words[0]} is relevant."
        elif mode == 2:
            body += f" It was {words[0]}ful and {words[1]}s-related."
        elif mode == 3:
            body = f"About {words[1].upper()}:\n{body}"
        elif mode == 4:
            body = f"{body}\nNo {words[0]} today."
        kwargs = {"forbidden_words": words + ([words[0]] if i % 3 == 0 else [])}
        out.append(make_case(rng, "keywords:forbidden_words", kwargs, body))
    for i in range(22):
        letter = rng.choice("aeioustnrlzq")
        text = wrap(rng, medical_body(rng, rng.randint(1, 3)))
        count = text.lower().count(letter)
        kwargs = {
            "letter": letter.upper() if i % 5 == 0 else letter,
            "let_frequency": rng.choice(around(max(count, 1))),
            "let_relation": REL[i % 2],
        }
        out.append(make_case(rng, "keywords:letter_frequency", kwargs, text))
    return out


def gen_language(rng: random.Random) -> list[Case]:
    out = []
    iid = "language:response_language"
    for lang, text in FOREIGN.items():
        out.append(make_case(rng, iid, {"language": lang}, text))
        out.append(make_case(rng, iid, {"language": "en"}, text))
    for i in range(6):
        text = wrap(rng, medical_body(rng, 3))
        out.append(make_case(rng, iid, {"language": "en" if i % 2 else "fr"}, text))
    mixed = [
        ("fr", f"Sure, here is the answer in French:\n{FOREIGN['fr']}"),
        ("es", f"{FOREIGN['es']}\nLet me know if you need an English version."),
        ("de", f"Here you go.\n{FOREIGN['de']}\nAnything else?"),
        ("en", f"{medical_body(rng, 1)}\n{FOREIGN['it']}"),
        ("en", "12345 678 90"),
        ("en", "*** --- ***"),
        ("hi", f"Answer:\n{FOREIGN['hi']}"),
        ("ru", "COVID-19"),
    ]
    out += [make_case(rng, iid, {"language": lang}, text) for lang, text in mixed]
    return out


_SENTENCE_MODS: tuple[Callable[[str], str], ...] = (
    lambda s: s + " ...",
    lambda s: s.replace(". ", "... ", 1),
    lambda s: s.replace("!", "!!").replace("?", " ?") + " Really ?!",
    lambda s: "“" + s.replace(". ", ".” “", 1) + "”",
    lambda s: "‘" + s + "’ ... (see above).",
)


def gen_length(rng: random.Random) -> list[Case]:
    out = []
    for i in range(36):
        n = rng.randint(1, 6)
        text = medical_body(rng, n)
        if i % 3 == 0:
            text = "\n".join(f"- {s}" for s in rng.sample(EN_SENTENCES, n))
        elif i % 3 == 1:  # punctuation where Punkt implementations disagree
            text = rng.choice(_SENTENCE_MODS)(text)
        text = wrap(rng, text)
        near = threshold_near(i, _text.count_sentences(text))
        kwargs = {"num_sentences": near["n"], "relation": near["relation"]}
        out.append(make_case(rng, "length_constraints:number_sentences", kwargs, text))
    seps = ["\n\n***\n\n", "\n***\n", " *** ", "***", "\n\n****\n\n", "\n* * *\n"]
    for i in range(26):
        k = rng.randint(1, 4)
        paragraphs = [medical_body(rng, rng.randint(1, 2)) for _ in range(k)]
        text = rng.choice(seps).join(paragraphs)
        if i % 6 == 1:
            text = f"***\n{text}\n***"
        elif i % 6 == 2 and k > 1:
            text = text.replace(paragraphs[1], "", 1)
        elif i % 6 == 3:
            text = wrap(rng, text, 3)
        kwargs = {"num_paragraphs": rng.choice(around(k))}
        out.append(make_case(rng, "length_constraints:number_paragraphs", kwargs, text))
    for i in range(30):
        text = wrap(rng, medical_body(rng, rng.randint(1, 4)))
        if i % 5 == 0:
            text += " naïve-users' 3.5mg café_au_lait"
        near = threshold_near(i, _text.count_words(text))
        kwargs = {"num_words": near["n"], "relation": near["relation"]}
        out.append(make_case(rng, "length_constraints:number_words", kwargs, text))
    starts = ["Insulin", '"Insulin', "Insulin,", "'insulin'", "**Insulin**", "INSULIN.", "Insulins"]
    for i in range(28):
        k = rng.randint(1, 4)
        nth = rng.randint(1, k)
        paragraphs = [medical_body(rng, 1) for _ in range(k)]
        paragraphs[nth - 1] = f"{rng.choice(starts)} {paragraphs[nth - 1]}"
        sep = "\n\n\n\n" if i % 7 == 3 else "\n\n"
        text = sep.join(paragraphs) + ("\n\n" if i % 5 == 4 else "")
        if i % 6 == 5:
            text = f"Intro line\n{text}"
        kwargs = {
            "num_paragraphs": k if i % 4 else max(nth, rng.choice(around(k))),
            "nth_paragraph": nth,
            "first_word": "Insulin" if i % 3 == 0 else "insulin",
        }
        out.append(make_case(rng, "length_constraints:nth_paragraph_first_word", kwargs, text))
    return out


def gen_content(rng: random.Random) -> list[Case]:
    out = []
    fills = ["[patient name]", "[date]", "[dose]", "[ ]", "[[clinic]]", "[]", "[phone"]
    for _ in range(24):
        n = rng.randint(0, 4)
        items = rng.sample(fills, n)
        text = f"Dear {' and '.join(items) or 'patient'}, {medical_body(rng, 1)}"
        kwargs = {"num_placeholders": rng.choice(around(max(n, 1)))}
        out.append(
            make_case(rng, "detectable_content:number_placeholders", kwargs, wrap(rng, text))
        )
    tails = [
        "P.S. Take it with food.",
        "p.s. rest well.",
        "P. S. drink water.",
        "PS call us.",
        "P.P.S Bring your records.",
        "P.P.S. Bring a list.",
        "p. p. s see you.",
        "Note: fasting is needed.",
        "",
        "Postscript: none.",
    ]
    for i in range(26):
        tail = tails[i % len(tails)]
        text = f"{medical_body(rng, 2)}\n\n{tail}" if tail else medical_body(rng, 2)
        marker = ["P.S.", "P.P.S", " P.S. ", "Note:", "P.P.S"][i % 5]
        out.append(
            make_case(
                rng,
                "detectable_content:postscript",
                {"postscript_marker": marker},
                wrap(rng, text, rng.choice([0, 1, 4])),
            )
        )
    return out


GENERATORS: tuple[Callable[[random.Random], list[Case]], ...] = (
    gen_keywords, gen_language, gen_length, gen_content, gen_format, gen_combination,
    gen_case_punct,
)  # fmt: skip


def _dataset_style(kwargs_list: list[dict[str, Any]], all_keys: list[str]) -> list[dict]:
    """IFEval rows carry every kwarg name, ``None`` where an instruction does not use it."""
    return [{k: kw.get(k) for k in all_keys} | kw for kw in kwargs_list]


def multi_instruction(rng: random.Random, singles: list[Case], n: int) -> list[Case]:
    all_keys = sorted({k for c in singles for kw in c["kwargs"] for k in kw})
    out = []
    for i in range(n):
        base, *others = rng.sample(singles, rng.randint(2, 3))
        ids = base["instruction_id_list"] + [o["instruction_id_list"][0] for o in others]
        if len(set(ids)) < len(ids):
            continue
        kwargs = base["kwargs"] + [o["kwargs"][0] for o in others]
        if i % 2:
            kwargs = _dataset_style(kwargs, all_keys)
        out.append(dict(base, instruction_id_list=ids, kwargs=kwargs))
    return out


def edge_cases() -> list[Case]:
    with EDGE_CASES.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def generate_cases(seed: int = 1234) -> list[Case]:
    """All conformance cases: generated singles, multi-instruction rows, hand-written edges."""
    rng = random.Random(seed)
    singles = [case for gen in GENERATORS for case in gen(rng)]
    return singles + multi_instruction(rng, singles, 80) + edge_cases()
