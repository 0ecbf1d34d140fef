"""Results an evaluator can defend: standard errors equal lm-evaluation-harness', paired tests equal
sacrebleu's, --predictions scores any system's QA and multiple-choice output, and `eval compare` warns
where runs are not comparable and tests significance on the same items."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from eval.metrics import mcnemar_exact, mean_stderr, paired_bootstrap_mean, paired_bootstrap_translation
from kazllm.errors import InputError

from .conftest import SAMPLE

QA_FILE = SAMPLE / "eval" / "qa" / "kk_extractive.jsonl"
MC_FILE = SAMPLE / "eval" / "qa" / "kk_mmlu.jsonl"


def _lines(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- standard errors and tests against the reference implementations -------------------------------------
def test_mean_stderr_equals_lm_eval():
    lm_metrics = pytest.importorskip("lm_eval.api.metrics")
    for values in ([1, 0, 0, 1, 1], [0.0, 0.5, 1 / 3, 1.0], [1.0] * 7, [0, 1]):
        assert mean_stderr(values) == lm_metrics.mean_stderr(values)
    assert mean_stderr([1.0]) is None  # lm-eval: N/A for one item


class _MeanMetric:
    """A per-item mean in the shape sacrebleu's paired bootstrap takes: stats [score, 1],
    score = sum/count."""

    def __init__(self, scores):
        self.scores = scores

    def _extract_corpus_statistics(self, hyps, refs):
        return [[self.scores[int(h)], 1.0] for h in hyps]

    def _compute_score_from_stats(self, stats):
        from sacrebleu.significance import Result

        return Result(float(stats[0] / stats[1]))

    def _aggregate_and_compute(self, stats):
        return self._compute_score_from_stats([sum(s[0] for s in stats), float(len(stats))])


def test_paired_bootstrap_of_means_equals_sacrebleus_paired_bs():
    """Our test for acc/EM/F1 is sacrebleu's own `_paired_bs_test` with the mean as the statistic."""
    from sacrebleu.significance import _paired_bs_test

    base = [1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 1, 0, 1, 0, 1] * 2
    system = [1, 1, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1] * 2
    f1_base = [0.5, 0.25, 1.0, 0.0, 0.75] * 8
    f1_sys = [0.5, 0.5, 1.0, 0.25, 0.75] * 8
    for bl, sy in ((base, system), (f1_base, f1_sys), (base, base[::-1])):
        hyps = [str(i) for i in range(len(bl))]
        bl_metric = _MeanMetric(bl)
        bl_stats = bl_metric._extract_corpus_statistics(hyps, None)
        baseline = {"mean": (bl_stats, bl_metric._aggregate_and_compute(bl_stats))}
        _, res = _paired_bs_test(
            baseline, "sys", hyps, None, {"mean": _MeanMetric(sy)}, n_samples=1000, seed=12345
        )
        ours = paired_bootstrap_mean(bl, sy, seed=12345)
        assert ours["p_value"] == res["mean"].p_value
        assert ours["mean"] == pytest.approx(res["mean"].mean, abs=1e-6)
        assert ours["ci95"] == pytest.approx(res["mean"].ci, abs=1e-6)
    assert paired_bootstrap_mean(base, base)["p_value"] == 1.0  # sacrebleu: 1/1001 for identical systems
    assert paired_bootstrap_mean(base, system)["p_value"] < 0.05


def test_mcnemar_equals_scipys_exact_binomial_test():
    stats = pytest.importorskip("scipy.stats")
    a = [1, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1]
    for b in (
        [0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 0],
        [1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1],
        [0, 0, 1, 0, 1, 1, 1, 0, 1, 1, 1, 0],
    ):
        n10 = sum(x and not y for x, y in zip(a, b))
        n01 = sum(y and not x for x, y in zip(a, b))
        assert mcnemar_exact(a, b) == pytest.approx(stats.binomtest(n10, n10 + n01, 0.5).pvalue, rel=1e-12)
    assert mcnemar_exact(a, a) == 1.0


def test_paired_translation_test_equals_sacrebleu_command_line(tmp_path):
    refs = (SAMPLE / "eval" / "translation" / "sample.en").read_text(encoding="utf-8").splitlines()
    base = [" ".join(r.split()[:-2]) for r in refs]  # drops two words everywhere
    system = [" ".join(r.split()[:-1]) if i % 2 else r for i, r in enumerate(refs)]
    for name, lines in (("ref", refs), ("base", base), ("sys", system)):
        (tmp_path / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "sacrebleu",
            str(tmp_path / "ref"),
            "-i",
            str(tmp_path / "base"),
            str(tmp_path / "sys"),
            "-m",
            "chrf",
            "bleu",
            "--chrf-word-order",
            "2",
            "-w",
            "4",
            "--paired-bs",
            "-f",
            "text",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # sacrebleu 2.6's JSON output of a paired test fails (float32); its table: "score (mean ± ci)" and
    # "(p = P)"
    p_values = [float(p) for p in re.findall(r"\(p = ([0-9.]+)\)", cli)]
    system_row = re.findall(r"([0-9.]+) \(([0-9.]+) ± ([0-9.]+)\)", cli.split(str(tmp_path / "sys"))[-1])
    ours = paired_bootstrap_translation(base, system, refs)
    assert len(p_values) == 2 and p_values[0] < 0.05
    for (metric, res), p, (_, mean, ci) in zip(ours.items(), p_values, system_row):
        assert round(res["p_value"], 4) == p, metric
        assert res["mean"] == pytest.approx(float(mean), abs=1e-4) and res["ci95"] == pytest.approx(
            float(ci), abs=1e-4
        )


# -- --predictions ---------------------------------------------------------------------------------------
def test_predictions_score_qa_and_multiple_choice_without_a_model(tmp_path):
    from eval.metrics import exact_match, token_f1
    from kazllm.cli import main

    qa = _lines(QA_FILE)
    answers = [r["answers"]["text"][0] if i % 3 else "білмеймін" for i, r in enumerate(qa)]
    (tmp_path / "qa.jsonl").write_text(
        "".join(
            json.dumps({"index": i, "prediction": a}, ensure_ascii=False) + "\n"
            for i, a in reversed(list(enumerate(answers)))
        ),
        encoding="utf-8",
    )
    main(
        [
            "eval",
            "--tasks",
            "sample_qa_kk",
            "--predictions",
            str(tmp_path / "qa.jsonl"),
            "--out",
            str(tmp_path / "qa"),
        ]
    )
    task = json.loads((tmp_path / "qa" / "results.json").read_text(encoding="utf-8"))["tasks"]["sample_qa_kk"]
    em = [exact_match(a, r["answers"]["text"]) for a, r in zip(answers, qa)]
    assert task["n"] == len(qa) and task["num_fewshot"] == 0  # every item scored, no examples
    assert task["metrics"]["exact_match"] == pytest.approx(100 * sum(em) / len(em)) and 0 < sum(em) < len(em)
    assert task["metrics"]["f1"] == pytest.approx(
        100 * sum(token_f1(a, r["answers"]["text"]) for a, r in zip(answers, qa)) / len(qa)
    )
    assert task["stderr"]["exact_match"] == pytest.approx(100 * mean_stderr(em))
    assert "predictions file sha256" in (tmp_path / "qa" / "report.md").read_text(encoding="utf-8")

    mc = _lines(MC_FILE)
    picks = [("ABCD".index(r["answer"]) + (i % 2)) % len(r["choices"]) for i, r in enumerate(mc)]
    (tmp_path / "mc.jsonl").write_text(
        "".join(json.dumps({"index": i, "choice": k}) + "\n" for i, k in enumerate(picks)), encoding="utf-8"
    )
    main(
        [
            "eval",
            "--tasks",
            "sample_kkmmlu",
            "--predictions",
            str(tmp_path / "mc.jsonl"),
            "--out",
            str(tmp_path / "mc"),
        ]
    )
    task = json.loads((tmp_path / "mc" / "results.json").read_text(encoding="utf-8"))["tasks"][
        "sample_kkmmlu"
    ]
    right = [float(k == "ABCD".index(r["answer"])) for k, r in zip(picks, mc)]
    assert task["metrics"] == {"acc": sum(right) / len(mc)} and task["stderr"]["acc"] == mean_stderr(right)
    assert task["confidence"]["acc"]["ci95"] == pytest.approx(1.96 * mean_stderr(right), rel=1e-3)


@pytest.mark.parametrize(
    "lines, message",
    [
        (
            ['{"index": 0, "choice": 1}', '{"index": 0, "choice": 2}'],
            r"mc.jsonl:2: index 0 again \(first on line 1\)",
        ),
        (
            ['{"index": 99, "choice": 1}'],
            r"mc.jsonl:1: index 99 is not an item of task 'sample_kkmmlu' \(indices 0\.\.\d+\)",
        ),
        (['{"index": 0, "choice": 7}'], r'mc.jsonl:1: "choice" must be an integer 0\.\.3 \(0-based\), got 7'),
        (['{"index": 0, "choice": 1}', "{oops"], r"mc.jsonl:2: not JSON"),
        (['{"choice": 1}'], r'mc.jsonl:1: needs an integer "index"'),
        (
            ['{"index": 0, "choice": 1}'],
            r"mc.jsonl: no prediction for index 1 and \d+ more of task 'sample_kkmmlu'",
        ),
    ],
)
def test_bad_predictions_are_one_line_errors_naming_file_and_line(tmp_path, lines, message):
    from eval.runner import evaluate

    (tmp_path / "mc.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message):
        evaluate(None, ["sample_kkmmlu"], tmp_path / "o", predictions=str(tmp_path / "mc.jsonl"))
    assert not (tmp_path / "o").exists()  # nothing written, no model loaded


def test_predictions_need_one_qa_or_choice_task(tmp_path):
    from eval.runner import evaluate

    (tmp_path / "p.jsonl").write_text('{"index": 0, "prediction": "x"}\n', encoding="utf-8")
    with pytest.raises(InputError, match="--predictions scores one qa_extractive or multiple_choice task"):
        evaluate(None, ["sample_mt_kk_en"], tmp_path / "o", predictions=str(tmp_path / "p.jsonl"))
    with pytest.raises(InputError, match='"prediction" must be the answer text'):
        (tmp_path / "p.jsonl").write_text('{"index": 0, "prediction": 3}\n', encoding="utf-8")
        evaluate(None, ["sample_qa_kk"], tmp_path / "o", predictions=str(tmp_path / "p.jsonl"))


# -- compare: n, intervals, warnings, significance ---------------------------------------------------------
def _mt_run(tmp_path, name, hyps, limit=0):
    from eval.runner import evaluate

    (tmp_path / f"{name}.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    return evaluate(
        None, ["sample_mt_kk_en"], tmp_path / name, hypotheses=str(tmp_path / f"{name}.txt"), limit=limit
    )


def _qa_run(tmp_path, name, answers):
    from eval.runner import evaluate

    (tmp_path / f"{name}.jsonl").write_text(
        "".join(
            json.dumps({"index": i, "prediction": a}, ensure_ascii=False) + "\n"
            for i, a in enumerate(answers)
        ),
        encoding="utf-8",
    )
    return evaluate(None, ["sample_qa_kk"], tmp_path / name, predictions=str(tmp_path / f"{name}.jsonl"))


def test_compare_shows_n_and_intervals_warns_and_tests_significance(tmp_path, capsys):
    from kazllm.cli import main

    refs = (SAMPLE / "eval" / "translation" / "sample.en").read_text(encoding="utf-8").splitlines()
    weak = [" ".join(r.split()[:-2]) for r in refs]
    strong = [" ".join(r.split()[:-1]) if i % 4 == 0 else r for i, r in enumerate(refs)]
    _mt_run(tmp_path, "weak", weak)
    _mt_run(tmp_path, "strong", strong)
    main(
        [
            "eval",
            "compare",
            str(tmp_path / "weak"),
            str(tmp_path / "strong"),
            "--out",
            str(tmp_path / "cmp"),
            "--significance",
        ]
    )
    summary = json.loads((tmp_path / "cmp" / "compare.json").read_text(encoding="utf-8"))
    row = next(r for r in summary["table"] if r["metric"] == "chrf++")
    assert row["n"] == {"weak": 60, "strong": 60} and all(0 < v < 20 for v in row["ci95"].values())
    assert summary["warnings"] == []
    tests = {r["metric"]: r for r in summary["significance"]}
    assert set(tests) == {"chrf++", "bleu"} and tests["chrf++"]["p_value"] < 0.05
    assert tests["chrf++"]["system_value"] > tests["chrf++"]["baseline_value"]
    md = (tmp_path / "cmp" / "compare.md").read_text(encoding="utf-8")
    assert "(n 60)" in md and "## Paired significance against weak" in md and " ± " in md

    # a run on fewer items, and one on other data: warnings, and no test on different items
    _mt_run(tmp_path, "partial", strong[:20], limit=20)
    other = json.loads((tmp_path / "strong" / "results.json").read_text(encoding="utf-8"))
    task = other["tasks"]["sample_mt_kk_en"]
    task["data"]["files_sha256"] = {k: "0" * 64 for k in task["data"]["files_sha256"]}
    task["num_fewshot"], task["prompts_sha256"] = 2, "f" * 64
    (tmp_path / "edited").mkdir()
    (tmp_path / "edited" / "results.json").write_text(json.dumps(other), encoding="utf-8")
    (tmp_path / "edited" / "samples.jsonl").write_text(
        (tmp_path / "strong" / "samples.jsonl").read_text(encoding="utf-8"), encoding="utf-8"
    )
    capsys.readouterr()
    main(
        [
            "eval",
            "compare",
            str(tmp_path / "weak"),
            str(tmp_path / "partial"),
            str(tmp_path / "edited"),
            "--out",
            str(tmp_path / "cmp2"),
            "--significance",
        ]
    )
    err = capsys.readouterr().err
    summary = json.loads((tmp_path / "cmp2" / "compare.json").read_text(encoding="utf-8"))
    assert {w["differs"] for w in summary["warnings"]} == {"n", "shots", "prompt", "data"}
    assert "the runs differ in n: weak 60, partial 20, edited 60" in err
    assert any("did not score the same items" in n and "partial" in n for n in summary["significance_notes"])
    assert {r["system"] for r in summary["significance"]} == {"edited"}


def test_significance_of_accuracy_uses_paired_bootstrap_and_mcnemar(tmp_path):
    from eval.report import compare_runs

    qa = _lines(QA_FILE)
    _qa_run(tmp_path, "a", ["білмеймін" if i % 2 else r["answers"]["text"][0] for i, r in enumerate(qa)])
    _qa_run(tmp_path, "b", [r["answers"]["text"][0] for r in qa])
    summary = compare_runs([tmp_path / "a", tmp_path / "b"], tmp_path / "cmp", significance=True)
    tests = {r["metric"]: r for r in summary["significance"]}
    a = [json.loads(s) for s in (tmp_path / "a" / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    b = [json.loads(s) for s in (tmp_path / "b" / "samples.jsonl").read_text(encoding="utf-8").splitlines()]
    em_a, em_b = [s["score"]["exact_match"] for s in a], [s["score"]["exact_match"] for s in b]
    assert tests["exact_match"]["mcnemar_p_value"] == mcnemar_exact(em_a, em_b)
    assert tests["exact_match"]["p_value"] == paired_bootstrap_mean(em_a, em_b)["p_value"]
    assert "mcnemar_p_value" not in tests["f1"] and tests["f1"]["n"] == len(qa)
    with pytest.raises(InputError, match="needs two runs"):
        compare_runs([tmp_path / "a"], tmp_path / "c2", significance=True)


def test_device_auto_on_cpu_loads_through_accelerate_and_scores_like_cpu(tmp_path):
    pytest.importorskip("accelerate")
    from eval.lm import CausalLM

    from .eval_models import bench_eval

    model = bench_eval().build_tiny_model(tmp_path / "m", vocab=1000)
    auto, cpu = CausalLM(str(model), device="auto"), CausalLM(str(model), device="cpu")
    assert auto.device_used.startswith("cpu (device_map=auto") and cpu.device_used == "cpu"
    assert str(auto.model.dtype) == "torch.float32"  # bf16 is the default only on GPU
    requests = [("Сұрақ: Астана қай жерде?\nЖауап:", " Есіл бойында"), ("Бір", " екі")]
    for (a, _), (c, _) in zip(auto.loglikelihood(requests), cpu.loglikelihood(requests)):
        assert a == pytest.approx(c, abs=1e-5)
    assert auto.generate_until(["Қазақстан"], ["\n"], 5) == cpu.generate_until(["Қазақстан"], ["\n"], 5)
