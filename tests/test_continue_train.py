"""Continued pretraining in `kazllm train`: model.init_from, the resize to an extended tokenizer, the freeze
phase with its re-warm-up, and validation per language.

The base is `tiny_qwen_base` (a tiny random Llama with Qwen2's real tokenizer, 151,936 embedding rows). Two
runs share one prep/ of the bundled sample with Kazakh, Russian and English kept: `base_run` trains on the
base's own tokenizer (loaded as is), `extended_run` on that tokenizer extended with 300 Kazakh pieces
(`kazllm tokenizer train` with tokenizer.extend_base), which makes `kazllm train` resize the base first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from kazllm.artifacts import file_sha256, read_json, write_json
from kazllm.config import TrainSection, config_to_dict, load_config
from kazllm.engine import (
    EmbeddingFreeze,
    free_port,
    group_lr_factor,
    lr_factor,
    lr_scheduler,
    param_groups,
    shifted_schedule,
)
from kazllm.errors import ConfigError, InputError
from tests.conftest import REPO, run_kazllm

DEMO = REPO / "configs" / "continue_demo.yaml"
QWEN_SIZE, ADDED = 151851, 300
STEPS, FREEZE = 4, 2
COMMON = [
    "train.seq_len=64",
    "train.micro_batch_size=4",
    f"train.steps={STEPS}",
    "train.log_every=1",
    "train.warmup_steps=2",
    "train.lr=2e-3",
    "train.eval_every=2",
    "train.eval_sequences=4",
    "train.save_every=1",
    "train.keep_last=8",
    "train.freeze_steps=0",
]
TIMEOUT = 900


# --- runs: one prep, two tokenizers ----------------------------------------------------------------------


def _cfg(out: Path, base: Path, *overrides: str):
    return load_config(
        DEMO,
        [
            f"run.out_dir={out}",
            f"tokenizer.extend_base={base}",
            f"model.init_from={base}",
            f"tokenizer.max_new={ADDED}",
            "tokenizer.parity_lines=200",
            "pretokenize.val_fraction=0.2",
            "train.nproc=1",
            *overrides,
        ],
    )


@pytest.fixture(scope="module")
def prep_dir(tiny_qwen_base, tmp_path_factory):
    """prep/ of the sample with kk, ru and en kept (continue_demo.yaml), a fifth of the documents held out."""
    from data_prep.pipeline import run_prep

    cfg = _cfg(tmp_path_factory.mktemp("multilingual"), tiny_qwen_base)
    run_prep(cfg)
    return cfg.stage_dir("prep")


@pytest.fixture(scope="module")
def base_run(prep_dir, tiny_qwen_base, qwen2_tokenizer_dir, tmp_path_factory):
    """A run whose tokenizer/ is the base model's own tokenizer, unchanged
    (the manifest pretokenize reads)."""
    from transformers import AutoTokenizer

    from data_prep.pretokenize import run_pretokenize
    from data_prep.tokenizer import base_special_tokens

    out = tmp_path_factory.mktemp("base_run")
    cfg = _cfg(out, tiny_qwen_base)
    (out / "prep").symlink_to(prep_dir)
    shutil.copytree(qwen2_tokenizer_dir, out / "tokenizer" / "hf")
    tok = AutoTokenizer.from_pretrained(str(out / "tokenizer" / "hf"))
    write_json(
        out / "tokenizer" / "manifest.json",
        {
            "stage": "tokenizer",
            "vocab_size": len(tok),
            "model_type": "bpe (byte-level)",
            "hf_dir": "hf",
            "special_tokens": base_special_tokens(tok),
            "kk_tokens_per_word": None,
            "tokenizer_sha256": file_sha256(out / "tokenizer" / "hf" / "tokenizer.json"),
        },
    )
    run_pretokenize(cfg)
    return cfg


@pytest.fixture(scope="module")
def extended_run(prep_dir, tiny_qwen_base, tmp_path_factory):
    """A run whose tokenizer/ extends the base's with 300 Kazakh pieces (tokenizer.extend_base)."""
    from data_prep.pretokenize import run_pretokenize
    from data_prep.tokenizer import run_tokenizer_train

    out = tmp_path_factory.mktemp("extended_run")
    cfg = _cfg(out, tiny_qwen_base)
    (out / "prep").symlink_to(prep_dir)
    result = run_tokenizer_train(cfg)
    assert (result["base_vocab_size"], result["vocab_size"]) == (QWEN_SIZE, QWEN_SIZE + ADDED)
    run_pretokenize(cfg)
    return cfg


def _fork(run_cfg, out: Path, *overrides: str) -> Path:
    """A new run directory reusing `run_cfg`'s prep/tokenizer/shards; returns its config file."""
    out.mkdir(parents=True, exist_ok=True)
    for stage in ("prep", "tokenizer", "shards"):
        (out / stage).symlink_to(run_cfg.stage_dir(stage))
    tree = config_to_dict(run_cfg)
    tree["run"]["out_dir"] = str(out)
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(tree, allow_unicode=True), encoding="utf-8")
    cfg = load_config(path, [*COMMON, *overrides])
    path.write_text(yaml.safe_dump(config_to_dict(cfg), allow_unicode=True), encoding="utf-8")
    return path


def _metrics(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "checkpoints" / "metrics.jsonl").read_text().splitlines()]


def _train_rows(out: Path) -> list[tuple]:
    return [(r["step"], r["loss"], r["lr"], r["grad_norm"]) for r in _metrics(out) if "loss" in r]


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def _weights(model_dir: Path) -> dict[str, torch.Tensor]:
    weights = {}
    for f in sorted(Path(model_dir).glob("*.safetensors")):
        weights.update(load_file(f))
    return {k: v.float() for k, v in weights.items()}


def _first_batch_loss(config: Path, model_dir: Path) -> float:
    """The loss the model in model_dir has on the run's first global batch (what step 1 reports)."""
    from transformers import LlamaForCausalLM

    from kazllm.data import SequenceLoader
    from kazllm.engine import causal_lm_loss
    from kazllm.shards import TokenShardReader

    cfg = load_config(config)
    t = cfg.train
    reader = TokenShardReader(cfg.stage_dir("shards"), "train")
    loader = SequenceLoader(
        reader, t.seq_len, t.micro_batch_size * cfg.train.nproc, 0, 1, cfg.run.seed, mixture=t.mixture
    )
    model = LlamaForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    with torch.no_grad():
        return causal_lm_loss(model, loader.next_micro_batch()).item()


def _checkpoint_weights(ckpt_dir: Path, tag: str) -> dict[str, torch.Tensor]:
    from kazllm.export import checkpoint_state_dict

    return checkpoint_state_dict(
        ckpt_dir, tag, read_json(ckpt_dir / tag / "kazllm_checkpoint.json")["zero_stage"]
    )


# The step-0 weights as the ranks hold them (gathered under ZeRO-3), then the run itself.
STEP0_WORKER = """
import json, os, sys
from pathlib import Path
import deepspeed, torch
from safetensors.torch import load_file
from kazllm.config import load_config
from kazllm.train import Trainer

cfg = load_config(sys.argv[1])
cfg.stage_dir("checkpoints").mkdir(parents=True, exist_ok=True)
trainer = Trainer(cfg)
params = dict(trainer.engine.module.named_parameters())
with deepspeed.zero.GatheredParameters(list(params.values()), enabled=cfg.train.zero_stage == 3):
    step0 = {name: p.detach().float().cpu().clone() for name, p in params.items()}
if trainer.rank == 0:
    expected = {}
    for f in Path(sys.argv[2]).glob("*.safetensors"):
        expected.update(load_file(f))
    same = {name: name in expected and torch.equal(w, expected[name].float()) for name, w in step0.items()}
    Path(os.environ["STEP0_OUT"]).write_text(json.dumps(same))
trainer.train()
"""


def _train_with_step0_check(config: Path, expected_dir: Path, nproc: int, tmp_path: Path) -> dict[str, bool]:
    script = tmp_path / "step0_worker.py"
    script.write_text(STEP0_WORKER)
    env = {
        **os.environ,
        "STEP0_OUT": str(tmp_path / "step0.json"),
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(REPO),
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        str(nproc),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        str(script),
        str(config),
        str(expected_dir),
    ]
    _ok(subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT))
    return json.loads((tmp_path / "step0.json").read_text())


def _rewind(ckpt_dir: Path, step: int) -> None:
    """Leave only the checkpoints up to `step`, as if the run had stopped right after saving it."""
    for path in ckpt_dir.glob("step*"):
        if int(path.name.removeprefix("step")) > step:
            shutil.rmtree(path)
    (ckpt_dir / "latest").write_text(f"step{step}\n")


# --- the schedule and the freeze, without DeepSpeed --------------------------------------------------------


def test_freeze_phase_gives_the_body_lr_0_and_then_warms_up_again_over_the_remaining_steps():
    t = TrainSection(steps=100, warmup_steps=10, freeze_steps=20, min_lr_ratio=0.1)
    body = [group_lr_factor(s, t, trains_while_frozen=False) for s in range(100)]
    embeddings = [group_lr_factor(s, t, trains_while_frozen=True) for s in range(100)]
    assert body[:20] == [0.0] * 20
    assert (
        embeddings[:10] == pytest.approx([(s + 1) / 10 for s in range(10)])
        and embeddings[10:20] == [1.0] * 10
    )
    after = TrainSection(steps=80, warmup_steps=10, min_lr_ratio=0.1)  # the run as if it started at step 20
    assert body[20:] == embeddings[20:] == pytest.approx([lr_factor(s, after) for s in range(80)])
    assert body[20] == pytest.approx(0.1) and body[-1] == pytest.approx(0.1)  # re-warm-up, decay to the floor
    assert shifted_schedule(t).steps == 80
    plain = TrainSection(steps=100, warmup_steps=10)
    assert [group_lr_factor(s, plain, False) for s in range(100)] == [lr_factor(s, plain) for s in range(100)]


@pytest.mark.parametrize("tied", [True, False])
def test_during_the_freeze_only_new_embedding_rows_change_then_every_weight(tied):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    vocab, first_new = 60, 48
    model = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=vocab,
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            tie_word_embeddings=tied,
        )
    )
    t = TrainSection(steps=6, warmup_steps=1, freeze_steps=3, weight_decay=0.1)
    freeze = EmbeddingFreeze(t.freeze_steps, first_new, t.weight_decay)
    freeze.attach(model)
    optimizer = torch.optim.AdamW(param_groups(model, t.weight_decay, separate_embeddings=True), lr=1e-2)
    scheduler = lr_scheduler(optimizer, t, embeddings_group=True)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    embedding_keys = ["model.embed_tokens.weight", "lm_head.weight"]  # tied: two names of one matrix
    for step in range(t.steps):
        freeze.set_step(step, optimizer)
        ids = torch.randint(0, vocab, (2, 9))
        model(input_ids=ids[:, :-1], labels=ids[:, 1:]).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        scheduler.step()
        now = model.state_dict()
        if step == t.freeze_steps - 1:  # the end of the phase: bit-identical except the new rows
            for key, before in start.items():
                if key in embedding_keys:
                    assert torch.equal(now[key][:first_new], before[:first_new]), key
                    assert not torch.equal(now[key][first_new:], before[first_new:]), key
                else:
                    assert torch.equal(now[key], before), key
    assert optimizer.param_groups[-1]["weight_decay"] == 0.1  # decay is back after the phase
    assert all(not torch.equal(model.state_dict()[k], v) for k, v in start.items())


def test_the_loss_curve_has_one_validation_line_per_language(tmp_path):
    from kazllm.train import plot_loss_curve

    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [
                {"step": 1, "loss": 5.0},
                {"step": 2, "loss": 4.0},
                {"step": 2, "val_loss": 4.5, "val_loss_kk": 4.4, "val_loss_ru": 4.9, "val_loss_en": 5.1},
            ]
        )
    )
    plot_loss_curve(metrics, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


# --- per-language validation windows --------------------------------------------------------------------


def test_each_language_gets_windows_of_its_own_documents_only(base_run):
    import numpy as np

    from kazllm.shards import TokenShardReader
    from kazllm.train import val_language_streams

    reader = TokenShardReader(base_run.stage_dir("shards"), "val")
    streams = val_language_streams(reader, 64, seed=1)
    assert set(streams) == {"kk", "ru", "en"}
    for lang, stream in streams.items():
        docs = [i for i in range(reader.num_documents) if reader.document_group(i)["language"] == lang]
        text = np.concatenate([reader.document(i) for i in docs])  # the language's documents back to back
        n = stream.components[0].num_windows
        assert n == (len(text) - 1) // 64 >= 1
        for w in {0, n // 2, n - 1}:
            assert np.array_equal(stream.read_window(0, w)[0], text[w * 64 : w * 64 + 65]), (lang, w)
    single = TokenShardReader(base_run.stage_dir("shards"), "val")
    single.groups = [{"source": "x", "language": "kk"}] * len(single.groups)
    assert val_language_streams(single, 64, seed=1) == {}  # one language: the overall figure says it all


# --- what the base and the tokenizer must be -------------------------------------------------------------


def test_the_base_tokenizer_loads_directly_and_an_extended_one_is_resized(base_run, extended_run):
    from kazllm.train import plan_init_from

    plain, grown = plan_init_from(base_run), plan_init_from(extended_run)
    assert not plain.resize and grown.resize
    assert plain.config.vocab_size == grown.config.vocab_size == 151936  # the checkpoint's own architecture
    assert (
        plain.config.eos_token_id == 151643 and plain.config.bos_token_id is None
    )  # its ids, not a preset's


def test_a_tokenizer_that_is_not_the_bases_is_one_line_input_error(
    base_run, extended_run, sample_run, tmp_path
):
    from kazllm.train import needs_resize

    ours = load_config(_fork(sample_run, tmp_path / "spm", f"model.init_from={base_run.model.init_from}"))
    with pytest.raises(InputError, match=r"smaller than the tokenizer of model.init_from"):
        needs_resize(ours, Path(ours.model.init_from), 151936)
    other = tmp_path / "other_base"
    shutil.copytree(extended_run.stage_dir("tokenizer"), other / "tokenizer")
    init = read_json(other / "tokenizer" / "hf" / "embedding_init.json")
    write_json(other / "tokenizer" / "hf" / "embedding_init.json", {**init, "base_vocab_size": 128256})
    cfg = load_config(None, [f"run.out_dir={other}", f"model.init_from={extended_run.model.init_from}"])
    with pytest.raises(InputError, match="extended from a different base") as err:
        needs_resize(cfg, Path(cfg.model.init_from), 151936)
    assert "\n" not in str(err.value)


def test_freeze_needs_a_base_model_and_new_tokens(base_run, extended_run, tmp_path):
    from kazllm.train import launch_training

    cfg = load_config(_fork(base_run, tmp_path / "a", "train.freeze_steps=2"))
    with pytest.raises(ConfigError, match="adds no tokens to the base"):
        launch_training(cfg)
    cfg = load_config(_fork(extended_run, tmp_path / "b", "train.freeze_steps=2", "model.init_from="))
    with pytest.raises(ConfigError, match="needs model.init_from"):
        launch_training(cfg)
    assert not (tmp_path / "a" / "checkpoints").exists()


@pytest.fixture(scope="module")
def foreign_checkpoints(tiny_qwen_base, tmp_path_factory):
    """A GPT-2 checkpoint and a Llama that needs remote code (auto_map), both in safetensors."""
    root = tmp_path_factory.mktemp("foreign")
    gpt2, remote = root / "gpt2", root / "remote"
    for path in (gpt2, remote):
        shutil.copytree(tiny_qwen_base, path)
    config = read_json(tiny_qwen_base / "config.json")
    write_json(gpt2 / "config.json", {**config, "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})
    write_json(
        remote / "config.json", {**config, "auto_map": {"AutoModelForCausalLM": "modeling_x.XForCausalLM"}}
    )
    return {"gpt2": gpt2, "remote": remote}


@pytest.mark.parametrize(
    "case,message",
    [
        ("preset", "model.preset '1b' does not match the checkpoint of model.init_from"),
        ("shape", "model.overrides cannot change the shape of model.init_from"),
        ("gpt2", "is not LlamaForCausalLM"),
        ("remote", "needs remote code (auto_map)"),
    ],
)
def test_a_bad_base_is_one_line_from_kazllm_train_before_any_rank_starts(
    case, message, base_run, foreign_checkpoints, tmp_path
):
    overrides = {
        "preset": ["model.preset=1b"],
        "shape": ["model.overrides={num_hidden_layers: 3}"],
        "gpt2": [f"model.init_from={foreign_checkpoints['gpt2']}"],
        "remote": [f"model.init_from={foreign_checkpoints['remote']}"],
    }[case]
    config = _fork(base_run, tmp_path, "train.nproc=2", *overrides)
    result = run_kazllm("train", "--config", str(config))
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("kazllm: error")]
    assert len(errors) == 1 and message in errors[0], result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "ChildFailedError" not in result.stderr
    assert not (tmp_path / "checkpoints" / "metrics.jsonl").exists()


# --- real runs -------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("zero,nproc", [(2, 1), (3, 2)])
def test_training_starts_from_the_base_weights_and_resumes_exactly(zero, nproc, base_run, tmp_path):
    out = tmp_path / "run"
    mb = 4 // nproc
    config = _fork(
        base_run, out, f"train.zero_stage={zero}", f"train.nproc={nproc}", f"train.micro_batch_size={mb}"
    )
    base = Path(base_run.model.init_from)
    same = _train_with_step0_check(config, base, nproc, tmp_path)
    assert same and all(same.values()), [
        k for k, v in same.items() if not v
    ]  # every step-0 weight = the base's
    rows = _train_rows(out)
    assert rows[0][1] == pytest.approx(_first_batch_loss(config, base), abs=1e-4)  # loaded, not a fresh init
    assert not (out / "init_model").exists()  # the base tokenizer needs no resize
    record = read_json(out / "checkpoints" / "init_from.json")
    assert record["resized"] is False and record["loaded_from"] == str(base.resolve())
    val = [r for r in _metrics(out) if "val_loss" in r]  # step 0: the base itself, before any update
    assert [r["step"] for r in val] == [0, 2, 4] and all(
        {"val_loss_kk", "val_loss_ru", "val_loss_en"} <= set(r) for r in val
    )

    _rewind(out / "checkpoints", 1)  # a stop after step 1; the base directory is not read again on resume
    output = _ok(run_kazllm("train", "--config", str(config), f"model.init_from={tmp_path / 'gone'}"))
    assert f"resumed from {out / 'checkpoints' / 'step1'} at step 1" in output
    assert _train_rows(out) == rows


@pytest.mark.slow
@pytest.mark.parametrize("zero,nproc", [(0, 1), (1, 1), (2, 1), (3, 2)])
def test_an_extended_tokenizer_resizes_the_base_and_the_freeze_keeps_it_bit_identical(
    zero, nproc, extended_run, tmp_path
):
    out = tmp_path / "run"
    config = _fork(
        extended_run,
        out,
        f"train.zero_stage={zero}",
        f"train.nproc={nproc}",
        f"train.micro_batch_size={4 // nproc}",
        f"train.freeze_steps={FREEZE}",
    )
    output = _ok(run_kazllm("train", "--config", str(config)))
    assert "resizing" in output and "freeze phase: steps 1-2" in output
    init_model = out / "init_model"
    manifest = read_json(init_model / "extend_manifest.json")
    assert (
        manifest["rows"] == QWEN_SIZE + ADDED and read_json(out / "checkpoints" / "init_from.json")["resized"]
    )
    rows = _train_rows(out)
    assert rows[0][1] == pytest.approx(
        _first_batch_loss(config, init_model), abs=1e-4
    )  # init_model was loaded
    metrics = [r for r in _metrics(out) if "loss" in r]
    assert [r["lr"] for r in metrics[:FREEZE]] == [0.0, 0.0] and all(r["lr"] > 0 for r in metrics[FREEZE:])
    assert all(r["lr_embeddings"] > 0 for r in metrics)

    start = _weights(init_model)
    frozen = _checkpoint_weights(out / "checkpoints", f"step{FREEZE}")
    for key, before in start.items():
        if key == "model.embed_tokens.weight":  # tied: the one matrix with rows per token
            assert torch.equal(frozen[key][:QWEN_SIZE], before[:QWEN_SIZE])
            assert (frozen[key][QWEN_SIZE:] != before[QWEN_SIZE:]).any(dim=1).all()  # every new row learned
        else:
            assert torch.equal(frozen[key], before), key
    final = _checkpoint_weights(out / "checkpoints", f"step{STEPS}")
    assert all(not torch.equal(final[k], v) for k, v in start.items())  # after the phase everything moves

    if zero == 2:  # resume inside the freeze phase continues exactly, and reuses nothing but the checkpoint
        _rewind(out / "checkpoints", 1)
        shutil.rmtree(init_model)
        output = _ok(run_kazllm("train", "--config", str(config)))
        assert (
            f"resumed from {out / 'checkpoints' / 'step1'} at step 1" in output and "resizing" not in output
        )
        assert _train_rows(out) == rows


@pytest.mark.slow
def test_export_of_a_continued_model_carries_the_extended_tokenizer_and_names_the_base(
    extended_run, tmp_path
):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "run"
    config = _fork(extended_run, out, "train.steps=2", "train.freeze_steps=1", "train.eval_every=0")
    _ok(run_kazllm("train", "--config", str(config)))
    reused = _ok(run_kazllm("train", "--config", str(config), "train.resume=never"))
    assert "reusing" in reused and "resizing" not in reused  # init_model/ is made once per base and tokenizer
    _ok(run_kazllm("export", "--config", str(config)))
    export = out / "export"
    assert not (export / "tokenizer.model").exists()  # a byte-level tokenizer has no sentencepiece model
    tokenizer = AutoTokenizer.from_pretrained(str(export))
    assert len(tokenizer) == QWEN_SIZE + ADDED
    model = AutoModelForCausalLM.from_pretrained(str(export))
    assert model.config.vocab_size == QWEN_SIZE + ADDED
    card = (export / "README.md").read_text(encoding="utf-8")
    base = str(Path(extended_run.model.init_from))
    assert f"continued pretraining of {base}" in card and "| Base model |" in card
    assert "sentencepiece" not in card and f"{ADDED:,} Kazakh pieces added" in card
