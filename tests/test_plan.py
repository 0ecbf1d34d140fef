"""`kazllm plan`: time, GPU-hours and energy from FLOPs per token, GPUs, peak TFLOP/s and MFU."""

from __future__ import annotations

import json

import pytest
import yaml

from kazllm.config import config_to_dict, load_config
from kazllm.errors import ConfigError, InputError
from kazllm.plan import PLANNED_GPUS, estimate, gpu_type, measured_mfu
from kazllm.slurm import job_config
from tests.conftest import REPO, run_kazllm

NATIONAL = REPO / "configs" / "national_8b_13b.yaml"


def national(*overrides: str):
    return load_config(NATIONAL, [f"run.out_dir={REPO / 'runs' / 'does-not-exist'}", *overrides])


def test_national_plan_is_an_8b_model_on_13b_tokens_on_12_dgx_h100():
    r = estimate(national())
    # Llama-3-8B shape with a 64k vocabulary, counted by hand: 32 layers x (q,o 2*4096*4096 + k,v 2*4096*1024
    # + SwiGLU 3*4096*14336 + 2 norms*4096) + untied embeddings 2*64000*4096 + final norm 4096.
    assert (
        r["parameters"]
        == 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024 + 3 * 4096 * 14336 + 2 * 4096) + 2 * 64000 * 4096 + 4096
    )
    assert r["tokens"] == 13e9 and r["gpus"] == 96 and r["nodes"] == 12 and r["seq_len"] == 4096
    assert r["peak_tflops_per_gpu"] == 989 and r["mfu"] == 0.40
    # time = tokens x FLOPs/token / (GPUs x peak x MFU)
    assert r["wall_clock_hours"] == pytest.approx(13e9 * r["flops_per_token"] / (96 * 989e12 * 0.40) / 3600)
    assert 4.0 < r["wall_clock_hours"] < 5.5  # 6ND alone gives 4.2 h; attention at seq 4096 adds ~15%
    assert r["gpu_hours"] == pytest.approx(96 * r["wall_clock_hours"])
    assert r["energy_kwh"] == pytest.approx(12 * 10.2 * r["wall_clock_hours"])  # DGX H100: 10.2 kW max
    assert r["steps"] == 8266 == national().train.steps  # the shipped config trains exactly its budget


def test_more_gpus_or_higher_mfu_shorten_the_run_but_not_the_gpu_hours_or_energy():
    base = estimate(national())
    doubled = estimate(national("plan.gpus=192"))
    assert doubled["wall_clock_hours"] == pytest.approx(base["wall_clock_hours"] / 2)
    assert doubled["gpu_hours"] == pytest.approx(base["gpu_hours"])
    assert doubled["energy_kwh"] == pytest.approx(base["energy_kwh"])
    faster = estimate(national("plan.mfu=0.5"))
    assert faster["gpu_hours"] == pytest.approx(base["gpu_hours"] * 0.4 / 0.5)
    a100 = estimate(national("plan.gpu=a100-80gb"))
    assert a100["wall_clock_hours"] == pytest.approx(base["wall_clock_hours"] * 989 / 312)
    assert estimate(national("plan.pue=1.3"))["energy_kwh"] == pytest.approx(base["energy_kwh"] * 1.3)


def test_without_a_token_budget_the_plan_uses_train_steps():
    cfg = national("plan.tokens=0", "train.steps=1000")
    r = estimate(cfg)
    assert r["tokens"] == 1000 * 2 * 2 * 96 * 4096 and r["steps"] == 1000


def test_mfu_is_measured_from_a_metrics_file(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    rows = [
        {"step": 5, "val_loss": 9.5},
        {"step": 10, "loss": 9.0, "mfu": 0.05},
        {"step": 20, "loss": 8.0, "mfu": 0.41},
        {"step": 30, "loss": 7.5, "mfu": 0.43},
        {"step": 30, "val_loss": 7.4},
        {"step": 40, "mfu": 0.42},
    ]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert measured_mfu(metrics, 989) == pytest.approx(0.42)  # median after the warm-up window
    assert estimate(national(), metrics=metrics)["mfu"] == pytest.approx(0.42)

    # Rows without an mfu (a CPU run, an older trainer): from tokens_per_s and the run's resolved config.
    cfg = job_config(national())  # what `kazllm slurm submit` saves: train.nproc = 96 ranks
    (tmp_path / "resolved_config.yaml").write_text(yaml.safe_dump(config_to_dict(cfg)))
    fpt = estimate(cfg)["flops_per_token"]
    per_s = 0.38 * 96 * 989e12 / fpt
    metrics.write_text(
        "".join(
            json.dumps({"step": s, "tokens_per_s": per_s * (0.5 if s == 1 else 1)}) + "\n"
            for s in range(1, 6)
        )
    )
    assert measured_mfu(metrics, 989) == pytest.approx(0.38)
    metrics.write_text(
        "".join(json.dumps({"step": s, "tokens_per_s_per_device": per_s / 96}) + "\n" for s in range(1, 6))
    )
    assert measured_mfu(metrics, 989) == pytest.approx(0.38)
    (tmp_path / "resolved_config.yaml").unlink()
    with pytest.raises(InputError, match="resolved_config"):
        measured_mfu(metrics, 989)
    with pytest.raises(InputError, match="no metrics"):
        measured_mfu(tmp_path / "missing.jsonl", 989)


def test_mfu_is_measured_from_a_job_killed_mid_write(tmp_path, capsys):
    metrics = tmp_path / "metrics.jsonl"
    rows = [{"step": 10, "mfu": 0.05}, {"step": 20, "mfu": 0.41}, {"step": 30, "mfu": 0.43}]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 40, "mf')  # the torn last line
    assert measured_mfu(metrics, 989) == pytest.approx(0.42)
    assert f"{metrics}:4: unreadable metrics line skipped" in capsys.readouterr().err


def test_the_plan_knows_the_gpus_whose_system_power_the_table_gives():
    # a plan (and the model card's energy) needs a system power: the DGX figures only
    assert PLANNED_GPUS == ("h100-sxm", "h200", "a100-80gb")
    assert gpu_type("NVIDIA H100 PCIe") is None and gpu_type("NVIDIA H200") == "h200"


def test_bad_plan_settings_are_errors():
    with pytest.raises(ConfigError, match="plan.gpu 'tpu'"):
        estimate(national("plan.gpu=tpu"))
    with pytest.raises(ConfigError, match="mfu"):
        national("plan.mfu=1.5")
    # an unknown GPU is fine once its peak and power are given
    assert (
        estimate(national("plan.gpu=mi300x", "plan.peak_tflops=1307", "plan.node_power_kw=12"))["gpus"] == 96
    )


def test_cli_prints_the_table_and_writes_json(tmp_path):
    out = tmp_path / "plan.json"
    r = run_kazllm(
        "plan",
        "--config",
        str(NATIONAL),
        "--gpus",
        "96",
        "--tokens",
        "13e9",
        "--mfu",
        "0.4",
        "--out",
        str(out),
        f"run.out_dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr
    for label in ("wall-clock time", "GPU-hours", "energy", "96 x h100-sxm (12 nodes)", "13.00B"):
        assert label in r.stdout
    saved = json.loads(out.read_text())
    assert saved["gpus"] == 96 and saved["tokens"] == 13e9
    assert f"{saved['gpu_hours']:,.0f}" in r.stdout


CONTINUE = REPO / "configs" / "continue_llama31_8b.yaml"


def test_continued_llama31_plan_sizes_the_extended_8b_offline():
    """No local tokenizer or checkpoint: the 8b preset at the base's 128,256 rows
    + tokenizer.max_new 32,000."""
    cfg = load_config(CONTINUE, [f"run.out_dir={REPO / 'runs' / 'does-not-exist'}"])
    r = estimate(cfg)
    assert r["vocab_size"] == 128256 + 32000 and "tokenizer.max_new" in r["vocab_source"]
    llama31 = 8_030_261_248  # Llama-3.1-8B, untied: each new token adds an input and an output row
    assert r["parameters"] == llama31 + 2 * 32000 * 4096
    assert r["tokens"] == 13e9 and r["gpus"] == 96 and r["seq_len"] == 4096
    assert r["steps"] == cfg.train.steps == 8266  # the config trains exactly its 13B-token budget
    assert r["wall_clock_hours"] == pytest.approx(13e9 * r["flops_per_token"] / (96 * 989e12 * 0.40) / 3600)
    assert 4.5 < r["wall_clock_hours"] < 5.5 and r["gpu_hours"] == pytest.approx(96 * r["wall_clock_hours"])
    assert r["energy_kwh"] == pytest.approx(12 * 10.2 * r["wall_clock_hours"])
    assert r["init_from"] == "meta-llama/Llama-3.1-8B"


def test_a_run_with_its_tokenizer_is_planned_at_the_tokenizers_size(tmp_path):
    (tmp_path / "tokenizer").mkdir()
    (tmp_path / "tokenizer" / "manifest.json").write_text(json.dumps({"vocab_size": 151_000}))
    r = estimate(load_config(CONTINUE, [f"run.out_dir={tmp_path}"]))
    assert r["vocab_size"] == 151_000 and r["vocab_source"] == "the run's tokenizer"


def test_a_remote_base_without_a_preset_cannot_be_planned_offline():
    cfg = load_config(
        CONTINUE,
        [
            f"run.out_dir={REPO / 'runs' / 'does-not-exist'}",
            "model.preset=",
            "model.init_from=example-org/not-cached-model",
        ],
    )
    with pytest.raises(ConfigError, match="set model.preset"):
        estimate(cfg)


def test_cli_plans_the_continued_run(tmp_path):
    r = run_kazllm("plan", "--config", str(CONTINUE), f"run.out_dir={tmp_path}")
    assert r.returncode == 0, r.stderr
    for label in (
        "continued from meta-llama/Llama-3.1-8B",
        "160,256",
        "wall-clock time",
        "GPU-hours",
        "energy",
        "96 x h100-sxm (12 nodes)",
        "13.00B",
    ):
        assert label in r.stdout, label
