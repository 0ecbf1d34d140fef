"""Consistent, seeded fake person names (pseudonyms) for Kazakh and Russian text,
in Cyrillic and Latin script.

With `pii.pseudonymise` on, prep replaces each person-name span that the tagger (data_prep/pii_names.py) finds
by a fake name rather than a <PERSON> placeholder. A model trained on "Ерлан Жақсыбековке хат жазды" still
learns how names inflect and agree; "<PERSON>ке хат жазды" teaches it nothing useful.

    p = Pseudonymiser(seed=1234, document_key=doc_id)    # one instance per document
    p.replace("Серікбаевтың")              -> e.g. "Омаровтың"
    p.replace("Нұрлан Серікбаевқа")        -> e.g. "Ерлан Омаровқа"
    p.replace("Иванову Ивану Петровичу")   -> e.g. "Соколову Олегу Сергеевичу"
    p.replace("Серікбаев Н.Ә.")            -> e.g. "Омаров К.Б."
    p.replace("Aigerim Seitkali")          -> e.g. "Zhanar Nurpeis"

What the fake keeps
- The order of the parts (initials, given name, surname, patronymic) and the separators between them.
  Initials stay initials (other letters, same count and punctuation).
- The gender of every part: given names from the name lists, surnames from -ов/-ова, -ұлы/-қызы, patronymics
  from -ович/-овна. A part whose gender is unknown takes the gender of the other parts of the span, else one
  picked from the hash (so always the same one for the same name).
- The case form. Kazakh case endings (genitive, accusative, dative, locative, ablative, instrumental, with or
  without the plural -лар/-дар/-тар) are stripped and re-attached to the fake with the fake's own vowel
  harmony and consonant assimilation (Айгүлге -> Жанарға, Ахметтің -> Омардың, Нұрланұлынан -> Ерланұлынан).
  Russian case forms (Иванову, Ивановой, Ивана, Марии, Петровичу ...) are reproduced on the fake.
- The script and spelling: Latin in -> Latin out (passport-style transliteration, or the 2021 Kazakh Latin
  alphabet when the span uses its letters ä ö ü ū ğ q ñ ş ı). In Cyrillic, a word spelt with Kazakh letters
  gets a Kazakh-spelt fake; a Kazakh name spelt Russian-style (Нурлан, Серикбаев) gets a Russian-style fake
  (Жақсыбеков -> Жаксыбеков, Айгүл -> Айгуль); a word that shows neither (Марат, Иса) follows the other words
  of its span, else the names seen earlier in the document, else `lang` (the optional keyword argument, "kk"
  or "ru"), else Russian style. Kazakh endings are computed on the Kazakh spelling of the fake either way.
- Capitalisation per word: Title, UPPER or lower.

Consistency (one Pseudonymiser = one document): every part is keyed on its lemma, normalised by name_key()
(script- and spelling-insensitive: Нұрлан, Нурлан, Nurlan, НҰРЛАНҒА all key "nurlan"), so the case forms of
one person get one fake. A given name always maps to the same fake given name, a surname stem to the same fake
surname stem (Серікбаев, Серікбаеваның, Серікбаевтар share it), a father's name in a patronymic to the same
fake father's name. Distinct originals get distinct fakes (collisions are avoided while the pool lasts), a
fake never equals its original, and fakes are never drawn from names already seen as originals in the
document. Everything is deterministic in (seed, document_key) and the calls made: which fake a lemma gets is
fixed by (seed, document_key, lemma); call order enters only through collision avoidance and, for names that
show no spelling preference, through the spelling the document's earlier names showed. Fake surnames never
form the surname of a figure in public_figures.txt (no fake "Назарбаев").

Approach: each word of the span is analysed into candidates (known given name, Russian case form of a known
given name, surname by morphology -ов/-ев/-ин/-ский or from the lists, patronymic -ович/-овна/-ұлы/-қызы,
each optionally under a Kazakh case ending that must fit the stem's harmony and final consonant), each with
a score; the span takes the combination with the best total, with bonuses for gender and Russian-case
agreement between parts and a penalty for a span of given names without a surname. The fake is built from
the same pieces: fake lemma -> Russian case -> Kazakh ending -> script. Lists are read once, lazily; a call
costs a few dictionary look-ups per word (O(span)).

Limits (known, accepted)
- Unknown names (in no list) are parsed by morphology alone: a final -ға/-ның/-ды/-дан/-мен... is taken as a
  case ending when it fits phonologically; an unknown name that really ends like that (a rare name in -да)
  is cut wrongly. Plural and locative endings are only stripped from known or -ов/-ұлы-marked stems.
- Ambiguous Russian forms are resolved within the span (Иванова = masc. genitive or fem. nominative); since
  the fake reproduces the same ending on a fake of the same declension class, the result reads right either
  way. A lone "Руслана" stays the female name.
- Harmony of Russian-origin stems in Kazakh text follows the last vowel, и counting as front and у as back
  (Ивановқа, Пушкиннің, Тимурға; the е of -ев after a vowel is skipped: Тоқаевқа). Writers vary, so parsing
  accepts either harmony on known or -ов-marked stems.
- A name in no list gets its gender from its ending (-бек, -бай, -хан male; -гүл, -сұлу, -а female), else from
  the rest of the span, else from the hash; its origin (Kazakh or Russian pool) from Kazakh letters or typical
  Kazakh name parts, else from the hash.
- A name that the document later uses for a real person may already have been issued as a fake earlier
  (the instance cannot see ahead); a surname and a later bare given name of the same person are not linked.
- Kazakh possessive forms other than after -ұлы/-қызы (Нұрланым, Айгүлі) and -ша/-дай/-дікі are not parsed:
  such a word is replaced whole, as if it were a lemma, and loses that ending. Russian case forms are
  reproduced for names in the lists and for -ов/-ин/-ский/-ович surnames and patronymics, not for unknown
  given names (a fake in the nominative replaces them). Adjectival -ой surnames (Толстого) are not parsed.

Helpers the tagger can reuse: load_name_list(name) (a list file as a frozenset), name_key(word) (the
spelling- and script-insensitive key the lists are matched on), split_case_ending(word) -> (stem, ending),
name_lemmas(word) (nominative forms, for allow-list matching), inflect_kk(stem, case, plural) and
public_figure_names() (the allow-list as a set of strings to match). The list files and their format are
described in data_prep/assets/names/README.md.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import os
import re
import unicodedata
from dataclasses import dataclass

from data_prep.resources import NAMES_DIR

# Every list in NAMES_DIR, by file name without ".txt".
NAME_LISTS = (
    "kk_given_male",
    "kk_given_female",
    "kk_given_male_ru",
    "kk_given_female_ru",
    "ru_given_male",
    "ru_given_female",
    "ru_diminutive_male",
    "ru_diminutive_female",
    "surname_stems_kk",
    "ru_surnames",
    "public_figures",
    "name_contexts_after",
    "name_contexts_before",
    "places",
    "sentence_openers",  # read by the name tagger (data_prep/pii_names.py) only
)

KK_CASES = ("gen", "acc", "dat", "loc", "abl", "ins")
RU_CASES = ("nom", "gen", "dat", "acc", "ins", "prep")


# ================================================================================================ list files
@functools.cache
def _read_rows(name: str) -> tuple[tuple[str, ...], ...]:
    """The entries of one list file: one tuple per line, its " | "-separated forms
    (one form in most files)."""
    if name not in NAME_LISTS:
        raise ValueError(f"unknown name list {name!r}; known: {', '.join(NAME_LISTS)}")
    rows = []
    for raw in (NAMES_DIR / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        line = unicodedata.normalize("NFC", raw.split("#", 1)[0]).strip()
        if line:
            rows.append(tuple(form.strip() for form in line.split("|") if form.strip()))
    return tuple(rows)


def load_name_list(name: str) -> frozenset[str]:
    """The entries of data_prep/assets/names/<name>.txt as written (NFC), comments and blank lines dropped.

    For public_figures every " | "-separated form of a line is an entry. Match text against it through
    name_key() (the lists are in one spelling; text comes in several) or public_figure_names().
    """
    return frozenset(form for row in _read_rows(name) for form in row)


# ============================================================================================ script helpers
_KK_ONLY = frozenset("әғқңөұүһі")
_VOWELS = frozenset("аәеэиоөұүыіуюяё")
_BACK = frozenset("аоұыяё")
_FRONT = frozenset("әөүіеэ")
_LATIN_2021 = frozenset("äöüūğqñşı")
_CYR_TO_KEY = str.maketrans(
    {
        "а": "a",
        "ә": "a",
        "б": "b",
        "в": "v",
        "г": "g",
        "ғ": "g",
        "д": "d",
        "е": "e",
        "ё": "e",
        "э": "e",
        "ж": "j",
        "з": "z",
        "и": "i",
        "і": "i",
        "ы": "i",
        "й": "i",
        "к": "k",
        "қ": "k",
        "л": "l",
        "м": "m",
        "н": "n",
        "ң": "n",
        "о": "o",
        "ө": "o",
        "п": "p",
        "р": "r",
        "с": "s",
        "т": "t",
        "у": "u",
        "ұ": "u",
        "ү": "u",
        "ф": "f",
        "х": "h",
        "һ": "h",
        "ц": "ts",
        "ч": "ch",
        "ш": "sh",
        "щ": "sh",
        "ъ": "",
        "ь": "",
        "ю": "iu",
        "я": "ia",
    }
)
# Kazakh letters -> the Russian letters Russian-language text writes for them.
_FOLD = str.maketrans(
    {"ә": "а", "ғ": "г", "қ": "к", "ң": "н", "ө": "о", "ұ": "у", "ү": "у", "һ": "х", "і": "и"}
)
# Kazakh Cyrillic -> Latin: the passport style most Latin-script Kazakh names are written in (Aigerim, Nurlan,
# Zhansaya), and the 2021 alphabet (Äigerım, Nūrlan, Jansaia) for spans already written in it.
_LAT_PASSPORT = {
    "а": "a",
    "ә": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "ғ": "g",
    "д": "d",
    "е": "e",
    "ё": "yo",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "й": "i",
    "і": "i",
    "к": "k",
    "қ": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "ң": "n",
    "о": "o",
    "ө": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ұ": "u",
    "ү": "u",
    "ф": "f",
    "х": "kh",
    "һ": "h",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
}
_LAT_2021 = dict(
    _LAT_PASSPORT,
    **{
        "ә": "ä",
        "ғ": "ğ",
        "ё": "io",
        "ж": "j",
        "і": "ı",
        "қ": "q",
        "ң": "ñ",
        "ө": "ö",
        "ұ": "ū",
        "ү": "ü",
        "х": "h",
        "ш": "ş",
        "щ": "şş",
        "ю": "iu",
        "я": "ia",
    },
)


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


_LATIN_RE = re.compile(r"[A-Za-z\u00C0-\u024F]")


def _is_latin_char(ch: str) -> bool:
    return bool(_LATIN_RE.match(ch))


def _has_latin(text: str) -> bool:
    return _LATIN_RE.search(text) is not None


@functools.lru_cache(maxsize=1 << 16)
def name_key(word: str) -> str:
    """Spelling- and script-insensitive key of a name: Нұрлан, Нурлан, Nurlan, НҰРЛАН -> "nurlan".

    Cyrillic (Kazakh letters folded, ё->е, soft and hard signs dropped) and Latin (passport style or the 2021
    alphabet; zh=j, kh=h, q=k, y=i) meet in one ASCII form; runs of i collapse (Сейітқали = Seitkali).
    """
    s = _nfc(word).lower()
    if _has_latin(s):
        s = s.replace("ı", "i").replace("ş", "sh").replace("ç", "ch")
        s = "".join(ch for ch in unicodedata.normalize("NFKD", s) if not unicodedata.combining(ch))
        s = s.replace("zh", "j").replace("kh", "h").replace("q", "k").replace("y", "i").replace("w", "u")
    else:
        s = re.sub(r"(?<=[бвгджзклмнпрстфхцчшщ])я", "а", s)  # Ляззат = Ләззат, Куляш = Күләш
        s = s.translate(_CYR_TO_KEY)
    s = re.sub(r"[^a-z]", "", s)
    return re.sub(r"i{2,}", "i", s)


def _render_ru(text: str) -> str:
    """Kazakh spelling -> the Russian-style spelling of Russian-language text (Жақсыбек -> Жаксыбек).

    Beyond the letter fold: ә after л is written я (Ләззат -> Ляззат) and ү/ө before a final or pre-consonant
    л take a soft sign (Айгүл -> Айгуль, Гүлнар -> Гульнар).
    """
    text = re.sub("лә", "ля", text)
    text = re.sub(r"([үө])л(?![аәеиоөұүыіуэюя])", lambda m: {"ү": "уль", "ө": "оль"}[m.group(1)], text)
    return text.translate(_FOLD)


def _to_latin(text: str, variant: str) -> str:
    table = _LAT_2021 if variant == "2021" else _LAT_PASSPORT
    out = "".join(table.get(ch, ch) for ch in text)
    # Сейітқали -> Seiitkali -> Seitkali; Дмитрий -> Dmitrii -> Dmitri (how such names are usually written)
    return re.sub(r"ii+", "i", out)


def _casing(word: str) -> str:
    letters = [ch for ch in word if ch.isalpha()]
    if len(letters) > 1 and all(ch.isupper() for ch in letters):
        return "upper"
    if letters and letters[0].isupper():
        return "title"
    return "lower"


def _apply_casing(text: str, casing: str) -> str:
    if casing == "upper":
        return text.upper()
    if casing == "title":
        return text[:1].upper() + text[1:]
    return text


# ======================================================================================== Kazakh morphology
# Allomorphs by the stem's final sound class and its harmony (back, front). Classes: V vowel, N м/н/ң,
# L л, S other sonorants р/й/у/и (у and и at the end of a word are [w]/[j] in Kazakh: судың, бидің),
# Z voiced з/ж, T voiceless, plus б/в/г/д, which are devoiced word-finally (Серікбаевтың, Олегке).
_KK_CASE = {
    "gen": {
        "V": ("ның", "нің"),
        "N": ("ның", "нің"),
        "L": ("дың", "дің"),
        "S": ("дың", "дің"),
        "Z": ("дың", "дің"),
        "T": ("тың", "тің"),
    },
    "acc": {
        "V": ("ны", "ні"),
        "N": ("ды", "ді"),
        "L": ("ды", "ді"),
        "S": ("ды", "ді"),
        "Z": ("ды", "ді"),
        "T": ("ты", "ті"),
    },
    "dat": {
        "V": ("ға", "ге"),
        "N": ("ға", "ге"),
        "L": ("ға", "ге"),
        "S": ("ға", "ге"),
        "Z": ("ға", "ге"),
        "T": ("қа", "ке"),
    },
    "loc": {
        "V": ("да", "де"),
        "N": ("да", "де"),
        "L": ("да", "де"),
        "S": ("да", "де"),
        "Z": ("да", "де"),
        "T": ("та", "те"),
    },
    "abl": {
        "V": ("дан", "ден"),
        "N": ("нан", "нен"),
        "L": ("дан", "ден"),
        "S": ("дан", "ден"),
        "Z": ("дан", "ден"),
        "T": ("тан", "тен"),
    },
    "ins": {
        "V": ("мен", "мен"),
        "N": ("мен", "мен"),
        "L": ("мен", "мен"),
        "S": ("мен", "мен"),
        "Z": ("бен", "бен"),
        "T": ("пен", "пен"),
    },
}
_KK_PLURAL = {
    "V": ("лар", "лер"),
    "S": ("лар", "лер"),
    "N": ("дар", "дер"),
    "L": ("дар", "дер"),
    "Z": ("дар", "дер"),
    "T": ("тар", "тер"),
}
# After a 3rd-person possessive, which -ұлы "his son" / -қызы "his daughter" are: Нұрланұлының, -ына, -ын ...
_KK_POSS = {
    "gen": ("ның", "нің"),
    "acc": ("н", "н"),
    "dat": ("на", "не"),
    "loc": ("нда", "нде"),
    "abl": ("нан", "нен"),
    "ins": ("мен", "мен"),
}
_POSS_MARKERS = ("ұлы", "қызы", "улы", "кызы")
_POSS_MARKERS_LAT = ("uly", "kyzy", "qyzy", "ūly")


def _is_front(stem: str) -> bool:
    """Front (True) or back harmony of a Cyrillic stem, from its last harmonising vowel.

    In a word with Kazakh letters, и and у are neutral ([ій]/[ұу] take the harmony of the rest: Сейітқалиға).
    In a word without them (a Russian name, or a Kazakh one spelt Russian-style) the last vowel decides, и as
    front and у/ю as back: Пушкиннің, Кимге, Серикке, but Тимурға. The е of -ев after a vowel (Тоқаев,
    Серікбаев) is [jə] and follows the vowel before it: Тоқаевқа, Әлиевке. A final soft sign makes it front.
    """
    s = stem.lower()
    if s.endswith("ь"):
        return True
    kazakh = any(ch in _KK_ONLY for ch in s)
    for i in range(len(s) - 1, -1, -1):
        ch = s[i]
        if ch in _BACK:
            return False
        if ch in _FRONT:
            if ch == "е" and s[i + 1 : i + 2] == "в" and i > 0 and s[i - 1] in _VOWELS:
                continue
            return True
        if not kazakh and ch == "и":
            return True
        if not kazakh and ch in "ую":
            return False
    return "у" not in s and "ю" not in s and "и" in s


def _final_class(stem: str) -> str:
    s = stem.lower().rstrip("ьъ")
    ch = s[-1:] or "а"
    if ch in "иу":
        return "S"
    if ch in _VOWELS:
        return "V"
    if ch in "мнң":
        return "N"
    if ch == "л":
        return "L"
    if ch in "рй":
        return "S"
    if ch in "зж":
        return "Z"
    return "T"


def inflect_kk(stem: str, case: str | None = None, plural: bool = False) -> str:
    """Attach Kazakh plural and/or case to a Cyrillic name with the right harmony and assimilation.

    inflect_kk("Айгүл", "dat") == "Айгүлге", inflect_kk("Ахмет", "gen") == "Ахметтің",
    inflect_kk("Серікбаев", "dat", plural=True) == "Серікбаевтарға", inflect_kk("Нұрланұлы", "abl") ==
    "Нұрланұлынан". case is one of KK_CASES or None. The stem's letter case is kept; the ending is
    lowercase unless the stem is all upper case.
    """
    if case is not None and case not in KK_CASES:
        raise ValueError(f"unknown Kazakh case {case!r}; known: {', '.join(KK_CASES)}")
    low = stem.lower()
    front = int(_is_front(low))
    out = low
    if plural:
        out += _KK_PLURAL[_final_class(out)][front]
    if case is not None:
        if not plural and low.endswith(_POSS_MARKERS):
            out += _KK_POSS[case][front]
        else:
            out += _KK_CASE[case][_final_class(out)][front]
    ending = out[len(low) :]
    return stem + (ending.upper() if _casing(stem) == "upper" else ending)


def _build_kk_endings() -> dict[str, list[tuple[str, int, bool, str | None]]]:
    """Every ending string -> the (class, harmony, plural, case) readings that produce it."""
    table: dict[str, list[tuple[str, int, bool, str | None]]] = {}
    for cls in "VNLSZT":
        for front in (0, 1):
            for plural in (False, True):
                for case in (None, *KK_CASES):
                    if case is None and not plural:
                        continue
                    text = _KK_PLURAL[cls][front] if plural else ""
                    if case is not None:
                        text += _KK_CASE[case]["S" if plural else cls][front]
                    table.setdefault(text, []).append((cls, front, plural, case))
    for case, forms in _KK_POSS.items():
        for front in (0, 1):
            table.setdefault(forms[front], []).append(("P", front, False, case))
    return table


_KK_ENDINGS = _build_kk_endings()
_KK_ENDINGS_LAT: dict[str, list[tuple[str, int, bool, str | None]]] = {}
for _text, _readings in _KK_ENDINGS.items():
    for _variant in ("passport", "2021"):
        for _reading in _readings:
            _bucket = _KK_ENDINGS_LAT.setdefault(_to_latin(_text, _variant), [])
            if _reading not in _bucket:
                _bucket.append(_reading)
_MAX_ENDING = max(len(text) for text in (*_KK_ENDINGS, *_KK_ENDINGS_LAT))


def _latin_classes(stem: str) -> set[str]:
    """Possible final sound classes of a Latin-script stem (passport Latin is ambiguous: i = і/и/й)."""
    s = stem.lower()
    if s.endswith("zh") or s.endswith("j"):
        return {"Z"}
    if s.endswith(("sh", "ch", "kh", "ts", "ş")):
        return {"T"}
    ch = s[-1:]
    if ch in "iuyı":
        return {"V", "S"}
    if ch in "aeoäöüū":
        return {"V"}
    if ch in "mnñ":
        return {"N"}
    if ch == "l":
        return {"L"}
    if ch == "r":
        return {"S"}
    if ch == "z":
        return {"Z"}
    return {"T"}


@dataclass(frozen=True)
class _Split:
    stem: str
    ending: str
    plural: bool
    case: str | None
    strict: bool  # the ending's harmony matches the stem's (always True for Latin, which cannot tell)


def _kk_splits(w: str, latin: bool) -> list[_Split]:
    """Readings of lowercase `w` as stem + Kazakh case/plural ending that fit the stem's final sound."""
    table = _KK_ENDINGS_LAT if latin else _KK_ENDINGS
    out: list[_Split] = []
    seen = set()
    for length in range(min(_MAX_ENDING, len(w) - 2), 0, -1):
        readings = table.get(w[-length:])
        if not readings:
            continue
        stem = w[:-length]
        poss = stem.endswith(_POSS_MARKERS_LAT if latin else _POSS_MARKERS)
        classes = _latin_classes(stem) if latin else {_final_class(stem)}
        if not latin and stem[-1:] in "иу":
            classes = classes | {"V"}  # Тилеуберди(ні): a Russian-style и/у can stand for Kazakh і/ұ
        if not latin and stem.endswith("в"):
            classes = classes | {"Z"}  # Ивановдың is written too
        front = None if latin else int(_is_front(stem))
        for cls, harmony, plural, case in readings:
            if cls == "P" and not poss:
                continue
            if cls != "P" and (cls not in classes or (poss and not plural)):
                continue
            key = (stem, plural, case)
            if key in seen:
                continue
            seen.add(key)
            out.append(_Split(stem, w[-length:], plural, case, front is None or harmony == front))
    return out


# ======================================================================================= Russian morphology
_RU_IRREGULAR = {"лев": "льв", "павел": "павл", "пётр": "петр"}  # oblique stems: Льва, Павлу, Петром
_RU_IRREGULAR_BACK = {"льв": "лев", "павл": "павел"}
_SIBILANT = frozenset("жшчщц")


def _given_class(lemma: str, gender: str) -> str:
    """Declension class of a (Cyrillic, lowercase) given name: decides its Russian case forms."""
    s = lemma
    if gender == "m":
        if s.endswith("ий"):
            return "m_ий"
        if s.endswith("й"):
            return "m_й"
        if s.endswith("ь"):
            return "m_ь"
        if s[-1:] in ("а", "я"):
            return "m_a"
        if s[-1:] in _VOWELS:
            return "m_indecl"
        return "m_hard"
    if s.endswith("ия"):
        return "f_ия"
    if s[-1:] in ("а", "я"):
        return "f_a"
    if s.endswith("ь"):
        return "f_ь"
    return "f_indecl"  # Айгерим, Асем, Шолпан: female names in a consonant do not decline in Russian


# Classes whose forms line up case by case: a fake from the same family reproduces any form of the original.
_FAMILY = {
    "m_hard": "mc",
    "m_й": "mc",
    "m_ий": "mc",
    "m_ь": "mc",
    "m_a": "ma",
    "m_indecl": "mi",
    "f_a": "fa",
    "f_ия": "fi",
    "f_ь": "fs",
    "f_indecl": "fx",
}


def _latin_given_class(lemma: str, gender: str) -> str:
    s = lemma.lower()
    if s.endswith(("iya", "ia")):
        return _given_class("ия", gender)
    if s.endswith(("a", "ya")):
        return _given_class("а", gender)
    if gender == "m" and s.endswith(("ai", "ei", "oi", "ay", "ey", "oy")):
        return "m_й"
    return _given_class("н", gender)


def _ru_forms(lemma: str, cls: str) -> dict[str, str]:
    """Russian case forms (nom, gen, dat, acc, ins, prep) of a lowercase name of declension class `cls`."""
    base = lemma[:-1]
    if lemma in _RU_IRREGULAR and cls == "m_hard":
        ob = _RU_IRREGULAR[lemma]
        return {
            "nom": lemma,
            "gen": ob + "а",
            "dat": ob + "у",
            "acc": ob + "а",
            "ins": ob + "ом",
            "prep": ob + "е",
        }
    if cls == "m_hard":
        ins = "ем" if lemma[-1:] in _SIBILANT else "ом"
        return {
            "nom": lemma,
            "gen": lemma + "а",
            "dat": lemma + "у",
            "acc": lemma + "а",
            "ins": lemma + ins,
            "prep": lemma + "е",
        }
    if cls in ("m_й", "m_ь", "m_ий"):
        return {
            "nom": lemma,
            "gen": base + "я",
            "dat": base + "ю",
            "acc": base + "я",
            "ins": base + "ем",
            "prep": base + ("и" if cls == "m_ий" else "е"),
        }
    if cls in ("m_a", "f_a"):
        if lemma.endswith("я"):
            return {
                "nom": lemma,
                "gen": base + "и",
                "dat": base + "е",
                "acc": base + "ю",
                "ins": base + "ей",
                "prep": base + "е",
            }
        gen = "и" if base[-1:] in "гкхжшчщ" else "ы"
        ins = "ей" if base[-1:] in _SIBILANT else "ой"
        return {
            "nom": lemma,
            "gen": base + gen,
            "dat": base + "е",
            "acc": base + "у",
            "ins": base + ins,
            "prep": base + "е",
        }
    if cls == "f_ия":
        return {
            "nom": lemma,
            "gen": base + "и",
            "dat": base + "и",
            "acc": base + "ю",
            "ins": base + "ей",
            "prep": base + "и",
        }
    if cls == "f_ь":
        return {
            "nom": lemma,
            "gen": base + "и",
            "dat": base + "и",
            "acc": lemma,
            "ins": base + "ью",
            "prep": base + "и",
        }
    return dict.fromkeys(RU_CASES, lemma)


# (ending of the form, ending of the lemma): reverse the tables above to find lemma candidates cheaply.
_RU_GIVEN_REVERSE = (
    ("а", ""),
    ("у", ""),
    ("ом", ""),
    ("ем", ""),
    ("е", ""),
    ("я", "й"),
    ("ю", "й"),
    ("ем", "й"),
    ("е", "й"),
    ("и", "й"),
    ("я", "ь"),
    ("ю", "ь"),
    ("ем", "ь"),
    ("е", "ь"),
    ("и", "ь"),
    ("ью", "ь"),
    ("ы", "а"),
    ("и", "а"),
    ("е", "а"),
    ("у", "а"),
    ("ой", "а"),
    ("ей", "а"),
    ("ою", "а"),
    ("и", "я"),
    ("е", "я"),
    ("ю", "я"),
    ("ей", "я"),
    ("ёй", "я"),
)
# Surname tails after -ов/-ев/-ёв/-ин/-ын, with the (gender, case) readings each allows ("p" = plural).
_OV_TAILS = {
    "": {("m", "nom")},
    "а": {("m", "gen"), ("m", "acc"), ("f", "nom")},
    "у": {("m", "dat"), ("f", "acc")},
    "ым": {("m", "ins"), ("p", "dat")},
    "е": {("m", "prep")},
    "ой": {("f", "gen"), ("f", "dat"), ("f", "ins"), ("f", "prep")},
    "ою": {("f", "ins")},
    "ы": {("p", "nom")},
    "ых": {("p", "gen"), ("p", "acc"), ("p", "prep")},
    "ыми": {("p", "ins")},
}
_SKY_TAILS = {
    "ий": {("m", "nom")},
    "ая": {("f", "nom")},
    "ого": {("m", "gen"), ("m", "acc")},
    "ому": {("m", "dat")},
    "им": {("m", "ins"), ("p", "dat")},
    "ом": {("m", "prep")},
    "ой": {("m", "nom"), ("f", "gen"), ("f", "dat"), ("f", "ins"), ("f", "prep")},
    "ую": {("f", "acc")},
    "ие": {("p", "nom")},
    "их": {("p", "gen"), ("p", "acc"), ("p", "prep")},
    "ими": {("p", "ins")},
}
_PATR_M_TAILS = {
    "": {("m", "nom")},
    "а": {("m", "gen"), ("m", "acc")},
    "у": {("m", "dat")},
    "ем": {("m", "ins")},
    "е": {("m", "prep")},
}
_PATR_F_TAILS = {
    "а": {("f", "nom")},
    "ы": {("f", "gen")},
    "е": {("f", "dat"), ("f", "prep")},
    "у": {("f", "acc")},
    "ой": {("f", "ins")},
    "ою": {("f", "ins")},
}
# -ын only after ц: Russian -ын surnames are -цын (Солженицын, Синицын), while Kazakh names end in -сын, -йын,
# -шын (Тұрсын, Ерсайын, Талшын) and must not look like surnames.
_OV_RE = re.compile(r"^(.{2,}?)(ов|ев|ёв|ин|(?<=ц)ын)(а|у|ым|е|ой|ою|ы|ых|ыми)?$")
_OV_RE_LAT = re.compile(r"^(.{2,}?)(ov|ev|yov|in|(?<=ts)yn)(a)?$")
_SKY_RE = re.compile(r"^(.{2,})(ск|цк)(ий|ая|ого|ому|им|ом|ой|ую|ие|их|ими)$")
_SKY_RE_LAT = re.compile(r"^(.{2,})(sk|tsk)(ii|iy|y|aya|aia)$")
_PATR_M_RE = re.compile(r"^(.{2,}?)(ович|ьевич|евич|ич)(а|у|ем|е)?$")
_PATR_F_RE = re.compile(r"^(.{2,}?)(овн|ьевн|евн|иничн|ичн)(а|ы|е|у|ой|ою)$")
_PATR_RE_LAT = re.compile(r"^(.{2,}?)(ovich|evich|ovna|evna)$")
_ULY_RE = re.compile(r"^(.{2,}?)(ұлы|қызы|улы|кызы)$")
_ULY_RE_LAT = re.compile(r"^(.{2,}?)(uly|ūly|kyzy|qyzy)$")
# Kazakh-looking endings and beginnings of a name (for the origin of a name in no list).
_KK_LIKE_END = (
    "бай",
    "бек",
    "жан",
    "хан",
    "ғали",
    "гали",
    "қали",
    "кали",
    "бол",
    "болат",
    "гүл",
    "гуль",
    "сұлу",
    "сулу",
    "нұр",
    "нур",
    "ай",
    "ұлы",
    "улы",
    "қызы",
    "кызы",
    "ғазы",
    "газы",
    "әли",
    "берген",
)
_KK_LIKE_START = ("нұр", "нур", "ай", "ақ", "ер", "жан", "гүл", "гуль", "бек", "сұлтан", "жұма", "жума")
_PARTICLES = frozenset(
    {
        "әл",
        "ал",
        "аль",
        "эль",
        "ибн",
        "бин",
        "ван",
        "фон",
        "де",
        "ди",
        "дю",
        "ле",
        "ла",
        "оглы",
        "оғлы",
        "al",
        "el",
        "ibn",
        "bin",
        "van",
        "von",
        "de",
        "di",
        "du",
        "le",
        "la",
    }
)
_ROMAN = re.compile(r"^[IVXLC]+$")


def _ov_form(stem: str) -> str:
    """Kazakh surname stem -> masculine -ов/-ев surname: Омар -> Омаров, Тоқа -> Тоқаев,
    Серікбай -> Серікбаев."""
    if stem.endswith("й"):
        return stem[:-1] + "ев"
    if stem[-1:] in _VOWELS - {"у"} or stem[-1:] in _SIBILANT:  # Мұса -> Мұсаев, Жұмаш -> Жұмашев
        return stem + "ев"
    return stem + "ов"


def _patronymic(father: str, female: bool) -> str:
    """Russian-style patronymic from a father's name: Олег -> Олегович/Олеговна, Сергей -> Сергеевич."""
    if father.endswith(("й", "ь")):
        return father[:-1] + ("евна" if female else "евич")
    return father + ("овна" if female else "ович")


# Gender of a name in no list, from its ending (on the name_key, so any script): -бек, -бай, -хан are men's,
# -гүл, -сұлу, -жамал, -а are women's. -жан is both (Айжан, Бекжан) and decides nothing.
_MALE_KEY_END = (
    "bek",
    "bai",
    "han",
    "gali",
    "kali",
    "bol",
    "bolat",
    "tai",
    "uli",
    "jigit",
    "bergen",
    "berdi",
    "murat",
    "ali",
    "ahmet",
    "mukhamed",
    "muhamed",
    "ov",
    "ev",
    "ich",
)
_FEMALE_KEY_END = ("gul", "sulu", "aim", "jamal", "bike", "banu", "zada", "kizi", "ova", "eva", "ina", "a")


def _guess_gender(key: str) -> str | None:
    if key.endswith(_MALE_KEY_END):
        return "m"
    if key.endswith(_FEMALE_KEY_END):
        return "f"
    return None


def _kk_like(lemma: str) -> bool:
    low = lemma.lower()
    return (
        any(ch in _KK_ONLY for ch in low)
        or _has_latin(low)
        or low.endswith(_KK_LIKE_END)
        or low.startswith(_KK_LIKE_START)
    )


# ================================================================================================== lexicon
@dataclass(frozen=True)
class _Name:
    text: str  # lowercase spelling as in the list
    gender: str  # "m" | "f"
    origin: str  # "kk" | "ru"
    dim: bool  # a diminutive (Саша, Дима)
    variant: bool  # a Russian-style spelling of a Kazakh name: recognised, never issued as a fake


_GIVEN_LISTS = (
    ("kk_given_male", "m", "kk", False, False),
    ("kk_given_female", "f", "kk", False, False),
    ("kk_given_male_ru", "m", "kk", False, True),
    ("kk_given_female_ru", "f", "kk", False, True),
    ("ru_given_male", "m", "ru", False, False),
    ("ru_given_female", "f", "ru", False, False),
    ("ru_diminutive_male", "m", "ru", True, False),
    ("ru_diminutive_female", "f", "ru", True, False),
)
_TITLES = frozenset({"хан", "би", "батыр", "ата", "сал", "сері", "жырау", "ақын", "ишан", "қажы", "сере"})
_MIN_POOL = 3


class _Lexicon:
    """All lists, indexed by name_key, and the pools fakes are drawn from (built once, on first use)."""

    def __init__(self) -> None:
        self.given: dict[str, list[_Name]] = {}
        for list_name, gender, origin, dim, variant in _GIVEN_LISTS:
            for (form,) in _read_rows(list_name):
                name = _Name(form.lower(), gender, origin, dim, variant)
                self.given.setdefault(name_key(form), []).append(name)
        self.kk_stems = {name_key(s): s.lower() for (s,) in _read_rows("surname_stems_kk")}
        self.ru_surnames = {name_key(s): s.lower() for (s,) in _read_rows("ru_surnames")}
        self.public_words = frozenset(name_key(w) for w in public_figure_names() if " " not in w)
        self._pools: dict[tuple, tuple] = {}

    # --- given names ----------------------------------------------------------------------------------
    def given_pool(self, origin: str, gender: str, family: str | None, dim: bool) -> tuple[_Name, ...]:
        """Fake candidates: same origin and gender, same declension family and register where enough exist."""
        tries = [
            (origin, family, dim),
            (origin, family, None),
            (None, family, dim),
            (None, family, None),
            (origin, None, dim),
            (origin, None, None),
        ]
        for try_origin, try_family, try_dim in tries:
            pool = self._given_pool(try_origin, gender, try_family, try_dim)
            if len(pool) >= _MIN_POOL:
                return pool
        return self._given_pool(None, gender, None, None)

    def _given_pool(self, origin, gender, family, dim) -> tuple[_Name, ...]:
        key = ("given", origin, gender, family, dim)
        if key not in self._pools:
            seen, pool = set(), []
            for names_key, names in self.given.items():
                for name in names:
                    if (
                        name.variant
                        or name.gender != gender
                        or (origin and name.origin != origin)
                        or (dim is not None and name.dim != dim)
                        or (family and _FAMILY[_given_class(name.text, gender)] != family)
                    ):
                        continue
                    if names_key not in seen:
                        seen.add(names_key)
                        pool.append(name)
            self._pools[key] = tuple(pool)
        return self._pools[key]

    def father_pool(self, origin: str) -> tuple[_Name, ...]:
        """Male names that make a clean patronymic either way (-ович/-евич and -ұлы):
        no -ий, -а, sibilants."""
        key = ("father", origin)
        if key not in self._pools:
            pool = [
                n
                for n in self._given_pool(origin, "m", "mc", False)
                if not n.text.endswith("ий")
                and n.text[-1] not in _SIBILANT
                and n.text not in _RU_IRREGULAR
                and n.text != "петр"
                # nor a famous surname once formed: Дулат -> Дулатұлы, Құнанбай -> Құнанбайұлы
                and not {name_key(n.text + "ұлы"), name_key(n.text + "қызы")} & self.public_words
            ]
            self._pools[key] = tuple(pool)
        return self._pools[key]

    # --- surnames -------------------------------------------------------------------------------------
    def kk_stem_pool(self) -> tuple[str, ...]:
        if "kk_stems" not in self._pools:
            pool = [
                s
                for s in self.kk_stems.values()
                if not {name_key(s), name_key(_ov_form(s)), name_key(s + "ұлы"), name_key(s + "қызы")}
                & self.public_words
            ]
            self._pools["kk_stems"] = tuple(pool)
        return self._pools["kk_stems"]

    def ru_surname_pool(self, scls: str) -> tuple[str, ...]:
        key = ("ru_surnames", scls)
        if key not in self._pools:
            self._pools[key] = tuple(
                s
                for k, s in self.ru_surnames.items()
                if _surname_class(s) == scls and k not in self.public_words
            )
        return self._pools[key]

    def given_info(self, key: str) -> tuple[str | None, str | None, bool, str | None] | None:
        """(gender, origin, diminutive, canonical text) of a known given name, None where not known.

        gender/origin are None when the lists disagree (unisex Саша; Тимур is both Kazakh and Russian).
        """
        names = self.given.get(key)
        if not names:
            return None
        genders = {n.gender for n in names}
        origins = {n.origin for n in names}
        canon = next((n.text for n in names if not n.variant), names[0].text)
        return (
            genders.pop() if len(genders) == 1 else None,
            origins.pop() if len(origins) == 1 else None,
            all(n.dim for n in names),
            canon,
        )


@functools.cache
def _lexicon() -> _Lexicon:
    return _Lexicon()


def _surname_class(masc: str) -> str:
    if re.search(r"(ск|цк)(ий|ой)$", masc):
        return "sky"
    if _OV_RE.match(masc) and not _OV_RE.match(masc).group(3):
        return "ov"
    if masc[-1:] in _VOWELS or masc.endswith(("ых", "их")):
        return "ind"
    return "cons"


@functools.cache
def public_figure_names() -> frozenset[str]:
    """The allow-list a source can opt into: every form in public_figures.txt, plus the distinctive words.

    A distinctive word is a word of a multi-word form that is neither a common given name (Мұхтар alone would
    keep every Мұхтар), nor a common surname from ru_surnames (Ильин, Шевченко), nor a title (хан, би,
    батыр) or lowercase particle: Құнанбайұлы, Әуезов, Толстой, Назарбаев. Forms listed alone in the file
    (Абай, Пушкин) are kept as they are. Match a span's lemmas (name_lemmas) against this set, and compare
    through name_key() to be spelling-insensitive (Тоқаев = Токаев).
    """
    given = {name_key(f) for list_name, *_ in _GIVEN_LISTS for (f,) in _read_rows(list_name)}
    common_surnames = {name_key(f) for (f,) in _read_rows("ru_surnames")}
    out = set()
    for row in _read_rows("public_figures"):
        for form in row:
            out.add(form)
            words = form.split()
            if len(words) < 2:
                continue
            for word in words:
                if (
                    word[:1].isupper()
                    and word.lower() not in _TITLES
                    and name_key(word) not in given
                    and name_key(word) not in common_surnames
                    and not _ROMAN.match(word)
                ):
                    out.add(word)
    return frozenset(out)


# ================================================================================================= analysis
@dataclass(frozen=True)
class _Analysis:
    role: str  # "given" | "surname" | "father" | "unknown"
    lemma: str  # lowercase, in the word's own script (Cyrillic or Latin)
    key: str  # name_key of the lemma (of the stem for surnames, of the father's name)
    score: float
    gender: str | None = None
    origin: str | None = None
    gcls: str | None = None  # declension class of a given name
    dim: bool = False
    ru_cases: tuple[str, ...] = ()  # Russian cases this form can be (given names, -cons surnames)
    scls: str | None = None  # surname: "ov" | "sky" | "cons" | "ind" | "bare"
    suffix: str = ""  # surname: -ов/-ев/-ин ... (or -ск/-цк); patronymic: -ович/-евна ...
    tail: str = ""  # Russian tail after the suffix (Иванов|а, Петрович|у)
    pform: str | None = None  # father: "uly" | "kyzy" | "ovich" | "ovna"
    kk_case: str | None = None
    kk_plural: bool = False
    ending: str = ""  # the Kazakh ending as written (lowercase)

    def readings(self) -> set[tuple[str, str]] | None:
        """(gender, Russian case) readings, for agreement between the parts of a span;
        None = no Russian case."""
        if self.kk_case or self.kk_plural:
            return None
        genders = (self.gender,) if self.gender else ("m", "f")
        if self.role == "given" or (self.role == "surname" and self.scls == "cons"):
            return {(g, c) for g in genders for c in self.ru_cases} or None
        if self.role == "surname" and self.scls == "ov":
            return _OV_TAILS.get(self.tail)
        if self.role == "surname" and self.scls == "sky":
            return _SKY_TAILS.get(self.tail)
        if self.role == "father" and self.pform == "ovich":
            return _PATR_M_TAILS.get(self.tail)
        if self.role == "father" and self.pform == "ovna":
            return _PATR_F_TAILS.get(self.tail)
        return None


def _ov_gender(tail: str, kazakh: bool) -> str | None:
    readings = _OV_TAILS.get(tail, set())
    genders = {g for g, _ in readings}
    if kazakh and tail == "а":  # Kazakh text has no Russian genitive: Серікбаеваның is a woman's
        return "f"
    return genders.pop() if len(genders) == 1 and "p" not in genders else None


def _father_lemmas(base: str, suffix: str) -> list[str]:
    """Father's-name candidates from a Russian patronymic stem: Петр|ович, Серге|евич, Юр|ьевич, Иль|ич."""
    if suffix in ("ович", "овн"):
        return [_RU_IRREGULAR_BACK.get(base, base)]
    if suffix in ("евич", "евн"):
        return [base + "й", base + "ь"] if base[-1:] in _VOWELS else [base + "ь", base + "й"]
    if suffix in ("ьевич", "ьевн"):
        return [base + "ий"]
    return [base + "а", base + "я"]  # -ич, -ична, -инична: Ильич, Кузьминична, Никитична


def _spelled_as(w: str, names: list[_Name]) -> bool:
    """Is `w` a list spelling, or one with the Kazakh letters (and ё) folded the Russian way
    (Нурлан, Зауре)?"""
    plain = w.replace("ё", "е")
    return any(n.text == w or n.text.translate(_FOLD).replace("ё", "е") == plain for n in names)


def _base_analyses(w: str, latin: bool, after_kk: bool) -> list[_Analysis]:
    """Readings of lowercase `w` that carry no Kazakh ending (it has been stripped when after_kk)."""
    lex = _lexicon()
    out: list[_Analysis] = []
    key = name_key(w)
    info = lex.given_info(key)
    if info:
        gender, origin, dim, canon = info
        gcls = _given_class(canon, gender) if gender else None
        cases: tuple[str, ...] = ("nom",)
        if gcls and not latin and not after_kk:
            forms = _ru_forms(w, _given_class(w, gender))
            cases = tuple(c for c in RU_CASES if forms[c] == w)
        # found by key only (Нурлан for Нұрлан, Дмитрии for Дмитрий): weaker than a list's own spelling
        exact = latin or _spelled_as(w, lex.given[key])
        score = (2.9 if dim else 3.0) - (0 if exact else 0.3)
        out.append(_Analysis("given", w, key, score, gender, origin, gcls, dim, cases))
    if not latin and not after_kk:
        for tail, lemma_end in _RU_GIVEN_REVERSE:
            if not w.endswith(tail) or len(w) - len(tail) < 2:
                continue
            lemma = w[: -len(tail)] + lemma_end
            if not lemma_end:
                lemma = _RU_IRREGULAR_BACK.get(lemma, lemma)  # Льва -> Лев, Павлу -> Павел
            linfo = lex.given_info(name_key(lemma))
            if not linfo or lemma == w:
                continue
            gender, origin, dim, canon = linfo
            # a lemma in a list's own spelling (Ивану -> Иван) beats one only its key finds
            # (Юлияны -> "Юлияна")
            exact = _spelled_as(lemma, lex.given[name_key(lemma)])
            for g in (gender,) if gender else ("m", "f"):
                forms = _ru_forms(lemma, _given_class(lemma, g))
                cases = tuple(c for c in RU_CASES if forms[c] == w)
                if cases:
                    score = (2.75 if dim else 2.85) - (0 if exact else 0.4)
                    out.append(
                        _Analysis(
                            "given",
                            lemma,
                            name_key(lemma),
                            score,
                            gender,
                            origin,
                            _given_class(canon, g),
                            dim,
                            cases,
                        )
                    )
    if key in lex.kk_stems:
        out.append(_Analysis("surname", w, key, 2.5, None, "kk", scls="bare"))
    if key in lex.ru_surnames and _surname_class(lex.ru_surnames[key]) in ("cons", "ind"):
        scls = _surname_class(lex.ru_surnames[key])
        cases = RU_CASES if scls == "ind" else ("nom",)
        out.append(_Analysis("surname", w, key, 3.0, None, "ru", scls=scls, ru_cases=cases))
    if not latin and not after_kk:
        for tail, lemma_end in (
            ("а", ""),
            ("у", ""),
            ("ом", ""),
            ("ем", ""),
            ("е", ""),
            ("я", "й"),
            ("ю", "й"),
            ("ем", "й"),
            ("е", "й"),
        ):
            if w.endswith(tail) and len(w) - len(tail) >= 2:
                lemma = w[: -len(tail)] + lemma_end
                lkey = name_key(lemma)
                if lkey in lex.ru_surnames and _surname_class(lex.ru_surnames[lkey]) == "cons":
                    forms = _ru_forms(lemma, "m_й" if lemma.endswith("й") else "m_hard")
                    cases = tuple(c for c in RU_CASES if forms[c] == w)
                    if cases:
                        out.append(
                            _Analysis("surname", lemma, lkey, 2.8, "m", "ru", scls="cons", ru_cases=cases)
                        )
    out.extend(_surname_morphology(w, latin, after_kk))
    out.extend(_father_morphology(w, latin, after_kk))
    return out


def _surname_morphology(w: str, latin: bool, after_kk: bool) -> list[_Analysis]:
    lex = _lexicon()
    out = []
    m = (_OV_RE_LAT if latin else _OV_RE).match(w)
    if m and len(w) >= 4:
        stem, suffix, tail = m.group(1), m.group(2), m.group(3) or ""
        if not after_kk or tail in ("", "а", "a"):
            # -баев <- -бай: try the stem with its -й back where a vowel precedes -ев
            cands = (
                [stem + ("i" if latin else "й"), stem]
                if suffix in ("ев", "ev") and stem[-1:] in "аәеоөұүыіиaeoiuy"
                else [stem]
            )
            stem_key = next((name_key(c) for c in cands if name_key(c) in lex.kk_stems), None)
            origin = "kk" if stem_key else None
            masc = stem + suffix
            known = bool(stem_key)
            if not stem_key:
                if name_key(masc) in lex.ru_surnames:
                    origin, known = "ru", True
                stem_key = name_key(cands[0] if stem.endswith(("ба", "ba")) else stem)
            if origin is None:
                origin = "kk" if _kk_like(stem) else "ru"
            is_in = suffix in ("ин", "ын", "in", "yn")
            key = stem_key if origin == "kk" else stem_key + ("|in" if is_in else "|ov")
            tail_cyr = "а" if tail == "a" else tail
            out.append(
                _Analysis(
                    "surname",
                    masc,
                    key,
                    2.6 if known else 2.0,
                    _ov_gender(tail_cyr, after_kk),
                    origin,
                    scls="ov",
                    suffix=suffix,
                    tail=tail_cyr,
                )
            )
    m = (_SKY_RE_LAT if latin else _SKY_RE).match(w)
    if m:
        stem, suffix, tail = m.groups()
        if latin:
            tail = "ая" if tail in ("aya", "aia") else "ий"
        if not after_kk or tail in ("ий", "ая"):
            readings = _SKY_TAILS[tail]
            genders = {g for g, _ in readings}
            out.append(
                _Analysis(
                    "surname",
                    stem + suffix,
                    name_key(stem + suffix) + "|sky",
                    2.3,
                    genders.pop() if len(genders) == 1 else None,
                    "ru",
                    scls="sky",
                    suffix=suffix,
                    tail=tail,
                )
            )
    return out


def _father_morphology(w: str, latin: bool, after_kk: bool) -> list[_Analysis]:
    lex = _lexicon()
    out = []
    m = (_ULY_RE_LAT if latin else _ULY_RE).match(w)
    if m:
        father, marker = m.groups()
        info = lex.given_info(name_key(father))
        female = marker in ("қызы", "кызы", "kyzy", "qyzy")
        out.append(
            _Analysis(
                "father",
                father,
                name_key(father),
                2.8 if info else 2.4,
                "f" if female else "m",
                (info[1] if info else None) or "kk",
                pform="kyzy" if female else "uly",
                suffix=marker,
            )
        )
    if latin:
        m = _PATR_RE_LAT.match(w)
        if m:
            base, suffix = m.groups()
            female = suffix.endswith("na")
            father = base + ("i" if suffix.startswith("e") and base[-1:] in "aeiouy" else "")
            info = lex.given_info(name_key(father))
            out.append(
                _Analysis(
                    "father",
                    father,
                    name_key(father),
                    2.7 if info else 2.2,
                    "f" if female else "m",
                    (info[1] if info else None),
                    pform="ovna" if female else "ovich",
                    suffix=suffix,
                )
            )
        return out
    for regex, female, tails in ((_PATR_M_RE, False, _PATR_M_TAILS), (_PATR_F_RE, True, _PATR_F_TAILS)):
        m = regex.match(w)
        if not m:
            continue
        base, suffix, tail = m.group(1), m.group(2), m.group(3) or ""
        if tail not in tails or (after_kk and tail not in ("", "а")):
            continue
        lemmas = _father_lemmas(base, suffix)
        father = next((lem for lem in lemmas if lex.given_info(name_key(lem))), lemmas[0])
        info = lex.given_info(name_key(father))
        if suffix in ("ич", "ичн", "иничн") and not info:
            continue  # Гуревич, Рабинович: a surname, not a patronymic of a known name
        origin = (info[1] if info else None) or ("kk" if _kk_like(father) else "ru")
        out.append(
            _Analysis(
                "father",
                father,
                name_key(father),
                2.7 if info else 2.2,
                "f" if female else "m",
                origin,
                pform="ovna" if female else "ovich",
                suffix=suffix,
                tail=tail,
            )
        )
    return out


@functools.lru_cache(maxsize=1 << 15)
def _analyse(w: str, latin: bool) -> tuple[_Analysis, ...]:
    """Scored readings of one lowercase word, best first (at most four). Pure, so cached: names recur."""
    out = _base_analyses(w, latin, after_kk=False)
    for split in _kk_splits(w, latin):
        inner = [a for a in _base_analyses(split.stem, latin, after_kk=True) if a.role != "unknown"]
        penalty = 0.2 if split.strict else 0.5
        for a in inner:
            if a.role == "surname" and a.scls == "ov" and a.tail == "а" and a.gender is None:
                a = dataclasses.replace(a, gender="f")
            out.append(
                dataclasses.replace(
                    a,
                    score=a.score - penalty,
                    kk_case=split.case,
                    kk_plural=split.plural,
                    ending=split.ending,
                )
            )
        if (
            not inner
            and split.strict
            and len(split.stem) >= 3
            and len(split.ending) >= 2
            and not split.plural
            and split.case != "loc"
        ):
            out.append(
                _Analysis(
                    "unknown", split.stem, name_key(split.stem), 0.8, kk_case=split.case, ending=split.ending
                )
            )
    out.append(_Analysis("unknown", w, name_key(w), 0.5))
    best: dict[tuple, _Analysis] = {}
    for a in out:
        ident = (a.role, a.key, a.kk_case, a.kk_plural, a.tail, a.ru_cases, a.scls, a.pform, a.gender)
        if ident not in best or best[ident].score < a.score:
            best[ident] = a
    return tuple(sorted(best.values(), key=lambda a: -a.score)[:4])


# ================================================================================================== spans
_TOKEN_RE = re.compile(r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)*")


@dataclass
class _Token:
    start: int
    end: int
    text: str
    kind: str  # "word" | "initial" | "keep"
    analysis: _Analysis | None = None


def _tokenise(surface: str) -> list[_Token]:
    tokens = []
    any_capital = any(m.group()[:1].isupper() for m in _TOKEN_RE.finditer(surface))
    for m in _TOKEN_RE.finditer(surface):
        text = m.group()
        if len(text) == 1 and text.isupper():
            kind = "initial"
        elif (
            (_ROMAN.match(text) and len(text) > 1)
            or text.lower() in _PARTICLES
            or (any_capital and text[:1].islower())
        ):
            kind = "keep"  # Пётр I, әл-, ибн; lowercase titles inside a span (Абылай хан, Нұрлан аға)
        else:
            kind = "word"
        if kind == "initial" and _ROMAN.match(text) and not _has_latin(surface.replace(text, "")):
            kind = "keep"  # Пётр I
        tokens.append(_Token(m.start(), m.end(), text, kind))
    return tokens


def _combination_score(combo: tuple[_Analysis, ...]) -> float:
    score = sum(a.score for a in combo)
    genders = {a.gender for a in combo if a.gender and a.role in ("given", "father", "surname")}
    if len(genders) == 1 and len(combo) > 1:
        score += 1.0
    elif len(genders) > 1:
        score -= 1.5
    readings = [r for r in (a.readings() for a in combo) if r]
    for r1, r2 in itertools.combinations(readings, 2):
        score += 0.5 if r1 & r2 else -1.0
    roles = [a.role for a in combo]
    if len(combo) > 1 and "surname" not in roles and "father" not in roles:
        score -= 1.5  # two given names in a row are rarer than given name + (bare) surname
    if roles.count("surname") > 1:
        score -= 0.5
    return score


def _choose(candidates: list[tuple[_Analysis, ...]]) -> list[_Analysis]:
    if len(candidates) > 5:  # long spans: keep it linear, take each word's best reading
        return [c[0] for c in candidates]
    trimmed = [c[:3] for c in candidates]
    return list(max(itertools.product(*trimmed), key=_combination_score))


def _resolve_unknowns(chosen: list[_Analysis]) -> list[_Analysis]:
    """Give words in no list a role from their position: the one beside a given name is the surname, etc."""
    roles = [a.role for a in chosen]
    out = []
    for i, a in enumerate(chosen):
        if a.role != "unknown":
            out.append(a)
            continue
        has_given = "given" in roles
        has_surname = "surname" in roles
        if has_given and not has_surname and i == len(chosen) - 1:
            role = "surname"
        elif has_surname or i < len(chosen) - 1 or len(chosen) == 1:
            role = "given"
        else:
            role = "surname"
        roles[i] = role
        if role == "surname" and _kk_like(a.lemma):
            out.append(dataclasses.replace(a, role="surname", scls="bare", origin="kk"))
        elif role == "surname":  # Толстого, Гарсиа: no known declension, so a Russian-list surname, as is
            out.append(dataclasses.replace(a, role="surname", scls="cons", origin="ru", ru_cases=("nom",)))
        else:
            out.append(
                dataclasses.replace(
                    a, role="given", gender=_guess_gender(a.key), origin="kk" if _kk_like(a.lemma) else None
                )
            )
    return out


# ============================================================================================ pseudonymiser
@functools.cache
def _initial_letters(style: str) -> tuple[str, ...]:
    """First letters of the given names a style draws from, one per name: common initials come up often."""
    lex = _lexicon()
    names = [n for names in lex.given.values() for n in names if not n.variant and not n.dim]
    if style == "kk":
        letters = [n.text[0] for n in names if n.origin == "kk"]
    elif style == "ru":
        letters = [_render_ru(n.text)[0] for n in names]
    else:
        letters = [_to_latin(n.text, "passport")[0] for n in names if n.origin == "kk"]
    return tuple(sorted(ch.upper() for ch in letters))


class Pseudonymiser:
    """Consistent, seeded fake names within one document (see the module docstring for what is kept).

    lang ("kk" or "ru", optional) is the document's language. It only decides the spelling of fakes for names
    that show no preference themselves (Марат, Иса: no Kazakh letter either way) when neither their span nor
    an earlier span of the document does: Kazakh spelling (Нұрбол) for "kk", Russian-style (Нурбол) otherwise.
    """

    def __init__(self, seed: int, document_key: str, *, lang: str | None = None) -> None:
        self._salt = f"{seed}\x1f{document_key}"
        self._lang = lang if lang in ("kk", "ru") else None
        self._doc_style: str | None = None  # the spelling the document's names have shown so far
        self._maps: dict[str, dict[str, object]] = {"given": {}, "surname": {}, "father": {}, "initial": {}}
        self._used: dict[str, set[str]] = {"given": set(), "surname": set(), "father": set()}
        self._originals: set[str] = set()

    # --- deterministic choice ---------------------------------------------------------------------------
    def _hash(self, *parts: object) -> int:
        text = "\x1f".join((self._salt, *map(str, parts)))
        return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")

    def _pick(self, kind: str, key: str, pool, key_of) -> object:
        """A pool member for `key`: fixed by (seed, document, key); never the original or a name seen as one
        in this document; not issued to another original while unused candidates remain."""
        if key in self._maps[kind]:
            return self._maps[kind][key]
        choice = None
        if pool:
            start = self._hash(kind, key) % len(pool)
            order = pool[start:] + pool[:start]
            # best: unused and never an original here; then: never an original; last resort: not this original
            tiers = (
                lambda k: k != key and k not in self._originals and k not in self._used[kind],
                lambda k: k != key and k not in self._originals,
                lambda k: k != key,
            )
            choice = next((c for ok in tiers for c in order if ok(key_of(c))), None)
        self._maps[kind][key] = choice
        if choice is not None:
            self._used[kind].add(key_of(choice))
        return choice

    # --- public API -----------------------------------------------------------------------------------
    def replace(self, surface: str) -> str:
        """The fake for one person-name span as it appears in the text (see the module docstring)."""
        tokens = _tokenise(surface)
        words = [t for t in tokens if t.kind == "word"]
        if not words and not any(t.kind == "initial" for t in tokens):
            return surface
        candidates = [_analyse(_nfc(t.text).lower(), _has_latin(t.text)) for t in words]
        chosen = _resolve_unknowns(_choose(candidates)) if words else []
        for t, a in zip(words, chosen):
            t.analysis = a
            # both the map key (a surname's stem) and the lemma (the whole surname): neither may be issued
            self._originals.update((a.key.split("|")[0], name_key(a.lemma)))
        evidence = [self._evidence(t.text, t.analysis) for t in words]
        span_style = (
            "kk" if "kk" in evidence else "ru" if "ru" in evidence else self._doc_style or self._lang or "ru"
        )
        if "kk" in evidence or "ru" in evidence:
            self._doc_style = span_style
        styles = iter([e if e in ("lat", "kk", "ru") else span_style for e in evidence])
        variant = "2021" if any(ch in _LATIN_2021 for ch in surface.lower()) else "passport"
        gender = self._span_gender(chosen)
        surname_key = next((a.key for a in chosen if a.role == "surname"), "")
        out, pos, n_initial = [], 0, 0
        for t in tokens:
            out.append(surface[pos : t.start])
            pos = t.end
            if t.kind == "keep":
                out.append(t.text)
            elif t.kind == "initial":
                out.append(self._fake_initial(t.text, surname_key, n_initial, span_style))
                n_initial += 1
            else:
                fake = self._fake_word(t.analysis, next(styles), variant, gender)
                out.append(_apply_casing(fake, _casing(t.text)))
        out.append(surface[pos:])
        return "".join(out)

    # --- pieces -----------------------------------------------------------------------------------------
    @staticmethod
    def _evidence(text: str, a: _Analysis) -> str | None:
        """The spelling a word shows: "lat"; "kk" (Kazakh letters in its stem; an ending alone proves nothing,
        Маратқа); "ru" (a name spelt in Kazakh with Kazakh letters, written without: Нурлан); None (Марат)."""
        if _has_latin(text):
            return "lat"
        low = _nfc(text).lower()
        stem = low[: len(low) - len(a.ending)]
        if any(ch in _KK_ONLY for ch in stem):
            return "kk"
        lex = _lexicon()
        canon = None
        if a.role in ("given", "father"):
            info = lex.given_info(a.key)
            canon = info[3] if info else None
        elif a.role == "surname" and a.origin == "kk":
            canon = lex.kk_stems.get(a.key)
        return "ru" if canon and any(ch in _KK_ONLY for ch in canon) else None

    @staticmethod
    def _span_gender(chosen: list[_Analysis]) -> str | None:
        for role in ("given", "father", "surname"):
            genders = {a.gender for a in chosen if a.role == role and a.gender}
            if len(genders) == 1:
                return genders.pop()
        return None

    def _fake_initial(self, letter: str, surname_key: str, index: int, style: str) -> str:
        """Another initial letter, fixed by (surname of the span, position, letter): Серікбаев Н.Ә. twice in a
        document gives the same fake initials both times. Letters are drawn as often as names start
        with them."""
        if _is_latin_char(letter):
            letters = _initial_letters("lat")
        elif letter.lower() in _KK_ONLY or style == "kk":
            letters = _initial_letters("kk")
        else:
            letters = _initial_letters("ru")
        pool = [ch for ch in letters if ch != letter.upper()]
        key = f"{surname_key}\x1e{index}\x1e{letter.upper()}"
        if key not in self._maps["initial"]:
            self._maps["initial"][key] = pool[self._hash("initial", key) % len(pool)]
        return self._maps["initial"][key]

    @staticmethod
    def _finish(form: str, kazakh_origin: bool, a: _Analysis, style: str, variant: str) -> str:
        """Kazakh ending, spelling style and script for a fake built in Kazakh spelling (`form`).

        The ending is computed on the Kazakh spelling even when the fake is shown Russian-style: Мөлдір is
        front-vowelled (Мөлдірге) though its Russian spelling Молдир looks back-vowelled.
        """
        ending = inflect_kk(form, a.kk_case, a.kk_plural)[len(form) :] if a.kk_case or a.kk_plural else ""
        if style == "lat":
            return _to_latin(form + ending, variant)
        return (_render_ru(form) if style == "ru" and kazakh_origin else form) + ending

    def _fake_word(self, a: _Analysis, style: str, variant: str, span_gender: str | None) -> str:
        lex = _lexicon()
        if a.role == "given":
            gender = a.gender or span_gender or ("m" if self._hash("gender", a.key) % 2 else "f")
            origin = a.origin or ("kk" if self._hash("origin", a.key) % 2 else "ru")
            if a.gcls and _FAMILY[a.gcls][0] == gender[0]:
                gcls = a.gcls
            elif _has_latin(a.lemma):
                gcls = _latin_given_class(a.lemma, gender)
            else:
                gcls = _given_class(a.lemma, gender)
            pool = lex.given_pool(origin, gender, _FAMILY[gcls], a.dim)
            name = self._pick("given", a.key, pool, lambda n: name_key(n.text))
            if a.ru_cases and a.ru_cases[0] != "nom" and style != "lat":
                shown = _render_ru(name.text) if style == "ru" and name.origin == "kk" else name.text
                return _ru_forms(shown, _given_class(shown, gender))[a.ru_cases[0]]
            return self._finish(name.text, name.origin == "kk", a, style, variant)
        if a.role == "father":
            origin = a.origin or ("kk" if _kk_like(a.lemma) else "ru")
            name = self._pick("father", a.key, lex.father_pool(origin), lambda n: name_key(n.text))
            if a.pform in ("uly", "kyzy"):
                form = name.text + ("ұлы" if a.pform == "uly" else "қызы")
            else:
                form = _patronymic(name.text, a.pform == "ovna")
                form = (form[:-1] if a.pform == "ovna" else form) + a.tail
            return self._finish(form, name.origin == "kk" or a.pform in ("uly", "kyzy"), a, style, variant)
        if a.role == "surname":
            if a.scls in ("ov", "bare") and a.origin == "kk":
                stem = self._pick("surname", a.key, lex.kk_stem_pool(), name_key)
                return self._finish(
                    stem if a.scls == "bare" else _ov_form(stem) + a.tail, True, a, style, variant
                )
            scls = a.scls or "ov"
            masc = self._pick("surname", a.key, lex.ru_surname_pool(scls), name_key)
            if scls == "ov":
                form = masc + a.tail
            elif scls == "sky":
                form = re.sub(r"(ий|ой)$", "", masc) + a.tail
            elif scls == "cons" and a.ru_cases and a.ru_cases[0] != "nom" and style != "lat":
                form = _ru_forms(masc, "m_й" if masc.endswith("й") else "m_hard")[a.ru_cases[0]]
            else:
                form = masc
            return self._finish(form, False, a, style, variant)
        return a.lemma


# ============================================================================================ tagger helpers
def _best_analysis(word: str) -> _Analysis:
    low = _nfc(word).lower()
    return _analyse(low, _has_latin(low))[0]


def split_case_ending(word: str) -> tuple[str, str]:
    """Split a name as written into (stem, ending), stem + ending == word, casing kept.

    The ending is a Kazakh case/plural ending (Серікбаевтың -> Серікбаев + тың, Нұрланұлынан -> Нұрланұлы +
    нан, Айгүлге -> Айгүл + ге, Aigerimge -> Aigerim + ge), or a Russian case tail after a surname or
    patronymic suffix (Ивановой -> Иванов + ой, Петровичу -> Петрович + у) or on a known given name
    (Ивану -> Иван + у, Марии -> Мари + и). ("word", "") when none is found. An ending is only split off where
    it fits the stem's final sound and (for unknown stems) its vowel harmony, so Ерлан, Мұхтар, Айдар stay
    whole. A lowercase word (a name context such as көшесінде, университетінің) may also lose a case ending
    after a 3rd-person possessive: көшесі + нде, ауданы + на.
    """
    low = _nfc(word).lower()
    if word[:1].islower() and not _has_latin(low):
        # a context word (көшесінде, атындағы is whole): the case endings after a 3rd-person possessive
        for ending in sorted({f for forms in _KK_POSS.values() for f in forms}, key=len, reverse=True):
            stem = low[: -len(ending)]
            if low.endswith(ending) and len(stem) >= 3 and stem[-1] in "ыі":
                return word[: len(stem)], word[len(stem) :]
    a = _best_analysis(word)
    if a.ending:
        return word[: len(word) - len(a.ending)], word[len(word) - len(a.ending) :]
    if a.role in ("surname", "father") and a.tail:
        return word[: len(word) - len(a.tail)], word[len(word) - len(a.tail) :]
    if a.role == "given" and a.ru_cases and "nom" not in a.ru_cases:
        common = len(os.path.commonprefix([_nfc(word).lower(), a.lemma]))
        return word[:common], word[common:]
    return word, ""


def name_lemmas(word: str) -> tuple[str, ...]:
    """Nominative forms a name as written can stand for, lowercase, best first (for allow-list matching).

    Тоқаевтың -> ("тоқаев",); Ивановой -> ("иванова",); Пушкина -> ("пушкин", "пушкина"); Марии ->
    ("мария",); Нұрланұлынан -> ("нұрланұлы",). Compare through name_key() to ignore spelling differences.
    """
    a = _best_analysis(word)
    low = _nfc(word).lower()
    if a.role == "surname" and a.scls == "ov":
        masc = a.lemma
        fem = masc + ("a" if _has_latin(masc) else "а")
        readings = _OV_TAILS.get(a.tail, set()) if not a.kk_case else {(a.gender or "m", "nom")}
        genders = [g for g in ("m", "f") if any(r[0] == g for r in readings)] or ["m"]
        if a.kk_case or a.kk_plural:
            genders = ["f"] if a.tail == "а" else ["m"]
        return tuple(masc if g == "m" else fem for g in genders)
    if a.role == "surname" and a.scls == "sky":
        stem = a.lemma
        return (
            (stem + "ая",)
            if a.gender == "f"
            else (stem + "ий",)
            if a.gender == "m"
            else (stem + "ий", stem + "ая")
        )
    if a.role == "father":
        if a.pform in ("uly", "kyzy"):
            return (a.lemma + a.suffix,)
        return (low[: len(low) - len(a.ending) - len(a.tail)] + ("а" if a.pform == "ovna" else ""),)
    if a.ending:
        return (low[: len(low) - len(a.ending)],)
    return (a.lemma,)
