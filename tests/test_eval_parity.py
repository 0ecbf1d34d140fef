"""eval.lm.CausalLM, and the `kazllm eval` runner on its shipped tasks, score multiple choice exactly as
lm-evaluation-harness does.

All run the same tiny random Llama (saved as safetensors, seeded) on the bundled multiple-choice fixtures:
lm-evaluation-harness through its own entry point (`lm_eval.simple_evaluate`, model "hf", a task YAML in its
include_path: its belebele template, and the KazMMLU-style task with answer texts as choices); ours through
`CausalLM.loglikelihood` on prompts built here, and through `eval.runner.evaluate` on the shipped
sample_belebele_kk / sample_kkmmlu YAMLs. Every per-choice log-likelihood agrees within 1e-4, every item's
prompt and chosen answer (acc and acc_norm, per character) is identical, and so are the accuracies.

BOS: the kazllm tokenizer adds no BOS by itself, while CausalLM puts BOS before every context (the model saw
documents starting after a special token in training); lm-eval is run with add_bos_token=True so that its
inputs are the same [BOS] + prompt tokens.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .eval_models import bench_eval

REPO = Path(__file__).resolve().parents[1]
QA = REPO / "data" / "sample" / "eval" / "qa"

# lm-evaluation-harness's belebele template (lm_eval/tasks/belebele/_default_template_yaml), letters as
# choices; and the KazMMLU-style task with the answer texts as choices.
TASKS = {
    "kazllm_parity_belebele": {
        "file": "kk_belebele.jsonl",
        "doc_to_text": "P: {{flores_passage}}\nQ: {{question.strip()}}\nA: {{mc_answer1}}\n"
        "B: {{mc_answer2}}\nC: {{mc_answer3}}\nD: {{mc_answer4}}\nAnswer:",
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
            prompt = (
                f"P: {r['flores_passage']}\nQ: {r['question'].strip()}\nA: {r['mc_answer1']}\n"
                f"B: {r['mc_answer2']}\nC: {r['mc_answer3']}\nD: {r['mc_answer4']}\nAnswer:"
            )
            items.append(
                {"prompt": prompt, "choices": list("ABCD"), "gold": int(r["correct_answer_num"]) - 1}
            )
        else:
            items.append(
                {
                    "prompt": f"Сұрақ: {r['question']}\nЖауап:",
                    "choices": r["choices"],
                    "gold": "ABCD".index(r["answer"]),
                }
            )
    return items


def argmax(values: list[float]) -> int:
    return max(range(len(values)), key=lambda j: values[j])  # first of equals, like numpy.argmax


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return bench_eval().build_tiny_model(
        tmp_path_factory.mktemp("tiny_llama"), hidden=64, layers=2, vocab=1000
    )


@pytest.fixture(scope="module")
def harness(tiny_model, tmp_path_factory) -> dict:
    """lm-evaluation-harness's results and logged samples for both tasks."""
    import yaml

    lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is a dev dependency (pip install -e .[dev])")
    from lm_eval.tasks import TaskManager

    task_dir = tmp_path_factory.mktemp("lm_eval_tasks")
    for name, t in TASKS.items():
        config = {
            "task": name,
            "dataset_path": "json",
            "dataset_kwargs": {"data_files": {"test": str(QA / t["file"])}},
            "test_split": "test",
            "output_type": "multiple_choice",
            "target_delimiter": " ",
            **{k: t[k] for k in ("doc_to_text", "doc_to_choice", "doc_to_target")},
            "metric_list": [
                {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
                {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
            ],
        }
        (task_dir / f"{name}.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return lm_eval.simple_evaluate(
        model="hf",
        model_args={"pretrained": str(tiny_model), "dtype": "float32", "add_bos_token": True},
        tasks=list(TASKS),
        task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
        batch_size=4,
        device="cpu",
        log_samples=True,
        bootstrap_iters=0,
    )


@pytest.fixture(scope="module")
def ours(tiny_model):
    from eval.lm import CausalLM

    return CausalLM(str(tiny_model), device="cpu", dtype="float32", batch_size=4)


@pytest.mark.slow  # ~25 s alone on 2 cores: lm-eval's import, task build and its own scoring
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
        assert len(set(lls)) == n  # a real comparison: the choices score differently
        pred = argmax(lls)
        pred_norm = argmax([ll / len(c) for ll, c in zip(lls, it["choices"])])  # lm-eval: characters
        assert float(pred == it["gold"]) == sample["acc"]
        assert float(pred_norm == it["gold"]) == sample["acc_norm"]
        acc, acc_norm = acc + (pred == it["gold"]), acc_norm + (pred_norm == it["gold"])
    result = harness["results"][task]
    assert acc / len(items) == result["acc,none"]
    assert acc_norm / len(items) == result["acc_norm,none"]


# The shipped task YAMLs that the runner scores, and the lm-eval definition each must equal.
RUNNER_TASKS = {"sample_belebele_kk": "kazllm_parity_belebele", "sample_kkmmlu": "kazllm_parity_kkmmlu"}


@pytest.fixture(scope="module")
def runner_results(tiny_model, tmp_path_factory) -> tuple[dict, dict]:
    """`kazllm eval`'s runner on the shipped tasks: results.json's content and samples.jsonl by task."""
    from eval.runner import evaluate

    out = tmp_path_factory.mktemp("runner")
    results = evaluate(str(tiny_model), list(RUNNER_TASKS), out, batch_size=4, device="cpu", dtype="float32")
    samples: dict = {}
    for line in (out / "samples.jsonl").read_text(encoding="utf-8").splitlines():
        s = json.loads(line)
        samples.setdefault(s["task"], []).append(s)
    return results, samples


@pytest.mark.slow  # shares the lm-eval run above; the runner itself adds ~5 s
@pytest.mark.parametrize("task", list(RUNNER_TASKS))
def test_runner_on_shipped_tasks_equals_lm_eval(task, harness, runner_results):
    """The runner's shipped task (prompt template, letters or answer texts, acc_norm per character)
    gives lm-eval's prompts, per-item chosen answers and accuracies on the same model and data."""
    results, samples = runner_results
    theirs = sorted(harness["samples"][RUNNER_TASKS[task]], key=lambda s: s["doc_id"])
    ours_ = sorted(samples[task], key=lambda s: s["index"])
    assert [s["index"] for s in ours_] == [s["doc_id"] for s in theirs]
    for mine, sample in zip(ours_, theirs):
        args = [tuple(a) for a in sample["arguments"]]
        assert args == [(mine["prompt"], " " + c) for c in mine["choices"]]
        their_lls = [float(r[0][0]) for r in sample["resps"]]
        assert mine["loglikelihoods"] == pytest.approx(their_lls, abs=1e-4)
        assert mine["prediction"] == argmax(their_lls)
        # lm-eval's acc_norm: per character of the choice, without the target delimiter
        assert mine["prediction_norm"] == argmax([ll / len(c[1:]) for ll, (_, c) in zip(their_lls, args)])
        assert mine["reference"] == sample["target"]
        assert mine["score"] == {"acc": sample["acc"], "acc_norm": sample["acc_norm"]}
    metrics, result = results["tasks"][task]["metrics"], harness["results"][RUNNER_TASKS[task]]
    assert metrics == {"acc": result["acc,none"], "acc_norm": result["acc_norm,none"]}
    if task == "sample_kkmmlu":  # answer texts of different lengths: the normalisation changes some choices
        assert any(s["prediction"] != s["prediction_norm"] for s in ours_)


def reference_loglikelihood(lm, ctx: list[int], cont: list[int]) -> tuple[float, bool]:
    """The plain definition: one full forward of context + continuation (as lm-eval feeds it, the last
    token dropped and at most max_length + 1 tokens kept), every position projected onto the vocabulary."""
    import torch

    seq = (ctx + cont)[-(lm.max_length + 1) :]
    with torch.no_grad():
        logprobs = torch.log_softmax(lm.model(torch.tensor([seq[:-1]])).logits[0].float(), dim=-1)
    lp = logprobs[-len(cont) :]
    target = torch.tensor(cont)
    return lp.gather(1, target[:, None]).sum().item(), bool((lp.argmax(-1) == target).all())


def test_shared_context_scoring_equals_one_forward_per_request(ours):
    """Contexts scored once with their continuations on the key/value cache, batched with padding, only
    the scored positions projected: the same numbers as a full forward per request. Covers one- and
    many-token continuations, repeated contexts, an empty context, a trailing space in the context, and a
    pair longer than the model's window (left-truncated like lm-eval)."""
    items = our_items("kazllm_parity_kkmmlu")[:4] + our_items("kazllm_parity_belebele")[:1]
    requests = [(it["prompt"], " " + c) for it in items for c in it["choices"]]
    requests += [("", "Қазақстан"), ("Сұрақ: Астана қай жерде? ", "Есілдің бойында")]
    requests += [(items[0]["prompt"], x) for x in (" A", ".", ",", "а", " және", " мен")]
    got = ours.loglikelihood(requests)
    encoded = ours._encode_pairs(requests)
    assert any(len(cont) > 1 for _, cont in encoded) and any(len(cont) == 1 for _, cont in encoded)
    for (lp, greedy), (ctx, cont) in zip(got, encoded):
        ref_lp, ref_greedy = reference_loglikelihood(ours, ctx, cont)
        assert lp == pytest.approx(ref_lp, abs=1e-4)
        assert greedy == ref_greedy

    window, ours.max_length = ours.max_length, 64
    try:
        long_request = [(items[-1]["prompt"], " B"), (items[0]["prompt"], " " + items[0]["choices"][0])]
        got = ours.loglikelihood(long_request)
        for (lp, _), (ctx, cont) in zip(got, ours._encode_pairs(long_request)):
            assert lp == pytest.approx(reference_loglikelihood(ours, ctx, cont)[0], abs=1e-4)
    finally:
        ours.max_length = window


def test_model_options_are_checked_before_loading(tiny_model):
    from eval.lm import CausalLM
    from kazllm.errors import InputError

    with pytest.raises(InputError, match="dtype must be one of"):
        CausalLM(str(tiny_model), dtype="float8")
    with pytest.raises(InputError, match="device must be"):
        CausalLM(str(tiny_model), device="tpu")
    with pytest.raises(InputError, match="no config.json"):
        CausalLM(str(REPO / "eval"))


def test_pickled_weights_are_refused(tiny_model, tmp_path):
    """Only safetensors load: a directory whose weights are a pickle (pytorch_model.bin) is an error."""
    import shutil

    import torch
    from safetensors.torch import load_file

    from eval.lm import CausalLM
    from kazllm.errors import InputError

    for f in tiny_model.iterdir():
        if f.suffix != ".safetensors":
            shutil.copy(f, tmp_path / f.name)
    torch.save(load_file(tiny_model / "model.safetensors"), tmp_path / "pytorch_model.bin")
    with pytest.raises(InputError, match="cannot load model"):
        CausalLM(str(tmp_path), device="cpu")


def test_dtype_option_sets_the_weights_dtype(tiny_model):
    import torch

    from eval.lm import CausalLM

    lm = CausalLM(str(tiny_model), device="cpu", dtype="bfloat16", batch_size=2)
    assert lm.model.dtype == torch.bfloat16
    ((lp, _),) = lm.loglikelihood([("Сұрақ:", " иә")])
    assert lp < 0
