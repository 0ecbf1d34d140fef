"""Personal-data masking: emails, Kazakh phone numbers and 12-digit IIN/BIN numbers -> typed placeholders.

State data must be de-personalised before it is used for training. The patterns favour recall: any
12-digit run is treated as an IIN/BIN (checksum validation comes with the full pipeline).
"""

from __future__ import annotations

import re

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
# +7 / 8 followed by ten digits, each optionally after spaces, dashes or brackets:
# +7 701 123 45 67, 8 (701) 123-45-67, +77011234567, +7 (7172) 55-12-34
PHONE = re.compile(r"(?<![\w+])(?:\+\s?7|8)(?:[\s\-()]{0,2}\d){10}(?!\d)")
IIN_BIN = re.compile(r"(?<!\d)\d{12}(?!\d)")

PLACEHOLDERS = (("email", EMAIL, "<EMAIL>"), ("phone", PHONE, "<PHONE>"), ("iin", IIN_BIN, "<IIN>"))


def mask_pii(text: str) -> tuple[str, dict[str, int]]:
    """Replace personal data by placeholders; return the new text and counts per kind."""
    counts: dict[str, int] = {}
    for kind, pattern, placeholder in PLACEHOLDERS:
        text, n = pattern.subn(placeholder, text)
        if n:
            counts[kind] = n
    return text, counts
