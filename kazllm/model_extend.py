"""`kazllm model extend`: resize a Llama-family checkpoint to its extended tokenizer, function-preserving.

    kazllm model extend --base meta-llama/Llama-3.1-8B --tokenizer runs/x/tokenizer --out runs/x/init_model

The extended tokenizer (data_prep/tokenizer_extend.py) keeps every old id and lists, in
embedding_init.json, the base tokenizer's ids for each new piece's bytes. Each new input-embedding row,
and each new output row when untied, is the mean of those base rows: the new token starts as "what the
model thought of that spelling". Old rows are copied bit for bit, so on text that uses only old ids the
logits over the old vocabulary are exactly the base model's (tests/test_model_extend.py checks torch.equal).

A model may already have more rows than its tokenizer (Qwen2: 151,936 rows for 151,851 tokens, padded for
the GPU): new ids that land in those unused rows overwrite them, rows past them are appended.
Weights come from safetensors only and no checkpoint code runs (kazllm/hub.py checks both).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kazllm.artifacts import file_sha256, read_json, write_json
from kazllm.errors import InputError

EMBEDDING_INIT = "embedding_init.json"
MANIFEST = "extend_manifest.json"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
                   EMBEDDING_INIT)


def read_embedding_init(tokenizer_dir: Path) -> dict:
    path = Path(tokenizer_dir) / EMBEDDING_INIT
    if not path.is_file():
        raise InputError(f"{tokenizer_dir}: no {EMBEDDING_INIT}: not a tokenizer made by `kazllm tokenizer extend` "
                         "(or tokenizer train with tokenizer.extend_base)")
    init = read_json(path)
    base, size = int(init["base_vocab_size"]), int(init["vocab_size"])
    for new_id, old_ids in init["new"].items():
        if not base <= int(new_id) < size or not old_ids or any(not 0 <= i < base for i in old_ids):
            raise InputError(f"{path}: entry {new_id} -> {old_ids[:5]} is outside the base's {base} or the "
                             f"extension's {size} ids")
    return init


def check_same_base(base_dir: Path, tokenizer_dir: Path, init: dict) -> None:
    """The extended tokenizer must agree with the base's own tokenizer (when it ships one) on every base id."""
    from tokenizers import Tokenizer

    if not (Path(base_dir) / "tokenizer.json").is_file():
        return
    base = Tokenizer.from_file(str(Path(base_dir) / "tokenizer.json")).get_vocab(with_added_tokens=True)
    ext = Tokenizer.from_file(str(Path(tokenizer_dir) / "tokenizer.json")).get_vocab(with_added_tokens=True)
    n = int(init["base_vocab_size"])
    if len(base) != n or any(ext.get(tok) != i for tok, i in base.items()):
        raise InputError(f"tokenizer/model vocabulary mismatch: {tokenizer_dir} was not extended from the tokenizer "
                         f"of {base_dir} ({len(base)} tokens there, the extension's base had {n})")


def resize_embeddings(model, init: dict) -> int:
    """Grow the input embedding (and an untied lm_head) to the extension; new rows = mean of their base rows.

    Old rows are copied, never recomputed, so they stay bit-identical. Returns the number of rows set."""
    import torch

    base_n, size = int(init["base_vocab_size"]), int(init["vocab_size"])
    emb = model.get_input_embeddings()
    rows = emb.weight.shape[0]
    if rows < base_n:
        raise InputError(f"tokenizer/model vocabulary mismatch: the tokenizer was extended from a base with {base_n} "
                         f"tokens, the model has {rows} embedding rows")
    out = model.get_output_embeddings()
    tied = out is None or out.weight is emb.weight or bool(getattr(model.config, "tie_word_embeddings", False))
    new_rows = max(rows, size)
    ids = torch.tensor([int(i) for i in init["new"]], dtype=torch.long)

    def grown(old: torch.Tensor) -> torch.Tensor:
        w = torch.empty(new_rows, old.shape[1], dtype=old.dtype)
        w[:rows] = old
        if new_rows > rows:  # rows no token uses yet: zeros (any id past the extension is never produced)
            w[rows:] = 0
        means = torch.stack([old[list(map(int, src))].float().mean(0) for src in init["new"].values()])
        w[ids] = means.to(old.dtype)
        return w

    with torch.no_grad():
        new_in = grown(emb.weight.detach())
        new_out = None if tied else grown(out.weight.detach())
        model.resize_token_embeddings(new_rows, mean_resizing=False)
        model.get_input_embeddings().weight.copy_(new_in)
        if not tied:
            model.get_output_embeddings().weight.copy_(new_out)
    model.config.vocab_size = new_rows
    if tied:
        model.tie_weights()
    return len(ids)


def extend_model(base: str | Path, tokenizer_dir: Path, out_dir: Path, max_shard_size: str = "2GB",
                 dtype: str = "auto") -> dict:
    """Resolve and check the base, resize it to the extended tokenizer and save it (safetensors) to out_dir,
    with the tokenizer and extend_manifest.json. Written to out_dir.tmp first, then renamed."""
    import torch
    from transformers import LlamaForCausalLM

    from data_prep.tokenizer_report import resolve_hf_dir
    from kazllm.hub import check_llama_checkpoint, resolve_pretrained

    resolved = resolve_pretrained(str(base), "--base")
    config = check_llama_checkpoint(resolved.path, "--base")
    tokenizer_dir = resolve_hf_dir(tokenizer_dir)
    init = read_embedding_init(tokenizer_dir)
    if int(config.get("vocab_size") or 0) < int(init["base_vocab_size"]):  # before loading any weight
        raise InputError(f"tokenizer/model vocabulary mismatch: the tokenizer was extended from a base with "
                         f"{init['base_vocab_size']} tokens, {resolved.path} has {config.get('vocab_size')} "
                         "embedding rows")
    check_same_base(resolved.path, tokenizer_dir, init)
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not (out_dir / MANIFEST).is_file():
        raise InputError(f"--out {out_dir} is not empty and holds no {MANIFEST} from an earlier run: "
                         "choose a new or empty directory")
    torch_dtype = {"auto": "auto", "bf16": torch.bfloat16, "fp32": torch.float32, "fp16": torch.float16}[dtype]
    model = LlamaForCausalLM.from_pretrained(str(resolved.path), dtype=torch_dtype, use_safetensors=True,
                                             trust_remote_code=False)
    base_rows = model.get_input_embeddings().weight.shape[0]
    tied = bool(model.config.tie_word_embeddings)
    n_set = resize_embeddings(model, init)
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp), safe_serialization=True, max_shard_size=max_shard_size)
    for name in TOKENIZER_FILES:
        if (tokenizer_dir / name).is_file():
            shutil.copy(tokenizer_dir / name, tmp / name)
    manifest = {
        "stage": "model extend",
        "base": {"source": resolved.source, "path": str(resolved.path), "repo_id": resolved.repo_id,
                 "revision": resolved.revision},
        "tokenizer": str(tokenizer_dir), "tokenizer_sha256": file_sha256(tokenizer_dir / "tokenizer.json"),
        "base_rows": base_rows, "rows": model.get_input_embeddings().weight.shape[0],
        "base_vocab_size": init["base_vocab_size"], "vocab_size": init["vocab_size"], "rows_initialised": n_set,
        "tied_embeddings": tied, "dtype": str(model.dtype).removeprefix("torch."),
        "files": {p.name: file_sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()},
    }
    write_json(tmp / MANIFEST, manifest)
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return manifest
