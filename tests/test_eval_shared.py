"""The shipped benchmark tasks on the licensed sets in ../shared/data (NTREX-128, WMT19, Tatoeba, KazQAD,
text_mix). Skipped where that folder is absent: the data is never copied into the project."""

import json

import pytest

from eval.tasks import known_tasks, load_items, load_task, read_lines, shared_data_dir

from .eval_models import bench_eval
from .test_eval import _sacrebleu_cli

SHARED = shared_data_dir()
pytestmark = pytest.mark.skipif(not (SHARED / "ntrex128").is_dir(), reason=f"no shared data at {SHARED}")

SHARED_TASKS = [t for t in known_tasks() if t.split("_")[0] in ("ntrex", "wmt19", "tatoeba", "kazqad", "ppl")]
# Items per task once the few-shot examples drawn from the same file are set aside.
EXPECTED = {
    "ntrex": 1997 - 5,
    "wmt19_kk_en": 1000 - 5,
    "wmt19_en_kk": 998 - 5,
    "tatoeba_en_kk": 403 - 5,
    "tatoeba_kk_en": 403 - 5,
    "tatoeba_kk_ru": 1400 - 5,
    "tatoeba_ru_kk": 1400 - 5,
    "kazqad": 412 - 2,
}


def test_every_tilmash_direction_has_an_ntrex_task():
    for other in ("en", "ru", "tr", "tt", "uz"):
        assert {f"ntrex_kk_{other}", f"ntrex_{other}_kk"} <= set(SHARED_TASKS)


@pytest.mark.parametrize("name", SHARED_TASKS)
def test_shared_task_reads_every_item(name):
    spec = load_task(name)
    shots, items = load_items(spec, seed=1234)
    expected = EXPECTED.get(name, EXPECTED.get(name.split("_")[0]))
    if expected is not None:
        assert len(items) == expected and len(shots) == spec.num_fewshot
    if spec.type == "translation":
        assert all(it["source"].strip() and it["target"].strip() for it in items[:50])
    if spec.type == "qa_extractive":
        assert all(it["answers"] and it["answer"] in it["context"] for it in items[:50])


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return bench_eval().build_tiny_model(tmp_path_factory.mktemp("tiny_llama_shared"), vocab=1000)


def test_kazllm_eval_runs_each_shared_task_family(tiny_model, tmp_path):
    from kazllm.cli import main

    tasks = ["ntrex_kk_en", "ntrex_uz_kk", "wmt19_en_kk", "tatoeba_kk_ru", "kazqad", "ppl_text_mix_kk"]
    main(
        [
            "eval",
            "--model",
            str(tiny_model),
            "--tasks",
            ",".join(tasks),
            "--limit",
            "2",
            "--max-new-tokens",
            "4",
            "--device",
            "cpu",
            "--out",
            str(tmp_path),
        ]
    )
    results = json.loads((tmp_path / "results.json").read_text(encoding="utf-8"))
    assert list(results["tasks"]) == tasks and all(t["n"] == 2 for t in results["tasks"].values())
    assert (
        results["tasks"]["ntrex_kk_en"]["num_fewshot"] == 5
        and "chrf++" in results["tasks"]["ntrex_kk_en"]["signatures"]
    )
    assert {"exact_match", "f1"} <= set(results["tasks"]["kazqad"]["metrics"])
    assert results["tasks"]["ppl_text_mix_kk"]["metrics"]["bits_per_byte"] > 0
    sha = results["tasks"]["ntrex_kk_en"]["data"]["files_sha256"]
    assert any(p.endswith("newstest2019-ref.kaz.txt") for p in sha) and all(
        len(v) == 64 for v in sha.values()
    )


def test_hypotheses_on_ntrex_equal_sacrebleu_command_line(tmp_path):
    from kazllm.cli import main

    ref_file = SHARED / "ntrex128" / "newstest2019-src.eng.txt"
    hyps = [
        " ".join(r.split()[1:]) if i % 4 == 0 else r.lower() if i % 4 == 1 else r
        for i, r in enumerate(read_lines(ref_file))
    ]
    (tmp_path / "hyp.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    main(
        [
            "eval",
            "--tasks",
            "ntrex_kk_en",
            "--hypotheses",
            str(tmp_path / "hyp.txt"),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    task = json.loads((tmp_path / "o" / "results.json").read_text(encoding="utf-8"))["tasks"]["ntrex_kk_en"]
    by_name = _sacrebleu_cli(ref_file, tmp_path / "hyp.txt")
    assert task["n"] == 1997
    assert task["metrics"]["chrf++"] == pytest.approx(by_name["chrF2++"]["score"], abs=1e-4)
    assert task["metrics"]["bleu"] == pytest.approx(by_name["BLEU"]["score"], abs=1e-4)
    assert task["signatures"] == {
        "chrf++": by_name["chrF2++"]["signature"],
        "bleu": by_name["BLEU"]["signature"],
    }
