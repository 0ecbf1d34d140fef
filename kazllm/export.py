"""`kazllm export`: the latest ZeRO checkpoint -> a Hugging Face model directory in <run>/export/.

The ZeRO shards are gathered into one fp32 state dict (DeepSpeed's zero_to_fp32), loaded strictly
into a fresh LlamaForCausalLM, and saved as safetensors with the tokenizer, generation_config and a
model card. The export then reloads itself with `AutoModelForCausalLM` and checks that the logits
equal those of the in-memory model, so a broken key map cannot pass silently.

    kazllm export --config configs/quickstart.yaml
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import torch

from kazllm.artifacts import read_json, require_stage, write_stage_manifest
from kazllm.config import KazllmConfig
from kazllm.errors import InputError, KazllmError

MODEL_CARD = """---
language:
- kk
library_name: transformers
pipeline_tag: text-generation
tags:
- kazakh
- kazllm
---

# {name}

A Llama-style causal language model trained{origin} with [kazllm](https://github.com/) — an open training stack
for Kazakh language models.

| | |
|---|---|
| Architecture | LlamaForCausalLM, {params_m:.2f}M parameters, {layers} layers, hidden {hidden}, vocab {vocab} |
{base_row}| Training | {steps} steps, ZeRO-{zero} on {world} rank(s), sequence length {seq_len}, {tokens:,} tokens seen |
| Loss | {first_loss:.3f} → {last_loss:.3f} (validation {val_loss}) |
| Data | {docs} documents kept by `kazllm prep` from: {sources} |
| Tokenizer | {tokenizer} |

## Use

```python
from transformers import AutoModelForCausalLM, AutoTokenizer
model = AutoModelForCausalLM.from_pretrained("{path}")
tokenizer = AutoTokenizer.from_pretrained("{path}")
ids = tokenizer("Қазақстан — ", return_tensors="pt").input_ids
print(tokenizer.decode(model.generate(ids, max_new_tokens=20)[0]))
```

Training data passed `kazllm prep`: language identification, Kazakh quality filters, decontamination
against evaluation sets, exact and near (MinHash) deduplication, and masking of personal data (IIN/BIN,
phone numbers, emails, IBANs, payment cards, IP addresses → `<IIN>`, `<BIN>`, `<PHONE>`, `<EMAIL>`,
`<IBAN>`, `<CARD>`, `<IP>`). Its datasheet is `prep/datasheet.md` of the training run.
{eval_section}"""


def latest_tag(ckpt_dir: Path) -> str:
    """The newest checkpoint whose checksums verify (a corrupted newest one is reported and skipped)."""
    from kazllm.checkpoint import LATEST_FILE, find_latest_good

    if not (ckpt_dir / LATEST_FILE).is_file():
        raise InputError(f"{ckpt_dir} has no 'latest' file: no DeepSpeed checkpoint to export (run `kazllm train`)")
    good = find_latest_good(ckpt_dir, warn=lambda msg: print(f"warning: {msg}", file=sys.stderr))
    if good is None:
        raise InputError(f"{ckpt_dir}: no checkpoint passes its checksum verification")
    return good.name


def checkpoint_state_dict(ckpt_dir: Path, tag: str, zero_stage: int | None) -> dict[str, torch.Tensor]:
    """The fp32 weights of a checkpoint. ZeRO 1-3 keep them in optimizer partitions, which DeepSpeed's
    zero_to_fp32 gathers; plain DeepSpeed (ZeRO-0) has no partitions (zero_to_fp32 fails on it) and keeps the
    whole module in its model-states file, written by this run (DeepSpeed's own torch.load, not weights_only)."""
    if zero_stage == 0:
        states = torch.load(ckpt_dir / tag / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False)
        return {name: tensor.float() for name, tensor in states["module"].items()}
    from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

    return get_fp32_state_dict_from_zero_checkpoint(str(ckpt_dir), tag=tag)


def load_zero_checkpoint(ckpt_dir: Path, tag: str):
    """Rebuild the model from a ZeRO checkpoint (any stage) into a plain fp32 LlamaForCausalLM."""
    from transformers import LlamaConfig, LlamaForCausalLM

    meta = read_json(ckpt_dir / tag / "kazllm_checkpoint.json")
    config = LlamaConfig.from_dict(meta["model_config"])
    state = checkpoint_state_dict(ckpt_dir, tag, meta.get("zero_stage"))
    model = LlamaForCausalLM(config)
    if config.tie_word_embeddings:  # the tied head may be stored under its own key or not at all
        state.pop("lm_head.weight", None)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise KazllmError(f"checkpoint {ckpt_dir / tag} does not match the model: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    return model.eval(), meta


def base_model(cfg: KazllmConfig) -> str | None:
    """The base model a continued run started from, with the commit when known (checkpoints/init_from.json)."""
    record_path = cfg.stage_dir("checkpoints") / "init_from.json"
    if not record_path.is_file():
        return cfg.model.init_from or None
    record = read_json(record_path)
    name = record.get("repo_id") or record.get("init_from")
    return f"{name} (revision {record['revision']})" if record.get("revision") else name


def tokenizer_description(tok: dict) -> str:
    """The model card's tokenizer line: our sentencepiece tokenizer, or the base's tokenizer (extended or not)."""
    tpw = tok.get("kk_tokens_per_word")
    if tok.get("extended_from"):
        base = tok["extended_from"].get("repo_id") or tok["extended_from"].get("source")
        before = f" (base {tok['kk_tokens_per_word_base']})" if tok.get("kk_tokens_per_word_base") else ""
        return (f"{tok.get('model_type', 'bpe (extended)')}: the tokenizer of {base} with {tok.get('added', 0):,} "
                f"Kazakh pieces added (every old id kept), {tok['vocab_size']:,} tokens; Kazakh tokens/word {tpw}{before}")
    if tok.get("spm_model"):
        return f"sentencepiece {tok['model_type']} with byte fallback, {tok['vocab_size']} pieces; Kazakh tokens/word {tpw}"
    return f"{tok.get('model_type', 'the base model')} tokenizer, {tok['vocab_size']:,} tokens; Kazakh tokens/word {tpw}"


def write_model_card(cfg: KazllmConfig, export_dir: Path, meta: dict, eval_results: dict | None = None) -> None:
    train_manifest = read_json(cfg.stage_dir("checkpoints") / "manifest.json")
    summary = train_manifest["summary"]
    tok = read_json(cfg.stage_dir("tokenizer") / "manifest.json")
    prep = read_json(cfg.stage_dir("prep") / "manifest.json")
    mc = meta["model_config"]
    t = cfg.train
    eval_section = ""
    if eval_results:
        rows = "\n".join(f"| {task} | {metric} | {value:.4f} |" for task, scores in eval_results.items()
                         for metric, value in scores.items() if isinstance(value, (int, float)))
        eval_section = f"\n## Evaluation\n\n| task | metric | value |\n|---|---|---|\n{rows}\n"
    val = summary.get("val_loss")
    base = base_model(cfg)
    text = MODEL_CARD.format(
        origin=f" by continued pretraining of {base}" if base else "",
        base_row=f"| Base model | {base}: continued pretraining |\n" if base else "",
        tokenizer=tokenizer_description(tok),
        name=cfg.export.model_name, params_m=summary["parameters"] / 1e6, layers=mc["num_hidden_layers"],
        hidden=mc["hidden_size"], vocab=mc["vocab_size"], steps=summary["steps"], zero=t.zero_stage,
        world=summary["world_size"], seq_len=t.seq_len,
        tokens=summary["steps"] * t.micro_batch_size * t.grad_accum * summary["world_size"] * t.seq_len,
        first_loss=summary["first_loss"], last_loss=summary["last_loss"],
        val_loss=f"{val:.3f}" if val is not None else "n/a", docs=prep["documents_kept"],
        sources=", ".join(sorted({i["name"] or Path(i["path"]).name for i in prep["inputs"]})),
        path=export_dir, eval_section=eval_section,
    )
    (export_dir / "README.md").write_text(text, encoding="utf-8")


def run_export(cfg: KazllmConfig) -> dict:
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    ckpt_dir = require_stage(cfg, "checkpoints", "kazllm train")
    tok_dir = require_stage(cfg, "tokenizer", "kazllm tokenizer train") / "hf"
    tag = latest_tag(ckpt_dir)
    model, meta = load_zero_checkpoint(ckpt_dir, tag)

    export_dir = cfg.stage_dir("export")
    shutil.rmtree(export_dir, ignore_errors=True)
    export_dir.mkdir(parents=True)
    model.generation_config = GenerationConfig(
        bos_token_id=model.config.bos_token_id, eos_token_id=model.config.eos_token_id,
        pad_token_id=model.config.pad_token_id, do_sample=False, max_new_tokens=64,
    )
    model.save_pretrained(str(export_dir), safe_serialization=True)
    tokenizer = AutoTokenizer.from_pretrained(str(tok_dir))
    tokenizer.save_pretrained(str(export_dir))
    if (tok_dir / "tokenizer.model").is_file():  # our sentencepiece model, for sentencepiece users
        shutil.copy(tok_dir / "tokenizer.model", export_dir / "tokenizer.model")
    write_model_card(cfg, export_dir, meta)

    # Verify: the directory loads with the Auto classes and gives the same logits.
    reloaded = AutoModelForCausalLM.from_pretrained(str(export_dir), use_safetensors=True).eval()
    probe = tokenizer("Қазақ тілі — мемлекеттік тіл.", return_tensors="pt").input_ids
    with torch.no_grad():
        diff = (reloaded(probe).logits - model(probe).logits).abs().max().item()
    if diff > 1e-5:
        raise KazllmError(f"exported model's logits differ from the checkpoint's by {diff}")
    result = {"checkpoint": f"{ckpt_dir.name}/{tag}", "max_logit_diff": diff,
              "files": sorted(p.name for p in export_dir.iterdir())}
    write_stage_manifest(cfg, "export", **result)
    return result
