"""Letter classes of the Cyrillic and Latin scripts and of the Kazakh alphabet, shared by the text repairs
(data_prep.normalize, data_prep.transliterate), the readers' legacy-encoding test (data_prep.source_io)
and the foreign-line remover (data_prep.line_transforms).

    from data_prep.letters import CYRILLIC_RANGES, CYRILLIC_LETTER
    re.compile(f"[{CYRILLIC_RANGES}]+")   # the ranges go inside a character class
    CYRILLIC_LETTER.search(text)          # or ready compiled: one letter of the script
"""

from __future__ import annotations

import re

CYRILLIC_RANGES = "\u0400-\u0482\u048a-\u052f"
"""Cyrillic letters: the Cyrillic block and its supplement, without the combining marks U+0483-U+0489."""
LATIN_RANGES = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u0250-\u02af\u1e00-\u1eff"
"""Latin letters: ASCII, Latin-1 letters, Extended-A/B, IPA (ə ɵ live there) and Latin Extended Additional."""
CYRILLIC_LETTER = re.compile(f"[{CYRILLIC_RANGES}]")
LATIN_LETTER = re.compile(f"[{LATIN_RANGES}]")
ANY_LETTER = re.compile(r"[^\W\d_]")
"""A letter of any script: a word character that is not a digit or the underscore."""

KAZAKH_ONLY_LETTERS = "әғқңөұүһӘҒҚҢӨҰҮҺ"
"""The Kazakh letters that Russian lacks (і is left out: Ukrainian and Belarusian have it too)."""
