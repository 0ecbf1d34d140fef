"""Metrics: chrF++ and BLEU through sacrebleu (with signatures and its bootstrap confidence intervals),
SQuAD-style EM/F1 with a Kazakh-aware normaliser, bits-per-byte, and the uncertainty of each: the
standard error of a mean as lm-evaluation-harness reports it, paired significance tests between two systems
on the same items (sacrebleu's paired bootstrap, the same resampling for per-item means, exact McNemar).

Answer normalisation (docs/eval.md): the prep stage's `normalize_text` first (NFC, so ә typed as а +
combining mark is one letter; Latin look-alikes inside Cyrillic words made Cyrillic, so "Мәлiк" with a
Latin i equals "Мәлік"), then lower-case (str.lower covers Ә Ғ Қ Ң Ө Ұ Ү Һ І), every punctuation mark and
symbol replaced by a space (Kazakh «» and „“ quotes, dashes, hyphens), whitespace collapsed. Nothing else:
Kazakh has no articles to drop, and its suffixes carry case and meaning ("Астанада" = "in Astana"), so
stemming them away would call different answers equal.
"""

from __future__ import annotations

import math
import os
import unicodedata
from collections import Counter

import numpy as np
import sacrebleu
import sacrebleu.significance

from data_prep.normalize import normalize_text  # stdlib only: no training dependency

# sacrebleu's defaults: 1000 bootstrap resamples, seed 12345 unless SACREBLEU_SEED is set (read by sacrebleu).
N_BOOTSTRAP = 1000
# A 95% interval from a standard error: mean ± 1.96 stderr (the normal approximation).
Z95 = 1.959963984540054


def translation_metrics() -> dict:
    """The corpus metrics of every translation task, by the name results.json uses."""
    return {"chrf++": sacrebleu.metrics.CHRF(word_order=2), "bleu": sacrebleu.metrics.BLEU()}


def translation_scores(
    hypotheses: list[str], references: list[str], n_bootstrap: int = 0
) -> tuple[dict, dict, dict]:
    """chrF++ (chrF with word bigrams, word_order=2) and BLEU with sacrebleu's signatures, and with
    `n_bootstrap` > 1 sacrebleu's own bootstrap confidence interval of each (what `sacrebleu --confidence`
    prints as "μ = mean ± ci": `mean` of the resampled scores and `ci95`, half the width of their central
    95%), with the signature that names the resampling (bs:N|rs:SEED)."""
    scores, signatures, confidence = {}, {}, {}
    for name, metric in translation_metrics().items():
        scores[name] = round(metric.corpus_score(hypotheses, [references]).score, 4)
        signatures[name] = str(metric.get_signature())
        if n_bootstrap > 1 and hypotheses:
            resampled = translation_metrics()[
                name
            ]  # its own signature: the plain one stays sacrebleu's default
            mean, ci = _bootstrap(resampled, hypotheses, references, n_bootstrap)
            confidence[name] = {
                "ci95": round(ci, 4),
                "mean": round(mean, 4),
                "method": "bootstrap",
                "n_bootstrap": n_bootstrap,
                "seed": resampled.seed,
                "signature": str(resampled.get_signature()),
            }
    return scores, signatures, confidence


def _bootstrap(metric, hypotheses: list[str], references: list[str], n_bootstrap: int) -> tuple[float, float]:
    """sacrebleu's corpus_score(..., n_bootstrap): the mean and 95% half-width of the resampled scores.
    sacrebleu 2.6 fails (statistics.mean of float and float32) when some resampled BLEU is exactly 0 and
    others are not; then the same resamples (same seed, same indices) are averaged with numpy instead."""
    try:
        s = metric.corpus_score(hypotheses, [references], n_bootstrap=n_bootstrap)
        return float(s._mean), float(s._ci)
    except TypeError:
        from sacrebleu.significance import _bootstrap_resample

        stats = metric._extract_corpus_statistics(hypotheses, [references])
        metric.n_bootstrap = n_bootstrap
        metric.seed, scores = _bootstrap_resample(stats, metric, n_bootstrap)
        mean, ci = sacrebleu.significance.estimate_ci(np.array([float(x.score) for x in scores]))
        return float(mean), float(ci)


def mean_stderr(values: list[float]) -> float | None:
    """The standard error of a mean as lm-evaluation-harness reports it (lm_eval.api.metrics.mean_stderr:
    the sample standard deviation, n - 1, over sqrt(n)); None for fewer than two items (lm-eval: N/A)."""
    n = len(values)
    if n < 2:
        return None
    mu = sum(values) / n
    return math.sqrt(sum((x - mu) ** 2 for x in values) / (n - 1)) / math.sqrt(n)


def bootstrap_seed() -> int | None:
    """sacrebleu's resampling seed: SACREBLEU_SEED, default 12345 ("none": unseeded)."""
    seed = os.environ.get("SACREBLEU_SEED", "12345")
    return None if seed.lower() == "none" else int(seed)


def _p_value(baseline, system, real_difference: float) -> float:
    """sacrebleu.significance's paired bootstrap p-value: the resampled absolute differences, centred on
    their mean, that exceed the real one (+1 over n + 1)."""
    sample_diffs = np.abs(system - baseline)
    return (int(np.sum(sample_diffs - sample_diffs.mean() > real_difference)) + 1) / (len(sample_diffs) + 1)


def paired_bootstrap_mean(
    baseline: list[float], system: list[float], n_samples: int = N_BOOTSTRAP, seed: int | None = None
) -> dict:
    """Paired bootstrap test of two per-item scores on the same items (acc, EM, F1): sacrebleu's
    `--paired-bs` (sacrebleu.significance._paired_bs_test) with the mean as the corpus statistic, the same
    resampled indices for a given seed, the same p-value, except that two identical score lists get p = 1
    (sacrebleu counts no resample above a zero difference and reports 1/(n+1)). Returns the system's mean
    and 95% interval too."""
    if len(baseline) != len(system) or not baseline:
        raise ValueError("a paired test needs the same, non-empty set of items")
    rng = np.random.default_rng(bootstrap_seed() if seed is None else seed)
    idxs = rng.choice(len(system), size=(n_samples, len(system)), replace=True)
    bl, sy = np.asarray(baseline, dtype="float32"), np.asarray(system, dtype="float32")
    scores_bl, scores_sys = bl[idxs].mean(axis=1), sy[idxs].mean(axis=1)
    same = bool(np.array_equal(bl, sy))
    p = 1.0 if same else _p_value(scores_bl, scores_sys, abs(float(bl.mean()) - float(sy.mean())))
    mean, ci = sacrebleu.significance.estimate_ci(scores_sys)
    return {"p_value": p, "mean": float(mean), "ci95": float(ci), "n_samples": n_samples}


def paired_bootstrap_translation(
    baseline: list[str], system: list[str], references: list[str], n_samples: int = N_BOOTSTRAP
) -> dict:
    """sacrebleu's own paired bootstrap (sacrebleu.significance.PairedTest, test_type bs) of chrF++ and BLEU:
    what `sacrebleu REF -i BASELINE SYSTEM -m chrf bleu --chrf-word-order 2 --paired-bs` prints."""
    from sacrebleu.significance import PairedTest

    metrics = translation_metrics()
    test = PairedTest(
        [("baseline", baseline), ("system", system)],
        metrics,
        [references],
        test_type="bs",
        n_samples=n_samples,
    )
    signatures, scores = test()
    out = {}
    same = list(baseline) == list(system)  # sacrebleu would report p = 1/(n+1) for identical outputs
    # sacrebleu keys its columns by its own names (chrF2++, BLEU), in the order of `metrics`
    for name, key in zip(metrics, [k for k in scores if k != "System"]):
        bl, sy = scores[key]
        out[name] = {
            "p_value": 1.0 if same else float(sy.p_value),
            "mean": float(sy.mean),
            "ci95": float(sy.ci),
            "baseline_mean": float(bl.mean),
            "baseline_ci95": float(bl.ci),
            "n_samples": n_samples,
            "signature": str(signatures[key]),
        }
    return out


def mcnemar_exact(baseline: list[float], system: list[float]) -> float:
    """Two-sided exact McNemar test of two 0/1 per-item scores on the same items: of the items where exactly
    one system is right (b for the baseline, c for the system), is the split b:c likely under a fair coin?
    p = min(1, 2 P(Binomial(b + c, 1/2) <= min(b, c))); 1 when they never disagree."""
    b = sum(1 for x, y in zip(baseline, system) if x and not y)
    c = sum(1 for x, y in zip(baseline, system) if y and not x)
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


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
