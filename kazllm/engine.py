"""What DeepSpeed gets: the process group, the model + AdamW + LR schedule engine, and the DeepSpeed JSON.

Pure functions of the config (schedule, DeepSpeed JSON, MFU peak) are tested without a run;
kazllm.train.Trainer and scripts/bench_train.py build their engines here, so the benchmark measures
exactly what `kazllm train` runs. docs/training.md documents the JSON precedence and the MFU formula.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import signal
import socket
import sys
import threading
import time
import warnings

import torch

from kazllm.config import TrainSection, resolve_path
from kazllm.errors import ConfigError
from kazllm.hardware import GPUS, gpu_kind
from kazllm.model import build_model


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def under_launcher() -> bool:
    return "LOCAL_RANK" in os.environ and "WORLD_SIZE" in os.environ


# ---------------------------------------------------------------------------------------------------
# No process of a job outlives its launcher
# ---------------------------------------------------------------------------------------------------

LAUNCHER_PID_ENV = "KAZLLM_LAUNCHER_PID"
"""Set by `kazllm train` for the torchrun agent and the ranks it starts: the pid they must not outlive."""
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL, expected_parent: int | None = None) -> bool:
    """Ask the kernel (Linux prctl PR_SET_PDEATHSIG) to send `sig` to this process when its parent exits.

    torchrun starts each rank in a session of its own, so a kill -9 of the launcher's process group never
    reaches the ranks; with this set in every rank, and in the torchrun agent, the death of each parent
    kills its children at once. Returns False where prctl is unavailable (watch_launcher still applies).
    If the parent is already gone (it died before the call, or is not `expected_parent`), exits now."""
    parent = expected_parent or os.getppid()
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # orphaned before the request took effect
        os.kill(os.getpid(), sig)
    return True


def watch_launcher(pid: int | None = None, interval: float = 0.5) -> threading.Thread | None:
    """A daemon thread that kills this process (SIGKILL) once the launcher `pid` (default:
    $KAZLLM_LAUNCHER_PID) or this process's parent is gone: the fallback where PR_SET_PDEATHSIG is not
    available or a process in between survived. A rank must not train on (and write checkpoints) after its
    job was killed."""
    if pid is None:
        pid = int(os.environ.get(LAUNCHER_PID_ENV) or 0) or None
    parent = os.getppid()

    def alive(p: int) -> bool:
        try:
            os.kill(p, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent or (pid is not None and not alive(pid)):
                os.kill(os.getpid(), signal.SIGKILL)

    thread = threading.Thread(target=watch, name="kazllm-launcher-watchdog", daemon=True)
    thread.start()
    return thread


def quiet_third_party_warnings() -> None:
    """Hide the deprecation warnings DeepSpeed and torch raise from their own internals on every run (nothing
    kazllm calls can avoid them).

    They are matched narrowly, by message and by the module that raises them:

    - FutureWarning `torch.distributed.all_gather_into_tensor` is deprecated: DeepSpeed's ZeRO-1/2 optimizer
      (deepspeed/runtime/zero/stage_1_and_2.py and runtime/utils.py) calls it, through torch's c10d_logger;
    - DeprecationWarning `torch.jit.script_method` is deprecated: torch/utils/mkldnn.py, imported when
      deepspeed.initialize imports its Muon optimizer (torch.compile -> inductor -> fx optimization).
    """
    warnings.filterwarnings(
        "ignore",
        message=r"`torch\.distributed\.all_gather_into_tensor` is deprecated",
        category=FutureWarning,
        module=r"torch\.distributed\.c10d_logger",
    )
    warnings.filterwarnings(
        "ignore",
        message=r"`torch\.jit\.script_method` is deprecated",
        category=DeprecationWarning,
        module=r"torch\.jit\._script",
    )


# ---------------------------------------------------------------------------------------------------
# Optimizer, schedule, DeepSpeed JSON, MFU: pure functions of the config, tested without a run
# ---------------------------------------------------------------------------------------------------


def lr_factor(step: int, t: TrainSection) -> float:
    """LR multiplier for optimizer step `step` (0-based): linear warmup, then cosine or warmup-stable-decay.

    cosine: from the peak down to min_lr_ratio at the last step. wsd: the peak until the last
    decay_fraction of the run, then linear or 1-sqrt down to min_lr_ratio at the last step.
    """
    if step < t.warmup_steps:
        return (step + 1) / t.warmup_steps
    low = t.min_lr_ratio
    if t.schedule == "cosine":
        progress = min(1.0, (step - t.warmup_steps) / max(1, t.steps - 1 - t.warmup_steps))
        return low + (1 - low) * 0.5 * (1 + math.cos(math.pi * progress))
    decay_start = max(t.warmup_steps, t.steps - max(1, round(t.decay_fraction * t.steps)))
    if step < decay_start:
        return 1.0
    progress = min(1.0, (step - decay_start + 1) / max(1, t.steps - decay_start))
    remaining = 1 - progress if t.decay_shape == "linear" else 1 - math.sqrt(progress)
    return low + (1 - low) * remaining


def shifted_schedule(t: TrainSection) -> TrainSection:
    """The schedule after the freeze phase: the same warmup and decay over the remaining steps."""
    return dataclasses.replace(t, steps=t.steps - t.freeze_steps, freeze_steps=0) if t.freeze_steps else t


def group_lr_factor(
    step: int, t: TrainSection, trains_while_frozen: bool, after: TrainSection | None = None
) -> float:
    """LR multiplier of one parameter group at optimizer step `step`, the freeze phase included.

    Without train.freeze_steps this is lr_factor. During the freeze phase (step < freeze_steps) the
    embeddings group warms up linearly over min(warmup_steps, freeze_steps) steps and then holds the peak,
    while every other group gets 0: AdamW then changes nothing there (lr 0 also cancels the decoupled
    weight decay). From step freeze_steps on, every group follows lr_factor as if the run started there
    (re-warm-up over the remaining steps): the body starts training from a warmed-up optimizer state
    without the shock of the peak LR. A function of the step alone, so a resumed run continues exactly.
    """
    if step >= t.freeze_steps:
        return lr_factor(step - t.freeze_steps, after or shifted_schedule(t))
    if not trains_while_frozen:
        return 0.0
    warm = min(t.warmup_steps, t.freeze_steps)
    return (step + 1) / warm if step < warm else 1.0


def embedding_parameters(model: torch.nn.Module) -> list[torch.nn.Parameter]:
    """The input embedding matrix and, when untied, the output projection: the matrices with a row per
    token."""
    params = [model.get_input_embeddings().weight]
    output = model.get_output_embeddings()
    if output is not None and output.weight is not params[0]:
        params.append(output.weight)
    return params


def param_groups(
    model: torch.nn.Module, weight_decay: float, separate_embeddings: bool = False
) -> list[dict]:
    """No weight decay on norms and biases (1-D tensors); decay on matrices and embeddings.

    separate_embeddings (the freeze phase of continued pretraining) puts the embedding matrices in a
    group of their own, always the last one, so that they get their own LR and weight decay.
    """

    def ndim(
        p: torch.Tensor,
    ) -> int:  # under ZeRO-3 a parameter is an empty shard; ds_shape is its real shape
        return len(getattr(p, "ds_shape", p.shape))

    embeddings = embedding_parameters(model) if separate_embeddings else []
    own = {id(p) for p in embeddings}
    params = [p for p in model.parameters() if p.requires_grad and id(p) not in own]
    decay = [p for p in params if ndim(p) >= 2]
    no_decay = [p for p in params if ndim(p) < 2]
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    groups = [
        g for g in groups if g["params"]
    ]  # DeepSpeed drops empty groups, which the LR scheduler would miss
    if embeddings:
        groups.append({"params": embeddings, "weight_decay": weight_decay})
    return groups


class EmbeddingFreeze:
    """The freeze phase of continued pretraining: for the first `steps` optimizer steps only the embedding
    rows of the new tokens (ids >= first_new_row, both matrices) change; every other weight stays
    bit-identical.

    Three parts, each a function of the step so that resume is exact: the LR schedule gives every group but
    the embeddings lr 0 (group_lr_factor); a gradient hook on the embedding matrices zeroes the rows of the
    old tokens, so AdamW's moments for them stay 0 and its update there is exactly 0; and set_step sets the
    embeddings group's weight decay to 0 during the phase (decoupled decay would shrink the old rows too).
    The hook is a tensor hook, so it runs before DeepSpeed's post-accumulate hooks reduce or partition the
    gradient: it sees the whole matrix under every ZeRO stage.
    """

    def __init__(self, steps: int, first_new_row: int, weight_decay: float):
        self.steps, self.first_new_row, self.weight_decay = steps, first_new_row, weight_decay
        self.active = False

    def attach(self, model: torch.nn.Module) -> None:
        for param in embedding_parameters(model):
            param.register_hook(self._zero_old_rows)

    def _zero_old_rows(self, grad: torch.Tensor) -> torch.Tensor:
        if not self.active:
            return grad
        grad = grad.clone()
        grad[: self.first_new_row] = 0
        return grad

    def set_step(self, step: int, optimizer) -> None:
        """Before optimizer step `step` (0-based): switch the phase and the embeddings' weight decay."""
        self.active = step < self.steps
        inner = getattr(
            optimizer, "optimizer", optimizer
        )  # DeepSpeed's ZeRO/bf16 wrappers keep torch's AdamW
        inner.param_groups[-1]["weight_decay"] = 0.0 if self.active else self.weight_decay


BATCH_KEYS = ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "train_batch_size")
OWN_KEYS = ("optimizer", "scheduler")


def deepspeed_config(t: TrainSection, world_size: int, cuda: bool) -> dict:
    """The DeepSpeed JSON of a run: generated from `train.*`, then `train.deepspeed_config` merged over it.

    Precedence (docs/training.md): a key in the user JSON wins, nested dicts merge key by key, and
    "auto" keeps ours. Batch sizes must equal ours (they define the data order and the schedule), and
    optimizer/scheduler are refused: kazllm passes its own AdamW (no-decay groups) and LR schedule.
    """
    bf16 = t.precision == "bf16" or (t.precision == "auto" and cuda)
    ours = {
        "train_micro_batch_size_per_gpu": t.micro_batch_size,
        "gradient_accumulation_steps": t.grad_accum,
        "train_batch_size": t.global_batch(world_size),
        "gradient_clipping": t.grad_clip,
        # overlap_comm hides reduce-scatter behind backward on NCCL; gloo on CPU gains nothing from it.
        "zero_optimization": {
            "stage": t.zero_stage,
            "overlap_comm": cuda and t.zero_stage > 0,
            "contiguous_gradients": True,
        },
        "bf16": {"enabled": bf16},
        "fp16": {"enabled": False},
        # We pass torch's AdamW (DeepSpeed's fused/CPU Adam would JIT-compile, ~50 s on CPU).
        "zero_allow_untested_optimizer": True,
        "steps_per_print": 1 << 30,
        "wall_clock_breakdown": False,
    }
    if not t.deepspeed_config:
        return ours
    path = resolve_path(t.deepspeed_config)
    try:
        user = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"train.deepspeed_config: file not found: {path}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"train.deepspeed_config: {path} is not valid JSON: {e}") from None
    if not isinstance(user, dict):
        raise ConfigError(f"train.deepspeed_config: {path} must hold a JSON object")
    for key in OWN_KEYS:
        if key in user:
            raise ConfigError(
                f"{path}: '{key}' is not allowed: kazllm passes its own AdamW and LR schedule "
                f"(set train.lr, train.weight_decay, train.schedule, train.warmup_steps instead)"
            )
    for key in BATCH_KEYS:
        if key in user and user[key] != "auto" and user[key] != ours[key]:
            raise ConfigError(
                f"{path}: {key}={user[key]} contradicts the run's {ours[key]} (train.micro_batch_size="
                f"{t.micro_batch_size} x train.grad_accum={t.grad_accum} x {world_size} rank(s)); "
                f"remove it from the JSON or change train.*"
            )
    stage = user.get("zero_optimization", {}).get("stage", "auto")
    if stage not in ("auto", t.zero_stage):  # the model is built for the stage (ZeRO-3: born partitioned)
        raise ConfigError(
            f"{path}: zero_optimization.stage={stage} contradicts train.zero_stage={t.zero_stage}; "
            f"set train.zero_stage instead"
        )
    return _merge(ours, user)


def _merge(ours: dict, user: dict) -> dict:
    merged = dict(ours)
    for key, value in user.items():
        if value == "auto":  # HF-Trainer-style JSONs: "auto" = whatever the trainer computes
            continue
        if isinstance(value, dict) and isinstance(ours.get(key), dict):
            merged[key] = _merge(ours[key], value)
        else:
            merged[key] = value
    return merged


def peak_flops(t: TrainSection, device: torch.device, bf16: bool) -> float | None:
    """Peak FLOP/s of one device for MFU: train.peak_tflops, else a known GPU's bf16 peak (kazllm.hardware),
    else None."""
    if t.peak_tflops > 0:
        return t.peak_tflops * 1e12
    if device.type != "cuda" or not bf16:
        return None
    kind = gpu_kind(torch.cuda.get_device_name(device))
    return GPUS[kind].peak_bf16_tflops * 1e12 if kind else None


def memory_gib(device: torch.device) -> float:
    """Peak allocated GPU memory, or the process's resident memory on CPU."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    import psutil

    return psutil.Process().memory_info().rss / 2**30


# ---------------------------------------------------------------------------------------------------
# Process group and engine (also used by scripts/bench_train.py)
# ---------------------------------------------------------------------------------------------------


def init_distributed() -> torch.device:
    """Join (or, without a launcher, create) the process group; returns this rank's device."""
    quiet_third_party_warnings()
    import deepspeed

    logging.getLogger("DeepSpeed").setLevel(logging.WARNING)
    if not under_launcher():  # a single process without a launcher still needs a process group
        os.environ.update(RANK="0", LOCAL_RANK="0", WORLD_SIZE="1", MASTER_ADDR="127.0.0.1")
        os.environ.setdefault("MASTER_PORT", str(free_port()))
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    deepspeed.init_distributed(dist_backend="nccl" if use_cuda else "gloo")
    return torch.device("cuda", int(os.environ["LOCAL_RANK"])) if use_cuda else torch.device("cpu")


def lr_scheduler(optimizer: torch.optim.Optimizer, t: TrainSection, embeddings_group: bool = False):
    """LambdaLR with one factor per parameter group (group_lr_factor); with embeddings_group the last group
    is the embeddings group of param_groups(separate_embeddings=True), which trains during the freeze phase.
    The factors are plain functions of the step (not saved in checkpoints: a resume recomputes them)."""
    after, last = shifted_schedule(t), len(optimizer.param_groups) - 1
    lambdas = [
        lambda step, trains=(embeddings_group and i == last): group_lr_factor(step, t, trains, after)
        for i in range(len(optimizer.param_groups))
    ]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambdas)


def build_engine(
    model_config,
    t: TrainSection,
    ds_config: dict,
    device: torch.device,
    seed: int,
    log=print,
    init_path=None,
    freeze: EmbeddingFreeze | None = None,
):
    """Model (attention kernel, activation checkpointing, Liger, compile) + AdamW + LR schedule -> DeepSpeed.

    init_path: a Hugging Face directory whose weights the model starts from (continued pretraining),
    else a fresh init. freeze: the freeze phase (train.freeze_steps), which needs the embeddings group.
    """
    import deepspeed

    cuda = device.type == "cuda"
    liger = t.liger_kernel and cuda and liger_installed()
    if t.liger_kernel and not liger:
        log(f"liger-kernel: skipped ({'not installed' if cuda else 'needs CUDA'})")
    torch.manual_seed(seed)  # identical init on every rank and every run
    model = build_model(
        model_config,
        t.attn_implementation,
        t.activation_checkpointing,
        liger,
        zero3_config=ds_config if t.zero_stage == 3 else None,
        log=log,
        init_path=init_path,
    )
    if freeze is not None:
        freeze.attach(model)
    if t.compile and t.zero_stage < 3:
        # Per decoder layer, in place: state-dict keys stay those of the HF model (export unchanged).
        for layer in model.model.layers:
            layer.compile()
    groups = param_groups(model, t.weight_decay, separate_embeddings=freeze is not None)
    optimizer = torch.optim.AdamW(groups, lr=t.lr, betas=(0.9, 0.95), eps=1e-8, fused=cuda or None)
    scheduler = lr_scheduler(optimizer, t, embeddings_group=freeze is not None)
    engine, _, _, _ = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=ds_config
    )
    if t.compile and t.zero_stage == 3:
        engine.compile()  # DeepSpeed's own compile knows ZeRO-3's parameter-gathering hooks
    return engine


def causal_lm_loss(model, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean next-token cross-entropy. The loader's labels are already shifted (labels[t] = input_ids[t+1]),
    so they go in as shift_labels; the model computes the loss itself so that Liger's fused linear
    cross-entropy never materialises the logits. Every other batch key (position_ids...) goes to the model."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    labels = batch["labels"].contiguous()  # a slice of the window; the loss flattens it with view()
    # use_cache=False here, not in the config: the exported model keeps its KV cache for generation.
    return model(**inputs, labels=labels, shift_labels=labels, use_cache=False).loss


def liger_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("liger_kernel") is not None
