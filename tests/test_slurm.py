"""`kazllm slurm submit` and the jobs it renders, on a real Slurm cluster on localhost.

The cluster (tests/slurm_cluster.py) is munge + slurmctld + two slurmd virtual nodes, installed from
Debian packages when missing; the tests that need it skip with the reason when it cannot run (not
root, no apt-get, install failed). The end-to-end test trains on both virtual nodes through srun +
torchrun c10d, is preempted with USR1, requeues itself, resumes and must end exactly where an
uninterrupted run ends. The stage test queues a tokenizer job and a pretokenize job behind it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kazllm.config import load_config
from kazllm.errors import ConfigError, InputError
from kazllm.slurm import STAGES, render_sbatch, submit, world_size
from tests.conftest import REPO, run_kazllm
from tests.slurm_cluster import LocalSlurmCluster, _free_ports

QUICKSTART = str(REPO / "configs" / "quickstart.yaml")
NATIONAL = str(REPO / "configs" / "national_8b_13b.yaml")


# --- rendering (no cluster) --------------------------------------------------------------------------


def test_dry_run_prints_a_dgx_script_and_submits_nothing(tmp_path):
    r = run_kazllm(
        "slurm",
        "submit",
        "--config",
        NATIONAL,
        "--nodes",
        "12",
        "--partition",
        "gpu",
        "--account",
        "kaz",
        "--time",
        "24:00:00",
        "--dry-run",
        f"run.out_dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr
    script = r.stdout
    for line in [
        "#SBATCH --nodes=12",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --gpus-per-node=8",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=kaz",
        "#SBATCH --time=24:00:00",
        "#SBATCH --signal=B:USR1@600",
        "#SBATCH --requeue",
        "#SBATCH --exclusive",
        "--nproc_per_node=8",
        "--rdzv_backend=c10d",
        'scontrol requeue "$SLURM_JOB_ID"',
        "trap 'request_stop USR1' USR1",
        "export TORCH_NCCL_ASYNC_ERROR_HANDLING=",
        "export NCCL_IB_HCA=",
        "export CUDA_DEVICE_MAX_CONNECTIONS=",
    ]:
        assert line in script, line
    assert "{{" not in script
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0  # valid bash
    assert not (tmp_path / "slurm").exists()  # a dry run writes nothing


def test_job_config_and_script_follow_the_slurm_section(tmp_path):
    cfg = load_config(
        QUICKSTART,
        [
            f"run.out_dir={tmp_path}",
            "slurm.nodes=3",
            "slurm.gpus_per_node=0",
            "slurm.procs_per_node=2",
            "slurm.rdzv_port=29911",
            "slurm.env={NCCL_IB_HCA: mlx5_0}",
            "slurm.setup=module load cuda",
        ],
    )
    assert world_size(cfg) == 6
    script = render_sbatch(cfg, tmp_path / "job.yaml")
    assert "--gpus-per-node" not in script  # CPU nodes request no GPUs
    assert "--nproc_per_node=2" in script and ':29911"' in script
    assert script.index("export NCCL_IB_HCA=mlx5_0") > script.index("export NCCL_IB_HCA=${NCCL_IB_HCA:-")
    assert "\nmodule load cuda\n" in script


def test_the_job_asks_for_memory_and_an_account_only_when_the_slurm_section_names_them(tmp_path):
    plain = render_sbatch(load_config(QUICKSTART, [f"run.out_dir={tmp_path}"]), tmp_path / "job.yaml")
    assert not any(f"#SBATCH --{opt}" in plain for opt in ("mem-per-cpu", "account", "cpus-per-task"))
    cfg = load_config(
        QUICKSTART,
        [f"run.out_dir={tmp_path}", "slurm.mem_per_cpu_gb=4", "slurm.account=kaz", "slurm.cpus_per_task=16"],
    )
    for stage in ("train", "tokenizer"):
        script = render_sbatch(cfg, tmp_path / "job.yaml", stage=stage)
        for line in ["#SBATCH --mem-per-cpu=4G", "#SBATCH --account=kaz", "#SBATCH --cpus-per-task=16"]:
            assert line in script, (stage, line)


def test_continued_llama31_job_renders_for_96_gpus_with_the_continuation_config(tmp_path):
    config = REPO / "configs" / "continue_llama31_8b.yaml"
    r = run_kazllm(
        "slurm",
        "submit",
        "--config",
        str(config),
        "--partition",
        "gpu",
        "--dry-run",
        f"run.out_dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr
    for line in [
        "#SBATCH --nodes=12",
        "#SBATCH --gpus-per-node=8",
        "#SBATCH --partition=gpu",
        "#SBATCH --signal=B:USR1@600",
        "#SBATCH --exclusive",
        "--nproc_per_node=8",
    ]:
        assert line in r.stdout, line
    assert "{{" not in r.stdout and subprocess.run(["bash", "-n"], input=r.stdout, text=True).returncode == 0
    cfg = load_config(config, [f"run.out_dir={tmp_path}"])
    assert world_size(cfg) == 96
    assert (cfg.model.init_from, cfg.tokenizer.extend_base) == ("meta-llama/Llama-3.1-8B",) * 2
    assert (
        cfg.train.mixture == {"kk": 0.7, "en": 0.15, "ru": 0.15}
        and 0 < cfg.train.freeze_steps < cfg.train.steps
    )


def test_bad_settings_are_errors_that_name_the_field(tmp_path):
    cfg = load_config(QUICKSTART, [f"run.out_dir={tmp_path}", "slurm.time=two days"])
    with pytest.raises(ConfigError, match="slurm.time"):
        render_sbatch(cfg, tmp_path / "job.yaml")
    with pytest.raises(ConfigError, match="nodes must be >= 1"):
        load_config(QUICKSTART, ["slurm.nodes=0"])
    cfg = load_config(QUICKSTART, [f"run.out_dir={tmp_path}", "slurm.env={'BAD NAME': 1}"])
    with pytest.raises(ConfigError, match="BAD NAME"):
        render_sbatch(cfg, tmp_path / "job.yaml")


def test_submit_refuses_a_run_without_shards(tmp_path):
    if shutil.which("sbatch") is None:
        pytest.skip("sbatch is not installed (the cluster fixture installs it)")
    cfg = load_config(QUICKSTART, [f"run.out_dir={tmp_path}"])
    with pytest.raises(InputError, match="pretokenize"):
        submit(cfg)


@pytest.mark.parametrize("stage", ["export", "eval"])
def test_stage_job_dry_run_is_one_task_running_that_stage_with_the_saved_config(tmp_path, stage):
    r = run_kazllm(
        "slurm",
        "submit",
        "--stage",
        stage,
        "--config",
        NATIONAL,
        "--partition",
        "gpu",
        "--after",
        "41",
        "--dry-run",
        f"run.out_dir={tmp_path}",
    )
    assert r.returncode == 0, r.stderr
    script = r.stdout
    job_dir = tmp_path / "slurm" / stage
    command = " ".join(STAGES[stage].command)
    for line in [
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=48:00:00",
        f"#SBATCH --job-name=kazllm-{stage}-{tmp_path.name}",
        f"#SBATCH --output={job_dir}/slurm-%j.out",
        "#SBATCH --dependency=afterok:41",
        "#SBATCH --exclusive",
        f"{sys.executable} -m kazllm.cli {command} --config {job_dir}/resolved_config.yaml\n",
    ]:
        assert line in script, line
    # eval scores on one device; export converts on the CPU: neither takes the training job's 8 GPUs
    assert ("#SBATCH --gpus-per-node=1" in script) == (stage == "eval") and "--gpus-per-node=8" not in script
    assert "torch.distributed.run" not in script and "--requeue" not in script
    assert "{{" not in script and subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    assert not (tmp_path / "slurm").exists()


def test_stage_jobs_refuse_a_missing_input_and_training_options(tmp_path):
    cfg = load_config(QUICKSTART, [f"run.out_dir={tmp_path}"])
    with pytest.raises(InputError, match="run `kazllm tokenizer train` first"):
        submit(cfg, stage="pretokenize")
    with pytest.raises(InputError, match="run `kazllm train` first"):
        submit(cfg, stage="export")
    with pytest.raises(InputError, match="--after"):
        submit(cfg, stage="export", after="12; rm -rf /")
    assert not (tmp_path / "slurm").exists()
    r = run_kazllm(
        "slurm", "submit", "--stage", "tokenizer", "--nodes", "2", "--config", QUICKSTART, "--dry-run"
    )
    assert r.returncode == 2 and "--nodes and --procs-per-node are for the training job" in r.stderr


# --- a real cluster ---------------------------------------------------------------------------------


# `slurm_cluster`: tests/conftest.py (one real cluster for the session, shared with the prep-on-Slurm test)


TRAIN = [
    "train.steps=30",
    "train.seq_len=64",
    "train.micro_batch_size=4",
    "train.log_every=1",
    "train.save_every=0",
    "train.eval_every=0",
]


def _run_dir(sample_run, path: Path) -> Path:
    """A fresh run directory that shares the session's tokenizer and shards."""
    for stage in ("tokenizer", "shards"):
        shutil.copytree(sample_run.stage_dir(stage), path / stage)
    return path


def _losses(ckpt_dir: Path) -> dict[int, float]:
    rows = [json.loads(x) for x in (ckpt_dir / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def _wait(predicate, timeout: float, what: str, cluster: LocalSlurmCluster, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no job log)"
    pytest.fail(f"timed out waiting for {what}\n--- job log\n{tail}\n{cluster.log_tail()}")


@pytest.mark.slow
def test_preempted_two_node_job_requeues_resumes_and_matches_an_uninterrupted_run(
    slurm_cluster, sample_run, tmp_path
):
    # Reference: the same training, 2 ranks under a local torchrun, never interrupted.
    ref = _run_dir(sample_run, tmp_path / "ref")
    r = run_kazllm("train", "--config", QUICKSTART, f"run.out_dir={ref}", "train.nproc=2", *TRAIN)
    assert r.returncode == 0, r.stderr[-3000:]
    expected = _losses(ref / "checkpoints")
    assert sorted(expected) == list(range(1, 31))

    # The job: 2 virtual nodes x 1 rank (gloo), submitted through the CLI.
    job = _run_dir(sample_run, tmp_path / "job")
    (rdzv_port,) = _free_ports(1)
    submitted = subprocess.run(
        [
            sys.executable,
            "-m",
            "kazllm.cli",
            "slurm",
            "submit",
            "--config",
            QUICKSTART,
            "--nodes",
            "2",
            "--gpus-per-node",
            "0",
            "--time",
            "00:10:00",
            f"run.out_dir={job}",
            f"slurm.rdzv_port={rdzv_port}",
            *TRAIN,
        ],
        cwd=REPO,
        env=slurm_cluster.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submitted.returncode == 0, submitted.stderr
    job_id = submitted.stdout.split("submitted job ")[1].split(":")[0]
    log = job / "slurm" / f"slurm-{job_id}.out"
    ckpt = job / "checkpoints"
    try:
        _wait(
            lambda: (ckpt / "metrics.jsonl").exists() and max(_losses(ckpt), default=0) >= 3,
            180,
            "the first attempt to log 3 steps",
            slurm_cluster,
            log,
        )
        slurm_cluster.run(["scancel", "--signal=USR1", "--batch", job_id])
        _wait(
            lambda: slurm_cluster.job(job_id).get("Restarts") == "1", 120, "the requeue", slurm_cluster, log
        )
        final = _wait(
            lambda: (
                (j := slurm_cluster.job(job_id)).get("JobState")
                in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT")
                and j
            ),
            240,
            "the job to finish",
            slurm_cluster,
            log,
        )
    finally:
        slurm_cluster.run(["scancel", job_id], check=False)
    text = log.read_text()
    assert final["JobState"] == "COMPLETED" and final["ExitCode"] == "0:0", text[-3000:]
    assert "USR1 received" in text and "requeueing job" in text and "SLURM_RESTART_COUNT=1" in text
    # save_every=0: the only checkpoint besides the final one is the one written on the stop request
    steps = sorted(int(p.name[4:]) for p in ckpt.glob("step*") if p.name[4:].isdigit())
    assert len(steps) == 2 and 3 <= steps[0] < 30 and steps[1] == 30, steps  # it really stopped mid-run...
    assert _losses(ckpt) == expected  # ...and resumed to the exact losses and step count
    manifest = json.loads((ckpt / "manifest.json").read_text())
    assert manifest["summary"]["steps"] == 30 and manifest["summary"]["world_size"] == 2
    assert not (ckpt / "PREEMPT").exists()


def _finished(cluster: LocalSlurmCluster, job_id: str) -> dict | None:
    job = cluster.job(job_id)
    return job if job.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT") else None


@pytest.mark.slow
def test_tokenizer_and_pretokenize_jobs_queued_in_a_chain_build_the_stages(
    slurm_cluster, sample_run, tmp_path
):
    run = tmp_path / "stages"
    shutil.copytree(sample_run.stage_dir("prep"), run / "prep")
    overrides = [f"run.out_dir={run}", "tokenizer.vocab_size=2000", "tokenizer.parity_lines=500"]

    def submit_stage(*args: str) -> str:
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "kazllm.cli",
                "slurm",
                "submit",
                *args,
                "--config",
                QUICKSTART,
                "--time",
                "00:10:00",
                *overrides,
            ],
            cwd=REPO,
            env=slurm_cluster.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert r.returncode == 0, r.stderr
        return r.stdout.split("submitted job ")[1].split(":")[0]

    # Both at once: pretokenize has no tokenizer yet, so it is only accepted behind the tokenizer job.
    tok_id = submit_stage("--stage", "tokenizer")
    shards_id = submit_stage("--stage", "pretokenize", "--after", tok_id)
    logs = {
        tok_id: run / "slurm" / "tokenizer" / f"slurm-{tok_id}.out",
        shards_id: run / "slurm" / "pretokenize" / f"slurm-{shards_id}.out",
    }
    try:
        for job_id, log in logs.items():
            final = _wait(
                lambda j=job_id: _finished(slurm_cluster, j), 300, f"job {job_id}", slurm_cluster, log
            )
            assert final["JobState"] == "COMPLETED" and final["ExitCode"] == "0:0", log.read_text()[-3000:]
    finally:
        slurm_cluster.run(["scancel", tok_id, shards_id], check=False)
    for stage, job_id, command in (
        ("tokenizer", tok_id, "tokenizer train"),
        ("pretokenize", shards_id, "pretokenize"),
    ):
        job_dir = run / "slurm" / stage
        assert f"kazllm: {stage} finished with exit code 0" in logs[job_id].read_text()
        manifest = json.loads((job_dir / "manifest.json").read_text())
        assert manifest["job_id"] == job_id and manifest["command"] == ["kazllm", *command.split()]
        assert load_config(job_dir / "resolved_config.yaml").tokenizer.vocab_size == 2000
        assert (
            f"-m kazllm.cli {command} --config {job_dir}/resolved_config.yaml"
            in (job_dir / f"{stage}.sbatch").read_text()
        )
    assert (
        f"#SBATCH --dependency=afterok:{tok_id}"
        in (run / "slurm" / "pretokenize" / "pretokenize.sbatch").read_text()
    )
    tokenizer = json.loads((run / "tokenizer" / "manifest.json").read_text())
    assert tokenizer["vocab_size"] == 2000 and (run / "tokenizer" / "hf" / "tokenizer.json").is_file()
    shards = json.loads((run / "shards" / "manifest.json").read_text())
    assert shards["tokenizer_sha256"] == tokenizer["spm_sha256"]  # tokenized with the first job's tokenizer
    reference = json.loads((sample_run.stage_dir("shards") / "manifest.json").read_text())
    for split in ("train", "val"):  # every kept document, split as a local run splits them
        assert shards["splits"][split]["documents"] == reference["splits"][split]["documents"] > 0
        assert shards["splits"][split]["tokens"] > 0 and (run / "shards" / split).is_dir()
