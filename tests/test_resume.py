"""Never lose a step: kill -9, SIGUSR1, a corrupted checkpoint and a world-size change,
with real DeepSpeed runs.

Every run is the real `kazllm train` CLI in a subprocess (debug-tiny, seq_len 64, 8 steps, fp32 on CPU, a
checkpoint every 2 steps), compared with one uninterrupted run of the same config.
"""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from kazllm import checkpoint as ckpt
from kazllm.artifacts import read_json, read_jsonl
from kazllm.data import SequenceLoader
from kazllm.shards import TokenShardReader
from kazllm.train import EXIT_REQUEUE

from .conftest import REPO, link_prepared_stages

STEPS = 8
COMMON = [
    f"train.steps={STEPS}",
    "train.warmup_steps=2",
    "train.save_every=2",
    "train.log_every=1",
    "train.seq_len=64",
    "train.zero_stage=2",
    "train.micro_batch_size=4",
    "train.nproc=1",
    "train.keep_last=3",
]
TIMEOUT = 600


def _command(sample_run, out: Path, *overrides: str) -> list[str]:
    config = sample_run.stage_dir("prep") / "resolved_config.yaml"
    return [
        sys.executable,
        "-m",
        "kazllm.cli",
        "train",
        "--config",
        str(config),
        f"run.out_dir={out}",
        *COMMON,
        *overrides,
    ]


def _train(sample_run, out: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        _command(sample_run, out, *overrides), cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT
    )


def _start(sample_run, out: Path, *overrides: str) -> subprocess.Popen:
    """A run in its own process group (so kill -9 reaches torchrun's workers too), output to files."""
    log = open(out / "run.log", "w")
    return subprocess.Popen(
        _command(sample_run, out, *overrides),
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait_until(condition, proc: subprocess.Popen, out: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if proc.poll() is not None:
            pytest.fail(
                f"run ended (rc {proc.returncode}) before the test could act:\n"
                + (out / "run.log").read_text()[-3000:]
            )
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("timed out waiting for the run")
        time.sleep(0.05)


def _steps_logged(ckpt_dir: Path) -> int:
    path = ckpt_dir / "metrics.jsonl"
    return sum(1 for line in path.read_text().splitlines() if '"loss"' in line) if path.is_file() else 0


def _losses(ckpt_dir: Path) -> list[tuple]:
    """The training rows that must be bit-identical: step, loss, learning rate, gradient norm."""
    return [
        (r["step"], r["loss"], r["lr"], r["grad_norm"])
        for r in read_jsonl(ckpt_dir / "metrics.jsonl")
        if "loss" in r
    ]


def _ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def reference(sample_run, tmp_path_factory):
    """One uninterrupted run: its checkpoints dir (step4, step6, step8) and its metric rows."""
    out = tmp_path_factory.mktemp("uninterrupted")
    ckpt_dir = link_prepared_stages(sample_run, out)
    _ok(_train(sample_run, out))
    assert [p.name for p in ckpt.published_checkpoints(ckpt_dir)] == [
        "step4",
        "step6",
        "step8",
    ]  # keep_last=3
    return ckpt_dir


def test_loader_state_from_two_ranks_continues_the_same_sequences_on_one_rank(sample_run):
    """The loader state is world-size independent: sequences consumed by the whole job
    (global batch kept equal)."""
    reader = TokenShardReader(sample_run.stage_dir("shards"))
    seed = sample_run.run.seed
    two = [SequenceLoader(reader, 64, 2, rank, 2, seed) for rank in (0, 1)]
    for _ in range(3):  # three steps of a 2-rank job
        for loader in two:
            loader.next_micro_batch()
    state = two[0].state_dict()
    assert state == two[1].state_dict() and state["consumed"] == 12
    next_global = torch.cat([loader.next_micro_batch()["input_ids"] for loader in two])

    one = SequenceLoader(reader, 64, 4, 0, 1, seed)  # 1 rank x micro-batch 4
    one.load_state_dict(state)
    assert torch.equal(one.next_micro_batch()["input_ids"], next_global)
    accum = SequenceLoader(reader, 64, 2, 0, 1, seed)  # 1 rank x micro-batch 2 x grad_accum 2
    accum.load_state_dict(state)
    assert torch.equal(torch.cat([accum.next_micro_batch()["input_ids"] for _ in range(2)]), next_global)


@pytest.mark.slow
def test_kill_9_then_auto_resume_gives_the_uninterrupted_loss_sequence(sample_run, reference, tmp_path):
    ckpt_dir = link_prepared_stages(sample_run, tmp_path)
    kill_at = random.randint(3, 6)  # a random step after the first checkpoint (step 2)
    proc = _start(sample_run, tmp_path)
    _wait_until(
        lambda: _steps_logged(ckpt_dir) >= kill_at and (ckpt_dir / "latest").is_file(), proc, tmp_path
    )
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL
    logged_before_kill = _steps_logged(ckpt_dir)
    assert logged_before_kill < STEPS, "the run finished before it was killed"

    output = _ok(_train(sample_run, tmp_path))  # the same command again: auto-resume
    assert "resumed from" in output, output[-2000:]
    resumed_at = int(output.split("resumed from")[1].split(" at step ")[1].split()[0])
    assert 2 <= resumed_at <= logged_before_kill, (resumed_at, logged_before_kill)
    assert _losses(ckpt_dir) == _losses(reference), (
        f"killed after step {logged_before_kill}, resumed at {resumed_at}"
    )

    _ok(_train(sample_run, tmp_path))  # and once more on the finished run: nothing to train, no crash
    summary = read_json(ckpt_dir / "manifest.json")["summary"]
    assert summary["steps"] == STEPS and summary["first_loss"] == _losses(reference)[0][1]
    assert _losses(ckpt_dir) == _losses(reference)


@pytest.mark.slow
def test_sigusr1_saves_a_checkpoint_and_exits_with_the_requeue_code(sample_run, tmp_path):
    ckpt_dir = link_prepared_stages(sample_run, tmp_path)
    proc = _start(sample_run, tmp_path, "train.save_every=0")  # no periodic checkpoints: only the signal's
    _wait_until(lambda: _steps_logged(ckpt_dir) >= 2, proc, tmp_path)
    proc.send_signal(signal.SIGUSR1)
    assert proc.wait(timeout=TIMEOUT) == EXIT_REQUEUE == 75, (tmp_path / "run.log").read_text()[-3000:]

    record = read_json(ckpt_dir / ckpt.PREEMPTED_FILE)
    step = record["step"]
    assert record["reason"] == "SIGUSR1" and 2 <= step < STEPS
    assert [p.name for p in ckpt.published_checkpoints(ckpt_dir)] == [f"step{step}"]
    assert (ckpt_dir / "latest").read_text().strip() == f"step{step}"
    assert ckpt.verify_checkpoint(ckpt_dir / f"step{step}") == []
    meta = read_json(ckpt_dir / f"step{step}" / ckpt.META_FILE)
    assert meta["loader"]["consumed"] == step * 4 and meta["world_size"] == 1
    assert "rng_rank0.json" in meta["sha256"] and meta["config"]["train"]["steps"] == STEPS
    assert not (ckpt_dir / ckpt.PREEMPT_FILE).exists()
    assert f"exit code {EXIT_REQUEUE}" in (tmp_path / "run.log").read_text()


@pytest.mark.slow
def test_a_corrupted_checkpoint_is_refused_and_the_previous_one_used(sample_run, reference, tmp_path):
    ckpt_dir = link_prepared_stages(sample_run, tmp_path)
    shutil.copytree(reference, ckpt_dir, ignore=shutil.ignore_patterns("wandb"))
    victim = next((ckpt_dir / "step8").glob("*optim_states.pt"))
    data = bytearray(victim.read_bytes())
    data[len(data) // 2] ^= 0xFF
    victim.write_bytes(bytes(data))
    (ckpt_dir / "step10.tmp").mkdir()  # debris of a save that crashed
    (ckpt_dir / "step10.tmp" / "mp_rank_00_model_states.pt").write_bytes(b"half a file")

    output = _ok(_train(sample_run, tmp_path))
    assert f"refusing checkpoint step8: {victim}: sha256 mismatch" in output
    assert "deleted unfinished checkpoint(s) step10.tmp" in output and not (ckpt_dir / "step10.tmp").exists()
    assert f"resumed from {ckpt_dir / 'step6'} at step 6" in output
    assert _losses(ckpt_dir) == _losses(reference)  # steps 7 and 8 trained again, identically
    assert ckpt.verify_checkpoint(ckpt_dir / "step8") == []  # and step8 saved again, good this time


@pytest.mark.slow
def test_a_two_rank_checkpoint_resumes_on_one_rank_with_the_same_data_order(sample_run, reference, tmp_path):
    """2 ranks x micro-batch 2, stopped through the PREEMPT file -> 1 rank x micro-batch 4
    (same global batch)."""
    ckpt_dir = link_prepared_stages(sample_run, tmp_path)
    proc = _start(sample_run, tmp_path, "train.nproc=2", "train.micro_batch_size=2")
    _wait_until(lambda: _steps_logged(ckpt_dir) >= 3, proc, tmp_path)
    (ckpt_dir / ckpt.PREEMPT_FILE).touch()  # what the sbatch trap does
    assert proc.wait(timeout=TIMEOUT) == EXIT_REQUEUE, (tmp_path / "run.log").read_text()[-3000:]
    step = read_json(ckpt_dir / ckpt.PREEMPTED_FILE)["step"]
    saved = read_json(ckpt_dir / f"step{step}" / ckpt.META_FILE)
    assert saved["world_size"] == 2 and saved["loader"]["consumed"] == step * 4
    assert {"rng_rank0.json", "rng_rank1.json"} <= set(saved["sha256"])

    output = _ok(_train(sample_run, tmp_path, "train.nproc=1", "train.micro_batch_size=4"))
    assert (
        f"resumed from {ckpt_dir / f'step{step}'} at step {step}" in output
        and "via universal checkpoint" in output
    )
    assert not (
        ckpt_dir / ckpt.PREEMPTED_FILE
    ).exists()  # a finished run leaves nothing that would requeue it
    final = read_json(ckpt_dir / "step8" / ckpt.META_FILE)
    assert final["world_size"] == 1 and final["loader"]["consumed"] == STEPS * 4
    ours, ref = _losses(ckpt_dir), _losses(reference)
    assert [r[0] for r in ours] == list(range(1, STEPS + 1))
    for a, b in zip(ours, ref):  # 2 ranks sum gradients in another order: equal up to float rounding
        assert a[0] == b[0] and a[1] == pytest.approx(b[1], abs=2e-3) and a[2] == pytest.approx(b[2]), (a, b)
