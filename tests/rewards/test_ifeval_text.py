"""Text primitives against NLTK / lm-eval / langdetect, on fuzzed and multilingual text."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ifeval_reference import load_reference  # noqa: E402
from ifeval_texts import EN_SENTENCES, FOREIGN, PIECES  # noqa: E402

from balancedbio.rewards.ifeval import LANGDETECT_SEED, _text  # noqa: E402


def _fuzz(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = [" ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 30))) for _ in range(n)]
    texts += [" ".join(rng.sample(EN_SENTENCES, 4)) for _ in range(n // 10)]
    return texts + list(FOREIGN.values())


@pytest.fixture(scope="module", autouse=True)
def _reference_data() -> None:
    load_reference()  # puts the punkt_tab files on nltk.data.path


def test_punkt_parameters_equal_nltk_punkt_tab_files() -> None:
    from nltk.tokenize.punkt import PunktTokenizer

    theirs = PunktTokenizer("english")._params
    ours = _text.sentence_tokenizer()._params
    assert ours.abbrev_types == theirs.abbrev_types
    assert ours.collocations == theirs.collocations
    assert ours.sent_starters == theirs.sent_starters
    assert dict(ours.ortho_context) == dict(theirs.ortho_context)
    assert len(ours.abbrev_types) > 100 and len(ours.ortho_context) > 10000


def test_sentences_match_nltk_sent_tokenize() -> None:
    import nltk

    for text in _fuzz(2000, seed=1):
        assert list(_text.split_sentences(text)) == nltk.sent_tokenize(text), text


def test_word_tokens_match_nltk_word_tokenize() -> None:
    import nltk

    for text in _fuzz(1000, seed=2):
        assert list(_text.word_tokenize(text)) == nltk.word_tokenize(text), text


_TB_PIECES = (
    "cannot CanNot can not d'ye D'YE gimme Gonna gotta lemme more'n wanna WANNA 'tis 'Twas tis "
    "it's IT'S I'm he'd we'll they're you've don't DON'T o'clock ' '' `` \" ` « » “ ” ‘ ’ „ . .. "
    "... , : ; @ # $ % & ? ! * ( ) [ ] { } < > -- - \u2012 \u2013 \u2014 \u2015 3.5 1,000 a:b "
    "U.S. Dr. e.g. The WORD ſ \u212a é wan na gon got ta more 'n 'ye 's 'S 'm 'D 'll n't N'T 're"
).split() + ["\t", "\n", "  ", "\u00a0", "\x1c"]


def test_treebank_replica_matches_nltk_word_tokenizer() -> None:
    """Skipped substitutions (absent needles) never change NLTKWordTokenizer's tokens."""
    from nltk.tokenize.destructive import NLTKWordTokenizer

    steps = _text._treebank_steps()
    assert steps is not None
    skippable = [step for phase in steps for step in phase if step[2] or step[3]]
    assert len(skippable) == sum(map(len, steps)) - 1  # all but ``\s+``
    tokenizer, rng = NLTKWordTokenizer(), random.Random(4)
    for _ in range(5000):
        parts = (rng.choice(_TB_PIECES) + rng.choice(["", " ", " ", "\t"]) for _ in range(12))
        text = "".join(parts)[: rng.randint(1, 120)]
        assert _text._treebank_words(text, steps) == tokenizer.tokenize(text), text


def test_word_and_sentence_counts_match_lm_eval_util() -> None:
    util = load_reference().util
    for text in _fuzz(500, seed=3):
        assert _text.count_words(text) == util.count_words(text), text
        assert _text.count_sentences(text) == util.count_sentences(text), text


def test_language_detection_matches_seeded_langdetect() -> None:
    import langdetect
    from langdetect import DetectorFactory

    assert DetectorFactory.seed == LANGDETECT_SEED  # set by load_reference()
    for lang, text in FOREIGN.items():
        assert _text.detect_language(text) == langdetect.detect(text) == lang
    assert _text.detect_language("12345 678") is None
    assert _text.detect_language(EN_SENTENCES[0]) == "en"


def test_ortho_context_is_not_grown_by_reads() -> None:
    params = _text.sentence_tokenizer()._params
    size = len(params.ortho_context)
    _text.split_sentences.cache_clear()
    _text.split_sentences("Zyxwvut qwertyuiop. Asdfghjkl zxcvbnm.")
    assert len(params.ortho_context) == size


def test_fast_punkt_matches_nltk_punkt_with_its_memo_warm_and_cold() -> None:
    """The memoized, timer-free Punkt gives NLTK's sentences, first and repeated reads."""
    fast, plain = _text._fast_sentence_tokenizer(), _text.sentence_tokenizer()
    assert fast is not plain
    texts = _fuzz(1500, seed=5)
    rng = random.Random(6)
    texts += [" ".join(rng.choice(texts[:50]).split()[::-1]) for _ in range(200)]
    for text in texts + texts[::7]:  # the second reads hit contexts memoized by the first
        assert fast.tokenize(text) == plain.tokenize(text), text
    assert fast._breaks


def test_fast_punkt_memo_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, plain = _text._fast_sentence_tokenizer(), _text.sentence_tokenizer()
    monkeypatch.setattr(_text, "_BREAKS_MEMO", 3)
    fast._breaks.clear()
    for text in _fuzz(100, seed=7):
        assert fast.tokenize(text) == plain.tokenize(text), text
        assert len(fast._breaks) <= 3
