"""A non-editable install: build the sdist and the wheel from it, install the wheel in a fresh venv, run it
from a directory outside the checkout.

The venv is made with `python -m venv --without-pip` (no system site-packages) and the wheel goes in with
`pip --python VENV/bin/python install --no-deps --no-index`. Its dependencies (torch, transformers, ...: 1.9
GB) come from the project's venv through one .pth line instead of a second install: a path line in a .pth
puts that site-packages on sys.path after the venv's own, but its .pth files (the editable install's
import hook among them) are not processed, so `import kazllm` can only find the installed wheel, which
the tests check first. The build runs without isolation (setuptools from the project venv: no network).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from kazllm.config import load_config
from kazllm.plan import estimate
from tests.conftest import REPO

pytestmark = pytest.mark.slow  # builds a wheel and a venv, runs the installed CLI (~25 s together)

# Directories of files the code reads at run time; every file in them must be in the wheel.
PACKAGE_DATA = ["kazllm/assets", "data_prep/assets", "eval/tasks"]

USER_CONFIG = """\
# The issue's run: an 8B model on two DGX nodes, planned and submitted from an installed kazllm.
run: {{out_dir: {out_dir}}}
model: {{preset: 8b}}
tokenizer: {{vocab_size: 64000}}
train: {{seq_len: 4096, micro_batch_size: 1, grad_accum: 4, steps: 1000}}
slurm: {{nodes: 2, gpus_per_node: 8, partition: gpu}}
plan: {{tokens: 2.0e+9}}
"""


def _run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("packaging")
    assert not root.resolve().is_relative_to(REPO.resolve())
    # The project's files copied without build/ or *.egg-info/ (setuptools would reuse a stale SOURCES.txt
    # and ship files pyproject.toml no longer declares) -> sdist (the PEP 517 hook `python -m build` calls)
    # -> unpack -> wheel from the unpacked tree: what ships is what pyproject.toml declares.
    checkout = root / "checkout"
    for pkg in ("kazllm", "data_prep", "eval"):
        shutil.copytree(REPO / pkg, checkout / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md", "MANIFEST.in"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, checkout / name)
    hook = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    sdist = (
        root
        / "dist"
        / _run([sys.executable, "-c", hook, str(root / "dist")], cwd=checkout).stdout.split()[-1]
    )
    with tarfile.open(sdist) as tar:
        tar.extractall(root / "src", filter="data")
    (src,) = (root / "src").iterdir()
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(root / "dist"),
            str(src),
        ],
        cwd=root,
    )
    (wheel,) = (root / "dist").glob("kazllm-*.whl")
    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    site = Path(
        _run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
        ).stdout.strip()
    )
    (site / "_kazllm_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(venv / "bin" / "python"),
            "install",
            "--no-deps",
            "--no-index",
            "-q",
            str(wheel),
        ]
    )
    work = root / "work"  # the cwd of every command: no configs/, slurm/ or kazllm/ next to it
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env |= {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return SimpleNamespace(wheel=wheel, site=site, bin=venv / "bin", work=work, env=env)


def kazllm(installed, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return _run([str(installed.bin / "kazllm"), *args], cwd=installed.work, env=installed.env, input=stdin)


def test_the_wheel_holds_every_runtime_file_and_the_install_imports_only_it(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    for folder in PACKAGE_DATA:
        files = {p.relative_to(REPO).as_posix() for p in (REPO / folder).rglob("*") if p.is_file()}
        assert files and files <= names, sorted(files - names)
    code = (
        "import json, kazllm, data_prep, eval, kazllm.resources as r, kazllm.model as m, "
        "data_prep.filters as q;"
        "print(json.dumps({'files': [x.__file__ for x in (kazllm, data_prep, eval)], "
        "'presets': m.preset_names(),"
        "'templates': sorted(p.name for p in r.SLURM_DIR.iterdir()), "
        "'blocklist': str(q.DEFAULT_URL_BLOCKLIST)}))"
    )
    found = json.loads(
        _run([str(installed.bin / "python"), "-c", code], cwd=installed.work, env=installed.env).stdout
    )
    assert all(Path(f).is_relative_to(installed.site) for f in [*found["files"], found["blocklist"]]), found
    assert found["presets"] == ["125m", "1b", "70b", "8b", "debug-tiny"]
    assert found["templates"] == ["stage.sbatch", "train_multinode.sbatch"]


def test_installed_plan_with_the_8b_preset_gives_the_checkouts_figures(installed):
    config = installed.work / "my8b.yaml"
    config.write_text(USER_CONFIG.format(out_dir=installed.work / "run"), encoding="utf-8")
    r = kazllm(installed, "plan", "--config", config.name, "--out", "plan.json")
    assert "8b: 7.50B parameters" in r.stdout and "16 x h100-sxm (2 nodes)" in r.stdout, r.stdout
    got = json.loads((installed.work / "plan.json").read_text())
    want = estimate(load_config(config))  # the same YAML planned from the checkout's presets
    for key in ("parameters", "flops_per_token", "tokens", "gpus", "wall_clock_hours", "energy_kwh"):
        assert got[key] == pytest.approx(want[key]), key


def test_installed_slurm_submit_dry_runs_render_from_the_packaged_templates(installed):
    config = installed.work / "my8b.yaml"
    config.write_text(USER_CONFIG.format(out_dir=installed.work / "run"), encoding="utf-8")
    python = str(installed.bin / "python")
    train = kazllm(installed, "slurm", "submit", "--config", config.name, "--dry-run").stdout
    for line in [
        "#SBATCH --nodes=2",
        "#SBATCH --gpus-per-node=8",
        "#SBATCH --partition=gpu",
        f"#SBATCH --output={installed.work}/run/slurm/slurm-%j.out",
        f"CONFIG={installed.work}/run/slurm/",
        f"    {python} -m torch.distributed.run",
        "--nproc_per_node=8",
        "-m kazllm.train --config",
    ]:
        assert line in train, line
    tok = kazllm(
        installed, "slurm", "submit", "--stage", "tokenizer", "--config", config.name, "--dry-run"
    ).stdout
    assert (
        f"{python} -m kazllm.cli tokenizer train "
        f"--config {installed.work}/run/slurm/tokenizer/resolved_config" in tok
    )
    for script in (train, tok):
        assert "{{" not in script and subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    assert not (installed.work / "run").exists()  # dry runs write nothing


def test_installed_line_tools_load_the_data_prep_assets(installed):
    line = "Менің атым Айгүл Серікова, телефоным +7 701 123 45 67.\n"
    masked = kazllm(
        installed, "text", "pii", "--policy", "full", stdin=line
    ).stdout  # the name tagger and lists
    assert masked == "Менің атым <PERSON>, телефоным <PHONE>.\n"
    fake = kazllm(
        installed, "text", "pii", "--policy", "full", "--pseudonymise", stdin=line
    ).stdout  # pseudonym lists
    assert (
        "Айгүл" not in fake
        and "<PERSON>" not in fake
        and "<PHONE>" in fake
        and fake.startswith("Менің атым ")
    )
    labels = kazllm(
        installed,
        "text",
        "langid",
        stdin="Қазақстан Республикасы – Орталық Азиядағы мемлекет, астанасы Астана.\n"
        "The quick brown fox jumps over the lazy dog near the river bank.\n",
    ).stdout  # the langid model
    assert [x.split("\t")[0] for x in labels.splitlines()] == ["kk", "en"]
