"""`kazllm slurm submit`: render slurm/train_multinode.sbatch from a run config and submit it with sbatch.

    kazllm slurm submit --config configs/national_8b_13b.yaml --nodes 12 --partition gpu --dry-run
    kazllm slurm submit --config configs/national_8b_13b.yaml --nodes 12 --partition gpu

The job config is saved as <run>/slurm/resolved_config.yaml (train.nproc = the job's world size) beside
the rendered script (<run>/slurm/train.sbatch) and manifest.json; Slurm's log goes to
<run>/slurm/slurm-JOBID.out. The job checkpoints on USR1/TERM, requeues itself and resumes.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from kazllm.artifacts import write_stage_manifest
from kazllm.config import REPO_ROOT, KazllmConfig, dump_config
from kazllm.errors import ConfigError, InputError

TEMPLATE = REPO_ROOT / "slurm" / "train_multinode.sbatch"
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_TIME = re.compile(r"^(\d+-)?\d{1,3}(:\d{2}){0,2}$")


def procs_per_node(cfg: KazllmConfig) -> int:
    """Ranks per node: slurm.procs_per_node, else one per GPU, else one (CPU nodes)."""
    s = cfg.slurm
    return s.procs_per_node or s.gpus_per_node or 1


def world_size(cfg: KazllmConfig) -> int:
    return cfg.slurm.nodes * procs_per_node(cfg)


def job_config(cfg: KazllmConfig) -> KazllmConfig:
    """The config the job trains with: train.nproc is the job's world size (nodes x ranks per node)."""
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, nproc=world_size(cfg)))


def _sbatch_lines(cfg: KazllmConfig) -> list[str]:
    s = cfg.slurm
    opts: dict[str, str] = {}
    if s.partition:
        opts["partition"] = s.partition
    if s.account:
        opts["account"] = s.account
    if s.gpus_per_node:
        opts["gpus-per-node"] = str(s.gpus_per_node)
    if s.cpus_per_task:
        opts["cpus-per-task"] = str(s.cpus_per_task)
    opts.update(s.sbatch_args)
    return [f"#SBATCH --{k}" + (f"={v}" if str(v) != "" else "") for k, v in opts.items()]


def _env_lines(env: dict[str, str]) -> list[str]:
    for key in env:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise ConfigError(f"slurm.env: '{key}' is not a valid environment variable name")
    return [f"export {k}={shlex.quote(str(v))}" for k, v in env.items()]


def render_sbatch(cfg: KazllmConfig, config_path: Path, config_source: str = "") -> str:
    """The batch script for this config; `config_path` is the resolved config the job will read."""
    s = cfg.slurm
    if not _TIME.match(s.time):
        raise ConfigError(f"slurm.time '{s.time}' is not a Slurm time (HH:MM:SS or D-HH:MM:SS)")
    nprocs = procs_per_node(cfg)
    run_dir = cfg.out_dir
    values = {
        "job_name": f"kazllm-{run_dir.name}",
        "nodes": str(s.nodes),
        "procs_per_node": str(nprocs),
        "time": s.time,
        "signal_seconds": str(s.signal_seconds),
        "log_dir": str(run_dir / "slurm"),
        "sbatch_lines": "\n".join(_sbatch_lines(cfg)),
        "run_dir": shlex.quote(str(run_dir)),
        "config": shlex.quote(str(config_path)),
        "config_source": config_source or str(config_path),
        "workdir": shlex.quote(str(REPO_ROOT)),
        "python": shlex.quote(sys.executable),
        "setup": s.setup.strip(),
        "omp_threads": str(max(1, s.cpus_per_task // nprocs) if s.cpus_per_task else 1),
        "env_lines": "\n".join(_env_lines(s.env)),
        "rdzv_port": str(s.rdzv_port),
    }
    if " " in values["log_dir"]:
        raise ConfigError(f"run.out_dir '{run_dir}' has a space: #SBATCH --output cannot quote it")

    def fill(match: re.Match) -> str:
        if match.group(1) not in values:
            raise ConfigError(f"{TEMPLATE}: unknown placeholder {match.group(0)}")
        return values[match.group(1)]

    return _PLACEHOLDER.sub(fill, TEMPLATE.read_text(encoding="utf-8"))


def submit(cfg: KazllmConfig, config_source: str = "", dry_run: bool = False) -> tuple[str, str | None]:
    """Render (and unless dry_run, save and sbatch) the job; returns (script, job id or None)."""
    job_cfg = job_config(cfg)
    slurm_dir = cfg.stage_dir("slurm")
    config_path = slurm_dir / "resolved_config.yaml"
    script = render_sbatch(job_cfg, config_path, config_source)
    if dry_run:
        return script, None
    if not (cfg.stage_dir("shards") / "manifest.json").is_file():
        raise InputError(f"{cfg.stage_dir('shards')} has no manifest.json: run `kazllm pretokenize` first "
                         "(same --config) so the job does not fail after waiting in the queue")
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise InputError("sbatch not found: submit from a Slurm login node (or use --dry-run to see the script)")
    slurm_dir.mkdir(parents=True, exist_ok=True)
    dump_config(job_cfg, config_path)
    script_path = slurm_dir / "train.sbatch"
    script_path.write_text(script, encoding="utf-8")
    result = subprocess.run([sbatch, "--parsable", str(script_path)], capture_output=True, text=True)
    if result.returncode != 0:
        raise InputError(f"sbatch refused {script_path}: {result.stderr.strip()}")
    job_id = result.stdout.strip().split(";")[0]
    write_stage_manifest(job_cfg, "slurm", job_id=job_id, script=script_path.name, nodes=cfg.slurm.nodes,
                         procs_per_node=procs_per_node(cfg), world_size=world_size(cfg))
    return script, job_id
