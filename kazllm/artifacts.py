"""On-disk artifacts shared by every stage: JSON helpers, checksums, the stage manifest, the resolved config
and the trainer's metrics.jsonl.

Each stage directory holds `resolved_config.yaml` (the full config tree that produced it) and
`manifest.json` (what the stage read, what it wrote, with checksums), so any artifact can be traced
back to its inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from kazllm import __version__
from kazllm.config import KazllmConfig, config_to_dict
from kazllm.errors import InputError


def progress_interval() -> float:
    """Seconds between progress-bar refreshes: live on a terminal, every 10 s in logs (Slurm, CI)."""
    return 0.1 if sys.stderr.isatty() else 10.0


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write aside, flush to disk, then rename: readers (and a crash) never see a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def write_json(path: str | Path, obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, ensure_ascii=False, indent=2) + "\n")


def dump_config(cfg: KazllmConfig, path: str | Path) -> Path:
    """Write the resolved tree as YAML (Kazakh stays readable) and return its path."""
    return write_text_atomic(path, yaml.safe_dump(config_to_dict(cfg), allow_unicode=True, sort_keys=False))


def read_json(path: str | Path) -> Any:
    path = Path(path)
    if not path.is_file():
        raise InputError(f"missing file: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not valid JSON (line {e.lineno}): {e.msg}") from None


def iter_jsonl(files: list[Path]):
    """Records of JSONL files, in order; blank lines are skipped, a broken line names its file and line."""
    for file in files:
        with open(file, encoding="utf-8") as f:
            for line_no, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(f"{file}:{line_no}: not valid JSON: {e.msg}") from None


def read_jsonl(path: Path) -> list[dict]:
    return list(iter_jsonl([Path(path)]))


_warned_metrics: set[tuple[str, int]] = set()


def read_metrics(metrics_path: str | Path) -> list[dict]:
    """metrics.jsonl rows (kazllm.train appends one per logged step or validation); a line cut short by a
    kill (the last one, typically) is skipped, not fatal, with one warning on stderr naming the file and the
    line (once per file and line in a process)."""
    metrics_path = Path(metrics_path)
    rows, bad = [], []
    if metrics_path.exists():
        for number, line in enumerate(metrics_path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad.append(number)
                continue
            if isinstance(row, dict) and "step" in row:
                rows.append(row)
            else:
                bad.append(number)
    if bad and (str(metrics_path), bad[0]) not in _warned_metrics:
        _warned_metrics.add((str(metrics_path), bad[0]))
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        print(
            f"warning: {metrics_path}:{bad[0]}: unreadable metrics line skipped{more}: its metrics are "
            "lost (a line cut short by a kill)",
            file=sys.stderr,
            flush=True,
        )
    return rows


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def file_table(directory: str | Path, exclude: tuple[str, ...] = ("manifest.json",)) -> dict[str, dict]:
    """{relative path: {"bytes": size, "sha256": digest}} of every file under `directory`, sorted by path:
    the checksum table an export's manifest carries and `kazllm push` verifies and lists."""
    directory = Path(directory)
    table = {}
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        name = path.relative_to(directory).as_posix()
        if name not in exclude:
            table[name] = {"bytes": path.stat().st_size, "sha256": file_sha256(path)}
    return table


def require_stage(cfg: KazllmConfig, stage: str, produced_by: str) -> Path:
    """The previous stage's directory, or a clear error saying which command makes it."""
    stage_dir = cfg.stage_dir(stage)
    if not (stage_dir / "manifest.json").is_file():
        raise InputError(f"{stage_dir} has no manifest.json: run `{produced_by}` first (same --config)")
    return stage_dir


def write_stage_manifest(
    cfg: KazllmConfig, stage: str, *, stage_dir: str | Path | None = None, **fields: Any
) -> Path:
    """Save the resolved config and a manifest into the stage directory (`stage_dir` where the user chose
    another, as `kazllm eval --out` does); `fields` go after stage, kazllm_version and created (and may
    replace created)."""
    stage_dir = Path(stage_dir) if stage_dir is not None else cfg.stage_dir(stage)
    stage_dir.mkdir(parents=True, exist_ok=True)
    dump_config(cfg, stage_dir / "resolved_config.yaml")
    manifest = {
        "stage": stage,
        "kazllm_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **fields,
    }
    return write_json(stage_dir / "manifest.json", manifest)


def reset_user_out_dir(out_dir: Path, ours: str, keep: tuple[Path, ...] = ()) -> None:
    """Empty a user-named output directory, but only one that is empty or holds our own `ours` file:
    `--out .` or `--out` pointing at someone's data must be an error, not an rmtree."""
    out_dir = Path(out_dir)
    for other in keep:
        if out_dir.resolve() == Path(other).resolve() or Path(other).resolve().is_relative_to(
            out_dir.resolve()
        ):
            raise InputError(f"--out {out_dir} would overwrite the input {other}: choose another directory")
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / ours).is_file():
        raise InputError(
            f"--out {out_dir} is not empty and holds no {ours} from an earlier run: "
            "choose a new or empty directory"
        )
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
