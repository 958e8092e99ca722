"""Deduplication (exact and near); n-gram decontamination is in :mod:`.decontam`.

* **Exact**: a 128-bit xxhash of the normalized text (casefold, punctuation removed,
  whitespace collapsed), so items differing only in case/punctuation/spacing collide.
* **Near**: MinHash over word 5-gram shingles and LSH with the band/row split that
  minimizes false positives + false negatives around the Jaccard threshold (0.8 -> 9 bands
  x 13 rows). A shingle's 32-bit hash mixes its words' xxh3 hashes (see :class:`MinHasher`);
  the ``num_perm`` = 128 permutations are strongly universal multiply-add-shift hashes
  ``((a*x + b) mod 2**64) >> 32`` with random 64-bit ``a``, ``b`` (computed with numpy).
  (The earlier ``(a*x + b) mod (2**61 - 1)`` with ``a, x < 2**32`` wrapped at most 7 times,
  so its permutations all favoured the same small shingle hashes and texts sharing only a
  template scored ~0.9.) Candidates from shared buckets are confirmed by the
  signature-estimated Jaccard. Streaming: ``add`` answers "duplicate of whom" and keeps
  only first occurrences. Deterministic for a seed.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from itertools import chain, repeat
from typing import Any

import numpy as np
import xxhash


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch).startswith(("P", "S"))


class _PunctTable(dict[int, str]):
    """``str.translate`` table: punctuation/symbols -> space, filled lazily per code point."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        rep = " " if _is_punct(ch) else ch
        self[code] = rep
        return rep


_PUNCT_TABLE = _PunctTable()


def _ascii_punct_table() -> bytes:
    """Punctuation/symbols -> space; also the separators ``str.split`` knows but
    ``bytes.split`` does not (``\\x1c``-``\\x1f``), so both split ASCII text alike."""
    table = bytearray(range(256))
    for code in range(128):
        if _is_punct(chr(code)) or 0x1C <= code <= 0x1F:
            table[code] = ord(" ")
    return bytes(table)


_ASCII_PUNCT = _ascii_punct_table()
#: :data:`_ASCII_PUNCT` lower-casing too (``str.lower`` of ASCII maps A-Z only): one pass, not two
_ASCII_LOWER = _ASCII_PUNCT.lower()
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


def _strip_run(match: re.Match[str]) -> str:
    return match.group().translate(_PUNCT_TABLE)


def _strip_punct(text: str) -> str:
    """Punctuation/symbols to spaces (``\\x1c``-``\\x1f`` too: whitespace to ``split``).
    ASCII by a byte table; only the non-ASCII runs take the per-character table, which
    ``str.translate`` would otherwise consult (slowly) for every character."""
    raw = text.encode("utf-8", "surrogatepass").translate(_ASCII_PUNCT)
    ascii_done = raw.decode("utf-8", "surrogatepass")
    return _NON_ASCII.sub(_strip_run, ascii_done)


def _ascii_words(text: str) -> list[str]:
    """The words of :func:`normalize` for ASCII ``text`` (lower-cased, punctuation as space)."""
    return text.encode().translate(_ASCII_LOWER).decode().split()


@functools.lru_cache(maxsize=4096)
def normalize(text: str) -> str:
    """Casefold, NFKC, punctuation/symbols to spaces, whitespace collapsed.

    Memoized: the gate normalizes one text for the exact hash and again for its shingles.
    (``str.split()`` splits on exactly the characters ``re``'s ``\\s`` matches; ASCII text
    is its own NFKC form and casefolds as ``lower()``, so it takes a byte-table shortcut.)
    """
    if text.isascii():
        return " ".join(_ascii_words(text))
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_strip_punct(text).split())


def tokens(text: str) -> list[str]:
    """Normalized word tokens."""
    return normalize(text).split()


def _fresh_tokens(text: str) -> list[str]:
    """:func:`tokens` of a text seen once (decontamination segments): ASCII text skips the
    memo and the join (``" ".join(w).split() == w`` for the words ``w`` of a split)."""
    return _ascii_words(text) if text.isascii() else tokens(text)


@functools.lru_cache(maxsize=4096)
def _utf8_words(text: str) -> tuple[bytes, ...]:
    """The words of :func:`normalize`, UTF-8 encoded: what the exact hash and the shingles
    hash (``b" ".join`` of them is ``normalize(text).encode()``). Memoized: the gate asks
    for one text twice (exact, then near)."""
    if text.isascii():
        return tuple(text.encode().translate(_ASCII_LOWER).split())
    return tuple(normalize(text).encode().split())  # UTF-8 never puts 0x20 inside a char


_NUL = "\x00"  # neither whitespace nor punctuation: a word of its own (a text bound)


def utf8_words_many(texts: Sequence[str]) -> list[Sequence[bytes]]:
    """:func:`_utf8_words` of each text. The ASCII ones (without NUL) are lowered, translated
    and split in one pass, joined around NUL words that then mark where each one ends."""
    out: list[Sequence[bytes]] = [()] * len(texts)
    batch = [i for i, t in enumerate(texts) if t.isascii() and _NUL not in t]
    flat = f" {_NUL} ".join([texts[i] for i in batch]).encode()
    flat_words, start = flat.translate(_ASCII_LOWER).split(), 0
    for i in batch[:-1]:
        end = flat_words.index(b"\x00", start)
        out[i], start = flat_words[start:end], end + 1
    if batch:
        out[batch[-1]] = flat_words[start:]
    for i in set(range(len(texts))).difference(batch):
        out[i] = _utf8_words(texts[i])
    return out


def text_hash(text: str) -> str:
    """Hex digest identifying the normalized text."""
    return words_hash(_utf8_words(text))


def words_hash(words: Sequence[bytes]) -> str:
    """:func:`text_hash` of the text whose :func:`_utf8_words` are ``words``."""
    return xxhash.xxh3_128_hexdigest(b" ".join(words))


def default_text(item: Mapping[str, Any]) -> str:
    """The text an item is deduplicated on: all prompt message contents plus the answer.

    ``prompt`` may be a string or a list of ``{"role", "content"}`` messages; the answer is
    the first of ``answer`` / ``completion`` / ``response`` present.
    """
    prompt = item.get("prompt", "")
    if isinstance(prompt, str):
        parts = [prompt]
    else:
        parts = [str(m.get("content", "")) for m in prompt if isinstance(m, Mapping)]
    for key in ("answer", "completion", "response"):
        if item.get(key) is not None:
            parts.append(str(item[key]))
            break
    return "\n".join(parts)


class ExactDedup:
    """Streaming exact dedup on normalized-text hashes: ``add`` returns the first key seen."""

    def __init__(self, text_fn: Callable[[Mapping[str, Any]], str] = default_text):
        self.text_fn = text_fn
        self._seen: dict[str, str] = {}

    def add(self, key: str, text: str) -> str | None:
        """Register ``text`` under ``key``; return the key it duplicates, else None."""
        return self.add_digest(key, text_hash(text))

    def add_digest(self, key: str, digest: str) -> str | None:
        """:meth:`add` of the text whose :func:`text_hash` is ``digest``."""
        first = self._seen.get(digest)
        if first is not None:
            return first
        self._seen[digest] = key
        return None

    def add_item(self, key: str, item: Mapping[str, Any]) -> str | None:
        return self.add(key, self.text_fn(item))

    def __len__(self) -> int:
        return len(self._seen)


# --------------------------------------------------------------------------- MinHash + LSH


@functools.lru_cache(maxsize=64)
def optimal_bands(threshold: float, num_perm: int, fp_weight: float = 0.5) -> tuple[int, int]:
    """(bands, rows) minimizing weighted false-positive + false-negative area (as datasketch)."""

    def area(b: int, r: int, lo: float, hi: float, positive: bool) -> float:
        s = np.linspace(lo, hi, 201)
        p = 1.0 - (1.0 - s**r) ** b
        y = p if positive else 1.0 - p
        return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(s)))

    best, best_err = (1, num_perm), float("inf")
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            fp = area(b, r, 0.0, threshold, True)
            fn = area(b, r, threshold, 1.0, False)
            err = fp_weight * fp + (1 - fp_weight) * fn
            if err < best_err - 1e-12:
                best, best_err = (b, r), err
    return best


class MinHasher:
    """MinHash signatures of word n-gram shingles (deterministic for ``seed``).

    A shingle's 32-bit hash ``x`` is the top half of the splitmix64-mixed linear combination
    (odd multipliers per position) of its words' seeded xxh3 hashes (each word is hashed
    once, not each n-gram); permutation ``i`` ranks shingles by the multiply-add-shift hash
    ``((a_i*x + b_i) mod 2**64) >> 32`` (strongly universal for random 64-bit ``a_i``,
    ``b_i``). The shift is monotone, so a signature keeps each permutation's least
    ``(a_i*x + b_i) mod 2**64`` (same argmin, no shift pass).
    """

    def __init__(self, num_perm: int = 128, ngram: int = 5, seed: int = 0):
        if num_perm < 1 or ngram < 1:
            raise ValueError("num_perm and ngram must be >= 1")
        rng = np.random.default_rng(seed)
        self.num_perm, self.ngram, self.seed = num_perm, ngram, seed
        odd = rng.integers(0, 1 << 63, size=num_perm + ngram, dtype=np.uint64) * 2 + 1
        self.a, self.coef = odd[:num_perm], [int(c) for c in odd[num_perm:]]
        self.b = rng.integers(0, 1 << 63, size=num_perm, dtype=np.uint64) * 2
        self._tiles = 0  # a and b repeated this many times (flat), grown on demand
        self._a_flat = self._b_flat = np.empty(0, dtype=np.uint64)
        self._buf = np.empty(0, dtype=np.uint64)  # signatures' work area, grown on demand

    def _gram_hashes(self, text: str) -> np.ndarray:
        """32-bit hashes of the word n-grams (the whole text if it is shorter), repeats kept."""
        return self._word_grams(_utf8_words(text))

    def _word_grams(self, words: Sequence[bytes]) -> np.ndarray:
        """:meth:`_gram_hashes` of the text whose :func:`_utf8_words` are ``words``."""
        words = words or (b"",)
        return _splitmix_finalize(self._combine(self._word_hashes(words), len(words))) >> _U32

    def _word_hashes(self, words: Sequence[bytes]) -> np.ndarray:
        return np.fromiter(
            map(xxhash.xxh3_64_intdigest, words, repeat(self.seed)), np.uint64, len(words)
        )

    def _combine(self, v: np.ndarray, n: int) -> np.ndarray:
        """The unmixed n-gram hash at each start with ``n`` words of ``v`` from there."""
        n = min(n, self.ngram)
        count = len(v) - n + 1
        g = v[:count] * self.coef[0]
        for k in range(1, n):
            g += v[k : k + count] * self.coef[k]  # wraps mod 2**64
        return g

    def shingles(self, text: str) -> np.ndarray:
        """32-bit hashes of the distinct word n-grams (the whole text if it is shorter)."""
        return np.unique(self._gram_hashes(text))

    def _flat_ab(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``a`` and ``b`` tiled ``n`` times: row-major ``(n, num_perm)`` operands, so every
        ufunc below runs one contiguous loop (broadcast rows cost a loop call per row)."""
        if n > self._tiles:
            self._tiles = max(n, 2 * self._tiles, 64)
            self._a_flat, self._b_flat = np.tile(self.a, self._tiles), np.tile(self.b, self._tiles)
        size = n * self.num_perm
        return self._a_flat[:size], self._b_flat[:size]

    def signature(self, text: str) -> np.ndarray:
        """Per permutation, the least ``(a*x + b) mod 2**64`` over the shingles ``x``."""
        return self._minimum(self._gram_hashes(text))

    def _minimum(self, x: np.ndarray) -> np.ndarray:
        # Repeated n-grams do not change a minimum, so they are not removed first.
        a, b = self._flat_ab(len(x))
        y = np.repeat(x, self.num_perm)  # row s: shingle s once per permutation
        y *= a  # uint64 arithmetic wraps: mod 2**64
        y += b
        return y.reshape(len(x), self.num_perm).min(axis=0)

    def signatures(self, docs: Sequence[Sequence[bytes]]) -> np.ndarray:
        """Row ``i``: the :meth:`signature` of the text whose :func:`_utf8_words` are
        ``docs[i]``, in a fixed number of numpy calls: the words of all texts are hashed in
        one array and n-grams taken at every start (those across a bound are dropped), each
        permutation is a row over all shingles and ``minimum.reduceat`` takes each text's."""
        out = np.empty((len(docs), self.num_perm), dtype=np.uint64)
        long = [i for i, d in enumerate(docs) if len(d) >= self.ngram]
        for i in set(range(len(docs))).difference(long):  # under one n-gram: rare
            out[i] = self._minimum(self._word_grams(docs[i]))
        if not long:
            return out
        lens = np.fromiter((len(docs[i]) for i in long), np.int64, len(long))
        v = self._word_hashes(list(chain.from_iterable(docs[i] for i in long)))
        counts = lens - (self.ngram - 1)
        firsts = np.cumsum(counts) - counts  # each text's first shingle in x
        shift = np.repeat(np.cumsum(lens) - lens - firsts, counts)  # its first word in v
        starts = np.arange(len(shift), dtype=np.int64) + shift
        x = _splitmix_finalize(self._combine(v, self.ngram)[starts]) >> _U32
        if self._buf.size < self.num_perm * len(x):  # reused: fresh pages cost a fault each
            self._buf = np.empty(self.num_perm * max(len(x), 4096), dtype=np.uint64)
        y = self._buf[: self.num_perm * len(x)].reshape(self.num_perm, len(x))
        np.multiply(self.a[:, None], x, out=y)  # row i: permutation i of every shingle
        y += self.b[:, None]
        out[long] = np.minimum.reduceat(y, firsts, axis=1).T
        return out


_U32 = np.uint64(32)
_SPLITMIX = [
    (np.uint64(30), np.uint64(0xBF58476D1CE4E5B9)),
    (np.uint64(27), np.uint64(0x94D049BB133111EB)),
]


def _splitmix_finalize(h: np.ndarray) -> np.ndarray:
    """splitmix64's output mix, in place: a bijection spreading every input bit over all
    output bits (a linear combination alone leaves related n-grams' hashes related)."""
    for shift, mult in _SPLITMIX:
        h ^= h >> shift
        h *= mult
    h ^= h >> np.uint64(31)
    return h


class NearDupIndex:
    """Streaming near-duplicate detection: MinHash + LSH at a Jaccard ``threshold``."""

    def __init__(
        self,
        threshold: float = 0.8,
        num_perm: int = 128,
        ngram: int = 5,
        seed: int = 0,
        bands: tuple[int, int] | None = None,
    ):
        if not 0.0 < threshold <= 1.0:
            raise ValueError(f"threshold must be in (0, 1], got {threshold}")
        self.threshold = threshold
        self.hasher = MinHasher(num_perm, ngram, seed)
        self.bands, self.rows = bands or optimal_bands(threshold, num_perm)
        if self.bands * self.rows > num_perm:
            raise ValueError(f"bands x rows {self.bands}x{self.rows} exceeds num_perm {num_perm}")
        self._buckets: list[dict[bytes, list[int]]] = [{} for _ in range(self.bands)]
        self._keys: list[str] = []
        self._sigs: list[np.ndarray] = []

    def _band_keys(self, sig: np.ndarray) -> list[bytes]:
        """The bytes of each band's rows (``sig[i*r:(i+1)*r].tobytes()``)."""
        raw, size = sig.tobytes(), self.rows * sig.itemsize
        return [raw[i * size : (i + 1) * size] for i in range(self.bands)]

    def query(self, text: str) -> tuple[str, float] | None:
        """The earliest-added item whose estimated Jaccard with ``text`` >= threshold."""
        return self._query(self.hasher.signature(text))

    def band_keys(self, sigs: np.ndarray) -> list[list[bytes]]:
        """:meth:`_band_keys` of each row of ``sigs`` (one call: a band is a void scalar)."""
        size = self.bands * self.rows
        bands = np.ascontiguousarray(sigs[:, :size]).view(f"V{self.rows * sigs.itemsize}")
        return bands.tolist()

    def _query(self, sig: np.ndarray, bands: list[bytes] | None = None) -> tuple[str, float] | None:
        bands = bands or self._band_keys(sig)
        found = [b[key] for b, key in zip(self._buckets, bands, strict=True) if key in b]
        for idx in sorted(set().union(*found)) if found else ():
            # count/num_perm: the value np.mean of the matches gives, without its overhead
            sim = int(np.count_nonzero(self._sigs[idx] == sig)) / len(sig)
            if sim >= self.threshold:
                return self._keys[idx], sim
        return None

    def add(self, key: str, text: str) -> str | None:
        """Return the key ``text`` near-duplicates, else index it under ``key`` and return None."""
        return self.add_signature(key, self.hasher.signature(text))

    def add_signature(
        self, key: str, sig: np.ndarray, bands: list[bytes] | None = None
    ) -> str | None:
        """:meth:`add` of the text whose signature is ``sig`` (and band keys ``bands``)."""
        bands = bands or self._band_keys(sig)
        hit = self._query(sig, bands)
        if hit is not None:
            return hit[0]
        idx = len(self._keys)
        self._keys.append(key)
        self._sigs.append(sig)
        for bucket, band in zip(self._buckets, bands, strict=True):
            bucket.setdefault(band, []).append(idx)
        return None

    def __len__(self) -> int:
        return len(self._keys)
