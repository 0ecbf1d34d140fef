"""`kazllm slurm submit`: render a run's Slurm job from its config and submit it with sbatch.

    kazllm slurm submit --config configs/national_8b_13b.yaml --nodes 12 --partition gpu --dry-run
    kazllm slurm submit --config configs/national_8b_13b.yaml --nodes 12 --partition gpu
    kazllm slurm submit --config configs/national_8b_13b.yaml --stage tokenizer           # -> job 101
    kazllm slurm submit --config configs/national_8b_13b.yaml --stage pretokenize --after 101

The training job (the default, slurm/train_multinode.sbatch) is saved as <run>/slurm/train.sbatch beside
its config, resolved_config.yaml (train.nproc = the job's world size), and manifest.json; Slurm's log goes
to <run>/slurm/slurm-JOBID.out. It checkpoints on USR1/TERM, requeues itself and resumes.

`--stage tokenizer|pretokenize|export|eval` renders slurm/stage.sbatch instead: one task on one node that
runs that stage's `kazllm` command, with the same files under <run>/slurm/<stage>/. `--after JOBID` makes
a job wait for another to succeed (`--dependency=afterok`), so a chain can be queued at once.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from kazllm.artifacts import dump_config, write_stage_manifest
from kazllm.config import REPO_ROOT, KazllmConfig, resolve_path
from kazllm.errors import ConfigError, InputError
from kazllm.resources import slurm_template

TRAIN_TEMPLATE = "train_multinode.sbatch"
STAGE_TEMPLATE = "stage.sbatch"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_TIME = re.compile(r"^(\d+-)?\d{1,3}(:\d{2}){0,2}$")


@dataclass(frozen=True)
class StageJob:
    """What one stage's job runs, and the earlier stage's output it cannot start without."""

    command: tuple[str, ...]
    """The `kazllm` subcommand (for the training job: what its torchrun ranks run instead)."""
    needs: str
    """A file under the run directory that the previous stage writes last."""
    made_by: str
    """The command that writes it (for the error message)."""
    gpus: int = 0
    """GPUs the stage asks for when the config's nodes have GPUs (eval runs on one device)."""


STAGES: dict[str, StageJob] = {
    "tokenizer": StageJob(("tokenizer", "train"), "prep/manifest.json", "kazllm prep"),
    "pretokenize": StageJob(("pretokenize",), "tokenizer/manifest.json", "kazllm tokenizer train"),
    "train": StageJob(("train",), "shards/manifest.json", "kazllm pretokenize"),
    "export": StageJob(("export",), "checkpoints/latest", "kazllm train"),
    "eval": StageJob(("eval", "run"), "export/manifest.json", "kazllm export", gpus=1),
}
"""Stages `kazllm slurm submit --stage` can run (prep has its own Slurm executor:
`kazllm prep --executor slurm`)."""


def job_dir(cfg: KazllmConfig, stage: str = "train") -> Path:
    """Where a job's script, config, manifest and log go: <run>/slurm/, or <run>/slurm/<stage>/."""
    return cfg.stage_dir("slurm") if stage == "train" else cfg.stage_dir("slurm") / stage


def procs_per_node(cfg: KazllmConfig) -> int:
    """Ranks per node: slurm.procs_per_node, else one per GPU, else one (CPU nodes)."""
    s = cfg.slurm
    return s.procs_per_node or s.gpus_per_node or 1


def world_size(cfg: KazllmConfig) -> int:
    return cfg.slurm.nodes * procs_per_node(cfg)


def job_config(cfg: KazllmConfig, stage: str = "train") -> KazllmConfig:
    """The config a job runs with: run.out_dir absolute (a relative one means the submitter's current
    directory, not the job's), and for training train.nproc = the job's world size (nodes x ranks per
    node)."""
    cfg = dataclasses.replace(cfg, run=dataclasses.replace(cfg.run, out_dir=str(cfg.out_dir)))
    if stage != "train":
        return cfg
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, nproc=world_size(cfg)))


def _sbatch_lines(cfg: KazllmConfig, gpus: int, after: str | None) -> list[str]:
    s = cfg.slurm
    opts: dict[str, str] = {}
    if s.partition:
        opts["partition"] = s.partition
    if s.account:
        opts["account"] = s.account
    if gpus:
        opts["gpus-per-node"] = str(gpus)
    if s.cpus_per_task:
        opts["cpus-per-task"] = str(s.cpus_per_task)
    if s.mem_per_cpu_gb:
        opts["mem-per-cpu"] = f"{s.mem_per_cpu_gb}G"  # as datatrove writes it for prep's jobs
    if after:
        opts["dependency"] = f"afterok:{after}"
    opts.update(s.sbatch_args)
    return [f"#SBATCH --{k}" + (f"={v}" if str(v) != "" else "") for k, v in opts.items()]


def _env_lines(env: dict[str, str]) -> list[str]:
    for key in env:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"slurm.env: '{key}' is not a valid environment variable name")
    return [f"export {k}={shlex.quote(str(v))}" for k, v in env.items()]


def render_sbatch(
    cfg: KazllmConfig,
    config_path: Path,
    config_source: str = "",
    stage: str = "train",
    after: str | None = None,
) -> str:
    """The batch script of `stage` for this config; `config_path` is the resolved config the job will read."""
    s = cfg.slurm
    if stage not in STAGES:
        raise ConfigError(f"--stage {stage}: not a stage with a Slurm job ({', '.join(STAGES)})")
    if not _TIME.match(s.time):
        raise ConfigError(f"slurm.time '{s.time}' is not a Slurm time (HH:MM:SS or D-HH:MM:SS)")
    if after is not None and not re.fullmatch(r"\d+", after):
        raise InputError(f"--after {after!r}: give the numeric id of the job to wait for")
    run_dir = cfg.out_dir
    log_dir = job_dir(cfg, stage)
    if " " in str(log_dir):
        raise ConfigError(f"run.out_dir '{run_dir}' has a space: #SBATCH --output cannot quote it")
    values = {  # shared by both templates
        "time": s.time,
        "log_dir": str(log_dir),
        "config": shlex.quote(str(config_path)),
        "config_source": config_source or str(config_path),
        # cd where relative config paths resolve, and import the kazllm that renders the script
        "workdir": shlex.quote(str(resolve_path("."))),
        "pythonpath": shlex.quote(str(REPO_ROOT)),
        "python": shlex.quote(sys.executable),
        "setup": s.setup.strip(),
        "env_lines": "\n".join(_env_lines(s.env)),
    }
    if stage == "train":
        template, nprocs = TRAIN_TEMPLATE, procs_per_node(cfg)
        values |= {
            "job_name": f"kazllm-{run_dir.name}",
            "nodes": str(s.nodes),
            "procs_per_node": str(nprocs),
            "signal_seconds": str(s.signal_seconds),
            "sbatch_lines": "\n".join(_sbatch_lines(cfg, s.gpus_per_node, after)),
            "run_dir": shlex.quote(str(run_dir)),
            "omp_threads": str(max(1, s.cpus_per_task // nprocs) if s.cpus_per_task else 1),
            "rdzv_port": str(s.rdzv_port),
        }
    else:
        job = STAGES[stage]
        template = STAGE_TEMPLATE
        values |= {
            "job_name": f"kazllm-{stage}-{run_dir.name}",
            "stage": stage,
            "command": " ".join(job.command),
            "sbatch_lines": "\n".join(_sbatch_lines(cfg, min(job.gpus, s.gpus_per_node), after)),
            "omp_threads": str(s.cpus_per_task or 1),
        }

    def fill(match: re.Match) -> str:
        if match.group(1) not in values:
            raise ConfigError(f"{template}: unknown placeholder {match.group(0)}")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(fill, slurm_template(template))


def _check_input(cfg: KazllmConfig, stage: str) -> None:
    """Refuse a job whose input is missing, so it does not fail after waiting in the queue."""
    job = STAGES[stage]
    if stage == "eval" and cfg.eval.model:
        return  # eval.model names the model to score: nothing of this run is needed
    if not (cfg.out_dir / job.needs).exists():
        raise InputError(
            f"{cfg.out_dir / job.needs} is missing: run `{job.made_by}` first (same --config), "
            f"or queue this job after the one that writes it (--after JOBID)"
        )


def submit(
    cfg: KazllmConfig,
    config_source: str = "",
    dry_run: bool = False,
    stage: str = "train",
    after: str | None = None,
) -> tuple[str, str | None]:
    """Render (and unless dry_run, save and sbatch) the job of `stage`; returns (script, job id or None).

    The training job trains with train.nproc = its world size; every job with an absolute run.out_dir.
    With `after` (a job id) the job waits for that job to succeed, which will have written its input."""
    job_cfg = job_config(cfg, stage)
    slurm_dir = job_dir(cfg, stage)
    config_path = slurm_dir / "resolved_config.yaml"
    script = render_sbatch(job_cfg, config_path, config_source, stage=stage, after=after)
    if dry_run:
        return script, None
    if after is None:
        _check_input(cfg, stage)
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise InputError(
            "sbatch not found: submit from a Slurm login node (or use --dry-run to see the script)"
        )
    slurm_dir.mkdir(parents=True, exist_ok=True)
    dump_config(job_cfg, config_path)
    script_path = slurm_dir / f"{stage}.sbatch"
    script_path.write_text(script, encoding="utf-8")
    result = subprocess.run([sbatch, "--parsable", str(script_path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise InputError(f"sbatch refused {script_path}: {result.stderr.strip()}")
    job_id = result.stdout.strip().split(";")[0]
    if stage == "train":
        write_stage_manifest(
            job_cfg,
            "slurm",
            job_id=job_id,
            script=script_path.name,
            nodes=cfg.slurm.nodes,
            procs_per_node=procs_per_node(cfg),
            world_size=world_size(cfg),
            after=after,
        )
    else:
        write_stage_manifest(
            job_cfg,
            f"slurm/{stage}",
            job_id=job_id,
            script=script_path.name,
            command=["kazllm", *STAGES[stage].command],
            after=after,
        )
    return script, job_id
