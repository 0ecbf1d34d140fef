"""The eval suite: metrics, task files, and every task type run on a small model through the runner."""

import json
import subprocess
import sys

import pytest
import torch

from eval.metrics import bits_per_byte, exact_match, normalize_answer, token_f1, translation_scores
from eval.tasks import load_task
from kazllm.errors import ConfigError

from .conftest import REPO

SAMPLE_TASKS = sorted(p.stem for p in (REPO / "eval" / "tasks").glob("sample_*.yaml"))


def test_answer_normalisation_is_kazakh_aware():
    assert normalize_answer("  «Абай Құнанбайұлы»!  ") == "абай құнанбайұлы"
    assert exact_match("АСТАНА.", ["Астана"]) == 1.0
    assert token_f1("Астана қаласы", ["Астана"]) == pytest.approx(2 / 3)
    assert token_f1("", ["Астана"]) == 0.0


def test_bits_per_byte_converts_nats_per_byte():
    assert bits_per_byte(total_nll_nats=100 * 0.6931471805599453, total_bytes=100) == pytest.approx(1.0)


def test_translation_scores_equal_sacrebleu_command_line(tmp_path):
    hyps = ["Бүгін ауа райы жақсы.", "Мен кітап оқыдым.", "Қала үлкен емес."]
    refs = ["Бүгін ауа райы өте жақсы.", "Мен кітап оқып отырмын.", "Қала үлкен емес."]
    (tmp_path / "hyp.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    (tmp_path / "ref.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
    scores, signatures = translation_scores(hyps, refs)
    cli = subprocess.run([sys.executable, "-m", "sacrebleu", str(tmp_path / "ref.txt"), "-i", str(tmp_path / "hyp.txt"),
                          "-m", "chrf", "bleu", "--chrf-word-order", "2", "-w", "4"],
                         capture_output=True, text=True, check=True)
    by_name = {row["name"]: row for row in json.loads(cli.stdout)}
    assert scores["chrf++"] == pytest.approx(by_name["chrF2++"]["score"], abs=1e-4)
    assert scores["bleu"] == pytest.approx(by_name["BLEU"]["score"], abs=1e-4)
    assert signatures["chrf++"] == by_name["chrF2++"]["signature"]
    assert signatures["bleu"] == by_name["BLEU"]["signature"]


@pytest.mark.parametrize("name", SAMPLE_TASKS)
def test_every_bundled_task_file_loads(name):
    spec = load_task(name)
    assert spec.name == name and spec.type


def test_unknown_task_and_unknown_key_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown eval task 'nope'"):
        load_task("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("type: translation\nnum_fewshots: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown config key 'num_fewshots' \(did you mean 'num_fewshot'\?\)"):
        load_task(str(bad))


@pytest.fixture(scope="module")
def tiny_model(sample_run, tmp_path_factory):
    """A randomly initialised Llama with the sample tokenizer, saved as a Hugging Face directory."""
    from transformers import AutoTokenizer, LlamaForCausalLM

    from kazllm.model import build_llama_config

    out = tmp_path_factory.mktemp("tiny_model")
    tok = AutoTokenizer.from_pretrained(str(sample_run.stage_dir("tokenizer") / "hf"))
    torch.manual_seed(0)
    model = LlamaForCausalLM(build_llama_config(sample_run.model, len(tok), 1, 2, 3))
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    return out


def test_runner_runs_every_task_type_and_writes_reports(tiny_model, tmp_path):
    from eval.runner import evaluate

    results = evaluate(str(tiny_model), SAMPLE_TASKS, tmp_path, limit=4, max_new_tokens=4, batch_size=3)
    types = {t["type"] for t in results["tasks"].values()}
    assert types == {"perplexity", "translation", "qa_extractive", "multiple_choice"}
    ppl = results["tasks"]["sample_ppl_kk"]["metrics"]
    assert 0 < ppl["bits_per_byte"] < 20 and ppl["token_perplexity"] > 1
    assert "signatures" in results["tasks"]["sample_mt_kk_en"]["metrics"]
    assert 0 <= results["tasks"]["sample_belebele_kk"]["metrics"]["acc"] <= 1
    assert results["model_sha256"] and all(t["data_sha256"] for t in results["tasks"].values())
    samples = [json.loads(line) for line in (tmp_path / "samples.jsonl").open(encoding="utf-8")]
    assert {s["task"] for s in samples} == set(SAMPLE_TASKS)
    assert all("prompt" in s for s in samples)
    assert "| sample_mt_kk_en | translation | 4 | chrf++ |" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_batched_scoring_equals_one_at_a_time(tiny_model):
    """Padding must not leak into scores: batch sizes 1 and 4 give the same log-likelihoods."""
    from eval.lm import CausalLM

    requests = [("Сұрақ: Астана қай елдің астанасы?\nЖауап:", " Қазақстан"), ("Мәтін: қысқа", " иә"),
                ("Ұзынырақ мәтін: " + "дала " * 20, " кең"), ("Бір", " екі үш")]
    one = CausalLM(str(tiny_model), batch_size=1).loglikelihood(requests)
    many = CausalLM(str(tiny_model), batch_size=4).loglikelihood(requests)
    for (a, _), (b, _) in zip(one, many):
        assert a == pytest.approx(b, abs=1e-4)


def test_windowed_nll_equals_full_context_when_the_text_fits(tiny_model):
    from eval.lm import CausalLM

    lm = CausalLM(str(tiny_model))
    text = "Қазақ тілі — түркі тілдерінің бірі. " * 3
    full, n = lm.text_nll(text, window=1024)
    ids = torch.tensor([[lm.prefix_id] + lm.encode(text)])
    with torch.no_grad():
        logprobs = torch.log_softmax(lm.model(ids).logits[0].float(), -1)
    expected = -logprobs[:-1].gather(1, ids[0, 1:, None]).sum().item()
    assert n == ids.shape[1] - 1 and full == pytest.approx(expected, rel=1e-5)
    windowed, n_windowed = lm.text_nll(text, window=16)  # many windows: every token still scored once
    assert n_windowed == n and windowed > 0
