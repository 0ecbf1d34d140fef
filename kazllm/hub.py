"""Base models and tokenizers by local directory or hub id, and the checks a foreign checkpoint must pass.

    resolve_pretrained("meta-llama/Llama-3.1-8B@main", "model.init_from")
        -> ResolvedModel(path, ..., revision)
    check_llama_checkpoint(path, "model.init_from") -> its config.json

A hub id goes through huggingface_hub.snapshot_download with safetensors, JSON and tokenizer files only
(never pickled weights or Python files); tokens come from huggingface_hub's own sources (HF_TOKEN, the
login cache) and are never passed, printed or stored here. The commit a run started from is recorded:
a snapshot directory is named after it. Offline (HF_HUB_OFFLINE=1) a hub id still resolves when the HF
cache holds it, because snapshot_download then reads the cache's refs/ and snapshots/.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from kazllm.errors import InputError

HUB_ID = re.compile(r"^(?:[A-Za-z0-9][\w.-]*/)?[A-Za-z0-9][\w.-]*(@[\w./-]+)?$")
"""ORG/NAME[@REVISION], or a legacy un-namespaced NAME (gpt2) that the Hub still redirects."""
TOKENIZER_PATTERNS = ["*.json", "tokenizer*", "*.model", "*.tiktoken", "*.txt"]
"""What a tokenizer needs (tokenizer.json, tokenizer_config.json, tokenizer.model, vocab/merges files)."""
ALLOW_PATTERNS = ["*.safetensors", *TOKENIZER_PATTERNS]
"""An allow-list, so *.bin, *.pt, *.pth (pickles: they can run code when loaded) and *.py never arrive."""
CODE_PATTERNS = ["*.py"]
"""A model's own Python, fetched only when the user passes --trust-remote-code."""
SNAPSHOT = re.compile(r"/(?:models--([^/]+?)--([^/]+)/)?snapshots/([0-9a-f]{40})(/|$)")
"""…/models--ORG--NAME/snapshots/<commit>/: the HF cache names a snapshot directory after its commit."""


@dataclass
class ResolvedModel:
    path: Path
    """Local directory with the files."""
    source: str
    """What the user wrote (a path or ORG/NAME[@REVISION])."""
    repo_id: str | None = None
    """ORG/NAME for a hub id or a directory inside the HF cache, else None."""
    revision: str | None = None
    """Commit sha when known (hub snapshots, directories inside the HF cache), else None."""


def _snapshot_info(path: Path) -> tuple[str | None, str | None]:
    """(repo_id, commit) of a directory inside an HF cache snapshot, else (None, None)."""
    m = SNAPSHOT.search(path.as_posix())
    if not m:
        return None, None
    repo_id = f"{m.group(1)}/{m.group(2)}" if m.group(1) else None
    return repo_id, m.group(3)


def resolve_pretrained(
    spec: str,
    what: str = "model.init_from",
    *,
    weights: bool = True,
    revision: str = "",
    remote_code: bool = False,
) -> ResolvedModel:
    """A local directory wins (as given or relative to the cwd, else relative to the repository root);
    else ORG/NAME[@REVISION] (or ORG/NAME with `revision`: a branch, tag or commit) from the hub or its
    cache. `weights=False` fetches only the tokenizer and config files (for a tokenizer base: no reason to
    download 16 GB of weights to read tokenizer.json); `remote_code=True` also fetches the repo's *.py."""
    from kazllm.config import resolve_path

    spec = str(spec).strip()
    if not spec:
        raise InputError(
            f"{what}: empty: give a Hugging Face model directory or a hub id (ORG/NAME[@REVISION])"
        )
    if revision:
        if "@" in spec:
            raise InputError(
                f"{what}: '{spec}' names a revision and --revision {revision} names another: give one"
            )
        spec = f"{spec}@{revision}"
    local = spec.partition("@")[0] if revision else spec
    for cand in (Path(local).expanduser(), resolve_path(local)):
        if cand.is_dir():
            if revision:
                raise InputError(f"{what}: {cand} is a local directory: a revision applies to hub ids only")
            # resolve(): a symlink records where the files really are (and the commit only if that is a
            # snapshot)
            path = cand.resolve()
            repo_id, revision = _snapshot_info(path)
            return ResolvedModel(path, spec, repo_id, revision)
        if cand.exists():
            raise InputError(f"{what}: {cand} is a file; give the model directory that holds it")
    if not HUB_ID.match(spec):
        raise InputError(f"{what}: '{spec}' is neither a local directory nor a hub id (ORG/NAME[@REVISION])")
    repo_id, _, revision = spec.partition("@")
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        patterns = (ALLOW_PATTERNS if weights else TOKENIZER_PATTERNS) + (
            CODE_PATTERNS if remote_code else []
        )
        path = Path(snapshot_download(repo_id, revision=revision or None, allow_patterns=patterns))
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError, ValueError) as e:
        # the hub's own first line says which (offline, not found, gated, no such revision); never a token
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(
            f"{what}: '{spec}' is neither a local directory nor reachable on the hub "
            f"(offline, unknown or gated: {first[:160]})"
        ) from None
    _, commit = _snapshot_info(path)
    return ResolvedModel(path, spec, repo_id, commit or revision or None)


def check_shard_size(value: str, what: str) -> None:
    """A safetensors shard size as save_pretrained reads it (2GB, 500MB), checked before any weight is loaded;
    `what` names the option in the error ("--max-shard-size ", "export.max_shard_size=")."""
    from transformers.utils.hub import convert_file_size_to_int

    try:
        convert_file_size_to_int(value)
    except ValueError:
        raise InputError(f"{what}{value!r}: give a size such as 2GB or 500MB") from None


def check_llama_checkpoint(path: Path, what: str = "model.init_from") -> dict:
    """The checkpoint's config.json, after the checks that keep foreign code and pickles out.

    Each problem is one InputError naming the file, raised before transformers reads anything: a config
    with auto_map would need the checkpoint's own Python (trust_remote_code), a .bin is a pickle that can
    run code when loaded, and a non-Llama architecture would load into the wrong module with garbage."""
    path = Path(path)
    cfg_file = path / "config.json"
    if not cfg_file.is_file():
        raise InputError(f"{what}: {path} has no config.json: not a Hugging Face model directory")
    try:
        config = json.loads(cfg_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(f"{cfg_file}: not valid JSON (line {e.lineno}): {e.msg}") from None
    if not isinstance(config, dict):
        raise InputError(f"{cfg_file}: not a model config (the top level must be a JSON object)")
    if config.get("auto_map"):
        raise InputError(
            f"{cfg_file}: the model needs remote code (auto_map); kazllm never runs a checkpoint's "
            "own code (trust_remote_code): use a model transformers implements itself"
        )
    archs = config.get("architectures") or []
    if config.get("model_type") != "llama" or (archs and archs != ["LlamaForCausalLM"]):
        raise InputError(
            f"{cfg_file}: architecture {', '.join(archs) or config.get('model_type')!s} is not "
            "LlamaForCausalLM: kazllm continues Llama-family checkpoints only"
        )
    if not any(path.glob("*.safetensors")):
        pickles = sorted(p.name for p in path.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        if pickles:
            raise InputError(
                f"{what}: {path} has only PyTorch pickle weights ({pickles[0]}): kazllm loads foreign "
                "weights from safetensors only (convert them where you trust the file, e.g. "
                "save_pretrained(...) with transformers 5, which writes safetensors)"
            )
        raise InputError(f"{what}: {path} holds no *.safetensors weights")
    index = path / "model.safetensors.index.json"
    if index.is_file():  # an interrupted download leaves the index but not every shard it names
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (json.JSONDecodeError, KeyError, AttributeError, TypeError):
            raise InputError(f"{index}: not a safetensors index (no weight_map)") from None
        missing = [s for s in shards if not (path / s).is_file()]
        if missing:
            raise InputError(
                f"{index}: names {len(missing)} shard(s) that are not in {path} (e.g. {missing[0]}): "
                "an incomplete download? fetch the model again"
            )
    return config
