"""train + export with real DeepSpeed ranks (gloo on CPU), in subprocesses as users launch them."""

import json

import pytest

from kazllm.artifacts import file_table

from .conftest import run_kazllm

pytestmark = pytest.mark.slow


def _train(sample_run, out, *overrides):
    """Train into `out`, reusing the session's prep/tokenizer/shards."""
    out.mkdir(parents=True, exist_ok=True)
    for stage in ("prep", "tokenizer", "shards"):
        (out / stage).symlink_to(sample_run.stage_dir(stage))
    config = sample_run.stage_dir("prep") / "resolved_config.yaml"
    result = run_kazllm("train", "--config", str(config), f"run.out_dir={out}", *overrides)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "checkpoints" / "metrics.jsonl").open()]
    return [row for row in rows if "loss" in row]  # training lines (validation lines carry val_loss)


def test_two_rank_zero3_matches_one_process(sample_run, tmp_path):
    """ZeRO-3 really shards parameters over 2 ranks; the maths must not change: same losses."""
    common = ["train.steps=6", "train.warmup_steps=2", "train.log_every=1", "train.seq_len=64"]
    single = _train(
        sample_run,
        tmp_path / "one",
        *common,
        "train.nproc=1",
        "train.zero_stage=0",
        "train.micro_batch_size=4",
    )
    sharded = _train(
        sample_run,
        tmp_path / "two",
        *common,
        "train.nproc=2",
        "train.zero_stage=3",
        "train.micro_batch_size=2",
    )
    assert [m["step"] for m in sharded] == list(range(1, 7))
    for a, b in zip(single, sharded):
        assert b["loss"] == pytest.approx(a["loss"], abs=2e-3), (a, b)
        assert b["grad_norm"] == pytest.approx(a["grad_norm"], rel=1e-3), (a, b)
    assert sharded[-1]["loss"] < sharded[0]["loss"]
    ckpt = tmp_path / "two" / "checkpoints"
    assert (ckpt / "latest").read_text().strip() == "step6"
    shards = sorted(p.name for p in (ckpt / "step6").glob("*model_states.pt"))
    assert len(shards) == 2, shards  # one ZeRO-3 parameter partition per rank
    assert (ckpt / "loss_curve.png").stat().st_size > 1000
    assert (ckpt / "resolved_config.yaml").is_file() and (ckpt / "deepspeed_config.json").is_file()


def test_export_gives_a_model_that_auto_classes_load_and_generate_from(sample_run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _train(
        sample_run,
        tmp_path,
        "train.steps=4",
        "train.warmup_steps=2",
        "train.nproc=2",
        "train.zero_stage=2",
        "train.micro_batch_size=2",
        "train.wandb.enabled=true",
    )
    assert list((tmp_path / "checkpoints" / "wandb").glob("offline-run-*")), "wandb wrote no offline run"
    config = sample_run.stage_dir("prep") / "resolved_config.yaml"
    result = run_kazllm("export", "--config", str(config), f"run.out_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    export = tmp_path / "export"
    files = {p.name for p in export.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "tokenizer.json",
        "README.md",
    } <= files
    assert not any(name.endswith((".bin", ".pt")) for name in files)
    manifest = json.loads((export / "manifest.json").read_text())
    assert manifest["checkpoint"] == "checkpoints/step4" and manifest["logits_check"]["passed"] is True
    assert manifest["files"] == file_table(export) and manifest["dtype"] == "float32"
    model = AutoModelForCausalLM.from_pretrained(str(export))
    tokenizer = AutoTokenizer.from_pretrained(str(export))
    ids = tokenizer("Қазақстан", return_tensors="pt").input_ids
    assert (
        ids[0, 0] == tokenizer.bos_token_id and (ids == tokenizer.bos_token_id).sum() == 1
    )  # as in training
    out = model.generate(ids, max_new_tokens=8, do_sample=False)
    assert out.shape[1] > ids.shape[1]
    assert isinstance(tokenizer.decode(out[0, ids.shape[1] :]), str)
    card = (export / "README.md").read_text(encoding="utf-8")
    assert "LlamaForCausalLM" in card and "ZeRO-2 on 2 rank(s)" in card


def test_export_without_a_checkpoint_is_a_clear_error(sample_run, tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "manifest.json").write_text("{}")
    (tmp_path / "tokenizer").symlink_to(sample_run.stage_dir("tokenizer"))
    config = sample_run.stage_dir("prep") / "resolved_config.yaml"
    result = run_kazllm("export", "--config", str(config), f"run.out_dir={tmp_path}")
    assert result.returncode == 2 and "no 'latest' file" in result.stderr and "Traceback" not in result.stderr
