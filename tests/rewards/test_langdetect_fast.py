"""The numpy langdetect (``_langdetect.FastDetector``) against langdetect itself, bit for bit."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from ifeval_texts import EN_SENTENCES, FOREIGN, PIECES, UPPER_WORDS  # noqa: E402

from balancedbio.rewards.ifeval import LANGDETECT_SEED, _langdetect, _text  # noqa: E402

pytest.importorskip("langdetect")
from langdetect.lang_detect_exception import LangDetectException  # noqa: E402

SPECIAL = [
    "",
    " ",
    "12345 678",
    "!!! ??? ...",
    "\U0001f600\U0001f600",
    "a",
    "A",
    "Hi",
    "OK",
    "ok",
    "x y z",
    "See https://example.org/a?b=c&d=e#f or mail jane.doe@example.com today",
    "Vie\u0323t Nam la\u0300 mo\u0323\u0302t quo\u0302\u0301c gia",  # Vietnamese, combining marks
    "Việt Nam là một quốc gia ở Đông Nam Á với nền văn hóa phong phú",
    "Această boală afectează ţara şi oraşul; ș ț Ș Ț",  # Romanian comma/cedilla
    "این یک متن فارسی است که ی دارد",  # Farsi yeh
    "ひらがな と カタカナ の テキスト です",
    "ㄅㄆㄇㄈ 注音符號 ㆠㆡ",
    "中文文本包含一些汉字和标点符号。",
    "한국어 텍스트 입니다 ABC",
    "Ελληνικά κείμενα για την υγεία",
    "עברית היא שפה שמית",
    "ไทย ภาษา ไทย",
    "Normal text\twith\ttabs\nand\n\nnewlines   and   spaces",
    "MiXeD CaSe WoRdS ArE HeRe",
    "ÉTÉ À PARIS ÇA VA",
    "«non» °C \xa0 nbsp",
    "\u2014 dashes \u2013 and \u2026 ellipses \u201cquotes\u201d",
    "latin mixed with русский текст и ещё немного слов",
    "abc " * 4000,  # longer than max_text_length
    "Ѐ" * 50 + " abc def ghi",  # cleaning_text removes the Latin letters
]


def _corpus() -> list[str]:
    rng = random.Random(7)
    foreign = list(FOREIGN.values())
    texts = list(SPECIAL) + foreign + list(EN_SENTENCES)
    for _ in range(120):
        texts.append(" ".join(rng.choice(PIECES) for _ in range(rng.randint(1, 25))))
    for _ in range(80):
        texts.append(" ".join(rng.sample(EN_SENTENCES, rng.randint(1, 6))))
    for _ in range(40):
        words = " ".join(rng.sample(UPPER_WORDS, rng.randint(1, 8)))
        texts.append(words if rng.random() < 0.5 else f"{words} {rng.choice(EN_SENTENCES)}")
    for _ in range(40):
        parts = rng.sample(foreign, 2) + rng.sample(EN_SENTENCES, 1)
        texts.append(" ".join(parts))
    base = list(texts)
    for text in rng.sample(base, 60):
        texts += [text.upper(), text.lower(), text.swapcase()]
    for text in rng.sample(base, 20):
        words = text.split()
        texts.append(" ".join(w[: rng.randint(1, 3)] for w in words))  # very short words
    return texts


def _reference(text: str) -> tuple[list[str], list[float] | None]:
    """langdetect's n-grams and ``langprob`` (None where it raises) for a seeded detector."""
    factory = _text._detector_factory()
    detector = factory.create()
    detector.seed = LANGDETECT_SEED
    detector.append(text)
    detector.cleaning_text()
    ngrams = detector._extract_ngrams()
    detector = factory.create()
    detector.seed = LANGDETECT_SEED
    detector.append(text)
    try:
        detector._detect_block()
    except LangDetectException:
        return ngrams, None
    return ngrams, detector.langprob


def _bits(values: list[float]) -> list[int]:
    return np.asarray(values, dtype=np.float64).view(np.uint64).tolist()


@pytest.fixture(scope="module")
def fast() -> _langdetect.FastDetector:
    return _langdetect.FastDetector(_text._detector_factory(), LANGDETECT_SEED)


def test_bulk_random_stream_is_used_here(fast: _langdetect.FastDetector) -> None:
    assert fast.words is not None  # this Python's random.Random is reproduced from bulk words


def test_prepared_text_matches_append_and_cleaning() -> None:
    factory = _text._detector_factory()
    for text in _corpus():
        detector = factory.create()
        detector.append(text)
        detector.cleaning_text()
        assert _langdetect.prepare(text) == detector.text, text


def test_probabilities_bit_identical_to_langdetect(fast: _langdetect.FastDetector) -> None:
    texts = _corpus()
    assert len(texts) > 500
    raised = 0
    for text in texts:
        ngrams, want = _reference(text)
        if want is None:
            raised += 1
            with pytest.raises(LangDetectException):
                fast.probabilities(text)
            continue
        assert fast.ngrams(text) == ngrams, text
        assert _bits(fast.probabilities(text).tolist()) == _bits(want), text
    assert 3 <= raised < len(texts) // 10


def test_verdicts_match_langdetect_detect(fast: _langdetect.FastDetector) -> None:
    factory = _text._detector_factory()
    langs = set()
    for text in _corpus():
        detector = factory.create()
        detector.seed = LANGDETECT_SEED
        detector.append(text)
        try:
            want = detector.detect()
        except LangDetectException:
            want = None
        _text.detect_language.cache_clear()
        assert _text.detect_language(text) == want, text
        langs.add(want)
    assert {"en", "fr", "ru", "ja", "ko", None} <= langs


def test_plain_random_path_matches_too(fast: _langdetect.FastDetector) -> None:
    plain = _langdetect.FastDetector(_text._detector_factory(), LANGDETECT_SEED)
    plain.words = None  # as where the bulk stream does not reproduce random.Random
    for text in _corpus()[:80]:
        want = _reference(text)[1]
        if want is not None:
            assert _bits(plain.probabilities(text).tolist()) == _bits(want), text


def test_stream_reproduces_random_for_several_seeds() -> None:
    for seed in (0, 1, 12345):
        assert _langdetect._stream_matches(seed)


def test_detect_stops_once_a_language_is_decided(fast: _langdetect.FastDetector) -> None:
    """``decided`` drops the trials after a running mean passes 1/2 (same winner)."""
    stopped = 0
    for text in _corpus():
        try:
            full = fast.probabilities(text).tolist()
        except LangDetectException:
            continue
        early = fast.probabilities(text, decided=True).tolist()
        stopped += early != full
        if early != full:
            assert max(early) > 0.5
            assert early.index(max(early)) == full.index(max(full)), text
    assert stopped > 100


def test_python_sum_path_matches_too(
    fast: _langdetect.FastDetector, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where ``sum()`` compensates (Python >= 3.12) the totals come from ``sum()`` itself."""
    assert _langdetect._PLAIN_SUM == (sys.version_info < (3, 12))
    monkeypatch.setattr(_langdetect, "_PLAIN_SUM", False)
    for text in _corpus()[:80]:
        want = _reference(text)[1]
        if want is not None:
            assert _bits(fast.probabilities(text).tolist()) == _bits(want), text
