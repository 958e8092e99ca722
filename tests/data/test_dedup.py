"""Exact dedup, MinHash/LSH near-dup detection, n-gram decontamination."""

from __future__ import annotations

import random

import numpy as np
import pytest

from balancedbio.data.decontam import Decontaminator
from balancedbio.data.dedup import (
    ExactDedup,
    MinHasher,
    NearDupIndex,
    default_text,
    normalize,
    optimal_bands,
    text_hash,
)

_RNG = random.Random(0)
VOCAB = [
    "".join(_RNG.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(_RNG.randint(3, 9)))
    for _ in range(3000)
]


def words(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(VOCAB) for _ in range(n)]


def test_normalize_and_exact_dedup() -> None:
    assert normalize("  Fever,  and\tCOUGH!! ") == "fever and cough"
    assert text_hash("Fever and cough.") == text_hash("fever AND cough")
    assert text_hash("fever and cough") != text_hash("fever or cough")
    dedup = ExactDedup()
    assert dedup.add("a", "Which gene causes Marfan syndrome?") is None
    assert dedup.add("b", "which gene causes marfan syndrome") == "a"
    assert dedup.add("c", "Which gene causes Marfan syndrome? FBN1") is None
    assert dedup.add("d", "WHICH gene causes -- Marfan syndrome ?") == "a"
    assert len(dedup) == 2


def test_default_text_joins_messages_and_answer() -> None:
    item = {
        "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Q?"}],
        "answer": "B",
    }
    assert default_text(item) == "Be brief.\nQ?\nB"
    assert default_text({"prompt": "Q?", "completion": "yes"}) == "Q?\nyes"
    dedup = ExactDedup()
    assert dedup.add_item("1", item) is None
    assert dedup.add_item("2", {**item, "answer": "b."}) == "1"
    assert dedup.add_item("3", {**item, "answer": "C"}) is None


def test_bands_for_threshold_0_8() -> None:
    assert optimal_bands(0.8, 128) == (9, 13)
    b, r = optimal_bands(0.5, 128)
    assert b * r <= 128 and r < 13


def test_one_changed_word_in_a_long_text_is_caught() -> None:
    index = NearDupIndex(threshold=0.8)
    base = words(200, 1)
    assert index.add("orig", " ".join(base)) is None
    changed = list(base)
    changed[97] = "zzzzzz"
    assert index.add("copy", " ".join(changed)) == "orig"
    hit = index.query(" ".join(changed).upper())
    assert hit is not None and hit[0] == "orig" and hit[1] >= 0.8
    assert len(index) == 1  # duplicates are not indexed


def test_unrelated_and_half_overlapping_texts_are_kept() -> None:
    index = NearDupIndex(threshold=0.8)
    for i in range(200):
        assert index.add(f"t{i}", " ".join(words(60, 100 + i))) is None
    base = words(100, 5000)
    assert index.add("base", " ".join(base)) is None
    half = base[:50] + words(50, 5001)  # Jaccard of 5-gram shingles ~ 0.3
    assert index.add("half", " ".join(half)) is None
    assert len(index) == 202


def test_short_texts_use_whole_text_shingle() -> None:
    index = NearDupIndex()
    assert index.add("a", "Marfan syndrome") is None
    assert index.add("b", "marfan syndrome!") == "a"
    assert index.add("c", "Turner syndrome") is None


def test_minhash_is_deterministic_per_seed() -> None:
    text = " ".join(words(80, 9))
    a, b, c = MinHasher(seed=3), MinHasher(seed=3), MinHasher(seed=4)
    assert np.array_equal(a.signature(text), b.signature(text))
    assert not np.array_equal(a.signature(text), c.signature(text))
    runs = []
    for _ in range(2):
        index = NearDupIndex(seed=11)
        base = words(150, 21)
        texts = [" ".join(base[:i] + ["x"] + base[i + 1 :]) for i in range(0, 150, 10)]
        runs.append([index.add(str(i), t) for i, t in enumerate(texts)])
    assert runs[0] == runs[1] and runs[0][0] is None
    assert sum(r is not None for r in runs[0]) >= 10  # 2 words apart: Jaccard ~0.87


# --------------------------------------------------------------------------- decontamination

EVAL = "A 45-year-old man presents with crushing chest pain radiating to the left arm and jaw."
# normalized: a 45 year old man presents with crushing chest pain radiating to the left arm
# and jaw  (18 tokens)


def test_shared_13_gram_is_contamination() -> None:
    deco = Decontaminator([EVAL], n=13)
    toks = normalize(EVAL).split()
    inside = "Case: " + " ".join(toks[2:15]) + " -- what next?"
    hit, gram = deco.is_contaminated(inside)
    assert hit and gram == " ".join(toks[2:15])
    twelve = "Case: " + " ".join(toks[2:14]) + " -- what next?"
    assert deco.is_contaminated(twelve) == (False, None)
    assert deco.is_contaminated(EVAL.upper().replace(" ", "  "))[0]
    assert not deco.is_contaminated("Chest pain radiating to the jaw suggests angina.")[0]


def test_n_boundaries() -> None:
    text = " ".join(words(13, 77))
    deco = Decontaminator([text], n=13)
    assert deco.is_contaminated(text) == (True, normalize(text))
    assert not Decontaminator([text], n=14).is_contaminated(text)[0]  # eval text too short
    assert not deco.is_contaminated(" ".join(text.split()[:12]))[0]  # item too short


def test_short_n_covers_short_eval_texts_and_short_items() -> None:
    question = "Which gene is mutated in Marfan syndrome?"  # 7 tokens
    item = "Recall from class: which gene is mutated in Marfan syndrome? Explain in detail now."
    assert not Decontaminator([question], n=13).is_contaminated(item)[0]
    deco = Decontaminator([question, EVAL], n=13, short_n=6)
    hit, gram = deco.is_contaminated(item)
    assert hit and gram == "which gene is mutated in marfan"
    # a short item against a long eval text uses short_n too
    assert deco.is_contaminated("man presents with crushing chest pain")[0]
    assert not deco.is_contaminated("man presents with mild chest pain")[0]
    # long item, long eval: still n-grams only (a shared 6-gram of a long eval is not enough)
    long_item = "we saw a man presents with crushing chest pain and then " + " ".join(words(20, 3))
    assert not deco.is_contaminated(long_item)[0]


def test_bad_parameters() -> None:
    with pytest.raises(ValueError):
        Decontaminator([], n=13, short_n=13)
    with pytest.raises(ValueError):
        NearDupIndex(threshold=0)
    with pytest.raises(ValueError):
        NearDupIndex(num_perm=16, bands=(4, 5))


def _texts(n: int, seed: int) -> list[str]:
    """Varied texts: short, long, repeated n-grams, punctuation, case, non-ASCII, empty."""
    rng = random.Random(seed)
    extra = ["Ünïcödé", "ﬁnal", "Straße", "½ dose", "naïve", "—", "!!", "Ⅻ", "ǅ", "\u00a0", "\t"]
    out = ["", " ", "?!", "one", "two words", "a b c d", "a b c d e", "a b c d e f"]
    for _ in range(n):
        pool = VOCAB[: rng.choice([5, 50, 3000])]  # small pools repeat n-grams
        toks = [rng.choice(pool) for _ in range(rng.randint(1, 120))]
        for k in range(len(toks)):
            roll = rng.random()
            if roll < 0.05:
                toks[k] = toks[k].upper() + rng.choice([",", ".", "?", ")", ""])
            elif roll < 0.08:
                toks[k] = rng.choice(extra)
        out.append(rng.choice([" ", "  ", "\n"]).join(toks))
    return out


def _reference_normalize(text: str) -> str:
    import re
    import unicodedata

    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(" " if unicodedata.category(c).startswith(("P", "S")) else c for c in text)
    return re.sub(r"\s+", " ", text).strip()


def test_normalize_matches_its_definition() -> None:
    for text in _texts(300, seed=11):
        assert normalize.__wrapped__(text) == _reference_normalize(text), text


def _plain_signature(hasher: MinHasher, text: str) -> list[int]:
    """The signature by its definition, in Python integers."""
    import xxhash

    mask = (1 << 64) - 1

    def mix(h: int) -> int:  # splitmix64's finalizer
        h ^= h >> 30
        h = (h * 0xBF58476D1CE4E5B9) & mask
        h ^= h >> 27
        h = (h * 0x94D049BB133111EB) & mask
        return h ^ (h >> 31)

    words = [w.encode() for w in normalize(text).split()] or [b""]
    v = [xxhash.xxh3_64_intdigest(w, hasher.seed) for w in words]
    n = min(hasher.ngram, len(v))
    xs = {
        mix(sum(c * v[i + k] for k, c in enumerate(hasher.coef[:n])) & mask) >> 32
        for i in range(len(v) - n + 1)
    }
    a, b = hasher.a.tolist(), hasher.b.tolist()
    return [min((ai * x + bi) & mask for x in xs) for ai, bi in zip(a, b, strict=True)]


def test_minhash_signature_equals_its_definition() -> None:
    """min over distinct shingles x of (a*x + b) mod 2**64, x the mixed word combination."""
    hasher = MinHasher(num_perm=32, ngram=5, seed=3)
    for text in _texts(300, seed=12):
        assert hasher.signature(text).tolist() == _plain_signature(hasher, text), text
        assert len(hasher.shingles(text)) <= max(len(normalize(text).split()) - 4, 1)


MCQ = (
    "Which of the following clinical features is annotated to {} in the Human Phenotype "
    "Ontology?\nA. {}\nB. {}\nC. {}\nD. {}\n{}\n{} is characterized by {}.\nAnswer: {}"
)


def test_shared_template_alone_is_not_a_near_duplicate() -> None:
    """Two generated MCQs sharing only their template (true Jaccard 0.10) were once
    estimated 0.96 alike: permutations (a*x + b) mod (2**61 - 1) with a, x < 2**32 wrap
    at most 7 times, so all of them favoured the same small shingle hashes."""
    disease = "Primary peritoneal carcinoma"
    first = MCQ.format(
        disease, "Decreased circulating vitamin E concentration", "Dyspareunia",
        "Peritonitis", "Bacteremia", "C", disease, "peritonitis", "C",
    )  # fmt: skip
    disease = (
        "Primary biliary cholangitis/primary sclerosing cholangitis and autoimmune hepatitis"
        " overlap syndrome"
    )
    second = MCQ.format(
        disease, "Sacroiliac arthritis", "Hemiplegia", "Abnormal CNS myelination",
        "Anti-Kelch like protein 12 antibody positivity", "D", disease,
        "Anti-Kelch like protein 12 antibody positivity", "D",
    )  # fmt: skip
    for seed in range(4):
        hasher = MinHasher(seed=seed)
        assert float(np.mean(hasher.signature(first) == hasher.signature(second))) < 0.3
        index = NearDupIndex(threshold=0.85, seed=seed)
        assert index.add("first", first) is None and index.add("second", second) is None


def test_estimated_jaccard_is_close_to_the_true_one() -> None:
    hasher, errors = MinHasher(seed=5), []
    for i in range(200):
        base = words(60, 3000 + i)
        other = list(base)
        for k in random.Random(i).sample(range(60), i % 12):
            other[k] = f"zz{k}"
        grams = [{tuple(t[j : j + 5]) for j in range(56)} for t in (base, other)]
        true = len(grams[0] & grams[1]) / len(grams[0] | grams[1])
        sig = [hasher.signature(" ".join(t)) for t in (base, other)]
        errors.append(float(np.mean(sig[0] == sig[1])) - true)
    assert abs(np.mean(errors)) < 0.01 and np.mean(np.abs(errors)) < 0.04


def test_decontaminator_short_ascii_shortcut_agrees_with_tokens() -> None:
    deco = Decontaminator([" ".join(words(13, 9))], n=13)
    for text in _texts(200, seed=13):
        for seg in (text[:24], text[:25], text):
            full = len(normalize(seg).split()) >= 13 and deco.check(seg) is not None
            assert (deco.check(seg) is not None) == full


def test_fresh_tokens_equal_tokens() -> None:
    import random

    from balancedbio.data.dedup import _fresh_tokens, tokens

    rng = random.Random(0)
    alphabet = "aB9 _-.,;:'\"\t\n\x0b\x0c\x1c\x1f()[]$%é İ\u00a0ﬁ"
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert _fresh_tokens(text) == tokens(text), text


def test_utf8_words_are_the_encoded_normalized_words() -> None:
    import xxhash

    from balancedbio.data.dedup import _utf8_words

    rng = random.Random(1)
    alphabet = "aB9 _-.,;:'\"\t\n\x0b\x0c\x1c\x1d\x1e\x1f()[]$%é İ\u00a0ﬁ"
    texts = _texts(200, seed=14)
    texts += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(2000)]
    for text in texts:
        want = [w.encode() for w in normalize(text).split()]
        assert list(_utf8_words.__wrapped__(text)) == want, text
        assert text_hash(text) == xxhash.xxh3_128_hexdigest(normalize(text).encode())


def test_decontaminator_memo_follows_new_eval_texts() -> None:
    text = " ".join(words(20, 31))
    deco = Decontaminator([" ".join(words(13, 30))], n=13)
    assert deco.check(text) is None and deco.check(text) is None  # second from the memo
    deco.add_eval(text)
    hit = deco.check(text)
    assert hit is not None and hit.n == 13 and deco.check(text) == hit


def test_strip_punct_equals_the_per_character_table() -> None:
    from balancedbio.data.dedup import _PUNCT_TABLE, _strip_punct

    for text in [*_texts(200, seed=15), "a\ud800b, ﬁ—x\x1c\x1f"]:
        want = text.translate(_PUNCT_TABLE)
        assert _strip_punct(text).split() == want.split(), text


def test_utf8_words_many_equal_the_words_of_each_text() -> None:
    from balancedbio.data.dedup import _utf8_words, utf8_words_many

    texts = [*_texts(200, seed=16), "a\x00b c", "\x00", "NUL \x00 in", "Ünï", ""]
    random.Random(2).shuffle(texts)
    for chunk in ([], texts[:1], texts[:7], texts, [t for t in texts if t.isascii()]):
        want = [list(_utf8_words.__wrapped__(t)) for t in chunk]
        assert [list(w) for w in utf8_words_many(chunk)] == want


def test_batched_signatures_equal_one_by_one() -> None:
    from balancedbio.data.dedup import utf8_words_many

    texts = _texts(150, seed=17)
    for hasher in (MinHasher(num_perm=32, ngram=5, seed=4), MinHasher(num_perm=128, seed=0)):
        for chunk in ([], texts[:1], texts[:8], texts[8:9] * 3, texts):
            sigs = hasher.signatures(utf8_words_many(chunk))
            assert sigs.shape == (len(chunk), hasher.num_perm) and sigs.dtype == np.uint64
            for text, sig in zip(chunk, sigs, strict=True):
                assert sig.tolist() == hasher.signature(text).tolist(), text


def test_separators_bound_the_tokens() -> None:
    """The decontaminator skips ASCII texts with under n - 1 separators: fewer than n tokens."""
    from balancedbio.data.decontam import _separators
    from balancedbio.data.dedup import tokens

    rng = random.Random(3)
    alphabet = "aB9 _-.,;:'\"\t\n\x0b\x0c\x1c\x1d\x1e\x1f()[]$%"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))
        assert len(tokens(text)) <= len(_separators(text)) + 1, text
    eval_text = "a-b-c-d-e-f-g-h-i-j-k-l-m"
    deco = Decontaminator([eval_text], n=13)
    assert deco.check(eval_text.upper()) is not None
    assert deco.check(eval_text.replace("-", "", 1)) is None


def test_check_lines_equals_the_first_hit_of_check_per_line() -> None:
    rng = random.Random(6)
    evals = [" ".join(words(rng.randint(10, 30), 40 + k)) for k in range(20)]
    texts = []
    for k in range(300):
        lines = []
        for _ in range(rng.randint(1, 6)):
            roll = rng.random()
            if roll < 0.3:  # a piece of an eval text, maybe with case and punctuation
                toks = rng.choice(evals).split()
                start = rng.randrange(len(toks))
                piece = toks[start : start + rng.randint(5, 20)]
                line = rng.choice([" ", ", ", " - ", "\t"]).join(piece)
                lines.append(line.upper() if rng.random() < 0.2 else line)
            elif roll < 0.4:
                lines.append(rng.choice(["", "  ", "é " * 14, "\x1c".join(words(14, k))]))
            else:
                lines.append(" ".join(words(rng.randint(1, 30), 1000 + k)))
        texts.append("\n".join(lines))
    for deco in (Decontaminator(evals, n=13), Decontaminator(evals, n=8, short_n=5)):
        want = [next(filter(None, map(deco.check, t.split("\n"))), None) for t in texts]
        assert any(want) and not all(want)
        assert deco.check_lines(texts) == want
        assert deco.check_lines([]) == []
