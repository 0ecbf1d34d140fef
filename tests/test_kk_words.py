"""The Kazakh word and sentence tokeniser (data_prep.kk_words): what a word is, where a sentence ends, and
that datatrove steps take it in place of their own "kk" tokenizer (Stanza, which needs the network)."""

from __future__ import annotations

import pytest
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature
from datatrove.pipeline.filters import GopherQualityFilter
from datatrove.utils.word_tokenizers import WordTokenizer, load_tokenizer_assignments, load_word_tokenizer

from data_prep.kk_words import KazakhWordTokenizer, register_kazakh_tokenizer
from data_prep.quality import KAZAKH_STOP_WORDS
from tests.test_quality import GOOD_TEXT, SENTENCES, check_filter, make_doc


def test_word_tokenize_keeps_kazakh_words_numbers_and_abbreviations():
    tok = KazakhWordTokenizer()
    assert isinstance(tok, WordTokenizer)
    text = "Тату-тәтті өмір, т.б. 1991 ж. 3,5 млн. теңге; Wi-Fi-ға 2020-жылы 15% өсті... Ә.Бөкейханов"
    assert tok.word_tokenize(text) == [
        "Тату-тәтті",
        "өмір",
        ",",
        "т.б.",
        "1991",
        "ж.",
        "3,5",
        "млн.",
        "теңге",
        ";",
        "Wi-Fi-ға",
        "2020-жылы",
        "15%",
        "өсті",
        "...",
        "Ә.",
        "Бөкейханов",
    ]
    assert tok.word_tokenize("«Абай жолы» https://example.kz/a?b=1 сілтеме.") == [
        "«",
        "Абай",
        "жолы",
        "»",
        "https://example.kz/a?b=1",
        "сілтеме",
        ".",
    ]


def test_sentences_do_not_end_at_abbreviations_or_initials():
    tok = KazakhWordTokenizer()
    text = (
        "Ол 1991 ж. 16 желтоқсанда тәуелсіздік алды. Бізде кітап, дәптер т.б. Келесі сөйлем 3,5 млн. "
        "теңге тұрады! А. Құнанбайұлы «Қара сөздерін» жазды... Сен келесің бе?\nЖаңа жол"
    )
    assert tok.sent_tokenize(text) == [
        "Ол 1991 ж. 16 желтоқсанда тәуелсіздік алды.",
        "Бізде кітап, дәптер т.б.",
        "Келесі сөйлем 3,5 млн. теңге тұрады!",
        "А. Құнанбайұлы «Қара сөздерін» жазды...",
        "Сен келесің бе?",
        "Жаңа жол",
    ]
    spans = tok.span_tokenize(text)
    assert [text[a:b] for a, b in spans] == tok.sent_tokenize(text)


@pytest.fixture
def restore_tokenizer_registry():
    saved = dict(load_tokenizer_assignments())
    yield
    registry = load_tokenizer_assignments()
    registry.clear()
    registry.update(saved)
    load_word_tokenizer.cache_clear()


def test_registered_tokenizer_serves_datatrove_minhash(tmp_path, restore_tokenizer_registry):
    register_kazakh_tokenizer()
    assert isinstance(load_word_tokenizer("kk"), KazakhWordTokenizer)
    assert isinstance(load_word_tokenizer("kaz_Cyrl"), KazakhWordTokenizer)
    for language in ("kk", KazakhWordTokenizer()):  # a code after registration, or the instance itself
        step = MinhashDedupSignature(output_folder=str(tmp_path), language=language)
        assert step.get_shingles(SENTENCES[0]).shape == (len(SENTENCES[0].split()) - 4, 1)


def test_stock_datatrove_filter_accepts_our_tokenizer():
    step = GopherQualityFilter(
        language=KazakhWordTokenizer(), stop_words=list(KAZAKH_STOP_WORDS), max_avg_word_length=12
    )
    check_filter(step, make_doc(GOOD_TEXT), True)
