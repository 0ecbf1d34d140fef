"""Decontamination (data_prep.decontam): what an evaluation set's items are, how their word n-grams are
compared, and which documents DecontaminationFilter rejects with which reason. Items retyped with look-alike
letters are tests/test_decontam_lookalikes.py."""

from __future__ import annotations

import json

import pytest
from datatrove.data import Document

from data_prep.decontam import DecontaminationFilter, read_eval_texts, word_ngrams
from kazllm.config import EvalSetSource
from kazllm.errors import InputError

ITEM = "Домбыра қазақтың екі ішекті халық музыкалық аспабы болып саналады"
OTHER = "Кеше кешке біз достарымызбен бірге қалалық саябақта серуендеп көп әңгіме айттық"


def test_a_text_eval_set_is_one_item_per_non_blank_line(tmp_path):
    path = tmp_path / "mt.kk"
    path.write_text(f"{ITEM}\n\n  \n{OTHER}\n", encoding="utf-8")
    assert read_eval_texts(path) == [ITEM, OTHER]


def test_a_jsonl_eval_set_gives_every_string_field_however_deep(tmp_path):
    path = tmp_path / "qa.jsonl"
    record = {"id": 7, "question": ITEM, "choices": [OTHER, {"text": "Иә"}], "answer": 0}
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    assert read_eval_texts(path) == [ITEM, OTHER, "Иә"]


def test_word_ngrams_are_lower_case_with_lookalikes_folded():
    assert word_ngrams("Екі ішекті АСПАП", 2) == word_ngrams("екі iшекті аспап", 2)  # Latin i for і
    assert len(word_ngrams(ITEM, 8)) == len(ITEM.split()) - 7
    assert word_ngrams("тым қысқа", 8) == set()


def _filter(tmp_path, name: str = "", ngram: int = 8) -> DecontaminationFilter:
    path = tmp_path / "sample_mt.kk"
    path.write_text(ITEM + "\n", encoding="utf-8")
    return DecontaminationFilter([EvalSetSource(name=name, path=str(path))], ngram)


def test_a_document_quoting_an_eval_item_is_rejected_with_the_sets_name_and_the_match(tmp_path):
    doc = Document(
        text=f"{OTHER}. Білесіз бе, домбыра қазақтың екі ішекті халық музыкалық аспабы болып саналады.",
        id="0",
    )
    assert _filter(tmp_path, name="flores").filter(doc) == (False, "decontam:flores")
    assert doc.metadata["decontam_match"] == "домбыра қазақтың екі ішекті халық музыкалық аспабы болып"


def test_the_set_is_named_after_its_file_by_default(tmp_path):
    assert _filter(tmp_path).filter(Document(text=ITEM, id="0")) == (False, "decontam:sample_mt")


def test_a_document_sharing_fewer_words_in_a_row_than_the_ngram_is_kept(tmp_path):
    seven = " ".join(ITEM.split()[:7])
    assert _filter(tmp_path).filter(Document(text=f"{seven}. {OTHER}", id="0")) is True


def test_a_missing_eval_set_is_an_error_before_any_document_is_read(tmp_path):
    with pytest.raises(InputError, match="eval_sets: file not found"):
        DecontaminationFilter([EvalSetSource(name="x", path=str(tmp_path / "missing.kk"))], 8)
