"""Kazakh-tuned text-quality filtering as datatrove steps: Gopher quality and repetition rules and FineWeb
line rules, on the offline regex word tokeniser of data_prep.kk_words.

Defaults start from FineWeb-2's kaz_Cyrl values as given in our issue (line punctuation 0.176, duplicate
lines 0.304, newline/word ratio 0.186, mean word length 3-12, alphabetic-word share 0.694); the other
thresholds are Gopher's / FineWeb's. Every threshold is a constructor argument; None disables a rule.

A filter returns True (keep) or (False, reason), the reason being one of these exact strings:

    KazakhGopherQualityFilter     quality: too_few_words, too_many_words, mean_word_length_low,
                                  mean_word_length_high, hash_ratio, ellipsis_ratio, bullet_lines,
                                  ellipsis_lines, non_alpha_words, stop_words
    KazakhGopherRepetitionFilter  repetition: dup_para_frac, dup_para_char_frac, dup_line_frac,
                                  dup_line_char_frac, top_{n}_gram, dup_{n}_gram (n as configured)
    KazakhFineWebQualityFilter    quality: line_punctuation, short_lines, char_duplicates, newline_ratio
    all of the above, and
    EmptyDocumentFilter           quality:empty, quality:empty_after_boilerplate

"quality:empty_after_boilerplate" means data_prep.line_transforms.BoilerplateLineRemover (a text step, not
a filter) removed every line; it counts the lines it removed in doc.metadata["boilerplate_lines_removed"].
The URL block list is a filter on where a document comes from: data_prep.filters.UrlBlocklistFilter.

Speed: the filters share one lazily computed _DocStats per text (tokens, lines, ...), so a document is
tokenised once however many filters look at it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from functools import cached_property
from itertools import compress
from operator import itemgetter, ne

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter
from datatrove.utils.text import TERMINAL_PUNCTUATION

from data_prep.kk_words import KazakhWordTokenizer
from data_prep.letters import ANY_LETTER

# --------------------------------------------------------------------------------------------- stop words
# Function words only (conjunctions, particles, postpositions, pronouns, auxiliaries): present in any
# running Kazakh text whatever its topic, rare in menus, tables and keyword spam.
KAZAKH_STOP_WORDS = frozenset(
    """
және мен бен пен да де та те әрі ал бірақ алайда дегенмен немесе не әлде болмаса яғни егер өйткені себебі
сондықтан сонымен сондай-ақ тіпті әсіресе мысалы ма ме ба бе па пе ғой қой ғана қана тек шығар екен еді
үшін туралы жайлы жөнінде бойынша арқылы кейін дейін сияқты секілді сайын қарай бері соң бұрын кезде
кезінде арасында бірге гөрі қарамастан басқа ішінде сен сіз ол біз олар менің сенің сіздің оның біздің
олардың маған оған бізге оларға мені оны бізді оларды бұл осы сол мына ана анау мынау мұның осының соның
мұны соны бұған осыған соған мұнда онда сонда өз өзі өзінің өзін барлық бәрі бүкіл әр әрбір кейбір
бірнеше кім қандай қалай қашан қайда неге неліктен қанша қай бар жоқ емес болды болып болады болған болса
деп деді дейді деген етіп етті етеді тиіс керек мүмкін ең өте тым аса қазір енді әлі тағы бір
""".split()
)
# The replay languages of continued pretraining (the base model's own languages, kept with
# prep.keep_languages [kk, ru, en]) get their own function words: a Russian or English article has no
# Kazakh ones and would all be rejected as quality:stop_words. English is Gopher's list plus the most
# frequent function words; Russian the same kind of list.
RUSSIAN_STOP_WORDS = frozenset(
    """
и в во не на с со что как а по но к у из за от о об для это так же то все всё он она оно они мы вы я его
ее её их бы был была были было быть есть или уже только если когда даже при до после чтобы также этот эта
эти это тот та те который которая которые может где ещё еще нет очень между через над под без про ли
""".split()
)
ENGLISH_STOP_WORDS = frozenset(
    """
the be to of and that have with a an in is are was were for it on as this by from or at not but which
""".split()
)
STOP_WORDS_BY_LANGUAGE = {"kk": KAZAKH_STOP_WORDS, "ru": RUSSIAN_STOP_WORDS, "en": ENGLISH_STOP_WORDS}
"""Which list the stop-word rule uses for a document's metadata.language (kk when it has none); a language
without a list (e.g. ky kept on purpose) skips the rule rather than being rejected by Kazakh words."""

# ------------------------------------------------------------------------------------ per-document stats
_PARAGRAPH_SPLIT = re.compile(r"\n[ \t]*\n\s*")
_TOKENIZER = KazakhWordTokenizer()


class _DocStats:
    """What the filters derive from one text, each computed on first use and then shared."""

    def __init__(self, text: str):
        self.text = text

    @cached_property
    def lines(self) -> list[str]:
        """Non-blank lines, stripped."""
        return [s for s in (line.strip() for line in self.text.split("\n")) if s]

    @cached_property
    def paragraphs(self) -> list[str]:
        return [p for p in (p.strip() for p in _PARAGRAPH_SPLIT.split(self.text)) if p]

    @cached_property
    def tokens(self) -> list[str]:
        return _TOKENIZER.word_tokenize(self.text)

    @cached_property
    def words(self) -> list[str]:
        """Tokens that are not punctuation: every other token starts with a letter or a digit."""
        tokens = self.tokens
        return list(compress(tokens, map(str.isalnum, map(itemgetter(0), tokens))))

    @cached_property
    def n_alpha_tokens(self) -> int:
        """Tokens with at least one letter. Most are all letters, so only the rest go through a regex."""
        words = self.words
        others = [w for w in words if not w.isalpha()]
        return len(words) - len(others) + sum(map(bool, map(ANY_LETTER.search, others)))


_last_stats: _DocStats | None = None


def doc_stats(text: str) -> _DocStats:
    """Stats of `text`, reused while consecutive filters look at the same string object.

    Steps pass each document through the whole chain before reading the next one, so a one-entry cache
    keyed on identity (we hold a reference, so the id cannot be recycled) always hits and never grows.
    """
    global _last_stats
    stats = _last_stats
    if stats is None or stats.text is not text:
        stats = _last_stats = _DocStats(text)
    return stats


def _empty_reason(doc: Document) -> str | None:
    if doc.text.strip():
        return None
    emptied = doc.metadata.get("boilerplate_lines_removed")
    return "quality:empty_after_boilerplate" if emptied else "quality:empty"


def _duplicates(items: list[str]) -> tuple[int, int]:
    """Number of items that repeat an earlier one, and their total length in characters."""
    counts = Counter(items)
    return len(items) - len(counts), sum(len(item) * (k - 1) for item, k in counts.items() if k > 1)


class EmptyDocumentFilter(BaseFilter):
    """Drops documents with no visible text; run it right after BoilerplateLineRemover."""

    name = "🕳 empty documents"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reason = _empty_reason(doc)
        return (False, reason) if reason else True


# ---------------------------------------------------------------------------------------- Gopher quality
# Bullets as Gopher counts them. En/em dashes are left out on purpose: Kazakh prose opens every line of
# dialogue with "–" or "—", and that is running text, not a list.
_BULLETS = ("•", "-", "●", "▪", "◦", "*", "·")
_ELLIPSES = ("...", "…")


class KazakhGopherQualityFilter(BaseFilter):
    """Gopher quality rules (Rae et al. 2021, appendix A) with Kazakh word lengths and stop words."""

    name = "🥇 Gopher quality (kk)"

    def __init__(
        self,
        min_doc_words: int | None = 50,
        max_doc_words: int | None = 100_000,
        min_avg_word_length: float | None = 3,
        max_avg_word_length: float | None = 12,
        max_symbol_word_ratio: float | None = 0.1,
        max_bullet_lines_ratio: float | None = 0.9,
        max_ellipsis_lines_ratio: float | None = 0.3,
        min_alpha_words_ratio: float | None = 0.694,
        min_stop_words: int | None = 2,
        stop_words: Iterable[str] | None = None,
        exclusion_writer: DiskWriter | None = None,
    ):
        """min_alpha_words_ratio is FineWeb-2's `max_non_alpha_words_ratio` (a misnomer kept there): the
        share of words (tokens that are not punctuation) that contain a letter. min_stop_words counts distinct
        stop words (case-insensitive)."""
        super().__init__(exclusion_writer)
        self.min_doc_words, self.max_doc_words = min_doc_words, max_doc_words
        self.min_avg_word_length, self.max_avg_word_length = min_avg_word_length, max_avg_word_length
        self.max_symbol_word_ratio = max_symbol_word_ratio
        self.max_bullet_lines_ratio = max_bullet_lines_ratio
        self.max_ellipsis_lines_ratio = max_ellipsis_lines_ratio
        self.min_alpha_words_ratio = min_alpha_words_ratio
        self.min_stop_words = min_stop_words
        # one list for every document when given; else the document's language picks it
        self.stop_words = None if stop_words is None else frozenset(w.lower() for w in stop_words)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if reason := _empty_reason(doc):
            return False, reason
        text = doc.text
        st = doc_stats(text)
        words, n_tokens = st.words, len(st.tokens)
        if self.min_doc_words and len(words) < self.min_doc_words:
            return False, "quality:too_few_words"
        if self.max_doc_words and len(words) > self.max_doc_words:
            return False, "quality:too_many_words"
        if not words:  # only punctuation, with the length rule switched off
            return False, "quality:too_few_words"

        mean_len = sum(map(len, words)) / len(words)
        if self.min_avg_word_length and mean_len < self.min_avg_word_length:
            return False, "quality:mean_word_length_low"
        if self.max_avg_word_length and mean_len > self.max_avg_word_length:
            return False, "quality:mean_word_length_high"

        max_symbols = self.max_symbol_word_ratio
        if max_symbols and text.count("#") / n_tokens > max_symbols:
            return False, "quality:hash_ratio"
        if max_symbols and (text.count("...") + text.count("…")) / n_tokens > max_symbols:
            return False, "quality:ellipsis_ratio"

        lines = st.lines
        if self.max_bullet_lines_ratio is not None:
            bullets = sum(1 for line in lines if line.startswith(_BULLETS))
            if bullets / len(lines) > self.max_bullet_lines_ratio:
                return False, "quality:bullet_lines"
        if self.max_ellipsis_lines_ratio is not None:
            ellipses = sum(1 for line in lines if line.endswith(_ELLIPSES))
            if ellipses / len(lines) > self.max_ellipsis_lines_ratio:
                return False, "quality:ellipsis_lines"

        # Over words, punctuation tokens aside: Kazakh dialogue opens every line with a dash and would
        # otherwise fail on its punctuation; number and symbol runs (tables, prices) still fail.
        if self.min_alpha_words_ratio and st.n_alpha_tokens / max(len(words), 1) < self.min_alpha_words_ratio:
            return False, "quality:non_alpha_words"

        stop_words = self.stop_words
        if stop_words is None:
            stop_words = STOP_WORDS_BY_LANGUAGE.get((doc.metadata or {}).get("language") or "kk")
        if self.min_stop_words and stop_words:
            # stop words are common: the first few hundred words almost always settle it
            found = stop_words.intersection(map(str.lower, words[:256]))
            if len(found) < self.min_stop_words and len(words) > 256:
                found = stop_words.intersection(map(str.lower, words))
            if len(found) < self.min_stop_words:
                return False, "quality:stop_words"
        return True


# ------------------------------------------------------------------------------------- Gopher repetition
class KazakhGopherRepetitionFilter(BaseFilter):
    """Gopher repetition rules (Rae et al. 2021, table A1) over our tokeniser's words (punctuation left
    out, so n-grams are word n-grams). Character fractions are relative to the whole text, as in datatrove.
    """

    name = "👯 Gopher repetition (kk)"

    def __init__(
        self,
        dup_line_frac: float | None = 0.304,
        dup_para_frac: float | None = 0.3,
        dup_line_char_frac: float | None = 0.2,
        dup_para_char_frac: float | None = 0.2,
        top_n_grams: Iterable[tuple[int, float]] = ((2, 0.2), (3, 0.18), (4, 0.16)),
        dup_n_grams: Iterable[tuple[int, float]] = (
            (5, 0.15),
            (6, 0.14),
            (7, 0.13),
            (8, 0.12),
            (9, 0.11),
            (10, 0.10),
        ),
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer)
        self.dup_line_frac, self.dup_line_char_frac = dup_line_frac, dup_line_char_frac
        self.dup_para_frac, self.dup_para_char_frac = dup_para_frac, dup_para_char_frac
        self.top_n_grams = tuple(top_n_grams)
        self.dup_n_grams = tuple(sorted(dup_n_grams))

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if reason := _empty_reason(doc):
            return False, reason
        st = doc_stats(doc.text)
        n_chars = len(doc.text)

        paragraphs = st.paragraphs
        n_dup, dup_chars = _duplicates(paragraphs)
        if self.dup_para_frac is not None and n_dup / len(paragraphs) > self.dup_para_frac:
            return False, "repetition:dup_para_frac"
        if self.dup_para_char_frac is not None and dup_chars / n_chars > self.dup_para_char_frac:
            return False, "repetition:dup_para_char_frac"

        lines = st.lines
        n_dup, dup_chars = _duplicates(lines)
        if self.dup_line_frac is not None and n_dup / len(lines) > self.dup_line_frac:
            return False, "repetition:dup_line_frac"
        if self.dup_line_char_frac is not None and dup_chars / n_chars > self.dup_line_char_frac:
            return False, "repetition:dup_line_char_frac"

        words = st.words
        top_word_count = longest = 0
        if self.top_n_grams and words:
            # An n-gram occurs at most as often as its commonest word: when even that bound stays under a
            # threshold the n-gram count is skipped, which is the usual case and saves most of the time.
            top_word_count = Counter(words).most_common(1)[0][1]
            longest = max(map(len, words))
        for n, max_frac in self.top_n_grams:
            if len(words) < n or top_word_count * (n * longest + n - 1) / n_chars <= max_frac:
                continue
            # tuples instead of joined strings: hashing reuses each word's cached hash
            gram, times = Counter(zip(*(words[i:] for i in range(n)))).most_common(1)[0]
            if times > 1 and (sum(map(len, gram)) + n - 1) * times / n_chars > max_frac:
                return False, f"repetition:top_{n}_gram"

        limits = dict(self.dup_n_grams)
        for n, chars in _dup_ngram_chars(words, list(limits)):
            if chars / n_chars > limits[n]:
                return False, f"repetition:dup_{n}_gram"
        return True


def _dup_ngram_chars(words: list[str], sizes: list[int]) -> Iterator[tuple[int, int]]:
    """(n, characters in n-grams that repeat an earlier one) for each n of `sizes` (ascending), stopping
    after the first n with no repeat (no repeated n-gram, no repeated longer one). After a counted repeat the
    next n-1 positions are skipped so overlapping repeats are not counted twice (datatrove's
    find_all_duplicate walk, except that "earlier" means anywhere before, even inside a skipped window).

    Only the first n looks at every position. An (n+1)-gram at i repeats one at j < i only if the n-grams at
    i and j are equal, so every later n looks only at the positions the previous one found repeating and at
    the first occurrences they repeat: a handful, where a pass over the whole document would cost as much
    as the first."""
    positions: list[int] | None = None  # None: every position
    for n in sizes:
        if positions is None:
            grams = list(zip(*(words[i:] for i in range(n))))
            where: Sequence[int] = range(len(grams))
            at: Sequence | dict = grams  # position -> its gram
        else:
            where = [i for i in positions if i + n <= len(words)]
            grams = [tuple(words[i : i + n]) for i in where]
            at = dict(zip(where, grams))
        first = dict(zip(reversed(grams), reversed(where)))  # gram -> its earliest position
        if len(first) == len(grams):
            return
        repeats = list(compress(where, map(ne, map(first.__getitem__, grams), where)))
        chars = next_free = 0
        for i in repeats:
            if i >= next_free:
                chars += sum(map(len, at[i]))
                next_free = i + n
        yield n, chars
        positions = sorted({*repeats, *(first[at[i]] for i in repeats)})


# ---------------------------------------------------------------------------------------- FineWeb rules
# Terminal punctuation plus what closes a Kazakh sentence that ends in a quotation: » ” " and …
KAZAKH_STOP_CHARS = tuple(sorted(set(TERMINAL_PUNCTUATION) | {"»", "”", '"', "…", "’"}))


class KazakhFineWebQualityFilter(BaseFilter):
    """FineWeb's line rules: share of lines ending in punctuation, share of short lines, characters in
    duplicated lines, and newlines per token (lists and menus have many)."""

    name = "🍷 FineWeb quality (kk)"

    def __init__(
        self,
        line_punct_thr: float | None = 0.176,
        line_punct_exclude_zero: bool = False,
        stop_chars: tuple[str, ...] = KAZAKH_STOP_CHARS,
        short_line_thr: float | None = 0.67,
        short_line_length: int = 30,
        char_duplicates_ratio: float | None = 0.01,
        new_line_ratio: float | None = 0.186,
        exclusion_writer: DiskWriter | None = None,
    ):
        super().__init__(exclusion_writer)
        self.line_punct_thr, self.line_punct_exclude_zero = line_punct_thr, line_punct_exclude_zero
        self.stop_chars = tuple(stop_chars)
        self.short_line_thr, self.short_line_length = short_line_thr, short_line_length
        self.char_duplicates_ratio = char_duplicates_ratio
        self.new_line_ratio = new_line_ratio

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if reason := _empty_reason(doc):
            return False, reason
        text = doc.text
        st = doc_stats(text)
        lines = st.lines
        if self.line_punct_thr is not None:
            ratio = sum(1 for line in lines if line.endswith(self.stop_chars)) / len(lines)
            if ratio < self.line_punct_thr and not (ratio == 0 and self.line_punct_exclude_zero):
                return False, "quality:line_punctuation"
        if self.short_line_thr is not None:
            ratio = sum(1 for line in lines if len(line) <= self.short_line_length) / len(lines)
            if ratio > self.short_line_thr:
                return False, "quality:short_lines"
        dup_chars = _duplicates(lines)[1] if self.char_duplicates_ratio is not None else 0
        if dup_chars and dup_chars / (len(text) - text.count("\n")) > self.char_duplicates_ratio:
            return False, "quality:char_duplicates"
        if self.new_line_ratio is not None and text.count("\n") / len(st.tokens) > self.new_line_ratio:
            return False, "quality:newline_ratio"
        return True
