"""Personal-data masking for Kazakh, Russian and English text -> typed placeholders.

Kazakhstan's personal-data law requires state data to be de-personalised before it is used for training, so
every document that goes through prep is passed through `mask_pii(text) -> (masked_text, counts_per_kind)`.

Kinds, placeholders and the count keys that the pipeline sums into stats.json:

    email  <EMAIL>  user@mail.kz, пример@мысал.қаз, obfuscated "name [at] mail.kz", "name (at) mail dot kz"
    iban   <IBAN>   KZ + 2 check digits + 3-digit bank code + 13 alphanumerics, optionally in groups of four;
                    only masked when the ISO 13616 mod-97 check holds
    card   <CARD>   13-19 digits (contiguous, 4-4-4-4[-3], 4-6-5, 4-6-4), Luhn-valid, with an issuer prefix
                    that fits the length (Visa, Mastercard, Mir, Amex, UnionPay, Maestro, ...)
    iin    <IIN>    12 digits (contiguous, 6-6, 6-3-3, 4-4-4 with spaces or dashes), valid check digit,
                    YYMMDD birth date and a century/gender digit 1-6
    bin    <BIN>    12 digits, valid check digit, YYMM registration month and entity-type digit 4/5/6
    ip     <IP>     IPv4 (four octets 0-255) and IPv6
    phone  <PHONE>  +7 / 8 followed by a 10-digit number in the usual written forms (spaces, dashes, dots,
                    brackets round the area code), and short 5-7 digit local numbers after a phone keyword
                    ("тел.", "телефон", "phone", "ұялы", "факс", ...)

Precision choices (each one trades a little recall for not damaging ordinary text):
- A 12-digit number with a wrong IIN/BIN check digit is left alone: such numbers are mostly order, case,
  invoice or barcode numbers, and about 10 in 11 random 12-digit numbers fail the check. A mistyped IIN is
  therefore not masked; that is an accepted loss. Checksum-valid numbers whose structure is neither an IIN
  (real date + century digit) nor a BIN (month + entity type) are left alone for the same reason.
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
look like a card), cards (13-19 digits contain shorter runs), IIN/BIN, IPv4, phones, keyword-led phones.

Speed (the pipeline calls this on every document): patterns are precompiled and only run in small windows
round cheap anchors (see `find_pii`); text without digits, "@", "(at)" or "x:y:" costs a few substring
checks.
"""

from __future__ import annotations

import bisect
import ipaddress
import re
from collections.abc import Callable
from datetime import date

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
    rf"(?<![\w.+-]){_LOCAL}{_AT}{_LABEL}(?:{_DOT}{_LABEL})*{_DOT}{_TLD}(?![\w-])", re.IGNORECASE)
_EMAIL_HINT = re.compile(r"[\[(]\s?(?:at|собака|эт)\s?[\])]", re.IGNORECASE)

# --- IBAN -----------------------------------------------------------------------------------------------
# KZ IBANs are 20 characters; printed in groups of four ("KZ86 125K ZT50 0410 0100") or in one piece.
IBAN = re.compile(r"(?<![\w])[Kk][Zz][0-9]{2}(?:[ \u00a0\u202f\-]?[0-9A-Za-z]{4}){4}(?![\w])")

# --- payment cards --------------------------------------------------------------------------------------
_CS = r"[ \u00a0\u202f\-]"
CARD = re.compile(
    r"(?<![\w\-])(?:"
    r"[2-6][0-9]{12,18}"                                                               # contiguous
    rf"|[2-6][0-9]{{3}}(?P<s1>{_CS})[0-9]{{4}}(?P=s1)[0-9]{{4}}(?P=s1)[0-9]{{4}}(?:(?P=s1)[0-9]{{3}})?"  # 4-4-4-4[-3]
    rf"|[2-6][0-9]{{3}}(?P<s2>{_CS})[0-9]{{6}}(?P=s2)[0-9]{{4,5}}"                     # 4-6-5 / 4-6-4
    r")(?![0-9])(?![.,][0-9])")

# --- IIN / BIN ------------------------------------------------------------------------------------------
_IS = r"[ \u00a0\u202f\-]"
IIN_BIN = re.compile(
    r"(?<![0-9+])(?:"
    r"[0-9]{12}"
    rf"|[0-9]{{6}}{_IS}[0-9]{{6}}"
    rf"|[0-9]{{6}}{_IS}[0-9]{{3}}{_IS}[0-9]{{3}}"
    rf"|[0-9]{{4}}{_IS}[0-9]{{4}}{_IS}[0-9]{{4}}"
    r")(?![0-9])(?![.,][0-9])")
_IIN_W1 = tuple(range(1, 12))
_IIN_W2 = (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2)

# --- IP addresses ---------------------------------------------------------------------------------------
_OCT = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4 = re.compile(rf"(?<![\w.]){_OCT}(?:\.{_OCT}){{3}}(?![\w]|\.[0-9])")
_VERSION_BEFORE = re.compile(r"(?i:version|верси[яиюей]|нұсқа\w*|build|сборка)\W{0,3}$")
IPV6 = re.compile(
    r"(?<![\w:.])(?=[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:)[0-9A-Fa-f:]{2,39}"
    r"(?:(?<=:)[0-9]{1,3}(?:\.[0-9]{1,3}){3})?(?![\w:]|\.[0-9])")

# --- phones ---------------------------------------------------------------------------------------------
# One separator between digit groups: space, no-break or narrow no-break space, dash or dot.
_S = r"[ \u00a0\u202f\-.]"
# Subscriber parts by length; area code length + subscriber length is always 10 digits.
_SUB = {
    7: rf"[0-9]{{3}}{_S}?[0-9]{{2}}{_S}?[0-9]{{2}}",                                # 123 45 67, 123-4567, 1234567
    6: rf"(?:[0-9]{{2}}{_S}?[0-9]{{2}}{_S}?[0-9]{{2}}|[0-9]{{3}}{_S}[0-9]{{3}})",    # 55-12-34, 551234, 551 234
    5: rf"(?:[0-9]{_S}?[0-9]{{2}}{_S}?[0-9]{{2}}|[0-9]{{3}}{_S}?[0-9]{{2}})",        # 5-12-34, 512-34
}


def _area_and_subscriber(first: str) -> str:
    """Area code (3-5 digits, optionally bracketed) followed by a subscriber part making 10 digits in all."""
    alts = []
    for area_len, sub_len in ((3, 7), (4, 6), (5, 5)):
        area = rf"{first}[0-9]{{{area_len - 1}}}"
        alts.append(rf"(?:\(\s?{area}\s?\)[\s\-]?|{area}{_S}?){_SUB[sub_len]}")
    return "(?:" + "|".join(alts) + ")"


_END = r"(?![0-9])(?![.,][0-9])"
PHONE = re.compile(rf"(?<![\w+])(?:\+\s?7|8){_S}?{_area_and_subscriber('[3-9]')}{_END}")
# Local numbers without a country prefix are only trusted right after a phone keyword; the keyword and the
# few characters between it and the number ("тел./факс: ", "телефон нөмірі: ") are kept.
_PHONE_KEYWORD = (r"(?:тел(?:ефон\w*|\.|\b)|(?:tele)?phone\w*|tel(?:\.|\b)|ұялы\b|моб(?:ильн\w*|\.|\b)"
                  r"|факс\w*|fax\b|whatsapp\b|вотсап\w*)")
_UNITS = (r"теңге|тенге|тг\b|₸|\$|руб|доллар|евро|сом\b|usd|kzt|млн|млрд|мың|тыс|%|адам|человек|дана\b"
          r"|штук|бірлік|единиц")
_LOCAL_NUMBER = (rf"(?:(?:\+?\s?[78]{_S}?)?{_area_and_subscriber('[1-9]')}"
                 rf"|(?:\(\s?[0-9]{{3,5}}\s?\)[\s\-]?)?"
                 rf"(?:{_SUB[7]}|[0-9]{{2}}{_S}?[0-9]{{2}}{_S}?[0-9]{{2}}|[0-9]{_S}[0-9]{{2}}{_S}[0-9]{{2}}(?:{_S}[0-9]{{2}})?))"
                 # a short number followed by more digit groups is part of something else: no partial masks
                 rf"(?!{_S}?[0-9])(?![.,][0-9])"
                 # "телефоны 150000 теңге тұрады": a sum or a count, not a number to call
                 rf"(?!\s?(?i:{_UNITS}))")
PHONE_AFTER_KEYWORD = re.compile(
    rf"(?P<keep>(?<!\w)(?i:{_PHONE_KEYWORD})[^0-9\n<>]{{0,16}}?)(?P<num>{_LOCAL_NUMBER})")
# Contact blocks list several numbers after one keyword: "тел.: 8 (7172) 55-12-34, 55-12-35".
PHONE_LIST_NEXT = re.compile(
    rf"\s?[,;]\s?(?:(?i:или|немесе|және|and|or)\s)?(?P<num>(?:\+\s?7|8){_S}?{_area_and_subscriber('[3-9]')}"
    rf"{_END}|{_LOCAL_NUMBER})")

_HAS_DIGIT = re.compile(r"[0-9]")


# --- validators -----------------------------------------------------------------------------------------
def _digits(s: str) -> str:
    return "".join(c for c in s if "0" <= c <= "9")


def iin_bin_check_digit(first11: str) -> int | None:
    """Check digit of an IIN/BIN body (weights 1..11 mod 11, then 3..11,1,2 if that gives 10); None = invalid."""
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
    """ISO 13616: move the first four characters to the end, letters -> 10..35, the number mod 97 must be 1."""
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


# --- masking --------------------------------------------------------------------------------------------
# Python's regex engine is fast only for patterns that start with a plain character class, so scanning a
# whole document with a dozen look-behind-led patterns runs at 5-15 MB/s. Instead, cheap anchors find the
# few places where personal data can be ("@", an "(at)" hint, a run of digits with at least five digits,
# an "x:y:" hex pair), and the full patterns only run in windows round them. Windows are widened to the
# nearest whitespace, and finditer(text, pos, endpos) lets look-behinds see the real text before `pos`,
# so the matches in a window are the ones the pattern finds there when it scans the whole text.
_DIGIT_CLUSTER = re.compile(r"[0-9][0-9 \u00a0\u202f\-.()+]*")
_IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
_MIN_DIGITS = 5  # the shortest thing masked (a keyword-led local phone, an IPv4 with a 2-digit octet)
_BEFORE = 48     # room for a phone keyword and the words between it and the number, "KZ", "+7 ("
_AFTER = 40
_BOUNDARY_SCAN = 64

PLACEHOLDERS = {"email": "<EMAIL>", "iban": "<IBAN>", "card": "<CARD>", "iin": "<IIN>", "bin": "<BIN>",
                "ip": "<IP>", "phone": "<PHONE>"}


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


def _digit_anchors(text: str) -> list[tuple[int, int]]:
    anchors = []
    for m in _DIGIT_CLUSTER.finditer(text):
        run = m.group()
        if len(run) >= _MIN_DIGITS and sum("0" <= c <= "9" for c in run) >= _MIN_DIGITS:
            anchors.append(m.span())
    return anchors


def _iban(m: re.Match) -> str | None:
    return "iban" if iban_valid(m.group()) else None


def _card(m: re.Match) -> str | None:
    d = _digits(m.group())
    return "card" if card_scheme_ok(d) and luhn_valid(d) else None


def _iin_bin(m: re.Match) -> str | None:
    return classify_iin_bin(_digits(m.group()))


def _ipv4(m: re.Match) -> str | None:
    if all(len(part) == 1 for part in m.group().split(".")):
        return None  # "1.2.3.4", clause "3.1.2.1": see the module docstring
    if _VERSION_BEFORE.search(m.string, max(0, m.start() - 16), m.start()):
        return None  # "версия 2.10.4.1", "version 10.0.4.12"
    return "ip"


def _ipv6(m: re.Match) -> str | None:
    return "ip" if _ipv6_valid(m.group()) else None


def _always(kind: str) -> Callable[[re.Match], str]:
    return lambda _m: kind


# (pattern, validator naming the kind or None, group to replace), in priority order within each anchor type.
_Rule = tuple[re.Pattern, Callable[[re.Match], str | None], int | str]
_EMAIL_RULES: tuple[_Rule, ...] = ((EMAIL, _always("email"), 0),)
_EMAIL_OBFUSCATED_RULES: tuple[_Rule, ...] = ((EMAIL_OBFUSCATED, _always("email"), 0),)
_IPV6_RULES: tuple[_Rule, ...] = ((IPV6, _ipv6, 0),)
_DIGIT_RULES: tuple[_Rule, ...] = (
    (IBAN, _iban, 0),                         # before cards: its digit groups could pass Luhn
    (CARD, _card, 0),                         # before IIN/BIN and phones: 13-19 digits contain shorter runs
    (IIN_BIN, _iin_bin, 0),
    (IPV4, _ipv4, 0),
    (PHONE, _always("phone"), 0),
    (PHONE_AFTER_KEYWORD, _always("phone"), "num"),  # last: only numbers no stricter pattern took
)


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
                kind = validate(m)
                if kind is not None:
                    spans.add(m.start(group), m.end(group), kind)


def _extend_phone_lists(text: str, spans: _Spans) -> None:
    """Mask numbers listed right after a masked phone (", 55-12-35"), however many there are."""
    queue = [end for _, end, kind in spans.items if kind == "phone"]
    while queue:
        m = PHONE_LIST_NEXT.match(text, queue.pop())
        if m and spans.add(m.start("num"), m.end("num"), "phone"):
            queue.append(m.end("num"))


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, kind) spans of personal data in `text`, sorted by start."""
    spans = _Spans()
    if "@" in text:
        _scan(text, _merged_windows(text, [(i, i + 1) for i in _find_all(text, "@")]), _EMAIL_RULES, spans)
    if "(" in text or "[" in text:
        hints = [m.span() for m in _EMAIL_HINT.finditer(text)]
        if hints:
            _scan(text, _merged_windows(text, hints), _EMAIL_OBFUSCATED_RULES, spans)
    if ":" in text:
        # before the digit patterns: an IPv4-mapped IPv6 address ("::ffff:192.0.2.1") ends in a dotted quad
        ipv6 = [m.span() for m in _IPV6_HINT.finditer(text)]
        if ipv6:
            _scan(text, _merged_windows(text, ipv6), _IPV6_RULES, spans)
    if _HAS_DIGIT.search(text):
        anchors = _digit_anchors(text)
        if anchors:
            _scan(text, _merged_windows(text, anchors), _DIGIT_RULES, spans)
            _extend_phone_lists(text, spans)
    return spans.items


def mask_pii(text: str) -> tuple[str, dict[str, int]]:
    """Replace personal data by typed placeholders; return the new text and counts per kind (only kinds seen)."""
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


def _find_all(text: str, needle: str) -> list[int]:
    out, i = [], text.find(needle)
    while i >= 0:
        out.append(i)
        i = text.find(needle, i + 1)
    return out
