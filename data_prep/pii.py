"""Personal-data masking for Kazakh, Russian and English text -> typed placeholders.

Kazakhstan's personal-data law requires state data to be de-personalised before it is used for training, so
every document that goes through prep is passed through `mask_pii(text) -> (masked_text, counts_per_kind)`.
`find_pii(text)` gives the same decisions as sorted, non-overlapping (start, end, kind) spans.

Kinds, placeholders and the count keys that the pipeline sums into stats.json (the mapping itself is
`PLACEHOLDERS` in kazllm/placeholders.py, which the model and dataset cards read too):

    email     <EMAIL>          user@mail.kz, пример@мысал.қаз, obfuscated "name [at] mail.kz",
                               "name (at) mail dot kz"
    iban      <IBAN>           KZ + 2 check digits + 3-digit bank code + 13 alphanumerics,
                               optionally in groups of four; only masked when the ISO 13616 mod-97 check holds
    card      <CARD>           13-19 digits (contiguous, 4-4-4-4[-3], 4-6-5, 4-6-4), Luhn-valid,
                               with an issuer prefix that fits the length (Visa, Mastercard, Mir, Amex,
                               UnionPay, Maestro, ...)
    iin       <IIN>            12 digits with a valid check digit, YYMMDD birth date and a century/gender
                               digit 1-6, contiguous or in any grouping: 2 to 6 groups of 1-6 digits joined by
                               one kind of separator (spaces - plain, no-break U+00A0 or narrow no-break
                               U+202F - or dashes or dots): 6-6, 6-3-3, 4-4-4, 3-3-3-3, 2-2-2-6, 2-4-6, ...
    bin       <BIN>            the same written forms; valid check digit, YYMM registration month and
                               entity-type digit 4/5/6
    document  <DOCUMENT>       ID card (9 digits) and passport (N + 7-8 digits) numbers after a document word:
                               "жеке куәлік № <DOCUMENT>", "удостоверение личности <DOCUMENT>",
                               "уд. личности", "паспорт № <DOCUMENT>", "төлқұжат", "passport no. <DOCUMENT>"
    plate     <PLATE>          vehicle plates: current "123ABC02" / "123 ABC 02" / "123 АВС 02" (3 digits,
                               2-3 Latin or look-alike Cyrillic capitals, region 01-20), older "A 123 BCD" /
                               "A123BCD" (region letter, 3 digits, 2-3 letters) only after a vehicle word
    address   <HOUSE>          house, flat and office numbers of a postal address; the city and street words
                               stay: "Абай көшесі, <HOUSE>-үй, <HOUSE>-пәтер", "ул. Ленина, д. <HOUSE>,
                               кв. <HOUSE>", "пр. Абая <HOUSE>, кв <HOUSE>", "Достық даңғылы <HOUSE>,
                               <HOUSE> пәтер"
    dob       <DATE_OF_BIRTH>  a date of birth next to a birth word, which stays:
                               "туған күні: <DATE_OF_BIRTH>", "<DATE_OF_BIRTH> ж.т.", "<DATE_OF_BIRTH> туған"
                               (from "1985 жылы 12 наурызда туған"), "дата рождения", "<DATE_OF_BIRTH> г.р.",
                               "родился <DATE_OF_BIRTH>", "д.р.", "born <DATE_OF_BIRTH>"; also a bare year of
                               birth ("1985 г.р.", "1990 жылы туған", "родился в 1985 году")
    ip        <IP>             IPv4 (four octets 0-255) and IPv6
    phone     <PHONE>          +7 / 8 followed by a 10-digit number in the usual written forms (spaces,
                               dashes, dots, brackets round the area code), and short 5-7 digit local numbers
                               after a phone keyword ("тел.", "телефон", "phone", "ұялы", "факс", ...)

Person names are not handled here (see data_prep/pii_names.py).

Precision choices (each one trades a little recall for not damaging ordinary text):
- A 12-digit number with a wrong IIN/BIN check digit is left alone: such numbers are mostly order, case,
  invoice or barcode numbers, and about 10 in 11 random 12-digit numbers fail the check. A mistyped IIN is
  therefore not masked; that is an accepted loss. Checksum-valid numbers whose structure is neither an IIN
  (real date + century digit) nor a BIN (month + entity type) are left alone for the same reason.
- Grouped IINs/BINs: all groups are joined by one separator kind, and the run of groups may not go on with
  that separator into more digits on either side ("1 880 512 300 124", "880 512 300 124 500" are longer
  numbers, not an IIN with a neighbour), so no part of a longer number is ever masked. A 3-3-3-3 grouping
  is also how a 12-digit sum is written: a 12-digit candidate followed by a unit or currency word
  ("880 512 300 124 теңге", "... млн", "... %", "... адам") is an amount and stays, in every written form.
  A checksum-valid 12-digit thousands-grouped sum with no unit after it is masked (about 0.5% of random
  12-digit numbers pass); sums in prose nearly always carry their unit. Dotted groups that are also a valid
  IPv4 address (four groups of at most 3 digits, each <= 255, no leading zero) are masked as <IP>: an
  address written like that is far likelier than a dotted BIN (about 1 in 50 dotted 3-3-3-3 BINs).
- Document numbers are only taken right after a document word, with nothing but "№", "N", "No.", "нөмірі",
  "номер", "серия", "гражданина Республики Казахстан"-type words in between; the number is 7-9 digits
  (optionally "N"-prefixed) and not followed by a unit, so "паспортов выдано 1234567" stays.
- Plates in the current format are masked without a context word when the structure is exact (3 digits,
  2-3 capitals, a region code 01-20, no letter or digit glued to either end) and the letters are not a unit,
  currency or common acronym ("512 GB 16", "100 USD 10", "500 АЕК 12" stay). Any other region code, and the
  older "A 123 BCD" format (which is also how model names such as "A 320 NEO" look), need a vehicle word
  (көлік, автокөлік, мемлекеттік нөмір, госномер, гос. номер, номерной знак, автомобиль, машина, plate, ...)
  within 48 characters before the plate.
- Addresses: a number is a house number only right after a street (a capitalised name and a street word:
  "Абай көшесі", "Достық даңғылы", "Самал-2 шағынауданы", "ул. Ленина", "пр. Абая", "мкр Самал-2"),
  possibly through a house word ("ул. Ленина, д. 5"); the flat, office, block and building numbers that
  follow it ("-үй", "-пәтер", "кв.", "офис", "корпус", "блок") are masked with it. Without a street, only a
  house number together with a flat number is an address ("12-үй, 45-пәтер", "д. 5, кв. 12"). A bare
  number after a street name must have at most 3 digits and no unit or year word after it ("Абай көшесі
  2024 жылы", "Абай даңғылы 5 км" stay). "5-бап", "12-сынып", "2024 жылы", page and clause numbers have no
  street word and are never addresses. English "221B Baker Street" (number before the street) is not covered.
- Dates of birth need a birth word right before the date (only spaces, ":", "," or "в"/"on"/"in" between)
  or right after it; any date without one, however it is written, stays.
- Phones need a +7/8 prefix and an area code starting with 3-9 (all Kazakh codes start with 7) laid out as
  phone groups (3-2-2, 2-2-2, ...). Thousands-grouped amounts ("8 700 000 000", "87 500 000 000") never
  have that layout, so sums survive; local numbers without a prefix are only masked after a phone keyword.
- Cards must pass Luhn and start like a real card of their length: 19-digit database ids and hashes pass
  Luhn one time in ten, so 17-19 digits are only taken with a Mir, UnionPay or Maestro prefix. A random
  16-digit number is still masked about 4% of the time (Luhn 1/10 x card-like prefix), as in any Luhn-based
  detector; a random 12-digit number about 0.5% of the time (check digit x date/BIN structure).
- IPv4 needs four dotted parts (dates such as 12.03.2024 and versions such as 1.2.3 have three); four
  single-digit parts ("1.2.3.4", clause numbers "3.1.2.1" in legal text) are left alone: such addresses
  are public infrastructure (1.1.1.1, 8.8.8.8), never a person's.
- IPv6 needs at least two non-empty groups and must parse, so times like 12:30:45 survive.

Order matters, and is a priority: every pattern finds candidate spans in the original text, and a span
that overlaps one found by an earlier pattern is dropped, so a number is masked whole, once, as the most
specific kind. The order is e-mails (their local part may hold digits), IPv6, IBANs (whose digits could
look like a card), cards (13-19 digits contain shorter runs), IIN/BIN, documents, IPv4, phones,
keyword-led phones, dates of birth, plates, addresses.

Speed (the pipeline calls this on every document): patterns are precompiled and only run in small windows
round cheap anchors (see `find_pii`); text without digits, "@", "(at)" or "x:y:" costs a few substring
checks. Every digit-led pattern starts with a plain character class, so the regex engine skips to its
first possible character instead of trying the whole pattern at every position; context words are checked
only for a candidate, by matching a reversed pattern on the reversed text just before it.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable
from datetime import date

from kazllm.placeholders import PLACEHOLDERS

# --- e-mail ---------------------------------------------------------------------------------------------
# Unicode-aware: \w covers Cyrillic local parts and IDN domains (пример@мысал.қаз); the top-level domain
# must be letters only, so "a@b.2024" is not an address.
_LOCAL = r"[\w+-](?:[\w.+-]*[\w+-])?"
_LABEL = r"[^\W_](?:[\w-]*[^\W_])?"
_TLD = r"[^\W\d_]{2,24}"
EMAIL = re.compile(rf"(?<![\w.+-]){_LOCAL}@{_LABEL}(?:\.{_LABEL})*\.{_TLD}(?![\w-])")
# Obfuscated forms: the "at" must be bracketed (a bare " at " is an English word); once it is, the dots may
# be spelt out too ("name (at) mail dot kz", "name [at] mail [dot] kz").
_AT = r"\s?[\[(]\s?(?:at|собака|эт)\s?[\])]\s?"
_DOT = r"(?:\.|\s?[\[(]\s?(?:dot|точка|нүкте)\s?[\])]\s?|\s(?:dot|точка|нүкте)\s)"
EMAIL_OBFUSCATED = re.compile(
    rf"(?<![\w.+-]){_LOCAL}{_AT}{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}{_TLD}(?![\w-])", re.IGNORECASE
)
# Matched only at the "(" and "[" that str.find gives: scanning the whole text for them costs more.
_EMAIL_HINT = re.compile(r"[\[(]\s?(?i:at|собака|эт)\s?[\])]")

# --- IBAN -----------------------------------------------------------------------------------------------
# KZ IBANs are 20 characters; printed in groups of four ("KZ86 125K ZT50 0410 0100") or in one piece.
# Each digit-window pattern below starts with a character class and puts its left-boundary look-behind
# after that first character (same meaning): Python's regex engine can then skip to candidate characters
# instead of trying the whole pattern at every position of the window.
IBAN = re.compile(r"[Kk](?<![\w][Kk])[Zz][0-9]{2}(?:[ \u00a0\u202f\-]?[0-9A-Za-z]{4}){4}(?![\w])")

# --- payment cards --------------------------------------------------------------------------------------
_CS = r"[ \u00a0\u202f\-]"
CARD = re.compile(
    r"[2-6](?<![\w\-][2-6])(?:"
    r"[0-9]{12,18}"  # contiguous
    rf"|[0-9]{{3}}(?P<s1>{_CS})[0-9]{{4}}(?P=s1)[0-9]{{4}}(?P=s1)[0-9]{{4}}"  # 4-4-4-4[-3]
    r"(?:(?P=s1)[0-9]{3})?"
    rf"|[0-9]{{3}}(?P<s2>{_CS})[0-9]{{6}}(?P=s2)[0-9]{{4,5}}"  # 4-6-5 / 4-6-4
    r")(?![0-9])(?![.,][0-9])"
)

# --- IIN / BIN ------------------------------------------------------------------------------------------
# 12 digits in one piece or in 2-6 groups of 1-6 digits joined by one separator kind. The possessive
# quantifiers make a run of groups all-or-nothing, and the look-arounds refuse a run that goes on with the
# same separator into more digits on either side (see the module docstring); the validator then wants
# exactly 12 digits.
_WS = " \u00a0\u202f"  # plain, no-break and narrow no-break spaces count as one separator kind
IIN_BIN = re.compile(
    r"[0-9](?<![0-9+][0-9])(?:"
    r"[0-9]{11}"
    rf"|(?<![0-9][{_WS}][0-9])[0-9]{{0,5}}+(?:[{_WS}][0-9]{{1,6}}+){{1,5}}+(?![{_WS}][0-9])"
    r"|(?<![0-9]-[0-9])[0-9]{0,5}+(?:-[0-9]{1,6}+){1,5}+(?!-[0-9])"
    r"|(?<![0-9]\.[0-9])[0-9]{0,5}+(?:\.[0-9]{1,6}+){1,5}+(?!\.[0-9])"
    r")(?![0-9])(?![.,][0-9])"
)
_IIN_W1 = tuple(range(1, 12))
_IIN_W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

# --- IP addresses ---------------------------------------------------------------------------------------
# Octet values (0-255, no leading zero) are checked by the validator, so the pattern can start with [0-9].
IPV4 = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?![\w]|\.[0-9])")
_VERSION_BEFORE = re.compile(r"(?i:version|верси[яиюей]|нұсқа\w*|build|сборка)\W{0,3}$")
IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}"
    r"(?:(?<=:)[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?![\w:]|\.[0-9])"
)

# --- phones ---------------------------------------------------------------------------------------------
# One separator between digit groups: space, no-break or narrow no-break space, dash or dot.
_S = r"[ \u00a0\u202f\-.]"
# Subscriber parts by length; area code length + subscriber length is always 10 digits.
_SUB = {
    7: rf"[0-9]{{3}}{_S}?[0-9]{{2}}{_S}?[0-9]{{2}}",  # 123 45 67, 123-4567, 1234567
    6: rf"(?:[0-9]{{2}}{_S}?[0-9]{{2}}{_S}?[0-9]{{2}}|[0-9]{{3}}{_S}[0-9]{{3}})",  # 55-12-34, 551234, 551 234
    5: rf"(?:[0-9]{_S}?[0-9]{{2}}{_S}?[0-9]{{2}}|[0-9]{{3}}{_S}?[0-9]{{2}})",  # 5-12-34, 512-34
}


def _area_and_subscriber(first: str) -> str:
    """Area code (3-5 digits, optionally bracketed) followed by a subscriber part making 10 digits in all."""
    alts = []
    for area_len, sub_len in ((3, 7), (4, 6), (5, 5)):
        area = rf"{first}[0-9]{{{area_len - 1}}}"
        alts.append(rf"(?:\(\s?{area}\s?\)[\s\-]?|{area}{_S}?){_SUB[sub_len]}")
    return "(?:" + "|".join(alts) + ")"


_END = r"(?![0-9])(?![.,][0-9])"
PHONE = re.compile(rf"(?:\+(?<![\w+]\+)\s?7|8(?<![\w+]8)){_S}?{_area_and_subscriber('[3-9]')}{_END}")
# Local numbers without a country prefix are only trusted right after a phone keyword; the keyword and the
# few characters between it and the number ("тел./факс: ", "телефон нөмірі: ") are kept.
# The keyword alternatives are written as "first letter, then the rest after a look-behind on that letter"
# so that the pattern starts with one character class (see IBAN above).
_PHONE_KEYWORD = (
    r"[тТtTpPұҰмМфФfFwWвВ](?<!\w[тТtTpPұҰмМфФfFwWвВ])"
    r"(?i:(?<=т)ел(?:ефон\w*|\.|\b)|(?<=t)elephone\w*|(?<=p)hone\w*|(?<=t)el(?:\.|\b)"
    r"|(?<=ұ)ялы\b|(?<=м)об(?:ильн\w*|\.|\b)|(?<=ф)акс\w*|(?<=f)ax\b|(?<=w)hatsapp\b|(?<=в)отсап\w*)"
)
_UNITS = (
    r"теңге|тенге|тг\b|₸|\$|руб|доллар|евро|сом\b|usd|kzt|млн|млрд|мың|тыс|%|адам|человек|дана\b"
    r"|штук|бірлік|единиц"
)
_UNIT_AFTER = re.compile(rf"\s?(?i:{_UNITS})")
_LOCAL_NUMBER = (
    rf"(?:(?:\+?\s?[78]{_S}?)?{_area_and_subscriber('[1-9]')}"
    rf"|(?:\(\s?[0-9]{{3,5}}\s?\)[\s\-]?)?"
    rf"(?:{_SUB[7]}|[0-9]{{2}}{_S}?[0-9]{{2}}{_S}?[0-9]{{2}}|[0-9]{_S}[0-9]{{2}}{_S}[0-9]{{2}}(?:{_S}[0-9]{{2}})?))"
    # a short number followed by more digit groups is part of something else: no partial masks
    rf"(?!{_S}?[0-9])(?![.,][0-9])"
    # "телефоны 150000 теңге тұрады": a sum or a count, not a number to call
    rf"(?!\s?(?i:{_UNITS}))"
)
PHONE_AFTER_KEYWORD = re.compile(rf"(?P<keep>{_PHONE_KEYWORD}[^0-9\n<>]{{0,16}}?)(?P<num>{_LOCAL_NUMBER})")
# Contact blocks list several numbers after one keyword: "тел.: 8 (7172) 55-12-34, 55-12-35".
PHONE_LIST_NEXT = re.compile(
    rf"\s?[,;]\s?(?:(?i:или|немесе|және|and|or)\s)?(?P<num>(?:\+\s?7|8){_S}?{_area_and_subscriber('[3-9]')}"
    rf"{_END}|{_LOCAL_NUMBER})"
)

_HAS_DIGIT = re.compile(r"[0-9]")
_CAP = "А-ЯЁӘҒҚҢӨҰҮҺІA-Z"
_LETTER = "a-zA-Zа-яА-ЯёЁәғқңөұүһіӘҒҚҢӨҰҮҺІ"


def _reversed_words(words: tuple[str, ...]) -> str:
    """Alternation of `words` spelt backwards (longest first), for patterns matched on reversed text."""
    return "|".join(re.escape(w[::-1]).replace(r"\ ", r"\s") for w in sorted(words, key=len, reverse=True))


# --- identity documents ---------------------------------------------------------------------------------
DOCUMENT = re.compile(r"[0-9](?<![0-9][0-9])[0-9]{6,8}(?![0-9])(?![.,][0-9])")
_DOC_WORDS = (
    r"жеке\s+(?:басын\s+|басты\s+)?куәлі\w*|куәлі\w*|(?:жеке\s+)?(?:басын|басты)\s+куәландыратын\s+құжат\w*"
    r"|төлқұжат\w*|паспорт\w*|passport\w*|удостоверени\w*(?:\s+личности)?"
    r"|уд\.\s?(?:личн\w*\.?|л\.)|удост\.(?:\s?личн\w*\.?)?|id[\s-]?card\w*|identity\s+card|national\s+id"
    r"|құжат\w*\s+нөмір\w*|номер\w*\s+документа|document\s+(?:no\.?|number)"
)
# Only number-introducing words may stand between the document word and the number.
_DOC_BRIDGE = (
    r"(?:[\s:№#,\-–—]|(?:n|no|nr|нөмірі|нөмір|номер|номером|за|серия|серии|сериясы|рк|қр|рф|гражданина"
    r"|гражданки|республики|казахстан|қазақстан|республикасы\w*|азаматы\w*|of|the|kazakhstan|republic"
    r"|number)(?![\w])\.?){0,12}"
)
_DOC_BEFORE = re.compile(rf"(?<![\w])(?i:(?:{_DOC_WORDS}){_DOC_BRIDGE})\Z")

# --- dates of birth -------------------------------------------------------------------------------------
_MONTHS_KZ = "қаңтар|ақпан|наурыз|сәуір|мамыр|маусым|шілде|тамыз|қыркүйек|қазан|қараша|желтоқсан"
# Grouped by first letter, case-exact (month names are lower case in Kazakh and Russian, capitalised in
# English): the regex engine then rejects a word on its first letter.
_MONTH_PREFIX = (
    "қ(?:аңтар|ыркүйек|азан|араша)|а(?:қпан|прел|вгуст)|н(?:аурыз|ояб)|с(?:әуір|ентяб)"
    "|м(?:амыр|аусым|арт|а[йя])|шілде|тамыз|желтоқсан|январ|феврал|и(?:юн|юл)|октяб|декаб"
    "|J(?:an|u[nl])|Feb|M(?:ar|ay)|A(?:pr|ug)|Sep|Oct|Nov|Dec"
)
_MONTH = rf"(?:{_MONTH_PREFIX})\w*\.?"
_YEAR = r"(?:1[89][0-9]{2}|20[0-9]{2})"
_YEAR_REST = r"(?:(?<=1)[89]|(?<=2)0)[0-9]{2}"  # _YEAR once its first digit has been consumed
_DAY_SUFFIX = r"(?:-?(?:ші|шы|інші|ыншы)|st|nd|rd|th)?"
# The first digit is consumed up front (one character class to start with); each alternative continues it.
DATE_OF_BIRTH = re.compile(
    r"[0-9](?<![0-9][0-9])(?<![0-9][.,:/-][0-9])(?:"
    rf"(?P<kzfull>{_YEAR_REST}\s?(?:ж\.|жылы|жылғы|жылдың)"  # 1985 жылы 12 наурызда
    rf"\s[0-9]{{1,2}}{_DAY_SUFFIX}\s(?:{_MONTHS_KZ})\w*)"
    rf"|(?P<iso>{_YEAR_REST}-[01][0-9]-[0-3][0-9](?![0-9]))"  # 1985-03-12
    r"|(?P<numeric>[0-9]?(?P<ds>[./-])[0-9]{1,2}(?P=ds)"  # 12.03.1985
    r"(?:[0-9]{4}|[0-9]{2})(?![0-9])(?![.,][0-9]))"
    rf"|(?P<named>[0-9]?{_DAY_SUFFIX}\s{_MONTH}(?:,?\s{_YEAR}(?![0-9])"  # 5 мая 1985 года
    r"(?:\s?(?:ж\.(?!\s?т\.)|жылы|жылғы|г\.(?!\s?р\.)|года|году|год)(?![\w]))?)?)"
    rf"|(?P<dayyear>[0-9]?(?:st|nd|rd|th)?,\s{_YEAR}(?![0-9]))"  # (March) 12, 1985
    # a bare year only next to a birth word; checked here (in C) because years are everywhere
    r"|(?P<year>(?:(?<=1)[89]|(?<=2)0)(?:(?<=лся\sв\s[0-9]{2})|(?<=лась\sв\s[0-9]{2})|(?<=born\sin\s[0-9]{2})"
    r"|(?<=ения\s[0-9]{2})|(?<=ения:\s[0-9]{2})|(?<=жылы\s[0-9]{2})|(?<=жылы:\s[0-9]{2})|(?<=birth\s[0-9]{2})"
    r"|(?<=birth:\s[0-9]{2})|(?=[0-9]{2}\s?(?:жылы\s|ж\.|г\.|года\s)))"
    r"[0-9]{2}(?![0-9])(?:\s(?:жылы|года|году|year)(?![\w]))?)"
    r")"
)
# Numeric dates only, for the long-anchor windows (the other forms have anchors of their own).
DATE_OF_BIRTH_NUMERIC = re.compile(
    r"[0-9](?<![0-9][0-9])(?<![0-9][.,:/-][0-9])(?:"
    rf"(?P<iso>{_YEAR_REST}-[01][0-9]-[0-3][0-9](?![0-9]))"
    r"|(?P<numeric>[0-9]?(?P<ds>[./-])[0-9]{1,2}(?P=ds)(?:[0-9]{4}|[0-9]{2})(?![0-9])(?![.,][0-9]))"
    r")"
)
_MONTH_NAMES_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
    "Jan.",
    "Feb.",
    "Mar.",
    "Apr.",
    "Jun.",
    "Jul.",
    "Aug.",
    "Sep.",
    "Sept.",
    "Oct.",
    "Nov.",
    "Dec.",
)
_MONTH_BEFORE_REV = re.compile(rf"\s(?i:{_reversed_words(_MONTH_NAMES_EN)})(?![\w])")
_DOB_WORDS_BEFORE = (
    "туған күні",
    "туған жылы",
    "туған уақыты",
    "туылған күні",
    "туылған жылы",
    "туған",
    "туылған",
    "дата рождения",
    "день рождения",
    "год рождения",
    "дата рожд.",
    "д.р.",
    "д. р.",
    "д/р",
    "родился",
    "родилась",
    "рождён",
    "рожден",
    "рождена",
    "рождённый",
    "рожденный",
    "date of birth",
    "year of birth",
    "birth date",
    "birth year",
    "birthdate",
    "dob",
    "d.o.b.",
    "born",
    "b.",
)
# Matched on the reversed text before the date: birth word, up to three of " :,-(" and "в"/"on"/"in".
_DOB_BEFORE_REV = re.compile(
    rf"\s?(?:(?:в|no|ni)\s)?[\s:,\-–—(]{{0,3}}(?i:{_reversed_words(_DOB_WORDS_BEFORE)})"
    r"(?![\w])"
)
# "туған" also means "native" and "own": "2024 жылы туған жеріне оралды" (went back to his native land in
# 2024), "туған күнін тойлады" (celebrated a birthday), "туған ағасы" (his own brother) are not births then.
_DOB_AFTER = re.compile(
    r"\s?,?\s?(?i:ж\.\s?т\.|г\.\s?р\.|г\.\s?рожд\w*|(?:года|г\.)\s+рождения|рождения"
    r"|(?:ж\.\s?|жылы\s|жылғы\s)?(?:туған|туылған)(?![\w])"
    r"(?!\s(?:жер|ел|күн|ауыл|қала|тіл|өлке|өңір|халқ|аға|іні|әпке|қарындас|сіңлі|бауыр"
    r"|топырақ|мекен|шаңырақ|жұрт|ана|әке)))(?![\w])"
)

# --- vehicle plates -------------------------------------------------------------------------------------
_PLATE_LETTERS = "A-ZАВЕКМНОРСТХУ"  # Latin capitals and their Cyrillic look-alikes
_PLATE_LETTER_SET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZАВЕКМНОРСТХУ")
PLATE = re.compile(
    rf"[0-9](?<![0-9][0-9])[0-9]{{2}}[ \u00a0]?(?P<pl>[{_PLATE_LETTERS}]{{2,3}})"
    r"(?:[ \u00a0]?(?P<pr>[0-9]{2}))?(?![\w])"
)
_CYRILLIC_TO_LATIN = str.maketrans("АВЕКМНОРСТХУ", "ABEKMHOPCTXY")
# Letter blocks that are units, currencies or acronyms after a number, not plate series (Cyrillic look-alikes
# are compared after transliteration: "ТВ" -> "TB", "АЕК" -> "AEK", "МВТ" -> "MBT").
_PLATE_STOP = frozenset(
    "GB MB KB TB PB KW MW BT KBT MBT TBT HZ MHZ GHZ USD EUR KZT RUB CNY GBP JPY CHF AED TRY "
    "UAH BYN KGS UZS KM KG CM MM HP BC AD AM PM TV OK PC CO AEK MPT OOH BKO CKO".split()
)
_PLATE_CONTEXT = re.compile(
    r"(?<![\w])(?i:(?:авто)?көлі[кг]\w*|мемлекеттік\s+нөмір\w*|мемнөмір\w*|мем\.\s?нөмір\w*|госномер\w*"
    r"|гос\.?\s?номер\w*|госзнак\w*|номерн\w*\s+знак\w*|автомобил\w*|машин\w*|авто\b|plate\w*|licen[cs]e"
    r"|vehicle\w*|car\b)"
)

# --- postal addresses -----------------------------------------------------------------------------------
# A house, flat or office number: "12", "12а", "150/1".
_HOUSE_NUMBER = rf"[0-9]{{1,4}}(?:/[0-9]{{1,3}})?(?:[{_LETTER}](?![\w]))?(?![0-9])"
ADDRESS = re.compile(
    rf"[0-9](?<![0-9][0-9])(?<![0-9][.,:][0-9])[0-9]{{0,3}}+(?:/[0-9]{{1,3}}+)?"
    rf"(?:[{_LETTER}](?![\w]))?(?![0-9/])(?![.,:][0-9])"
)
_HOUSE_WORDS = ("д.", "дом", "үй", "уч.", "участок", "здание", "ғимарат", "корпус", "корп.", "блок")
_FLAT_WORDS = ("кв.", "кв", "квартира", "пәтер", "офис", "оф.", "кеңсе", "бөлме", "комната")
# Not "жолы" on its own: "бұл жолы 5 команда" is "this time 5 teams"; Жібек жолы is a street name itself.
_KZ_STREET_WORDS = (
    "көшесі",
    "көш.",
    "даңғылы",
    "даңғ.",
    "шағынауданы",
    "шағын ауданы",
    "ықшамауданы",
    "ықшам ауданы",
    "бульвары",
    "тұйығы",
    "алаңы",
    "ш/а",
)
_STREET_NAMES = ("Жібек жолы", "Жибек жолы")
# Lower-case words inside a street name: "Қабанбай батыр", "Төле би", "Абылай хана", "Кабанбай батыра".
_NAME_TITLES = ("батыр", "батыра", "би", "хан", "хана", "ата", "ана", "ақын", "қажы", "бек", "жолы")
_RU_STREET_WORDS = (
    "ул",
    "улица",
    "пр",
    "пр-т",
    "просп",
    "проспект",
    "мкр",
    "мкрн",
    "микрорайон",
    "м-н",
    "б-р",
    "бульвар",
    "пер",
    "переулок",
    "шоссе",
    "наб",
    "набережная",
    "пл",
    "площадь",
    "тракт",
)
# A street name backwards: a capitalised token or a number ("Абай", "Самал-2", "8 Марта"), optionally
# followed (forwards) by a second capitalised token or a title ("Мәңгілік Ел", "Толе би"). A sentence-initial
# capital followed by an ordinary word ("Мәселені шешу ...") is no name.
_NAME_TOKEN_REV = rf"[\w\-’'.]*?[{_CAP}0-9](?![\w\-’'])"
_NAME_REV = rf"(?:(?:(?i:{_reversed_words(_NAME_TITLES)})(?![\w])|{_NAME_TOKEN_REV})\s)?{_NAME_TOKEN_REV}"
# Matched on the reversed text before a number: ["№ "] [house/flat word] [", " street].
_ADDR_BEFORE_REV = re.compile(
    rf"(?:\s?(?:№\s?)?(?P<kw>(?i:{_reversed_words(_HOUSE_WORDS + _FLAT_WORDS)}))(?![\w]))?"
    rf"(?:[,\s№]{{1,4}}(?P<street>(?i:{_reversed_words(_KZ_STREET_WORDS)})\s{_NAME_REV}"
    rf"|(?i:{_reversed_words(_STREET_NAMES)})(?![\w])"
    rf"|{_NAME_REV}[\s.]{{0,2}}(?i:{_reversed_words(_RU_STREET_WORDS)})(?![\w])))?"
)
_SUFFIX_WORDS = "үй|пәтер|кеңсе|офис|кв|корпус|блок|бөлме"
_HOUSE_SUFFIX = re.compile(r"\s?-?\s?(?i:үй|корпус|блок)")
_FLAT_SET = frozenset(("кв", "квартира", "пәтер", "офис", "оф", "кеңсе", "бөлме", "комната"))
_PREFIX_WORDS = "|".join(sorted((w.rstrip(".") for w in _HOUSE_WORDS + _FLAT_WORDS), key=len, reverse=True))
# The next number of the same address: skip the previous number's own "-үй"/" пәтер", then ", кв. 12",
# ", 45-пәтер", " корпус 2", ...
_ADDR_NEXT = re.compile(
    rf"(?:\s?-?\s?(?i:{_SUFFIX_WORDS})\w*\.?)?[,;\s]{{1,3}}"
    rf"(?:(?P<pkw>(?i:{_PREFIX_WORDS}))\.?\s?(?:№\s?)?(?P<n1>{_HOUSE_NUMBER})"
    rf"|(?P<n2>{_HOUSE_NUMBER})\s?-?\s?(?P<skw>(?i:{_SUFFIX_WORDS}))(?![\w]|\.\s?м\b))"
)
# After a bare number following a street: a year, distance, count or street number, not a house number.
_ADDR_NOT_AFTER = re.compile(
    rf"\s?-?\s?(?i:жыл|ж\.|год|г\.|км|м\b|метр|шақырым|сағ|час|мин|сек|жас|лет|рет|раз|кг|тонн|көше|даңғыл"
    rf"|шағынаудан|{_MONTH_PREFIX}|{_UNITS})"
)


# --- validators -----------------------------------------------------------------------------------------
def _digits(s: str) -> str:
    return "".join(c for c in s if "0" <= c <= "9")


def iin_bin_check_digit(first11: str) -> int | None:
    """Check digit of an IIN/BIN body (weights 1..11 mod 11, then 3..11,1,2 if that gives 10);
    None = invalid."""
    d = [int(c) for c in first11]
    check = sum(w * x for w, x in zip(_IIN_W1, d)) % 11
    if check == 10:
        check = sum(w * x for w, x in zip(_IIN_W2, d)) % 11
        if check == 10:
            return None
    return check


def classify_iin_bin(number: str) -> str | None:
    """'iin', 'bin' or None for a 12-digit string: checksum first, then the IIN date or the BIN structure."""
    if len(number) != 12 or not number.isdigit() or iin_bin_check_digit(number[:11]) != int(number[11]):
        return None
    century = int(number[6])
    if 1 <= century <= 6:
        try:
            date(1800 + 100 * ((century - 1) // 2) + int(number[:2]), int(number[2:4]), int(number[4:6]))
            return "iin"
        except ValueError:
            pass
    if 1 <= int(number[2:4]) <= 12 and number[4] in "456":
        return "bin"
    return None


def luhn_valid(number: str) -> bool:
    total = 0
    for i, c in enumerate(reversed(number)):
        d = int(c)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


# Issuer prefixes by card length (Visa, Mastercard, Mir, Amex, Diners, JCB, Discover, UnionPay, Maestro).
# Long database ids and hashes ("2057000070169587855") pass Luhn one time in ten; few of them also start
# like a card of their length.
_CARD_PREFIX = {
    13: re.compile(r"4|5[06-9]|6"),
    14: re.compile(r"3[068]|5[06-9]|6"),
    15: re.compile(r"3[47]|5[06-9]|6"),
    16: re.compile(r"4|5|6|220[0-4]|22[2-9][0-9]|2[3-6][0-9]{2}|27[01][0-9]|2720|35"),
    # 17-19 digits: Mir, UnionPay and Maestro only. 64-bit hash ids are 19 digits long; Visa and JCB issue
    # few 19-digit cards, and leaving them out keeps ids starting with 4 or 35 intact.
    17: re.compile(r"220[0-4]|62|67|50"),
    18: re.compile(r"220[0-4]|62|67|50"),
    19: re.compile(r"220[0-4]|62|67|50"),
}


def card_scheme_ok(number: str) -> bool:
    """13-19 digits starting like a card of that length."""
    prefix = _CARD_PREFIX.get(len(number))
    return prefix is not None and prefix.match(number) is not None


def iban_valid(iban: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters -> 10..35, the number mod 97
    must be 1."""
    s = "".join(c for c in iban if c.isalnum()).upper()
    if not s.isascii():
        return False
    if s.startswith("KZ") and (len(s) != 20 or not s[4:7].isdigit()):
        return False
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def _ipv6_valid(s: str) -> bool:
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return sum(1 for g in s.split(":") if g) >= 2


def _before_reversed(text: str, start: int, size: int) -> str:
    """The `size` characters before `start`, reversed: context words are matched backwards from
    a candidate."""
    return text[max(0, start - size) : start][::-1]


# --- masking --------------------------------------------------------------------------------------------
# Python's regex engine is fast only for patterns that start with a plain character class, so scanning a
# whole document with a dozen look-behind-led patterns runs at 5-15 MB/s. Instead, one cheap anchor pass
# over the digits (plus "@", an "(at)" hint, an "x:y:" hex pair) finds the few places where personal data
# can be, and the full patterns only run in windows round them. Windows are widened to the nearest
# whitespace, and finditer(text, pos, endpos) lets look-behinds see the real text before `pos`, so the
# matches in a window are the ones the pattern finds there when it scans the whole text.
#
# One anchor pattern, starting at the first digit of a run, says what kind of place it is, and so which
# rules run round it:
#   long     a run of at least five digits with separators: every digit rule (IBAN, card, IIN/BIN,
#            document, IPv4, phones, numeric dates of birth);
#   dob      a day before a month name ("12 наурыз", "5 мая", "12 March"), "12, 1985", "12/03/1985", a year
#            before a birth word ("1985 ж.т.", "1985 жылы туған", "1985 года рождения") or after one
#            ("родился в 1985", "born in 1985", "туған жылы 1985");
#   plate    three digits and capital letters ("123 ABC", "123АВС");
#   address  a house or flat word after the number ("12-үй", "12 пәтер", "5, кв"), a slash ("150/1"), or a
#            street or house word before it ("көшесі 12", "даңғылы, 5", "д. 5", a Russian genitive
#            street name "Ленина 5", "Абая 150", "Толе би 59").
# A short run that has none of these neighbours - most years, counts and article numbers - costs one failed
# match in C and no window at all.
_SEPS = r"[ \u00a0\u202f\-.()+]"
_ANCHOR = re.compile(
    r"[0-9](?<![0-9][0-9])(?:"
    rf"(?P<long>(?:{_SEPS}*+[0-9]){{4,}})"
    r"|[0-9]{0,3}+(?:"  # the rest of a short run, then what follows it
    r"(?P<address>/[0-9]{1,3}+(?![0-9/])"
    rf"|[{_LETTER}]?[\s-]{{1,2}}(?:үй|пәтер|кеңсе|офис|кв[.\s]|корп|блок)"
    rf"|[{_LETTER}]?,\s?(?:кв|д\.|дом|пәтер|үй|офис|оф\.|кеңсе|корп|блок))"
    rf"|(?P<plate>(?<=[0-9]{{3}})(?<![0-9]{{4}})[ \u00a0]?[{_PLATE_LETTERS}]{{2,3}}(?![a-zа-яё]))"
    rf"|(?P<dob>\s(?:{_MONTH_PREFIX})|,\s(?:19|20)[0-9]{{2}}|/[0-9]{{1,2}}/[0-9]{{2}}"
    r"|(?<=[0-9]{4})\s?(?:ж\.\s?т\.|г\.\s?р\.|жылы\sтуған|года\sрожд|г\.\sрожд)))"
    # what stands before the first digit, as a small decision tree of look-behinds (each costs a step)
    r"|(?P<address_before>(?<=\s[0-9])(?:"
    r"(?<=і\s[0-9])(?<=көшесі\s[0-9])"
    # Kazakh names in Russian addresses end in "-ы": "ул. Кенесары 40", "ул. Момышулы 5"
    r"|(?<=ы\s[0-9])(?:(?<=даңғылы\s[0-9])|(?<=шағынауданы\s[0-9])|(?<=[жЖ]олы\s[0-9])|(?<=сары\s[0-9])"
    r"|(?<=улы\s[0-9]))"
    r"|(?<=,\s[0-9])(?:(?<=көшесі,\s[0-9])|(?<=даңғылы,\s[0-9])|(?<=шағынауданы,\s[0-9])|(?<=[жЖ]олы,\s[0-9])"
    r"|(?<=сары,\s[0-9])|(?<=улы,\s[0-9])"
    r"|(?<=[внлмрк][ая],\s[0-9])|(?<=ая,\s[0-9])|(?<=ого,\s[0-9])|(?<=\sби,\s[0-9]))"
    r"|(?<=\sби\s[0-9])"  # "ул. Толе би 59", "Қазыбек би"
    # Russian street names are mostly genitive: "ул. Ленина 5", "пр. Абая 150", "ул. Горького 7"
    r"|(?<=[ая]\s[0-9])(?:(?<=[внлмрк][ая]\s[0-9])|(?<=ая\s[0-9]))|(?<=ого\s[0-9])"
    r"|(?<=д\.\s[0-9]))|(?<=д\.[0-9]))"
    r"|(?P<dob_before>(?<=\s[0-9])(?:(?<=\sв\s[0-9])(?:(?<=лся\sв\s[0-9])|(?<=лась\sв\s[0-9]))"
    r"|(?<=born\sin\s[0-9])|(?<=ения\s[0-9])|(?<=ения:\s[0-9])|(?<=[тТ]уған\sжылы\s[0-9])"
    r"|(?<=[тТ]уған\sжылы:\s[0-9])|(?<=birth\s[0-9])|(?<=birth:\s[0-9])))"
    r")"
)
_ANCHOR_KIND = {
    "long": "long",
    "address": "address",
    "address_before": "address",
    "plate": "plate",
    "dob": "dob",
    "dob_before": "dob",
}
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
_BEFORE = 48  # room for a phone keyword and the words between it and the number, "KZ", "+7 ("
_AFTER = 40
_BOUNDARY_SCAN = 64


def _window(text: str, start: int, end: int) -> tuple[int, int]:
    """Widen [start, end) by the margins, then to whitespace so that no word is cut at the window's edge."""
    pos, lo = max(0, start - _BEFORE), max(0, start - _BEFORE - _BOUNDARY_SCAN)
    while pos > lo and not text[pos - 1].isspace():
        pos -= 1
    n = len(text)
    endpos, hi = min(n, end + _AFTER), min(n, end + _AFTER + _BOUNDARY_SCAN)
    while endpos < hi and not text[endpos].isspace():
        endpos += 1
    return pos, endpos


def _merged_windows(text: str, anchors: list[tuple[int, int]]) -> list[tuple[int, int]]:
    windows: list[tuple[int, int]] = []
    for start, end in anchors:
        if windows and start - _BEFORE >= windows[-1][0] and end + _AFTER <= windows[-1][1]:
            continue  # already covered: keeps "@@@@..." or long tables linear
        pos, endpos = _window(text, start, end)
        if windows and pos <= windows[-1][1]:
            windows[-1] = (windows[-1][0], max(windows[-1][1], endpos))
        else:
            windows.append((pos, endpos))
    return windows


def _digit_anchors(text: str) -> dict[str, list[tuple[int, int]]]:
    """Anchor spans by the rules they call for: "long", "dob", "plate", "address" (see _ANCHOR)."""
    anchors: dict[str, list[tuple[int, int]]] = {"long": [], "dob": [], "plate": [], "address": []}
    for m in _ANCHOR.finditer(text):
        anchors[_ANCHOR_KIND[m.lastgroup]].append(m.span())
    return anchors


def _find_all(text: str, needle: str) -> list[int]:
    out, i = [], text.find(needle)
    while i >= 0:
        out.append(i)
        i = text.find(needle, i + 1)
    return out


def _iban(m: re.Match) -> str | None:
    return "iban" if iban_valid(m.group()) else None


def _card(m: re.Match) -> str | None:
    d = _digits(m.group())
    return "card" if card_scheme_ok(d) and luhn_valid(d) else None


def _iin_bin(m: re.Match) -> str | None:
    s = m.group()
    d = _digits(s)
    if len(d) != 12:
        return None
    if "." in s:
        parts = s.split(".")
        if len(parts) == 4 and all(
            len(p) <= 3 and int(p) <= 255 and (p == "0" or p[0] != "0") for p in parts
        ):
            return None  # a valid IPv4 address as well: the IP rule takes it (see the module docstring)
    if _UNIT_AFTER.match(m.string, m.end()):
        return None  # "880 512 300 124 теңге": an amount (see the module docstring)
    return classify_iin_bin(d)


def _document(m: re.Match) -> tuple[int, int, str] | None:
    text, start, end = m.string, m.start(), m.end()
    if start >= 1 and text[start - 1] in "NnНн":  # "N12345678"
        start -= 1
    elif start >= 2 and text[start - 1] == " " and text[start - 2] in "NnНн":  # "№ N 1234567"
        start -= 2
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return None  # glued to other letters: a code, not a document number
    if _UNIT_AFTER.match(text, end) or not _DOC_BEFORE.search(text, max(0, start - 64), start):
        return None
    return start, end, "document"


def _ipv4(m: re.Match) -> str | None:
    parts = m.group().split(".")
    if any(int(p) > 255 or (len(p) > 1 and p[0] == "0") for p in parts):
        return None
    if all(len(part) == 1 for part in parts):
        return None  # "1.2.3.4", clause "3.1.2.1": see the module docstring
    if _VERSION_BEFORE.search(m.string, max(0, m.start() - 16), m.start()):
        return None  # "версия 2.10.4.1", "version 10.0.4.12"
    return "ip"


def _ipv6(m: re.Match) -> str | None:
    return "ip" if _ipv6_valid(m.group()) else None


def _date_of_birth(m: re.Match) -> tuple[int, int, str] | None:
    text, start, end = m.string, m.start(), m.end()
    groups = m.groupdict()
    if groups.get("numeric") is not None:
        day, month = (int(x) for x in m.group().split(m.group("ds"))[:2])
        if not (1 <= day <= 31 and 1 <= month <= 12):
            return None
    elif groups.get("dayyear") is not None:  # "March 12, 1985": the month stands before the day
        month = _MONTH_BEFORE_REV.match(_before_reversed(text, start, 12))
        if month is None:
            return None
        start -= month.end()
    if not _DOB_AFTER.match(text, end) and not _DOB_BEFORE_REV.match(_before_reversed(text, start, 24)):
        return None
    return start, end, "dob"


def _plate(m: re.Match) -> tuple[int, int, str] | None:
    text, start, end = m.string, m.start(), m.end()
    if m.group("pl").translate(_CYRILLIC_TO_LATIN) in _PLATE_STOP:
        return None
    lead = start - 2 if start >= 2 and text[start - 1] in " \u00a0" else start - 1
    if lead >= 0 and text[lead] in _PLATE_LETTER_SET and (lead == 0 or not text[lead - 1].isalnum()):
        # older format, "A 123 BCD": the region letter stands in front
        if m.group("pr") is not None:
            return None
        start = lead
        needs_context = True
    else:
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "-_/"):
            return None
        if m.group("pr") is None:
            return None
        needs_context = not 1 <= int(m.group("pr")) <= 20
    if needs_context and not _PLATE_CONTEXT.search(text, max(0, start - 48), start):
        return None
    return start, end, "plate"


def _address(m: re.Match) -> str | None:
    text, end = m.string, m.end()
    before = _ADDR_BEFORE_REV.match(_before_reversed(text, m.start(), 64))
    word = before.group("kw")
    if before.group("street") is not None:
        if word is None and (len(_digits(m.group().split("/")[0])) > 3 or _ADDR_NOT_AFTER.match(text, end)):
            return None  # "Абай көшесі 2024 жылы", "Абай даңғылы 5 км"
        return "address"
    # no street: a house number is only an address together with a flat number ("12-үй, 45-пәтер")
    if (word is not None and word[::-1].lower() in _HOUSE_WORDS) or _HOUSE_SUFFIX.match(text, end):
        following = _ADDR_NEXT.match(text, end)
        if following is not None and _is_flat(following):
            return "address"
    return None


def _is_flat(m: re.Match) -> bool:
    return (m.group("pkw") or m.group("skw")).lower() in _FLAT_SET


def _always(kind: str) -> Callable[[re.Match], str]:
    return lambda _m: kind


# (pattern, validator, group to replace), in priority order within each anchor type. The validator names
# the kind (the span is the group's), gives a (start, end, kind) span of its own, or None.
_Rule = tuple[re.Pattern, Callable[[re.Match], "str | tuple[int, int, str] | None"], int | str]
_EMAIL_RULES: tuple[_Rule, ...] = ((EMAIL, _always("email"), 0),)
_EMAIL_OBFUSCATED_RULES: tuple[_Rule, ...] = ((EMAIL_OBFUSCATED, _always("email"), 0),)
_IPV6_RULES: tuple[_Rule, ...] = ((IPV6, _ipv6, 0),)
_DOB_RULES: tuple[_Rule, ...] = ((DATE_OF_BIRTH, _date_of_birth, 0),)
_PLATE_RULES: tuple[_Rule, ...] = ((PLATE, _plate, 0),)
_ADDRESS_RULES: tuple[_Rule, ...] = ((ADDRESS, _address, 0),)
_DIGIT_RULES: tuple[_Rule, ...] = (
    (IBAN, _iban, 0),  # before cards: its digit groups could pass Luhn
    (CARD, _card, 0),  # before IIN/BIN and phones: 13-19 digits contain shorter runs
    (IIN_BIN, _iin_bin, 0),
    (DOCUMENT, _document, 0),  # before phones: a 7-digit ID could look like a local number
    (IPV4, _ipv4, 0),
    (PHONE, _always("phone"), 0),
    (PHONE_AFTER_KEYWORD, _always("phone"), "num"),  # only numbers no stricter pattern took
    (DATE_OF_BIRTH_NUMERIC, _date_of_birth, 0),  # numeric dates ("12.03.1985") are long anchors
)
# Short anchors call for one rule each; they are scanned after the long windows, in this priority order.
_SHORT_RULES = (("dob", _DOB_RULES), ("plate", _PLATE_RULES), ("address", _ADDRESS_RULES))


class _Spans:
    """Accepted (start, end, kind) spans; a later (lower-priority) match overlapping one is dropped, so
    overlapping candidates can never leave a half-replaced number or a placeholder inside a placeholder."""

    def __init__(self) -> None:
        self.starts: list[int] = []  # sorted; spans never overlap, so their ends are sorted the same way
        self.items: list[tuple[int, int, str]] = []

    def add(self, start: int, end: int, kind: str) -> bool:
        i = bisect.bisect_right(self.starts, start)
        if (i > 0 and self.items[i - 1][1] > start) or (i < len(self.items) and self.items[i][0] < end):
            return False
        self.starts.insert(i, start)
        self.items.insert(i, (start, end, kind))
        return True


def _scan(text: str, windows: list[tuple[int, int]], rules: tuple[_Rule, ...], spans: _Spans) -> None:
    for pattern, validate, group in rules:
        for pos, endpos in windows:
            for m in pattern.finditer(text, pos, endpos):
                found = validate(m)
                if found is None:
                    continue
                if isinstance(found, str):
                    spans.add(m.start(group), m.end(group), found)
                else:
                    spans.add(*found)


def _extend_phone_lists(text: str, spans: _Spans) -> None:
    """Mask numbers listed right after a masked phone (", 55-12-35"), however many there are."""
    queue = [end for _, end, kind in spans.items if kind == "phone"]
    while queue:
        m = PHONE_LIST_NEXT.match(text, queue.pop())
        if m and spans.add(m.start("num"), m.end("num"), "phone"):
            queue.append(m.end("num"))


def _extend_addresses(text: str, spans: _Spans) -> None:
    """Mask the flat, office and block numbers that follow a masked house number
    (", кв. 12", ", 45-пәтер")."""
    queue = [end for _, end, kind in spans.items if kind == "address"]
    while queue:
        m = _ADDR_NEXT.match(text, queue.pop())
        if m:
            group = "n1" if m.group("n1") is not None else "n2"
            if spans.add(m.start(group), m.end(group), "address"):
                queue.append(m.end(group))


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, kind) spans of personal data in `text`, sorted by start."""
    spans = _Spans()
    if "@" in text:
        _scan(text, _merged_windows(text, [(i, i + 1) for i in _find_all(text, "@")]), _EMAIL_RULES, spans)
    if "(" in text or "[" in text:
        starts = sorted(_find_all(text, "(") + _find_all(text, "["))
        hints = [m.span() for m in map(lambda i: _EMAIL_HINT.match(text, i), starts) if m]
        if hints:
            _scan(text, _merged_windows(text, hints), _EMAIL_OBFUSCATED_RULES, spans)
    if ":" in text:
        # before the digit patterns: an IPv4-mapped IPv6 address ("::ffff:192.0.2.1") ends in a dotted quad
        ipv6 = [m.span() for m in _IPV6_HINT.finditer(text)]
        if ipv6:
            _scan(text, _merged_windows(text, ipv6), _IPV6_RULES, spans)
    if _HAS_DIGIT.search(text):
        anchors = _digit_anchors(text)
        if anchors["long"]:
            _scan(text, _merged_windows(text, anchors["long"]), _DIGIT_RULES, spans)
        for kind, rules in _SHORT_RULES:
            if anchors[kind]:
                _scan(text, _merged_windows(text, anchors[kind]), rules, spans)
        _extend_phone_lists(text, spans)
        _extend_addresses(text, spans)
    return spans.items


def mask_pii(text: str) -> tuple[str, dict[str, int]]:
    """Replace personal data by typed placeholders; return the new text and counts per kind
    (only kinds seen)."""
    spans = find_pii(text)
    if not spans:
        return text, {}
    counts: dict[str, int] = {}
    parts, last = [], 0
    for start, end, kind in spans:
        parts += [text[last:start], PLACEHOLDERS[kind]]
        last = end
        counts[kind] = counts.get(kind, 0) + 1
    parts.append(text[last:])
    return "".join(parts), counts
