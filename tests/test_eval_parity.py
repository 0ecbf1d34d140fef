"""eval.lm.CausalLM scores multiple choice exactly as lm-evaluation-harness does.

Both run the same tiny random Llama (saved as safetensors, seeded) on the bundled multiple-choice fixtures:
lm-evaluation-harness through its own entry point (`lm_eval.simple_evaluate`, model "hf", a task YAML in its
include_path), ours through `CausalLM.loglikelihood` on the same prompts. Every per-choice log-likelihood
agrees within 1e-4, every item's chosen answer (acc and acc_norm) is identical, and so are the accuracies.

BOS: the kazllm tokenizer adds no BOS by itself, while CausalLM puts BOS before every context (the model saw
documents starting after a special token in training); lm-eval is run with add_bos_token=True so that its
inputs are the same [BOS] + prompt tokens.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is a dev dependency (pip install -e .[dev])")

REPO = Path(__file__).resolve().parents[1]
QA = REPO / "data" / "sample" / "eval" / "qa"

# lm-evaluation-harness's belebele template (lm_eval/tasks/belebele/_default_template_yaml), letters as
# choices; and the KazMMLU-style task with the answer texts as choices.
TASKS = {
    "kazllm_parity_belebele": {
        "file": "kk_belebele.jsonl",
        "doc_to_text": "P: {{flores_passage}}\nQ: {{question.strip()}}\nA: {{mc_answer1}}\nB: {{mc_answer2}}\n"
                       "C: {{mc_answer3}}\nD: {{mc_answer4}}\nAnswer:",
        "doc_to_choice": ["A", "B", "C", "D"],
        "doc_to_target": "{{['1', '2', '3', '4'].index(correct_answer_num)}}",
    },
    "kazllm_parity_kkmmlu": {
        "file": "kk_mmlu.jsonl",
        "doc_to_text": "Сұрақ: {{question}}\nЖауап:",
        "doc_to_choice": "{{choices}}",
        "doc_to_target": "{{['A', 'B', 'C', 'D'].index(answer)}}",
    },
}


def our_items(task: str) -> list[dict]:
    """The same prompts, choices and gold answers, written in Python."""
    items = []
    for line in (QA / TASKS[task]["file"]).read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        if task == "kazllm_parity_belebele":
            prompt = (f"P: {r['flores_passage']}\nQ: {r['question'].strip()}\nA: {r['mc_answer1']}\n"
                      f"B: {r['mc_answer2']}\nC: {r['mc_answer3']}\nD: {r['mc_answer4']}\nAnswer:")
            items.append({"prompt": prompt, "choices": list("ABCD"), "gold": int(r["correct_answer_num"]) - 1})
        else:
            items.append({"prompt": f"Сұрақ: {r['question']}\nЖауап:", "choices": r["choices"],
                          "gold": "ABCD".index(r["answer"])})
    return items


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda j: values[j])  # first of equals, like numpy.argmax


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    spec = importlib.util.spec_from_file_location("bench_eval", REPO / "scripts" / "bench_eval.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench.build_tiny_model(tmp_path_factory.mktemp("tiny_llama"), hidden=64, layers=2, vocab=1000)


@pytest.fixture(scope="module")
def harness(tiny_model, tmp_path_factory) -> dict:
    """lm-evaluation-harness's results and logged samples for both tasks."""
    import yaml
    from lm_eval.tasks import TaskManager

    task_dir = tmp_path_factory.mktemp("lm_eval_tasks")
    for name, t in TASKS.items():
        config = {"task": name, "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": str(QA / t["file"])}},
                  "test_split": "test", "output_type": "multiple_choice", "target_delimiter": " ",
                  **{k: t[k] for k in ("doc_to_text", "doc_to_choice", "doc_to_target")},
                  "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                                  {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True}]}
        (task_dir / f"{name}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return lm_eval.simple_evaluate(
        model="hf", model_args={"pretrained": str(tiny_model), "dtype": "float32", "add_bos_token": True},
        tasks=list(TASKS), task_manager=TaskManager(include_path=str(task_dir), include_defaults=False), batch_size=4, device="cpu",
        log_samples=True, bootstrap_iters=0,
    )


@pytest.fixture(scope="module")
def ours(tiny_model):
    from eval.lm import CausalLM

    return CausalLM(str(tiny_model), device="cpu", dtype="float32", batch_size=4)


@pytest.mark.parametrize("task", list(TASKS))
def test_choices_loglikelihoods_and_accuracy_equal_lm_eval(task, harness, ours):
    items = our_items(task)
    samples = sorted(harness["samples"][task], key=lambda s: s["doc_id"])
    assert len(samples) == len(items)
    scores = ours.loglikelihood([(it["prompt"], " " + c) for it in items for c in it["choices"]])
    acc = acc_norm = k = 0
    for it, sample in zip(items, samples):
        n = len(it["choices"])
        lls, k = [s for s, _ in scores[k : k + n]], k + n
        theirs = [float(r[0][0]) for r in sample["resps"]]
        # same prompts and continuations, then the same numbers
        assert [tuple(a) for a in sample["arguments"]] == [(it["prompt"], " " + c) for c in it["choices"]]
        assert lls == pytest.approx(theirs, abs=1e-4)
        pred = argmax(lls)
        pred_norm = argmax([ll / len(c) for ll, c in zip(lls, it["choices"])])  # lm-eval: characters
        assert float(pred == it["gold"]) == sample["acc"]
        assert float(pred_norm == it["gold"]) == sample["acc_norm"]
        acc, acc_norm = acc + (pred == it["gold"]), acc_norm + (pred_norm == it["gold"])
    result = harness["results"][task]
    assert acc / len(items) == result["acc,none"]
    assert acc_norm / len(items) == result["acc_norm,none"]


