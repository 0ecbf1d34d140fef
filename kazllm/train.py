"""`kazllm train`: a LlamaForCausalLM trained with DeepSpeed (ZeRO stage from config) on shards/.

Launch: `kazllm train --config X` starts `train.nproc` ranks with torchrun (gloo on CPU, NCCL on GPU)
unless it already runs under a launcher (torchrun, deepspeed, srun), in which case each process is
one rank. Outputs in <run>/checkpoints/: DeepSpeed checkpoint `stepN/` (+ `latest`), metrics.jsonl,
loss_curve.png, resolved_config.yaml and manifest.json.

    kazllm train --config configs/quickstart.yaml train.steps=50
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from kazllm.artifacts import progress_interval, read_json, require_stage, write_json, write_stage_manifest
from kazllm.config import KazllmConfig, config_to_dict, dump_config, load_config
from kazllm.data import SequenceLoader, TokenShardReader
from kazllm.errors import KazllmError
from kazllm.model import build_llama_config, count_parameters, flops_per_token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def under_launcher() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


def launch_training(cfg: KazllmConfig) -> None:
    """Entry point of `kazllm train`: run in-process, or start torchrun with `train.nproc` ranks."""
    shards_dir = require_stage(cfg, "shards", "kazllm pretokenize")
    # Check there is at least one batch here, so a bad setting is one message, not a traceback per rank.
    t = cfg.train
    SequenceLoader(TokenShardReader(shards_dir), t.seq_len, t.micro_batch_size, 0, t.nproc, cfg.run.seed)
    ckpt_dir = cfg.stage_dir("checkpoints")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    resolved = dump_config(cfg, ckpt_dir / "resolved_config.yaml")
    if under_launcher() or cfg.train.nproc == 1:
        Trainer(cfg).train()
        return
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(cfg.train.nproc),
        "--master_addr", "127.0.0.1", "--master_port", str(free_port()),
        "-m", "kazllm.train", "--config", str(resolved),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    result = subprocess.run(cmd, env=env)
    if result.returncode != 0:
        raise SystemExit(result.returncode)


def lr_lambda(cfg: KazllmConfig):
    """Linear warmup, then cosine decay to `min_lr_ratio` of the peak."""
    t = cfg.train

    def factor(step: int) -> float:
        if step < t.warmup_steps:
            return (step + 1) / t.warmup_steps
        progress = (step - t.warmup_steps) / max(1, t.steps - t.warmup_steps)
        return t.min_lr_ratio + (1 - t.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))

    return factor


def deepspeed_config(cfg: KazllmConfig, world_size: int, bf16: bool) -> dict:
    t = cfg.train
    return {
        "train_micro_batch_size_per_gpu": t.micro_batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "train_batch_size": t.micro_batch_size * t.grad_accum * world_size,
        "gradient_clipping": t.grad_clip,
        "zero_optimization": {"stage": t.zero_stage},
        "bf16": {"enabled": bf16},
        "fp16": {"enabled": False},
        # We pass torch's AdamW (DeepSpeed's fused/CPU Adam would JIT-compile ~50 s on CPU).
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 1 << 30,
        "wall_clock_breakdown": False,
    }


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """No weight decay on norms and biases (1-D tensors); decay on matrices and embeddings."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class Trainer:
    def __init__(self, cfg: KazllmConfig):
        import deepspeed
        from transformers import LlamaForCausalLM

        logging.getLogger("DeepSpeed").setLevel(logging.WARNING)
        self.cfg = cfg
        t = cfg.train
        if not under_launcher():  # a single process without a launcher still needs a process group
            os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1")
            os.environ.setdefault("MASTER_PORT", str(free_port()))
        use_cuda = torch.cuda.is_available()
        deepspeed.init_distributed(dist_backend="nccl" if use_cuda else "gloo")
        self.rank, self.world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        if use_cuda:
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        self.device = torch.device("cuda", int(os.environ["LOCAL_RANK"])) if use_cuda else torch.device("cpu")
        self.bf16 = t.precision == "bf16" or (t.precision == "auto" and use_cuda)

        shards_dir = require_stage(cfg, "shards", "kazllm pretokenize")
        tok = read_json(cfg.stage_dir("tokenizer") / "manifest.json")["special_tokens"]
        self.train_reader = TokenShardReader(shards_dir, "train")
        self.val_reader = TokenShardReader(shards_dir, "val")
        self.model_config = build_llama_config(
            cfg.model, self.train_reader.manifest["vocab_size"], tok["bos"]["id"], tok["eos"]["id"], tok["pad"]["id"]
        )
        torch.manual_seed(cfg.run.seed)  # identical init on every rank and every run
        model = LlamaForCausalLM(self.model_config)
        optimizer = torch.optim.AdamW(param_groups(model, t.weight_decay), lr=t.lr, betas=(0.9, 0.95), eps=1e-8)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
        self.ds_config = deepspeed_config(cfg, self.world_size, self.bf16)
        self.engine, _, _, _ = deepspeed.initialize(
            model=model, optimizer=optimizer, lr_scheduler=scheduler, config=self.ds_config
        )
        self.loader = SequenceLoader(
            self.train_reader, t.seq_len, t.micro_batch_size, self.rank, self.world_size, cfg.run.seed
        )
        self.ckpt_dir = cfg.stage_dir("checkpoints")
        self.metrics_path = self.ckpt_dir / "metrics.jsonl"
        self.step = 0
        self.wandb_run = None
        self.n_params = count_parameters(self.model_config)
        self.flops_per_token = flops_per_token(self.model_config, t.seq_len)

    # -- logging ---------------------------------------------------------------------------------------
    def log(self, msg: str) -> None:
        if self.rank == 0:
            print(msg, flush=True)

    def start_logging(self) -> None:
        if self.rank != 0:
            return
        write_json(self.ckpt_dir / "deepspeed_config.json", self.ds_config)
        self.metrics_path.unlink(missing_ok=True)
        if self.cfg.train.wandb.enabled:
            import wandb

            os.environ.setdefault("WANDB_MODE", self.cfg.train.wandb.mode)
            self.wandb_run = wandb.init(
                project=self.cfg.train.wandb.project, mode=self.cfg.train.wandb.mode,
                dir=str(self.ckpt_dir), config=config_to_dict(self.cfg),
            )

    def record(self, metrics: dict) -> None:
        if self.rank != 0:
            return
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(metrics) + "\n")
        if self.wandb_run is not None:
            self.wandb_run.log(metrics, step=metrics["step"])

    # -- the loop --------------------------------------------------------------------------------------
    def train_step(self) -> float:
        """One optimizer step = grad_accum micro-batches; returns the loss averaged over ranks."""
        total = torch.zeros((), device=self.device)
        for _ in range(self.cfg.train.grad_accum):
            batch = {k: v.to(self.device) for k, v in self.loader.next_micro_batch().items()}
            loss = self.compute_loss(batch)
            self.engine.backward(loss)
            self.engine.step()
            total += loss.detach().float()
        total /= self.cfg.train.grad_accum
        torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.SUM)
        return total.item() / self.world_size

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self.engine(input_ids=batch["input_ids"]).logits
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), batch["labels"].reshape(-1))

    @torch.no_grad()
    def validation_loss(self, max_sequences: int = 64) -> float | None:
        """Mean loss over the first validation windows (same windows on every call)."""
        n = min(self.val_reader.num_sequences(self.cfg.train.seq_len), max_sequences)
        if n == 0:
            return None
        self.engine.eval()
        seq_len = self.cfg.train.seq_len
        losses = []
        for i in range(self.rank, n, self.world_size):
            window = torch.from_numpy(self.val_reader.sequence(i, seq_len).astype("int64"))[None].to(self.device)
            losses.append(self.compute_loss({"input_ids": window[:, :-1], "labels": window[:, 1:]}))
        self.engine.train()
        local = torch.stack(losses).sum() if losses else torch.zeros((), device=self.device)
        stats = torch.stack([local, torch.tensor(float(len(losses)), device=self.device)])
        torch.distributed.all_reduce(stats)
        return (stats[0] / stats[1]).item()

    def save_checkpoint(self) -> Path:
        tag = f"step{self.step}"
        self.engine.save_checkpoint(
            str(self.ckpt_dir), tag=tag, client_state={"step": self.step, "loader": self.loader.state_dict()}
        )
        if self.rank == 0:
            write_json(self.ckpt_dir / tag / "kazllm_checkpoint.json", {
                "step": self.step,
                "loader": self.loader.state_dict(),
                "model_config": self.model_config.to_dict(),
                "world_size": self.world_size,
                "zero_stage": self.cfg.train.zero_stage,
            })
        return self.ckpt_dir / tag

    def train(self) -> dict:
        t = self.cfg.train
        self.start_logging()
        tokens_per_step = t.micro_batch_size * t.grad_accum * self.world_size * t.seq_len
        self.log(
            f"model {self.cfg.model.preset}: {self.n_params / 1e6:.2f}M parameters, "
            f"{self.flops_per_token / 1e6:.1f} MFLOPs/token | ZeRO-{t.zero_stage}, {self.world_size} rank(s), "
            f"{'bf16' if self.bf16 else 'fp32'} on {self.device.type} | {tokens_per_step} tokens/step, "
            f"{self.train_reader.num_tokens} training tokens"
        )
        from tqdm import tqdm

        bar = tqdm(total=t.steps, desc="train", unit="step", disable=self.rank != 0, mininterval=progress_interval())
        first_loss = last_loss = float("nan")
        window_start, window_tokens = time.perf_counter(), 0
        while self.step < t.steps:
            loss = self.train_step()
            self.step += 1
            window_tokens += tokens_per_step
            first_loss = loss if self.step == 1 else first_loss
            last_loss = loss
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")
            if self.step % t.log_every == 0 or self.step == t.steps:
                elapsed = time.perf_counter() - window_start
                self.record({
                    "step": self.step,
                    "loss": round(loss, 5),
                    "lr": self.engine.get_lr()[0],
                    "grad_norm": float(self.engine.get_global_grad_norm() or 0.0),
                    "tokens_per_s": round(window_tokens / elapsed, 1),
                    "tokens_seen": self.step * tokens_per_step,
                })
                window_start, window_tokens = time.perf_counter(), 0
        bar.close()
        val_loss = self.validation_loss()
        checkpoint = self.save_checkpoint()
        summary = {
            "steps": self.step,
            "first_loss": first_loss,
            "last_loss": last_loss,
            "val_loss": val_loss,
            "checkpoint": checkpoint.name,
            "parameters": self.n_params,
            "world_size": self.world_size,
        }
        if self.rank == 0:
            write_stage_manifest(self.cfg, "checkpoints", latest=checkpoint.name, summary=summary)
            plot_loss_curve(self.metrics_path, self.ckpt_dir / "loss_curve.png")
            self.log(f"loss {first_loss:.3f} -> {last_loss:.3f}, validation loss {val_loss}; checkpoint {checkpoint}")
        if self.wandb_run is not None:
            self.wandb_run.finish()
        torch.distributed.barrier()
        return summary


def plot_loss_curve(metrics_path: Path, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [json.loads(line) for line in metrics_path.read_text().splitlines() if line.strip()]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in rows], [r["loss"] for r in rows], marker="o", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title("kazllm training loss")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Worker entry point under torchrun: `python -m kazllm.train --config resolved.yaml`."""
    parser = argparse.ArgumentParser(description="kazllm training worker (one rank); use `kazllm train` instead.")
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    try:
        Trainer(load_config(args.config)).train()
    except KazllmError as e:
        print(f"kazllm: error (rank {os.environ.get('RANK', '?')}): {e}", file=sys.stderr)
        raise SystemExit(2) from None
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
