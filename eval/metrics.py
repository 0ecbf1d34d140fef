"""Metrics: chrF++ and BLEU through sacrebleu (with signatures), SQuAD-style EM/F1 with a
Kazakh-aware normaliser, and bits-per-byte.

Answer normalisation (docs/eval.md): the prep stage's `normalize_text` first (NFC, so ә typed as а +
combining mark is one letter; Latin look-alikes inside Cyrillic words made Cyrillic, so "Мәлiк" with a
Latin i equals "Мәлік"), then lower-case (str.lower covers Ә Ғ Қ Ң Ө Ұ Ү Һ І), every punctuation mark and
symbol replaced by a space (Kazakh «» and „“ quotes, dashes, hyphens), whitespace collapsed. Nothing else:
Kazakh has no articles to drop, and its suffixes carry case and meaning ("Астанада" = "in Astana"), so
stemming them away would call different answers equal.
"""

from __future__ import annotations

import math
import unicodedata
from collections import Counter

import sacrebleu

from data_prep.normalize import normalize_text  # stdlib only: no training dependency


def translation_scores(hypotheses: list[str], references: list[str]) -> tuple[dict, dict]:
    """chrF++ (chrF with word bigrams, word_order=2) and BLEU, with sacrebleu's signatures."""
    chrf = sacrebleu.metrics.CHRF(word_order=2)
    bleu = sacrebleu.metrics.BLEU()
    chrf_score = chrf.corpus_score(hypotheses, [references])
    bleu_score = bleu.corpus_score(hypotheses, [references])
    scores = {"chrf++": round(chrf_score.score, 4), "bleu": round(bleu_score.score, 4)}
    signatures = {"chrf++": str(chrf.get_signature()), "bleu": str(bleu.get_signature())}
    return scores, signatures


def normalize_answer(text: str) -> str:
    text = normalize_text(text)[0].lower()
    text = "".join(" " if unicodedata.category(ch)[0] in "PS" else ch for ch in text)
    return " ".join(text.split())


def exact_match(prediction: str, references: list[str]) -> float:
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(ref) for ref in references))


def token_f1(prediction: str, references: list[str]) -> float:
    def f1(pred: str, ref: str) -> float:
        p, r = normalize_answer(pred).split(), normalize_answer(ref).split()
        common = sum((Counter(p) & Counter(r)).values())
        if not p or not r:
            return float(p == r)
        if common == 0:
            return 0.0
        precision, recall = common / len(p), common / len(r)
        return 2 * precision * recall / (precision + recall)

    return max(f1(prediction, ref) for ref in references)


def bits_per_byte(total_nll_nats: float, total_bytes: int) -> float:
    """Tokenizer-independent: the same text costs the same bytes whatever the vocabulary."""
    return total_nll_nats / math.log(2) / max(total_bytes, 1)
