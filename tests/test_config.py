"""The config tree: defaults -> YAML -> overrides, with errors that name the key and the source."""

import os

import pytest
import yaml

from kazllm.artifacts import dump_config
from kazllm.config import KazllmConfig, SlurmJob, load_config, parse_override
from kazllm.errors import ConfigError

from .conftest import REPO, write_config


def test_defaults_load_without_a_file():
    cfg = load_config()
    assert isinstance(cfg, KazllmConfig)
    assert cfg.train.zero_stage == 2 and cfg.tokenizer.model_type == "bpe"


def test_every_shipped_config_loads():
    for path in (REPO / "configs").glob("*.yaml"):
        load_config(path)


def test_unknown_key_names_the_key_the_file_and_a_suggestion(tmp_path):
    path = write_config(tmp_path / "bad.yaml", "train:\n  stpes: 10\n")
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert "train.stpes" in message and str(path) in message and "train.steps" in message


def test_mistyped_value_names_the_key(tmp_path):
    path = write_config(tmp_path / "bad.yaml", "train:\n  steps: many\n")
    with pytest.raises(ConfigError, match=r"'train.steps' must be int"):
        load_config(path)


def test_value_checks_run(tmp_path):
    path = write_config(tmp_path / "bad.yaml", "train:\n  zero_stage: 4\n")
    with pytest.raises(ConfigError, match="zero_stage must be 0..3"):
        load_config(path)


def test_nested_list_of_sources_is_typed(tmp_path):
    path = write_config(tmp_path / "c.yaml", "prep:\n  inputs:\n    - {path: a.jsonl, formatt: jsonl}\n")
    with pytest.raises(ConfigError, match=r"prep.inputs\[0\].formatt"):
        load_config(path)


def test_overrides_apply_after_the_file_and_are_typed(tmp_path):
    path = write_config(tmp_path / "c.yaml", "train:\n  steps: 10\n")
    cfg = load_config(
        path, ["train.steps=3", "train.lr=3e-4", "eval.tasks=[a,b]", "model.overrides.num_hidden_layers=2"]
    )
    assert cfg.train.steps == 3 and cfg.train.lr == pytest.approx(3e-4)
    assert cfg.eval.tasks == ["a", "b"] and cfg.model.overrides == {"num_hidden_layers": 2}


def test_unknown_override_is_an_error_from_the_command_line():
    with pytest.raises(
        ConfigError, match=r"command line: unknown config key 'train.lrr' \(did you mean 'train.lr'\?\)"
    ):
        load_config(None, ["train.lrr=1"])
    with pytest.raises(ConfigError, match="must look like key.sub=value"):
        parse_override("train.lr")


def test_resolved_config_round_trips_with_kazakh_text(tmp_path):
    cfg = load_config(None, ["export.model_name=қазақ-модель"])
    path = dump_config(cfg, tmp_path / "resolved.yaml")
    assert "қазақ-модель" in path.read_text(encoding="utf-8")  # readable, not \u escapes
    assert load_config(path) == cfg
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["export"]["model_name"] == "қазақ-модель"


def test_resolved_config_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    path = dump_config(load_config(None, ["train.steps=1"]), tmp_path / "resolved.yaml")
    before = path.read_bytes()

    def killed(fd):
        raise OSError("killed mid-write")

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(OSError, match="killed mid-write"):
        dump_config(load_config(None, ["train.steps=2"]), path)
    assert path.read_bytes() == before  # a reader never sees half a config


OLD_PREP_EXECUTOR = """prep:
  executor:
    kind: slurm
    slurm_partition: cpu
    slurm_time: "12:00:00"
    slurm_cpus_per_task: 4
    slurm_mem_per_cpu_gb: 8
    slurm_sbatch_args: {qos: low}
"""


def test_an_old_style_prep_executor_loads_to_the_same_slurm_job(tmp_path, capsys):
    old = load_config(write_config(tmp_path / "old.yaml", OLD_PREP_EXECUTOR))
    job = SlurmJob(
        partition="cpu", time="12:00:00", cpus_per_task=4, mem_per_cpu_gb=8, sbatch_args={"qos": "low"}
    )
    assert old.prep.executor.slurm == job
    notices = capsys.readouterr().err.splitlines()
    assert len(notices) == 5  # one line per renamed key
    assert "'prep.executor.slurm_partition' is now 'prep.executor.slurm.partition'" in notices[0]
    new = write_config(
        tmp_path / "new.yaml",
        "prep:\n  executor:\n    kind: slurm\n    slurm: {partition: cpu, "
        "time: '12:00:00', cpus_per_task: 4, mem_per_cpu_gb: 8, sbatch_args: {qos: low}}\n",
    )
    assert load_config(new) == old and capsys.readouterr().err == ""
    # an old spelling on the command line, and an old key beside new ones in one file
    assert load_config(None, ["prep.executor.slurm_partition=gpu"]).prep.executor.slurm.partition == "gpu"
    mixed = write_config(
        tmp_path / "mixed.yaml",
        "prep:\n  executor:\n    slurm: {time: '1:00:00'}\n    slurm_partition: cpu\n",
    )
    assert load_config(mixed).prep.executor.slurm == SlurmJob(partition="cpu", time="1:00:00")


def test_a_key_given_in_its_old_and_new_spelling_is_an_error(tmp_path):
    both = write_config(
        tmp_path / "both.yaml", "prep:\n  executor:\n    slurm: {partition: a}\n    slurm_partition: b\n"
    )
    with pytest.raises(
        ConfigError,
        match="'prep.executor.slurm_partition' and 'prep.executor.slurm.partition' are the same key",
    ):
        load_config(both)


def test_training_jobs_and_prep_jobs_share_one_slurm_job_description():
    cfg = load_config()
    assert isinstance(cfg.slurm, SlurmJob) and isinstance(cfg.prep.executor.slurm, SlurmJob)
    # each with its own defaults: a day per prep stage; a training attempt of two days that asks for no CPUs
    assert (cfg.prep.executor.slurm.time, cfg.prep.executor.slurm.cpus_per_task) == ("24:00:00", 1)
    assert (cfg.slurm.time, cfg.slurm.cpus_per_task, cfg.slurm.mem_per_cpu_gb) == ("48:00:00", 0, 0)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("train.lr=0", "lr must be a positive number, got 0.0"),
        ("train.lr=.nan", "lr must be a positive number, got nan"),
        ("train.seq_len=-4", "seq_len must be >= 1, got -4"),
        ("train.micro_batch_size=0", "micro_batch_size must be >= 1, got 0"),
        ("train.grad_accum=0", "grad_accum must be >= 1, got 0"),
        ("train.nproc=0", r"nproc must be >= 1 \(ranks to launch\), got 0"),
        ("train.min_lr_ratio=1.5", r"min_lr_ratio must be in \[0, 1\], got 1.5"),
    ],
)
def test_train_values_are_checked_when_the_config_loads(override, message):
    with pytest.raises(ConfigError, match=rf"^command line: invalid value under 'train': {message}$"):
        load_config(None, [override])


def test_prep_runs_one_worker_per_core_by_default_never_more_than_the_tasks():
    import os

    from kazllm.config import ExecutorSection

    cores = os.cpu_count() or 1
    assert ExecutorSection().local_workers(14) == min(cores, 14)
    assert ExecutorSection().local_workers(1) == 1
    assert (
        ExecutorSection(workers=3).local_workers(2) == 2 and ExecutorSection(workers=1).local_workers(8) == 1
    )
    with pytest.raises(ValueError, match="workers at least 0"):
        ExecutorSection(workers=-1)
