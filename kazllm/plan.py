"""`kazllm plan`: wall-clock time, GPU-hours and energy of a training run before it is launched.

    kazllm plan --config configs/national_8b_13b.yaml                  # 13B tokens on 12 x DGX H100
    kazllm plan --config configs/national_8b_13b.yaml --gpus 96 --mfu 0.35 --out plan.json
    kazllm plan --config configs/national_8b_13b.yaml --metrics runs/x/checkpoints/metrics.jsonl

time = tokens x FLOPs/token / (GPUs x peak FLOP/s x MFU). FLOPs per token are the model's training
FLOPs (kazllm.model.flops_per_token: 6N + attention, without recomputation), so MFU here is the same
figure the trainer logs. Energy is GPUs x the system's power per GPU at full load x hours x PUE: an upper
bound (a DGX H100 rarely draws its 10.2 kW maximum for long).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

import yaml

from kazllm.artifacts import read_json, read_metrics
from kazllm.config import KazllmConfig, PlanSection
from kazllm.errors import ConfigError, InputError
from kazllm.hardware import GPUS, GPUS_PER_NODE, gpu_kind
from kazllm.model import build_llama_config, count_parameters, flops_per_token

PLANNED_GPUS = tuple(kind for kind, spec in GPUS.items() if spec.kw_per_gpu)
"""The plan.gpu types a plan needs no more figures for: those with a system power (kazllm.hardware)."""


def gpu_type(device_name: str) -> str | None:
    """The GPUS key of a CUDA device name when it is one of PLANNED_GPUS, else None: PCIe and NVL H100s,
    GH200 and 40 GB A100s draw other power than the DGX figures, so they get no energy estimate."""
    kind = gpu_kind(device_name)
    return kind if kind in PLANNED_GPUS else None


def power_per_gpu_kw(p: PlanSection, gpu: str | None) -> float:
    """System power per GPU at full load, kW: plan.node_power_kw / 8 when set, else the GPU type's figure."""
    return p.node_power_kw / GPUS_PER_NODE if p.node_power_kw else GPUS[gpu].kw_per_gpu


LLAMA3_VOCAB = 128_256
"""Embedding rows of Llama-3 checkpoints (the shapes the 8b and 70b presets describe): assumed for a remote
base model whose config.json is not on this machine."""


def local_model_config(spec: str) -> dict | None:
    """config.json of a base model without any network: a local directory, or a hub id already in the
    Hugging Face cache; None when neither has it."""
    from kazllm.config import resolve_path

    for cand in (Path(spec).expanduser(), resolve_path(spec)):
        if (cand / "config.json").is_file():
            return read_json(cand / "config.json")
    repo_id, _, revision = spec.partition("@")
    if "/" not in repo_id:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, "config.json", revision=revision or None)
    except Exception:  # noqa: BLE001 (an odd id or cache layout: just not cached)
        return None
    return read_json(Path(cached)) if isinstance(cached, str) else None


def vocab_rows(cfg: KazllmConfig) -> tuple[int, str]:
    """(embedding rows, where the figure comes from) of the run's model.

    The run's trained tokenizer when it exists; else, for a run that extends a base model's tokenizer
    (tokenizer.extend_base), the base's rows plus tokenizer.max_new (an upper bound: the extension
    stops at the merges the text supports); else the base's rows (model.init_from); else
    tokenizer.vocab_size. A base's rows come from its config.json when on disk, else LLAMA3_VOCAB.
    """
    manifest = cfg.stage_dir("tokenizer") / "manifest.json"
    if manifest.is_file():
        return int(read_json(manifest).get("vocab_size", cfg.tokenizer.vocab_size)), "the run's tokenizer"
    base = cfg.tokenizer.extend_base or cfg.model.init_from
    if not base:
        return cfg.tokenizer.vocab_size, "tokenizer.vocab_size"
    config = local_model_config(base)
    rows, source = (int(config["vocab_size"]), base) if config else (LLAMA3_VOCAB, f"{base}, assumed Llama-3")
    if cfg.tokenizer.extend_base:
        return (
            rows + cfg.tokenizer.max_new,
            f"{rows:,} of {source} + tokenizer.max_new {cfg.tokenizer.max_new:,}",
        )
    return rows, source


def plan_llama_config(cfg: KazllmConfig):
    """The model a plan sizes: the preset (which model.init_from must agree with at train time), or the
    base checkpoint's own config.json when only model.init_from is given and it is on disk."""
    rows, _ = vocab_rows(cfg)
    if cfg.model.init_from and not cfg.model.preset:
        config = local_model_config(cfg.model.init_from)
        if config is None:
            raise ConfigError(
                f"kazllm plan: model.init_from '{cfg.model.init_from}' is not on this machine: set "
                "model.preset to its shape (e.g. 8b for Llama-3.1-8B) so the plan can size it offline"
            )
        from transformers import LlamaConfig

        return LlamaConfig.from_dict({**config, "vocab_size": max(rows, int(config["vocab_size"]))})
    return build_llama_config(cfg.model, rows, bos_id=1, eos_id=2, pad_id=0)


def model_cost(cfg: KazllmConfig) -> tuple[int, float]:
    """(parameters, training FLOPs per token) of the config's model at train.seq_len."""
    config = plan_llama_config(cfg)
    return count_parameters(config), flops_per_token(config, cfg.train.seq_len)


def measured_mfu(metrics_path: str | Path, peak_tflops: float) -> float:
    """MFU of a finished or running job from its metrics.jsonl: the logged `mfu`, else from tokens_per_s.

    The first logged window is dropped (compilation, warm-up). For tokens_per_s the run's own model,
    seq_len and world size come from the resolved_config.yaml beside the metrics.
    """
    path = Path(metrics_path)
    # training rows only: validation rows ({"step", "val_loss"}) share the file
    rows = [r for r in read_metrics(path) if "val_loss" not in r] if path.is_file() else []
    if not rows:
        raise InputError(f"{path}: no metrics to measure MFU from")
    steady = rows[1:] or rows
    logged = [r["mfu"] for r in steady if isinstance(r.get("mfu"), (int, float)) and r["mfu"] > 0]
    if logged:
        return float(statistics.median(logged))
    resolved = path.parent / "resolved_config.yaml"
    if not resolved.is_file():
        raise InputError(
            f"{path}: rows have no 'mfu' and there is no {resolved.name} beside it to compute one"
        )
    from kazllm.config import build_dataclass

    run_cfg = build_dataclass(
        KazllmConfig, yaml.safe_load(resolved.read_text(encoding="utf-8")), str(resolved)
    )
    _, fpt = model_cost(run_cfg)
    per_device = [r["tokens_per_s_per_device"] for r in steady if r.get("tokens_per_s_per_device")]
    if not per_device:  # older rows: the job's tokens_per_s over its world size (train.nproc of the job)
        per_device = [r["tokens_per_s"] / run_cfg.train.nproc for r in steady if r.get("tokens_per_s")]
    if not per_device:
        raise InputError(f"{path}: rows have neither 'mfu' nor a tokens-per-second figure")
    return statistics.median(per_device) * fpt / (peak_tflops * 1e12)


def estimate(cfg: KazllmConfig, metrics: str | Path | None = None) -> dict:
    """The plan as a dict (also what --out writes)."""
    p, t = cfg.plan, cfg.train
    if p.gpu not in PLANNED_GPUS and not (p.peak_tflops and p.node_power_kw):
        raise ConfigError(
            f"plan.gpu '{p.gpu}' is not one of {', '.join(PLANNED_GPUS)}: "
            "set plan.peak_tflops and plan.node_power_kw for another GPU"
        )
    peak = p.peak_tflops or GPUS[p.gpu].peak_bf16_tflops
    kw_per_gpu = power_per_gpu_kw(p, p.gpu)
    gpus = p.gpus or cfg.slurm.nodes * (cfg.slurm.gpus_per_node or 1)
    tokens_per_step = t.tokens_per_step(gpus)
    tokens = p.tokens or t.steps * tokens_per_step
    mfu, mfu_source = p.mfu, "assumed (plan.mfu)"
    if metrics:
        mfu, mfu_source = measured_mfu(metrics, peak), f"measured ({metrics})"
    params, fpt = model_cost(cfg)
    vocab, vocab_source = vocab_rows(cfg)
    total_flops = tokens * fpt
    seconds = total_flops / (gpus * peak * 1e12 * mfu)
    hours = seconds / 3600
    return {
        "model": cfg.model.preset or cfg.model.init_from or "debug-tiny",
        "init_from": cfg.model.init_from or None,
        "vocab_size": vocab,
        "vocab_source": vocab_source,
        "parameters": params,
        "flops_per_token": fpt,
        "seq_len": t.seq_len,
        "tokens": tokens,
        "tokens_per_parameter": tokens / params,
        "total_flops": total_flops,
        "gpu": p.gpu,
        "gpus": gpus,
        "nodes": math.ceil(gpus / GPUS_PER_NODE),
        "peak_tflops_per_gpu": peak,
        "mfu": mfu,
        "mfu_source": mfu_source,
        "tokens_per_s": gpus * peak * 1e12 * mfu / fpt,
        "tokens_per_step": tokens_per_step,
        "steps": math.ceil(tokens / tokens_per_step),
        "wall_clock_hours": hours,
        "wall_clock_days": hours / 24,
        "gpu_hours": gpus * hours,
        "power_kw": gpus * kw_per_gpu * p.pue,
        "energy_kwh": gpus * kw_per_gpu * hours * p.pue,
        "pue": p.pue,
    }


def render_plan(r: dict) -> str:
    rows = [
        (
            "model",
            f"{r['model']}: {r['parameters'] / 1e9:.2f}B parameters, seq {r['seq_len']}"
            + (f", continued from {r['init_from']}" if r.get("init_from") else ""),
        ),
        ("vocabulary", f"{r['vocab_size']:,} ({r['vocab_source']})"),
        ("FLOPs per token", f"{r['flops_per_token'] / 1e9:.1f} GFLOP (6N + attention)"),
        ("tokens", f"{r['tokens'] / 1e9:.2f}B ({r['tokens_per_parameter']:.1f} per parameter)"),
        ("training compute", f"{r['total_flops']:.3e} FLOP"),
        (
            "GPUs",
            f"{r['gpus']} x {r['gpu']} ({r['nodes']} nodes), "
            f"peak {r['peak_tflops_per_gpu']:.0f} TFLOP/s bf16",
        ),
        ("MFU", f"{r['mfu']:.1%} {r['mfu_source']}"),
        (
            "throughput",
            f"{r['tokens_per_s'] / 1e6:.2f}M tokens/s ({r['tokens_per_s'] / r['gpus']:,.0f} per GPU)",
        ),
        ("steps", f"{r['steps']:,} of {r['tokens_per_step']:,} tokens"),
        ("wall-clock time", f"{r['wall_clock_hours']:.1f} h ({r['wall_clock_days']:.2f} days)"),
        ("GPU-hours", f"{r['gpu_hours']:,.0f}"),
        (
            "energy",
            f"{r['energy_kwh']:,.0f} kWh at {r['power_kw']:.1f} kW (max system power, PUE {r['pue']})",
        ),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)
