"""Tokens in the environment (HF_TOKEN, WANDB_API_KEY) never reach a file a run writes, nor its output."""

import os
import subprocess
import sys

import pytest

from .conftest import REPO

pytestmark = pytest.mark.slow

HF_TOKEN = "hf_FAKEkazllmTOKENdoNOTleak0123456789"
WANDB_KEY = "fakewandbkey0123456789abcdef0123456789abcd"  # 40 characters, like a real key


def test_no_token_reaches_the_run_directory_or_the_logs(sample_run, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    for stage in ("prep", "tokenizer", "shards"):
        (out / stage).symlink_to(sample_run.stage_dir(stage))
    config = sample_run.stage_dir("prep") / "resolved_config.yaml"
    env = {
        **os.environ,
        "HF_TOKEN": HF_TOKEN,
        "HUGGING_FACE_HUB_TOKEN": HF_TOKEN,
        "WANDB_API_KEY": WANDB_KEY,
        "HF_HUB_OFFLINE": "1",
    }
    common = ["--config", str(config), f"run.out_dir={out}", "export.license=apache-2.0"]
    commands = [
        [
            "train",
            *common,
            "train.steps=2",
            "train.warmup_steps=1",
            "train.nproc=1",
            "train.zero_stage=2",
            "train.wandb.enabled=true",
        ],
        ["export", *common],
        [
            "eval",
            *common,
            "--tasks",
            "sample_ppl_kk,sample_mt_kk_en",
            "--limit",
            "2",
            "--max-new-tokens",
            "4",
            "--update-card",
            str(out / "export"),
        ],
        ["push", "--export", str(out / "export"), "--repo", "kazllm/secret-test", "--dry-run"],
    ]
    logs = ""
    for args in commands:
        result = subprocess.run(
            [sys.executable, "-m", "kazllm.cli", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        logs += result.stdout + result.stderr
    assert list((out / "checkpoints" / "wandb").glob("offline-run-*")), "wandb wrote no offline run"
    for secret in (HF_TOKEN, WANDB_KEY):
        assert secret not in logs
        leaks = [p for p in out.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
        assert not leaks, f"token found in {leaks}"
