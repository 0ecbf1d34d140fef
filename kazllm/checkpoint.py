"""Training checkpoints that never lose a step: atomic, checksummed, pruned, resumable on any world size.

Layout in <run>/checkpoints/:
    stepN/                   DeepSpeed files (model states, ZeRO optimizer partitions) + rng_rank{R}.json
                             + kazllm_checkpoint.json (step, loader state, configs, world size, sha256 of
                             every other file). Written as stepN.tmp/ and renamed when complete.
    latest                   the newest published tag; replaced (os.replace) only after the rename.
    universal/stepN/         cache: stepN converted to a DeepSpeed universal checkpoint, made on resume
                             when the world size changed (ZeRO partitions optimizer state per rank).
    PREEMPT                  stop request: the sbatch trap touches it; rank 0 polls it every step.
    preempted.json           {"step", "reason", "time"} written when a run stopped for preemption.
    LOCK                     {"pid", "host", "started"} of the job training into this directory (RunLock);
                             its mtime is a heartbeat, refreshed every LOCK_HEARTBEAT_S seconds.

A crash at any point leaves either the previous checkpoint + `latest`, or a stale stepN.tmp that resume
deletes. Resume walks published checkpoints newest first and takes the first whose checksums match.

kazllm.train.Trainer calls into this module through a typed seam: save_checkpoint(engine, ckpt_dir, state)
and load_checkpoint(engine, path) take the DeepSpeed engine and a TrainState (step, loader state, RNG), never
the trainer. Both are collective (every rank calls them), and checksum work is split over the ranks.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import re
import shutil
import signal
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from kazllm.artifacts import file_sha256, read_json, write_json, write_text_atomic
from kazllm.config import KazllmConfig, TrainSection, config_to_dict
from kazllm.errors import InputError, KazllmError

EXIT_REQUEUE = 75
"""Exit code of a run that stopped for preemption (EX_TEMPFAIL): the sbatch script requeues on it."""
META_FILE = "kazllm_checkpoint.json"
LATEST_FILE = "latest"
PREEMPT_FILE = "PREEMPT"
PREEMPTED_FILE = "preempted.json"
UNIVERSAL_DIR = "universal"
STEP_RE = re.compile(r"^step(\d+)$")

PROCESS_START = time.time()
"""A PREEMPT file older than this process was left by an earlier attempt, not a request to this one."""


def step_tag(step: int) -> str:
    return f"step{step}"


# ---------------------------------------------------------------------------------------------------
# Listing, verifying, publishing, pruning
# ---------------------------------------------------------------------------------------------------


def published_checkpoints(ckpt_dir: Path) -> list[Path]:
    """Published stepN directories, oldest first (stepN.tmp and other names are not checkpoints)."""
    if not ckpt_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir() if p.is_dir() and (m := STEP_RE.match(p.name))]
    return [p for _, p in sorted(found)]


def remove_stale_tmp(ckpt_dir: Path) -> list[str]:
    """Delete stepN.tmp directories left by a save that crashed before publishing; returns their names."""
    stale = [p for pattern in ("step*.tmp", "step*.old") for p in ckpt_dir.glob(pattern) if p.is_dir()]
    for p in stale:
        shutil.rmtree(p, ignore_errors=True)
    return sorted(p.name for p in stale)


def checkpoint_files(path: Path) -> list[str]:
    """Relative paths of every file of a checkpoint except its metadata (which holds their checksums)."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and p.name != META_FILE)


def _my_share(items: list, rank: int, world_size: int) -> list:
    return items[rank::world_size]


def _gather_dicts(local: dict, world_size: int) -> dict:
    if world_size == 1:
        return local
    parts: list = [None] * world_size
    torch.distributed.all_gather_object(parts, local)
    return {k: v for part in parts for k, v in part.items()}


def hash_files(path: Path, names: list[str], rank: int = 0, world_size: int = 1) -> dict[str, str]:
    """sha256 of `names` under `path`, the work split over the ranks (collective when world_size > 1)."""
    local = {name: file_sha256(path / name) for name in _my_share(names, rank, world_size)}
    return _gather_dicts(local, world_size)


def verify_checkpoint(path: Path, rank: int = 0, world_size: int = 1) -> list[str]:
    """Problems that make `path` unusable (empty list = good): missing metadata, files or checksum mismatches.

    Collective when world_size > 1: every rank must call it with the same path.
    """
    meta_path = path / META_FILE
    try:
        meta = read_json(meta_path)
        expected = meta["sha256"]
    except (InputError, KeyError, TypeError) as e:
        return [f"{meta_path}: unreadable checkpoint metadata ({e})"]
    missing = sorted(name for name in expected if not (path / name).is_file())
    present = sorted(name for name in expected if name not in missing)
    actual = hash_files(path, present, rank, world_size)
    problems = [f"{path / name}: file missing" for name in missing]
    problems += [
        f"{path / name}: sha256 mismatch (corrupted)" for name in present if actual[name] != expected[name]
    ]
    return problems


def publish(ckpt_dir: Path, tmp_path: Path, tag: str, meta: dict) -> Path:
    """Rank 0, after every rank wrote its files into `tmp_path`: write metadata, rename to `tag`, move
    `latest`.

    The order is what makes it atomic: a reader sees either no `tag` directory or a complete one, and
    `latest` only ever names a complete one.
    """
    write_json(tmp_path / META_FILE, meta)
    final = ckpt_dir / tag
    if final.exists():  # re-saving a step (e.g. after falling back from a corrupted copy of it)
        old = ckpt_dir / f"{tag}.old"
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp_path, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp_path, final)
    _fsync_dir(ckpt_dir)
    write_text_atomic(ckpt_dir / LATEST_FILE, tag + "\n")
    _fsync_dir(ckpt_dir)
    return final


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some filesystems do not support fsync on directories
        pass
    finally:
        os.close(fd)


def prune(ckpt_dir: Path, keep_last: int) -> list[str]:
    """Delete all but the newest `keep_last` published checkpoints (never the one `latest` names)."""
    latest = read_latest(ckpt_dir)
    doomed = [p for p in published_checkpoints(ckpt_dir)[:-keep_last] if p.name != latest]
    for p in doomed:
        shutil.rmtree(p, ignore_errors=True)
        shutil.rmtree(ckpt_dir / UNIVERSAL_DIR / p.name, ignore_errors=True)
    return [p.name for p in doomed]


def read_latest(ckpt_dir: Path) -> str | None:
    latest = ckpt_dir / LATEST_FILE
    return latest.read_text().strip() if latest.is_file() else None


def find_latest_good(ckpt_dir: Path, rank: int = 0, world_size: int = 1, warn=print) -> Path | None:
    """The newest published checkpoint whose checksums verify; each refused one is reported through `warn`.

    Collective when world_size > 1 (all ranks must see the same directory, i.e. a shared filesystem).
    """
    for path in reversed(published_checkpoints(ckpt_dir)):
        problems = verify_checkpoint(path, rank, world_size)
        if not problems:
            return path
        warn(
            f"refusing checkpoint {path.name}: "
            + "; ".join(problems[:5])
            + (" ..." if len(problems) > 5 else "")
        )
    return None


SHAPE_KEYS = (
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "tie_word_embeddings",
)
"""Model config keys that decide parameter shapes: a checkpoint only loads into a model that agrees on
them."""


def model_shape_differences(saved: dict, current: dict) -> list[str]:
    return [
        f"{k}: checkpoint {saved.get(k)!r}, config {current.get(k)!r}"
        for k in SHAPE_KEYS
        if saved.get(k) != current.get(k)
    ]


# ---------------------------------------------------------------------------------------------------
# RNG states (JSON, not pickle: a checkpoint file should not be able to run code when loaded)
# ---------------------------------------------------------------------------------------------------


def rng_state() -> dict:
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(internal), gauss],
        "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state().numpy().tobytes().hex(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.numpy().tobytes().hex() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(torch.from_numpy(np.frombuffer(bytes.fromhex(state["torch"]), dtype=np.uint8).copy()))
    if "cuda" in state and torch.cuda.is_available():
        cuda = [
            torch.from_numpy(np.frombuffer(bytes.fromhex(s), dtype=np.uint8).copy()) for s in state["cuda"]
        ]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)


def rng_file(rank: int) -> str:
    return f"rng_rank{rank}.json"


# ---------------------------------------------------------------------------------------------------
# Preemption markers
# ---------------------------------------------------------------------------------------------------


def stop_requested_by_file(ckpt_dir: Path) -> bool:
    """True when <ckpt_dir>/PREEMPT was touched during this process's life (older ones are stale)."""
    try:
        return (ckpt_dir / PREEMPT_FILE).stat().st_mtime >= PROCESS_START - 1.0
    except FileNotFoundError:
        return False


def remove_stale_preempt(ckpt_dir: Path) -> bool:
    """Delete a PREEMPT file left by an earlier attempt, so a requeued job does not stop at once again."""
    path = ckpt_dir / PREEMPT_FILE
    if path.is_file() and not stop_requested_by_file(ckpt_dir):
        path.unlink(missing_ok=True)
        return True
    return False


def write_preempted(ckpt_dir: Path, step: int, reason: str) -> None:
    write_json(ckpt_dir / PREEMPTED_FILE, {"step": step, "reason": reason, "time": time.time()})
    (ckpt_dir / PREEMPT_FILE).unlink(missing_ok=True)


def preempted_since(ckpt_dir: Path, since: float) -> dict | None:
    """The preempted.json record if a run stopped for preemption after `since` (a time.time() value)."""
    path = ckpt_dir / PREEMPTED_FILE
    if not path.is_file():
        return None
    try:
        record = read_json(path)
    except InputError:
        return None
    return record if float(record.get("time", 0)) >= since else None


def clear_preemption_markers(ckpt_dir: Path) -> None:
    """A normal finish: no stale record may make a wrapper requeue a finished run."""
    (ckpt_dir / PREEMPTED_FILE).unlink(missing_ok=True)
    (ckpt_dir / PREEMPT_FILE).unlink(missing_ok=True)


PREEMPTION_SIGNALS = (signal.SIGUSR1, signal.SIGTERM)


class PreemptionSignals:
    """While installed (`with PreemptionSignals() as signals:`), SIGUSR1 and SIGTERM only record their name in
    `reason`; the trainer acts on it at the next step boundary, on all ranks at once (Trainer.maybe_save).
    Leaving the block puts the previous handlers back. One that is never installed never fires.

    Under torchrun, a SIGTERM sent to torchrun is forwarded to the workers (which get ~30 s before
    SIGKILL), but a SIGUSR1 sent to torchrun kills the agent itself. The robust path under torchrun and
    srun is the stop file <run>/checkpoints/PREEMPT (the sbatch trap touches it; shared filesystem).
    """

    def __init__(self):
        self.reason: str | None = None
        """Name of the preemption signal this process received (e.g. "SIGUSR1"), else None."""
        self._previous: dict = {}

    def _request_stop(self, signum, _frame) -> None:
        self.reason = signal.Signals(signum).name

    def __enter__(self) -> PreemptionSignals:
        self._previous = {sig: signal.signal(sig, self._request_stop) for sig in PREEMPTION_SIGNALS}
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


# ---------------------------------------------------------------------------------------------------
# One job per checkpoint directory: the run lock
# ---------------------------------------------------------------------------------------------------

LOCK_FILE = "LOCK"
LOCK_HEARTBEAT_S = 30.0
"""The holder touches LOCK this often, so that a job on another host can tell a live holder from a dead
one."""
LOCK_STALE_S = 300.0
"""A lock held from another host whose heartbeat is older than this is stale (its job died without
releasing)."""


class RunLockedError(KazllmError):
    """Another live job holds the checkpoint directory."""


def _process_start(pid: int) -> str | None:
    """The kernel's start time of `pid` (Linux /proc), to tell a live holder from a new process that reuses
    its pid."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _slurm_attempt() -> tuple[str | None, int]:
    """(SLURM_JOB_ID, SLURM_RESTART_COUNT) of this process, (None, 0) outside Slurm."""
    return os.environ.get("SLURM_JOB_ID") or None, int(os.environ.get("SLURM_RESTART_COUNT") or 0)


def _pid_alive(pid: int, start: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return start is None or _process_start(pid) in (None, start)


class RunLock:
    """<ckpt_dir>/LOCK: at most one job trains into a checkpoint directory at a time.

    The launcher of a job (or rank 0 under an outside launcher) takes it before anything is written and
    releases it on exit. A second start refuses with a one-line RunLockedError naming the holder's pid and
    host while the holder lives; it takes the lock over (with a warning) when the holder is stale:

    - same host: the holder's pid no longer exists (or now belongs to a process started later);
    - another host (a shared filesystem; a pid there cannot be checked from here): its heartbeat, the
      file's mtime refreshed every LOCK_HEARTBEAT_S seconds by a thread of the holder, is older than
      LOCK_STALE_S. A job frozen that long (its host suspended or cut off) loses its lock;
    - any host: the holder is an earlier attempt of this same Slurm job (same SLURM_JOB_ID, a lower
      SLURM_RESTART_COUNT): Slurm runs one attempt of a job at a time, so a requeued job never waits out
      the heartbeat of the attempt it replaces.

    A kill -9 cannot release the lock, which is what makes the stale rules necessary. The check-and-take
    is serialised by flock on LOCK.guard, so two starts at the same moment cannot both win.
    """

    def __init__(self, ckpt_dir: Path, pid: int | None = None, host: str | None = None):
        self.path = Path(ckpt_dir) / LOCK_FILE
        self.pid = os.getpid() if pid is None else pid
        self.host = host or socket.gethostname()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.taken_over: dict | None = None
        """The stale holder's record when acquire took its lock over, else None."""

    def holder(self) -> dict | None:
        """The record in LOCK ({"pid", "host", "started", "heartbeat_age_s"}), or None when unlocked."""
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
            age = time.time() - self.path.stat().st_mtime
        except FileNotFoundError:
            return None
        except (OSError, ValueError):  # a holder killed while writing it: an unreadable lock is stale
            return {"pid": None, "host": "?", "heartbeat_age_s": float("inf")}
        return (
            {**record, "heartbeat_age_s": age}
            if isinstance(record, dict)
            else {"pid": None, "host": "?", "heartbeat_age_s": float("inf")}
        )

    def is_stale(self, record: dict) -> bool:
        if not isinstance(record.get("pid"), int):
            return True
        job, attempt = _slurm_attempt()
        if (
            job is not None
            and record.get("slurm_job_id") == job
            and (record.get("slurm_restart_count") or 0) < attempt
        ):
            return True
        if record.get("host") == self.host:
            return not _pid_alive(record["pid"], record.get("pid_start"))
        return record["heartbeat_age_s"] > LOCK_STALE_S

    def is_mine(self, record: dict | None) -> bool:
        return record is not None and record.get("pid") == self.pid and record.get("host") == self.host

    def acquire(self) -> RunLock:
        """Take the lock (or confirm it is already ours), start the heartbeat; RunLockedError when held."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(LOCK_FILE + ".guard"), "a") as guard:
            fcntl.flock(guard, fcntl.LOCK_EX)
            record = self.holder()
            if record is not None and not self.is_mine(record):
                if not self.is_stale(record):
                    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.get("started", 0)))
                    raise RunLockedError(
                        f"{self.path.parent} is in use by another job: pid {record['pid']} on host "
                        f"{record.get('host')} (since {when}, lock {self.path}); wait for it or stop it"
                    )
                self.taken_over = record
            job, attempt = _slurm_attempt()
            write_text_atomic(
                self.path,
                json.dumps(
                    {
                        "pid": self.pid,
                        "host": self.host,
                        "started": time.time(),
                        "pid_start": _process_start(self.pid),
                        "slurm_job_id": job,
                        "slurm_restart_count": attempt,
                    }
                )
                + "\n",
            )
        self._thread = threading.Thread(target=self._heartbeat, name="kazllm-lock-heartbeat", daemon=True)
        self._thread.start()
        return self

    def _heartbeat(self) -> None:
        while not self._stop.wait(LOCK_HEARTBEAT_S):
            with contextlib.suppress(OSError):
                os.utime(self.path)

    def release(self) -> None:
        """Stop the heartbeat and delete LOCK if it is still ours (a takeover by another job is left
        alone)."""
        self._stop.set()
        if self.is_mine(self.holder()):
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# ---------------------------------------------------------------------------------------------------
# A different world size: DeepSpeed universal checkpoints
# ---------------------------------------------------------------------------------------------------


def convert_to_universal(ckpt_path: Path, out_root: Path) -> Path:
    """Convert a ZeRO checkpoint to DeepSpeed's universal format (per-parameter fp32 weights + Adam moments).

    ZeRO stores optimizer state partitioned by data-parallel rank, so a checkpoint from N ranks cannot be
    loaded directly by M != N ranks; the universal format can be loaded by any number of ranks
    (engine config "checkpoint": {"load_universal": true}). Rank 0 only; in-process, no worker pool.
    """
    from deepspeed.checkpoint.ds_to_universal import main as ds_to_universal

    out = out_root / ckpt_path.name
    shutil.rmtree(out, ignore_errors=True)
    out_root.mkdir(parents=True, exist_ok=True)
    args = SimpleNamespace(
        input_folder=str(ckpt_path),
        output_folder=str(out),
        num_extract_workers=1,
        num_merge_workers=1,
        keep_temp_folder=False,
        strict=True,
        inject_missing_state=True,
    )
    ds_to_universal(args)
    return out


# ---------------------------------------------------------------------------------------------------
# Saving and loading a training run (collective: every rank calls these with the same arguments)
# ---------------------------------------------------------------------------------------------------


@dataclass
class TrainState:
    """What a resume restores besides the engine's own state (weights, optimizer, LR schedule): the whole of
    what the training loop hands this module, so that checkpointing never reads the trainer itself."""

    step: int
    """Optimizer steps done: the checkpoint's tag is step_tag(step)."""
    loader: dict
    """SequenceLoader.state_dict(): sequences consumed by the whole job, and what fixes the data order."""
    rng: dict | None = None
    """This rank's RNG states as rng_state() makes them; None when the checkpoint holds none for this rank
    (saved by fewer ranks)."""


@dataclass(frozen=True)
class LoadedCheckpoint:
    """What load_checkpoint read besides what it loaded into the engine."""

    state: TrainState
    saved_world_size: int
    """Ranks of the job that saved the checkpoint."""
    via_universal: bool
    """Loaded through a DeepSpeed universal checkpoint (another world size with ZeRO > 0)."""


def _barrier(world_size: int) -> None:
    if world_size > 1:
        torch.distributed.barrier()


def _rank_and_world_size() -> tuple[int, int]:
    """This process's place in the process group the engine was built on."""
    return torch.distributed.get_rank(), torch.distributed.get_world_size()


def save_checkpoint(engine, ckpt_dir: Path, state: TrainState, *, cfg: KazllmConfig, model_config) -> Path:
    """Save step_tag(state.step): DeepSpeed files + this rank's RNG into stepN.tmp, checksums (split over the
    ranks), publish, prune. `cfg` and `model_config` (a LlamaConfig) go into the metadata: the checks of a
    resume, the architecture of a resumed or exported model."""
    import deepspeed

    t = cfg.train
    rank, world_size = _rank_and_world_size()
    tag = step_tag(state.step)
    tmp = ckpt_dir / f"{tag}.tmp"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
    _barrier(world_size)
    client_state = {"step": state.step, "loader": state.loader}
    engine.save_checkpoint(str(ckpt_dir), tag=tmp.name, client_state=client_state, save_latest=False)
    if state.rng is not None:
        write_json(tmp / rng_file(rank), state.rng)
    _barrier(world_size)
    names = [checkpoint_files(tmp) if rank == 0 else None]
    if world_size > 1:  # one listing for all ranks, whatever each node's filesystem cache shows
        torch.distributed.broadcast_object_list(names, src=0)
    sha256 = hash_files(tmp, names[0], rank, world_size)
    if rank == 0:
        publish(
            ckpt_dir,
            tmp,
            tag,
            {
                "step": state.step,
                "loader": state.loader,
                "model_config": model_config.to_dict(),
                "world_size": world_size,
                "zero_stage": t.zero_stage,
                "global_batch": t.global_batch(world_size),
                "deepspeed_version": deepspeed.__version__,
                "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "config": config_to_dict(cfg),
                "sha256": sha256,
            },
        )
        prune(ckpt_dir, t.keep_last)
        if state.step >= t.steps:
            clear_preemption_markers(ckpt_dir)  # finished: nothing may requeue this run
    _barrier(world_size)
    return ckpt_dir / tag


def load_checkpoint(
    engine, path: Path, *, ckpt_dir: Path, train: TrainSection, model_config, log=print, warn=print
) -> LoadedCheckpoint:
    """Load a verified checkpoint into `engine` (weights, optimizer, LR schedule) and read the TrainState the
    caller restores (step, loader, this rank's RNG). `train` and `model_config` are the resuming run's: a
    checkpoint of another model or ZeRO stage is refused, a changed global batch warned about.

    A different world size with ZeRO > 0 goes through a universal checkpoint made in ckpt_dir/universal/.
    """
    meta = read_json(path / META_FILE)
    t = train
    rank, world_size = _rank_and_world_size()
    diff = model_shape_differences(meta["model_config"], model_config.to_dict())
    if diff:
        raise InputError(f"checkpoint {path} was saved for another model ({'; '.join(diff)})")
    if meta["zero_stage"] != t.zero_stage:
        raise InputError(
            f"checkpoint {path} was saved with ZeRO-{meta['zero_stage']}; "
            f"train.zero_stage is {t.zero_stage}: resume with the same stage"
        )
    global_batch = t.global_batch(world_size)
    if meta["global_batch"] != global_batch:
        warn(
            f"global batch changed {meta['global_batch']} -> {global_batch} sequences: the data order "
            "continues, but steps after the resume are not the steps of the original run"
        )
    load_dir, universal = path.parent, meta["world_size"] != world_size and t.zero_stage > 0
    if universal:
        load_dir = ckpt_dir / UNIVERSAL_DIR
        if t.zero_stage == 3:
            warn(
                "ZeRO-3 on another world size: weights load exactly, but DeepSpeed's universal ZeRO-3 "
                "load of the Adam state is not bit-exact (losses drift ~1e-3 within a few steps in "
                "kazllm's tests)"
            )
        if rank == 0:
            log(
                f"world size {meta['world_size']} -> {world_size}: converting {path.name} "
                f"to a DeepSpeed universal checkpoint in {load_dir / path.name}"
            )
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                convert_to_universal(path, load_dir)
        _barrier(world_size)
    inner = getattr(engine.optimizer, "optimizer", engine.optimizer)
    weight_decay = [group.get("weight_decay") for group in inner.param_groups]
    # load_universal is only read while loading: set it for this load rather than in the engine config.
    previous = engine._config.load_universal_checkpoint
    engine._config.load_universal_checkpoint = universal
    try:
        loaded, _ = engine.load_checkpoint(
            str(load_dir), tag=path.name, load_optimizer_states=True, load_lr_scheduler_states=True
        )
    finally:
        engine._config.load_universal_checkpoint = previous
    if loaded is None:
        raise InputError(f"DeepSpeed could not load checkpoint {path}")
    if universal:  # DeepSpeed's ZeRO-3 universal load copies group 0's hyperparameters (decay) to every group
        for group, decay in zip(inner.param_groups, weight_decay):
            group["weight_decay"] = decay
    rng_path = path / rng_file(rank)
    rng = read_json(rng_path) if rng_path.is_file() else None
    state = TrainState(step=int(meta["step"]), loader=meta["loader"], rng=rng)
    return LoadedCheckpoint(state, saved_world_size=meta["world_size"], via_universal=universal)
