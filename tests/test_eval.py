"""The eval suite: metrics, task files, and every task type run on tiny models through the runner and
the CLI."""

import json
import os
import subprocess
import sys

import pytest
import torch

from eval.metrics import bits_per_byte, exact_match, normalize_answer, token_f1, translation_scores
from eval.tasks import known_tasks, load_items, load_task, render
from kazllm.errors import ConfigError, InputError

from .conftest import REPO, SAMPLE
from .eval_models import bench_eval, build_tiny_model

SAMPLE_TASKS = [t for t in known_tasks() if t.startswith("sample_")]


# -- metrics ---------------------------------------------------------------------------------------------
def test_answer_normalisation_is_kazakh_aware():
    assert normalize_answer("  «Абай Құнанбайұлы»!  ") == "абай құнанбайұлы"
    assert normalize_answer("“ҚАЗАҚСТАН” — ӨҢІР") == "қазақстан өңір"  # Kazakh capitals lower-case too
    assert normalize_answer("Мәлiк бəрін") == normalize_answer("Мәлік бәрін")  # Latin look-alikes i, ə
    assert normalize_answer("Ои\u0306") == "ой"  # NFC: base letter + combining breve is one letter
    assert exact_match("АСТАНА.", ["Астана"]) == 1.0
    assert exact_match("Астанада", ["Астана"]) == 0.0  # suffixes are meaning, not noise: kept
    assert token_f1("Астана қаласы", ["Астана"]) == pytest.approx(2 / 3)
    assert token_f1("", ["Астана"]) == 0.0
    assert token_f1("Алматы", ["Астана", "Алматы қаласы"]) == pytest.approx(2 / 3)  # best reference counts


def test_bits_per_byte_converts_nats_per_byte():
    assert bits_per_byte(total_nll_nats=100 * 0.6931471805599453, total_bytes=100) == pytest.approx(1.0)


def _sacrebleu_cli(ref, hyp, *extra: str) -> dict:
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "sacrebleu",
            str(ref),
            "-i",
            str(hyp),
            "-m",
            "chrf",
            "bleu",
            "--chrf-word-order",
            "2",
            "-w",
            "4",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return {row["name"]: row for row in json.loads(cli.stdout)}


def test_translation_scores_and_intervals_equal_sacrebleu_command_line(tmp_path):
    """Scores and signatures equal `sacrebleu -m chrf bleu --chrf-word-order 2`; the intervals equal what
    the same command prints with --confidence (its bootstrap, 1000 resamples, seed 12345)."""
    hyps = [
        "Бүгін ауа райы жақсы.",
        "Мен кітап оқыдым.",
        "Қала үлкен емес.",
        "Ол мектепке барды.",
        "Біз үйге қайттық.",
        "Күн ашық болды.",
    ]
    refs = [
        "Бүгін ауа райы өте жақсы.",
        "Мен кітап оқып отырмын.",
        "Қала үлкен емес.",
        "Ол мектепке кетті.",
        "Біз үйге қайттық.",
        "Күн бүгін ашық болды.",
    ]
    (tmp_path / "hyp.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    (tmp_path / "ref.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
    scores, signatures, confidence = translation_scores(hyps, refs, n_bootstrap=1000)
    by_name = _sacrebleu_cli(tmp_path / "ref.txt", tmp_path / "hyp.txt")
    with_ci = _sacrebleu_cli(tmp_path / "ref.txt", tmp_path / "hyp.txt", "--confidence")
    for ours, theirs in (("chrf++", "chrF2++"), ("bleu", "BLEU")):
        assert scores[ours] == pytest.approx(by_name[theirs]["score"], abs=1e-4)
        assert signatures[ours] == by_name[theirs]["signature"]
        assert confidence[ours]["mean"] == pytest.approx(with_ci[theirs]["confidence_mean"], abs=1e-4)
        assert confidence[ours]["ci95"] == pytest.approx(with_ci[theirs]["confidence_var"], abs=1e-4)
        assert confidence[ours]["signature"] == with_ci[theirs]["signature"]
        assert 0 < confidence[ours]["ci95"] < 50


# -- task files ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", SAMPLE_TASKS)
def test_every_bundled_sample_task_loads_its_items(name):
    spec = load_task(name)
    shots, items = load_items(spec, seed=1)
    assert spec.name == name and spec.type and items and len(shots) == spec.num_fewshot


def test_unknown_task_and_unknown_key_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="unknown eval task 'nope'"):
        load_task("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("type: translation\nnum_fewshots: 2\n", encoding="utf-8")
    with pytest.raises(
        ConfigError, match=r"unknown config key 'num_fewshots' \(did you mean 'num_fewshot'\?\)"
    ):
        load_task(str(bad))
    assert not [t for t in known_tasks() if t.startswith("_")], "templates are not tasks"


def test_a_direction_is_a_template_include_plus_a_few_lines(tmp_path, monkeypatch):
    (tmp_path / "_common.yaml").write_text(
        'type: translation\nprompt: "{source_lang}: {source} =>"\n'
        'target: " {target}"\nnum_fewshot: 3\nstop: ["\\n"]\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("KAZLLM_TEST_SAMPLE", str(SAMPLE / "eval" / "translation"))
    (tmp_path / "kk_ru.yaml").write_text(
        "include: _common.yaml\nsource_lang: Kazakh\nnum_fewshot: 1\n"
        "data: {source: '${KAZLLM_TEST_SAMPLE}/sample.kk', target: '${KAZLLM_TEST_SAMPLE}/sample.ru'}\n",
        encoding="utf-8",
    )
    spec = load_task(str(tmp_path / "kk_ru.yaml"))
    assert spec.name == "kk_ru" and spec.type == "translation" and spec.prompt.endswith("=>")
    assert spec.num_fewshot == 1, "the including file wins over the template"
    assert spec.data_path("source") == SAMPLE / "eval" / "translation" / "sample.kk"
    (tmp_path / "loop.yaml").write_text("include: loop.yaml\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="include cycle"):
        load_task(str(tmp_path / "loop.yaml"))


def test_shared_data_tasks_fail_clearly_when_the_data_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("SHARED_DATA", str(tmp_path / "absent"))
    for name in ("ntrex_kk_en", "wmt19_kk_en", "tatoeba_kk_ru", "kazqad", "ppl_text_mix_kk"):
        with pytest.raises(InputError, match=r"file not found: .*absent.* \(SHARED_DATA=.*not bundled"):
            load_task(name)


def test_fewshot_examples_are_seeded_and_never_scored():
    spec = load_task("sample_mt_kk_en")
    shots, items = load_items(spec, seed=1)
    again, _ = load_items(spec, seed=1)
    other, _ = load_items(spec, seed=2)
    shot_ids = [s["index"] for s in shots]
    assert shot_ids == [s["index"] for s in again] and shot_ids != [s["index"] for s in other]
    assert not set(shot_ids) & {it["index"] for it in items} and len(items) + len(shots) == 60
    assert len(load_items(spec, seed=1, limit=5)[1]) == 5


def test_fewshot_from_separate_files_keeps_every_item(tmp_path):
    tr = SAMPLE / "eval" / "translation"
    (tmp_path / "t.yaml").write_text(
        f"type: translation\nprompt: '{{source}} ='\ntarget: ' {{target}}'\nnum_fewshot: 2\n"
        f"data: {{source: {tr}/sample.kk, target: {tr}/sample.en}}\n"
        f"fewshot_data: {{source: {tr}/sample.ru, target: {tr}/sample.en}}\n",
        encoding="utf-8",
    )
    shots, items = load_items(load_task(str(tmp_path / "t.yaml")), seed=3)
    ru = (tr / "sample.ru").read_text(encoding="utf-8").splitlines()
    assert len(items) == 60 and all(s["source"] in ru for s in shots)


def test_datasets_sources_save_to_disk_and_json_loader(tmp_path):
    """`dataset:` reads a save_to_disk directory (split + few-shot split) or a loader with data_files,
    with `columns` mapping the task's fields to the source's names, all offline."""
    import datasets

    rows = [
        json.loads(line) for line in (SAMPLE / "eval" / "qa" / "kk_extractive.jsonl").open(encoding="utf-8")
    ]
    datasets.DatasetDict(
        {"test": datasets.Dataset.from_list(rows[5:]), "dev": datasets.Dataset.from_list(rows[:5])}
    ).save_to_disk(str(tmp_path / "qa_ds"))
    (tmp_path / "qa.yaml").write_text(
        "type: qa_extractive\ndataset: {path: qa_ds, split: test}\nfewshot_split: dev\nnum_fewshot: 2\n"
        "prompt: '{context} {question}'\ntarget: ' {answer}'\n",
        encoding="utf-8",
    )
    shots, items = load_items(load_task(str(tmp_path / "qa.yaml")), seed=0)
    assert len(items) == len(rows) - 5 and items[0]["answers"] == rows[5]["answers"]["text"]
    assert {s["id"] for s in shots} <= {r["id"] for r in rows[:5]}

    with open(tmp_path / "pairs.jsonl", "w", encoding="utf-8") as f:
        for i in range(4):
            f.write(
                json.dumps({"translation": {"kk": f"сөйлем {i}", "en": f"sentence {i}"}}, ensure_ascii=False)
                + "\n"
            )
    (tmp_path / "mt.yaml").write_text(
        "type: translation\ndataset: {path: json, data_files: [pairs.jsonl], split: train}\n"
        "columns: {source: translation.kk, target: translation.en}\n"
        "prompt: '{source} ='\ntarget: ' {target}'\n",
        encoding="utf-8",
    )
    spec = load_task(str(tmp_path / "mt.yaml"))
    _, items = load_items(spec, seed=0)
    assert [(it["source"], it["target"]) for it in items][1] == ("сөйлем 1", "sentence 1")
    from eval.runner import data_identity

    assert list(data_identity(spec)["files_sha256"]) == [str(tmp_path / "pairs.jsonl")]


def test_mmlu_answers_may_be_letters_or_indices(tmp_path):
    (tmp_path / "mc.jsonl").write_text(
        '{"question": "q1", "choices": ["a", "b", "c"], "answer": "c"}\n'
        '{"question": "q2", "choices": ["a", "b"], "answer": 1}\n',
        encoding="utf-8",
    )
    (tmp_path / "mc.yaml").write_text(
        "type: multiple_choice\nformat: mmlu\ndata: {path: mc.jsonl}\nprompt: '{question}'\n",
        encoding="utf-8",
    )
    _, items = load_items(load_task(str(tmp_path / "mc.yaml")), seed=0)
    assert [it["gold"] for it in items] == [2, 1] and items[0]["answer_text"] == "c"
    assert items[0]["answer_letter"] == "C" and items[1]["answer_letter"] == "B"
    (tmp_path / "mc.yaml").write_text(
        "type: multiple_choice\nformat: mmlu\ndata: {path: mc.jsonl}\nchoices: numbers\n", encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="choices must be texts or letters"):
        load_task(str(tmp_path / "mc.yaml"))


def test_shipped_belebele_task_is_lm_eval_belebele_template():
    """sample_belebele_kk (and belebele_kaz_Cyrl) render lm-evaluation-harness' belebele prompt and
    score the letters; tests/test_eval_parity.py checks the numbers against lm-eval itself."""
    spec = load_task("sample_belebele_kk")
    _, items = load_items(spec, seed=0)
    it = items[0]
    assert spec.choices == "letters" and load_task("belebele_kaz_Cyrl").choices == "letters"
    assert render(spec.prompt, it, spec.path) == (
        f"P: {it['flores_passage']}\nQ: {it['question'].strip()}\nA: {it['mc_answer1']}\n"
        f"B: {it['mc_answer2']}\nC: {it['mc_answer3']}\nD: {it['mc_answer4']}\nAnswer:"
    )


# -- the runner on tiny models ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_tokenizer(tmp_path_factory):
    """A throwaway sentencepiece tokenizer on the bundled Kazakh text (no prep run: eval stands alone)."""
    return bench_eval().build_tiny_model(tmp_path_factory.mktemp("tiny_tokenizer"), vocab=1000)


@pytest.fixture(scope="module")
def tiny_model(tiny_tokenizer, tmp_path_factory):
    """A randomly initialised Llama with that tokenizer, saved as a Hugging Face directory."""
    return build_tiny_model(tiny_tokenizer, tmp_path_factory.mktemp("tiny_llama"))


@pytest.fixture(scope="module")
def llama_run(tiny_model, tmp_path_factory):
    from eval.runner import evaluate

    out = tmp_path_factory.mktemp("llama_run")
    return out, evaluate(str(tiny_model), SAMPLE_TASKS, out, limit=4, max_new_tokens=4, batch_size=3, seed=5)


def test_runner_runs_every_task_type_and_writes_reports(llama_run):
    out, results = llama_run
    assert {t["type"] for t in results["tasks"].values()} == {
        "perplexity",
        "translation",
        "qa_extractive",
        "multiple_choice",
    }
    ppl = results["tasks"]["sample_ppl_kk"]["metrics"]
    assert 0 < ppl["bits_per_byte"] < 20 and ppl["token_perplexity"] > 1
    mt = results["tasks"]["sample_mt_kk_en"]
    assert mt["signatures"]["chrf++"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:2")
    assert mt["num_fewshot"] == 2 and len(mt["fewshot_indices"]) == 2
    assert 0 <= results["tasks"]["sample_belebele_kk"]["metrics"]["acc"] <= 1
    assert (
        len(results["model_sha256"]) == 64
        and "model.safetensors" in results["model_identity"]["files_sha256"]
    )
    assert all(t["data"]["files_sha256"] for t in results["tasks"].values())
    assert results["seed"] == 5 and results["versions"]["torch"] and results["timings"]["load_model"] >= 0
    samples = [json.loads(line) for line in (out / "samples.jsonl").open(encoding="utf-8")]
    assert {s["task"] for s in samples} == set(SAMPLE_TASKS) and len(samples) == 4 * len(SAMPLE_TASKS)
    assert all("prompt" in s and "score" in s for s in samples)
    mt_samples = [s for s in samples if s["task"] == "sample_mt_kk_en"]
    assert all(
        s["index"] not in mt["fewshot_indices"] and "prediction" in s and s["reference"] for s in mt_samples
    )
    report = (out / "report.md").read_text(encoding="utf-8")
    assert "| sample_mt_kk_en | translation | 4 | 2 | chrf++ |" in report and "sacrebleu signatures" in report


def test_a_foreign_architecture_loads_and_scores(tiny_tokenizer, tmp_path):
    """Any causal LM transformers loads: here a GPT-2, not kazllm's Llama."""
    from eval.runner import evaluate

    model = build_tiny_model(tiny_tokenizer, tmp_path / "gpt2", arch="gpt2")
    results = evaluate(
        str(model), ["sample_ppl_kk", "sample_kkmmlu"], tmp_path / "out", limit=3, device="cpu", dtype="fp32"
    )
    assert results["config"]["device_used"] == "cpu"
    assert results["tasks"]["sample_ppl_kk"]["metrics"]["bits_per_byte"] > 0


def test_hypotheses_file_is_scored_like_sacrebleu_command_line(tmp_path):
    """--hypotheses: any system's output against a task's references; no model is loaded."""
    from kazllm.cli import main

    refs = (SAMPLE / "eval" / "translation" / "sample.en").read_text(encoding="utf-8").splitlines()
    hyps = [
        " ".join(r.split()[:-1]) if i % 3 else r for i, r in enumerate(refs)
    ]  # a plausible, imperfect system
    (tmp_path / "hyp.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    main(
        [
            "eval",
            "--tasks",
            "sample_mt_kk_en",
            "--hypotheses",
            str(tmp_path / "hyp.txt"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    task = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))["tasks"][
        "sample_mt_kk_en"
    ]
    by_name = _sacrebleu_cli(SAMPLE / "eval" / "translation" / "sample.en", tmp_path / "hyp.txt")
    assert task["n"] == 60 and task["num_fewshot"] == 0
    assert task["metrics"]["chrf++"] == pytest.approx(by_name["chrF2++"]["score"], abs=1e-4)
    assert task["metrics"]["bleu"] == pytest.approx(by_name["BLEU"]["score"], abs=1e-4)
    assert task["signatures"]["bleu"] == by_name["BLEU"]["signature"]
    (tmp_path / "short.txt").write_text("one line\n", encoding="utf-8")
    with pytest.raises(InputError, match="has 1 lines but task 'sample_mt_kk_en' has 60 references"):
        from eval.runner import evaluate

        evaluate(None, ["sample_mt_kk_en"], tmp_path / "o2", hypotheses=str(tmp_path / "short.txt"))


def test_compare_writes_a_table_and_charts_across_runs(llama_run, tmp_path):
    from kazllm.cli import main

    run_dir, results = llama_run
    second = tmp_path / "ckpt2"
    second.mkdir()
    changed = json.loads(json.dumps(results))
    changed["tasks"]["sample_ppl_kk"]["metrics"]["bits_per_byte"] = 1.25
    (second / "results.json").write_text(json.dumps(changed), encoding="utf-8")
    main(["eval", "compare", str(run_dir), str(second), "--out", str(tmp_path / "cmp")])
    table = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))["table"]
    row = next(r for r in table if r["task"] == "sample_ppl_kk" and r["metric"] == "bits_per_byte")
    assert row["values"]["ckpt2"] == 1.25 and row["lower_is_better"] and len(row["values"]) == 2
    md = (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8")
    assert "| sample_ppl_kk | bits_per_byte ↓ |" in md and "1.2500" in md
    for metric in ("chrf++", "bleu", "acc", "acc_norm", "exact_match", "f1", "bits_per_byte"):
        png = tmp_path / "cmp" / f"metric_{metric.replace('++', 'pp')}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png


POISON_TRAINING_DEPS = (
    "import sys\n"
    "for name in ('deepspeed', 'datatrove', 'wandb'):\n"
    "    sys.modules[name] = None  # any import of them now fails\n"
    "from kazllm.cli import main\n"
    "main(sys.argv[1:])\n"
    "assert not {'deepspeed', 'datatrove', 'wandb'} & {m for m, v in sys.modules.items() if v is not None}\n"
)


def test_cli_eval_runs_without_the_training_dependencies(tiny_model, tmp_path):
    out = tmp_path / "ev"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            POISON_TRAINING_DEPS,
            "eval",
            "--model",
            str(tiny_model),
            "--tasks",
            "sample_ppl_kk,sample_mt_en_kk,sample_qa_kk,sample_belebele_kk",
            "--limit",
            "2",
            "--max-new-tokens",
            "3",
            "--batch-size",
            "2",
            "--device",
            "cpu",
            "--dtype",
            "fp32",
            "--seed",
            "11",
            "--out",
            str(out),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "| sample_mt_en_kk | translation | 2 |" in result.stdout
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["seed"] == 11 and results["config"]["eval"]["batch_size"] == 2
    resolved = (out / "resolved_config.yaml").read_text(encoding="utf-8")
    assert "dtype: fp32" in resolved and "seed: 11" in resolved
    assert json.loads((out / "manifest.json").read_text(encoding="utf-8"))["outputs"][0] == "results.json"


def test_cli_eval_errors_name_the_problem(tmp_path, capsys):
    from kazllm.cli import main

    bad_data = tmp_path / "bad_data.yaml"  # data is read before the model loads, so its error comes first
    bad_data.write_text(
        "type: translation\ndataset: {path: json, data_files: [absent.jsonl], split: train}\n",
        encoding="utf-8",
    )
    for args, message in [
        (["--model", str(tmp_path), "--tasks", f"sample_ppl_kk,{bad_data}"], "cannot be loaded"),
        (["--model", str(tmp_path), "--tasks", "sample_ppl_kk"], "no config.json"),
        (
            ["--model", str(tmp_path), "--tasks", "sample_ppl_kk,ntrex_kk_xx"],
            "unknown eval task 'ntrex_kk_xx'",
        ),
        (["--tasks", "sample_ppl_kk", "--hypotheses", str(tmp_path / "h.txt")], "one translation task"),
        (["--tasks", "sample_mt_kk_ru", "--hypotheses", str(tmp_path / "h.txt")], "file not found"),
        (["--model", str(tmp_path), "--dtype", "fp32", "--device", "tpu"], "device must be auto, cpu, cuda"),
    ]:
        with pytest.raises(SystemExit) as exit_info:
            main(["eval", *args, "--out", str(tmp_path / "o")])
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith("kazllm: error:") and message in err, err


# -- the model wrapper (eval/lm.py) ----------------------------------------------------------------------
def test_batched_scoring_equals_one_at_a_time(tiny_model):
    """Padding must not leak into scores: batch sizes 1 and 4 give the same log-likelihoods."""
    from eval.lm import CausalLM

    requests = [
        ("Сұрақ: Астана қай елдің астанасы?\nЖауап:", " Қазақстан"),
        ("Мәтін: қысқа", " иә"),
        ("Ұзынырақ мәтін: " + "дала " * 20, " кең"),
        ("Бір", " екі үш"),
    ]
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


def test_an_empty_last_hypothesis_is_a_line_and_few_shot_files_are_not_needed_to_score_one(tmp_path):
    """A system that outputs nothing for the last sentence writes an empty last line: sacrebleu scores it, and
    so must --hypotheses. Scoring a file shows no examples, so a task's missing few-shot (dev) files do not
    matter; a model run that needs them names fewshot_data.source, the key that is wrong."""
    from eval.runner import evaluate
    from eval.tasks import read_lines

    for text, lines in (
        ("a\nb\n", ["a", "b"]),
        ("a\nb", ["a", "b"]),
        ("a\n\n", ["a", ""]),
        ("\n", [""]),
        ("", []),
    ):
        (tmp_path / "f.txt").write_text(text, encoding="utf-8")
        assert read_lines(tmp_path / "f.txt") == lines, text
    refs = (SAMPLE / "eval" / "translation" / "sample.en").read_text(encoding="utf-8").splitlines()
    (tmp_path / "hyp.txt").write_text("\n".join(refs[:-1]) + "\n\n", encoding="utf-8")  # the last one empty
    src, tgt = SAMPLE / "eval" / "translation" / "sample.kk", SAMPLE / "eval" / "translation" / "sample.en"
    task = tmp_path / "few.yaml"
    task.write_text(
        f"name: few\ntype: translation\nnum_fewshot: 2\nsource_lang: kk\ntarget_lang: en\n"
        f'prompt: "Kazakh: {{source}}\\nEnglish:"\ntarget: " {{target}}"\n'
        f"data: {{source: {src}, target: {tgt}}}\n"
        f"fewshot_data: {{source: {tmp_path / 'dev.kk'}, target: {tmp_path / 'dev.en'}}}\n",
        encoding="utf-8",
    )
    results = evaluate(None, [str(task)], tmp_path / "o", hypotheses=str(tmp_path / "hyp.txt"))
    scored = results["tasks"]["few"]
    assert scored["n"] == len(refs) and scored["num_fewshot"] == 0
    samples = [json.loads(line) for line in (tmp_path / "o" / "samples.jsonl").open(encoding="utf-8")]
    assert samples[-1]["prediction"] == "" and samples[-1]["reference"] == refs[-1]
    assert "hypotheses file sha256" in (tmp_path / "o" / "report.md").read_text(encoding="utf-8")
    from eval.tasks import load_items, load_task

    with pytest.raises(InputError, match=r"task 'few' fewshot_data.source file not found"):
        load_items(load_task(str(task)), seed=1)
