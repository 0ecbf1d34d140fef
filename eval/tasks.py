"""Task specifications: one YAML file per benchmark in eval/tasks/, read into a typed TaskSpec, and the
items each task scores.

    # eval/tasks/ntrex_kk_en.yaml: a direction is a few lines on top of a shared template
    include: _ntrex128.yaml
    source_lang: Kazakh
    target_lang: English
    data: {source: "${SHARED_DATA}/ntrex128/newstest2019-ref.kaz.txt",
           target: "${SHARED_DATA}/ntrex128/newstest2019-src.eng.txt"}

Data comes from local files (`data:`; relative paths are relative to the YAML file, `${VAR}` expands
environment variables, `${SHARED_DATA}` defaults to ../shared/data beside the repository) or from a
`datasets` source (`dataset: {path, name, split, data_files}`: a hub id, a loader such as json with
data_files, or a directory written by save_to_disk). Files whose name starts with `_` are templates for
`include:`, not tasks. Unknown keys are errors naming the key and file. docs/eval.md has the full schema.
"""

from __future__ import annotations

import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kazllm.config import REPO_ROOT, build_dataclass, read_yaml_mapping
from kazllm.errors import ConfigError, InputError

TASKS_DIR = Path(__file__).resolve().parent / "tasks"
TASK_TYPES = ("perplexity", "translation", "qa_extractive", "multiple_choice")
LETTERS = "ABCDEFGH"
# The fields each task type builds its items from; `columns` maps them to a source's own names.
DEFAULT_COLUMNS = {
    "perplexity": {"text": "text"},
    "translation": {"source": "source", "target": "target"},
    "qa_extractive": {"context": "context", "question": "question", "answers": "answers.text"},
    "multiple_choice": {},
}


@dataclass
class DatasetSource:
    path: str = ""
    """A `datasets` hub id (facebook/belebele), a loader name with data_files (json, csv, text), or a
    directory written by Dataset.save_to_disk. Empty: the task reads `data:` files instead."""
    name: str = ""
    """The dataset's config name (e.g. kaz_Cyrl), if it has several."""
    split: str = "test"
    """The split that is scored."""
    data_files: list[str] = field(default_factory=list)
    """Files for a loader such as json; relative to the YAML file, ${VAR} expanded."""
    revision: str = ""
    """Hub revision (commit or tag) to pin; recorded in results.json."""


@dataclass
class TaskSpec:
    name: str = ""
    """Defaults to the file name without .yaml."""
    type: str = ""
    """perplexity, translation, qa_extractive or multiple_choice."""
    data: dict[str, str] = field(default_factory=dict)
    """Files: perplexity {path, separator}; translation {source, target} (aligned lines); QA and
    multiple choice {path} (JSONL). Relative to the YAML file; ${VAR} expanded."""
    dataset: DatasetSource = field(default_factory=DatasetSource)
    """A `datasets` source instead of files."""
    columns: dict[str, str] = field(default_factory=dict)
    """Task field -> the source's column (dotted for nested, e.g. answers: answers.text), over the
    type's defaults."""
    format: str = ""
    """multiple_choice rows: belebele (flores_passage, mc_answer1..4, correct_answer_num) or mmlu
    (question, choices, answer letter)."""
    choices: str = "texts"
    """multiple_choice: what is scored after the prompt (with a space before it): `texts`, each answer's
    text; `letters`, " A", " B", ... (the answers are then listed in the prompt, as lm-evaluation-harness'
    belebele does)."""
    source_lang: str = ""
    target_lang: str = ""
    description: str = ""
    """Text put once before the few-shot examples (an instruction), e.g. "Translate from Kazakh.\\n\\n"."""
    prompt: str = ""
    """Python str.format template over the item's fields, e.g. "{source_lang}: {source}\\n{target_lang}:"."""
    target: str = ""
    """str.format template of the expected answer after the prompt; few-shot examples show it."""
    num_fewshot: int = 0
    """Examples shown before each item. Drawn with the run's seed from fewshot_split / fewshot_data if
    set, else from the task's own items, which are then not scored."""
    fewshot_split: str = ""
    """The `dataset` split that few-shot examples come from (e.g. dev)."""
    fewshot_data: dict[str, str] = field(default_factory=dict)
    """Files that few-shot examples come from, with the same keys as data."""
    stop: list[str] = field(default_factory=lambda: ["\n"])
    """Generation stops at the first of these (translation, QA)."""
    max_new_tokens: int = 0
    """Generation budget per item (0 = the run's eval.max_new_tokens)."""
    max_length: int = 0
    """Perplexity window in tokens (0 = the model's max_position_embeddings)."""
    path: str = ""
    """Set when loaded: the YAML file."""

    def __post_init__(self) -> None:
        if self.type and self.type not in TASK_TYPES:
            raise ValueError(f"type must be one of {', '.join(TASK_TYPES)}, got {self.type!r}")
        if self.num_fewshot < 0:
            raise ValueError("num_fewshot must be >= 0")
        if self.format and self.format not in ("belebele", "mmlu"):
            raise ValueError(f"format must be belebele or mmlu, got {self.format!r}")
        if self.choices not in ("texts", "letters"):
            raise ValueError(f"choices must be texts or letters, got {self.choices!r}")

    def resolve(self, value: str, key: str) -> Path:
        """A data path from the YAML: ${VAR} expanded, relative to the YAML file."""
        p = Path(expand_vars(value, f"{self.path}: {key}"))
        return p if p.is_absolute() else (Path(self.path).parent / p).resolve()

    def data_path(self, key: str, files: dict[str, str] | None = None) -> Path:
        # errors name the YAML key the user wrote: data.source, or fewshot_data.source for the examples
        section = "fewshot_data" if files is not None and files is self.fewshot_data else "data"
        files = self.data if files is None else files
        if key not in files:
            raise ConfigError(f"{self.path}: task '{self.name}' needs {section}.{key}")
        p = self.resolve(files[key], f"{section}.{key}")
        if not p.is_file():
            hint = ""
            if "${SHARED_DATA}" in files[key]:
                hint = (
                    f" (SHARED_DATA={shared_data_dir()}: this licensed set is not bundled; set SHARED_DATA "
                    "to the directory that holds it)"
                )
            raise InputError(f"{self.path}: task '{self.name}' {section}.{key} file not found: {p}{hint}")
        return p

    def data_files(self) -> list[Path]:
        """Every local file the task reads (for data hashes)."""
        keys = [k for k in self.data if k != "separator"]
        files = [self.data_path(k) for k in keys]
        files += [self.data_path(k, self.fewshot_data) for k in self.fewshot_data if k != "separator"]
        files += [self.resolve(f, "dataset.data_files") for f in self.dataset.data_files]
        return files


def shared_data_dir() -> Path:
    return Path(os.environ.get("SHARED_DATA") or REPO_ROOT.parent / "shared" / "data")


def expand_vars(text: str, where: str) -> str:
    def sub(m: re.Match) -> str:
        name = m.group(1)
        if name == "SHARED_DATA":
            return str(shared_data_dir())
        if name not in os.environ:
            raise ConfigError(f"{where}: environment variable ${{{name}}} is not set")
        return os.environ[name]

    return re.sub(r"\$\{(\w+)\}", sub, text)


# -- loading task files ----------------------------------------------------------------------------------
def known_tasks() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml") if not p.stem.startswith("_"))


def _read_yaml(path: Path, chain: tuple[Path, ...] = ()) -> dict:
    if path in chain:
        raise ConfigError(f"{path}: include cycle ({' -> '.join(str(p) for p in chain + (path,))})")
    if not path.is_file():
        raise ConfigError(f"{chain[-1] if chain else path}: included file not found: {path}")
    raw = read_yaml_mapping(path, "a task file must be a mapping")
    include = raw.pop("include", None)
    if include:
        # The template's keys first, the including file's keys win (lm-eval's `include:` semantics).
        base = _read_yaml((path.parent / include).resolve(), chain + (path,))
        raw = {**base, **raw}
    return raw


def load_task(name_or_path: str, check_files: bool = True) -> TaskSpec:
    """A task by name (eval/tasks/NAME.yaml) or YAML path. `check_files`: report a missing data file now,
    before any model loads (off for a caller that first changes which files the task reads)."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = TASKS_DIR / f"{name_or_path}.yaml"
    if not path.is_file():
        raise ConfigError(f"unknown eval task '{name_or_path}' (known: {', '.join(known_tasks())})")
    path = path.resolve()
    spec = build_dataclass(TaskSpec, _read_yaml(path), str(path))
    spec.path = str(path)
    spec.name = spec.name or path.stem
    if not spec.type:
        raise ConfigError(f"{path}: missing 'type'")
    if spec.type == "multiple_choice" and not spec.format:
        raise ConfigError(f"{path}: a multiple_choice task needs format: belebele or mmlu")
    if not spec.data and not spec.dataset.path:
        raise ConfigError(f"{path}: task '{spec.name}' needs data: files or a dataset: source")
    if check_files:
        spec.data_files()
    return spec


# -- reading items ---------------------------------------------------------------------------------------
def read_lines(path: Path) -> list[str]:
    """The lines of a text file as sacrebleu and `wc -l` count them: the final newline ends the last line
    (it does not start an empty one), but an empty last line before it is a line, e.g. an empty hypothesis."""
    text = path.read_text(encoding="utf-8")
    if not text:
        return []
    return (text[:-1] if text.endswith("\n") else text).split("\n")


def read_documents(path: Path, separator: str) -> list[str]:
    r"""Documents of a text file: split on lines equal to `separator`; "\n" makes every non-empty
    line a document; "" keeps the file whole."""
    text = path.read_text(encoding="utf-8")
    if separator == "\n":
        return [line.strip() for line in text.split("\n") if line.strip()]
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


def _get(row: dict, dotted: str, where: str) -> Any:
    value: Any = row
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise InputError(f"{where}: row has no field '{dotted}' (fields: {', '.join(row)})")
        value = value[part]
    return value


def _dataset_rows(spec: TaskSpec, split: str) -> list[dict]:
    import datasets  # only tasks with a `dataset:` source need it

    src = spec.dataset
    where = f"{spec.path}: dataset {src.path!r}"
    local = spec.resolve(src.path, "dataset.path")
    try:
        if local.is_dir() and ((local / "dataset_dict.json").is_file() or (local / "state.json").is_file()):
            ds = datasets.load_from_disk(str(local))
            ds = ds[split] if isinstance(ds, datasets.DatasetDict) else ds
        else:
            files = [str(spec.resolve(f, "dataset.data_files")) for f in src.data_files] or None
            ds = datasets.load_dataset(
                expand_vars(src.path, where),
                src.name or None,
                split=split,
                data_files=files,
                revision=src.revision or None,
            )
    except (FileNotFoundError, ValueError, KeyError, ConnectionError) as e:
        raise InputError(f"{where} split {split!r} cannot be loaded: {str(e).splitlines()[0]}") from None
    return [dict(r) for r in ds]


def _rows(spec: TaskSpec, files: dict[str, str], split: str) -> list[dict]:
    """Raw rows of the task's source, each with the task type's fields (see DEFAULT_COLUMNS)."""
    cols = {**DEFAULT_COLUMNS[spec.type], **spec.columns}
    if spec.dataset.path and not files:
        rows = _dataset_rows(spec, split)
    elif spec.type == "translation":
        src, tgt = spec.data_path("source", files), spec.data_path("target", files)
        sources, targets = read_lines(src), read_lines(tgt)
        if len(sources) != len(targets):
            raise InputError(f"{spec.path}: {src} has {len(sources)} lines but {tgt} has {len(targets)}")
        return [{"source": s, "target": t} for s, t in zip(sources, targets)]
    elif spec.type == "perplexity":
        docs = read_documents(spec.data_path("path", files), files.get("separator", ""))
        return [{"text": d} for d in docs]
    else:
        from kazllm.artifacts import read_jsonl

        rows = read_jsonl(spec.data_path("path", files))
    where = f"{spec.path}: task '{spec.name}'"
    return [{**r, **{k: _get(r, c, where) for k, c in cols.items()}} for r in rows]


def _mc_item(spec: TaskSpec, row: dict) -> dict:
    """Belebele and MMLU-style rows -> {passage, question, choices, gold, choice_A.., answer_text,
    answer_letter}. A Belebele question is stripped, as lm-evaluation-harness' template does."""
    where = f"{spec.path}: task '{spec.name}'"
    if spec.format == "belebele":
        choices = [_get(row, f"mc_answer{k}", where) for k in range(1, 5)]
        item = {
            "passage": _get(row, "flores_passage", where),
            "question": str(_get(row, "question", where)).strip(),
            "choices": choices,
            "gold": int(_get(row, "correct_answer_num", where)) - 1,
        }
    else:
        answer = _get(row, "answer", where)
        gold = int(answer) if isinstance(answer, int) else LETTERS.index(str(answer).strip().upper())
        item = {
            "passage": "",
            "question": _get(row, "question", where),
            "choices": list(_get(row, "choices", where)),
            "gold": gold,
        }
    item.update({f"choice_{LETTERS[k]}": c for k, c in enumerate(item["choices"])})
    item["answer_text"], item["answer_letter"] = item["choices"][item["gold"]], LETTERS[item["gold"]]
    return {**{k: v for k, v in row.items() if isinstance(v, (str, int, float))}, **item}


def _items(spec: TaskSpec, rows: list[dict]) -> list[dict]:
    if spec.type == "multiple_choice":
        rows = [_mc_item(spec, r) for r in rows]
    elif spec.type == "qa_extractive":
        for r in rows:
            r["answers"] = [r["answers"]] if isinstance(r["answers"], str) else list(r["answers"])
            r["answer"] = r["answers"][0]
    extra = {"source_lang": spec.source_lang, "target_lang": spec.target_lang}
    return [{**extra, **r, "index": i} for i, r in enumerate(rows)]


def load_items(spec: TaskSpec, seed: int, limit: int = 0) -> tuple[list[dict], list[dict]]:
    """(few-shot examples, scored items). Each item keeps `index`, its position in the source, so
    samples.jsonl lines up with the data. Examples drawn from the task's own items are not scored."""
    items = _items(spec, _rows(spec, spec.data, spec.dataset.split))
    shots: list[dict] = []
    if spec.num_fewshot:
        rng = random.Random(seed)
        if spec.fewshot_split or spec.fewshot_data:
            pool = _items(spec, _rows(spec, spec.fewshot_data, spec.fewshot_split))
            shots = rng.sample(pool, min(spec.num_fewshot, len(pool)))
        else:
            picked = set(rng.sample(range(len(items)), min(spec.num_fewshot, max(len(items) - 1, 0))))
            shots = [items[i] for i in sorted(picked)]
            items = [it for it in items if it["index"] not in picked]
    return shots, items[:limit] if limit else items


def render(template: str, item: dict, where: str) -> str:
    try:
        return template.format(**item)
    except KeyError as e:
        raise ConfigError(
            f"{where}: template field {e} is not in the item (fields: {', '.join(item)})"
        ) from None


def fewshot_prefix(spec: TaskSpec, shots: list[dict]) -> str:
    return spec.description + "".join(
        render(spec.prompt, s, spec.path) + render(spec.target, s, spec.path) + "\n\n" for s in shots
    )


# -- listing ---------------------------------------------------------------------------------------------
TYPE_METRICS = {
    "translation": "chrf++, bleu",
    "qa_extractive": "exact_match, f1",
    "multiple_choice": "acc, acc_norm",
    "perplexity": "bits_per_byte, token/word perplexity",
}


def data_source(spec: TaskSpec) -> str:
    """Where a task's items come from, as its YAML says it (${SHARED_DATA} unexpanded), and whether the
    files are there."""
    if spec.dataset.path:
        ds = spec.dataset
        where = f"dataset {ds.path}" + (f" {ds.name}" if ds.name else "") + f" split {ds.split}"
    else:

        def show(
            v: str,
        ) -> str:  # a bundled file relative to the repository, a licensed one as the YAML names it
            if "${" in v:
                return v
            p = spec.resolve(v, "data")
            return str(p.relative_to(REPO_ROOT)) if p.is_relative_to(REPO_ROOT) else str(p)

        where = ", ".join(show(v) for k, v in spec.data.items() if k != "separator")
    try:
        spec.data_files()
    except (InputError, ConfigError):
        return where + "  [missing]"
    return where


def task_table() -> str:
    """`kazllm eval --list-tasks`: every shipped task, its type, metrics and data source."""
    rows = [("task", "type", "metrics", "data")]
    for name in known_tasks():
        spec = load_task(name, check_files=False)
        rows.append((name, spec.type, TYPE_METRICS[spec.type], data_source(spec)))
    width = [max(len(r[k]) for r in rows) for k in range(3)]
    return "\n".join("  ".join(r[k].ljust(width[k]) for k in range(3)) + "  " + r[3] for r in rows)
