"""Person names in Kazakh and Russian text (Cyrillic and Latin script) -> spans for `<PERSON>` or a pseudonym.

    find_names(text, allow=frozenset()) -> [(start, end, "person"), ...]   sorted, non-overlapping

How a name is found:
1. Tokens. Words (letters, digits, inner hyphens and apostrophes: "Қасым-Жомарт", "әл-Фараби") and single
   punctuation marks, as KazNERD tokenises. A word with an upper-case first letter, or with the particle
   әл-/ал-/ибн-, is a *candidate*; nothing else can be part of a name (lower-case words never are), so
   text without candidates costs one regex scan. Latin-script words are transliterated to Cyrillic
   (data_prep.normalize.latin_to_cyrillic, one scheme per document) before they are looked at, so one
   model covers both scripts.
2. A two-stage averaged perceptron scores each candidate. Stage 1 sees the word (its form, its stem
   without a case ending, suffixes and prefixes, shape, surname and patronymic morphology, the name and
   place lists in assets/names/, whether KazNERD valid writes it in lower case) and facts about two
   words either side ("Абай ауданы" is a district, "министрі Асқар" a person), plus where it stands
   (sentence-initial or not, capitalised neighbours). Stage 2 adds stage 1's verdicts on the neighbours
   and on other mentions of the same stem, so a foreign surname after a known given name ("Виктор
   Орбан") is a name. Both are trained on KazNERD valid only (scripts/train_name_tagger.py); KazNERD test
   is kept for the score (scripts/eval_pii_names.py). The weights ship as assets/names/tagger.json.gz.
   Initials ("И.П. Иванов") are taken out of the token sequence before scoring (their full stops would
   read as sentence ends) and a candidate right after them is a name.
3. Spans. Adjacent name words join into one span, and initials before or after it join it ("Н.Ә.
   Серікбаев", "Серікбаев Н.Ә."). Not a person: a span followed by a place or organisation word in any
   case form ("ауданы", "көшесінде", "атындағы", "университеті": assets/names/name_contexts_after.txt)
   or preceded by one ("улица", "ул.", "имени": name_contexts_before.txt). A sentence's first word is
   cut off a span when it is a listed opener ("Бүгін", "Вчера") or a common word with a Kazakh case
   ending ("Өтінішке Омаров Нұрлан ..."; in a Kazakh name only the last word takes the ending). A span
   whose every word, in any case form, is on the caller's allow-list is kept as written.

Speed: tokens come from numpy over a per-character class table (`token_bounds`, the same tokens as
TOKEN), and only candidates and the two tokens either side of one are made into strings and looked at
(`_windows`). Every feature is a fact about one word at one offset, so a word's contribution to the score
at each offset is summed once and cached (`NameTagger._entry`, one table lookup per feature); scoring a
candidate is then a dozen list reads. Measured: ~17 MB/s on one core with a warm cache, ~10 MB/s from
cold (docs/benchmarks.md).
"""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np

from data_prep.resources import NAMES_DIR

MODEL_PATH = NAMES_DIR / "tagger.json.gz"
# Words KazNERD valid writes in lower case (scripts/train_name_tagger.py): a capitalised word whose lower-case
# form is a common word ("Кейін", "БІРІНШІ", "Бірлік") is rarely a name.
LOWERCASE_WORDS = NAMES_DIR / "lowercase_words.txt.gz"

_UPPER = "A-ZА-ЯЁӘҒҚҢӨҰҮҺІ"
# A word: letters/digits, inner hyphens and apostrophes; otherwise one punctuation mark per token.
TOKEN = re.compile(r"\w+(?:[-'’ʼ]\w+)*|[^\w\s]")
_CANDIDATE = re.compile(rf"[{_UPPER}]|(?i:әл|ал|аль|эль|ибн)-")
_UPPER_FIRST = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZАБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯЁӘҒҚҢӨҰҮҺІ")
_PARTICLE_FIRST = frozenset("әаэи")  # әл-Фараби, ибн-Сина: lower case, yet part of a name
_LATIN = re.compile(r"[A-Za-z]")
_CYRILLIC = re.compile(r"[А-Яа-яЁёӘәҒғҚқҢңӨөҰұҮүҺһІі]")
_INITIAL_IN_TEXT = re.compile(rf"[{_UPPER}]\.(?<![\w.]..)")  # the letter first: a fast scan
_INITIAL = rf"[{_UPPER}]\.(?:\s?[{_UPPER}]\.)?"  # "Н." or "Н.Ә."
_INITIALS_BEFORE = re.compile(rf"(?<!\w){_INITIAL}\s?$")
_INITIALS_AFTER = re.compile(rf"\s?{_INITIAL}(?!\w)")
# The previous token that makes a word sentence-initial, where capitalisation says nothing.
SENTENCE_OPENERS = frozenset('. ! ? « " ( : ; — – - “ „ …'.split())

# Case endings tried longest first (Kazakh, then Russian declension), so a stem is the same for
# Серікбаев / Серікбаевтың / Серікбаевқа and Иванов / Иванова / Ивановым.
_CASE_ENDINGS = tuple(
    sorted(
        set(
            "ның нің дың дің тың тің ға ге қа ке на не ны ні ды ді ты ті да де та те нда нде дан ден тан тен "
            "нан нен мен бен пен дағы дегі тағы тегі ндағы ндегі лар лер дар дер тар тер ның ы і н "
            "а е у ой ом ым ому ого ым ем им ой ей ю ою ая".split()
        ),
        key=len,
        reverse=True,
    )
)
# Surname endings, longest first within the check (plain suffix tests: a regex search per word costs more).
_SURNAME_ENDINGS = (
    "ский",
    "ская",
    "цкий",
    "цкая",
    "енко",
    "ова",
    "ева",
    "ёва",
    "ина",
    "ына",
    "ов",
    "ев",
    "ёв",
    "ин",
    "ын",
    "ук",
    "юк",
)
_PATRONYMIC_PARTS = ("ұлы", "улы", "қызы", "кызы", "ович", "евич", "ьич", "овна", "евна", "ична")
_SURNAME_SUFFIXES = ("қызы", "кызы", "ова", "ева", "ёва", "ина", "ұлы", "улы", "ов", "ев", "ёв", "ин")


_PATRONYMIC = re.compile("|".join(_PATRONYMIC_PARTS))


def _surname_ending(st: str) -> str | None:
    if not st.endswith(_SURNAME_ENDINGS):  # one C-level test for the common case, no ending
        return None
    return next(e for e in _SURNAME_ENDINGS if st.endswith(e))


def _without_surname_suffix(key: str) -> str:
    if not key.endswith(_SURNAME_SUFFIXES):
        return key
    return key[: -len(next(e for e in _SURNAME_SUFFIXES if key.endswith(e)))]


# a list indexed by code point (twice as fast as str.maketrans' dict; past its end a letter stays as it is)
_FOLD = [chr(c) for c in range(0x500)]
for _kk, _ru in zip("әғқңөұүһіё", "агкноуухие"):
    _FOLD[ord(_kk)] = _ru
OFFSETS = ((-2, "p2"), (-1, "p1"), (1, "n1"), (2, "n2"))


def folded_lower(word: str) -> str:
    """Lower case with the Kazakh letters folded to the Russian ones people type for them (Айгерім ==
    Айгерим), the form name lists are looked up in.

    Not data_prep.pii_pseudonym.name_key, which also merges scripts and spellings into ASCII (Nurlan ==
    Нұрлан, Сейітқали == Seitkali): the tagger's features were trained with this narrower key, and this
    fold keeps every letter in place, so the key of a word's stem is a prefix of the word's key
    (_shared_features relies on that)."""
    return word.lower().translate(_FOLD)


_ENDINGS_BY_LENGTH = tuple(
    (n, frozenset(e for e in _CASE_ENDINGS if len(e) == n))
    for n in sorted({len(e) for e in _CASE_ENDINGS}, reverse=True)
)


def stem(word_lower: str) -> str:
    """`word_lower` without its longest case ending (at least three letters are kept)."""
    size = len(word_lower)
    for n, endings in _ENDINGS_BY_LENGTH:
        if size - n >= 3 and word_lower[-n:] in endings:
            return word_lower[:-n]
    return word_lower


# --- name lists -----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NameLists:
    given: frozenset[str]  # folded_lower of given names (Kazakh and Russian, both sexes, diminutives)
    surname_stems: frozenset[str]  # folded_lower of surname stems (Серікбай, Иван) and bare surnames (Ким)
    contexts_after: frozenset[str]  # stems of words after which a name is part of a place/organisation
    contexts_before: frozenset[
        str
    ]  # lower-case words before which it is ("имени", "улица", "ул."), and stems
    places: frozenset[str]  # stems of place names (Қазақстан, Саратов)
    openers: frozenset[str] = frozenset()  # words that open a sentence and are no name (вчера)
    heads: frozenset[str] = frozenset()  # name_contexts_after.txt as written (көшесі, ауданы)
    lowercase: frozenset[str] = frozenset()  # words seen written in lower case (common words)
    lowercase_stems: frozenset[str] = frozenset()  # and their stems


def name_lists() -> NameLists:
    return _LISTS_OVERRIDE[0] or _load_name_lists()


@lru_cache(maxsize=1)
def _load_name_lists() -> NameLists:
    # the list files' one reader (format: assets/names/README.md); imported here, when a name is first
    # looked up
    from data_prep.pii_pseudonym import load_name_list

    given_lists = (
        "kk_given_male",
        "kk_given_female",
        "kk_given_male_ru",
        "kk_given_female_ru",
        "ru_given_male",
        "ru_given_female",
        "ru_diminutive_male",
        "ru_diminutive_female",
    )
    given = {folded_lower(x) for f in given_lists for x in load_name_list(f)}
    surnames = {folded_lower(x) for x in load_name_list("surname_stems_kk")}
    surnames |= {folded_lower(_without_surname_suffix(x.lower())) for x in load_name_list("ru_surnames")}
    heads = frozenset(x.lower() for x in load_name_list("name_contexts_after") if " " not in x)
    before = {x.lower() for x in load_name_list("name_contexts_before") if " " not in x}
    before |= {stem(x) for x in before if not x.endswith(".")}  # "улице Абая" as well as "улица"
    places = {stem(x.lower()) for x in load_name_list("places")}
    lowercase = read_lowercase_words(LOWERCASE_WORDS) if LOWERCASE_WORDS.is_file() else frozenset()
    openers = frozenset(x.lower() for x in load_name_list("sentence_openers"))
    return NameLists(
        frozenset(given),
        frozenset(surnames),
        frozenset(stem(x) for x in heads),
        frozenset(before),
        frozenset(places),
        openers,
        heads,
        lowercase,
        frozenset(stem(w) for w in lowercase),
    )


def read_lowercase_words(path: Path) -> frozenset[str]:
    with gzip.open(path, "rt", encoding="utf-8") as f:
        return frozenset(line.strip() for line in f if line.strip())


def use_lowercase_words(words: frozenset[str]) -> None:
    """Make the features see `words` as the lower-case vocabulary (training and cross-validation build it
    from their own training sentences, so a held-out fold's words are not known in advance)."""
    lists = name_lists()
    patched = replace(lists, lowercase=frozenset(words), lowercase_stems=frozenset(stem(w) for w in words))
    _LISTS_OVERRIDE[0] = patched


_LISTS_OVERRIDE: list[NameLists | None] = [None]


# --- features -------------------------------------------------------------------------------------------
def word_view(token: str, latin_scheme: str | None) -> str:
    """The token as the model sees it: Latin-script Kazakh transliterated to Cyrillic."""
    if latin_scheme and _LATIN.search(token):
        return _transliterated(token, latin_scheme)
    return token


@lru_cache(maxsize=200_000)  # a Latin-script corpus repeats its words like any other
def _transliterated(token: str, scheme: str) -> str:
    from data_prep.transliterate import latin_to_cyrillic

    return latin_to_cyrillic(token, scheme)


def word_features(word: str, own: bool = True) -> tuple[list[str], list[str]]:
    """(self features, context features) of a word: the facts that bear on whether it is itself (part of)
    a name, and those that bear on whether its neighbour is one (the model prefixes them with the
    neighbour's offset). `own=False` skips the first list (a word that cannot be a name needs none)."""
    return _word_features(word, word.lower(), own)


def _word_features(word: str, lw: str, own: bool, st: str | None = None) -> tuple[list[str], list[str]]:
    st = st if st is not None else stem(lw)
    lists = name_lists()
    cand = is_candidate(word)
    shared = _shared_features(lw, st, lists)
    ctx = ["=" + lw, "st=" + st, "s3=" + lw[-3:], *shared]
    if cand:
        ctx.append("cap")
    if not own:
        return [], ctx
    f = [
        "w=" + lw,
        "st=" + st,
        "s2=" + lw[-2:],
        "s3=" + lw[-3:],
        "s4=" + lw[-4:],
        "s5=" + lw[-5:],
        "pre2=" + lw[:2],
        "pre3=" + lw[:3],
        "pre4=" + lw[:4],
        "sts3=" + st[-3:],
        f"len={min(len(lw), 12)}",
        *shared,
    ]
    if word.isupper() and len(word) > 1:
        f.append("allcap")
    if lw in lists.lowercase:
        f.append("lower_seen")
    elif st in lists.lowercase_stems:
        f.append("lower_stem_seen")
    if "-" in word:
        f.append("hyph")
    return f, ctx


def self_features(word: str) -> list[str]:
    return word_features(word)[0]


def context_features(word: str) -> list[str]:
    return word_features(word, own=False)[1]


def _shared_features(lw: str, st: str, lists: NameLists) -> list[str]:
    f = []
    ending = _surname_ending(st)
    if ending:
        f.append("surn=" + ending)
    if _PATRONYMIC.search(lw):
        f.append("patr")
    folded = lw.translate(_FOLD)  # folded_lower(lw); the stem is a prefix of lw and folding keeps lengths
    key = folded[: len(st)]
    if key in lists.given or folded in lists.given:
        f.append("given")
    if key in lists.surname_stems or _without_surname_suffix(key) in lists.surname_stems:
        f.append("surname")
    if st in lists.contexts_after:
        f.append("ctx")
    if lw in lists.contexts_before:
        f.append("ctxb")
    if st in lists.places or lw in lists.places:
        f.append("place")
    return f


def position_features(tokens: list[str], i: int) -> list[str]:
    """Where the token stands: sentence-initial (capitals say nothing there) or not, and whether the
    words either side are candidates too (two capitalised words in mid-sentence are usually a name)."""
    n = len(tokens)
    pos = "first" if i == 0 or tokens[i - 1] in SENTENCE_OPENERS else "cap_mid"
    prev_cand = i > 0 and is_candidate(tokens[i - 1])
    next_cand = i + 1 < n and is_candidate(tokens[i + 1])
    return [pos, f"{pos}&n{int(next_cand)}&p{int(prev_cand)}"]


def stage1_features(tokens: list[str], i: int) -> list[str]:
    """Every stage-1 feature of token i (what training sees; inference sums the same weights per word)."""
    n = len(tokens)
    f = ["b", *self_features(tokens[i]), *position_features(tokens, i)]
    for off, name in OFFSETS:
        j = i + off
        f.extend(name + x for x in context_features(tokens[j])) if 0 <= j < n else f.append(name + "=<none>")
    return f


def _bin(score: float) -> str:
    return "pos" if score > 0 else ("weak" if score > -1 else "neg")


def stage2_extra_features(
    tokens: list[str], i: int, scores1: list[float], named_stems: dict[str, int], stems: list[str]
) -> list[str]:
    """Stage 2's features beyond stage 1's: stage 1's verdicts on the token, its neighbours and the other
    mentions of its stem (`named_stems`: stem -> how many tokens with it stage 1 called a name)."""
    n = len(tokens)
    f = ["self" + _bin(scores1[i])]
    for off, name in OFFSETS:
        j = i + off
        if 0 <= j < n:
            f.append(name.upper() + _bin(scores1[j]))
    if named_stems.get(stems[i], 0) > (scores1[i] > 0):
        f.append("samestem")
    return f


def named_stem_counts(stems: list[str], scores1: list[float]) -> dict[str, int]:
    out: dict[str, int] = {}
    for st, s in zip(stems, scores1):
        if s > 0:
            out[st] = out.get(st, 0) + 1
    return out


NOT_CANDIDATE = -9.0  # stage-1 score given to tokens that cannot be names


def is_candidate(token: str) -> bool:
    c = token[0]
    return c in _UPPER_FIRST or (
        c in _PARTICLE_FIRST and "-" in token and _CANDIDATE.match(token) is not None
    )


def candidate_indices(tokens: list[str]) -> list[int]:
    upper, particle = _UPPER_FIRST, _PARTICLE_FIRST
    return [i for i, v in enumerate(tokens) if v[0] in upper or (v[0] in particle and is_candidate(v))]


# --- the model ------------------------------------------------------------------------------------------
_BINS = ("pos", "weak", "neg")
_ZEROS8 = [0.0] * 8


class NameTagger:
    """The two-stage model with every weight pre-summed per word (see the module docstring)."""

    def __init__(
        self,
        stage1: dict[str, float],
        stage2: dict[str, float],
        threshold: float = 0.0,
        max_words: int = 200_000,
    ) -> None:
        self.stage1, self.stage2, self.threshold, self.max_words = stage1, stage2, threshold, max_words
        self._cache: dict[str, tuple] = {}
        w1, w2 = stage1, stage2
        self._b1, self._b2 = w1.get("b", 0.0), w2.get("b", 0.0)
        # position weights at index 4 * sentence-initial + 2 * previous is a candidate + next is a candidate
        self._pos = [
            [
                w.get(pos, 0.0) + w.get(f"{pos}&n{int(nx)}&p{int(p)}", 0.0)
                for pos in ("cap_mid", "first")
                for p in (False, True)
                for nx in (False, True)
            ]
            for w in (w1, w2)
        ]
        # the entry of the two padding tokens either side of the text: an "opener" with the <none> weights
        self._pad = (
            False,
            "",
            True,
            0.0,
            *(w1.get(n + "=<none>", 0.0) for _, n in OFFSETS),
            0.0,
            *(w2.get(n + "=<none>", 0.0) for _, n in OFFSETS),
        )
        # stage-2 weights of stage 1's verdicts: [offset][bin], offset 0 = the token itself
        self._verdict = [
            [*(w2.get(prefix + b, 0.0) for b in _BINS), 0.0]  # [3]: padding, no feature
            for prefix in ("self", *(n.upper() for _, n in OFFSETS))
        ]
        self._samestem = w2.get("samestem", 0.0)
        # Per feature, its weights in both stages: as a word's own feature (2 floats), and as a neighbour's
        # feature at each offset (8 floats: stage 1 p2 p1 n1 n2, stage 2 likewise). One lookup per feature.
        keys = set(w1) | set(w2)
        self._own = {x: (w1.get(x, 0.0), w2.get(x, 0.0)) for x in keys}
        ctx: dict[str, list[float]] = {}
        for x in keys:
            for k, (_, name) in enumerate(OFFSETS):
                if x.startswith(name):
                    row = ctx.setdefault(x[len(name) :], [0.0] * 8)
                    row[k], row[4 + k] = w1.get(x, 0.0), w2.get(x, 0.0)
        self._ctx = {x: tuple(row) for x, row in ctx.items()}

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> NameTagger:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            blob = json.load(f)
        return cls(blob["stage1"], blob["stage2"], blob.get("threshold", 0.0))

    def _entry(self, word: str) -> tuple:
        """(candidate?, stem, sentence opener?, stage-1 sums as self/p2/p1/n1/n2, stage-2 sums likewise)."""
        hit = self._cache.get(word)
        if hit is not None:
            return hit
        cand = is_candidate(word)
        lw = word.lower()
        st = stem(lw)
        own, ctx = _word_features(word, lw, cand, st)
        s1 = s2 = 0.0
        table = self._own
        for x in own:
            t = table.get(x)
            if t is not None:
                s1 += t[0]
                s2 += t[1]
        table = self._ctx
        rows = [t for t in map(table.get, ctx) if t is not None]
        c = rows[0] if len(rows) == 1 else ([sum(col) for col in zip(*rows)] if rows else _ZEROS8)
        if len(self._cache) >= self.max_words:
            self._cache.clear()  # bounded: a corpus has a long tail of rare words
        hit = (cand, st, word in SENTENCE_OPENERS, s1, *c[:4], s2, *c[4:])
        self._cache[word] = hit
        return hit

    def score(self, views: list[str]) -> list[float]:
        """Stage-2 score of every token (NOT_CANDIDATE for tokens that cannot be names); equal to summing
        the weights of stage1_features + stage2_extra_features, as training does."""
        out = [NOT_CANDIDATE] * len(views)
        for i, s in self._scored(views):
            out[i] = s
        return out

    def names(self, views: list[str], cands: list[int] | None = None) -> list[int]:
        """Indices of the tokens scored above the threshold, ascending (`cands`: candidate_indices(views))."""
        th = self.threshold
        return [i for i, s in self._scored(views, cands) if s > th]

    def _scored(self, views: list[str], cands: list[int] | None = None) -> list[tuple[int, float]]:
        if cands is None:
            cands = candidate_indices(views)
        if not cands:
            return []
        # Positions are shifted by 2: two padding entries either side spare the bounds checks.
        cands = [i + 2 for i in cands]
        get, entry, pad = self._cache.get, self._entry, self._pad
        # every token is looked up: find_names passes only candidates and the two tokens either side of one
        e: list = [pad, pad, *[get(w) or entry(w) for w in views], pad, pad]
        pos1, pos2 = self._pos
        b1, b2 = self._b1, self._b2
        # stage 1's verdict per position: 0 pos, 1 weak, 2 neg (every non-candidate), 3 padding (no feature)
        bins = [3, 3, *[2] * len(views), 3, 3]
        named: dict[str, int] = {}
        for i in cands:
            ei = e[i]
            ep, en = e[i - 1], e[i + 1]
            s = b1 + ei[3] + e[i - 2][4] + ep[5] + en[6] + e[i + 2][7] + pos1[4 * ep[2] + 2 * ep[0] + en[0]]
            if s > 0:
                bins[i] = 0
                named[ei[1]] = named.get(ei[1], 0) + 1
            elif s > -1:
                bins[i] = 1
        vself, vp2, vp1, vn1, vn2 = self._verdict
        samestem = self._samestem
        out = []
        for i in cands:
            ei = e[i]
            ep, en = e[i - 1], e[i + 1]
            s = (
                b2
                + ei[8]
                + e[i - 2][9]
                + ep[10]
                + en[11]
                + e[i + 2][12]
                + pos2[4 * ep[2] + 2 * ep[0] + en[0]]
                + vself[bins[i]]
                + vp2[bins[i - 2]]
                + vp1[bins[i - 1]]
                + vn1[bins[i + 1]]
                + vn2[bins[i + 2]]
            )
            if named.get(ei[1], 0) > (bins[i] == 0):  # another mention of the stem was called a name
                s += samestem
            out.append((i - 2, s))
        return out


@lru_cache(maxsize=1)
def default_tagger() -> NameTagger:
    return NameTagger.load()


# --- tokens, all at once ------------------------------------------------------------------------------
# TOKEN's tokens computed over the characters with numpy rather than one match object per token: the text is
# classified character by character (a table over the Basic Multilingual Plane), and tokens begin and end
# where the classes change. Same tokens as TOKEN.finditer (tests/test_pii_names.py checks hostile text),
# 4x faster.
_WORD, _CAPITAL, _JOINER, _PUNCT, _SPACE = range(5)  # _CAPITAL: a word character that makes a candidate
_JOINERS = "-'’ʼ"
_PARTICLE = re.compile(r"(?i:әл|ал|аль|эль|ибн)-")


def _classes(chars: str) -> np.ndarray:
    r"""Space, word or punctuation per character, as TOKEN's \w and \s see it (capitals and joiners:
    below)."""
    k = np.full(len(chars), _PUNCT, dtype=np.uint8)
    for pattern, cls in ((r"\s+", _SPACE), (r"\w+", _WORD)):
        for m in re.finditer(pattern, chars):
            k[m.start() : m.end()] = cls
    return k


@lru_cache(maxsize=1)
def _bmp_classes() -> np.ndarray:
    k = _classes("".join(map(chr, range(0x10000))))
    k[[ord(c) for c in _UPPER_FIRST]] = _CAPITAL
    joiners = [ord(c) for c in _JOINERS]
    k[joiners] = np.where(
        k[joiners] == _PUNCT, _JOINER, k[joiners]
    )  # ʼ is a letter (U+02BC), a word character
    return k


def token_bounds(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(starts, ends, is_candidate) of the tokens TOKEN finds in `text`, as arrays."""
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    k = _bmp_classes().take(np.minimum(cp, 0xFFFF))
    if len(cp) and int(cp.max()) > 0xFFFF:  # emoji and other astral characters: classified one by one
        astral = np.flatnonzero(cp > 0xFFFF)
        k[astral] = _classes("".join(chr(c) for c in cp[astral].tolist()))
    n = len(k)
    word = np.zeros(n + 2, dtype=bool)
    word[1:-1] = k <= _CAPITAL
    joiner = k == _JOINER
    joined = joiner & word[:-2] & word[2:]  # one hyphen or apostrophe between word characters: "Қасым-Жомарт"
    wordish = word  # reused: the word characters and the joined joiners, padded with False either side
    wordish[1:-1] |= joined
    single = (k == _PUNCT) | (joiner & ~joined)  # every other non-space character is a token of its own
    inner = wordish[1:-1]
    starts = np.flatnonzero((inner & ~wordish[:-2]) | single)
    ends = np.flatnonzero((inner & ~wordish[2:]) | single) + 1
    candidate = k.take(starts) == _CAPITAL
    if _PARTICLE_HINT.search(text):  # "әл-Фараби", "ибн-Сина": lower case, yet a candidate
        for m in _PARTICLE.finditer(text):
            i = int(np.searchsorted(starts, m.start()))
            if (
                i < len(starts)
                and starts[i] == m.start()
                and text[m.start()] in _PARTICLE_FIRST
                and ends[i] >= m.end()
            ):
                candidate[i] = True
    return starts, ends, candidate


_PARTICLE_HINT = re.compile(r"[лЛьЬнН]-")


def _windows(candidates: np.ndarray, n: int) -> np.ndarray:
    """Indices of the tokens within two of a candidate, ascending. Scoring a candidate reads two tokens either
    side of it (and initials, which are candidates themselves, bring their own two), so the tokens outside
    these windows are never looked at, and the windows laid end to end score exactly like the whole text."""
    near = np.zeros(n + 4, dtype=bool)
    for offset in range(5):
        near[candidates + offset] = True
    return np.flatnonzero(near[2:-2])


# --- spans ----------------------------------------------------------------------------------------------
def find_names(
    text: str, allow: frozenset[str] = frozenset(), tagger: NameTagger | None = None
) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, "person") spans of person names in `text`, sorted by start.

    `allow`: words kept as written (`allow_keys` of the names a source may keep)."""
    if not _CANDIDATE.search(text):
        return []
    tagger = tagger or default_tagger()
    starts, ends, candidate = token_bounds(text)
    scheme = _latin_scheme(text) if _LATIN.search(text) else None
    if scheme:  # transliteration can make a token a candidate ("al-Farabi"): every token is looked at
        keep_tokens = np.arange(len(starts))
    else:
        keep_tokens = _windows(np.flatnonzero(candidate), len(starts))
    starts, ends = starts.take(keep_tokens).tolist(), ends.take(keep_tokens).tolist()
    views = [text[a:b] for a, b in zip(starts, ends)]
    if scheme:
        views = [word_view(t, scheme) for t in views]
        cands = candidate_indices(views)
    else:
        cands = np.flatnonzero(candidate.take(keep_tokens)).tolist()
    keep = _without_initials(views) if _INITIAL_IN_TEXT.search(text) else None
    if keep is None:
        hits = tagger.names(views, cands)
    else:
        # Initials ("И.П. Иванов") are scored out of the way: their full stops would read as sentence ends.
        # A word right after initials is a name unless it heads a place ("Ж. Баласағұн атындағы" is
        # dropped as such in _spans).
        shown = [views[i] for i in keep]
        hits = sorted(
            {keep[i] for i in tagger.names(shown)}
            | {
                i
                for i in keep
                if i >= 2 and views[i - 1] == "." and _is_initial(views[i - 2]) and is_candidate(views[i])
            }
        )
    return _spans(text, starts, ends, views, hits, allow) if hits else []


def _is_initial(token: str) -> bool:
    return len(token) == 1 and token.isupper()


def _without_initials(views: list[str]) -> list[int] | None:
    """Indices of the tokens other than initials (a capital letter and its full stop), or None if the text
    has none (the usual case: one pass over the tokens)."""
    n = len(views)
    drop = {j for i in range(n - 1) if views[i + 1] == "." and _is_initial(views[i]) for j in (i, i + 1)}
    if not drop:
        return None
    return [i for i in range(n) if i not in drop]


def _latin_scheme(text: str) -> str | None:
    """The Kazakh Latin alphabet to read Latin words in, or None when they are foreign words in Cyrillic
    text (brand names, English quotes), which stay as written."""
    from data_prep.transliterate import detect_latin_kazakh

    scheme = detect_latin_kazakh(text)
    if scheme is None and not _CYRILLIC.search(text):
        scheme = "2021"  # a short Latin-only text ("Aigerim Seitkali"): too little to vote on
    return scheme


def allow_keys(names: list[str] | tuple[str, ...] | frozenset[str]) -> frozenset[str]:
    """The allow-list form of names: every word of each name, case-folded, as written and without a case
    ending, so that any case form of an allowed word matches (Құнанбайұлы, Құнанбайұлының)."""
    words = [w.lower() for n in names for w in re.findall(r"\w+(?:-\w+)*", n)]
    return frozenset(folded_lower(w) for w in words) | frozenset(folded_lower(stem(w)) for w in words)


def _spans(
    text: str, starts: list[int], ends: list[int], views: list[str], hits: list[int], allow: frozenset[str]
) -> list[tuple[int, int, str]]:
    lists = name_lists()
    out: list[tuple[int, int, str]] = []
    n, k = len(views), 0
    while k < len(hits):
        i = j = hits[k]
        while k + 1 < len(hits) and hits[k + 1] == j + 1:  # adjacent name words are one name
            k += 1
            j += 1
        k += 1
        if j > i and _is_opener_word(views, i, lists):
            # "Бүгін Серікбаев Нұрлан ...", "Вчера Пётр Ильич ...": the sentence's first word is no name
            i += 1
        # a place or organisation named after a person: "Абай ауданы", "Назарбаев Университеті"
        if (j + 1 < n and _heads_a_place(views[j + 1], lists)) or _after_a_place_word(views, i, lists):
            continue
        if allow and all(_allowed(views[x], allow) for x in range(i, j + 1) if views[x][0].isalpha()):
            continue
        start, end = _with_initials(text, starts[i], ends[j])
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]), "person")
        else:
            out.append((start, end, "person"))
    return out


def _after_a_place_word(views: list[str], i: int, lists: NameLists) -> bool:
    """Preceded by a word that makes the name part of a place or organisation: "улице Абая", "имени
    Абая", "ул. Абая" (the abbreviation's full stop is a token of its own)."""
    if i == 0:
        return False
    prev = views[i - 1].lower()
    if prev == "." and i > 1:
        return views[i - 2].lower() + "." in lists.contexts_before
    return prev in lists.contexts_before or stem(prev) in lists.contexts_before


# Kazakh case endings that no name ends in (-на, -да, -та are left out: Дана, Мадина, Айтолқын-да ...).
_UNMISTAKABLE_KK_ENDINGS = tuple(
    (
        "ға ге қа ке ның нің дың дің тың тің ды ді ты ті ны ні дан ден тан тен нан нен мен бен пен нда нде"
    ).split()
)


def _heads_a_place(word: str, lists: NameLists) -> bool:
    """A place or organisation word in any case form: "көшесі", "көшесінде", "университетінің" (each
    case ending is a suffix of the word, so the listed form is a prefix of it)."""
    w = word.lower()
    return any(w[:k] in lists.heads for k in range(len(w), 3, -1))


def _is_opener_word(views: list[str], i: int, lists: NameLists) -> bool:
    """The sentence's first word is no part of the name after it when it is a listed opener ("Бүгін",
    "Вчера", assets/names/sentence_openers.txt), or a common word (written in lower case elsewhere, no
    given name) with a case ending: in "Өтінішке Омаров Нұрлан ..." the dative belongs to the sentence,
    and in a Kazakh name only the last word takes the ending."""
    if i > 0 and views[i - 1] not in SENTENCE_OPENERS:
        return False
    lw = views[i].lower()
    if lw in lists.openers:
        return True
    if folded_lower(lw) in lists.given or folded_lower(stem(lw)) in lists.given:
        return False
    return (lw in lists.lowercase and stem(lw) != lw) or lw.endswith(_UNMISTAKABLE_KK_ENDINGS)


def _allowed(word: str, allow: frozenset[str]) -> bool:
    lw = word.lower()
    return folded_lower(lw) in allow or folded_lower(stem(lw)) in allow


def _with_initials(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen a name span over initials written before ("Н.Ә. Серікбаев") or after ("Серікбаев Н.Ә.") it."""
    before = _INITIALS_BEFORE.search(text[max(0, start - 8) : start])
    if before:
        start -= len(before.group())
    after = _INITIALS_AFTER.match(text[end : end + 8])
    if after:
        end += len(after.group())
    return start, end
