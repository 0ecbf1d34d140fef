"""Offline language identification: a small naive Bayes model over character 1-4-grams.

Tells Kazakh apart from the languages it is most often confused with in web crawls: the close Cyrillic
Turkic languages (Kyrgyz, Tatar, Bashkir), the Cyrillic Slavic ones (Russian, Ukrainian, Belarusian),
the Latin Turkic ones (Turkish, Uzbek) and English. Labels are `LANGUAGES`; "other" means no letters,
letters of a script the model does not know, or a prediction below `MIN_CONFIDENCE`.

    from data_prep.langid import identify_language, identify_lines
    identify_language("Қазақ тілі — мемлекеттік тіл.")   # -> ("kk", 0.99...)

The model (assets/langid_model.json.gz, trained on NTREX-128; see assets/LANGID_NOTICE.md) ships with
the project and is loaded once, lazily. Rebuild it with:

    .venv/bin/python scripts/train_langid.py
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import numpy as np

from data_prep.resources import ASSETS

MODEL_PATH = ASSETS / "langid_model.json.gz"
MODEL_FORMAT = "kazllm-langid-nb/1"
TRAINED_LANGUAGES = ("kk", "ky", "tt", "ba", "ru", "uk", "be", "tr", "uz", "en")
LANGUAGES = (*TRAINED_LANGUAGES, "other")

MAX_ORDER = 4
# Document-level ID scores at most this many characters, as three windows (start, middle, end): enough
# evidence for a confident answer, constant cost for long documents, and boilerplate at the start alone
# cannot decide the label. 600, 450 and 300 all gave the same label as 2000 on all 1,379 sample and
# text_mix documents (kk/ru/en, 20-line chunks); 600 keeps a margin at ~3x the speed of 2000.
MAX_CHARS = 600
# Below this calibrated probability the top label is a guess (mixed text, a language outside the model,
# one short word), so it is reported as "other".
MIN_CONFIDENCE = 0.5
# Below this share of letters in scripts the model knows (Cyrillic and Latin as used by its languages),
# the text is in another script.
MIN_KNOWN_SCRIPT_SHARE = 0.5
# Longer letter runs are URLs, base64 or glued text; their first letters carry all the evidence there is.
_MAX_WORD = 32
_CACHE_SIZE = 1 << 17

# A word: letters, with inner apostrophes (Ukrainian "з'явився", Uzbek "ko'p").
_WORD = re.compile(r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)*")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ASCII_LETTER = re.compile(r"[a-z]")
# Web Kazakh is often typed with Latin look-alikes inside Cyrillic words (Latin "i" for "і", "o" for "о");
# mapping them back keeps those words' n-grams known. Only words that mix both scripts are touched, after
# lower-casing, so "h" stays (it stands for both "н" and "һ").
_LATIN_TO_CYRILLIC = str.maketrans("aceiopxykmtb", "асеіорхукмтв")


def words(text: str) -> list[str]:
    """The lower-cased words of `text` (letter runs; digits and punctuation are not evidence).

    "ё" is folded into "е": Russian writes it only sometimes, and a model that saw it only in
    Belarusian would take every "ещё" for Belarusian.
    """
    return _WORD.findall(text.lower().replace("ё", "е"))


def normalize_word(word: str) -> str:
    """A word from `words` as the model sees it: Latin look-alikes in Cyrillic words made Cyrillic, and
    cut to its first letters when it is too long to be a word."""
    if not word.isascii() and _ASCII_LETTER.search(word) and _CYRILLIC.search(word):
        word = word.translate(_LATIN_TO_CYRILLIC)
    return word[:_MAX_WORD]


def word_ngrams(word: str) -> list[str]:
    """Character 1-4-grams of ` word ` (spaces mark the word boundaries): its letters, then 2-4-grams.

    The definition of the model's features, used for training; `LangIdModel` computes the same in numpy.
    """
    core = normalize_word(word)
    padded = f" {core} "
    return [*core, *(padded[i : i + n] for n in range(2, MAX_ORDER + 1) for i in range(len(padded) - n + 1))]


def _pack(codes: list[int]) -> int:
    """One int32 key per n-gram: its order - 1, then up to four 7-bit character codes."""
    key = (len(codes) - 1) << 28
    for shift, code in zip((21, 14, 7, 0), codes):
        key |= code << shift
    return key


class LangIdModel:
    """Per-n-gram log-likelihood ratios for each language; a text's score is their sum over its n-grams.

    Scoring is cached per whitespace token: web text repeats its tokens, so a typical document costs one
    dict lookup per token plus one numpy gather. The tokens a document adds are scored together in numpy:
    characters become 7-bit codes, every position's 1-4-grams int32 keys, found in a bucketed hash table.
    (A Python dict lookup per n-gram was 3-5x slower: every slice is a new string to hash.)
    Not thread-safe (the cache is shared); datatrove runs steps in processes, each with its own copy.
    """

    def __init__(
        self,
        labels: list[str],
        ngrams: list[str],
        weights: np.ndarray,
        temperature: float,
        meta: dict | None = None,
    ):
        self.labels = list(labels)
        self.ngrams = list(ngrams)
        self.weights = np.asarray(weights, dtype=np.float32)
        self.temperature = float(temperature)
        self.meta = meta or {}
        n, c = self.weights.shape
        # Scoring table: class weights, then "letter of a known script", then "letter". Row n is an unknown
        # n-gram (adds nothing), row n + 1 an unknown letter (counts toward the unknown-script share).
        table = np.zeros((n + 2, c + 2), dtype=np.float32)
        table[:n, :c] = self.weights
        unigrams = [i for i, g in enumerate(self.ngrams) if len(g) == 1]
        table[unigrams, c:] = 1.0
        table[n + 1, c + 1] = 1.0
        self._table, self._unknown, self._unknown_letter = table, n, n + 1
        self._build_hash()
        self._cache: dict[str, int] = {}
        self._rows = np.zeros((_CACHE_SIZE, c + 2), dtype=np.float32)

    def _build_hash(self) -> None:
        # Character codes: 0 is the word boundary, 1..126 the model's letters, 127 any other character.
        alphabet = sorted({ch for g in self.ngrams for ch in g} - {" "})
        if len(alphabet) > 126:
            raise ValueError(f"language-ID model has {len(alphabet)} letters; at most 126 fit a key")
        self._codes = np.full(0x10000, 127, dtype=np.int32)
        self._codes[ord(" ")] = 0
        for i, ch in enumerate(alphabet, start=1):
            self._codes[ord(ch)] = i
        keys = self._pack_all(self.ngrams)
        if len(np.unique(keys)) != len(keys):
            raise ValueError("language-ID model lists an n-gram twice")
        # Bucketed hashing: each key lives in its home bucket, a short row of slots, so a lookup is one
        # gather and one compare, with no probing loop.
        self._bits = max(8, int(np.ceil(np.log2(max(len(keys), 1) / 2))))
        home = self._home(keys)
        order = np.argsort(home, kind="stable")
        counts = np.bincount(home, minlength=1 << self._bits)
        slot = np.arange(len(keys)) - (np.cumsum(counts) - counts)[home[order]]
        self._hkeys = np.full((1 << self._bits, int(counts.max())), -1, dtype=np.int32)
        self._hrows = np.zeros(self._hkeys.shape, dtype=np.int32)
        self._hkeys[home[order], slot] = keys[order]
        self._hrows[home[order], slot] = order

    def _pack_all(self, ngrams: list[str]) -> np.ndarray:
        """`_pack` of every n-gram at once (a Python loop over the model's n-grams was a quarter of a
        second of every worker's start)."""
        n = len(ngrams)
        lengths = np.fromiter(map(len, ngrams), dtype=np.int64, count=n)
        cp = np.frombuffer(
            "".join(g.ljust(MAX_ORDER, "\0") for g in ngrams).encode("utf-32-le"), dtype=np.uint32
        )
        codes = self._codes[np.minimum(cp, 0xFFFF)].reshape(n, MAX_ORDER).astype(np.int64)
        codes[np.arange(MAX_ORDER)[None, :] >= lengths[:, None]] = 0  # past the n-gram's end: no character
        keys = (lengths - 1) << 28
        for k, shift in enumerate((21, 14, 7, 0)[:MAX_ORDER]):
            keys |= codes[:, k] << shift
        return keys.astype(np.int32)

    def _home(self, keys: np.ndarray) -> np.ndarray:
        # Fibonacci hashing; uint64 multiplication wraps around, which is the point.
        mixed = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        return (mixed >> np.uint64(64 - self._bits)).astype(np.intp)

    def _find(self, keys: np.ndarray, default: int) -> np.ndarray:
        """Table rows of n-gram `keys`; `default` for those the model does not have."""
        # take() rather than fancy indexing throughout: several times faster on small index arrays.
        width = self._hkeys.shape[1]
        home = self._home(keys)
        hit = np.flatnonzero(self._hkeys.take(home, axis=0) == keys[:, None])  # at most one per key
        which, slot = np.divmod(hit, width)
        rows = np.full(len(keys), default, dtype=np.intp)
        rows[which] = self._hrows.ravel().take(home.take(which) * width + slot)
        return rows

    # -- persistence: quantised to int8 (the ranking survives; the file stays well under 1 MB) -------
    def save(self, path: Path, extra: dict | None = None) -> None:
        limit = float(np.abs(self.weights).max()) or 1.0
        scale = limit / 127.0
        q = np.clip(np.round(self.weights / scale), -127, 127).astype(np.int8)
        doc = {
            "format": MODEL_FORMAT,
            "labels": self.labels,
            "max_order": MAX_ORDER,
            "temperature": self.temperature,
            "scale": scale,
            **(extra or {}),
            "ngrams": self.ngrams,
            "weights_int8_b64": base64.b64encode(q.tobytes()).decode("ascii"),
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as f:
            json.dump(doc, f, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, path: Path = MODEL_PATH) -> LangIdModel:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            doc = json.load(f)
        if doc.get("format") != MODEL_FORMAT:
            raise ValueError(f"{path}: unknown language-ID model format {doc.get('format')!r}")
        q = np.frombuffer(base64.b64decode(doc["weights_int8_b64"]), dtype=np.int8)
        weights = q.reshape(len(doc["ngrams"]), len(doc["labels"])).astype(np.float32) * doc["scale"]
        meta = {k: v for k, v in doc.items() if k not in ("ngrams", "weights_int8_b64")}
        return cls(doc["labels"], doc["ngrams"], weights, doc["temperature"], meta)

    # -- scoring --------------------------------------------------------------------------------------
    def _add_tokens(self, new: list[str]) -> None:
        """Score whitespace tokens not in the cache, all together, and cache them."""
        # The tokens' words, padded as in word_ngrams (" w "), side by side: " w1  w2  w3 ". Every word's
        # n-grams start inside its own span [leading space, trailing space], and a token's words are
        # adjacent, so a token's score is the sum over a contiguous run of positions.
        pieces, starts, has_words, pos = [], [], [], 1
        for token in new:
            token_words = [token] if token.isalpha() else _WORD.findall(token)
            has_words.append(bool(token_words))
            if token_words:
                starts.append(pos - 1)
                for w in token_words:
                    w = normalize_word(w)
                    pieces.append(w)
                    pos += len(w) + 2
        sums = np.zeros((len(new), self._table.shape[1]), dtype=np.float32)
        if pieces:
            cp = np.frombuffer(f" {'  '.join(pieces)} ".encode("utf-32-le"), dtype=np.uint32)
            c = np.concatenate([self._codes[np.minimum(cp, 0xFFFF)], np.zeros(3, dtype=np.int32)])
            size = len(cp)
            c0, c1, c2, c3 = c[:size], c[1 : size + 1], c[2 : size + 2], c[3 : size + 3]
            # The 1-4-grams starting at each position. Those that cross a word boundary have an inner space,
            # those that run past the end trailing spaces: no model n-gram looks like either, so they are
            # simply not found and add nothing.
            one = c0 << 21
            two = one | c1 << 14
            three = two | c2 << 7
            keys = np.concatenate([one, two | 1 << 28, three | 2 << 28, three | c3 | 3 << 28])
            rows = self._find(keys, self._unknown)
            unigram = rows[:size]
            # A letter the model does not know counts toward the unknown-script share; a space is no letter.
            unigram[(unigram == self._unknown) & (c0 != 0)] = self._unknown_letter
            per_order = self._table.take(rows, axis=0).reshape(4, size, -1)
            per_position = per_order[0] + per_order[1]
            per_position += per_order[2]
            per_position += per_order[3]
            sums[has_words] = np.add.reduceat(per_position, starts, axis=0)
        first = len(self._cache)
        self._rows[first : first + len(new)] = sums
        self._cache.update(zip(new, range(first, first + len(new))))

    def raw_scores(self, text: str) -> tuple[np.ndarray, float, float]:
        """(summed class scores, letters in a known script, all letters) for `text`, unscaled.

        Caches by whitespace token ("Алматы," and "Алматы" are two entries): str.split is several
        times faster than a word regex, and the warm path is then one dict lookup per token.
        """
        return self.raw_scores_batch([text])[0]

    def raw_scores_batch(self, texts: list[str]) -> list[tuple[np.ndarray, float, float]]:
        """raw_scores of each text, with one model lookup for the tokens none of them has cached."""
        token_lists = [_tokens(t) for t in texts]
        step = _CACHE_SIZE // 4
        if sum(map(len, token_lists)) > step:  # every token of one lookup must fit in the cache together
            if len(texts) > 1:
                return [self.raw_scores_batch([t])[0] for t in texts]
            tokens = token_lists[0]
            parts = [self.raw_scores(" ".join(tokens[i : i + step])) for i in range(0, len(tokens), step)]
            return [(sum(p[0] for p in parts), sum(p[1] for p in parts), sum(p[2] for p in parts))]
        ids = self._cached_ids([t for tokens in token_lists for t in tokens])
        sizes = [len(tokens) for tokens in token_lists]
        offsets = np.cumsum([0, *sizes[:-1]])
        nonempty = [i for i, n in enumerate(sizes) if n]
        totals = np.zeros((len(texts), self._rows.shape[1]), dtype=np.float64)
        if nonempty:  # per text, its rows summed in order (the same sums as one text at a time)
            totals[nonempty] = np.add.reduceat(
                self._rows.take(np.array(ids, dtype=np.intp), axis=0),
                offsets[nonempty],
                axis=0,
                dtype=np.float64,
            )
        return [(total[:-2], float(total[-2]), float(total[-1])) for total in totals]

    def _cached_ids(self, tokens: list[str]) -> list[int]:
        """Cache rows of `tokens`, scoring the ones not cached yet."""
        cache = self._cache
        ids = [cache.get(t, -1) for t in tokens]
        if -1 in ids:
            new = list(dict.fromkeys(t for t, i in zip(tokens, ids) if i < 0))
            if len(cache) + len(new) > _CACHE_SIZE:  # a full cache is simply restarted: cheap and bounded
                cache.clear()
                new = list(dict.fromkeys(tokens))
            for i in range(0, len(new), 4096):  # bounds the temporary arrays of _add_tokens
                self._add_tokens(new[i : i + 4096])
            ids = [cache[t] for t in tokens]
        return ids

    def predict(self, text: str) -> tuple[str, float]:
        """(label, confidence) for `text` as given (callers sample long documents first)."""
        return self._decide(*self.raw_scores(text))

    def predict_batch(self, texts: list[str]) -> list[tuple[str, float]]:
        """predict of each text, the same answers as one at a time, with one model lookup for all."""
        return [self._decide(*r) for r in self.raw_scores_batch(texts)]

    def _decide(self, scores: np.ndarray, known: float, letters: float) -> tuple[str, float]:
        if letters == 0:
            return "other", 1.0
        unknown_share = 1.0 - known / letters
        if unknown_share > 1.0 - MIN_KNOWN_SCRIPT_SHARE:
            return "other", unknown_share
        z = scores / self.temperature
        z = np.exp(z - z.max())
        probs = z / z.sum()
        best = int(probs.argmax())
        confidence = float(probs[best]) * (1.0 - unknown_share)
        if confidence < MIN_CONFIDENCE:
            return "other", 1.0 - confidence
        return self.labels[best], confidence


def _tokens(text: str) -> list[str]:
    return text.lower().replace("ё", "е").split()


_MODEL: LangIdModel | None = None


def get_model() -> LangIdModel:
    """The shipped model, loaded on first use and kept for the life of the process."""
    global _MODEL
    if _MODEL is None:
        _MODEL = LangIdModel.load(MODEL_PATH)
    return _MODEL


def sample_text(text: str, max_chars: int = MAX_CHARS) -> str:
    """`text` itself if short, else three windows of it (start, middle, end) totalling `max_chars`."""
    if len(text) <= max_chars:
        return text
    part = max_chars // 3
    mid = (len(text) - part) // 2
    return "\n".join((text[:part], text[mid : mid + part], text[-part:]))


def identify_language(text: str) -> tuple[str, float]:
    """Return (label, confidence in [0, 1]) for a document; labels are `LANGUAGES`.

    For "other" the confidence says how sure the model is that the text is none of its languages:
    1.0 without letters, the share of unknown-script letters, or 1 - the best language's probability.
    """
    return get_model().predict(sample_text(text))


def identify_languages(texts: list[str]) -> list[tuple[str, float]]:
    """identify_language of each text, faster for many: one model lookup for the words new to them all."""
    return get_model().predict_batch([sample_text(t) for t in texts])


def identify_lines(text: str) -> list[tuple[str, str, float]]:
    """(line, label, confidence) for every non-empty line of `text`, for line-level filtering."""
    model = get_model()
    out = []
    for line in text.split("\n"):
        line = line.strip()
        if line:
            out.append((line, *model.predict(sample_text(line))))
    return out
