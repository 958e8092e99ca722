"""n-gram decontamination against evaluation sets, in the spirit of lm-eval's: a training
text is contaminated when it shares a word n-gram (13 by default, over normalized tokens,
see :func:`.dedup.tokens`) with any evaluation text. With ``short_n`` set, whenever either
side has fewer than ``n`` tokens the comparison uses ``short_n``-grams instead, so short
eval questions are still caught.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate, chain
from typing import Any, TypeVar

from balancedbio.data.dedup import _ASCII_LOWER, _ASCII_PUNCT, _fresh_tokens, tokens

_W = TypeVar("_W", str, bytes)

#: the ASCII bytes that never end up in a word (whitespace, punctuation, symbols)
_WORD_BYTES = bytes(c for c in range(256) if c > 127 or not chr(_ASCII_PUNCT[c]).isspace())


def _separators(text: str) -> bytes:
    """The characters of ASCII ``text`` that separate its words (one per word but the first,
    at least)."""
    return text.encode().translate(None, _WORD_BYTES)


def _gram_tuples(words: Sequence[_W], n: int) -> Iterator[tuple[_W, ...]]:
    """Each word n-gram as a tuple, in order; none if fewer than n words. (Sets of these
    match exactly what the joined n-grams would, as words hold no spaces, and hashing a
    tuple of words costs less than joining and encoding them.)"""
    return zip(*(words[k:] for k in range(n)), strict=False)


_UNSEEN: Any = object()
_CHECKED_MAX = 1 << 16


@dataclass(frozen=True)
class Contamination:
    """Why an item was flagged: the shared n-gram (normalized words) and its size."""

    ngram: str
    n: int


class Decontaminator:
    """Flags texts sharing a word n-gram with any evaluation text (see module docstring)."""

    def __init__(self, eval_texts: Iterable[str], n: int = 13, short_n: int | None = None):
        if n < 1 or (short_n is not None and not 1 <= short_n < n):
            raise ValueError(f"need n >= 1 and 1 <= short_n < n, got n={n}, short_n={short_n}")
        self.n, self.short_n = n, short_n
        self._long: set[tuple[str, ...]] = set()  # n-grams of eval texts with >= n tokens
        self._short_all: set[tuple[str, ...]] = set()  # short_n-grams of every eval text
        self._short_of_short: set[tuple[str, ...]] = set()  # of eval texts with < n tokens
        self.eval_docs = 0
        self._checked: dict[str, Contamination | None] = {}  # text -> check(text)
        self._long_utf8: set[tuple[bytes, ...]] | None = None  # _long encoded, made on demand
        for text in eval_texts:
            self.add_eval(text)

    def add_eval(self, text: str) -> None:
        self._checked.clear()
        self._long_utf8 = None
        words = tokens(text)
        self.eval_docs += 1
        if len(words) >= self.n:
            self._long.update(_gram_tuples(words, self.n))
        if self.short_n is not None:
            grams = list(_gram_tuples(words, self.short_n))
            self._short_all.update(grams)
            if len(words) < self.n:
                self._short_of_short.update(grams)

    def check(self, text: str) -> Contamination | None:
        """The first shared n-gram, or None when ``text`` is clean."""
        if self.short_n is None and text.isascii():  # under n tokens: n need n - 1 separators
            if len(text) < 2 * self.n - 1 or len(_separators(text)) < self.n - 1:
                return None
        hit = self._checked.get(text, _UNSEEN)
        if hit is _UNSEEN:  # answer options and template lines recur across items
            hit = self._check(text)
            if len(self._checked) < _CHECKED_MAX:
                self._checked[text] = hit
        return hit

    def check_lines(self, texts: Sequence[str]) -> list[Contamination | None]:
        """Per text, the first :meth:`check` hit among its lines. ASCII texts are lower-cased,
        translated and split into lines in one pass; the lines of n words or more are then
        compared together (as bytes), and one by one only when some n-gram is shared."""
        out: list[Contamination | None] = [None] * len(texts)
        batch = [i for i, t in enumerate(texts) if t.isascii()] if self.short_n is None else []
        for i in set(range(len(texts))).difference(batch):
            out[i] = next(filter(None, map(self.check, texts[i].split("\n"))), None)
        joined = "\n".join([texts[i] for i in batch]).encode().translate(_ASCII_LOWER)
        n, short = self.n, 2 * self.n - 1  # n words need n - 1 separators
        words = [line.split() if len(line) >= short else () for line in joined.split(b"\n")]
        long = [k for k, w in enumerate(words) if len(w) >= n]
        if self._long_utf8 is None:
            self._long_utf8 = {tuple(w.encode() for w in gram) for gram in self._long}
        grams = chain.from_iterable(_gram_tuples(words[k], n) for k in long)
        if not long or self._long_utf8.isdisjoint(grams):
            return out
        ends = list(accumulate(texts[i].count("\n") + 1 for i in batch))  # lines after text
        for k in long:
            i = batch[bisect_right(ends, k)]
            if out[i] is None:
                gram = next((g for g in _gram_tuples(words[k], n) if g in self._long_utf8), None)
                if gram is not None:
                    out[i] = Contamination(b" ".join(gram).decode(), n)
        return out

    def _check(self, text: str) -> Contamination | None:
        words = _fresh_tokens(text)
        checks: list[tuple[int, set[tuple[str, ...]]]] = []
        if len(words) >= self.n:
            checks.append((self.n, self._long))
            if self.short_n is not None and self._short_of_short:
                checks.append((self.short_n, self._short_of_short))
        elif self.short_n is not None:
            checks.append((self.short_n, self._short_all))
        for size, index in checks:
            if not index.isdisjoint(_gram_tuples(words, size)):  # rare: then find the first
                gram = next(g for g in _gram_tuples(words, size) if g in index)
                return Contamination(" ".join(gram), size)
        return None

    def is_contaminated(self, text: str) -> tuple[bool, str | None]:
        """``(True, matched n-gram)`` or ``(False, None)``."""
        hit = self.check(text)
        return (True, hit.ngram) if hit else (False, None)
