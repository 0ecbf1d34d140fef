"""Fill a Hugging Face cache directory exactly as huggingface_hub lays one out, from a local folder.

    <cache>/models--ORG--NAME/blobs/<sha256 of LFS files | git sha1 of small files>
    <cache>/models--ORG--NAME/snapshots/<commit>/<file> -> ../../blobs/<hash>   (relative symlinks)
    <cache>/models--ORG--NAME/refs/<branch or tag>                               (holds the commit sha)

Tests point HF_HUB_CACHE at it and set HF_HUB_OFFLINE=1: then huggingface_hub's snapshot_download and
hf_hub_download read refs/ and snapshots/ and never open a socket, which is how a cluster node without
internet loads a model that `hf download` fetched earlier.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

LFS_THRESHOLD = 10 * 1024 * 1024  # the Hub stores files above 10 MB (and every *.safetensors) through LFS


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def fill_hf_cache(
    cache: Path,
    repo_id: str,
    src: Path,
    commit: str,
    refs: tuple[str, ...] = ("main",),
    repo_type: str = "model",
) -> Path:
    """Add `src`'s files as `commit` of repo_id to the cache; each ref in `refs` points at it. Returns the
    snapshot directory."""
    from huggingface_hub.constants import REPO_ID_SEPARATOR

    storage = Path(cache) / f"{repo_type}s{REPO_ID_SEPARATOR}{repo_id.replace('/', REPO_ID_SEPARATOR)}"
    snapshot = storage / "snapshots" / commit
    (storage / "blobs").mkdir(parents=True, exist_ok=True)
    for file in sorted(p for p in Path(src).rglob("*") if p.is_file()):
        data = file.read_bytes()
        lfs = len(data) > LFS_THRESHOLD or file.suffix == ".safetensors"
        blob = storage / "blobs" / (hashlib.sha256(data).hexdigest() if lfs else git_blob_sha1(data))
        blob.write_bytes(data)
        link = snapshot / file.relative_to(src)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (storage / "refs").mkdir(exist_ok=True)
    for ref in refs:
        (storage / "refs" / ref).parent.mkdir(parents=True, exist_ok=True)
        (storage / "refs" / ref).write_text(commit)  # huggingface_hub writes the sha without a newline
    return snapshot
