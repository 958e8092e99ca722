"""IFEval conformance cases for the format, combination, case and punctuation instructions."""

from __future__ import annotations

import json
import random

from ifeval_case_kit import Case, around, make_case, medical_body, threshold_near, wrap
from ifeval_texts import EN_SENTENCES, FOREIGN, NO_COMMA_SENTENCES, PROMPTS, UPPER_WORDS

from balancedbio.rewards.ifeval import _text


def _bullets(rng: random.Random, n: int) -> str:
    styles = ["* ", "- ", "  * ", "*", "-", "  - "]
    return "\n".join(f"{rng.choice(styles)}{s}" for s in rng.sample(EN_SENTENCES, n))


def gen_format(rng: random.Random) -> list[Case]:
    out = []
    for i in range(26):
        n = rng.randint(1, 5)
        text = _bullets(rng, n)
        if i % 5 == 1:
            text = f"- Here are the points:\n{text}"
        elif i % 5 == 2:
            text += "\n** not a bullet\n1. numbered\n---"
        elif i % 5 == 3:
            text = wrap(rng, text, 3)
        kwargs = {"num_bullets": rng.choice(around(n))}
        out.append(make_case(rng, "detectable_format:number_bullet_lists", kwargs, text))
    answers = [
        "My answer is yes.",
        "My answer is no.",
        "My answer is maybe.",
        "my answer is yes.",
        "My answer is Yes.",
        "My answer is yes",
        "**My answer is no.**",
        "Yes.",
    ]
    for i, ans in enumerate(answers * 3):
        text = [ans, f"{medical_body(rng, 1)} {ans}", f"{ans}\n{medical_body(rng, 1)}"][
            i // len(answers)
        ]
        out.append(make_case(rng, "detectable_format:constrained_response", {}, text))
    marks = ["*key point*", "**bold point**", "* *", "**", "*risk*", "***triple***", "*a\nb*"]
    for _ in range(24):
        n = rng.randint(0, 4)
        parts = [medical_body(rng, 1)] + [rng.choice(marks) for _ in range(n)]
        rng.shuffle(parts)
        kwargs = {"num_highlights": rng.choice(around(max(n, 1)))}
        out.append(
            make_case(rng, "detectable_format:number_highlighted_sections", kwargs, " ".join(parts))
        )
    for i in range(26):
        k = rng.randint(1, 4)
        word = ["Section", "SECTION", "section"][i % 3]
        fmt = ["{w} {j}\n{b}", "{w} {j}: {b}", "{w}{j}\n{b}", "**{w} {j}**\n{b}"][i % 4]
        text = "\n\n".join(fmt.format(w=word, j=j + 1, b=medical_body(rng, 1)) for j in range(k))
        kwargs = {
            "section_spliter": [" Section ", "SECTION", "Section"][i % 3 if i % 4 else 0],
            "num_sections": rng.choice(around(k)),
        }
        out.append(make_case(rng, "detectable_format:multiple_sections", kwargs, wrap(rng, text)))
    obj = json.dumps({"condition": "asthma", "symptoms": ["cough", "wheeze"], "dose_mg": 2.5})
    jsons = [
        obj,
        f"```json\n{obj}\n```",
        f"```JSON\n{obj}\n```",
        f"```Json\n{obj}\n```",
        f"```\n{obj}\n```",
        f"Here is the JSON:\n```json\n{obj}\n```",
        f"```json\n{obj}\n```\nHope this helps.",
        "{'condition': 'asthma'}",
        '{"a": 1,}',
        "42",
        f"Result: {obj}",
        "```json\n```",
        f"  {obj}  \n",
        f"**```json\n{obj}\n```**",
    ]
    out += [make_case(rng, "detectable_format:json_format", {}, t) for t in jsons]
    titles = [
        "<<Managing Diabetes>>\n",
        "<< >>\n",
        "<<Title\nbroken>>\n",
        "",
        "<<<Asthma>>>\n",
        "Intro\n<<Heart Health>>\n",
        "<<*Sleep*>>\n",
        "<< Flu >> ",
    ]
    for i, t in enumerate(titles * 2):
        text = f"{t}{medical_body(rng, 2)}" if i < len(titles) else f"{medical_body(rng, 2)}\n{t}"
        out.append(make_case(rng, "detectable_format:title", {}, text))
    return out


def gen_combination(rng: random.Random) -> list[Case]:
    out = []
    a, b = medical_body(rng, 2), medical_body(rng, 2)
    two = [
        f"{a}\n******\n{b}",
        f"{a}\n******\n{a}",
        f"{a}\n******\n{b}\n******\n{a}",
        f"******\n{a}\n******\n{b}\n******",
        f"{a}\n******\n******\n{b}",
        f"{a}\n*******\n{b}",
        f"{a}",
        f"{a} ****** {b}",
        f"Intro\n{a}\n******\n{b}",
        f"{a}\n******\n{b}\nOutro ******",
        f"{a}\n******\n  {a}  ",
        f"**{a}**\n******\n{b}",
    ]
    out += [make_case(rng, "combination:two_responses", {}, t) for t in two]
    for i in range(22):
        p = rng.choice(PROMPTS)
        body = medical_body(rng, 2)
        variants = [
            f"{p}\n{body}",
            f"{p.lower()} {body}",
            f"Sure! {p}\n{body}",
            f"Sure!\n{p}\n{body}",
            f"{body}",
            f"  {p.upper()}\n\n{body}",
            f"**{p}**\n{body}",
        ]
        case = make_case(
            rng, "combination:repeat_prompt", {"prompt_to_repeat": p}, variants[i % len(variants)]
        )
        case["prompt"] = f"{p} First repeat the request word for word without change."
        out.append(case)
    ends = ["Any other questions?", "Is there anything else I can help with?", " Stay safe. "]
    for i in range(24):
        end = ends[i % 3]
        body = medical_body(rng, 2)
        variants = [
            f"{body} {end.strip()}",
            f'"{body} {end.strip()}"',
            f"{body} {end.lower()}",
            f"{body} {end.strip()}\nThanks!",
            f"{body}",
            f"{body} {end.strip()}  \n\n",
            f"{body} **{end.strip()}**",
            f"{body} {end.strip().rstrip('?.')}",
        ]
        out.append(
            make_case(rng, "startend:end_checker", {"end_phrase": end}, variants[i % len(variants)])
        )
    return out


def gen_case_punct(rng: random.Random) -> list[Case]:
    out = []
    for i in range(26):
        k = rng.randint(0, 5)
        words = medical_body(rng, 2).split(" ")
        for w in rng.sample(UPPER_WORDS, k):
            words.insert(rng.randrange(len(words) + 1), w)
        text = wrap(rng, " ".join(words), rng.choice([0, 1, 2]))
        near = threshold_near(i, sum(w.isupper() for w in _text.word_tokenize(text)))
        kwargs = {"capital_frequency": near["n"], "capital_relation": near["relation"]}
        out.append(make_case(rng, "change_case:capital_word_frequency", kwargs, text))
    for i in range(14):
        body = medical_body(rng, 2)
        upper = [
            body.upper(),
            f"Sure:\n{body.upper()}",
            FOREIGN["fr"].upper(),
            body,
            "123 - 456",
            f"{body.upper()}\nThanks",
            body.upper().replace("E", "e", 1),
        ]
        out.append(make_case(rng, "change_case:english_capital", {}, upper[i % len(upper)]))
    for i in range(14):
        body = medical_body(rng, 2)
        lower = [
            body.lower(),
            f"Sure:\n{body.lower()}",
            FOREIGN["es"].lower(),
            body,
            "123 - 456",
            f"{body.lower()}\nThanks",
            f"**{body.lower()}**",
        ]
        out.append(make_case(rng, "change_case:english_lowercase", {}, lower[i % len(lower)]))
    for i in range(20):
        body = medical_body(rng, 2, NO_COMMA_SENTENCES)
        texts = [
            body,
            f"{body} Also, rest.",
            f"Sure, here goes:\n{body}",
            f"{body}\nBye, now",
            f"{medical_body(rng, 2)}",
        ]
        out.append(make_case(rng, "punctuation:no_comma", {}, texts[i % len(texts)]))
    for i in range(20):
        body = medical_body(rng, 2)
        texts = [
            f'"{body}"',
            f'  "{body}"\n',
            '"',
            '""',
            f"“{body}”",
            f"'{body}'",
            f'Here you go:\n"{body}"',
            f'"{body}"\nThanks',
            f'"{body}',
            f'*"{body}"*',
        ]
        out.append(make_case(rng, "startend:quotation", {}, texts[i % len(texts)]))
    return out
