"""`kazllm train`: a Llama-3-style decoder trained with DeepSpeed (ZeRO stage from config) on shards/.

Launch: `kazllm train --config X` starts `train.nproc` ranks with torchrun (gloo on CPU, NCCL on GPU)
unless it already runs under a launcher (torchrun, deepspeed, srun), in which case each process is
one rank. Outputs in <run>/checkpoints/: DeepSpeed checkpoints `stepN/` (+ `latest`), metrics.jsonl
(train and validation lines), loss_curve.png, deepspeed_config.json, resolved_config.yaml, manifest.json.

    kazllm train --config configs/quickstart.yaml train.steps=50
    torchrun --nproc_per_node 8 -m kazllm.train --config configs/quickstart.yaml
    deepspeed --num_gpus 8 --module kazllm.train --config configs/quickstart.yaml

docs/training.md explains every metric (MFU formula included) and the DeepSpeed JSON precedence.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from kazllm import checkpoint as ckpt
from kazllm.artifacts import (
    dump_config,
    progress_interval,
    read_json,
    read_metrics,
    require_stage,
    write_json,
    write_stage_manifest,
    write_text_atomic,
)
from kazllm.checkpoint import EXIT_REQUEUE  # also read by job scripts as kazllm.train.EXIT_REQUEUE
from kazllm.config import KazllmConfig, config_to_dict, load_config, resolve_path
from kazllm.data import SequenceLoader
from kazllm.engine import (
    LAUNCHER_PID_ENV,
    EmbeddingFreeze,
    build_engine,
    causal_lm_loss,
    deepspeed_config,
    die_with_parent,
    free_port,
    init_distributed,
    memory_gib,
    peak_flops,
    under_launcher,
    watch_launcher,
)
from kazllm.errors import ConfigError, InputError, KazllmError
from kazllm.model import (
    build_llama_config,
    count_parameters,
    describe,
    flops_per_token,
    pretrained_llama_config,
)
from kazllm.model_extend import EMBEDDING_INIT  # tokenizer/hf/embedding_init.json of an extended tokenizer
from kazllm.shards import TokenShardReader

# ---------------------------------------------------------------------------------------------------
# Launching
# ---------------------------------------------------------------------------------------------------


RANK_ERROR_ENV = "KAZLLM_RANK_ERRORS"
"""A directory `kazllm train` gives its ranks: a rank's KazllmError message goes to rank<R>.txt there, and
the launcher prints that one line instead of torchrun's ChildFailedError report."""


def launch_training(cfg: KazllmConfig) -> None:
    """Entry point of `kazllm train`: run in-process, or start torchrun with `train.nproc` ranks.

    Everything that can be checked without the ranks is checked here first (each problem one line), then
    the checkpoint directory's lock is taken (ckpt.RunLock: by this launcher, or by rank 0 under an outside
    launcher). A rerun of a finished run does nothing."""
    shards_dir = require_stage(cfg, "shards", "kazllm pretokenize")
    t = cfg.train
    world_size = int(os.environ["WORLD_SIZE"]) if under_launcher() else t.nproc
    # Check data, model and the DeepSpeed JSON here, so a bad setting is one message, not a traceback per
    # rank.
    reader = TokenShardReader(shards_dir)
    SequenceLoader(
        reader,
        t.seq_len,
        t.micro_batch_size,
        0,
        world_size,
        cfg.run.seed,
        mixture=t.mixture,
        document_masking=t.document_masking,
    )
    deepspeed_config(t, world_size, torch.cuda.is_available())
    if not cfg.model.init_from:  # model.preset exists and model.overrides are LlamaConfig fields
        build_llama_config(cfg.model, int(reader.manifest["vocab_size"]), 1, 2, 0)
    ckpt_dir = cfg.stage_dir("checkpoints")
    check_freeze(cfg)
    rank0 = os.environ.get("RANK", "0") == "0"
    first = rank0 and not (
        under_launcher() and os.environ.get(LAUNCHER_PID_ENV)
    )  # not a rank of `kazllm train`
    if (
        t.warmup_steps > t.steps
    ):  # checked here, not in TrainSection: a config file may set one, the command line the other
        raise ConfigError(
            f"train.warmup_steps={t.warmup_steps} > train.steps={t.steps}: the learning rate would never "
            f"reach train.lr={t.lr:g}; set train.warmup_steps <= train.steps"
        )
    lock = None
    if first:  # the job's lock: this process (launcher, single process, or rank 0 under an outside launcher)
        lock = ckpt.RunLock(ckpt_dir).acquire()
        if lock.taken_over is not None:
            old = lock.taken_over
            print(
                f"warning: took over the stale lock of {ckpt_dir} (pid {old.get('pid')} on host "
                f"{old.get('host')} is gone)",
                file=sys.stderr,
                flush=True,
            )
    try:
        finished = finished_checkpoint(cfg, ckpt_dir)
        if finished is not None:
            if rank0:
                print(
                    f"kazllm train: {ckpt_dir} already holds the finished run ({finished.name} of "
                    f"train.steps={t.steps}, manifest.json): nothing to do (raise train.steps to train on, "
                    "or set train.resume=never to start over)",
                    flush=True,
                )
            return
        if cfg.model.init_from and not will_resume(cfg, ckpt_dir):
            plan_init_from(cfg)  # resolve (download) and check the base model once, before any rank starts
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        resolved = ckpt_dir / "resolved_config.yaml"
        if rank0:
            # the out_dir a relative run.out_dir meant here, for ranks and attempts started elsewhere
            cfg.run.out_dir = str(cfg.out_dir)
            dump_config(cfg, resolved)
        started = time.time()
        if under_launcher() or t.nproc == 1:
            # installed before the trainer builds anything: a request during a long model load stops at step 1
            with ckpt.PreemptionSignals() as signals:
                Trainer(cfg, signals).train()
            exit_if_preempted(ckpt_dir, started)
            return
        run_torchrun(cfg, resolved, ckpt_dir, started)
    finally:
        if lock is not None:
            lock.release()


def run_torchrun(cfg: KazllmConfig, resolved: Path, ckpt_dir: Path, started: float) -> None:
    """Start `train.nproc` ranks through torchrun's agent (run_torchrun_agent) and wait for them.

    No process outlives this one: the agent and every rank die with their parent (PR_SET_PDEATHSIG) and watch
    this pid. A signal here (TERM, INT, HUP, USR1) becomes the PREEMPT file the ranks poll: they save and stop
    after the current step, and the run exits with EXIT_REQUEUE; a second TERM/INT/HUP ends it at once.
    """
    errors = Path(tempfile.mkdtemp(prefix="kazllm-rank-errors-"))
    cmd = [
        sys.executable,
        "-m",
        "kazllm.train",
        "--torchrun",
        "--nproc_per_node",
        str(cfg.train.nproc),
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        "-m",
        "kazllm.train",
        "--config",
        str(resolved),
    ]
    env = {
        **os.environ,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        LAUNCHER_PID_ENV: str(os.getpid()),
        RANK_ERROR_ENV: str(errors),
    }
    requested: list[int] = []

    def request_stop(signum, _frame):
        if requested and signum != signal.SIGUSR1:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)  # the second one: end now (the ranks die with the agent)
        requested.append(signum)
        (ckpt_dir / ckpt.PREEMPT_FILE).touch()

    stop_signals = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1)
    previous = {sig: signal.signal(sig, request_stop) for sig in stop_signals}
    try:
        proc = subprocess.Popen(cmd, env=env)
        while proc.poll() is None:
            try:
                proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                if requested:  # a rank that started after the first touch would take it for a stale file
                    (ckpt_dir / ckpt.PREEMPT_FILE).touch()
        exit_if_preempted(ckpt_dir, started)
        if proc.returncode != 0:
            message = rank_error(errors)
            if message is not None:
                raise KazllmError(message)
            print(
                f"kazllm train: a rank failed (exit code {proc.returncode}); its own output is above",
                file=sys.stderr,
                flush=True,
            )
            raise SystemExit(proc.returncode)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(errors, ignore_errors=True)


def rank_error(errors: Path) -> str | None:
    """The KazllmError message of the lowest rank that reported one (run_torchrun), or None."""
    found = sorted(
        errors.glob("rank*.txt"), key=lambda p: int(p.stem[4:]) if p.stem[4:].isdigit() else 1 << 30
    )
    return found[0].read_text(encoding="utf-8").strip() if found else None


def run_torchrun_agent(argv: list[str]) -> None:
    """`python -m kazllm.train --torchrun ARGS`: torchrun's agent, bound to its launcher's life, reporting a
    failed rank by its exit code instead of torchrun's ChildFailedError traceback and table (the rank
    printed its own error, or wrote it for the launcher: RANK_ERROR_ENV)."""
    die_with_parent(expected_parent=int(os.environ.get(LAUNCHER_PID_ENV) or 0) or None)
    watch_launcher()
    import logging

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    if (
        "LOGLEVEL" not in os.environ
    ):  # torchrun logs each failed or stopped rank itself; the launcher reports it
        for name in [n for n in logging.root.manager.loggerDict if n.startswith("torch.distributed")]:
            logging.getLogger(name).setLevel(logging.CRITICAL)

    try:
        run(parse_args(argv))
    except ChildFailedError as e:
        code = e.get_first_failure()[1].exitcode
        raise SystemExit(code if code > 0 else 128 - code if code < 0 else 1) from None


def finished_checkpoint(cfg: KazllmConfig, ckpt_dir: Path) -> Path | None:
    """The final checkpoint when this run already finished (resumable, its last step reached, checksums good,
    manifest.json written by the end of the run), else None: a rerun then has nothing to do."""
    if cfg.train.resume == "never":
        return None
    published = ckpt.published_checkpoints(ckpt_dir)
    manifest = ckpt_dir / "manifest.json"
    if not published or not manifest.is_file():
        return None
    last = published[-1]
    try:
        step = int(read_json(last / ckpt.META_FILE)["step"])
        summary = read_json(manifest).get("summary") or {}
    except (InputError, KeyError, TypeError, ValueError):
        return None
    if step < cfg.train.steps or not summary.get("completed") or summary.get("checkpoint") != last.name:
        return None
    return last if not ckpt.verify_checkpoint(last) else None


def exit_if_preempted(ckpt_dir: Path, started: float) -> None:
    """Exit with EXIT_REQUEUE (75) when the ranks stopped for preemption during this attempt."""
    record = ckpt.preempted_since(ckpt_dir, started)
    if record is not None:
        if os.environ.get("RANK", "0") == "0":
            print(
                f"kazllm train: stopped at step {record['step']} ({record['reason']}), checkpoint saved; "
                f"exit code {EXIT_REQUEUE} asks the job script to requeue",
                file=sys.stderr,
                flush=True,
            )
        raise SystemExit(EXIT_REQUEUE)


# ---------------------------------------------------------------------------------------------------
# Continued pretraining: the starting weights (model.init_from) and the freeze phase
# ---------------------------------------------------------------------------------------------------

WANDB_ID_FILE = "wandb_id"
"""<run>/checkpoints/wandb_id: the W&B run id every attempt of this training run logs to."""
INIT_MODEL_DIR = "init_model"
"""<run>/init_model: model.init_from with its embeddings resized to the run's extended tokenizer."""
INIT_RECORD = "init_from.json"
"""<run>/checkpoints/init_from.json: which base model step 0 started from (read by `kazllm export`)."""


@dataclass
class InitPlan:
    """Where the weights of step 0 come from when a run continues a base model."""

    base: object
    """kazllm.hub.ResolvedModel of model.init_from (path, source, repo_id, revision)."""
    config: object
    """The base checkpoint's LlamaConfig with model.overrides."""
    resize: bool
    """tokenizer/hf extends the base's tokenizer: the embeddings must grow first (as
    `kazllm model extend`)."""


def tokenizer_dir(cfg: KazllmConfig) -> Path:
    return cfg.stage_dir("tokenizer") / "hf"


def embedding_init(cfg: KazllmConfig) -> dict | None:
    """tokenizer/hf/embedding_init.json of an extended tokenizer ({"base_vocab_size", "vocab_size", "new",
    ...})."""
    path = tokenizer_dir(cfg) / EMBEDDING_INIT
    return read_json(path) if path.is_file() else None


def tokenizer_vocab(hf_dir: Path) -> dict[str, int] | None:
    """Token -> id of a Hugging Face directory's tokenizer.json, added tokens included (None without one)."""
    from kazllm.model_extend import read_vocab

    path = Path(hf_dir) / "tokenizer.json"
    return read_vocab(path) if path.is_file() else None


def will_resume(cfg: KazllmConfig, ckpt_dir: Path) -> bool:
    """Whether this start continues a checkpoint, which brings every weight: model.init_from is then not
    read."""
    mode = cfg.train.resume
    return mode != "never" and (mode != "auto" or bool(ckpt.published_checkpoints(ckpt_dir)))


def check_freeze(cfg: KazllmConfig) -> None:
    """train.freeze_steps trains only the new tokens' embedding rows of a base model: both must exist."""
    t = cfg.train
    if not t.freeze_steps:
        return
    if not cfg.model.init_from:
        raise ConfigError(
            f"train.freeze_steps={t.freeze_steps} needs model.init_from: the phase trains the new "
            "tokens' embeddings of a base model while the rest stays frozen"
        )
    init = embedding_init(cfg)
    if init is None or int(init["vocab_size"]) <= int(init["base_vocab_size"]):
        raise ConfigError(
            f"train.freeze_steps={t.freeze_steps}: {tokenizer_dir(cfg)} adds no tokens to the base "
            f"(no {EMBEDDING_INIT} with new ids): extend the base's tokenizer (tokenizer.extend_base) "
            "or set train.freeze_steps=0"
        )


def plan_init_from(cfg: KazllmConfig) -> InitPlan:
    """Resolve model.init_from (a directory or a hub id, downloaded once), check that it is a Llama in
    safetensors without remote code, read its architecture and decide whether its embeddings need resizing.
    Every problem is a one-line ConfigError/InputError, raised before any rank starts (launch_training)."""
    from kazllm.hub import check_llama_checkpoint, resolve_pretrained

    base = resolve_pretrained(cfg.model.init_from, "model.init_from")
    check_llama_checkpoint(base.path, "model.init_from")
    config = pretrained_llama_config(base.path, cfg.model)
    return InitPlan(base, config, needs_resize(cfg, Path(base.path), config.vocab_size))


def needs_resize(cfg: KazllmConfig, base_dir: Path, rows: int) -> bool:
    """Whether the base's embeddings must first grow to the run's tokenizer (tokenizer/hf).

    No when tokenizer/hf is the base's own tokenizer (or the one the checkpoint was already extended to):
    every token the base knows has the same id. Yes when it extends the base's tokenizer: more tokens, the
    base's ids unchanged, and an embedding_init.json made from this base. Anything else would pair tokens
    with another token's embedding row, so it is an InputError.
    """
    spec, tok_dir = cfg.model.init_from, tokenizer_dir(cfg)
    ours, theirs, init = tokenizer_vocab(tok_dir), tokenizer_vocab(base_dir), embedding_init(cfg)
    if ours is None:
        raise InputError(
            f"{tok_dir} has no tokenizer.json: run `kazllm tokenizer train` (tokenizer.extend_base={spec})"
        )
    if (
        theirs is None
    ):  # a checkpoint without a fast tokenizer: only the sizes and embedding_init.json can tell
        if init is None and len(ours) > rows:
            raise InputError(
                f"{tok_dir} has {len(ours):,} tokens but model.init_from '{spec}' only {rows:,} "
                f"embedding rows and there is no {EMBEDDING_INIT} to initialise the others"
            )
        return init is not None
    if len(ours) < len(theirs):
        raise InputError(
            f"{tok_dir} ({len(ours):,} tokens) is smaller than the tokenizer of model.init_from '{spec}' "
            f"({len(theirs):,}): train with the base's tokenizer or an extension of it "
            f"(tokenizer.extend_base={spec})"
        )
    moved = [(token, i, ours.get(token)) for token, i in theirs.items() if ours.get(token) != i]
    if moved:
        token, i, j = moved[0]
        raise InputError(
            f"{tok_dir} is neither the tokenizer of model.init_from '{spec}' nor an extension of it "
            f"({len(moved):,} of its {len(theirs):,} tokens differ, e.g. {token!r}: id {i} there, {j} here): "
            f"set tokenizer.extend_base={spec} and rerun `kazllm tokenizer train` and `kazllm pretokenize`"
        )
    if len(ours) == len(theirs):
        if rows < len(ours):
            raise InputError(
                f"model.init_from '{spec}' has {rows:,} embedding rows for its {len(ours):,} tokens"
            )
        return False
    if init is None or int(init["base_vocab_size"]) != len(theirs):
        what = (
            f"its {EMBEDDING_INIT} says base_vocab_size {init['base_vocab_size']}"
            if init
            else f"it has no {EMBEDDING_INIT}"
        )
        raise InputError(
            f"{tok_dir} has {len(ours):,} tokens, the tokenizer of model.init_from '{spec}' {len(theirs):,}, "
            f"but {what}: it was extended from a different base (tokenizer.extend_base must be {spec})"
        )
    return True


def resized_model_is_current(out: Path, base, tok_dir: Path) -> bool:
    """<run>/init_model can be reused: made from the same base and the same tokenizer.json (its manifest)."""
    from kazllm.artifacts import file_sha256
    from kazllm.model_extend import MANIFEST

    manifest = out / MANIFEST
    if not manifest.is_file() or not (out / "config.json").is_file():
        return False
    made = read_json(manifest)
    base_info = made.get("base") or {}
    same_base = str(base_info.get("path")) == str(base.path) or (
        base.repo_id is not None
        and base_info.get("repo_id") == base.repo_id
        and base_info.get("revision") == base.revision
    )
    return same_base and made.get("tokenizer_sha256") == file_sha256(tok_dir / "tokenizer.json")


def resize_into_run(cfg: KazllmConfig, plan: InitPlan, log=print) -> Path:
    """Rank 0: write <run>/init_model = the base resized to tokenizer/hf exactly as `kazllm model extend` does
    (new rows from embedding_init.json), or reuse it when it was made from the same base and tokenizer."""
    from kazllm.model_extend import extend_model

    out, tok_dir = cfg.out_dir / INIT_MODEL_DIR, tokenizer_dir(cfg)
    if resized_model_is_current(out, plan.base, tok_dir):
        log(f"model.init_from: reusing {out} (same base, same tokenizer)")
        return out
    log(
        f"model.init_from: resizing {cfg.model.init_from} ({plan.config.vocab_size:,} embedding rows) to the "
        f"extended tokenizer {tok_dir} -> {out}"
    )
    extend_model(plan.base.path, tok_dir, out)
    return out


# ---------------------------------------------------------------------------------------------------
# Per-language validation
# ---------------------------------------------------------------------------------------------------


def val_language_streams(reader: TokenShardReader, seq_len: int, seed: int) -> dict[str, SequenceLoader]:
    """One window stream per language of the val split (that language's documents back to back, in corpus
    order), for every language with at least one window of seq_len + 1 tokens; {} for a single language.

    The streams are the loader's own mixture components (one language weighted 1, the others 0), so a
    per-language window is cut exactly as training cuts them."""
    present = np.unique(reader.doc_groups)
    languages = sorted({reader.groups[int(g)]["language"] for g in present})
    if len(languages) < 2:
        return {}
    lengths = np.diff(reader.doc_starts)
    doc_language = np.asarray([g["language"] for g in reader.groups], dtype=object)[reader.doc_groups]
    streams = {}
    for lang in languages:
        if (int(lengths[doc_language == lang].sum()) - 1) // seq_len < 1:
            continue  # too little text of this language for one window
        mixture = {other: float(other == lang) for other in languages}
        streams[lang] = SequenceLoader(reader, seq_len, 1, 0, 1, seed, mixture=mixture)
    return streams


# ---------------------------------------------------------------------------------------------------
# The trainer
# ---------------------------------------------------------------------------------------------------


class Trainer:
    """One rank of a training run: its engine, data and metrics, from step 0 or a checkpoint to train.steps.

    signals: the PreemptionSignals installed around it (launch_training); without, only the PREEMPT file
    and another rank's signal stop the run early.
    """

    def __init__(self, cfg: KazllmConfig, signals: ckpt.PreemptionSignals | None = None):
        self.cfg = cfg
        t = cfg.train
        self.device = init_distributed()
        use_cuda = self.device.type == "cuda"
        self.rank, self.world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()

        shards_dir = require_stage(cfg, "shards", "kazllm pretokenize")
        self.train_reader = TokenShardReader(shards_dir, "train")
        self.val_reader = TokenShardReader(shards_dir, "val")
        self.ckpt_dir = cfg.stage_dir("checkpoints")
        self.metrics_path = self.ckpt_dir / "metrics.jsonl"
        self.step = 0
        self.last_checkpoint: Path | None = None
        self.last_val_step, self.last_val_loss = -1, None
        self.last_val_by_language: dict[str, float] = {}
        self.first_loss = self.last_loss = None  # of this process's steps
        self.wandb_run = None
        self.signals = signals if signals is not None else ckpt.PreemptionSignals()
        self.stopped = False
        """A preemption request was acted on (checkpoint saved): the loop ends, the job exits EXIT_REQUEUE."""
        # the loop's clocks (train): until it starts, validation has no throughput window to keep clean
        self.live_progress = False
        self.started_at: float | None = None
        self.window_start: float | None = None
        self.window_steps = 0
        self.step_start = 0
        resume_from = self.find_resume_checkpoint()
        self.model_config, init_path = self.choose_model(resume_from)
        self.ds_config = deepspeed_config(t, self.world_size, use_cuda)
        self.bf16 = bool(self.ds_config.get("bf16", {}).get("enabled"))
        self.freeze = None
        if t.freeze_steps:
            self.freeze = EmbeddingFreeze(
                t.freeze_steps, int(embedding_init(cfg)["base_vocab_size"]), t.weight_decay
            )
        self.engine = build_engine(
            self.model_config,
            t,
            self.ds_config,
            self.device,
            cfg.run.seed,
            self.log,
            init_path=init_path,
            freeze=self.freeze,
        )
        self.loader = SequenceLoader(
            self.train_reader,
            t.seq_len,
            t.micro_batch_size,
            self.rank,
            self.world_size,
            cfg.run.seed,
            mixture=t.mixture,
            document_masking=t.document_masking,
        )
        self.val_languages = (
            val_language_streams(self.val_reader, t.seq_len, cfg.run.seed) if t.eval_by_language else {}
        )
        self.n_params = count_parameters(self.model_config)
        self.flops_per_token = flops_per_token(self.model_config, t.seq_len)
        self.peak_flops = peak_flops(t, self.device, self.bf16)
        self.tokens_per_step = t.tokens_per_step(self.world_size)
        if resume_from is not None:
            self.resume(resume_from)

    # -- the model and its starting weights ------------------------------------------------------------
    def choose_model(self, resume_from: Path | None):
        """(LlamaConfig, directory of the step-0 weights or None for a fresh init or a resume).

        Without model.init_from: the preset with the tokenizer's vocabulary and special ids. With it: the
        checkpoint's own architecture and special ids; a run resumed from its own checkpoint takes the
        architecture from there and never reads model.init_from again (no download on a requeue).
        """
        cfg = self.cfg
        vocab = int(self.train_reader.manifest["vocab_size"])
        if not cfg.model.init_from:
            tok = read_json(cfg.stage_dir("tokenizer") / "manifest.json")["special_tokens"]
            ids = {name: (tok.get(name) or {}).get("id") for name in ("bos", "eos", "pad")}
            return build_llama_config(cfg.model, vocab, ids["bos"], ids["eos"], ids["pad"]), None
        if resume_from is not None:
            from transformers import LlamaConfig

            return LlamaConfig.from_dict(read_json(resume_from / ckpt.META_FILE)["model_config"]), None
        path = self.initial_weights()
        config = pretrained_llama_config(path, cfg.model)
        if vocab > config.vocab_size:
            raise InputError(
                f"{self.train_reader.shards_dir} holds token ids up to {vocab - 1:,} but {path} has "
                f"{config.vocab_size:,} embedding rows: pretokenize with the run's tokenizer"
            )
        return config, path

    def initial_weights(self) -> Path:
        """The directory all ranks load step 0 from: model.init_from itself, or (rank 0 resizes it once,
        the others wait) <run>/init_model when tokenizer/hf extends the base's tokenizer."""
        plan = plan_init_from(self.cfg)
        path = Path(plan.base.path)
        if plan.resize:
            error: list = [None]
            failure = None
            if self.rank == 0:
                try:
                    path = resize_into_run(self.cfg, plan, log=self.log)
                except Exception as e:  # noqa: BLE001 (every rank must learn of it, not wait forever)
                    error, failure = (
                        [f"{type(e).__name__}: {e}" if not isinstance(e, KazllmError) else str(e)],
                        e,
                    )
            if self.world_size > 1:
                torch.distributed.broadcast_object_list(error, src=0)
            if failure is not None:
                raise failure
            if error[0] is not None:
                raise InputError(f"model.init_from: rank 0 could not resize the base model: {error[0]}")
            path = self.cfg.out_dir / INIT_MODEL_DIR
        if self.rank == 0:
            b = plan.base
            write_json(
                self.ckpt_dir / INIT_RECORD,
                {
                    "init_from": self.cfg.model.init_from,
                    "source": b.source,
                    "repo_id": b.repo_id,
                    "revision": b.revision,
                    "path": str(b.path),
                    "resized": plan.resize,
                    "loaded_from": str(path),
                },
            )
        return path

    # -- logging ---------------------------------------------------------------------------------------
    def log(self, msg: str) -> None:
        if self.rank == 0:
            print(msg, flush=True)

    def start_logging(self) -> None:
        if self.rank != 0:
            return
        write_json(self.ckpt_dir / "deepspeed_config.json", self.ds_config)
        # A resumed run keeps the metric lines up to its step; a fresh run starts a new file.
        kept = (
            []
            if self.step == 0
            else [row for row in read_metrics(self.metrics_path) if row["step"] <= self.step]
        )
        self.metrics_path.write_text("".join(json.dumps(row) + "\n" for row in kept), encoding="utf-8")
        done = [row for row in kept if row["step"] == self.step and "val_loss" in row]
        if done:  # killed after validating the last step: finish() must not append the same line again
            self.last_val_step, self.last_val_loss = self.step, done[-1]["val_loss"]
            self.last_val_by_language = {
                k.removeprefix("val_loss_"): v for k, v in done[-1].items() if k.startswith("val_loss_")
            }
        wandb_cfg = self.cfg.train.wandb
        if wandb_cfg.enabled:
            import wandb

            os.environ.setdefault("WANDB_MODE", wandb_cfg.mode)
            self.wandb_run = wandb.init(
                project=wandb_cfg.project,
                mode=wandb_cfg.mode,
                dir=str(self.ckpt_dir),
                config=config_to_dict(self.cfg),
                id=self.wandb_run_id(),
                resume="allow",
            )

    def wandb_run_id(self) -> str:
        """One W&B run per training run: the id is made once and kept in <run>/checkpoints/wandb_id, so every
        attempt (a Slurm requeue, a rerun after a crash) resumes the same W&B run; train.resume=never starts
        a new one."""
        import secrets

        path = self.ckpt_dir / WANDB_ID_FILE
        if path.is_file() and self.cfg.train.resume != "never":
            run_id = path.read_text(encoding="utf-8").strip()
            if run_id:
                return run_id
        run_id = secrets.token_hex(4)  # W&B ids are [a-z0-9], 8 characters like its own
        write_text_atomic(path, run_id + "\n")
        return run_id

    def refresh_loss_curve(self) -> None:
        """loss_curve.png from metrics.jsonl so far: after every validation and checkpoint, not only at the
        end."""
        if self.rank == 0:
            plot_loss_curve(self.metrics_path, self.ckpt_dir / "loss_curve.png")

    def record(self, metrics: dict) -> None:
        if self.rank != 0:
            return
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(metrics) + "\n")
        if self.wandb_run is not None:
            self.wandb_run.log(metrics, step=metrics["step"])

    def describe_run(self) -> None:
        t, model = self.cfg.train, self.cfg.model
        name = f"continued from {model.init_from}" if model.init_from else (model.preset or "debug-tiny")
        self.log(f"model {name}: {describe(self.model_config, t.seq_len)}")
        self.log(
            f"ZeRO-{t.zero_stage} on {self.world_size} {self.device.type} rank(s), "
            f"{'bf16' if self.bf16 else 'fp32'}, attention {t.attn_implementation}"
            f"{', activation checkpointing' if t.activation_checkpointing else ''}"
            f"{', compiled' if t.compile else ''} | {self.tokens_per_step:,} tokens/step, "
            f"{self.flops_per_token * self.tokens_per_step / 1e12:,.2f} TFLOPs/step, "
            f"{self.train_reader.num_tokens:,} training tokens | {t.schedule} LR {t.lr:g}, {t.steps} steps"
        )
        if self.freeze is not None:
            new_rows = self.model_config.vocab_size - self.freeze.first_new_row
            self.log(
                f"freeze phase: steps 1-{t.freeze_steps} train only the {new_rows:,} embedding rows from id "
                f"{self.freeze.first_new_row:,} on; then every weight, the LR warming up again"
            )
        if self.val_languages:
            self.log(f"validation also per language: {', '.join(self.val_languages)}")

    # -- one step --------------------------------------------------------------------------------------
    def train_step(self) -> dict:
        """One optimizer step = grad_accum micro-batches; returns loss (mean over ranks), grad norm, LR."""
        if self.freeze is not None:  # the phase is a function of the step: a resumed run continues exactly
            self.freeze.set_step(self.step, self.engine.optimizer)
        lrs = self.engine.get_lr()
        lr = lrs[0]
        total = torch.zeros((), device=self.device)
        accum = self.cfg.train.grad_accum
        grad_norm = None
        for i in range(accum):
            batch = {k: v.to(self.device) for k, v in self.loader.next_micro_batch().items()}
            loss = self.compute_loss(batch)
            self.engine.backward(loss)
            if i == accum - 1 and self.engine.zero_optimization_stage() == 0 and not self.bf16:
                # Plain fp32 DeepSpeed clips without keeping the norm; the gradients here are already
                # all-reduced and whole on every rank, so the norm before clipping is this.
                grad_norm = torch.linalg.vector_norm(
                    torch.stack(
                        [
                            p.grad.detach().float().norm()
                            for p in self.engine.module.parameters()
                            if p.grad is not None
                        ]
                    )
                ).item()
            # DeepSpeed applies the update (and the LR schedule) at the accumulation boundary
            self.engine.step()
            total += loss.detach().float()
        total /= accum
        torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.SUM)
        if grad_norm is None:
            grad_norm = self.engine.get_global_grad_norm()
        metrics = {
            "loss": total.item() / self.world_size,
            "lr": lr,
            "grad_norm": float(grad_norm) if grad_norm is not None else None,
        }
        if self.freeze is not None:  # the embeddings group's own LR (the only one above 0 while frozen)
            metrics["lr_embeddings"] = lrs[-1]
        return metrics

    def compute_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return causal_lm_loss(self.engine, batch)

    # -- validation ------------------------------------------------------------------------------------
    def maybe_validate(self) -> None:
        every = self.cfg.train.eval_every
        if every and self.step % every == 0:
            self.validate()

    def validate(self) -> float | None:
        """Validation loss on the val split, recorded with one figure per language (val_loss_<lang>)."""
        started = time.perf_counter()
        val_loss = self.validation_loss()
        by_language = self.validation_losses_by_language() if val_loss is not None else {}
        if self.window_start is not None:  # validation time is not training throughput
            self.window_start += time.perf_counter() - started
        self.last_val_step, self.last_val_loss = self.step, val_loss
        self.last_val_by_language = by_language
        if val_loss is not None:
            self.record(
                {
                    "step": self.step,
                    "val_loss": round(val_loss, 5),
                    **{f"val_loss_{lang}": round(v, 5) for lang, v in by_language.items()},
                }
            )
            langs = ", ".join(f"{lang} {v:.4f}" for lang, v in by_language.items())
            self.log(f"step {self.step}: validation loss {val_loss:.4f}" + (f" ({langs})" if langs else ""))
            self.refresh_loss_curve()
        return val_loss

    def validation_loss(self) -> float | None:
        """Mean loss over `eval_sequences` windows spread evenly over the val split (the same every call)."""
        seq_len = self.cfg.train.seq_len
        return self.mean_loss(
            self.val_reader.num_sequences(seq_len), lambda i: self.val_reader.sequence(i, seq_len)
        )

    def validation_losses_by_language(self) -> dict[str, float]:
        """train.eval_by_language: the same figure on each language's own documents, `eval_sequences` windows
        each, so that forgetting of the base's languages (and learning of Kazakh) shows separately."""
        losses = {}
        for lang, stream in self.val_languages.items():
            loss = self.mean_loss(
                stream.components[0].num_windows, lambda i, s=stream: s.read_window(0, i)[0]
            )
            if loss is not None:
                losses[lang] = loss
        return losses

    @torch.no_grad()
    def mean_loss(self, total: int, read) -> float | None:
        """Mean loss over min(total, eval_sequences) windows spread evenly over `total`
        (read(i) -> seq_len + 1 tokens), split over the ranks; None when there is no window."""
        t = self.cfg.train
        n = min(total, t.eval_sequences)
        if n == 0:
            return None
        windows = [i * total // n for i in range(n)]
        mine = windows[self.rank :: self.world_size]
        # Every rank runs the same number of forwards (ZeRO-3 gathers parameters collectively); a rank
        # with nothing left runs a dummy batch that does not count.
        n_batches = math.ceil(math.ceil(n / self.world_size) / t.micro_batch_size)
        self.engine.eval()
        stats = torch.zeros(2, device=self.device)
        for b in range(n_batches):
            idx = mine[b * t.micro_batch_size : (b + 1) * t.micro_batch_size]
            rows = [read(i) for i in (idx or windows[:1])]
            window = torch.from_numpy(np.stack(rows).astype(np.int64)).to(self.device)
            loss = self.compute_loss({"input_ids": window[:, :-1], "labels": window[:, 1:]}).float()
            stats += torch.stack([loss * len(idx), torch.tensor(float(len(idx)), device=self.device)])
        self.engine.train()
        torch.distributed.all_reduce(stats)
        return (stats[0] / stats[1]).item()

    # -- checkpoints and preemption (kazllm/checkpoint.py) --------------------------------------------
    def _warn(self, msg: str) -> None:
        if self.rank == 0:
            print(f"warning: {msg}", file=sys.stderr, flush=True)

    def find_resume_checkpoint(self) -> Path | None:
        """The checkpoint to continue from per `train.resume` (auto | never | path), or None to start at
        step 0.

        auto takes the newest checkpoint whose checksums verify, warning about each one it refuses, and
        starts fresh when there is none. Also clears debris of a crashed attempt (unfinished stepN.tmp, a
        PREEMPT file from before this process started). Runs before the model is built, because a resumed
        run does not load model.init_from's weights.
        """
        mode = self.cfg.train.resume
        if self.rank == 0:
            stale = ckpt.remove_stale_tmp(self.ckpt_dir)
            if stale:
                self._warn(f"deleted unfinished checkpoint(s) {', '.join(stale)} (a save was interrupted)")
            if ckpt.remove_stale_preempt(self.ckpt_dir):
                self.log(f"removed a stale {ckpt.PREEMPT_FILE} request from an earlier attempt")
        if self.world_size > 1:
            torch.distributed.barrier()
        if mode == "never":
            return None
        if mode == "auto":
            path = ckpt.find_latest_good(self.ckpt_dir, self.rank, self.world_size, warn=self._warn)
            if path is None:
                self.log(f"no checkpoint in {self.ckpt_dir}: starting at step 0")
            return path
        # a starting point: once this run has saved its own checkpoints, a requeue resumes from those
        own = ckpt.find_latest_good(self.ckpt_dir, self.rank, self.world_size, warn=self._warn)
        path = own or resolve_path(mode)
        problems = ckpt.verify_checkpoint(path, self.rank, self.world_size)
        if problems:
            raise InputError(f"train.resume={mode}: checkpoint refused: " + "; ".join(problems[:5]))
        return path

    def train_state(self) -> ckpt.TrainState:
        """What a checkpoint keeps of this trainer besides the engine."""
        return ckpt.TrainState(step=self.step, loader=self.loader.state_dict(), rng=ckpt.rng_state())

    def resume(self, path: Path) -> int:
        """Load a checkpoint chosen by find_resume_checkpoint (weights, optimizer, schedule, loader, RNG)."""
        loaded = ckpt.load_checkpoint(
            self.engine,
            path,
            ckpt_dir=self.ckpt_dir,
            train=self.cfg.train,
            model_config=self.model_config,
            log=self.log,
            warn=self._warn,
        )
        state = loaded.state
        self.step = state.step
        self.loader.load_state_dict(state.loader)
        if state.rng is not None:
            ckpt.set_rng_state(state.rng)
        else:
            self._warn(
                f"{path} has no RNG state for rank {self.rank} (saved by {loaded.saved_world_size} ranks)"
            )
        self.log(
            f"resumed from {path} at step {self.step} ({self.loader.consumed} sequences consumed; "
            f"saved by {loaded.saved_world_size} rank(s)"
            f"{', via universal checkpoint' if loaded.via_universal else ''})"
        )
        self.last_checkpoint = path
        return self.step

    def save_checkpoint(self) -> Path:
        """Save stepN on all ranks (atomic: stepN.tmp -> stepN -> `latest`), keeping the last
        train.keep_last."""
        self.last_checkpoint = ckpt.save_checkpoint(
            self.engine, self.ckpt_dir, self.train_state(), cfg=self.cfg, model_config=self.model_config
        )
        self.refresh_loss_curve()
        return self.last_checkpoint

    def _stop_reason(self) -> str | None:
        """Collective: why to stop now (a signal on any rank, or the PREEMPT file rank 0 sees), or None."""
        flags = torch.tensor(
            [
                float(self.signals.reason is not None),
                float(self.rank == 0 and ckpt.stop_requested_by_file(self.ckpt_dir)),
            ],
            device=self.device,
        )
        if self.world_size > 1:
            torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
        if flags[1] > 0:
            return f"{ckpt.PREEMPT_FILE} file"
        if flags[0] > 0:
            return self.signals.reason or "signal on another rank"
        return None

    def maybe_save(self) -> Path | None:
        """End of every step: the final save, a save every `train.save_every` steps, or save-and-stop when
        preemption was requested (collective decision, so every rank stops after the same step)."""
        t = self.cfg.train
        if self.step >= t.steps:
            return self.save_checkpoint()  # a stop request at the last step changes nothing
        reason = self._stop_reason()
        if reason is not None:
            path = self.save_checkpoint()
            if self.rank == 0:
                ckpt.write_preempted(self.ckpt_dir, self.step, reason)
            if self.world_size > 1:  # every rank's launch_training reads preempted.json to pick exit code 75
                torch.distributed.barrier()
            self.stopped = True
            self.log(
                f"stop requested ({reason}): saved {path.name}; "
                f"exiting with code {EXIT_REQUEUE} to be requeued"
            )
            return path
        if t.save_every and self.step % t.save_every == 0:
            return self.save_checkpoint()
        return None

    def should_stop(self) -> bool:
        """True once a preemption request was acted on (checkpoint saved): leave the loop, exit
        EXIT_REQUEUE."""
        return self.stopped

    # -- the loop --------------------------------------------------------------------------------------
    def train(self) -> dict:
        from tqdm import tqdm

        t = self.cfg.train
        self.start_logging()
        self.describe_run()
        # A live bar only on a terminal; in a log file (Slurm, CI) `\r` redraws pile up on one line, so there
        # each metrics row is also printed as one plain progress line (log_step).
        self.live_progress = sys.stdout.isatty() and sys.stderr.isatty()
        self.started_at = time.perf_counter()
        bar = tqdm(
            initial=self.step,
            total=t.steps,
            desc="train",
            unit="step",
            disable=self.rank != 0 or not self.live_progress,
            mininterval=progress_interval(),
        )
        if self.step == 0 and self.cfg.model.init_from and t.eval_every:
            # the base model's own validation losses: the reference that forgetting is measured against
            self.validate()
        self.window_start, self.window_steps = time.perf_counter(), 0
        self.step_start = self.step
        while self.step < t.steps and not self.should_stop():
            metrics = self.train_step()
            self.step += 1
            bar.update(1)
            self.log_step(metrics, bar)
            self.maybe_validate()
            saving_started = time.perf_counter()
            if self.maybe_save() is not None:  # checkpoint time is not training throughput either
                self.window_start += time.perf_counter() - saving_started
        bar.close()
        return self.finish()

    def log_step(self, metrics: dict, bar) -> None:
        """Every log_every steps (and the last): loss, grad norm, LR, throughput, MFU, memory."""
        self.window_steps += 1
        self.first_loss = metrics["loss"] if self.first_loss is None else self.first_loss
        self.last_loss = metrics["loss"]
        bar.set_postfix(loss=f"{metrics['loss']:.3f}", lr=f"{metrics['lr']:.2e}")
        if self.step % self.cfg.train.log_every and self.step != self.cfg.train.steps:
            return
        elapsed = time.perf_counter() - self.window_start
        tokens_per_s = self.window_steps * self.tokens_per_step / elapsed
        per_device = tokens_per_s / self.world_size
        mfu = per_device * self.flops_per_token / self.peak_flops if self.peak_flops else None
        row = {
            "step": self.step,
            "loss": round(metrics["loss"], 5),
            "lr": metrics["lr"],
            "grad_norm": None if metrics["grad_norm"] is None else round(metrics["grad_norm"], 5),
            "tokens_per_s": round(tokens_per_s, 1),
            "tokens_per_s_per_device": round(per_device, 1),
            "mfu": None if mfu is None else round(mfu, 6),
            "memory_gib": round(memory_gib(self.device), 3),
            "tokens_seen": self.step * self.tokens_per_step,
        }
        if "lr_embeddings" in metrics:
            row["lr_embeddings"] = metrics["lr_embeddings"]
        self.record(row)
        if not self.live_progress:
            self.log(
                progress_line(
                    row, self.cfg.train.steps, time.perf_counter() - self.started_at, self.step_start
                )
            )
        bar.set_postfix(
            loss=f"{metrics['loss']:.3f}",
            lr=f"{metrics['lr']:.2e}",
            tok_s=f"{tokens_per_s:,.0f}",
            **({"mfu": f"{mfu:.1%}"} if mfu is not None else {}),
        )
        self.window_start, self.window_steps = time.perf_counter(), 0

    def finish(self) -> dict:
        """Final validation, manifest and loss curve (a run stopped early for preemption skips them)."""
        completed = self.step >= self.cfg.train.steps
        val_loss = None
        if completed:
            val_loss = self.validate() if self.last_val_step != self.step else self.last_val_loss
        summary = {
            "steps": self.step,
            "completed": completed,
            "first_loss": self.first_loss,
            "last_loss": self.last_loss,
            "val_loss": val_loss,
            "val_loss_by_language": {k: round(v, 5) for k, v in self.last_val_by_language.items()} or None,
            "checkpoint": self.last_checkpoint.name if self.last_checkpoint else None,
            "parameters": self.n_params,
            "flops_per_token": self.flops_per_token,
            "world_size": self.world_size,
            # what the model card's compute section reports (kazllm.model_card): hardware and precision
            "device": self.device.type,
            "device_name": torch.cuda.get_device_name(self.device) if self.device.type == "cuda" else "cpu",
            "precision": "bf16" if self.bf16 else "fp32",
        }
        if self.rank == 0 and completed:
            losses = [row["loss"] for row in read_metrics(self.metrics_path) if "loss" in row]
            if losses:  # the whole run's, also when this process resumed at the last step and trained none
                summary["first_loss"], summary["last_loss"] = losses[0], losses[-1]
            write_stage_manifest(self.cfg, "checkpoints", latest=summary["checkpoint"], summary=summary)
            plot_loss_curve(self.metrics_path, self.ckpt_dir / "loss_curve.png")
            self.log(
                f"loss {summary['first_loss']} -> {summary['last_loss']}, validation loss {val_loss}; "
                f"checkpoint {self.last_checkpoint}"
            )
        if self.wandb_run is not None:
            self.wandb_run.summary.update({k: v for k, v in summary.items() if v is not None})
            self.wandb_run.finish()
        torch.distributed.barrier()
        return summary


def progress_line(row: dict, total: int, elapsed: float, first_step: int) -> str:
    """One plain progress record for logs:
    `step 10/400 (2.5%) | loss 7.5329 | lr 1.80e-03 | ... | eta 0:01:10`."""
    step = row["step"]
    rate = (step - first_step) / elapsed if elapsed > 0 and step > first_step else None
    eta = time.strftime("%H:%M:%S", time.gmtime((total - step) / rate)) if rate else "?"
    parts = [f"step {step}/{total} ({step / total:.1%})", f"loss {row['loss']:.4f}", f"lr {row['lr']:.2e}"]
    if row.get("grad_norm") is not None:
        parts.append(f"grad_norm {row['grad_norm']:.3f}")
    parts.append(f"{row['tokens_per_s']:,.0f} tok/s")
    if row.get("mfu") is not None:
        parts.append(f"mfu {row['mfu']:.1%}")
    parts.append(f"elapsed {time.strftime('%H:%M:%S', time.gmtime(elapsed))}, eta {eta}")
    return "progress: " + " | ".join(parts)


def plot_loss_curve(metrics_path: Path, out_png: Path) -> None:
    """Training loss per logged step, and validation loss where it was measured: overall, and one line per
    language (val_loss_<lang>) when the run validated per language."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(metrics_path)
    train = [r for r in rows if "loss" in r]
    val = [r for r in rows if "val_loss" in r]
    if not train:
        return
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([r["step"] for r in train], [r["loss"] for r in train], marker="o", markersize=3, label="train")
    if val:
        ax.plot(
            [r["step"] for r in val],
            [r["val_loss"] for r in val],
            marker="s",
            markersize=4,
            label="validation",
        )
    languages = sorted({k.removeprefix("val_loss_") for r in val for k in r if k.startswith("val_loss_")})
    for lang in languages:
        points = [(r["step"], r[f"val_loss_{lang}"]) for r in val if f"val_loss_{lang}" in r]
        ax.plot(*zip(*points), marker=".", markersize=4, linestyle="--", label=f"validation {lang}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title("kazllm training loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Worker entry point under a launcher: `torchrun ... -m kazllm.train --config X [key=value ...]`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--torchrun"]:  # the agent process of run_torchrun, not a rank
        run_torchrun_agent(argv[1:])
        return
    parser = argparse.ArgumentParser(
        description="kazllm training worker (one rank); `kazllm train` launches it."
    )
    parser.add_argument("--config", required=True)
    parser.add_argument("--local_rank", type=int, help=argparse.SUPPRESS)  # added by the deepspeed launcher
    parser.add_argument("overrides", nargs="*", help="dotted config overrides, e.g. train.steps=10")
    args = parser.parse_args(argv)
    if (
        under_launcher()
    ):  # a rank dies with its launcher: no training on (and writing checkpoints) after a kill
        die_with_parent()
        watch_launcher()
    try:
        launch_training(load_config(args.config, args.overrides))
    except KazllmError as e:
        rank, errors = os.environ.get("RANK", "?"), os.environ.get(RANK_ERROR_ENV)
        if errors and Path(errors).is_dir():  # `kazllm train` prints it, as one line
            write_text_atomic(Path(errors) / f"rank{rank}.txt", str(e) + "\n")
        else:
            print(f"kazllm: error (rank {rank}): {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main()
