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

The output is written into DIR.tmp and renamed to DIR once complete, extend_manifest.json last, so an
interrupted run never leaves a DIR that looks like a finished model.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from kazllm import __version__
from kazllm.artifacts import file_sha256, read_json, write_json
from kazllm.errors import InputError
from kazllm.tokenizer_files import (
    EMBEDDING_INIT,
    EXTEND_MANIFEST,
    parse_embedding_init,
    read_embedding_init,
    resolve_hf_dir,
)

MANIFEST = EXTEND_MANIFEST
"""The same name as a tokenizer extension's manifest (both record an extension); STAGE tells them apart."""
STAGE = "model extend"
"""manifest["stage"]: what tells our output apart from a tokenizer extension (which also writes
extend_manifest.json)."""
PARTIAL = ".kazllm-model-extend-partial"
"""Marker in DIR.tmp while it is being written: a leftover DIR.tmp with it is ours to remove."""
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "chat_template.jinja",
    EMBEDDING_INIT,
)
TOKENIZER_MANIFEST = "tokenizer_extend_manifest.json"
"""The tokenizer's own extend_manifest.json, copied under this name (ours takes extend_manifest.json)."""
DTYPES = ("auto", "bf16", "fp16", "fp32")


# ---------------------------------------------------------------------------------------------------
# embedding_init.json and the tokenizer it came with
# ---------------------------------------------------------------------------------------------------


def read_vocab(tokenizer_json: Path) -> dict[str, int]:
    """Token -> id of a tokenizer.json, added tokens included."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(tokenizer_json)).get_vocab(with_added_tokens=True)
    except Exception as e:  # tokenizers raises a bare Exception on a broken file
        raise InputError(
            f"{tokenizer_json}: not a readable tokenizer.json ({str(e).splitlines()[0][:120]})"
        ) from None


def check_extended_tokenizer(tokenizer_dir: Path, init: dict) -> None:
    """Every id the extended tokenizer can produce must get a row: none at or past embedding_init's
    vocab_size."""
    vocab = read_vocab(Path(tokenizer_dir) / "tokenizer.json")
    size = int(init["vocab_size"])
    past = [(tok, i) for tok, i in vocab.items() if i >= size]
    if past:
        tok, i = max(past, key=lambda kv: kv[1])
        raise InputError(
            f"{tokenizer_dir}/tokenizer.json has id {i} ({tok!r}) but its {EMBEDDING_INIT} says "
            f"vocab_size {size}: the two files are not from the same extension"
        )


def check_same_base(base_dir: Path, tokenizer_dir: Path, init: dict) -> None:
    """The extended tokenizer must agree with the base's own tokenizer (when it ships one) on every base id,
    added/special tokens included; otherwise new text would pair tokens with another token's rows."""
    if not (Path(base_dir) / "tokenizer.json").is_file():
        return
    base = read_vocab(Path(base_dir) / "tokenizer.json")
    ext = read_vocab(Path(tokenizer_dir) / "tokenizer.json")
    n = int(init["base_vocab_size"])
    ext_old = {tok: i for tok, i in ext.items() if i < n}
    if base != ext_old:
        moved = sorted((i, tok) for tok, i in base.items() if ext_old.get(tok) != i)
        example = (
            f"e.g. {moved[0][1]!r} is id {moved[0][0]} there, {ext.get(moved[0][1])} here"
            if moved
            else f"the extension has {len(ext_old)} tokens below id {n}, the base {len(base)}"
        )
        raise InputError(
            f"tokenizer/model vocabulary mismatch: {tokenizer_dir} was not extended from the tokenizer "
            f"of {base_dir} ({len(base)} tokens there, the extension's base had {n}; {example})"
        )


# ---------------------------------------------------------------------------------------------------
# The resize, in memory (the trainer reuses it)
# ---------------------------------------------------------------------------------------------------


def resize_embeddings(model, init: dict) -> int:
    """Grow the input embedding (and an untied lm_head) to the extension; new rows = mean of their base rows.

    Done by hand rather than with resize_token_embeddings: the old rows are copied, never recomputed or
    re-initialised, so they stay bit-identical, and no random init is drawn for rows that are then
    overwritten. A tied model stays tied (one matrix). Returns the number of rows set."""
    import torch
    from torch import nn

    base_n, size, new = parse_embedding_init(init, "embedding_init")
    emb = model.get_input_embeddings()
    old_in = emb.weight.detach()
    rows, hidden = old_in.shape
    if rows < base_n:
        raise InputError(
            f"tokenizer/model vocabulary mismatch: the tokenizer was extended from a base with {base_n} "
            f"tokens, the model has {rows} embedding rows"
        )
    undefined = sorted(set(range(rows, size)) - set(new))
    if undefined:  # a row past the model's with no source ids would be garbage the tokenizer can produce
        raise InputError(
            f"embedding_init: new id {undefined[0]} (and {len(undefined) - 1} more) has no source ids "
            f"and no row in the model ({rows} rows)"
        )
    out = model.get_output_embeddings()
    tied = out is not None and out.weight is emb.weight
    new_rows = max(rows, size)
    ids = torch.tensor(sorted(new), dtype=torch.long, device=old_in.device)

    def grown(old: torch.Tensor) -> torch.Tensor:
        w = torch.empty((new_rows, *old.shape[1:]), dtype=old.dtype, device=old.device)
        w[:rows] = old
        # mean in fp32 (a bf16 sum of many rows would round), then back to the checkpoint's dtype
        means = torch.stack([old[src].float().mean(0) for _, src in sorted(new.items())])
        w[ids] = means.to(old.dtype)
        return w

    with torch.no_grad():
        new_emb = nn.Embedding.from_pretrained(
            grown(old_in), freeze=not emb.weight.requires_grad, padding_idx=emb.padding_idx
        )
        model.set_input_embeddings(new_emb)
        if out is not None:
            head = nn.Linear(hidden, new_rows, bias=out.bias is not None, device="meta")
            head.weight = (
                new_emb.weight
                if tied
                else nn.Parameter(grown(out.weight.detach()), requires_grad=out.weight.requires_grad)
            )
            if out.bias is not None:
                head.bias = nn.Parameter(grown(out.bias.detach()), requires_grad=out.bias.requires_grad)
            model.set_output_embeddings(head)
    model.config.vocab_size = new_rows
    for module in (model, getattr(model, "model", None)):  # LlamaForCausalLM and LlamaModel keep a copy
        if module is not None and hasattr(module, "vocab_size"):
            module.vocab_size = new_rows
    return len(new)


# ---------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------


def _is_ours(out_dir: Path) -> bool:
    """out_dir holds a finished `kazllm model extend` (not a tokenizer extension, not someone's data)."""
    manifest = out_dir / MANIFEST
    if not manifest.is_file():
        return False
    try:
        return read_json(manifest).get("stage") == STAGE
    except (InputError, AttributeError):
        return False


def check_out_dir(out_dir: Path, keep: tuple[Path, ...]) -> Path:
    """Check out_dir may be (re)written; return the out_dir.tmp to write into (see start_tmp_dir).

    Refused: out_dir equal to or above an input (the base, the tokenizer), a non-empty out_dir that is not
    an earlier `kazllm model extend`, a non-empty out_dir.tmp without our in-progress marker."""
    out_dir = Path(out_dir).absolute()
    for other in keep:
        other = Path(other).resolve()
        if out_dir.resolve() == other or other.is_relative_to(out_dir.resolve()):
            raise InputError(f"--out {out_dir} would overwrite the input {other}: choose another directory")
    if out_dir.is_file():
        raise InputError(f"--out {out_dir} is a file: choose a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not _is_ours(out_dir):
        raise InputError(
            f"--out {out_dir} is not empty and holds no {MANIFEST} of an earlier `kazllm model "
            "extend`: choose a new or empty directory"
        )
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    if tmp.is_dir() and any(tmp.iterdir()) and not (tmp / PARTIAL).is_file():
        raise InputError(f"{tmp} exists and is not an unfinished `kazllm model extend`: move it away")
    if tmp.is_file():
        raise InputError(f"{tmp} is a file: move it away")
    return tmp


def start_tmp_dir(tmp: Path) -> Path:
    """A fresh, empty out_dir.tmp (a leftover one passed check_out_dir) holding our in-progress marker."""
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / PARTIAL).touch()
    return tmp


def extend_model(
    base: str | Path,
    tokenizer_dir: Path,
    out_dir: Path,
    max_shard_size: str = "2GB",
    dtype: str = "auto",
    revision: str = "",
) -> dict:
    """Resolve and check the base, resize it to the extended tokenizer and save it (safetensors) to out_dir,
    with the tokenizer and extend_manifest.json. Written to out_dir.tmp first, then renamed.

    Every check that needs no weights runs before the base is downloaded or loaded."""
    import torch
    from transformers import LlamaForCausalLM

    from kazllm.hub import check_llama_checkpoint, check_shard_size, resolve_pretrained

    if dtype not in DTYPES:
        raise InputError(f"--dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    check_shard_size(max_shard_size, "--max-shard-size ")  # now, not after the model is loaded
    started = time.perf_counter()
    tokenizer_dir = resolve_hf_dir(tokenizer_dir)  # a tokenizer stage dir holds the tokenizer in hf/
    init = read_embedding_init(tokenizer_dir)
    check_extended_tokenizer(tokenizer_dir, init)
    resolved = resolve_pretrained(str(base), "--base", revision=revision)
    config = check_llama_checkpoint(resolved.path, "--base")
    if int(config.get("vocab_size") or 0) < int(init["base_vocab_size"]):  # before loading any weight
        raise InputError(
            f"tokenizer/model vocabulary mismatch: the tokenizer was extended from a base with "
            f"{init['base_vocab_size']} tokens, {resolved.path} has {config.get('vocab_size')} "
            "embedding rows"
        )
    out_dir = Path(out_dir).absolute()
    tmp = check_out_dir(out_dir, keep=(resolved.path, tokenizer_dir))
    check_same_base(resolved.path, tokenizer_dir, init)
    start_tmp_dir(tmp)

    torch_dtype = {"auto": "auto", "bf16": torch.bfloat16, "fp32": torch.float32, "fp16": torch.float16}[
        dtype
    ]
    try:
        model = LlamaForCausalLM.from_pretrained(
            str(resolved.path), dtype=torch_dtype, use_safetensors=True, trust_remote_code=False
        )
    except (OSError, ValueError, RuntimeError) as e:  # a truncated shard, a weight of the wrong shape
        shutil.rmtree(tmp, ignore_errors=True)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(
            f"--base {resolved.path}: the weights do not load as LlamaForCausalLM: {first[:200]}"
        ) from None
    base_rows = model.get_input_embeddings().weight.shape[0]
    tied = model.get_output_embeddings().weight is model.get_input_embeddings().weight
    n_set = resize_embeddings(model, init)
    rows = model.get_input_embeddings().weight.shape[0]
    # transformers 5 writes safetensors only (no pickle); the base's generation_config travels with the model
    model.save_pretrained(str(tmp), max_shard_size=max_shard_size)
    for name in TOKENIZER_FILES:
        if (tokenizer_dir / name).is_file():
            shutil.copy(tokenizer_dir / name, tmp / name)
    if (tokenizer_dir / EXTEND_MANIFEST).is_file():
        shutil.copy(tokenizer_dir / EXTEND_MANIFEST, tmp / TOKENIZER_MANIFEST)
    (tmp / PARTIAL).unlink()
    new_ids = [int(i) for i in init["new"]]
    manifest = {
        "stage": STAGE,
        "kazllm_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "base": {
            "source": resolved.source,
            "path": str(resolved.path),
            "repo_id": resolved.repo_id,
            "revision": resolved.revision,
        },
        "tokenizer": str(tokenizer_dir),
        "tokenizer_sha256": file_sha256(tokenizer_dir / "tokenizer.json"),
        "tokenizer_base": init.get("base"),  # what the extension recorded of its base (may be absent)
        "base_rows": base_rows,
        "rows": rows,
        "base_vocab_size": int(init["base_vocab_size"]),
        "vocab_size": int(init["vocab_size"]),
        "rows_initialised": n_set,
        "padding_rows_overwritten": sum(i < base_rows for i in new_ids),
        "rows_appended": rows - base_rows,
        "tied_embeddings": tied,
        "dtype": str(model.dtype).removeprefix("torch."),
        "max_shard_size": max_shard_size,
        "seconds": round(time.perf_counter() - started, 1),
        "files": {p.name: file_sha256(p) for p in sorted(tmp.iterdir()) if p.is_file()},
    }
    write_json(tmp / MANIFEST, manifest)  # last: a directory with it is complete
    shutil.rmtree(out_dir, ignore_errors=True)  # checked above: empty or an earlier model extend
    tmp.rename(out_dir)
    return manifest
