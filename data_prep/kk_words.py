"""Kazakh words and sentences: a regex tokeniser that works offline, for the quality filters and datatrove.

    from data_prep.kk_words import KazakhWordTokenizer
    KazakhWordTokenizer().word_tokenize("Тату-тәтті өмір, т.б. 2020-жылы")  # ["Тату-тәтті", "өмір", ",", ...]

datatrove's own "kk" tokenizer is Stanza, which downloads a model at run time and fails offline, so
KazakhWordTokenizer is used everywhere instead. For datatrove steps that take a `language` (MinHash, stock
filters) either pass `language=KazakhWordTokenizer()` - load_word_tokenizer returns an instance as is,
and the step pickles it into worker processes - or call register_kazakh_tokenizer() so that the code "kk"
resolves to it (that patch lives in the calling process only; forkserver workers start without it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from datatrove.utils.text import split_into_parts
from datatrove.utils.word_tokenizers import WordTokenizer, load_tokenizer_assignments, load_word_tokenizer

_UPPER = "A-ZА-ЯЁӘҒҚҢӨҰҮҺІ"
# Dotted abbreviations (kk, then ru, en) kept as one token; a period after them does not end a sentence.
ABBREVIATIONS = frozenset(
    {
        "т.б.",
        "т.с.с.",
        "т.с.",
        "т.т.",
        "ж.т.б.",
        "б.з.б.",
        "б.з.д.",
        "б.з.",
        "ж.",
        "жж.",
        "ғ.",
        "ғғ.",
        "қ.",
        "млн.",
        "млрд.",
        "трлн.",
        "обл.",
        "ауд.",
        "көш.",
        "бб.",
        "проф.",
        "акад.",
        "доц.",
        "т.д.",
        "т.п.",
        "т.е.",
        "г.",
        "гг.",
        "в.",
        "вв.",
        "руб.",
        "тыс.",
        "ул.",
        "им.",
        "др.",
        "пр.",
        "e.g.",
        "i.e.",
        "etc.",
        "mr.",
        "mrs.",
        "dr.",
        "vs.",
    }
)
# ...except these "and so on" forms, which usually close a sentence when a capital follows.
_FINAL_ABBREVIATIONS = frozenset({"т.б.", "т.с.с.", "т.т.", "ж.т.б.", "т.д.", "т.п.", "etc."})
_ABBR_ALT = "|".join(re.escape(a) for a in sorted(ABBREVIATIONS, key=len, reverse=True))

_TOKEN_RE = re.compile(
    r"(?:https?://|www\.)\S+"  # a URL stays one token
    # the look-ahead (a short word, then a dot) rejects almost every word before the ~50 alternatives run
    rf"|(?=[^\W\d_]{{1,5}}\.)(?i:{_ABBR_ALT})"
    rf"|[{_UPPER}]\.(?=\s?[{_UPPER}])"  # initials: Ә.Бөкейханов, А. Құнанбайұлы
    r"|\d+(?:[.,:]\d+)*(?:[-‐]\w+)*%?"  # 3,5  12.05.2024  14:30  2020-жылы  5-сынып  15%
    r"|\w+(?:[-‐'’]\w+)*"  # тату-тәтті, сондай-ақ, Wi-Fi-ға, O'zbek
    r"|\.{2,}|[^\w\s]"  # "..." is one token, any other symbol one token each
)
_CLOSERS = "»\"”’')]"
_SENT_END = re.compile(rf"[.!?…]+[{re.escape(_CLOSERS)}]*(?=\s|\Z)|\n")
_NEXT_CHAR = re.compile(r"\s*(\S)")
_LAST_TOKEN = re.compile(r"\S+\Z")
_INITIAL = re.compile(rf"[{_UPPER}]\.")


class KazakhWordTokenizer(WordTokenizer):
    """Regex word and sentence splitter for Kazakh (plus the Russian and English mixed into it).

    Words keep inner hyphens and apostrophes, numbers keep their separators and case suffix ("2020-жылы"),
    known abbreviations keep their dots; every punctuation mark is a token of its own, like the spaCy and
    Stanza tokenisers whose word counts FineWeb-2 thresholds were tuned on. Sentences end at . ! ? … (with
    closing quotes) before whitespace, or at a line break, but not after an abbreviation or an initial,
    nor before a lower-case word.
    """

    def __init__(self, language: str = "kk"):
        super().__init__(language)

    def word_tokenize(self, text: str) -> list[str]:
        return _TOKEN_RE.findall(text)

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        start = 0
        for m in _SENT_END.finditer(text):
            if m.group() == "\n" or _ends_sentence(text, m):
                _add_span(spans, text, start, m.end())
                start = m.end()
        _add_span(spans, text, start, len(text))
        return spans

    def sent_tokenize(self, text: str) -> list[str]:
        return [text[a:b] for a, b in self.span_tokenize(text)]


def _ends_sentence(text: str, m: re.Match) -> bool:
    mark = m.group()
    if mark != ".":  # ! ? … "..." and ".»" always end a sentence
        return True
    nxt = _NEXT_CHAR.match(text, m.end())
    if nxt and nxt.group(1).islower():
        return False
    tail = _LAST_TOKEN.search(text, max(0, m.start() - 12), m.end())
    token = tail.group().lstrip('«"“„([') if tail else ""
    if token.lower() in ABBREVIATIONS:
        return token.lower() in _FINAL_ABBREVIATIONS
    return not _INITIAL.fullmatch(token)


def _add_span(spans: list[tuple[int, int]], text: str, a: int, b: int) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if a < b:
        spans.append((a, b))


KAZAKH_LANGUAGE_CODES = ("kk", "kaz", "kaz_Cyrl", "kk_Cyrl")


def register_kazakh_tokenizer(codes: Iterable[str] = KAZAKH_LANGUAGE_CODES) -> None:
    """Make datatrove's load_word_tokenizer(code) return a KazakhWordTokenizer for the Kazakh codes.

    load_tokenizer_assignments() is memoised, so the dict it returns is the registry every later lookup
    reads; adding our factory there (instead of replacing functions other modules imported by name)
    reaches all datatrove steps. Caches that may hold an older "kk" tokenizer are cleared. Idempotent.
    """
    factories = load_tokenizer_assignments()
    for code in codes:
        factories[code] = KazakhWordTokenizer
    load_word_tokenizer.cache_clear()
    split_into_parts.cache_clear()
