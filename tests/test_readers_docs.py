"""Readers of document-shaped sources (data_prep.readers_docs): WARC crawls, MediaWiki dumps, PDF and DOCX.
Each format builds its own small fixture here and is read by SourceReader, as in tests/test_readers.py;
then the damaged and empty cases, each of which must become one named reject, not a crash."""

from __future__ import annotations

import bz2
import io
from pathlib import Path

import pytest

from data_prep.readers_docs import REDIRECT_TEXT, wiki_to_text
from tests.test_readers import KK_1, KK_2, KK_3, kept, read_all, reasons

# ---------------------------------------------------------------------------------------------------
# Formats
# ---------------------------------------------------------------------------------------------------


def _warc_gz(path: Path, records: list[tuple[str, str, bytes, str]]) -> None:
    """(uri, content type, payload, status) HTTP responses, plus a request record that must be skipped."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for uri, content_type, payload, status in records:
            request = StatusAndHeaders(f"GET {uri} HTTP/1.1", [("Host", "example.kz")], is_http_request=True)
            writer.write_record(writer.create_warc_record(uri, "request", http_headers=request))
            headers = StatusAndHeaders(status, [("Content-Type", content_type)], protocol="HTTP/1.1")
            writer.write_record(
                writer.create_warc_record(uri, "response", payload=io.BytesIO(payload), http_headers=headers)
            )


def test_warc_html_response_becomes_main_text_with_record_ids(tmp_path):
    html = (
        f"<html><head><title>Жаңалықтар</title></head><body><nav><a href='/'>Басты бет</a></nav>"
        f"<article><h1>Алматы туралы</h1><p>{KK_1}</p><p>{KK_2}</p></article></body></html>"
    ).encode()
    path = tmp_path / "crawl.warc.gz"
    _warc_gz(
        path,
        [
            ("https://example.kz/almaty", "text/html; charset=utf-8", html, "200 OK"),
            ("https://example.kz/logo.png", "image/png", b"\x89PNG\r\n", "200 OK"),
            (
                "https://example.kz/empty",
                "text/html",
                b"<html><body><script>x=1</script></body></html>",
                "200 OK",
            ),
            ("https://example.kz/gone", "text/html", b"<html><body>Not found</body></html>", "404 Not Found"),
        ],
    )
    docs = read_all(tmp_path, path=path, format="warc", url="https://commoncrawl.example/")
    page = docs[0]
    assert KK_1 in page.text and KK_2 in page.text and "Басты бет" not in page.text
    assert page.text.count(KK_1) == 1  # trafilatura's short-page duplication is worked around
    assert page.metadata["url"] == "https://example.kz/almaty" and page.id.startswith("<urn:uuid:")
    assert page.metadata["warc_record_id"] == page.id and page.metadata["record"] == 1
    assert reasons(docs) == ["warc:not_html", "warc:no_text", "warc:http_status"]
    assert docs[2].metadata["url"] == "https://example.kz/empty" and docs[2].metadata["record"] == 3


WIKI_ARTICLE = (
    "{{Infobox қала|атауы=Алматы}}\n'''Алматы''' — [[Қазақстан]]ның ең үлкен [[қала]]сы."
    "<ref>Дерек 2020</ref>\n\n"
    "== Тарихы ==\nҚала [[Іле Алатауы|Іле Алатауының]] етегінде орналасқан.\n"
    "[[Сурет:Almaty.jpg|thumb|Алматы көрінісі]]\n[[Санат:Қалалар]]\n"
)


def _wiki_dump(pages: list[tuple[str, int, int, str, bool]]) -> bytes:
    """(title, ns, id, wikitext, is_redirect) pages in MediaWiki export XML."""
    from xml.sax.saxutils import escape

    body = "".join(
        f"<page><title>{escape(t)}</title><ns>{ns}</ns><id>{pid}</id>"
        + ('<redirect title="Алматы" />' if redirect else "")
        + f"<revision><id>{pid * 10}</id><timestamp>2024-01-02T03:04:05Z</timestamp>"
        f'<text bytes="{len(text)}" xml:space="preserve">{escape(text)}</text></revision></page>'
        for t, ns, pid, text, redirect in pages
    )
    return (
        '<mediawiki xmlns="http://www.mediawiki.org/xml/export-0.10/" xml:lang="kk">'
        "<siteinfo><sitename>Уикипедия</sitename><base>https://kk.wikipedia.org/wiki/Басты_бет</base></siteinfo>"
        f"{body}</mediawiki>"
    ).encode()


def test_wikipedia_dump_keeps_articles_and_counts_redirects_and_talk_pages(tmp_path):
    path = tmp_path / "kkwiki-pages-articles.xml.bz2"
    path.write_bytes(
        bz2.compress(
            _wiki_dump(
                [
                    ("Алматы", 0, 1, WIKI_ARTICLE, False),
                    ("Алма-Ата", 0, 2, "#АЙДАУ [[Алматы]]", True),
                    ("Талқылау:Алматы", 1, 3, "Бұл мақаланы толықтыру керек.", False),
                ]
            )
        )
    )
    docs = read_all(tmp_path, path=path, format="wikipedia", licence="CC-BY-SA-4.0")
    article = docs[0]
    assert article.text.startswith("Алматы — Қазақстанның ең үлкен қаласы.")
    assert "Іле Алатауының етегінде" in article.text and "Тарихы" in article.text
    for markup in ("{{", "[[", "Infobox", "Дерек", "Санат", "thumb", "'''"):
        assert markup not in article.text, markup
    assert {
        "wiki_title": "Алматы",
        "wiki_page_id": "1",
        "wiki_revision_id": "10",
        "wiki_ns": "0",
        "record": 1,
        "url": "https://kk.wikipedia.org/wiki/%D0%90%D0%BB%D0%BC%D0%B0%D1%82%D1%8B",
        "licence": "CC-BY-SA-4.0",
    }.items() <= article.metadata.items()
    assert reasons(docs) == ["wikipedia:redirect", "wikipedia:non_article_namespace"]
    assert docs[2].metadata["wiki_title"] == "Талқылау:Алматы" and docs[2].metadata["record"] == 3


def _dejavu_font() -> Path:
    import matplotlib

    for candidate in (
        Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
        Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf",
    ):
        if candidate.is_file():
            return candidate
    pytest.skip("no DejaVuSans.ttf for Cyrillic text in the PDF fixture")


def _pdf(path: Path, pages: list[list[str]]) -> None:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(TTFont("DejaVuSans", str(_dejavu_font())))
    pdf = canvas.Canvas(str(path))
    pdf.setTitle("Алматы туралы")
    for lines in pages:
        pdf.setFont("DejaVuSans", 11)
        for i, line in enumerate(lines):
            pdf.drawString(50, 780 - 16 * i, line)
        if not lines:
            pdf.rect(50, 50, 100, 100)  # a "scan": drawing without a text layer
        pdf.showPage()
    pdf.save()


def test_pdf_text_of_every_page_with_page_count(tmp_path):
    path = tmp_path / "report.pdf"
    _pdf(path, [[KK_1[:60], KK_1[60:]], [KK_3]])
    (doc,) = read_all(tmp_path, path=path, format="pdf", url="https://stat.example.kz/report.pdf")
    flat = " ".join(doc.text.split())
    assert "Қазақстанның ең үлкен қаласы" in flat and "Ұлттық кітапханада" in flat and "қолжазбалар" in flat
    assert doc.metadata["pdf_pages"] == 2 and doc.metadata["pdf_title"] == "Алматы туралы"
    assert doc.id == "report" and doc.metadata["url"] == "https://stat.example.kz/report.pdf"


def test_docx_paragraphs_and_tables_in_order(tmp_path):
    import docx

    path = tmp_path / "letter.docx"
    document = docx.Document()
    document.core_properties.title = "Хат"
    document.add_paragraph(KK_1)
    table = document.add_table(rows=2, cols=2)
    for (r, c), value in {(0, 0): "Қала", (0, 1): "Халқы", (1, 0): "Алматы", (1, 1): "2 миллион"}.items():
        table.cell(r, c).text = value
    document.add_paragraph(KK_3)
    document.save(str(path))
    (doc,) = read_all(tmp_path, path=path, format="docx")
    assert doc.text == f"{KK_1}\nҚала | Халқы\nАлматы | 2 миллион\n{KK_3}"
    assert doc.metadata["docx_title"] == "Хат" and doc.metadata["docx_tables"] == 1


# ---------------------------------------------------------------------------------------------------
# Damaged and empty documents
# ---------------------------------------------------------------------------------------------------


def test_truncated_bz2_wikipedia_dump_is_one_reject(tmp_path):
    whole = bz2.compress(_wiki_dump([("Алматы", 0, 1, WIKI_ARTICLE, False)]))
    path = tmp_path / "kkwiki.xml.bz2"
    path.write_bytes(whole[: len(whole) - 40])
    assert reasons(read_all(tmp_path, path=path, format="wikipedia")) == ["truncated_bz2"]


def test_truncated_warc_gz_keeps_whole_records(tmp_path):
    html = f"<html><body><article><p>{KK_1}</p><p>{KK_2}</p></article></body></html>".encode()
    whole = tmp_path / "whole.warc.gz"
    _warc_gz(whole, [(f"https://example.kz/{i}", "text/html", html, "200 OK") for i in range(20)])
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    docs = read_all(tmp_path, path=path, format="warc")
    assert 0 < len(kept(docs)) < 20 and reasons(docs) == ["truncated_gzip"]
    assert docs[-1].metadata["record"] == len(docs)


def test_corrupt_pdf_docx_and_textless_pdf_are_quarantined(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage without xref")
    _pdf(folder / "scan.pdf", [[]])
    pdf_docs = read_all(tmp_path, path=folder, format="pdf")
    assert reasons(pdf_docs) == ["pdf:unreadable", "pdf:no_text"]
    assert pdf_docs[0].metadata["path"].endswith("broken.pdf") and pdf_docs[0].metadata["error"]
    assert pdf_docs[1].metadata["pdf_pages"] == 1
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    assert reasons(read_all(tmp_path, path=tmp_path / "broken.docx", format="docx")) == ["docx:unreadable"]


# ---------------------------------------------------------------------------------------------------
# Wiki markup to text
# ---------------------------------------------------------------------------------------------------


def test_wiki_markup_keeps_running_text_and_link_text_only():
    markup = (
        "{{Infobox|a=1}}\n'''Абай''' [[Семей]]де туған.<ref>Дерек</ref>\n\n\n\n[[en:Abai]]\n"
        "[[Санат:Ақындар]]\n<gallery>Сурет.jpg</gallery>Соңы."
    )
    assert wiki_to_text(markup) == "Абай Семейде туған.\n\nСоңы."


@pytest.mark.parametrize(
    ("markup", "is_redirect"),
    [
        ("#REDIRECT [[Алматы]]", True),
        ("#АЙДАУ [[Алматы]]", True),
        ("#ПЕРЕНАПРАВЛЕНИЕ [[Алматы]]", True),
        ("  #redirect:[[Алматы]]", True),
        ("Алматы #1 [[Алматы]]", False),
        ("# [[Алматы]]", False),
    ],
)
def test_a_redirect_is_recognised_in_any_wiki_language(markup, is_redirect):
    assert bool(REDIRECT_TEXT.match(markup)) == is_redirect
