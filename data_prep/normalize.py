"""Text normalisation applied to every document before any filter looks at it.

NFC first (Kazakh letters such as ә or ң typed as base letter + combining mark become one code
point), then control characters and whitespace cleanup. Correct text is never changed beyond that.
"""

from __future__ import annotations

import re
import unicodedata

# Control characters except newline and tab; also the BOM, zero-width no-break space and soft hyphen.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufeff\u00ad]")
_INLINE_SPACE = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_text(text: str) -> tuple[str, dict[str, int]]:
    """Return the normalised text and a count of each repair that changed something."""
    repairs: dict[str, int] = {}
    out = unicodedata.normalize("NFC", text)
    if out != text:
        repairs["nfc"] = 1
    out = out.replace("\r\n", "\n").replace("\r", "\n")
    cleaned = _CONTROL.sub("", out)
    if cleaned != out:
        repairs["control_chars"] = len(out) - len(cleaned)
    out = cleaned
    lines = [_INLINE_SPACE.sub(" ", line).strip() for line in out.split("\n")]
    spaced = "\n".join(lines)
    spaced = _MANY_BLANK_LINES.sub("\n\n", spaced).strip()
    if spaced != out:
        repairs["whitespace"] = 1
    return spaced, repairs
