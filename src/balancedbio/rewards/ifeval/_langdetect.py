"""langdetect's seeded ``Detector.detect``, bit for bit, with its arithmetic on numpy.

langdetect 1.0.9 updates 55 language probabilities per sampled n-gram in a pure-Python loop
(``_update_lang_prob``), which dominated the IFEval language checks. :class:`FastDetector`
computes the same thing (``tests/rewards/test_langdetect_fast.py`` compares the probabilities
bit for bit with langdetect's on varied texts):

* the text preparation of ``Detector.append`` and ``cleaning_text``, with regexes;
* the n-grams of ``_extract_ngrams``: ``NGram.add_char``'s buffer restarts after every space,
  so the n-grams of a text are those of its space-separated words, memoised per word;
* ``_detect_block``'s draws from ``random.Random(seed)``: per trial a ``gauss``, then one
  ``choice`` per update. Both read 32-bit Mersenne Twister words: ``random()`` two of them,
  ``choice(seq)`` the top ``k`` bits of one (``k`` = bit length of ``len(seq)``; a value
  ``>= len(seq)`` is rejected and the next word read). The seed fixes the word stream, so
  :class:`_Stream` reads it from one bulk draw and decodes a trial's choices with numpy. That
  this reproduces ``random.Random`` is checked once per process (:func:`_stream_matches`);
  where it does not, the detector calls ``random.Random`` itself, one draw at a time;
* the updates ``prob[i] *= weight + lang_prob_map[i]`` as element-wise numpy products, five
  at a time (``multiply.reduce`` along the first axis multiplies in order), the rows read
  straight from the profile matrix (no per-text table), and each normalization's total as
  langdetect's ``sum``: left to right (``np.add.accumulate``) where ``sum()`` adds plainly.
"""

from __future__ import annotations

import math
import random
import re
from typing import Any

import numpy as np

_SPACES = re.compile(" {2,}")
_LATIN = re.compile("[A-z]")  # langdetect's 'A' <= ch <= 'z'
_NON_LATIN = re.compile("[\u0300-\U0010ffff]")
_BLOCKS = 16  # normalization blocks (5 updates each) gathered at once
_WORDS_MEMO = 1 << 15  # per-word n-gram memo entries before it is cleared
_DECIDED = 0.5 + 1e-6  # a running mean above this decides detect() (rounding: ~1e-15)
#: Whether ``sum()`` of floats adds left to right without compensation (CPython < 3.12),
#: i.e. equals the last element of ``np.add.accumulate`` (always sequential).
_PLAIN_SUM = sum([1.0, 1e100, 1.0, -1e100]) == 0.0


def prepare(text: str, max_length: int = 10000) -> str:
    """``Detector.append(text)`` then ``cleaning_text()``: the text n-grams are taken from."""
    from langdetect.detector import Detector
    from langdetect.utils.ngram import NGram

    text = NGram.normalize_vi(Detector.MAIL_RE.sub(" ", Detector.URL_RE.sub(" ", text)))
    text = _SPACES.sub(" ", text[:max_length])
    # cleaning_text also tests unicode_block(ch) != 'Latin Extended Additional', which compares
    # an int with a str: always true, so every char >= U+0300 counts as non-Latin.
    if len(_LATIN.findall(text)) * 2 < len(_NON_LATIN.findall(text)):
        text = _LATIN.sub("", text)
    return text


class _CharTable(dict[int, str]):
    """``str.translate`` table applying ``NGram.normalize`` (filled lazily per code point)."""

    def __missing__(self, code: int) -> str:
        from langdetect.utils.ngram import NGram

        rep = self[code] = NGram.normalize(chr(code))
        return rep


class _Profiles:
    """``word_lang_prob_map`` rows as one float64 matrix, filled as n-grams are first met."""

    def __init__(self, profiles: dict[str, list[float]], n_lang: int) -> None:
        self.profiles = profiles
        self.index: dict[str, int] = {}
        self.words: list[str] = []  # the n-gram of each row
        self.matrix = np.empty((1024, n_lang))

    def row(self, word: str) -> int:
        """The matrix row of a profile n-gram."""
        k = self.index.get(word)
        if k is None:
            k = len(self.words)
            if k == len(self.matrix):
                self.matrix = np.concatenate([self.matrix, np.empty_like(self.matrix)])
            self.matrix[k] = self.profiles[word]
            self.index[word] = k
            self.words.append(word)
        return k


class _Grams:
    """``Detector._extract_ngrams``: the known 1- to 3-grams of a prepared text, in order,
    as :class:`_Profiles` rows."""

    def __init__(self, profiles: _Profiles) -> None:
        self.profiles = profiles
        self.table = _CharTable()
        self._words: dict[str, tuple[list[int], list[int]]] = {}

    def _word(self, word: str) -> tuple[list[int], list[int]]:
        """N-grams of a normalized word, and those its following space adds (``add_char``)."""
        got = self._words.get(word)
        if got is not None:
            return got
        vocab, row = self.profiles.profiles, self.profiles.row
        inner: list[int] = []
        tail: list[int] = []
        grams, capital = " ", False
        for ch in word + " ":
            out = tail if ch == " " else inner
            last = grams[-1]
            if len(grams) >= 3:
                grams = grams[1:]
            grams += ch
            if ch.isupper():
                if last.isupper():
                    capital = True
            else:
                capital = False
            if capital:
                continue
            for n in (1, 2, 3):
                w = grams[-n:]
                if len(grams) >= n and w != " " and w in vocab:
                    out.append(row(w))
        if len(self._words) >= _WORDS_MEMO:
            self._words.clear()
        self._words[word] = (inner, tail)
        return inner, tail

    def __call__(self, text: str) -> list[int]:
        parts = text.translate(self.table).split(" ")
        out: list[int] = []
        for word in parts[:-1]:
            if word:
                inner, tail = self._word(word)
                out += inner
                out += tail
        if parts[-1]:
            out += self._word(parts[-1])[0]
        return out


class _Words:
    """The 32-bit output words of ``random.Random(seed)``, drawn in bulk, grown on demand."""

    def __init__(self, seed: int, count: int = 1 << 16) -> None:
        self.seed, self.array = seed, self._draw(seed, count)

    @staticmethod
    def _draw(seed: int, count: int) -> np.ndarray:
        raw = random.Random(seed).getrandbits(32 * count).to_bytes(4 * count, "little")
        return np.frombuffer(raw, dtype="<u4").astype(np.int64)

    def upto(self, end: int) -> np.ndarray:
        if end > len(self.array):
            self.array = self._draw(self.seed, max(end, 2 * len(self.array)))
        return self.array


class _Stream:
    """A fresh ``random.Random(seed)`` as used by langdetect: ``gauss`` and ``choice``."""

    def __init__(self, words: _Words) -> None:
        self.words, self.pos = words, 0
        self.gauss_next: float | None = None

    def random(self) -> float:
        """``Random.random()``: 53 bits from two words (CPython's ``random_random``)."""
        w = self.words.upto(self.pos + 2)
        a, b = int(w[self.pos]) >> 5, int(w[self.pos + 1]) >> 6
        self.pos += 2
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)

    def gauss(self, mu: float, sigma: float) -> float:
        """``Random.gauss`` (the pair-caching Box-Muller of CPython's ``random.py``)."""
        z, self.gauss_next = self.gauss_next, None
        if z is None:
            x2pi = self.random() * (2.0 * math.pi)
            g2rad = math.sqrt(-2.0 * math.log(1.0 - self.random()))
            z = math.cos(x2pi) * g2rad
            self.gauss_next = math.sin(x2pi) * g2rad
        return mu + z * sigma

    def choices(self, n: int) -> _Choices:
        return _Choices(self, n)


class _Choices:
    """Successive ``choice(range(n))`` values from the stream's position (``n < 2**32``)."""

    def __init__(self, stream: _Stream, n: int) -> None:
        self.stream, self.n, self.shift = stream, n, 32 - n.bit_length()
        self.start, self.scanned = stream.pos, 0
        self.values = np.empty(0, dtype=np.intp)
        self.ends = np.empty(0, dtype=np.int64)  # words read up to each choice

    def get(self, first: int, count: int) -> np.ndarray:
        """Choices ``first .. first + count - 1``."""
        while len(self.values) < first + count:
            self._scan(2 * count + 64)
        return self.values[first : first + count]

    def _scan(self, count: int) -> None:
        lo = self.start + self.scanned
        top = self.stream.words.upto(lo + count)[lo : lo + count] >> self.shift
        keep = np.flatnonzero(top < self.n)
        if self.scanned:
            self.values = np.concatenate([self.values, top[keep]])
            self.ends = np.concatenate([self.ends, self.scanned + keep + 1])
        else:
            self.values, self.ends = top[keep], keep + 1
        self.scanned += count

    def finish(self, used: int) -> None:
        """Advance the stream past the words of the first ``used`` choices."""
        self.stream.pos = self.start + (int(self.ends[used - 1]) if used else 0)


def _stream_matches(seed: int) -> bool:
    """Whether :class:`_Stream` reproduces this Python's ``random.Random`` (gauss, choice)."""
    ours, ref = _Stream(_Words(seed, 64)), random.Random(seed)
    for n, used in [(7, 1), (1, 6), (2, 41), (1000, 81), (5, 300), (4097, 11), (64, 0)]:
        if ours.gauss(0.0, 1.0) != ref.gauss(0.0, 1.0):
            return False
        choices = ours.choices(n)
        got = choices.get(0, used + 3).tolist()[:used]
        choices.finish(used)
        if got != [ref.choice(range(n)) for _ in range(used)]:
            return False
    return ours.random() == ref.random()


class FastDetector:
    """``detect(text)`` = langdetect's ``factory.create(); seed; append(text); detect()``."""

    def __init__(self, factory: Any, seed: int) -> None:
        from langdetect.detector import Detector

        self.factory, self.seed = factory, seed
        self.langlist: list[str] = list(factory.langlist)
        self.profiles = _Profiles(factory.word_lang_prob_map, len(self.langlist))
        self.grams = _Grams(self.profiles)
        self.words = _Words(seed) if _stream_matches(seed) else None
        self.alpha, self.alpha_width = Detector.ALPHA_DEFAULT, Detector.ALPHA_WIDTH
        self.base_freq, self.n_trial = Detector.BASE_FREQ, 7
        self.limit, self.conv = Detector.ITERATION_LIMIT, Detector.CONV_THRESHOLD
        self.prob_threshold, self.unknown = Detector.PROB_THRESHOLD, Detector.UNKNOWN_LANG

    def features(self, text: str) -> list[int]:
        """The n-grams langdetect samples from, as profile rows; raises where it does."""
        from langdetect.lang_detect_exception import ErrorCode, LangDetectException

        rows = self.grams(prepare(text))
        if not rows:
            raise LangDetectException(ErrorCode.CantDetectError, "No features in text.")
        return rows

    def ngrams(self, text: str) -> list[str]:
        """The n-grams themselves (what ``Detector._extract_ngrams`` returns)."""
        return [self.profiles.words[k] for k in self.features(text)]

    def probabilities(self, text: str, *, decided: bool = False) -> np.ndarray:
        """``Detector.langprob`` after ``_detect_block``: the mean over trials, per language.

        ``decided``: stop after the trial where one language's running sum of
        ``prob / n_trial`` passes 1/2. Later trials add non-negative terms and each trial's
        probabilities sum to 1, so its final mean stays above 1/2 and every other below: the
        most probable language (what :meth:`detect` returns) is already fixed.
        """
        picks = np.array(self.features(text))  # profile matrix rows, in sampling order
        matrix = self.profiles.matrix  # complete for this text once its features are read
        n_lang = len(self.langlist)
        langprob = np.zeros(n_lang)
        stream = _Stream(self.words) if self.words and len(picks) < 1 << 32 else None
        rnd = stream or random.Random(self.seed)
        for _ in range(self.n_trial):
            prob = np.full(n_lang, 1.0 / n_lang)
            gauss = rnd.gauss(0.0, 1.0)
            weight = (self.alpha + gauss * self.alpha_width) / self.base_freq
            if stream:
                self._trial(prob, matrix, weight, picks, stream.choices(len(picks)))
            else:  # weight + lang_prob_map[i] for every n-gram
                self._trial_plain(prob, list(matrix[picks] + weight), rnd)
            langprob += prob / self.n_trial
            if decided and langprob.max() > _DECIDED and prob.min() >= 0.0:
                break
        return langprob

    def _trial(
        self,
        prob: np.ndarray,
        matrix: np.ndarray,
        weight: float,
        picks: np.ndarray,
        choices: _Choices,
    ) -> None:
        """One trial of ``_detect_block``: an update at i = 0, 1, 2, ..., normalizing (and
        stopping on convergence or ``ITERATION_LIMIT``) after those at i = 0, 5, 10, ...

        Each block is one ``multiply.reduce`` over the rows [prob, 5 updates], written into
        the next block's prob row and normalized there. The update rows are gathered from
        the profile ``matrix`` ``_BLOCKS`` blocks at a time, then ``weight`` is added
        (``weight + lang_prob_map[i]``, as langdetect). The first block holds the single
        update i = 0, padded with rows of 1.0 (``x * 1.0 == x``).
        """
        i = -5
        multiply, divide, accumulate = np.multiply.reduce, np.divide, np.add.accumulate
        largest, add = np.maximum.reduce, np.add
        conv, limit = self.conv, self.limit
        first = picks[choices.get(0, 5 * _BLOCKS - 4)]
        # column 0 (prob, or the previous block's output) is overwritten: any valid row
        layout = np.full((_BLOCKS, 6), first[0], dtype=np.intp)
        layout[1:, 1:] = first[1:].reshape(_BLOCKS - 1, 5)
        partial = np.empty(len(prob))
        block = matrix.take(layout, axis=0)
        add(block, weight, block)
        block[0, 2:] = 1.0
        while True:
            block[0, 0] = prob
            for updates, out in zip(block, [*block[1:, 0], prob], strict=True):
                multiply(updates, 0, None, out)
                i += 5
                # _normalize_prob's total: Python's left-to-right sum, which is numpy's
                # running sum where sum() adds plainly (see _PLAIN_SUM)
                total = accumulate(out, 0, None, partial)[-1] if _PLAIN_SUM else sum(out.tolist())
                if not total:
                    raise ZeroDivisionError("float division by zero")  # as in langdetect
                divide(out, total, out)
                # Division by a positive total is monotonic: the largest quotient is
                # max(prob) / total, exactly _normalize_prob's maximum.
                if largest(out) > conv or i >= limit:
                    prob[:] = out
                    choices.finish(i + 1)
                    return
            layout[:, 1:] = picks[choices.get(i + 1, 5 * _BLOCKS)].reshape(_BLOCKS, 5)
            block = matrix.take(layout, axis=0)
            add(block, weight, block)

    def _trial_plain(self, prob: np.ndarray, seq: list[np.ndarray], rnd: random.Random) -> None:
        """:meth:`_trial` with one ``rnd.choice`` per update (where the stream does not match)."""
        i = 0
        while True:
            prob *= rnd.choice(seq)
            if i % 5 == 0 and (_normalize(prob) > self.conv or i >= self.limit):
                return
            i += 1

    def detect(self, text: str) -> str:
        """The most probable language (``Detector.detect``); raises ``LangDetectException``."""
        probs = self.probabilities(text, decided=True).tolist()
        # langdetect sorts the Languages above PROB_THRESHOLD by prob, descending and stable:
        # the first is the first language with the largest prob
        top = max(probs)
        return self.langlist[probs.index(top)] if top > self.prob_threshold else self.unknown


def _normalize(prob: np.ndarray) -> float:
    """``Detector._normalize_prob`` in place; the sum is Python's, left to right, as there."""
    values = prob.tolist()
    total = sum(values)
    top = values[prob.argmax()] / total  # see FastDetector._trial
    np.divide(prob, total, prob)
    return max(0.0, top)
