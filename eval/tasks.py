"""Task specifications: one YAML file per benchmark in eval/tasks/, read into a typed TaskSpec.

    name: sample_mt_kk_en
    type: translation               # perplexity | translation | qa_extractive | multiple_choice
    data: {source: ../../data/sample/eval/translation/sample.kk, target: ...}
    ...

Relative data paths are relative to the YAML file. Unknown keys are errors naming the key and file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kazllm.config import build_dataclass
from kazllm.errors import ConfigError, InputError

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
TASK_TYPES = ("perplexity", "translation", "qa_extractive", "multiple_choice")


@dataclass
class TaskSpec:
    name: str = ""
    type: str = ""
    """perplexity, translation, qa_extractive or multiple_choice."""
    data: dict[str, str] = field(default_factory=dict)
    """Paths: perplexity {path, separator}; translation {source, target}; QA {path} (JSONL)."""
    format: str = ""
    """multiple_choice data format: belebele or mmlu (question, choices, answer letter)."""
    source_lang: str = ""
    target_lang: str = ""
    prompt: str = ""
    """Python format string over the item's fields, e.g. "{source_lang}: {source}\\n{target_lang}:"."""
    target: str = ""
    """Format string of the expected answer after the prompt (few-shot examples use it)."""
    num_fewshot: int = 0
    """Examples taken from the start of the data, shown before each item and not scored."""
    stop: list[str] = field(default_factory=lambda: ["\n"])
    max_length: int = 0
    """Perplexity window in tokens (0 = the model's max_position_embeddings)."""
    path: str = ""
    """Set when loaded: the YAML file."""

    def __post_init__(self) -> None:
        if self.type and self.type not in TASK_TYPES:
            raise ValueError(f"type must be one of {', '.join(TASK_TYPES)}, got {self.type!r}")

    def data_path(self, key: str) -> Path:
        if key not in self.data:
            raise ConfigError(f"{self.path}: task '{self.name}' needs data.{key}")
        p = Path(self.data[key])
        p = p if p.is_absolute() else (Path(self.path).parent / p).resolve()
        if not p.is_file():
            raise InputError(f"{self.path}: data.{key} file not found: {p}")
        return p


def load_task(name_or_path: str) -> TaskSpec:
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = TASKS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in TASKS_DIR.glob("*.yaml")))
        raise ConfigError(f"unknown eval task '{name_or_path}' (known: {known})")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a task file must be a mapping")
    spec = build_dataclass(TaskSpec, raw, str(path))
    spec.path = str(path)
    spec.name = spec.name or path.stem
    if not spec.type:
        raise ConfigError(f"{path}: missing 'type'")
    for key in spec.data:
        if key != "separator":
            spec.data_path(key)  # a missing data file is reported before any model loads
    return spec


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").rstrip("\n").split("\n")


def read_documents(path: Path, separator: str) -> list[str]:
    text = path.read_text(encoding="utf-8")
    if not separator:
        return [text]
    docs, buf = [], []
    for line in text.split("\n"):
        if line.strip() == separator:
            docs.append("\n".join(buf).strip())
            buf = []
        else:
            buf.append(line)
    docs.append("\n".join(buf).strip())
    return [d for d in docs if d]
