"""Text normalisation applied to every document before any filter looks at it.

`normalize_text(text)` returns the repaired text and a count per repair kind (only kinds that changed
something; the pipeline sums them into stats.json). The kinds:

1. `nfc`: NFC (Kazakh letters such as ә or ң typed as base letter + combining mark become one code point).
2. `control_chars` / `whitespace`: control characters removed; line ends, inline spaces, blank lines tidied.
3. `legacy_encoding`: a whole document typed with a pre-Unicode Kazakh layout (KZ-1048 or PT154 text shown
   as Windows-1251, or a "KZ" font drawing Kazakh letters in place of ќ ј ї ...) gets its letters back.
4. `latin_lookalikes`: Latin letters that look like Cyrillic ones (Мәлiк, Aстана, жаhан, бəрін, өpic, caяcи)
   inside words that are Cyrillic, told by a letter only Cyrillic has; `cyrillic_lookalikes`: the reverse
   (meіosіs with Cyrillic і); `roman_numerals`: numerals typed with both scripts (ХVІІ) made Latin.
   `fold_lookalikes` gives the key that decontamination matches words by, whatever script they were typed in.
5. `variant_letters`: letters of other Cyrillic alphabets that stand in for Kazakh ones (Bashkir ҡ for қ,
   Khanty ӈ for ң, fita ѳ for ө, palochka Ӏ for І ...) in a document that is otherwise written in Kazakh.
6. `latin_kazakh` (only with `transliterate_latin=True`): a document in Latin-script Kazakh (2017, 2018 or
   2021 official alphabets, or the Kazakh Wikipedia one) transliterated to Cyrillic (data_prep.transliterate);
   the count is in words.

Correct text is never changed: every repair needs evidence that the characters are wrong (a word that mixes
scripts, a document with a legacy signature, a document that uses the real letter elsewhere), and all-Latin
words (English, URLs, e-mails, code) are left alone. The fast path for clean text is a handful of C-level
scans (regex searches, str.translate), so it runs at tens of MB/s.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from data_prep.letters import (
    CYRILLIC_LETTER,
    CYRILLIC_RANGES,
    KAZAKH_ONLY_LETTERS,
    LATIN_LETTER,
    LATIN_RANGES,
)
from data_prep.transliterate import detect_latin_kazakh, latin_words_to_cyrillic

# A Latin letter touching a Cyrillic one: the only place a look-alike repair can apply. The pattern starts
# with a character set, so the regex engine skips ahead to Latin letters at C speed.
_MIXED_PAIR = re.compile(
    f"[{LATIN_RANGES}](?:(?=[{CYRILLIC_RANGES}])|(?<=[{CYRILLIC_RANGES}][{LATIN_RANGES}]))"
)
# The same pairs found from their Cyrillic side: faster in Latin text.
_MIXED_PAIR_FROM_CYR = re.compile(
    f"[{CYRILLIC_RANGES}](?:(?=[{LATIN_RANGES}])|(?<=[{LATIN_RANGES}][{CYRILLIC_RANGES}]))"
)

# ---------------------------------------------------------------------------------------------------------
# 1-2. NFC, control characters, whitespace
# ---------------------------------------------------------------------------------------------------------

# Control characters except newline and tab; also the BOM, zero-width no-break space and soft hyphen.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\u00ad]")
_INLINE_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
# Whitespace other than space and newline: the cleanup has work to do when there is any.
_ODD_SPACE = re.compile(r"[^\S \n]")
_SPACE_BEFORE_NEWLINE = re.compile(r"[^\S\n]+\n")
_SPACE_AFTER_NEWLINE = re.compile(r"\n[^\S\n]+")


def _clean_whitespace(text: str) -> str:
    """Inline spaces to one space, lines stripped, at most one blank line in a row, no blank ends."""
    if not (
        "  " in text
        or " \n" in text
        or "\n " in text
        or "\n\n\n" in text
        or text.startswith((" ", "\n"))
        or text.endswith((" ", "\n"))
        or _ODD_SPACE.search(text)
    ):
        return text
    text = _INLINE_SPACE.sub(" ", text)
    text = _SPACE_AFTER_NEWLINE.sub("\n", _SPACE_BEFORE_NEWLINE.sub("\n", text))
    return _MANY_BLANK_LINES.sub("\n\n", text).strip()


# ---------------------------------------------------------------------------------------------------------
# 3. Legacy 8-bit Kazakh encodings and fonts
# ---------------------------------------------------------------------------------------------------------
# Before Unicode, Kazakh was typed in Windows-1251 with the nine extra letters put where Russian does not
# need a character. When such bytes are read as plain Windows-1251 (or a "KZ" font that draws Kazakh glyphs
# at those places is replaced by a normal font), each Kazakh letter shows up as the Serbian, Macedonian,
# Ukrainian or Belarusian letter (or symbol) at its byte. Two layouts were in wide use; both tables are the
# difference between the standard codecs and Windows-1251 (tests/test_normalize.py checks them against
# Python's kz1048, ptcp154 and cp1251 codecs). і/І sit at the same bytes as in Windows-1251 in both, so they
# survive. Seen in the wild: "Ќазаќстан", "Ј/ј for Ә/ә" in bank exports (KZ-1048).

# KZ-1048 (STRK 1048-2002, the Kazakhstan national standard code page, IANA "KZ-1048"): byte, as 1251 -> kk.
_KZ1048_AS_CP1251 = {
    "Ќ": "Қ",
    "ќ": "қ",  # 0x8D 0x9D
    "Ћ": "Һ",
    "ћ": "һ",  # 0x8E 0x9E
    "Ў": "Ұ",
    "ў": "ұ",  # 0xA1 0xA2
    "Ј": "Ә",
    "ј": "ә",  # 0xA3 0xBC
    "Ґ": "Ө",
    "ґ": "ө",  # 0xA5 0xB4
    "Є": "Ғ",
    "є": "ғ",  # 0xAA 0xBA
    "Ї": "Ү",
    "ї": "ү",  # 0xAF 0xBF
    "Ѕ": "Ң",
    "ѕ": "ң",  # 0xBD 0xBE
}
# PT154 (ParaType Asian Cyrillic, the code page of the ParaType "KZ" fonts, IANA "PTCP154"). Four of its
# Kazakh letters sit on punctuation/symbol bytes of Windows-1251, so inside words they show as ‡ ‰ ¤ µ ¦ ±.
_PT154_AS_CP1251 = {
    "Ѓ": "Ғ",
    "ѓ": "ғ",  # 0x81 0x83
    "‡": "Ү",
    "‰": "ү",  # 0x87 0x89
    "Њ": "Ң",
    "њ": "ң",  # 0x8C 0x9C
    "Ќ": "Қ",
    "ќ": "қ",  # 0x8D 0x9D
    "Ћ": "Һ",
    "ћ": "һ",  # 0x8E 0x9E
    "¤": "Ө",
    "µ": "ө",  # 0xA4 0xB5
    "¦": "Ұ",
    "±": "ұ",  # 0xA6 0xB1
    "Є": "Ә",
    "є": "ә",  # 0xAA 0xBA (ғ in KZ-1048: the one byte the two layouts disagree on)
}
_LEGACY_LAYOUTS = {"kz1048": _KZ1048_AS_CP1251, "pt154": _PT154_AS_CP1251}
_LEGACY_TABLES = {name: str.maketrans(table) for name, table in _LEGACY_LAYOUTS.items()}
# The letters alone (µ is a letter to Python but a unit sign in text): safe to replace outside words too.
_LEGACY_LETTER_TABLES = {
    name: str.maketrans({k: v for k, v in table.items() if k.isalpha() and k != "µ"})
    for name, table in _LEGACY_LAYOUTS.items()
}
# Characters only one layout uses: which of them a document has decides its layout.
_LEGACY_ONLY = {
    "kz1048": set(_KZ1048_AS_CP1251) - set(_PT154_AS_CP1251),
    "pt154": set(_PT154_AS_CP1251) - set(_KZ1048_AS_CP1251),
}
_LEGACY_CHARS = "".join(sorted(set(_KZ1048_AS_CP1251) | set(_PT154_AS_CP1251)))
_LEGACY_CLASS = re.escape(_LEGACY_CHARS)
_LEGACY_NEAR_CYR = re.compile(f"[{_LEGACY_CLASS}](?:(?=[{CYRILLIC_RANGES}])|(?<=[{CYRILLIC_RANGES}].))")
# Share of Cyrillic letters that must be legacy characters. The nine Kazakh letters are ~10% of the letters
# of Kazakh text (measured on KazNERD/KazQAD/NTREX); a Russian text quoting a Ukrainian sentence stays far
# below 3%.
_LEGACY_MIN_DENSITY = 0.03
# Removes the legacy characters, to ask whether a word has any ordinary Cyrillic letter besides them.
_LEGACY_STRIP = str.maketrans(dict.fromkeys(_LEGACY_CHARS))


def _repair_legacy(text: str) -> tuple[str, int]:
    """Undo a legacy Kazakh layout, but only for a document with its full signature.

    - legacy characters inside Cyrillic words, at least two different Kazakh letters' worth of them and at
      least 3% of the Cyrillic letters (Kazakh text has ~10%);
    - the letter ы somewhere: Kazakh uses it constantly, while Ukrainian, Serbian, Macedonian, Bulgarian
      and Tajik, whose real letters ї є ґ ј ѕ ќ ћ ў ... these are, never do;
    - (almost) no correctly encoded Kazakh letters: a document that has them is already Unicode Kazakh.
    Belarusian (ы and ў) is kept safe by the two-letter rule: ў is its only letter in the tables.
    """
    if not _LEGACY_NEAR_CYR.search(text) or ("ы" not in text and "Ы" not in text):
        return text, 0
    genuine = sum(text.count(c) for c in KAZAKH_ONLY_LETTERS)
    if genuine * 10 > len(_LEGACY_ANY.findall(text)):  # an upper bound of the repairs: cheap early exit
        return text, 0
    spans = _legacy_word_spans(text)
    legacy = "".join(c for a, b in spans for c in text[a:b] if c in _LEGACY_CHARS)
    only = {name: sum(c in chars for c in legacy) for name, chars in _LEGACY_ONLY.items()}
    if only["pt154"] != only["kz1048"]:
        name = "pt154" if only["pt154"] > only["kz1048"] else "kz1048"
    else:
        # Only the shared ќ ћ є: є is ә in PT154 but ғ in KZ-1048. Vowel harmony tells them apart: ә is a
        # front vowel (мәміле), ғ stands among back vowels (миллиондаған).
        words = [text[a:b].lower() for a, b in spans if "є" in text[a:b].lower()]
        front = sum(any(c in "еіөүә" for c in w) for w in words)
        back = sum(any(c in "аоұы" for c in w) for w in words)
        name = "pt154" if front > back else "kz1048"
    table = _LEGACY_LAYOUTS[name]
    hits = [table[c] for c in legacy if c in table]
    if (
        len({c.lower() for c in hits}) < 2
        or genuine * 10 > len(hits)
        or len(hits) < _LEGACY_MIN_DENSITY * CYRILLIC_LETTER.subn("", text)[1]
    ):
        return text, 0
    # Legacy letters can go everywhere (a lone ѕ after a hyphen is ң too); legacy symbols only inside words.
    pieces, last = [], 0
    for a, b in spans:
        pieces += [text[last:a], text[a:b].translate(_LEGACY_TABLES[name])]
        last = b
    repaired = ("".join(pieces) + text[last:]).translate(_LEGACY_LETTER_TABLES[name])
    return repaired, sum(a != b for a, b in zip(text, repaired))


_LEGACY_ANY = re.compile(f"[{_LEGACY_CLASS}]")


def _legacy_word_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word (a run of Cyrillic letters and legacy symbols) that has a legacy character
    and an ordinary Cyrillic letter besides."""
    spans: list[tuple[int, int]] = []
    for m in _LEGACY_ANY.finditer(text):
        if spans and m.start() < spans[-1][1]:
            continue
        a = b = m.start()
        while a > 0 and (_is_cyr(text[a - 1]) or text[a - 1] in _LEGACY_CHARS):
            a -= 1
        while b < len(text) and (_is_cyr(text[b]) or text[b] in _LEGACY_CHARS):
            b += 1
        if CYRILLIC_LETTER.search(text[a:b].translate(_LEGACY_STRIP)):
            spans.append((a, b))
    return spans


# ---------------------------------------------------------------------------------------------------------
# 4. Look-alike letters in words of the other script
# ---------------------------------------------------------------------------------------------------------
# Latin letters that pass for Cyrillic ones, as found in Kazakh web and corpus text (KazNERD, KazQAD, NTREX):
# by far the most common is Latin i for і (мемлекеттiк, Мәлiк), then Latin a c e o p x and capitals
# A C E K M T (Aстана, Cаяси, Mоливуд, Kинопарк, кардиоxирургиялық), h for һ (жаhан, айдаhарлар) and the
# Azerbaijani/IPA schwa ə Ə for ә Ә (бəрін, Əлпештеп), typed from keyboards without Kazakh letters.
_LATIN_TO_CYRILLIC = {
    "a": "а",
    "c": "с",
    "e": "е",
    "o": "о",
    "p": "р",
    "x": "х",
    "y": "у",  # identical glyphs; у is also by far the more frequent of у/ү (capital Y: see _fix_y)
    "i": "і",  # Kazakh і (U+0456) is the dotted i; Russian has no such letter, so і is right for both
    "h": "һ",  # the only Cyrillic letter shaped like a lower-case h
    "A": "А",
    "B": "В",
    "C": "С",
    "E": "Е",
    "H": "Н",
    "K": "К",
    "M": "М",
    "O": "О",
    "P": "Р",
    "T": "Т",
    "X": "Х",
    "Y": "У",
    "I": "І",
    "\u0259": "ә",
    "\u018f": "Ә",  # ə Ə: Azerbaijani/IPA schwa, the commonest stand-in for ә
    "\u01dd": "ә",  # ǝ: turned e, the same glyph as ə in most fonts (its capital Ǝ looks nothing like Ә)
    "\u0275": "ө",
    "\u019f": "Ө",  # ɵ Ɵ: barred o, the very shape of ө
    "ö": "ө",
    "Ö": "Ө",
    "ü": "ү",
    "Ü": "Ү",  # Turkish/German keyboards: ö ü are how ө ү sound
    "ä": "ә",
    "Ä": "Ә",  # likewise ä for ә
    "\u024f": "ұ",
    "\u024e": "Ұ",  # ɏ Ɏ: y with stroke, the shape of ұ Ұ
}
_TO_CYRILLIC = str.maketrans(_LATIN_TO_CYRILLIC)
# Cyrillic letters that pass for Latin ones inside Latin words (meіosіs, transplantatіon in KazQAD: a
# global i -> і replacement gone too far). ј ѕ ԛ ԝ are glyph-identical to j s q w.
_CYRILLIC_TO_LATIN = {
    "а": "a",
    "с": "c",
    "е": "e",
    "о": "o",
    "р": "p",
    "х": "x",
    "у": "y",
    "і": "i",
    "ј": "j",
    "ѕ": "s",
    "ԛ": "q",
    "ԝ": "w",
    "А": "A",
    "В": "B",
    "С": "C",
    "Е": "E",
    "Н": "H",
    "К": "K",
    "М": "M",
    "О": "O",
    "Р": "P",
    "Т": "T",
    "Х": "X",
    "І": "I",
    "Ј": "J",
    "Ѕ": "S",
    "Ԛ": "Q",
    "Ԝ": "W",
}
_TO_LATIN = str.maketrans(_CYRILLIC_TO_LATIN)
# What decides the script of a mixed word: a letter that has no look-alike in the other script. Latin
# letters outside _LATIN_TO_CYRILLIC (b d f g j k l m n q r s t ... in lower case, ı ğ ş ñ ū of Kazakh Latin)
# can only be Latin; Cyrillic letters outside _CYRILLIC_TO_LATIN (я и б д ж ..., ә ғ қ ң ө ұ ү һ, and lower-
# case в к м н т, whose look-alikes are the capitals only) can only be Cyrillic. і is no such letter: it is
# the look-alike of i (meіosіs).
_LATIN_ONLY_TEST = str.maketrans(dict.fromkeys(_LATIN_TO_CYRILLIC))
_CYRILLIC_ONLY_TEST = str.maketrans(dict.fromkeys(_CYRILLIC_TO_LATIN))
# Roman numerals typed with both scripts (ХVІІ, XІX in KazNERD); Cyrillic І Х С М are the look-alikes.
_ROMAN_LATIN = set("IVXLCDM")
_ROMAN_CYRILLIC = {"І": "I", "Х": "X", "С": "C", "М": "M"}
_ROMAN_TO_LATIN = str.maketrans(_ROMAN_CYRILLIC)
# An upper-case Latin abbreviation with a Cyrillic case ending (OKта, BBCдің): deliberate, kept as it is.
_ABBREVIATION_WITH_SUFFIX = re.compile(f"[A-Z]{{2,}}[{CYRILLIC_RANGES}]+")
_BACK_VOWELS = set("аоұыуяюёэАОҰЫУЯЮЁЭ")


def _is_cyr(c: str) -> bool:
    return "\u0400" <= c <= "\u052f" and not "\u0483" <= c <= "\u0489"


def _is_lat(c: str) -> bool:
    return bool(LATIN_LETTER.match(c))


def _fix_y(word: str, original: str) -> str:
    """A capital Latin Y opening a front-vowel word is Ү, not У (the glyphs of Y and Ү are the same, and Ү
    starts words such as Үлкен, Үш, Үй; У-initial words with only front vowels are rare loans, most with и:
    Университет, Уилинг. In shared text_mix/kk.txt 28 of 38 such У-words have и, none of 426 Ү-words)."""
    if original[0] == "Y" and not any(c in _BACK_VOWELS or c == "и" for c in word[1:]):
        return "Ү" + word[1:]
    return word


def _fix_mixed_word(word: str, doc_cyrillic: Callable[[], bool]) -> tuple[str, str | None]:
    """The repaired word and the repair kind, or (word, None) when it is left as it is.

    Letters that only one script has decide, however few they are (caяcи, нeмece with Latin c a e are
    Cyrillic; Mаrket with Cyrillic а is Latin). A word with such letters of both scripts is left alone (a
    Latin name with a Kazakh ending: Commodoresте, iPhoneның). A word of look-alikes only (Eр, Тo) goes with
    its majority, a tie with the script of the document.
    """
    lat = "".join(c for c in word if _is_lat(c))
    cyr = "".join(c for c in word if _is_cyr(c))
    if len(lat) + len(cyr) != len(word):  # letters of a third script (Greek ϵ in кохаϵмо): not ours to judge
        return word, None
    if word.isupper() and all(c in _ROMAN_LATIN or c in _ROMAN_CYRILLIC for c in word):
        return word.translate(_ROMAN_TO_LATIN), "roman_numerals"
    latin_only = bool(lat.translate(_LATIN_ONLY_TEST))
    cyrillic_only = bool(cyr.translate(_CYRILLIC_ONLY_TEST))
    if latin_only and cyrillic_only:
        return word, None
    if cyrillic_only or latin_only:
        to_cyrillic = cyrillic_only
    elif len(cyr) != len(lat):
        to_cyrillic = len(cyr) > len(lat)
    else:
        to_cyrillic = doc_cyrillic()
    if to_cyrillic:
        if _ABBREVIATION_WITH_SUFFIX.fullmatch(word):  # OKта, BBCдің
            return word, None
        return _fix_y(word.translate(_TO_CYRILLIC), word), "latin_lookalikes"
    # Only when the word ends in Latin: a Latin name with a Kazakh ending of look-alikes (Googleса) stays.
    if _is_lat(word[-1]):
        return word.translate(_TO_LATIN), "cyrillic_lookalikes"
    return word, None


def _repair_lookalikes(text: str, repairs: dict[str, int]) -> str:
    if not CYRILLIC_LETTER.search(text):  # English and the like, at C speed
        return text
    head = text[:2000]
    pairs = _MIXED_PAIR if 2 * len(LATIN_LETTER.findall(head)) < len(head) else _MIXED_PAIR_FROM_CYR
    if not pairs.search(text):
        return text
    cache: list[bool] = []

    def doc_cyrillic() -> bool:  # only needed for a tie, rarely: counted on demand
        if not cache:
            cache.append(CYRILLIC_LETTER.subn("", text)[1] >= LATIN_LETTER.subn("", text)[1])
        return cache[0]

    pieces, last, seen_end = [], 0, -1
    for m in pairs.finditer(text):
        if m.start() < seen_end:  # another pair inside a word already handled
            continue
        start, end = m.start(), m.end()
        while start > 0 and text[start - 1].isalpha():
            start -= 1
        while end < len(text) and text[end].isalpha():
            end += 1
        seen_end = end
        word = text[start:end]
        fixed, kind = _fix_mixed_word(word, doc_cyrillic)
        if kind:
            repairs[kind] = repairs.get(kind, 0) + sum(a != b for a, b in zip(word, fixed))
            pieces += [text[last:start], fixed]
            last = end
    return "".join(pieces) + text[last:] if pieces else text


def _lookalike_folds() -> dict[str, str]:
    """Lower-case letter -> the one letter of its look-alike class, for `fold_lookalikes`. The classes are the
    pairs of the tables above joined (h is н and һ, y is у and ү); each is written with its Latin letter,
    ASCII first, so that English needs no replacement at all and Kazakh a few str.replace calls."""
    pairs = [(a.lower(), b.lower()) for a, b in _LATIN_TO_CYRILLIC.items()]
    pairs += [(a.lower(), b.lower()) for a, b in _CYRILLIC_TO_LATIN.items()] + [("y", "ү")]  # Y -> Ү: _fix_y
    classes: list[set[str]] = []
    for pair in pairs:
        joined = {c for cls in classes if cls & set(pair) for c in cls} | set(pair)
        classes = [cls for cls in classes if not cls & joined] + [joined]
    folds = {}
    for cls in classes:
        key = min((c for c in cls if not _is_cyr(c)), key=lambda c: (not c.isascii(), c))
        folds |= {c: key for c in cls if c != key}
    return folds


_LOOKALIKE_FOLDS = _lookalike_folds()


def fold_lookalikes(text: str) -> str:
    """`text` in lower case with each look-alike class one letter (Latin a and Cyrillic а; h, н and һ ...):
    a key for matching text whose letters may have been typed in either script, not a repair. Same length as
    `text.lower()`, letter for letter. Decontamination compares folded words, because a word of look-alikes
    only (ауа typed as "aya") has no letter that tells its script and stays Latin after normalisation."""
    text = text.lower()
    for c, key in _LOOKALIKE_FOLDS.items():
        if c in text:  # instant when the text has no character that wide (English for Cyrillic c)
            text = text.replace(c, key)
    return text


# ---------------------------------------------------------------------------------------------------------
# 5. Letters of other Cyrillic alphabets standing in for Kazakh ones
# ---------------------------------------------------------------------------------------------------------
# Each is a real letter somewhere else, so it is replaced only in a document that uses the Kazakh letter
# more often than the stand-in (a Bashkir text, full of ҡ and without қ, is left alone) and has none of
# the letters that only those other languages use (_FOREIGN_ONLY).
_VARIANTS = {
    "ҡ": "қ",
    "Ҡ": "Қ",  # U+04A1 Bashkir qa: the same sound, a bent descender; Bashkir-keyboard typing
    "ӄ": "қ",
    "Ӄ": "Қ",  # U+04C4 ka with hook (Chukchi, Koryak, Itelmen): a hooked қ in many fonts
    "ӈ": "ң",
    "Ӈ": "Ң",  # U+04C8 en with hook (Khanty, Nenets, Even): the same sound /ŋ/, a hooked ң
    "ӊ": "ң",
    "Ӊ": "Ң",  # U+04CA en with tail (Khanty, Chukchi): nearly the glyph of ң
    "ҥ": "ң",
    "Ҥ": "Ң",  # U+04A5 en-ghe ligature (Yakut, Mari, Altai): /ŋ/ again
    "ӻ": "ғ",
    "Ӻ": "Ғ",  # U+04FB ghe with stroke and hook (Nivkh, Khanty): ғ with a hook
    "ҕ": "ғ",
    "Ҕ": "Ғ",  # U+0495 ghe with middle hook (Yakut): the same sound /ʁ/
    "ӧ": "ө",
    "Ӧ": "Ө",  # U+04E7 o with diaeresis (Altai, Khakas, Mari, Komi): the same vowel /ø/
    "ѳ": "ө",
    "Ѳ": "Ө",  # U+0473 fita (pre-1918 Russian): a barred o, glyph-identical to ө
    "ӱ": "ү",
    "Ӱ": "Ү",  # U+04F1 u with diaeresis (Altai, Khakas, Mari): the same vowel /y/
    "ӯ": "ұ",
    "Ӯ": "Ұ",  # U+04EF u with macron (Tajik): Kazakh itself wrote ұ this way until 1957
    "ӓ": "ә",
    "Ӓ": "Ә",  # U+04D3 a with diaeresis (Altai, Mari): the same vowel /æ/
    "ӏ": "і",
    "Ӏ": "І",  # U+04CF/U+04C0 palochka (Caucasus): glyph-identical to І (Ӏлияс in KazQAD)
}
_VARIANT_RE = re.compile(f"[{''.join(_VARIANTS)}]")
# Letters only the languages above use (Bashkir ҙ ҫ, Tajik ӣ ҷ ҳ, Mari ӹ, Khanty ӽ ӛ ӫ, Abkhaz/Chechen-style
# ӏ-heavy texts have no Kazakh letters anyway): a document with one of them is not a slip of the keyboard.
_FOREIGN_ONLY = re.compile("[ҙҘҫҪӣӢҷҶҳҲӹӸӽӼӛӚӫӪ]")


def _repair_variants(text: str, repairs: dict[str, int]) -> str:
    if not _VARIANT_RE.search(text) or _FOREIGN_ONLY.search(text):
        return text
    present = set(_VARIANT_RE.findall(text))
    ok = set()
    for variant, target in _VARIANTS.items():
        if variant.islower() and (variant in present or variant.upper() in present):
            n_variant = text.count(variant) + text.count(variant.upper())
            if text.count(target) + text.count(target.upper()) > n_variant:
                ok |= {variant, variant.upper()}
    if not ok:
        return text
    count = 0

    def swap(m: re.Match) -> str:
        nonlocal count
        c = m.group()
        if c not in ok or not _word_is_cyrillic(text, m.start()):
            return c
        count += 1
        if c == "Ӏ" and m.start() > 0 and text[m.start() - 1].islower():  # palochka is upper-case in use
            return "і"
        return _VARIANTS[c]

    out = _VARIANT_RE.sub(swap, text)
    if count:
        repairs["variant_letters"] = count
    return out


def _word_is_cyrillic(text: str, i: int) -> bool:
    """Whether the character at i has a Cyrillic letter next to it (it sits inside a Cyrillic word)."""
    return (i > 0 and _is_cyr(text[i - 1])) or (i + 1 < len(text) and _is_cyr(text[i + 1]))


# ---------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------


def normalize_text(text: str, *, transliterate_latin: bool = False) -> tuple[str, dict[str, int]]:
    """Return the normalised text and a count of each repair that changed something (see module doc).

    Order: NFC, control characters, Latin-script transliteration (when asked), legacy layouts, look-alikes,
    variant letters, whitespace last (the earlier steps never add any).
    """
    repairs: dict[str, int] = {}
    out = text
    if not unicodedata.is_normalized("NFC", out):
        out = unicodedata.normalize("NFC", out)
        repairs["nfc"] = 1
    whitespace_changed = False
    if "\r" in out:
        out = out.replace("\r\n", "\n").replace("\r", "\n")
        whitespace_changed = True
    if _CONTROL.search(out):
        cleaned = _CONTROL.sub("", out)
        repairs["control_chars"] = len(out) - len(cleaned)
        out = cleaned
    if transliterate_latin:
        scheme = detect_latin_kazakh(out)
        if scheme:
            out, n = latin_words_to_cyrillic(out, scheme)
            if n:
                repairs["latin_kazakh"] = n
    out, n = _repair_legacy(out)
    if n:
        repairs["legacy_encoding"] = n
    out = _repair_lookalikes(out, repairs)
    out = _repair_variants(out, repairs)
    spaced = _clean_whitespace(out)
    if whitespace_changed or spaced != out:
        repairs["whitespace"] = 1
    return spaced, repairs
