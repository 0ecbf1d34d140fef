"""`kazllm eval export-lm-eval`: real lm-evaluation-harness (lm_eval.simple_evaluate, model "hf" on a tiny
local Llama, include_path = the exported directory) scores kazllm's tasks item for item as `kazllm eval` does:
the same prompts (description, few-shot examples, delimiters), the same greedy generations, log-likelihoods,
per-item scores, corpus metrics and standard errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .conftest import REPO
from .eval_models import bench_eval

TASKS = ["sample_qa_kk", "sample_mt_kk_en", "sample_kkmmlu", "sample_belebele_kk"]
LIMIT = 3


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The exported task files, two extra tasks by path: QA with a description (an instruction before the
    examples); a tiny model; both harnesses' outputs.

    (Perplexity: its own test below, run with add_bos_token=False.)"""
    lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is a dev dependency (pip install -e .[dev])")
    from lm_eval.tasks import TaskManager

    from eval.runner import evaluate
    from kazllm.cli import main

    root = tmp_path_factory.mktemp("export")
    qa = (REPO / "eval" / "tasks" / "sample_qa_kk.yaml").read_text(encoding="utf-8")
    data = REPO / "data" / "sample" / "eval"
    (root / "qa_described.yaml").write_text(
        qa.replace("../../data/sample/eval", str(data)).replace("num_fewshot: 1", "num_fewshot: 2")
        + 'description: "Мәтінді оқып, сұраққа жауап беріңіз.\\n\\n"\n',
        encoding="utf-8",
    )
    tasks = TASKS + [str(root / "qa_described.yaml")]
    main(["eval", "export-lm-eval", "--out", str(root / "tasks"), "--tasks", ",".join(tasks)])
    model = bench_eval().build_tiny_model(root / "model", vocab=1000)
    names = [Path(t).stem for t in tasks]
    ours = evaluate(
        str(model), tasks, root / "ours", limit=LIMIT, batch_size=1, device="cpu", dtype="float32"
    )
    samples: dict = {}
    for line in (root / "ours" / "samples.jsonl").read_text(encoding="utf-8").splitlines():
        s = json.loads(line)
        samples.setdefault(s["task"], []).append(s)
    # bootstrap_iters > 0 or lm-eval reports no stderr at all; the means' stderr is its closed form
    # (mean_stderr), only chrf++/bleu are resampled (10 draws, in-process)
    os.environ["DISABLE_MULTIPROC"] = "1"
    theirs = lm_eval.simple_evaluate(
        model="hf",
        model_args={"pretrained": str(model), "dtype": "float32", "add_bos_token": True},
        tasks=[f"kazllm_{n}" for n in names],
        task_manager=TaskManager(include_path=str(root / "tasks"), include_defaults=False),
        batch_size=1,
        device="cpu",
        log_samples=True,
        limit=LIMIT,
        bootstrap_iters=10,
    )
    del os.environ["DISABLE_MULTIPROC"]
    return root, names, ours, samples, theirs


def _pairs(exported, name):
    _, _, ours, samples, theirs = exported
    logged = sorted(theirs["samples"][f"kazllm_{name}"], key=lambda s: s["doc_id"])
    assert len(logged) == len(samples[name]) == LIMIT
    return ours["tasks"][name], samples[name], logged, theirs["results"][f"kazllm_{name}"]


def test_every_shipped_task_exports(tmp_path):
    from eval.lm_eval_export import export_tasks
    from eval.tasks import known_tasks

    written = export_tasks(tmp_path)
    assert sorted(p.stem for p in written) == sorted(f"kazllm_{t}" for t in known_tasks())
    text = (tmp_path / "kazllm_kazqad.yaml").read_text(encoding="utf-8")
    assert "custom_dataset: !function kazllm_lm_eval.load_dataset" in text
    assert "process_results: !function kazllm_lm_eval.process_qa" in text and "description:" in text


@pytest.mark.slow  # lm-eval's import and task build: ~15 s on 2 cores
@pytest.mark.parametrize("name", ["sample_qa_kk", "qa_described", "sample_mt_kk_en"])
def test_generation_tasks_equal_lm_eval_item_by_item(exported, name):
    task, mine, logged, result = _pairs(exported, name)
    for s, t in zip(mine, logged):
        assert t["doc"]["index"] == s["index"]
        assert t["arguments"][0][0] == s["prompt"]  # description, examples, delimiters: the same string
        assert t["filtered_resps"][0].strip() == s["prediction"]
    if task["type"] == "qa_extractive":
        for s, t in zip(mine, logged):
            assert t["exact_match"] == 100 * s["score"]["exact_match"] and t["f1"] == pytest.approx(
                100 * s["score"]["f1"]
            )
        for m in ("exact_match", "f1"):
            assert task["metrics"][m] == pytest.approx(result[f"{m},none"])
            assert task["stderr"][m] == pytest.approx(result[f"{m}_stderr,none"])
    else:
        for m in ("chrf++", "bleu"):
            assert task["metrics"][m] == pytest.approx(result[f"{m},none"], abs=1e-4)
    if name == "qa_described":
        assert mine[0]["prompt"].startswith("Мәтінді оқып, сұраққа жауап беріңіз.\n\nМәтін:")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sample_kkmmlu", "sample_belebele_kk"])
def test_multiple_choice_tasks_equal_lm_eval_item_by_item(exported, name):
    task, mine, logged, result = _pairs(exported, name)
    for s, t in zip(mine, logged):
        assert [tuple(a) for a in t["arguments"]] == [(s["prompt"], " " + c) for c in s["choices"]]
        assert s["loglikelihoods"] == pytest.approx([float(r[0][0]) for r in t["resps"]], abs=1e-4)
        assert s["score"] == {"acc": t["acc"], "acc_norm": t["acc_norm"]}
    for m in ("acc", "acc_norm"):
        assert task["metrics"][m] == result[f"{m},none"]
        assert task["stderr"][m] == pytest.approx(result[f"{m}_stderr,none"])


@pytest.mark.slow
def test_perplexity_equals_lm_eval_for_documents_within_one_window(tmp_path):
    """lm-eval scores a rolling log-likelihood from its prefix token (BOS) with `add_bos_token=False`:
    with True it also scores a second BOS inside the text. Documents longer than a window differ by design
    (lm-eval: disjoint windows; kazllm: half-window strides, more context), so these fit one window."""
    lm_eval = pytest.importorskip("lm_eval", reason="lm-eval is a dev dependency (pip install -e .[dev])")
    from lm_eval.tasks import TaskManager

    from eval.runner import evaluate
    from kazllm.cli import main

    lines = [
        line
        for line in (REPO / "data/sample/eval/heldout_kk.txt").read_text(encoding="utf-8").splitlines()
        if 40 <= len(line) <= 300
    ][:3]
    (tmp_path / "docs.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (tmp_path / "short_ppl.yaml").write_text(
        f'type: perplexity\ndata: {{path: {tmp_path / "docs.txt"}, separator: "\\n"}}\nmax_length: 256\n',
        encoding="utf-8",
    )
    task = str(tmp_path / "short_ppl.yaml")
    main(["eval", "export-lm-eval", "--out", str(tmp_path / "tasks"), "--tasks", task])
    model = bench_eval().build_tiny_model(tmp_path / "model", vocab=1000)
    ours = evaluate(str(model), [task], tmp_path / "ours", batch_size=1, device="cpu", dtype="float32")
    mine = [
        json.loads(line)
        for line in (tmp_path / "ours" / "samples.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert len(mine) == 3 and all(s["tokens"] < 256 for s in mine)
    os.environ["DISABLE_MULTIPROC"] = "1"
    try:
        theirs = lm_eval.simple_evaluate(
            model="hf",
            model_args={"pretrained": str(model), "dtype": "float32", "add_bos_token": False},
            tasks=["kazllm_short_ppl"],
            task_manager=TaskManager(include_path=str(tmp_path / "tasks"), include_defaults=False),
            batch_size=1,
            device="cpu",
            log_samples=True,
            bootstrap_iters=0,
        )
    finally:
        del os.environ["DISABLE_MULTIPROC"]
    logged = sorted(theirs["samples"]["kazllm_short_ppl"], key=lambda s: s["doc_id"])
    assert [-s["nll"] for s in mine] == pytest.approx([float(t["resps"][0][0]) for t in logged], abs=1e-3)
    result = theirs["results"]["kazllm_short_ppl"]
    assert ours["tasks"]["short_ppl"]["metrics"]["bits_per_byte"] == pytest.approx(
        result["bits_per_byte,none"], rel=1e-6
    )
