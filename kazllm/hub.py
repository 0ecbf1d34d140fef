"""Base models and tokenizers by local directory or hub id, and the checks a foreign checkpoint must pass.

    resolve_pretrained("meta-llama/Llama-3.1-8B@main", "model.init_from") -> ResolvedModel(path, ..., revision)
    check_llama_checkpoint(path, "model.init_from") -> its config.json

A hub id goes through huggingface_hub.snapshot_download with safetensors, JSON and tokenizer files only
(never pickled weights or Python files); tokens come from huggingface_hub's own sources (HF_TOKEN, the
login cache) and are never passed, printed or stored here. The commit a run started from is recorded:
a snapshot directory is named after it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from kazllm.errors import InputError

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(@[\w./-]+)?$")
ALLOW_PATTERNS = ["*.safetensors", "*.safetensors.index.json", "*.json", "tokenizer*", "*.model", "*.tiktoken",
                  "*.txt"]
SNAPSHOT = re.compile(r"/snapshots/([0-9a-f]{40})(/|$)")


@dataclass
class ResolvedModel:
    path: Path
    """Local directory with the files."""
    source: str
    """What the user wrote (a path or ORG/NAME[@REVISION])."""
    repo_id: str | None = None
    revision: str | None = None
    """Commit sha when known (hub snapshots, directories inside the HF cache), else None."""


def resolve_pretrained(spec: str, what: str = "model.init_from") -> ResolvedModel:
    """A local directory (as given, or relative to the repository root) wins; else ORG/NAME[@REVISION]."""
    from kazllm.config import resolve_path

    for cand in (Path(spec).expanduser(), resolve_path(spec)):
        if cand.is_dir():
            path = cand.resolve()
            m = SNAPSHOT.search(str(path))
            return ResolvedModel(path, spec, None, m.group(1) if m else None)
    if not HUB_ID.match(spec):
        raise InputError(f"{what}: '{spec}' is neither a local directory nor a hub id (ORG/NAME[@REVISION])")
    repo_id, _, revision = spec.partition("@")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        path = Path(snapshot_download(repo_id, revision=revision or None, allow_patterns=ALLOW_PATTERNS))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"{what}: '{spec}' is neither a local directory nor reachable on the hub "
                         f"(offline, unknown or gated: {first[:160]})") from None
    m = SNAPSHOT.search(str(path))
    return ResolvedModel(path, spec, repo_id, m.group(1) if m else (revision or None))


def check_llama_checkpoint(path: Path, what: str = "model.init_from") -> dict:
    """The checkpoint's config.json, after the checks that keep foreign code and pickles out."""
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise InputError(f"{what}: {path} has no config.json: not a Hugging Face model directory")
    try:
        config = json.loads(cfg_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{cfg_file}: not valid JSON (line {e.lineno}): {e.msg}") from None
    if config.get("auto_map"):
        raise InputError(f"{cfg_file}: the model needs remote code (auto_map); kazllm never runs a checkpoint's "
                         "own code (trust_remote_code): use a model transformers implements itself")
    archs = config.get("architectures") or []
    if config.get("model_type") != "llama" or (archs and archs != ["LlamaForCausalLM"]):
        raise InputError(f"{cfg_file}: architecture {', '.join(archs) or config.get('model_type')!s} is not "
                         "LlamaForCausalLM: kazllm continues Llama-family checkpoints only")
    if not any(path.glob("*.safetensors")):
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        if pickles:
            raise InputError(f"{what}: {path} has only PyTorch pickle weights ({pickles[0]}): kazllm loads foreign "
                             "weights from safetensors only (convert them where you trust the file, e.g. "
                             "save_pretrained(..., safe_serialization=True))")
        raise InputError(f"{what}: {path} holds no *.safetensors weights")
    return config
