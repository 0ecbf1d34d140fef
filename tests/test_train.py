"""Training engine: model presets and counts, LR schedules, DeepSpeed JSON, MFU inputs, and one real run."""

import json
import math

import pytest
import torch

from kazllm.config import ModelSection, TrainSection, load_config
from kazllm.engine import (
    causal_lm_loss,
    deepspeed_config,
    lr_factor,
    param_groups,
    peak_flops,
)
from kazllm.errors import ConfigError
from kazllm.model import build_llama_config, build_model, count_parameters, flops_per_token, preset_names
from kazllm.train import plot_loss_curve

from .conftest import run_kazllm

LLAMA3_VOCAB = 128256


def llama(preset, vocab=LLAMA3_VOCAB, **overrides):
    return build_llama_config(ModelSection(preset=preset, overrides=overrides), vocab, 1, 2, 0)


# --- models -----------------------------------------------------------------------------------------


def test_presets_range_from_a_cpu_size_to_70b():
    assert {"debug-tiny", "125m", "1b", "8b", "70b"} <= set(preset_names())


@pytest.mark.parametrize("preset", ["debug-tiny", "125m", "1b", "8b", "70b"])
def test_parameter_count_equals_the_built_model(preset):
    from transformers import LlamaForCausalLM

    config = llama(preset)
    with torch.device("meta"):  # shapes only: a 70B model costs no memory here
        model = LlamaForCausalLM(config)
    assert count_parameters(config) == sum(p.numel() for p in model.parameters())


def test_llama3_shapes_have_the_published_parameter_counts():
    assert count_parameters(llama("1b")) == 1_235_814_400  # Llama-3.2-1B
    assert count_parameters(llama("8b")) == 8_030_261_248  # Llama-3-8B
    assert count_parameters(llama("70b")) == 70_553_706_496  # Llama-3-70B


def test_presets_are_llama3_style_decoders():
    c = llama("8b")
    assert (c.hidden_act, c.num_key_value_heads, c.tie_word_embeddings) == ("silu", 8, False)  # SwiGLU, GQA
    assert c.rope_parameters["rope_theta"] == 500000.0 and c.rms_norm_eps == 1e-5
    assert llama("1b").tie_word_embeddings


def test_flops_per_token_is_6n_plus_the_attention_term():
    c = llama("8b")
    n_matmul = count_parameters(c) - LLAMA3_VOCAB * 4096  # the input embedding is a lookup
    assert flops_per_token(c, 4096) == 6 * n_matmul + 12 * 32 * 32 * 128 * 4096
    # tied: the shared matrix is counted once, as the output projection
    tied = llama("1b")
    assert flops_per_token(tied, 1) == 6 * count_parameters(tied) + 12 * 16 * 2048


def test_preset_may_be_a_yaml_path_and_overrides_replace_fields(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "hidden_size: 64\nintermediate_size: 160\nnum_hidden_layers: 2\nnum_attention_heads: 4\n"
        "num_key_value_heads: 1\ntie_word_embeddings: true\n"
    )
    c = build_llama_config(ModelSection(preset=str(path), overrides={"num_hidden_layers": 3}), 500, 1, 2, 0)
    assert (c.hidden_size, c.num_hidden_layers, c.num_key_value_heads) == (64, 3, 1)


def test_unknown_preset_or_field_is_a_config_error_that_says_what_exists():
    with pytest.raises(ConfigError, match="debug-tiny"):
        llama("7b")
    with pytest.raises(ConfigError, match="num_hiden_layers"):
        llama("debug-tiny", num_hiden_layers=2)
    with pytest.raises(ConfigError, match="num_key_value_heads"):
        llama("debug-tiny", num_key_value_heads=3)


def test_build_model_applies_attention_kernel_and_activation_checkpointing():
    torch.manual_seed(0)
    model = build_model(llama("debug-tiny", vocab=300), "eager", activation_checkpointing=True)
    assert model.config._attn_implementation == "eager"
    assert all(layer.gradient_checkpointing for layer in model.model.layers)
    torch.manual_seed(0)
    again = build_model(llama("debug-tiny", vocab=300), "sdpa")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert model.lm_head.weight is model.model.embed_tokens.weight  # tied
    assert model.config.use_cache  # the config is exported as is: generation keeps its KV cache


def test_flash_attention_without_the_package_is_a_config_error():
    from transformers.utils import is_flash_attn_2_available

    if is_flash_attn_2_available():
        pytest.skip("flash-attn is installed here")
    with pytest.raises(ConfigError, match="flash-attn"):
        build_model(llama("debug-tiny", vocab=300), "flash_attention_2")


def test_model_loss_on_shifted_labels_is_plain_next_token_cross_entropy():
    """The trainer hands the loader's already-shifted labels to the model as shift_labels."""
    torch.manual_seed(0)
    model = build_model(llama("debug-tiny", vocab=300), "sdpa")
    window = torch.randint(0, 300, (2, 17))
    inputs, labels = window[:, :-1], window[:, 1:]
    loss = causal_lm_loss(model, {"input_ids": inputs, "labels": labels})
    logits = model(input_ids=inputs).logits
    assert loss.item() == pytest.approx(
        torch.nn.functional.cross_entropy(logits.reshape(-1, 300), labels.reshape(-1)).item(), rel=1e-6
    )


def test_no_weight_decay_on_norms():
    model = build_model(llama("debug-tiny", vocab=300), "sdpa")
    decay, no_decay = param_groups(model, 0.1)
    assert no_decay["weight_decay"] == 0.0 and decay["weight_decay"] == 0.1
    assert len(no_decay["params"]) == 2 * 4 + 1  # two RMSNorms per layer + the final one
    assert all(p.dim() == 2 for p in decay["params"])


# --- schedules --------------------------------------------------------------------------------------


def test_cosine_warms_up_then_decays_to_the_floor_at_the_last_step():
    t = TrainSection(steps=100, warmup_steps=10, min_lr_ratio=0.1, schedule="cosine")
    f = [lr_factor(s, t) for s in range(100)]
    assert f[0] == pytest.approx(0.1) and f[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(f[9:], f[10:]))
    assert f[-1] == pytest.approx(0.1) and f[54] == pytest.approx(0.55, abs=0.02)


@pytest.mark.parametrize("shape", ["linear", "1-sqrt"])
def test_wsd_holds_the_peak_then_decays_over_the_last_fraction(shape):
    t = TrainSection(
        steps=100, warmup_steps=10, min_lr_ratio=0.0, schedule="wsd", decay_fraction=0.2, decay_shape=shape
    )
    f = [lr_factor(s, t) for s in range(100)]
    assert f[4] == pytest.approx(0.5)
    assert f[9:80] == [1.0] * 71
    assert all(a > b for a, b in zip(f[79:], f[80:]))
    assert f[-1] == pytest.approx(0.0)
    midway = 1 - 10 / 20 if shape == "linear" else 1 - math.sqrt(10 / 20)
    assert f[89] == pytest.approx(midway)


def test_bad_schedule_names_are_config_errors():
    with pytest.raises(ConfigError, match="schedule"):
        load_config(None, ["train.schedule=linear"])
    with pytest.raises(ConfigError, match="attn_implementation"):
        load_config(None, ["train.attn_implementation=flash"])


# --- DeepSpeed JSON ---------------------------------------------------------------------------------


def test_deepspeed_json_is_generated_from_the_train_section():
    t = TrainSection(micro_batch_size=4, grad_accum=2, zero_stage=3, grad_clip=0.5, precision="auto")
    cpu = deepspeed_config(t, world_size=8, cuda=False)
    assert cpu["train_batch_size"] == 64 and cpu["gradient_accumulation_steps"] == 2
    assert cpu["zero_optimization"]["stage"] == 3 and cpu["gradient_clipping"] == 0.5
    assert cpu["bf16"]["enabled"] is False  # fp32 on CPU
    gpu = deepspeed_config(t, world_size=8, cuda=True)
    assert gpu["bf16"]["enabled"] and gpu["zero_optimization"]["overlap_comm"]


def test_user_deepspeed_json_merges_over_ours(tmp_path):
    path = tmp_path / "ds.json"
    path.write_text(
        json.dumps(
            {
                "zero_optimization": {"reduce_bucket_size": 5e7, "stage": "auto"},
                "gradient_clipping": 0.3,
                "train_batch_size": 16,
                "gradient_accumulation_steps": "auto",
                "activation_checkpointing": {"partition_activations": True},
            }
        )
    )
    t = TrainSection(micro_batch_size=4, grad_accum=2, zero_stage=2, deepspeed_config=str(path))
    ds = deepspeed_config(t, world_size=2, cuda=False)
    assert ds["zero_optimization"] == {
        "stage": 2,
        "overlap_comm": False,
        "contiguous_gradients": True,
        "reduce_bucket_size": 5e7,
    }
    assert ds["gradient_clipping"] == 0.3 and ds["gradient_accumulation_steps"] == 2
    assert ds["activation_checkpointing"] == {"partition_activations": True}


def test_user_deepspeed_json_cannot_change_batch_size_or_optimizer(tmp_path):
    path = tmp_path / "ds.json"
    t = TrainSection(micro_batch_size=4, grad_accum=1, deepspeed_config=str(path))
    path.write_text(json.dumps({"train_micro_batch_size_per_gpu": 8}))
    with pytest.raises(
        ConfigError, match=r"ds.json: train_micro_batch_size_per_gpu=8 contradicts the run's 4"
    ):
        deepspeed_config(t, world_size=1, cuda=False)
    path.write_text(json.dumps({"zero_optimization": {"stage": 3}}))
    with pytest.raises(ConfigError, match="zero_optimization.stage=3 contradicts train.zero_stage=2"):
        deepspeed_config(t, world_size=1, cuda=False)
    path.write_text(json.dumps({"optimizer": {"type": "Adam"}}))
    with pytest.raises(ConfigError, match="'optimizer' is not allowed"):
        deepspeed_config(t, world_size=1, cuda=False)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        deepspeed_config(t, world_size=1, cuda=False)


def test_mfu_peak_is_known_only_when_configured_or_on_a_known_gpu():
    assert peak_flops(TrainSection(), torch.device("cpu"), bf16=False) is None
    assert peak_flops(TrainSection(peak_tflops=2.5), torch.device("cpu"), bf16=False) == 2.5e12


def test_loss_curve_shows_train_and_validation(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text(
        "".join(
            json.dumps(r) + "\n"
            for r in [{"step": 1, "loss": 5.0}, {"step": 2, "loss": 4.0}, {"step": 2, "val_loss": 4.5}]
        )
    )
    plot_loss_curve(metrics, tmp_path / "curve.png")
    assert (tmp_path / "curve.png").read_bytes()[:4] == b"\x89PNG"


# --- real runs --------------------------------------------------------------------------------------


def _run_dir(sample_run, out):
    out.mkdir(parents=True, exist_ok=True)
    for stage in ("prep", "tokenizer", "shards"):
        (out / stage).symlink_to(sample_run.stage_dir(stage))
    return sample_run.stage_dir("prep") / "resolved_config.yaml"


def test_contradicting_deepspeed_json_stops_before_any_rank_starts(sample_run, tmp_path):
    from kazllm.train import launch_training

    config = _run_dir(sample_run, tmp_path)
    (tmp_path / "ds.json").write_text('{"train_batch_size": 3}')
    cfg = load_config(config, [f"run.out_dir={tmp_path}", f"train.deepspeed_config={tmp_path / 'ds.json'}"])
    with pytest.raises(ConfigError, match="train_batch_size=3 contradicts"):
        launch_training(cfg)
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.slow
def test_single_process_run_logs_every_metric_validates_and_merges_the_user_json(sample_run, tmp_path):
    config = _run_dir(sample_run, tmp_path)
    (tmp_path / "ds.json").write_text(
        '{"gradient_clipping": 0.5, "zero_optimization": {"reduce_bucket_size": 1e6}}'
    )
    steps = 6
    result = run_kazllm(
        "train",
        "--config",
        str(config),
        f"run.out_dir={tmp_path}",
        "train.nproc=1",
        "train.zero_stage=1",
        f"train.steps={steps}",
        "train.log_every=1",
        "train.seq_len=64",
        "train.micro_batch_size=2",
        "train.grad_accum=2",
        "train.warmup_steps=2",
        "train.schedule=wsd",
        "train.decay_fraction=0.5",
        "train.eval_every=2",
        "train.eval_sequences=5",
        "train.activation_checkpointing=true",
        "train.attn_implementation=eager",
        "train.peak_tflops=1.0",
        f"train.deepspeed_config={tmp_path / 'ds.json'}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (
        "M parameters" in result.stdout and "GFLOPs/token" in result.stdout and "TFLOPs/step" in result.stdout
    )
    ckpt = tmp_path / "checkpoints"
    rows = [json.loads(line) for line in (ckpt / "metrics.jsonl").open()]
    train = [r for r in rows if "loss" in r]
    val = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in train] == list(range(1, steps + 1))
    assert [r["step"] for r in val] == [2, 4, 6]
    t = load_config(
        config,
        [
            "train.steps=6",
            "train.warmup_steps=2",
            "train.schedule=wsd",
            "train.decay_fraction=0.5",
            "train.lr=3e-3",
        ],
    ).train
    assert [r["lr"] for r in train] == pytest.approx([t.lr * lr_factor(s, t) for s in range(steps)])
    for r in train:
        assert r["grad_norm"] > 0 and r["tokens_per_s"] > 0 and r["memory_gib"] > 0.1
        assert r["mfu"] > 0  # reported because train.peak_tflops is set
        assert r["tokens_seen"] == r["step"] * 2 * 2 * 64
    flops = json.loads((ckpt / "manifest.json").read_text())["summary"]["flops_per_token"]
    assert train[-1]["mfu"] == pytest.approx(train[-1]["tokens_per_s_per_device"] * flops / 1e12, rel=1e-2)
    assert val[-1]["val_loss"] < val[0]["val_loss"] + 0.5 and math.isfinite(val[-1]["val_loss"])
    ds = json.loads((ckpt / "deepspeed_config.json").read_text())
    assert ds["gradient_clipping"] == 0.5 and ds["zero_optimization"]["stage"] == 1
    assert ds["zero_optimization"]["reduce_bucket_size"] == 1e6 and ds["train_batch_size"] == 4
    assert (ckpt / "loss_curve.png").stat().st_size > 1000
