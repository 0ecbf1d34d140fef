"""Language ID: the trained n-gram model behind data_prep.langid, read as a specification.

    .venv/bin/python -m pytest -q tests/test_langid.py

Sentences here are written for these tests. The held-out check recomputes Kazakh F1 on the NTREX-128
lines the shipped model was not trained on, and is skipped where the shared data folder is absent.
"""

import numpy as np
import pytest

from data_prep import langid
from data_prep.langid import LANGUAGES, identify_language, identify_lines
from tests.conftest import SHARED_DATA

NTREX = SHARED_DATA / "ntrex128"

KAZAKH = [
    "Бүгін ауа райы жақсы, сондықтан біз балалармен бірге саябаққа барамыз.",
    "Менің атым Айгүл, мен Алматыда тұрамын және университетте оқимын.",
    "Кітапхана сенбі күні таңғы онда ашылады.",
    "Ауылдағы әжем бізге ыстық нан пісіріп берді.",
    "Қазақ тілі — мемлекеттік тіл.",
]
RUSSIAN = [
    "Сегодня хорошая погода, поэтому мы с детьми пойдём в парк.",
    "Библиотека открывается в субботу в десять часов утра.",
    "Бабушка в деревне испекла нам горячий хлеб.",
]
ENGLISH = [
    "The library opens on Saturday at ten in the morning.",
    "Grandmother baked us some warm bread in the village.",
]


@pytest.mark.parametrize(
    ("text", "label"),
    [*((t, "kk") for t in KAZAKH), *((t, "ru") for t in RUSSIAN), *((t, "en") for t in ENGLISH)],
)
def test_short_sentences_get_their_language(text, label):
    got, score = identify_language(text)
    assert got == label and 0.5 <= score <= 1.0


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("Мен бүгүн мектепке барам.", "ky"),
        ("Мин бүген мәктәпкә барам.", "tt"),
        ("Мен бүгін мектепке барамын.", "kk"),
    ],
)
def test_close_turkic_languages_are_not_taken_for_kazakh(text, label):
    assert identify_language(text)[0] == label


@pytest.mark.parametrize(
    "text",
    ["12345 !!!", "", "   \n\t", "2024-01-01 12:00 -- 3.14", "这是一个中文句子。", "مرحبا بكم في المدينة"],
)
def test_text_without_letters_of_a_known_script_is_other(text):
    label, score = identify_language(text)
    assert label == "other" and 0.0 <= score <= 1.0


def test_labels_are_the_documented_set():
    assert LANGUAGES == ("kk", "ky", "tt", "ba", "ru", "uk", "be", "tr", "uz", "en", "other")
    assert tuple(langid.get_model().labels) == LANGUAGES[:-1]


def test_identify_lines_separates_a_russian_paragraph_in_a_kazakh_document():
    doc = "\n".join([KAZAKH[0], KAZAKH[1], "", RUSSIAN[0] + " " + RUSSIAN[1], "   ", KAZAKH[2]])
    lines = identify_lines(doc)
    assert [line for line, _, _ in lines] == [KAZAKH[0], KAZAKH[1], RUSSIAN[0] + " " + RUSSIAN[1], KAZAKH[2]]
    assert [label for _, label, _ in lines] == ["kk", "kk", "ru", "kk"]
    assert all(0.5 <= score <= 1.0 for _, _, score in lines)
    # The document as a whole is still Kazakh.
    assert identify_language(doc)[0] == "kk"


def test_latin_look_alikes_inside_kazakh_words_do_not_change_the_answer():
    typed = KAZAKH[0].replace("і", "i")  # Latin i for Kazakh і, as often typed on the web
    assert typed != KAZAKH[0]
    assert identify_language(typed)[0] == "kk"


def test_long_documents_are_scored_on_a_bounded_sample():
    long_doc = "\n".join(KAZAKH * 2000)
    assert len(langid.sample_text(long_doc)) <= langid.MAX_CHARS + 2
    # The sample takes the start, middle and end: a Russian tail alone does not decide the label.
    assert identify_language(long_doc + "\n" + RUSSIAN[0])[0] == "kk"


def test_numpy_scoring_equals_the_sum_of_the_defined_ngram_features():
    model = langid.get_model()
    index = {g: i for i, g in enumerate(model.ngrams)}
    text = KAZAKH[1] + " З'явився ko'p oʻzbek İstanbul ÇOK ұзақ-ұзақ " + "ә" * 40 + " Бүгiн 中文"
    expected = np.zeros(len(model.labels))
    for word in langid.words(text):
        for g in langid.word_ngrams(word):
            if g in index:
                expected += model.weights[index[g]]
    model._cache.clear()
    got, known, letters = model.raw_scores(text)
    assert np.allclose(got, expected, atol=1e-3)
    assert letters == sum(min(len(w), langid._MAX_WORD) for w in langid.words(text))
    assert letters - known == 2  # the two Chinese characters
    assert np.allclose(model.raw_scores(text)[0], got)  # and again from the cache


def test_model_ships_with_the_project_small_and_loaded_once():
    assert langid.MODEL_PATH.is_file() and langid.MODEL_PATH.stat().st_size <= 3_000_000
    assert langid.get_model() is langid.get_model()


@pytest.mark.skipif(not NTREX.is_dir(), reason="NTREX-128 is not in the shared data folder")
def test_kazakh_f1_on_held_out_ntrex_sentences_is_at_least_0_99():
    files = {
        "kk": "ref.kaz",
        "ky": "ref.kir",
        "tt": "ref.tat",
        "ba": "ref.bak",
        "ru": "ref.rus",
        "uk": "ref.ukr",
        "be": "ref.bel",
        "tr": "ref.tur",
        "uz": "ref.uzb",
        "en": "src.eng",
    }
    first_held_out = langid.get_model().meta["train_lines"][1]  # lines from here on were never trained on
    gold, pred = [], []
    for label, name in files.items():
        lines = (NTREX / f"newstest2019-{name}.txt").read_text(encoding="utf-8").rstrip("\n").split("\n")
        assert len(lines) - first_held_out >= 300
        for line in lines[first_held_out:]:
            if line.strip():
                gold.append(label)
                pred.append(identify_language(line)[0])
    tp = sum(g == p == "kk" for g, p in zip(gold, pred))
    precision = tp / sum(p == "kk" for p in pred)
    recall = tp / sum(g == "kk" for g in gold)
    assert 2 * precision * recall / (precision + recall) >= 0.99


def test_a_batch_gets_exactly_the_answers_of_one_text_at_a_time():
    model = langid.LangIdModel.load(langid.MODEL_PATH)  # a cold cache, as a new worker has
    texts = [*KAZAKH, "", "   ", "12 345", "😀😀", *RUSSIAN, *ENGLISH, " ".join(KAZAKH * 3)]
    batched = model.predict_batch(texts)
    one_by_one = [langid.LangIdModel.load(langid.MODEL_PATH).predict(t) for t in texts]
    assert batched == one_by_one
    assert [label for label, _ in langid.identify_languages(KAZAKH + RUSSIAN)] == ["kk"] * 5 + ["ru"] * 3


def test_a_batch_larger_than_the_cache_is_scored_text_by_text():
    model = langid.LangIdModel.load(langid.MODEL_PATH)
    many = " ".join(
        f"сөз{i}" for i in range(langid._CACHE_SIZE // 4 + 10)
    )  # more new words than one lookup takes
    texts = [KAZAKH[0], many, RUSSIAN[0]]
    assert model.predict_batch(texts) == [
        langid.LangIdModel.load(langid.MODEL_PATH).predict(t) for t in texts
    ]
