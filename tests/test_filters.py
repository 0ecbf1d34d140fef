"""Document filters on what a document is and where it comes from (data_prep.filters): each keeps a document
or rejects it with its exact reason, as datatrove's check_filter does; and the key exact dedup compares."""

from __future__ import annotations

import pytest
from datatrove.data import Document

from data_prep.filters import LanguageFilter, UnreadableFilter, UrlBlocklistFilter, dedup_text, url_host
from tests.test_langid import ENGLISH, KAZAKH, RUSSIAN
from tests.test_quality import GOOD_TEXT, GOOD_URL, check_filter, make_doc

# ------------------------------------------------------------------------------------------ unreadable


def test_a_quarantine_placeholder_is_rejected_with_the_readers_reason_and_any_other_document_kept():
    step = UnreadableFilter()
    check_filter(step, make_doc("", unreadable="bad_json", line=5), "unreadable:bad_json")
    check_filter(step, make_doc("", unreadable="binary (NUL bytes)"), "unreadable:binary (NUL bytes)")
    check_filter(step, make_doc(GOOD_TEXT, url=GOOD_URL), True)


# ------------------------------------------------------------------------------------------ language


def test_the_language_filter_judges_a_batch_as_it_judges_each_document():
    texts = [*KAZAKH, *RUSSIAN, *ENGLISH, ""]
    step = LanguageFilter(["kk"], min_score=0.5)
    batch = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    single = [Document(text=t, id=str(i)) for i, t in enumerate(texts)]
    assert step.filter_batch(batch) == [step.filter(d) for d in single]
    assert [d.metadata for d in batch] == [d.metadata for d in single]
    assert step.filter_batch(batch)[:5] == [True] * 5
    assert step.filter_batch(batch)[5] == (False, "language:ru")


# ------------------------------------------------------------------------------------------ URL filter


@pytest.mark.parametrize(
    "url, expected",
    [
        ("https://casino-example.kz/kk/bonus", "url:blocklist"),
        ("http://m.casino-example.kz/", "url:blocklist"),  # subdomain of a listed domain
        ("www.pornhub.com/video/1", "url:blocklist"),  # no scheme
        ("https://WWW.1XBET.KZ:443/", "url:blocklist"),  # case, port
        ("https://best-casino.kz/", "url:blocklist"),  # banned word in the host name
        ("https://example.kz/news/online-casino-ban", True),  # ... but a topic in the path is not
        ("https://notcasino-example.kz/", True),  # similar name, different domain
        (GOOD_URL, True),
        ("", True),
    ],
)
def test_url_blocklist(url, expected):
    check_filter(UrlBlocklistFilter(), make_doc(GOOD_TEXT, url=url), expected)


def test_url_blocklist_file_and_options(tmp_path):
    blocklist = tmp_path / "blocked.txt"
    blocklist.write_text(
        "# our additions\nspam.example.org\n*.ads-example.net  # ad network\n", encoding="utf-8"
    )
    step = UrlBlocklistFilter(blocklist_path=blocklist)
    check_filter(step, make_doc("x", url="https://a.spam.example.org/p"), "url:blocklist")
    check_filter(step, make_doc("x", url="https://cdn.ads-example.net"), "url:blocklist")
    check_filter(step, make_doc("x", url="https://notspam.example.org/p"), True)
    check_filter(step, make_doc("x", url="https://casino-example.kz"), "url:blocklist")  # defaults still on
    bare = UrlBlocklistFilter(use_default_blocklist=False, banned_url_words=None, url_key="source")
    check_filter(bare, make_doc("x", source="https://best-casino.kz/"), True)
    check_filter(bare, make_doc("x", url="https://casino-example.kz"), True)  # other key


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://WWW.Example.KZ:443/a?b=1", "www.example.kz"),
        ("example.kz/news", "example.kz"),
        ("//cdn.example.kz/x", "cdn.example.kz"),
        ("https://example.kz./", "example.kz"),
        ("http://[::1", ""),
        ("", ""),
    ],
)
def test_the_host_is_read_from_any_url_with_or_without_a_scheme(url, host):
    assert url_host(url) == host


# ---------------------------------------------------------------------------------------- exact dedup key


def test_exact_dedup_text_ignores_case_spacing_and_punctuation():
    assert dedup_text("Сәлем, Әлем!") == dedup_text("сәлем   әлем") == "сәлем әлем"
    assert dedup_text("Сәлем әлем") != dedup_text("Сәлем дала")
