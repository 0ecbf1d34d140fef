"""Line transforms (data_prep.line_transforms): boilerplate lines and lines in a foreign language go, counted
in the document's metadata; the text around them stays as it was, and a document left empty is rejected by
the quality filters after them."""

from __future__ import annotations

from data_prep.line_transforms import BoilerplateLineRemover, ForeignLineRemover
from data_prep.quality import EmptyDocumentFilter, KazakhGopherQualityFilter
from tests.test_langid import ENGLISH, KAZAKH, RUSSIAN
from tests.test_quality import GOOD_TEXT, SENTENCES, check_filter, make_doc

# ------------------------------------------------------------------------------------- boilerplate lines


BOILERPLATE_TOP = [
    "Басты бет | Жаңалықтар | Саясат | Қоғам | Спорт",
    "Басты бет » Жаңалықтар » Қоғам",
    "12.09.2024, 14:35",
    "Бөлісу: Facebook Twitter Telegram WhatsApp",
]


BOILERPLATE_BOTTOM = [
    "Толығырақ »",
    "Оқи отырыңыз: Астанада жаңа саябақ ашылды",
    "Пікір қалдыру",
    "Пікірлер (0)",
    "-----------",
    "https://example.kz/kk/a https://example.kz/kk/b",
    "© 2024 Example.kz. Барлық құқықтар қорғалған.",
    "Сайт материалдарын пайдаланғанда сілтеме жасау міндетті.",
    "Біз cookie файлдарын пайдаланамыз. Келісемін",
    "Читайте также: В Астане открылся новый парк",
    "Все права защищены.",
    "Read more",
]


def test_boilerplate_lines_are_removed_and_counted():
    page = "\n".join(BOILERPLATE_TOP) + "\n" + GOOD_TEXT + "\n\n" + "\n".join(BOILERPLATE_BOTTOM)
    remover = BoilerplateLineRemover()
    (doc,) = remover.run([make_doc(page)])
    assert doc.text == GOOD_TEXT
    assert doc.metadata["boilerplate_lines_removed"] == len(BOILERPLATE_TOP) + len(BOILERPLATE_BOTTOM)
    assert remover.stats["lines_removed"].total == len(BOILERPLATE_TOP) + len(BOILERPLATE_BOTTOM)


def test_real_sentences_are_not_boilerplate():
    remover = BoilerplateLineRemover()
    for line in [
        "Бұл туралы толығырақ келесі нөмірде жазамыз.",
        "– Иә, – деді ол.",
        *SENTENCES,
        "Ол « Әміре » , « Анаға апарар жол » мен « Томирис » картиналарын көрді .",
    ]:
        assert not remover.is_boilerplate(line), line
    assert remover.clean(GOOD_TEXT) == (GOOD_TEXT, 0)


def test_document_emptied_by_boilerplate_removal_is_rejected():
    docs = [make_doc("\n".join(BOILERPLATE_BOTTOM)), make_doc(GOOD_TEXT)]
    cleaned = list(BoilerplateLineRemover().run(docs))
    check_filter(EmptyDocumentFilter(), cleaned[0], "quality:empty_after_boilerplate")
    check_filter(KazakhGopherQualityFilter(), cleaned[0], "quality:empty_after_boilerplate")
    check_filter(EmptyDocumentFilter(), cleaned[1], True)
    assert cleaned[1].metadata["boilerplate_lines_removed"] == 0


# ----------------------------------------------------------------------------------------- foreign lines


def test_foreign_lines_go_and_are_counted_kazakh_lines_stay():
    text = "\n".join([KAZAKH[0], RUSSIAN[0], KAZAKH[1], ENGLISH[0], "Қысқа жол."])
    cleaned, removed = ForeignLineRemover(["kk"]).clean(text)
    assert cleaned == "\n".join([KAZAKH[0], KAZAKH[1], "Қысқа жол."])
    assert removed == {"ru": 1, "en": 1}
    assert ForeignLineRemover(["kk"]).clean(KAZAKH[0]) == (KAZAKH[0], {})
