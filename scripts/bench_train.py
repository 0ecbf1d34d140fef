"""Training throughput (tokens/s per GPU) and MFU of model presets, per attention kernel and torch.compile.

Every configuration trains through the engine `kazllm train` builds (kazllm.engine.build_engine: the
same model init, AdamW with no-decay groups, LR schedule, DeepSpeed JSON, bf16 on GPU) on random tokens,
single process. Timed steps follow untimed warm-up steps (compilation, allocator). The reference is
eager attention without compile; every other row is measured in the same run. MFU = tokens/s per GPU x
kazllm.model.flops_per_token / peak bf16 FLOP/s (docs/training.md).

    python scripts/bench_train.py                                            # GPU: 125m and 1b at seq 4096
    python scripts/bench_train.py --preset debug-tiny --seq-len 128 --steps 3  # CPU smoke path

Last line: `ratio <best tokens/s over the eager/no-compile baseline>` for the last (largest) preset.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kazllm.config import ModelSection, TrainSection  # noqa: E402
from kazllm.engine import (  # noqa: E402
    build_engine,
    causal_lm_loss,
    deepspeed_config,
    init_distributed,
    liger_installed,
    memory_gib,
    peak_flops,
)
from kazllm.model import build_llama_config, count_parameters, flops_per_token  # noqa: E402


def variants(cuda: bool, with_compile: bool) -> list[dict]:
    """Baseline first; Liger rows last, because Liger patches transformers' Llama classes for good."""
    from transformers.utils import is_flash_attn_2_available

    attns = ["eager", "sdpa"] + (["flash_attention_2"] if cuda and is_flash_attn_2_available() else [])
    rows = [
        dict(attn=a, compile=c, liger=False)
        for a in attns
        for c in ([False, True] if with_compile else [False])
    ]
    if cuda and liger_installed():
        rows += [
            dict(attn=attns[-1], compile=c, liger=True) for c in ([False, True] if with_compile else [False])
        ]
    return rows


def train_step(engine, args, device: torch.device, generator: torch.Generator) -> float:
    window = torch.randint(0, args.vocab_size, (args.micro_batch, args.seq_len + 1), generator=generator)
    window = window.to(device)
    loss = causal_lm_loss(engine, {"input_ids": window[:, :-1], "labels": window[:, 1:]})
    engine.backward(loss)
    engine.step()
    return loss.item()  # .item() synchronises, so the clock sees finished work


def measure(preset: str, v: dict, args, device: torch.device) -> dict:
    cuda = device.type == "cuda"
    config = build_llama_config(ModelSection(preset=preset), args.vocab_size, 1, 2, 0)
    t = TrainSection(
        micro_batch_size=args.micro_batch,
        grad_accum=1,
        seq_len=args.seq_len,
        zero_stage=args.zero_stage,
        steps=1000,
        warmup_steps=1,
        attn_implementation=v["attn"],
        compile=v["compile"],
        liger_kernel=v["liger"],
        activation_checkpointing=args.activation_checkpointing,
        peak_tflops=args.peak_tflops,
    )
    ds_config = deepspeed_config(t, world_size=1, cuda=cuda)
    bf16 = ds_config["bf16"]["enabled"]
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    engines = [build_engine(config, t, ds_config, device, seed=0, log=lambda msg: None)]
    generator = torch.Generator().manual_seed(0)
    try:
        for _ in range(args.warmup):
            train_step(engines[0], args, device, generator)
        if cuda:
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for _ in range(args.steps):
            loss = train_step(engines[0], args, device, generator)
        elapsed = time.perf_counter() - start
    finally:
        engines.clear()  # free the model and optimizer state before the next configuration
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()
        torch._dynamo.reset()
    tokens_per_s = args.steps * t.tokens_per_step(world_size=1) / elapsed
    peak = peak_flops(t, device, bf16)
    return {
        "preset": preset,
        **v,
        "tokens_per_s": tokens_per_s,
        "loss": loss,
        "mfu": tokens_per_s * flops_per_token(config, args.seq_len) / peak if peak else None,
        "memory_gib": memory_gib(device),
        "params": count_parameters(config),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", action="append", help="model preset (repeatable; default 125m and 1b)")
    parser.add_argument("--seq-len", type=int, default=4096)
    parser.add_argument(
        "--micro-batch", type=int, default=0, help="sequences per step (0: 16384 tokens on GPU, 2 on CPU)"
    )
    parser.add_argument("--steps", type=int, default=10, help="timed steps per configuration")
    parser.add_argument("--warmup", type=int, default=0, help="untimed steps first (0: 3 on GPU, 1 on CPU)")
    parser.add_argument(
        "--vocab-size", type=int, default=32768, help="vocabulary (a Kazakh sentencepiece size)"
    )
    parser.add_argument("--zero-stage", type=int, default=1)
    parser.add_argument("--activation-checkpointing", action="store_true")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--peak-tflops", type=float, default=0.0, help="peak TFLOP/s for MFU (0: GPU table)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    device = init_distributed()
    cuda = device.type == "cuda"
    args.micro_batch = args.micro_batch or (max(1, 16384 // args.seq_len) if cuda else 2)
    args.warmup = args.warmup or (3 if cuda else 1)
    presets = args.preset or ["125m", "1b"]
    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(
        f"device {name}, {'bf16' if cuda else 'fp32'}, ZeRO-{args.zero_stage}, seq {args.seq_len}, "
        f"micro-batch {args.micro_batch}, vocab {args.vocab_size}, "
        f"{args.steps} timed steps after {args.warmup}"
    )

    rows, ratios = [], {}
    for preset in presets:
        baseline = None
        print(
            f"\n{preset}: {'attention':<18} {'compile':<8} {'liger':<6} "
            f"{'tokens/s/GPU':>13} {'MFU':>7} {'GiB':>7}"
        )
        for v in variants(cuda, not args.no_compile):
            try:
                row = measure(preset, v, args, device)
            except Exception as e:  # an OOM or a kernel that does not run here: report it, keep measuring
                if baseline is None:
                    raise
                row = {"preset": preset, **v, "error": f"{type(e).__name__}: {str(e).splitlines()[0][:100]}"}
                print(
                    f"{'':<{len(preset) + 2}}{v['attn']:<18} {v['compile']!s:<8} {v['liger']!s:<6} "
                    f"{row['error']}"
                )
                rows.append(row)
                continue
            baseline = baseline or row["tokens_per_s"]
            mfu = f"{row['mfu']:.1%}" if row["mfu"] is not None else "-"
            print(
                f"{'':<{len(preset) + 2}}{v['attn']:<18} {v['compile']!s:<8} {v['liger']!s:<6} "
                f"{row['tokens_per_s']:>13,.0f} {mfu:>7} {row['memory_gib']:>7.1f}",
                flush=True,
            )
            rows.append(row)
        best = max(
            (r for r in rows if r["preset"] == preset and "error" not in r), key=lambda r: r["tokens_per_s"]
        )
        ratios[preset] = best["tokens_per_s"] / baseline
        print(
            f"{preset}: best {best['attn']}{' + compile' if best['compile'] else ''}"
            f"{' + liger' if best['liger'] else ''}"
            f" = {ratios[preset]:.2f}x eager/no-compile"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    print(f"ratio {ratios[presets[-1]]:.3f}")


if __name__ == "__main__":
    main()
