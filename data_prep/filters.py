"""Document filters as datatrove steps, on what a document is and where it comes from.

Each returns True to keep, or (False, "step:reason") to reject:

    UnreadableFilter      unreadable:<reason>   a reader's quarantine placeholder (data_prep.source_io)
    LanguageFilter        language:<label>, language:low_score
    UrlBlocklistFilter    url:blocklist         a block-listed domain, or a banned word in the host name

The text-quality filters (Gopher, FineWeb) are in data_prep.quality; steps that remove lines rather than
judge the whole document are in data_prep.line_transforms. Rejected documents go to the stage's exclusion
writer with that reason, so nothing is dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter
from datatrove.pipeline.writers.disk_base import DiskWriter

from data_prep.langid import identify_language, identify_languages
from data_prep.resources import ASSETS

DEFAULT_URL_BLOCKLIST = ASSETS / "url_blocklist.txt"
WORD = re.compile(r"\w+")


class UnreadableFilter(BaseFilter):
    """Rejects the placeholders that readers emit for input they could not parse (bad JSON, bad UTF-8...)."""

    name = "🚧 unreadable input"

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        problem = doc.metadata.get("unreadable")
        return (False, f"unreadable:{problem}") if problem else True


class LanguageFilter(BaseFilter):
    """Keeps documents whose identified language is in `keep` with at least `min_score` confidence."""

    name = "🌐 language"

    def __init__(
        self,
        keep: list[str],
        min_score: float,
        exclusion_writer: DiskWriter | None = None,
        batch_size: int = 64,
    ):
        # documents go to the model in batches: its per-call cost is paid once per batch, not per document
        super().__init__(exclusion_writer, batch_size=batch_size)
        self.keep = set(keep)
        self.min_score = min_score

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        return self._verdict(doc, *identify_language(doc.text))

    def filter_batch(self, batch: list[Document]) -> list[bool | tuple[bool, str]]:
        results = identify_languages([d.text for d in batch])
        return [self._verdict(doc, *result) for doc, result in zip(batch, results)]

    def _verdict(self, doc: Document, label: str, score: float) -> bool | tuple[bool, str]:
        doc.metadata["language"] = label
        doc.metadata["language_score"] = round(score, 4)
        if label not in self.keep:
            return False, f"language:{label}"
        if score < self.min_score:
            return False, "language:low_score"
        return True


# ------------------------------------------------------------------------------------------ URL filter
# Words that mark a whole site, matched against the host name's words only: "casino" in a news article's
# path ("...-online-casino-ban") is a topic, in "best-casino.kz" it is the business.
DEFAULT_BANNED_URL_WORDS = frozenset(
    {
        "porn",
        "porno",
        "xxx",
        "sex",
        "escort",
        "hentai",
        "casino",
        "kazino",
        "казино",
        "порно",
        "betting",
        "slots",
        "1xbet",
    }
)
_URL_WORDS = re.compile(r"[\W_]+")


def read_domain_list(path: str | Path) -> set[str]:
    """One domain per line; "#" starts a comment; "www." and "*." prefixes are ignored."""
    domains = set()
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        domain = line.split("#", 1)[0].strip().lower().rstrip(".")
        for prefix in ("*.", "www.", "."):
            domain = domain.removeprefix(prefix)
        if domain:
            domains.add(domain)
    return domains


def url_host(url: str) -> str:
    """Lower-case host name of `url` ("" if none), also for URLs written without a scheme."""
    try:
        return (urlsplit(url if "://" in url else "//" + url.lstrip("/")).hostname or "").rstrip(".")
    except ValueError:  # malformed, e.g. an unclosed IPv6 bracket
        return ""


class UrlBlocklistFilter(BaseFilter):
    """Rejects documents whose URL host, or any parent domain of it, is block-listed, or whose host name
    contains a banned word. Documents without a URL are kept."""

    name = "⛔ URL block list"

    def __init__(
        self,
        blocklist_path: str | Path | None = None,
        use_default_blocklist: bool = True,
        extra_domains: Iterable[str] = (),
        banned_url_words: Iterable[str] | None = DEFAULT_BANNED_URL_WORDS,
        url_key: str = "url",
        exclusion_writer: DiskWriter | None = None,
    ):
        """banned_url_words=None (or empty) switches word matching off."""
        super().__init__(exclusion_writer)
        self.domains = read_domain_list(DEFAULT_URL_BLOCKLIST) if use_default_blocklist else set()
        if blocklist_path:
            self.domains |= read_domain_list(blocklist_path)
        self.domains |= {d.strip().lower() for d in extra_domains if d.strip()}
        self.banned_words = frozenset(w.lower() for w in banned_url_words or ())
        self.url_key = url_key

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        url = doc.metadata.get(self.url_key)
        if not url:
            return True
        host = url_host(str(url))
        if host.startswith("www."):
            host = host[4:]
        parts = host.split(".")
        if any(".".join(parts[i:]) in self.domains for i in range(len(parts))):
            return False, "url:blocklist"
        if self.banned_words and not self.banned_words.isdisjoint(_URL_WORDS.split(host)):
            return False, "url:blocklist"
        return True


# ---------------------------------------------------------------------------------------- exact dedup key
def dedup_text(text: str) -> str:
    """The text with case, punctuation and spacing folded: copies that differ only there are equal."""
    return " ".join(WORD.findall(text.lower()))
