"""`kazllm train` as an operator meets it: bad values, a second start on a live run, kill -9 of the whole job,
requeues (one W&B run, a loss curve that is never stale), Slurm-style logs and reruns of a finished run.

The runs are the real CLI in subprocesses (debug-tiny, seq_len 64, real torchrun and DeepSpeed ranks).
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kazllm import checkpoint as ckpt
from kazllm.artifacts import read_metrics
from kazllm.config import load_config
from kazllm.train import EXIT_REQUEUE

from .conftest import REPO, link_prepared_stages

TIMEOUT = 600
COMMON = ["train.seq_len=64", "train.micro_batch_size=2", "train.log_every=1", "train.warmup_steps=2"]


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


def _env(**extra) -> dict:
    return {**os.environ, **extra}


def _train(sample_run, out: Path, *overrides: str, env=None) -> subprocess.CompletedProcess:
    """A run with stdout and stderr to pipes: not a terminal, as in a Slurm log."""
    return subprocess.run(
        _command(sample_run, out, *overrides),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
    )


def _start(sample_run, out: Path, *overrides: str, env=None) -> subprocess.Popen:
    log = open(out / "run.log", "w")
    return subprocess.Popen(
        _command(sample_run, out, *overrides),
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=env,
    )


def _steps_logged(ckpt_dir: Path) -> int:
    path = ckpt_dir / "metrics.jsonl"
    return path.read_text().count('"loss"') if path.is_file() else 0


def _wait_until(condition, proc: subprocess.Popen, out: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"run ended (rc {proc.returncode}) early:\n" + (out / "run.log").read_text()[-3000:])
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("timed out waiting for the run")
        time.sleep(0.05)


def _processes_mentioning(marker: str) -> list[tuple[int, str]]:
    """Live processes (not zombies: theirs is empty) whose command line contains `marker`, except this one."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline:
            found.append((int(entry.name), cmdline[:200]))
    return found


def _snapshot(directory: Path) -> list[tuple]:
    return sorted(
        (str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in directory.rglob("*") if p.exists()
    )


# --- values checked before any rank starts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "names"),
    [
        ("train.lr=-0.1", ["'train'", "lr must be"]),
        ("train.seq_len=0", ["'train'", "seq_len"]),
        ("train.micro_batch_size=0", ["'train'", "micro_batch_size"]),
        ("train.grad_accum=0", ["'train'", "grad_accum"]),
        ("train.nproc=0", ["'train'", "nproc"]),
        (
            "model.preset=7b-typo",
            ["model.preset '7b-typo'", "debug-tiny"],
        ),  # under 2 ranks (train.nproc=2 below)
        ("train.warmup_steps=500", ["train.warmup_steps=500 > train.steps"]),
    ],
)
def test_a_bad_value_is_one_line_naming_the_key(sample_run, tmp_path, override, names):
    link_prepared_stages(sample_run, tmp_path)
    result = _train(sample_run, tmp_path, "train.nproc=2", override)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("kazllm: error: "), result.stderr
    assert all(name in lines[0] for name in names), lines[0]
    assert not (tmp_path / "checkpoints").exists()  # stopped before anything was written


@pytest.mark.slow
def test_an_error_raised_inside_the_ranks_reaches_the_user_as_one_line(sample_run, tmp_path):
    """train.resume names a checkpoint the ranks verify: their InputError, not torchrun's ChildFailedError."""
    link_prepared_stages(sample_run, tmp_path)
    missing = tmp_path / "elsewhere" / "step4"
    result = _train(sample_run, tmp_path, "train.nproc=2", "train.steps=4", f"train.resume={missing}")
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"kazllm: error: train.resume={missing}: checkpoint refused"), lines[0]
    assert not (tmp_path / "checkpoints" / ckpt.LOCK_FILE).exists()  # released


# --- kill -9 of the job, and the checkpoint directory's lock -------------------------------------------


@pytest.mark.slow
def test_kill_9_of_the_job_leaves_no_process_and_the_lock_guards_the_directory(sample_run, tmp_path):
    ckpt_dir = link_prepared_stages(sample_run, tmp_path)
    marker = str(tmp_path)  # in the command line of the launcher, torchrun's agent and every rank
    job = _start(sample_run, tmp_path, "train.nproc=2", "train.steps=5000", "train.save_every=3")
    try:
        _wait_until(lambda: _steps_logged(ckpt_dir) >= 4 and (ckpt_dir / "latest").is_file(), job, tmp_path)
        # a second start while the job lives: refused in one line naming the holder
        second = _train(sample_run, tmp_path, "train.nproc=1", "train.steps=5000")
        assert second.returncode == 2
        lines = second.stderr.splitlines()
        assert len(lines) == 1 and f"pid {job.pid} on host {socket.gethostname()}" in lines[0], second.stderr
        assert _processes_mentioning(marker), "the job should still be running"

        os.killpg(
            job.pid, signal.SIGKILL
        )  # the launcher's whole process group; the ranks run in their own sessions
        assert job.wait() == -signal.SIGKILL
        deadline = time.monotonic() + 5
        while _processes_mentioning(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _processes_mentioning(marker) == [], "processes of the killed job survived"
        before = _snapshot(ckpt_dir)
        time.sleep(2)
        assert _snapshot(ckpt_dir) == before, "checkpoints/ still changes after the kill"
    finally:
        for pid, _ in _processes_mentioning(marker):
            os.kill(pid, signal.SIGKILL)

    # the rerun takes the dead job's lock over, finishes at the step it reached, and releases the lock
    assert ckpt.RunLock(ckpt_dir).holder()["pid"] == job.pid
    step = int(
        ckpt.published_checkpoints(ckpt_dir)[-1].name.removeprefix("step")
    )  # may be newer than `latest`
    rerun = _train(sample_run, tmp_path, "train.nproc=2", f"train.steps={step}", "train.save_every=3")
    assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]
    assert (
        f"took over the stale lock of {ckpt_dir} (pid {job.pid} on host {socket.gethostname()}"
        in rerun.stderr
    )
    assert f"resumed from {ckpt_dir / f'step{step}'}" in rerun.stdout
    assert not (ckpt_dir / ckpt.LOCK_FILE).exists()


def test_lock_refuses_a_live_holder_and_takes_over_a_dead_one(tmp_path):
    with ckpt.RunLock(tmp_path) as mine:  # held by this (live) process
        with pytest.raises(ckpt.RunLockedError, match=rf"pid {os.getpid()} on host {socket.gethostname()}"):
            ckpt.RunLock(tmp_path, pid=os.getpid() + 1).acquire()
        assert mine.holder()["pid"] == os.getpid()
    assert not (tmp_path / ckpt.LOCK_FILE).exists()  # released on exit

    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its pid names no process now
    ckpt.RunLock(tmp_path, pid=gone.pid).acquire()  # what a kill -9 leaves behind
    lock = ckpt.RunLock(tmp_path).acquire()
    assert lock.taken_over["pid"] == gone.pid and lock.holder()["pid"] == os.getpid()
    ckpt.RunLock(tmp_path, pid=gone.pid).release()  # not the holder: leaves the lock alone
    assert lock.holder()["pid"] == os.getpid()
    lock.release()


def test_a_lock_from_another_host_is_live_while_its_heartbeat_is_fresh(tmp_path, monkeypatch):
    monkeypatch.setattr(ckpt, "LOCK_HEARTBEAT_S", 0.05)
    remote = ckpt.RunLock(tmp_path, host="node-17").acquire()  # a job on another host (shared filesystem)
    path = tmp_path / ckpt.LOCK_FILE
    old = time.time() - 2 * ckpt.LOCK_STALE_S
    os.utime(path, (old, old))
    time.sleep(0.3)
    assert path.stat().st_mtime > old + ckpt.LOCK_STALE_S  # the holder's heartbeat refreshed it
    with pytest.raises(ckpt.RunLockedError, match="on host node-17"):
        ckpt.RunLock(tmp_path).acquire()
    remote._stop.set()  # that host froze: no heartbeat any more
    time.sleep(0.1)
    os.utime(path, (old, old))
    lock = ckpt.RunLock(tmp_path).acquire()
    assert lock.taken_over["host"] == "node-17"
    lock.release()


# --- requeues, logs, reruns -------------------------------------------------------------------------


@pytest.mark.slow
def test_requeued_run_keeps_one_wandb_run_a_fresh_curve_plain_logs_and_no_warnings(sample_run, tmp_path):
    ckpt_dir = link_prepared_stages(sample_run, tmp_path)
    env = _env(WANDB_MODE="offline", PYTHONWARNINGS="default")  # every DeprecationWarning shown
    args = ("train.nproc=1", "train.steps=20", "train.save_every=0", "train.wandb.enabled=true")
    first = _start(sample_run, tmp_path, *args, env=env)
    _wait_until(lambda: _steps_logged(ckpt_dir) >= 2, first, tmp_path)
    (ckpt_dir / ckpt.PREEMPT_FILE).touch()  # what the sbatch trap does before the time limit
    assert first.wait(timeout=TIMEOUT) == EXIT_REQUEUE, (tmp_path / "run.log").read_text()[-3000:]
    assert (ckpt_dir / "loss_curve.png").stat().st_size > 1000  # drawn at the save, before any end of run
    run_id = (ckpt_dir / "wandb_id").read_text().strip()

    second = _train(sample_run, tmp_path, *args, env=env)  # the requeued attempt
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    attempts = sorted(p.name for p in (ckpt_dir / "wandb").glob("offline-run-*"))
    assert len(attempts) == 2 and all(name.endswith(f"-{run_id}") for name in attempts), attempts

    output = (tmp_path / "run.log").read_text() + second.stdout + second.stderr
    assert "\r" not in output
    assert "FutureWarning" not in output and "DeprecationWarning" not in output, output[-3000:]
    step = int(second.stdout.split("resumed from")[1].split(" at step ")[1].split()[0])
    progress = [line for line in second.stdout.splitlines() if line.startswith("progress: ")]
    assert 2 <= step < 20 and [line.split()[2] for line in progress] == [
        f"{s}/20" for s in range(step + 1, 21)
    ]
    assert "loss " in progress[-1] and "tok/s" in progress[-1] and "eta" in progress[-1]

    metrics = (ckpt_dir / "metrics.jsonl").read_bytes()
    third = _train(sample_run, tmp_path, *args, env=env)  # a rerun of the finished run
    assert third.returncode == 0 and "nothing to do" in third.stdout, third.stdout + third.stderr
    assert (ckpt_dir / "metrics.jsonl").read_bytes() == metrics  # no second validation line
    assert sorted(p.name for p in (ckpt_dir / "wandb").glob("offline-run-*")) == attempts


def test_a_cut_metrics_line_is_skipped_with_one_warning_naming_it(tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1, "loss": 5.0}\n{"step": 2, "lo\n{"step": 3, "loss": 4.0}\n', encoding="utf-8")
    assert [r["step"] for r in read_metrics(path)] == [1, 3]
    assert [r["step"] for r in read_metrics(path)] == [1, 3]
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        f"warning: {path}:2: unreadable metrics line skipped: its metrics are lost "
        "(a line cut short by a kill)"
    ]


def test_a_relative_out_dir_is_relative_to_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(None, ["run.out_dir=runs/mine"]).out_dir == tmp_path / "runs" / "mine"
    monkeypatch.chdir(REPO)
    assert load_config(REPO / "configs" / "quickstart.yaml").out_dir == REPO / "runs" / "quickstart"


def test_a_requeued_slurm_job_takes_over_the_lock_of_its_earlier_attempt(tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")
    first = ckpt.RunLock(tmp_path, host="node-1").acquire()  # attempt 0 on node-1, its heartbeat still fresh
    first._stop.set()
    with pytest.raises(ckpt.RunLockedError):  # another job of the same attempt number: a real conflict
        ckpt.RunLock(tmp_path).acquire()
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")  # the requeued attempt, on another node
    lock = ckpt.RunLock(tmp_path, host="node-2").acquire()
    assert lock.taken_over["host"] == "node-1" and lock.holder()["slurm_restart_count"] == 1
    lock.release()
