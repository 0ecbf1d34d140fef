"""Offline language identification from letter statistics.

Kazakh Cyrillic has nine letters that Russian lacks (ә ғ қ ң ө ұ ү һ і). Their share among Cyrillic
letters separates Kazakh from Russian reliably on paragraphs; script separates Cyrillic from Latin.
Letters that belong to Tatar/Bashkir but not Kazakh (җ ҙ ҫ ҡ) mark those languages as "other".

This is the foundation's identifier; the data-pipeline issue replaces it with a trained model that
also tells Kyrgyz, Tatar and Bashkir apart, behind the same `identify_language` function.
"""

from __future__ import annotations

KAZAKH_LETTERS = set("әғқңөұүһіӘҒҚҢӨҰҮҺІ")
OTHER_TURKIC_LETTERS = set("җҗҙҘҫҪҡҠ")
# Share of Cyrillic letters that are Kazakh-specific in ordinary Kazakh prose is ~0.08-0.12; in Russian ~0.
_KAZAKH_SHARE_FULL_SCORE = 0.06


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def _is_latin(ch: str) -> bool:
    return ch.isascii() and ch.isalpha() or "\u00c0" <= ch <= "\u024f"


def identify_language(text: str) -> tuple[str, float]:
    """Return (label, confidence in [0, 1]); labels: kk, ru, en, other."""
    cyr = lat = kk = other_turkic = 0
    for ch in text:
        if not ch.isalpha():
            continue
        if _is_cyrillic(ch):
            cyr += 1
            if ch in KAZAKH_LETTERS:
                kk += 1
            elif ch in OTHER_TURKIC_LETTERS:
                other_turkic += 1
        elif _is_latin(ch):
            lat += 1
    letters = cyr + lat
    if letters == 0:
        return "other", 0.0
    if lat > cyr:
        return "en", lat / letters
    script_share = cyr / letters
    if other_turkic / cyr > 0.005:
        return "other", script_share
    kazakh_share = kk / cyr
    if kazakh_share >= 0.02:
        return "kk", script_share * min(1.0, kazakh_share / _KAZAKH_SHARE_FULL_SCORE)
    return "ru", script_share * (1.0 - kazakh_share / 0.02)
