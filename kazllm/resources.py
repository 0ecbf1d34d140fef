"""Files kazllm reads at run time, shipped inside the package so that a wheel or `pip install .` has them.

    from kazllm.resources import PRESET_DIR, slurm_template
    PRESET_DIR / "8b.yaml"                          # a model preset
    slurm_template("train_multinode.sbatch")        # a batch-script template, as text

They live in kazllm/assets/ (package data, pyproject.toml). In a checkout, configs/model and
slurm/*.sbatch are symlinks to them, so the repository's paths and an installed package read the same
files. data_prep/assets/ and eval/tasks/ are package data of their own packages, next to their modules.
"""

from __future__ import annotations

from pathlib import Path

from kazllm.errors import InputError

ASSETS = Path(__file__).resolve().parent / "assets"
PRESET_DIR = ASSETS / "model"
"""Model presets: <name>.yaml of LlamaConfig fields (configs/model/ in a checkout)."""
SLURM_DIR = ASSETS / "slurm"
"""Batch-script templates with {{placeholders}} that kazllm.slurm fills (slurm/ in a checkout)."""


def slurm_template(name: str) -> str:
    path = SLURM_DIR / name
    if not path.is_file():  # only a broken install gets here: say so instead of a bare FileNotFoundError
        raise InputError(f"{path} is missing: this kazllm install lacks its package data (reinstall it)")
    return path.read_text(encoding="utf-8")
