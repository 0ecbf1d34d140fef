"""Peak memory of `kazllm export` against the old export, measured in the same run (issue 12).

Builds a ZeRO-3 checkpoint of a mid-size Llama with the real CLI (prep -> tokenizer -> pretokenize on the
bundled sample, then `kazllm train` for 1 step on 2 gloo ranks), then runs each export in a fresh Python
process and reads that process's own peak memory:

    reference   the old export, kept here as the yardstick: DeepSpeed's non-lazy
                get_fp32_state_dict_from_zero_checkpoint (a full fp32 state dict), LlamaForCausalLM(config) (a
                second full fp32 model, randomly initialised), load_state_dict, save_pretrained, then
                AutoModelForCausalLM.from_pretrained while the first model and the state dict are still alive
    export fp32 `kazllm export export.dtype=fp32` (kazllm/export.py: lazy gather into a meta-device model)
    export bf16 `kazllm export export.dtype=bf16`

Peak RSS is getrusage(RUSAGE_SELF).ru_maxrss of the child (VmHWM agrees); a sampling thread (every 5 ms)
reads RssAnon/RssFile from /proc/self/status at the highest VmRSS it saw, to tell heap from mmap-ed files
(checkpoint partitions, safetensors, shared libraries). Every child imports torch, transformers and DeepSpeed
before its clock starts, so the figures share one baseline. The last line is
`ratio <peak RSS of export fp32 / peak RSS of the reference>` (below 1 = less memory).

    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_export.py            # ~290M params
    PYTHONPATH=. HF_HUB_OFFLINE=1 .venv/bin/python scripts/bench_export.py --quick    # ~30M, a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "quickstart.yaml"
VARIANTS = ("reference", "export-fp32", "export-bf16")
MIB = 1 << 20


# ---------------------------------------------------------------------------------------------------
# The checkpoint: a real run directory, built with the CLI
# ---------------------------------------------------------------------------------------------------


def run_overrides(out: Path, hidden: int, layers: int) -> list[str]:
    """Config overrides on configs/quickstart.yaml: the run directory and the model shape (Llama proportions:
    head dim 64, half as many KV heads, SwiGLU width 8/3 x hidden rounded up to 256)."""
    heads = max(1, hidden // 64)
    intermediate = -(-hidden * 8 // 3 // 256) * 256
    return [
        f"run.out_dir={out}",
        "tokenizer.vocab_size=4000",
        "tokenizer.parity_lines=200",
        f"model.overrides.hidden_size={hidden}",
        f"model.overrides.num_hidden_layers={layers}",
        f"model.overrides.num_attention_heads={heads}",
        f"model.overrides.num_key_value_heads={max(1, heads // 2)}",
        f"model.overrides.intermediate_size={intermediate}",
    ]


TRAIN_OVERRIDES = [
    "train.nproc=2",
    "train.zero_stage=3",
    "train.steps=1",
    "train.save_every=1",
    "train.keep_last=1",
    "train.seq_len=64",
    "train.micro_batch_size=1",
    "train.warmup_steps=0",
    "train.log_every=1",
    "train.eval_every=0",
    "train.eval_sequences=1",
]


def kazllm(*args: str) -> None:
    """One real `kazllm` command in a subprocess; its output is shown only when it fails."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "kazllm.cli", *args], cwd=REPO, capture_output=True, text=True, env=child_env()
    )
    if result.returncode != 0:
        sys.exit(
            f"`kazllm {' '.join(args[:2])}` failed ({result.returncode}):\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    print(
        f"  kazllm {args[0]}{' ' + args[1] if args[0] == 'tokenizer' else ''}: "
        f"{time.perf_counter() - start:.1f} s",
        flush=True,
    )


def child_env() -> dict[str, str]:
    env = dict(
        os.environ,
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        WANDB_MODE="offline",
        TOKENIZERS_PARALLELISM="false",
    )
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    return env


def build_checkpoint(out: Path, overrides: list[str]) -> None:
    if (out / "checkpoints" / "latest").is_file():
        print(f"reusing the checkpoint in {out}/checkpoints", flush=True)
        return
    print(f"building a ZeRO-3 checkpoint in {out}", flush=True)
    config = ["--config", str(CONFIG), *overrides]
    if not (out / "shards" / "manifest.json").is_file():
        kazllm("prep", *config)
        kazllm("tokenizer", "train", *config)
        kazllm("pretokenize", *config)
    kazllm("train", *config, *TRAIN_OVERRIDES)


def checkpoint_facts(out: Path) -> dict:
    """Parameters (from the saved model config), fp32 weight size and the checkpoint's size on disk."""
    from transformers import LlamaConfig

    from kazllm.artifacts import read_json
    from kazllm.model import count_parameters

    ckpt = out / "checkpoints"
    tag = (ckpt / "latest").read_text().strip()
    meta = read_json(ckpt / tag / "kazllm_checkpoint.json")
    params = count_parameters(LlamaConfig.from_dict(meta["model_config"]))
    disk = sum(p.stat().st_size for p in (ckpt / tag).rglob("*") if p.is_file())
    return {
        "tag": tag,
        "params": params,
        "fp32_mib": params * 4 / MIB,
        "disk_mib": disk / MIB,
        "shape": f"{meta['model_config']['num_hidden_layers']} x {meta['model_config']['hidden_size']}",
    }


# ---------------------------------------------------------------------------------------------------
# Inside a child: one export, its own peak memory
# ---------------------------------------------------------------------------------------------------


def status_kib() -> dict[str, int]:
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile", "RssShmem"):
                fields[key] = int(value.split()[0])
    return fields


class PeakSampler(threading.Thread):
    """Polls /proc/self/status; keeps the sample with the highest VmRSS (its anon/file split) and the highest
    RssAnon. A sampler can miss a peak shorter than its interval: ru_maxrss, kept by the kernel, cannot."""

    def __init__(self, interval: float = 0.005):
        super().__init__(daemon=True)
        self.interval, self.stop, self.at_peak, self.max_anon = interval, threading.Event(), status_kib(), 0

    def run(self) -> None:
        while not self.stop.is_set():
            now = status_kib()
            if now["VmRSS"] > self.at_peak["VmRSS"]:
                self.at_peak = now
            self.max_anon = max(self.max_anon, now["RssAnon"])
            time.sleep(self.interval)


def reference_export(out: Path, tag: str, export_dir: Path) -> float:
    """THE REFERENCE: the export as it was before issue 12. Returns the max |Δlogit| of its reload check."""
    import torch
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from kazllm.artifacts import read_json
    from kazllm.export import PROBE_TEXT

    ckpt = out / "checkpoints"
    meta = read_json(ckpt / tag / "kazllm_checkpoint.json")
    state = get_fp32_state_dict_from_zero_checkpoint(str(ckpt), tag=tag)  # every weight, fp32, in memory
    model = LlamaForCausalLM(LlamaConfig.from_dict(meta["model_config"]))  # a second fp32 copy
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - {"lm_head.weight"}:
        raise SystemExit(f"reference: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(str(out / "tokenizer" / "hf"))
    ids = tokenizer(PROBE_TEXT, return_tensors="pt").input_ids
    with torch.no_grad():
        before = model(ids).logits
    model.save_pretrained(str(export_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(export_dir))
    reloaded = AutoModelForCausalLM.from_pretrained(str(export_dir)).eval()  # `model` and `state` still alive
    with torch.no_grad():
        after = reloaded(ids).logits
    return (after - before).abs().max().item()


def child(variant: str, out: Path, overrides: list[str], tag: str) -> None:
    # The same imports before the clock in every variant: they are the baseline, not the export.
    import deepspeed.utils.zero_to_fp32  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401

    from kazllm import cli

    baseline = status_kib()
    sampler = PeakSampler()
    sampler.start()
    start = time.perf_counter()
    diff = None
    if variant == "reference":
        diff = reference_export(out, tag, out / "reference_export")
    else:
        cli.main(["export", "--config", str(CONFIG), *overrides, f"export.dtype={variant.split('-')[1]}"])
    wall = time.perf_counter() - start
    sampler.stop.set()
    sampler.join()
    final = status_kib()
    print(
        "RESULT "
        + json.dumps(
            {
                "wall_s": wall,
                "ru_maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "vmhwm_kib": final["VmHWM"],
                "baseline_kib": baseline["VmRSS"],
                "peak_sample": sampler.at_peak,
                "max_anon_kib": sampler.max_anon,
                "ref_logit_diff": diff,
            }
        ),
        flush=True,
    )


def measure(variant: str, out: Path, overrides: list[str], tag: str) -> dict:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        variant,
        "--work",
        str(out),
        "--tag",
        tag,
        "--overrides-json",
        json.dumps(overrides),
    ]
    result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=child_env())
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("RESULT ")]
    if result.returncode != 0 or not lines:
        sys.exit(f"{variant} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT ") :])


# ---------------------------------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hidden", type=int, default=1024, help="hidden size (default 1024)")
    ap.add_argument("--layers", type=int, default=24, help="decoder layers (default 24: ~290M parameters)")
    ap.add_argument("--quick", action="store_true", help="a ~30M model (8 x 512) for a smoke run")
    ap.add_argument("--work", type=Path, help="run directory to build or reuse (default: a temporary one)")
    ap.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    ap.add_argument("--tag", help=argparse.SUPPRESS)
    ap.add_argument("--overrides-json", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        return child(args.child, args.work, json.loads(args.overrides_json), args.tag)
    if args.quick:
        args.hidden, args.layers = 512, 8

    with tempfile.TemporaryDirectory(prefix="bench_export_") as tmp:
        out = (args.work or Path(tmp) / "run").resolve()
        overrides = run_overrides(out, args.hidden, args.layers)
        build_checkpoint(out, overrides)
        facts = checkpoint_facts(out)
        results = {}
        for variant in VARIANTS:
            results[variant] = measure(variant, out, overrides, facts["tag"])
            print(
                f"  {variant}: {results[variant]['ru_maxrss_kib'] / 1024:.0f} MiB, "
                f"{results[variant]['wall_s']:.1f} s",
                flush=True,
            )

    print(
        f"\nmodel {facts['shape']}, {facts['params'] / 1e6:.1f}M parameters, fp32 weights "
        f"{facts['fp32_mib']:.0f} MiB, ZeRO-3 checkpoint {facts['tag']} on disk {facts['disk_mib']:.0f} MiB "
        f"(weights + Adam states); child baseline after imports "
        f"{results['reference']['baseline_kib'] / 1024:.0f} MiB"
    )
    print(
        "| variant | peak RSS MiB (ru_maxrss) | VmHWM MiB | at sampled peak: anon / file MiB | max anon MiB "
        "| wall s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for variant in VARIANTS:
        r = results[variant]
        peak = r["peak_sample"]
        print(
            f"| {variant} | {r['ru_maxrss_kib'] / 1024:.0f} | {r['vmhwm_kib'] / 1024:.0f} | "
            f"{peak['RssAnon'] / 1024:.0f} / {peak['RssFile'] / 1024:.0f} | {r['max_anon_kib'] / 1024:.0f} | "
            f"{r['wall_s']:.1f} |"
        )
    print(f"reference reload check: max |Δlogit| {results['reference']['ref_logit_diff']:.3g}")
    print(f"ratio {results['export-fp32']['ru_maxrss_kib'] / results['reference']['ru_maxrss_kib']:.4f}")


if __name__ == "__main__":
    main()
