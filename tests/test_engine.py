"""kazllm.engine in one process on CPU: the parameter groups, the per-group LR schedule, a process that
does not outlive its launcher, and the DeepSpeed engine `kazllm train` builds when no launcher started it.

Schedules, the DeepSpeed JSON and the MFU peak are specified in test_train.py, the freeze phase in
test_continue_train.py; runs with several DeepSpeed ranks are the slow tests of test_train.py and
test_resume.py.
"""

import copy
import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kazllm.config import ModelSection, TrainSection
from kazllm.engine import (
    build_engine,
    causal_lm_loss,
    deepspeed_config,
    embedding_parameters,
    lr_factor,
    lr_scheduler,
    param_groups,
)
from kazllm.model import build_llama_config, build_model

from .conftest import REPO, process_group_of_one

VOCAB = 300


def tiny_model(tied=True, seed=0):
    torch.manual_seed(seed)
    config = build_llama_config(ModelSection(overrides={"tie_word_embeddings": tied}), VOCAB, 1, 2, 0)
    return build_model(config, "sdpa")


def batch(rows=2, seq=16, seed=1):
    window = torch.randint(0, VOCAB, (rows, seq + 1), generator=torch.Generator().manual_seed(seed))
    return {"input_ids": window[:, :-1], "labels": window[:, 1:]}


# --- parameter groups and their schedule --------------------------------------------------------------


@pytest.mark.parametrize("tied", [True, False])
def test_the_embedding_matrices_are_the_input_embedding_and_an_untied_output_projection(tied):
    model = tiny_model(tied)
    matrices = embedding_parameters(model)
    assert matrices[0] is model.model.embed_tokens.weight
    assert [m.shape for m in matrices] == [(VOCAB, 128)] * (1 if tied else 2)
    if not tied:
        assert matrices[1] is model.lm_head.weight


def test_separate_embeddings_puts_them_in_a_last_group_of_their_own():
    model = tiny_model(tied=False)
    decay, no_decay, embeddings = param_groups(model, 0.1, separate_embeddings=True)
    assert [g["weight_decay"] for g in (decay, no_decay, embeddings)] == [0.1, 0.0, 0.1]
    assert embeddings["params"] == embedding_parameters(model)
    grouped = [id(p) for g in (decay, no_decay, embeddings) for p in g["params"]]
    assert sorted(grouped) == sorted(id(p) for p in model.parameters())  # each parameter exactly once


def test_the_lr_scheduler_gives_every_group_the_schedules_factor():
    t = TrainSection(steps=20, warmup_steps=5, lr=1e-3)
    model = tiny_model()
    optimizer = torch.optim.AdamW(param_groups(model, 0.1), lr=t.lr)
    scheduler = lr_scheduler(optimizer, t)
    for step in range(t.steps):
        assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([t.lr * lr_factor(step, t)] * 2)
        optimizer.step()
        scheduler.step()


def test_the_embeddings_group_alone_trains_during_the_freeze_phase():
    t = TrainSection(steps=20, warmup_steps=4, freeze_steps=6, lr=1e-3)
    optimizer = torch.optim.AdamW(param_groups(tiny_model(), 0.1, separate_embeddings=True), lr=t.lr)
    scheduler = lr_scheduler(optimizer, t, embeddings_group=True)
    lrs = []
    for _ in range(t.steps):
        lrs.append([g["lr"] for g in optimizer.param_groups])
        optimizer.step()
        scheduler.step()
    assert all(body == [0.0, 0.0] for *body, _ in lrs[:6])
    embeddings = [step[-1] for step in lrs[:6]]
    assert embeddings == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3])  # warmup 4, then the peak
    assert all(len(set(step)) == 1 and step[0] > 0 for step in lrs[6:])  # then one schedule for all


# --- a process never outlives its launcher --------------------------------------------------------------


def finished(pid: int) -> bool:
    """Gone, or a zombie waiting to be reaped by whoever adopted it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


ARMED_CHILD = """
import time
from kazllm.engine import die_with_parent
assert die_with_parent()
print("armed", flush=True)
time.sleep(30)
"""

PARENT = f"""
import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", {ARMED_CHILD!r}], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True)
assert child.stdout.readline().strip() == "armed"
print(child.pid, flush=True)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_a_process_that_asked_to_die_with_its_parent_dies_when_the_parent_exits():
    parent = subprocess.run(
        [sys.executable, "-c", PARENT], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert parent.returncode == 0, parent.stderr[-2000:]
    child = int(parent.stdout.split()[-1])
    deadline = time.monotonic() + 10
    while not finished(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    if not finished(child):
        subprocess.run(["kill", "-9", str(child)])  # the orphan this test started
        pytest.fail(f"pid {child} outlived its parent")


WATCHING = """
import sys, time
from kazllm.engine import watch_launcher
watch_launcher(pid=int(sys.argv[1]), interval=0.05)
print("watching", flush=True)
time.sleep(30)
"""


def test_the_launcher_watchdog_kills_its_process_once_the_launcher_is_gone():
    launcher = subprocess.Popen(["sleep", "60"])
    rank = subprocess.Popen(
        [sys.executable, "-c", WATCHING, str(launcher.pid)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert rank.stdout.readline().strip() == "watching"
        time.sleep(0.3)
        assert rank.poll() is None  # the launcher lives: the rank trains on
        launcher.kill()
        launcher.wait()
        assert rank.wait(timeout=10) == -9  # SIGKILL: no cleanup, no last checkpoint from an orphan
    finally:
        for proc in (launcher, rank):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


# --- the DeepSpeed engine of one process without a launcher ---------------------------------------------

SEED = 7


@pytest.fixture(scope="module")
def one_process_engine():
    """What `kazllm train` builds with train.nproc=1 on CPU: a process group of its own, then the engine."""
    with process_group_of_one() as device:
        t = TrainSection(
            zero_stage=2,
            micro_batch_size=2,
            grad_accum=1,
            steps=10,
            warmup_steps=4,
            lr=1e-3,
            weight_decay=0.1,
        )
        config = build_llama_config(ModelSection(), VOCAB, 1, 2, 0)
        logs = []
        engine = build_engine(config, t, deepspeed_config(t, 1, cuda=False), device, SEED, log=logs.append)
        initial = {k: v.detach().clone() for k, v in engine.module.state_dict().items()}
        yield {"engine": engine, "t": t, "device": device, "config": config, "logs": logs, "initial": initial}


def test_without_a_launcher_one_process_forms_a_gloo_group_of_one_on_cpu(one_process_engine):
    assert one_process_engine["device"] == torch.device("cpu")
    assert (torch.distributed.get_rank(), torch.distributed.get_world_size()) == (0, 1)
    assert torch.distributed.get_backend() == "gloo"


def test_the_engine_is_torch_adamw_with_the_no_decay_groups_and_the_lr_schedule(one_process_engine):
    engine = one_process_engine["engine"]
    adamw = getattr(engine.optimizer, "optimizer", engine.optimizer)  # ZeRO wraps torch's AdamW
    assert type(adamw) is torch.optim.AdamW
    assert [g["weight_decay"] for g in adamw.param_groups] == [0.1, 0.0]
    assert all(g["betas"] == (0.9, 0.95) and g["eps"] == 1e-8 for g in adamw.param_groups)
    assert isinstance(engine.lr_scheduler, torch.optim.lr_scheduler.LambdaLR)
    assert engine.zero_optimization_stage() == 2 and engine.train_batch_size() == 2
    assert "liger-kernel: skipped (needs CUDA)" in one_process_engine["logs"]


def test_the_engine_starts_from_the_weights_its_seed_gives(one_process_engine):
    torch.manual_seed(SEED)
    expected = build_model(one_process_engine["config"], "sdpa").state_dict()
    initial = one_process_engine["initial"]
    assert initial.keys() == expected.keys()
    assert all(torch.equal(v, expected[k]) for k, v in initial.items())


def test_steps_through_the_engine_follow_the_schedule_and_fit_a_repeated_batch(one_process_engine):
    engine, t = one_process_engine["engine"], one_process_engine["t"]
    adamw = getattr(engine.optimizer, "optimizer", engine.optimizer)
    losses = []
    for _ in range(3):
        loss = causal_lm_loss(engine, batch())
        engine.backward(loss)
        engine.step()
        losses.append(loss.item())
        scheduled = t.lr * lr_factor(engine.global_steps, t)
        assert [g["lr"] for g in adamw.param_groups] == pytest.approx([scheduled] * 2)
    assert losses[0] == pytest.approx(math.log(VOCAB), abs=0.5)  # a fresh init guesses uniformly
    assert losses[2] < losses[0]


# --- on a GPU -----------------------------------------------------------------------------------------


@pytest.mark.gpu
def test_bf16_forward_and_backward_on_cuda_give_the_cpu_fp32_loss():
    model = tiny_model()
    inputs = batch(rows=4, seq=64)
    cpu_loss = causal_lm_loss(model, inputs).item()
    gpu = copy.deepcopy(model).to("cuda", torch.bfloat16)
    loss = causal_lm_loss(gpu, {k: v.cuda() for k, v in inputs.items()})
    loss.backward()
    assert math.isfinite(loss.item()) and loss.item() == pytest.approx(cpu_loss, rel=2e-2)
    grads = [p.grad for p in gpu.parameters()]
    assert all(g is not None and g.dtype == torch.bfloat16 and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
