"""`kazllm export`: a verified ZeRO checkpoint -> a Hugging Face model directory in <run>/export/.

    kazllm export --config configs/quickstart.yaml                  # the newest checkpoint that verifies
    kazllm export --config X --step 2000 export.dtype=fp32          # a chosen one, full precision

Weights. The checkpoint's fp32 master weights are gathered parameter by parameter (DeepSpeed's zero_to_fp32 in
lazy mode: ZeRO-3 partitions are read through mmap and assembled one tensor at a time), each converted to the
export dtype (export.dtype: auto = bf16 when the run trained in bf16, else fp32) and assigned into a
LlamaForCausalLM built on the meta device, so the model is never allocated twice: peak memory is one model in
the export dtype plus one fp32 tensor (ZeRO-1/2: plus DeepSpeed's flat fp32 copy, see gathered_weights). It is
saved as safetensors, sharded with model.safetensors.index.json past export.max_shard_size.

Check. The logits of a probe sentence are taken from the in-memory model before saving; the model is freed,
the directory reloaded with AutoModelForCausalLM in the same dtype, and the logits must agree (a broken key
map or a truncated shard cannot pass silently). Everything is written into <run>/export.tmp/ and renamed to
export/ only after the check passed, so a failure leaves the previous export/ as it was.

Tokenizer. Loadable by transformers 4.x and 5.x (tokenizer_class PreTrainedTokenizerFast), model_max_length
the model's context, and `tokenizer(text).input_ids` equal to the ids training saw for that document: a BOS
first when the shards were written with one (shards manifest `bos_id`), never an EOS. Where the tokenizer has
chat tokens, a chat template that starts with that BOS. Files are readable by group and others (umask), as a
shared file system needs.
"""

from __future__ import annotations

import gc
import os
import shutil
import sys
from pathlib import Path

import torch

from kazllm.artifacts import (
    dump_config,
    file_table,
    read_json,
    require_stage,
    write_json,
    write_stage_manifest,
)
from kazllm.config import KazllmConfig
from kazllm.errors import InputError, KazllmError
from kazllm.hub import check_shard_size
from kazllm.model_card import write_model_card
from kazllm.shards import document_bos_id

DTYPES = {"bf16": torch.bfloat16, "fp32": torch.float32}
DTYPE_NAMES = {torch.bfloat16: "bfloat16", torch.float32: "float32"}
LOGITS_TOLERANCE = 1e-5
"""Largest |Δlogit| allowed between the in-memory model and its reloaded export. Both hold the same tensors in
the same dtype and run the same CPU kernels, so they agree bit for bit, bf16 included (measured: 0.0); a wrong
key map, a dropped tied weight or a truncated shard moves logits by far more. tests/test_export.py sets it
below zero to see a failing check leave the previous export untouched."""
PROBE_TEXT = "Қазақ тілі — мемлекеттік тіл. Алматы, 2024 жыл."
TMP_SUFFIX, OLD_SUFFIX = ".tmp", ".old"
TOKENIZER_CONFIG_DROP = ("backend", "is_local", "local_files_only", "split_special_tokens", "auto_map")
"""tokenizer_config.json keys transformers 5.x writes that are state of one load, not of the tokenizer, and
split_special_tokens (see write_tokenizer for why the export drops it)."""


# ---------------------------------------------------------------------------------------------------
# Which checkpoint, in which dtype
# ---------------------------------------------------------------------------------------------------


def latest_tag(ckpt_dir: Path) -> str:
    """The newest checkpoint whose checksums verify (a corrupted newest one is reported and skipped)."""
    from kazllm.checkpoint import LATEST_FILE, find_latest_good

    if not (ckpt_dir / LATEST_FILE).is_file():
        raise InputError(
            f"{ckpt_dir} has no 'latest' file: no DeepSpeed checkpoint to export (run `kazllm train`)"
        )
    good = find_latest_good(ckpt_dir, warn=lambda msg: print(f"warning: {msg}", file=sys.stderr))
    if good is None:
        raise InputError(f"{ckpt_dir}: no checkpoint passes its checksum verification")
    return good.name


def pick_checkpoint(ckpt_dir: Path, step: int) -> str:
    """export.step / --step: 0 = the newest checkpoint that verifies, else stepN, which must exist and
    verify."""
    from kazllm.checkpoint import published_checkpoints, step_tag, verify_checkpoint

    if step == 0:
        return latest_tag(ckpt_dir)
    tag = step_tag(step)
    available = ", ".join(p.name for p in published_checkpoints(ckpt_dir)) or "none"
    if not (ckpt_dir / tag).is_dir():
        raise InputError(f"export.step={step}: {ckpt_dir} has no {tag} (available: {available})")
    problems = verify_checkpoint(ckpt_dir / tag)
    if problems:
        raise InputError(
            f"export.step={step}: {ckpt_dir / tag} fails its checksum verification ({problems[0]}"
            f"{f' and {len(problems) - 1} more' if len(problems) > 1 else ''}); available: {available}"
        )
    return tag


def trained_in_bf16(ckpt_path: Path) -> bool:
    """Whether the run behind this checkpoint trained in bf16: the DeepSpeed config DeepSpeed saved into the
    checkpoint's model states (train.precision auto resolves to bf16 on GPUs and fp32 on CPU at launch, so the
    run config alone cannot say). mmap: a ZeRO-1/2 model-states file holds the whole module, never read
    here."""
    states_files = sorted(ckpt_path.glob("*model_states.pt"))
    if not states_files:
        raise InputError(f"{ckpt_path} has no *model_states.pt: not a DeepSpeed checkpoint")
    states = torch.load(states_files[0], map_location="cpu", mmap=True, weights_only=False)
    return bool(((states.get("ds_config") or {}).get("bf16") or {}).get("enabled"))


def export_dtype(setting: str, ckpt_path: Path) -> torch.dtype:
    """export.dtype: bf16 or fp32 as asked; auto = bf16 when training ran in bf16 (a bf16 run's weights lose
    nothing a bf16 user would see, at half the size), else fp32 (a CPU or fp32 run keeps its precision)."""
    if setting == "auto":
        return torch.bfloat16 if trained_in_bf16(ckpt_path) else torch.float32
    return DTYPES[setting]


# ---------------------------------------------------------------------------------------------------
# Gathering the weights into a model, one tensor at a time
# ---------------------------------------------------------------------------------------------------


def gathered_weights(ckpt_dir: Path, tag: str, zero_stage: int | None) -> dict:
    """The checkpoint's weights by name, not yet materialised where DeepSpeed allows it.

    ZeRO-3: DeepSpeed's lazy GatheredTensor per parameter, assembled from the mmap-ed rank partitions on
    `.contiguous()`. ZeRO-1/2: views into DeepSpeed's flat fp32 vector per parameter group (zero_to_fp32
    concatenates the rank partitions; that one fp32 copy is the floor of this path). ZeRO-0 (plain DeepSpeed,
    which zero_to_fp32 refuses): the module as saved in its model-states file, mmap-ed; this run's own file,
    so DeepSpeed's own torch.load (not weights_only)."""
    if zero_stage == 0:
        states = torch.load(
            ckpt_dir / tag / "mp_rank_00_model_states.pt", map_location="cpu", mmap=True, weights_only=False
        )
        return dict(states["module"])
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    return get_fp32_state_dict_from_zero_checkpoint(str(ckpt_dir), tag=tag, lazy_mode=True)


def materialise(value, dtype: torch.dtype) -> torch.Tensor:
    """One weight as a tensor of its own (no storage shared with DeepSpeed's flat vectors or the mmap-ed file)
    in `dtype`; integer buffers keep theirs."""
    if isinstance(value, torch.Tensor):
        return value.to(dtype, copy=True) if value.is_floating_point() else value.clone()
    tensor = value.contiguous()  # ZeRO-3: gathers this one parameter, a fresh fp32 tensor
    return tensor.to(dtype) if tensor.is_floating_point() else tensor


def checkpoint_state_dict(ckpt_dir: Path, tag: str, zero_stage: int | None) -> dict[str, torch.Tensor]:
    """The fp32 weights of a checkpoint as plain tensors (every one in memory: for tests and small models)."""
    return {
        name: materialise(value, torch.float32)
        for name, value in gathered_weights(ckpt_dir, tag, zero_stage).items()
    }


def load_zero_checkpoint(ckpt_dir: Path, tag: str, dtype: torch.dtype = torch.float32):
    """Rebuild the model of a ZeRO checkpoint (any stage) as a LlamaForCausalLM in `dtype`.

    The model is built on the meta device (no memory, no random init) and each gathered weight is converted
    and assigned as it comes (`load_state_dict(assign=True)`), so the weights exist once, in `dtype`."""
    from transformers import LlamaConfig, LlamaForCausalLM

    meta = read_json(ckpt_dir / tag / "kazllm_checkpoint.json")
    config = LlamaConfig.from_dict(meta["model_config"])
    config.dtype = dtype
    state = gathered_weights(ckpt_dir, tag, meta.get("zero_stage"))
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    tied = config.tie_word_embeddings
    if tied:  # the tied head may be stored under its own key or not at all
        state.pop("lm_head.weight", None)
    expected = {k for k in model.state_dict() if not (tied and k == "lm_head.weight")}
    missing, unexpected = sorted(expected - state.keys()), sorted(state.keys() - expected)
    if missing or unexpected:
        raise KazllmError(
            f"checkpoint {ckpt_dir / tag} does not match the model: missing {missing}, "
            f"unexpected {unexpected}"
        )
    weights = {}
    for name in list(state):  # popping drops DeepSpeed's reference as each tensor is converted
        weights[name] = materialise(state.pop(name), dtype)
    del state
    model.load_state_dict(weights, strict=False, assign=True)
    del weights
    model.tie_weights()
    # Non-persistent buffers (rotary inv_freq) are in no checkpoint: compute them as a fresh model does.
    rotary = model.model.rotary_emb
    model.model.rotary_emb = type(rotary)(config=config)
    still_meta = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.is_meta]
    if still_meta:
        raise KazllmError(f"checkpoint {ckpt_dir / tag}: no weights for {still_meta[:5]}")
    return model.eval(), meta


# ---------------------------------------------------------------------------------------------------
# Tokenizer: loadable by transformers 4.x and 5.x, the ids of training
# ---------------------------------------------------------------------------------------------------


def training_bos(cfg: KazllmConfig, tok_manifest: dict) -> dict | None:
    """{"id", "piece"} of the BOS that starts every training document, or None when documents have none.

    The shards manifest says (`bos_id`; absent = format 2, written without BOS). Without shards (deleted after
    training) it is what `kazllm pretokenize` writes for this tokenizer today."""
    shards_manifest = cfg.stage_dir("shards") / "manifest.json"
    if shards_manifest.is_file():
        bos_id = read_json(shards_manifest).get("bos_id")
    else:
        bos_id = document_bos_id(tok_manifest)
        print(
            f"warning: {shards_manifest} is missing: assuming documents started with BOS id {bos_id}, as "
            "`kazllm pretokenize` writes them",
            file=sys.stderr,
        )
    if bos_id is None:
        return None
    bos = tok_manifest["special_tokens"]["bos"]
    if bos is None or bos["id"] != bos_id:
        raise InputError(
            f"{shards_manifest}: bos_id {bos_id} is not the BOS of tokenizer/manifest.json ({bos}): "
            "the shards were written with another tokenizer; rerun `kazllm pretokenize`"
        )
    return bos


def chat_template(chat_tokens: dict, bos: dict | None) -> str | None:
    """A template over the tokenizer's reserved chat tokens, or None when it has not the four it needs.

    It starts with the BOS training put before every document, once: `apply_chat_template` tokenizes the
    rendered text without adding special tokens. Roles map to literal tokens (no '<|' + role + '|>' built from
    input), so a message cannot name a control token."""
    needed = ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>")
    if not all(t in chat_tokens for t in needed):
        return None
    roles = "".join(
        f"{{% {'if' if i == 0 else 'elif'} message['role'] == '{role}' %}}<|{role}|>"
        for i, role in enumerate(("system", "user", "assistant"))
    )
    return ("{{ bos_token }}" if bos else "") + (
        "{% for message in messages %}"
        + roles
        + "{% else %}{{ raise_exception('chat roles are system, user and assistant') }}{% endif %}"
        "{{ '\\n' + message['content'] + '<|end|>' + '\\n' }}{% endfor %}"
        "{% if add_generation_prompt %}{{ '<|assistant|>' + '\\n' }}{% endif %}"
    )


def write_tokenizer(
    tok_dir: Path, out_dir: Path, tok_manifest: dict, bos: dict | None, max_length: int
) -> None:
    """The run's tokenizer into out_dir, fixed for users of transformers 4.x and 5.x.

    - tokenizer_class PreTrainedTokenizerFast: 5.x writes TokenizersBackend, which 4.x (and serving stacks
      pinned to it) cannot load; both load tokenizer.json as it is under this name.
    - post-processor "BOS $A" (pair "BOS $A BOS $B", as Llama 3) when training documents start with BOS, else
      "$A": `tokenizer(text)` adds exactly what training saw; add_bos_token says the same for 5.x, which
      rebuilds its post-processor from that flag.
    - model_max_length = the model's max_position_embeddings (not 2^20).
    - no split_special_tokens. Training encoded a literal "</s>" inside a document as text; with the flag a
      chat template's own "<s>" or "<|im_start|>" would be spelled out as text too, which breaks every chat
      and serving stack. Without it, text that spells a special token gets that token, as with any Llama
      checkpoint; `tokenizer(text, split_special_tokens=True)` gives training's ids for such text too.
    """
    from tokenizers import Tokenizer, processors
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(tok_dir)).save_pretrained(str(out_dir))
    tokenizer = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
    if bos:
        b = bos["piece"]
        tokenizer.post_processor = processors.TemplateProcessing(
            single=f"{b}:0 $A:0", pair=f"{b}:0 $A:0 {b}:1 $B:1", special_tokens=[(b, bos["id"])]
        )
    else:
        tokenizer.post_processor = processors.TemplateProcessing(single="$A:0", pair="$A:0 $B:1")
    tokenizer.save(str(out_dir / "tokenizer.json"))
    config = read_json(out_dir / "tokenizer_config.json")
    for key in TOKENIZER_CONFIG_DROP:
        config.pop(key, None)
    config.update(
        tokenizer_class="PreTrainedTokenizerFast",
        model_max_length=max_length,
        add_bos_token=bos is not None,
        add_eos_token=False,
    )
    template = chat_template(tok_manifest.get("chat_tokens") or {}, bos)
    if template and "chat_template" not in config and not (out_dir / "chat_template.jinja").is_file():
        config["chat_template"] = template
    write_json(out_dir / "tokenizer_config.json", config)
    if (tok_dir / "tokenizer.model").is_file():  # our sentencepiece model, for sentencepiece users
        shutil.copy(tok_dir / "tokenizer.model", out_dir / "tokenizer.model")


# ---------------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------------


def make_readable(directory: Path) -> None:
    """Give every file and folder the mode the umask allows (0644/0755 under umask 022): safetensors and
    transformers write through private temporary files (0600), unreadable to a team on a shared file
    system."""
    umask = os.umask(0)
    os.umask(umask)
    directory.chmod(0o777 & ~umask)
    for path in directory.rglob("*"):
        path.chmod((0o777 if path.is_dir() else 0o666) & ~umask)


def replace_dir(new: Path, final: Path) -> None:
    """Put `new` where `final` is: the old one is moved aside, not deleted, until the new one is in place
    (two renames on one file system; should the second fail, the old one goes back)."""
    old = final.with_name(final.name + OLD_SUFFIX)
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        os.replace(final, old)
    try:
        os.replace(new, final)
    except OSError:
        if old.exists() and not final.exists():
            os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------------


def probe_logits(model, tokenizer) -> tuple[list[int], torch.Tensor]:
    ids = tokenizer(PROBE_TEXT, return_tensors="pt").input_ids
    with torch.no_grad():
        return ids[0].tolist(), model(ids).logits.float()


def build_export(cfg: KazllmConfig, out_dir: Path, ckpt_dir: Path, tag: str, dtype: torch.dtype) -> dict:
    """Write the whole export into out_dir and check it; returns the manifest fields."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    tok_stage = require_stage(cfg, "tokenizer", "kazllm tokenizer train")
    tok_manifest = read_json(tok_stage / "manifest.json")
    model, meta = load_zero_checkpoint(ckpt_dir, tag, dtype)
    bos = training_bos(cfg, tok_manifest)
    write_tokenizer(tok_stage / "hf", out_dir, tok_manifest, bos, model.config.max_position_embeddings)
    tokenizer = AutoTokenizer.from_pretrained(str(out_dir))
    probe_ids, reference = probe_logits(model, tokenizer)  # before saving: the model is freed after it

    model.generation_config = GenerationConfig(
        bos_token_id=model.config.bos_token_id,
        eos_token_id=model.config.eos_token_id,
        pad_token_id=model.config.pad_token_id,
        do_sample=False,
        max_new_tokens=64,
    )
    model.save_pretrained(str(out_dir), safe_serialization=True, max_shard_size=cfg.export.max_shard_size)
    del model
    gc.collect()

    reloaded = AutoModelForCausalLM.from_pretrained(str(out_dir), use_safetensors=True, dtype=dtype).eval()
    if reloaded.dtype != dtype:
        raise KazllmError(
            f"{out_dir}: the export reloads as {reloaded.dtype}, not the {dtype} it was saved in"
        )
    _, logits = probe_logits(reloaded, tokenizer)
    del reloaded
    diff = (logits - reference).abs().max().item()
    if not diff <= LOGITS_TOLERANCE:
        raise KazllmError(
            f"export check failed: {ckpt_dir.name}/{tag} reloaded from safetensors gives logits that "
            f"differ from the checkpoint's by {diff:.3g} (tolerance {LOGITS_TOLERANCE:g}); "
            f"the previous {cfg.stage_dir('export').name}/ is unchanged"
        )

    write_model_card(cfg, out_dir, meta)  # names no local path: the folder it is written to is temporary
    dump_config(cfg, out_dir / "resolved_config.yaml")  # the same bytes write_stage_manifest writes again
    make_readable(out_dir)
    return {
        "checkpoint": f"{ckpt_dir.name}/{tag}",
        "step": int(meta["step"]),
        "dtype": DTYPE_NAMES[dtype],
        "logits_check": {
            "max_abs_diff": diff,
            "tolerance": LOGITS_TOLERANCE,
            "passed": True,
            "probe_tokens": len(probe_ids),
        },
        "max_logit_diff": diff,  # for readers of the first manifest version
        "bos_id": bos["id"] if bos else None,
        "sharded": (out_dir / "model.safetensors.index.json").is_file(),
        "files": file_table(out_dir),
    }


def run_export(cfg: KazllmConfig) -> dict:
    ckpt_dir = require_stage(cfg, "checkpoints", "kazllm train")
    check_shard_size(cfg.export.max_shard_size, "export.max_shard_size=")
    tag = pick_checkpoint(ckpt_dir, cfg.export.step)
    dtype = export_dtype(cfg.export.dtype, ckpt_dir / tag)

    final = cfg.stage_dir("export")
    tmp = final.with_name(final.name + TMP_SUFFIX)
    shutil.rmtree(tmp, ignore_errors=True)  # a crashed earlier attempt
    tmp.mkdir(parents=True)
    try:
        result = build_export(cfg, tmp, ckpt_dir, tag, dtype)
        replace_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # The manifest comes last: an export/ without one is unfinished to every reader (require_stage, push).
    # (its files are created with the umask's mode: only transformers' and safetensors' needed make_readable)
    write_stage_manifest(cfg, "export", **result)
    return result
