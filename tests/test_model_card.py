"""The model card (kazllm/model_card.py): Hub-valid metadata, a model-index equal to results.json, the
sections a published card needs, and the rewrites that eval and push make."""

import json
import shutil

import pytest
from huggingface_hub import ModelCard
from huggingface_hub.repocard_data import eval_results_to_model_index, model_index_to_eval_results

from kazllm.artifacts import file_sha256, file_table, read_json, write_json
from kazllm.config import load_config
from kazllm.hardware import GPUS
from kazllm.model_card import (
    DEFAULT_LICENSE_NAME,
    EVAL_MARKERS,
    LOAD_MARKERS,
    build_model_card,
    card_license_problem,
    compute_summary,
    render_compute,
    set_card_repo_id,
    update_model_card,
    write_model_card,
)
from kazllm.plan import gpu_type

pytestmark = pytest.mark.slow  # the exported_run fixture trains with DeepSpeed

# Top-level metadata keys of the Hub's model card spec (huggingface.co/docs/hub/model-cards#card-metadata).
HUB_KEYS = {
    "language",
    "license",
    "license_name",
    "license_link",
    "datasets",
    "base_model",
    "tags",
    "pipeline_tag",
    "library_name",
    "model-index",
}
TASKS = ["sample_ppl_kk", "sample_mt_kk_en", "sample_qa_kk", "sample_kkmmlu"]
FAKE_HF_TOKEN = "hf_FAKEcardTest0123456789abcdefXYZ"
FAKE_WANDB_KEY = "0123456789abcdef0123456789abcdefcardtest"


@pytest.fixture(scope="module")
def results(exported_run, tmp_path_factory):
    """A real results.json of the exported model (4 items per task)."""
    from eval.runner import evaluate

    return evaluate(
        str(exported_run.stage_dir("export")),
        TASKS,
        tmp_path_factory.mktemp("card_eval"),
        limit=4,
        max_new_tokens=4,
    )


def _meta(cfg):
    summary = read_json(cfg.stage_dir("checkpoints") / "manifest.json")["summary"]
    return read_json(cfg.stage_dir("checkpoints") / summary["checkpoint"] / "kazllm_checkpoint.json")


def _export_copy(cfg, tmp_path):
    """The session's export in a folder of its own (these tests rewrite README.md), with the manifest
    `files` table that `kazllm push` verifies."""
    export = tmp_path / "export"
    shutil.copytree(cfg.stage_dir("export"), export)
    manifest = read_json(export / "manifest.json")
    write_json(export / "manifest.json", {**manifest, "files": file_table(export)})
    return export


def _values(eval_results):
    return {(r.task_name, r.metric_name): r.metric_value for r in eval_results}


def _expected(results, tasks=None):
    return {
        (task, metric): value
        for task, t in results["tasks"].items()
        if tasks is None or task in tasks
        for metric, value in t["metrics"].items()
        if isinstance(value, (int, float))
    }


def _outside(text, markers):
    return text[: text.index(markers[0])], text[text.index(markers[1]) :]


def test_card_is_hub_valid_and_has_every_section(exported_run, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_HF_TOKEN)
    monkeypatch.setenv("WANDB_API_KEY", FAKE_WANDB_KEY)
    export = _export_copy(exported_run, tmp_path)
    path = write_model_card(exported_run, export, _meta(exported_run))
    text = path.read_text(encoding="utf-8")
    card = ModelCard.load(path)
    metadata = card.data.to_dict()
    assert set(metadata) <= HUB_KEYS, set(metadata) - HUB_KEYS
    assert metadata["language"][0] == "kk" and metadata["license"] == "apache-2.0"
    assert metadata["pipeline_tag"] == "text-generation" and metadata["library_name"] == "transformers"
    assert "model-index" not in metadata and "base_model" not in metadata  # not evaluated, not continued
    assert card_license_problem(card) is None
    for heading in (
        "## Model details",
        "## How to load",
        "## Intended use",
        "## Out-of-scope use",
        "## Limitations and biases",
        "## Training data",
        "### 1. General information",
        "### 2. Data sources",
        "### 3. Data processing",
        "## Compute and energy",
        "## Evaluation",
        "## Licence",
    ):
        assert f"\n{heading}\n" in text, heading
    assert (
        'from_pretrained("kazllm/kazllm-quickstart-tiny")' in text
    )  # export.repo_id empty: kazllm/<model_name>
    assert "trained on 1 CPU processes; no GPU energy estimate" in text
    assert "ZeRO-2 on 1 rank(s), fp32" in text and "LlamaForCausalLM" in text
    sheet = read_json(exported_run.stage_dir("prep") / "datasheet.json")
    for kind, count in sheet["pii_masked"].items():
        assert f"{kind} {count:,}" in text
    assert f"dedup:exact {sheet['rejected_by_reason']['dedup:exact']}" in text
    assert (
        "| kk_literature | files (text) | CC0-1.0 |" in text and "sample_kkmmlu" in text
    )  # decontamination sets
    assert "demo-sized model" in text and "not instruction-tuned" in text
    assert str(export) not in text and str(exported_run.out_dir) not in text  # no local paths
    for written in export.rglob("*"):
        if written.is_file() and written.suffix in (".md", ".json"):
            content = written.read_text(encoding="utf-8")
            assert FAKE_HF_TOKEN not in content and FAKE_WANDB_KEY not in content, written
    rows = read_json(export / "manifest.json")["files"]
    assert rows["README.md"] == {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def test_model_index_equals_results_json_exactly(exported_run, results, tmp_path):
    export = _export_copy(exported_run, tmp_path)
    path = write_model_card(exported_run, export, _meta(exported_run), results)
    card = ModelCard.load(path)
    assert _values(card.data.eval_results) == _expected(results)  # every numeric metric, no rounding
    by_key = {(r.task_name, r.metric_name): r for r in card.data.eval_results}
    assert (
        by_key[("sample_mt_kk_en", "chrf++")].metric_config
        == results["tasks"]["sample_mt_kk_en"]["signatures"]["chrf++"]
    )
    assert by_key[("sample_mt_kk_en", "bleu")].task_type == "translation"
    assert by_key[("sample_kkmmlu", "acc_norm")].metric_type == "accuracy"
    assert {r.source_name for r in card.data.eval_results} == {"kazllm eval"}
    # The YAML is the Hub's model-index: huggingface_hub's own converters round-trip it unchanged.
    index = card.data.to_dict()["model-index"]
    name, parsed = model_index_to_eval_results(index)
    assert name == "kazllm-quickstart-tiny" and eval_results_to_model_index(name, parsed) == index
    assert "| sample_ppl_kk | perplexity | 4 | 0 | bits_per_byte (lower is better) |" in card.text
    assert "sacrebleu signatures:" in card.text
    # eval.report.headline_metrics' shape ({task: {metric: value}}) gives the same values
    headline = {
        t: {m: v for m, v in r["metrics"].items() if isinstance(v, (int, float))}
        for t, r in results["tasks"].items()
    }
    again = build_model_card(exported_run, export, _meta(exported_run), headline)
    assert _values(again.data.eval_results) == _expected(results)


def test_update_replaces_its_tasks_keeps_the_others_and_the_rest_of_the_text(exported_run, results, tmp_path):
    export = _export_copy(exported_run, tmp_path)
    path = write_model_card(exported_run, export, _meta(exported_run), results)
    before = ModelCard.load(path).text
    rerun = json.loads(json.dumps(results))
    rerun["tasks"] = {"sample_qa_kk": rerun["tasks"]["sample_qa_kk"]}
    rerun["tasks"]["sample_qa_kk"]["metrics"] = {"exact_match": 12.5, "f1": 33.333333333333336}
    rerun["created"] = "2031-01-02T03:04:05+0000"
    update_model_card(export, rerun)
    card = ModelCard.load(path)
    expected = {
        **_expected(results),
        ("sample_qa_kk", "exact_match"): 12.5,
        ("sample_qa_kk", "f1"): 33.333333333333336,
    }
    assert _values(card.data.eval_results) == expected
    assert [r.task_name for r in card.data.eval_results][:4] == ["sample_ppl_kk"] * 4  # the order stays
    assert _outside(card.text, EVAL_MARKERS) == _outside(before, EVAL_MARKERS)
    assert "| sample_qa_kk | qa_extractive | 4 | 1 | exact_match | 12.5000 | 2031-01-02 |" in card.text
    assert card.text.count("| sample_qa_kk |") == 2 and card.text.count("| sample_ppl_kk |") == 4
    assert "sample_mt_kk_en chrf++: `nrefs:1" in card.text  # kept task keeps its signature lines
    assert read_json(export / "manifest.json")["files"]["README.md"]["sha256"] == file_sha256(path)
    # a card exported before any evaluation gets its model-index from the first update
    bare = tmp_path / "bare"
    shutil.copytree(export, bare)
    write_model_card(exported_run, bare, _meta(exported_run))
    update_model_card(bare, results)
    assert _values(ModelCard.load(bare / "README.md").data.eval_results) == _expected(results)


def test_update_refuses_results_of_other_weights(exported_run, results, tmp_path):
    from kazllm.errors import InputError

    export = _export_copy(exported_run, tmp_path)
    write_model_card(exported_run, export, _meta(exported_run))
    other = {**results, "model_identity": {"files_sha256": {"model.safetensors": "0" * 64}}}
    with pytest.raises(InputError, match="not of the weights"):
        update_model_card(export, other)


def test_set_card_repo_id_rewrites_the_loading_example_and_sources(exported_run, results, tmp_path):
    export = _export_copy(exported_run, tmp_path)
    path = write_model_card(exported_run, export, _meta(exported_run), results)
    before = ModelCard.load(path).text
    assert set_card_repo_id(export, "issai/kaz-tiny") is True
    card = ModelCard.load(path)
    assert (
        'from_pretrained("issai/kaz-tiny")' in card.text and "kazllm/kazllm-quickstart-tiny" not in card.text
    )
    assert {r.source_url for r in card.data.eval_results} == {"https://huggingface.co/issai/kaz-tiny"}
    assert _values(card.data.eval_results) == _expected(results)
    assert _outside(card.text, LOAD_MARKERS) == _outside(before, LOAD_MARKERS)
    assert read_json(export / "manifest.json")["files"]["README.md"]["sha256"] == file_sha256(path)
    assert set_card_repo_id(export, "issai/kaz-tiny") is False  # nothing left to change


def test_an_empty_export_licence_is_a_placeholder_that_push_refuses(exported_run, tmp_path):
    cfg = load_config(
        exported_run.stage_dir("prep") / "resolved_config.yaml",
        [
            f"run.out_dir={exported_run.out_dir}",
            "export.license=",
            "export.repo_id=issai/kaz-tiny",
            "export.datasets=[kz-transformers/multidomain-kazakh-dataset]",
        ],
    )
    card = build_model_card(cfg, exported_run.stage_dir("export"), _meta(exported_run))
    data = card.data.to_dict()
    assert data["license"] == "other" and data["license_name"] == DEFAULT_LICENSE_NAME
    assert data["datasets"] == ["kz-transformers/multidomain-kazakh-dataset"]
    assert "inherits the terms of its training data, CC0-1.0 (jsonl, kk_literature, kk_official)" in card.text
    assert 'from_pretrained("issai/kaz-tiny")' in card.text
    assert "placeholder" in card_license_problem(card)
    assert "no licence" in card_license_problem(ModelCard("---\nlanguage: kk\n---\n# x\n"))
    assert "license_link" in card_license_problem(ModelCard("---\nlicense: other\nlicense_name: mine\n---\n"))
    assert (
        card_license_problem(
            ModelCard("---\nlicense: other\nlicense_name: mine\nlicense_link: LICENSE\n---\n")
        )
        is None
    )


def test_a_continued_run_names_its_base_with_the_commit(exported_run, tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    for stage in ("prep", "tokenizer", "shards"):
        (out / stage).symlink_to(exported_run.stage_dir(stage))
    for name in ("manifest.json", "metrics.jsonl"):
        shutil.copy(exported_run.stage_dir("checkpoints") / name, out / "checkpoints" / name)
    commit = "a" * 40
    write_json(
        out / "checkpoints" / "init_from.json",
        {
            "init_from": "Qwen/Qwen2.5-0.5B",
            "repo_id": "Qwen/Qwen2.5-0.5B",
            "revision": commit,
            "path": "/cache/x",
            "resized": True,
        },
    )
    cfg = load_config(
        exported_run.stage_dir("prep") / "resolved_config.yaml",
        [f"run.out_dir={out}", "model.init_from=Qwen/Qwen2.5-0.5B", "export.license=apache-2.0"],
    )
    card = build_model_card(cfg, exported_run.stage_dir("export"), _meta(exported_run))
    assert card.data.base_model == "Qwen/Qwen2.5-0.5B" and "continued-pretraining" in card.data.tags
    assert f"continued pretraining of Qwen/Qwen2.5-0.5B (revision {commit})" in card.text
    assert "| Base model |" in card.text and "/cache/x" not in card.text
    assert "own pretraining is not included" in card.text and "licence of the base model" in card.text


def test_gpu_compute_and_energy_come_from_the_plan_table(exported_run, tmp_path):
    ckpt = tmp_path / "checkpoints"
    ckpt.mkdir()
    write_json(
        ckpt / "manifest.json",
        {
            "summary": {
                "steps": 3,
                "world_size": 16,
                "device": "cuda",
                "device_name": "NVIDIA H100 80GB HBM3",
                "precision": "bf16",
            }
        },
    )
    rows = [
        {"step": 1, "loss": 3.0, "tokens_per_s": 1000.0, "mfu": 0.1, "tokens_seen": 3_600_000},
        {"step": 2, "loss": 2.9, "tokens_per_s": 2000.0, "mfu": 0.4, "tokens_seen": 10_800_000},
        {"step": 2, "val_loss": 2.8},
        {"step": 3, "loss": 2.8, "tokens_per_s": 2000.0, "mfu": 0.42, "tokens_seen": 18_000_000},
    ]
    (ckpt / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    cfg = load_config(
        exported_run.stage_dir("prep") / "resolved_config.yaml", [f"run.out_dir={tmp_path}", "plan.pue=1.2"]
    )
    c = compute_summary(cfg)
    assert c["gpu_type"] == "h100-sxm" and c["hours"] == pytest.approx(3.0)  # 1 h + 1 h + 1 h of windows
    assert c["gpu_hours"] == pytest.approx(48.0) and c["mfu"] == pytest.approx(0.41)  # first window dropped
    assert c["energy_kwh"] == pytest.approx(16 * GPUS["h100-sxm"].kw_per_gpu * 3.0 * 1.2)
    assert (gpu_type("NVIDIA H200"), gpu_type("NVIDIA A100-SXM4-80GB")) == ("h200", "a100-80gb")
    assert gpu_type("NVIDIA H100 PCIe") is None and gpu_type("NVIDIA GH200 480GB") is None
    text = render_compute(c, None)
    assert (
        "| Hardware | 16 x NVIDIA H100 80GB HBM3 (h100-sxm), bf16 |" in text and "| GPU-hours | 48 " in text
    )
    assert (
        "| MFU | 41.0% " in text
        and "| Energy (estimate) | 73.4 kWh = 16 GPUs x 1.275 kW x 3 h x PUE 1.2" in text
    )
    assert "upper bound" in text and "`kazllm plan`" in text
