"""One typed config tree for a kazllm run.

Loading goes schema defaults -> YAML file -> dotted command-line overrides (``train.lr=3e-4``).
An unknown key or a value of the wrong type is a :class:`ConfigError` that names the key and
where it came from (the YAML file or the command line), so a typo never trains silently.

Every stage writes the fully resolved tree beside its outputs (``resolved_config.yaml``).

    from kazllm.config import load_config
    cfg = load_config("configs/quickstart.yaml", ["train.steps=10"])
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import sys
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from kazllm.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------------
# The tree. A docstring-style comment sits directly under every field.
# ---------------------------------------------------------------------------------------------------


@dataclass
class RunSection:
    out_dir: str = "runs/default"
    """Run directory; every stage writes its own subdirectory here (prep/, tokenizer/, shards/, ...). A
    relative path is relative to the current directory (run from the repository root, runs/quickstart is
    <repo>/runs/...)."""
    seed: int = 1234
    """Seed for every random choice (data order, model init, sampling of held-out documents)."""


PII_POLICIES = ("full", "identifiers", "none")


@dataclass
class PiiSection:
    """De-personalisation of one source (data_prep/deidentify.py, docs/pii.md)."""

    policy: str = "identifiers"
    """full: identifiers and person names; identifiers (the default, for web text): IIN/BIN, phones, e-mails,
    IBANs, cards, IPs and the other kinds of data_prep/pii.py, names kept; none: the text is left as it is.
    full is recommended for state-body sources (court decisions, orders, registers)."""
    pseudonymise: bool = False
    """With policy full: replace a person name by a fake name of the same gender and case form, the same one
    for every mention in a document (seeded by `seed` and the document id), instead of <PERSON>."""
    seed: int = 0
    """Seed of the pseudonyms: the same seed and document id always give the same fake names."""
    allow: list[str] = field(default_factory=list)
    """With policy full: names this source keeps as written (e.g. historical figures in literature: Абай
    Құнанбайұлы). A name is kept when every one of its words is on the list, in any case form."""
    allow_files: list[str] = field(default_factory=list)
    """With policy full: files of more such names, one per line (# starts a comment); relative paths are
    relative to the repository root."""

    def __post_init__(self) -> None:
        if self.policy not in PII_POLICIES:
            raise ValueError(f"policy must be one of {', '.join(PII_POLICIES)}; got {self.policy!r}")
        if self.policy != "full":
            extra = [
                name
                for name, on in (
                    ("pseudonymise", self.pseudonymise),
                    ("allow", self.allow),
                    ("allow_files", self.allow_files),
                )
                if on
            ]
            if extra:
                raise ValueError(
                    f"{extra[0]} only applies to person names, which only policy full masks; "
                    f"got policy {self.policy!r}"
                )
        blank = [x for x in (*self.allow, *self.allow_files) if not x.strip()]
        if blank:
            raise ValueError("allow and allow_files must not hold empty entries")


@dataclass
class InputSource:
    path: str = ""
    """A file, or a directory of files, to read. Relative paths are relative to the repository root."""
    format: str = "jsonl"
    """jsonl, text, parquet, csv, warc, wikipedia (MediaWiki XML dump), pdf or docx. jsonl, text, csv and
    wikipedia files may be compressed (.gz, .bz2, .zst, .xz: chosen by extension); WARC may be .warc.gz."""
    name: str = ""
    """Source name carried on every document (defaults to the file stem)."""
    text_key: str = "text"
    """For jsonl: the field that holds the document text; for parquet and csv: the text column."""
    separator: str = ""
    """For text: a line that separates documents inside one file (empty = one document per file)."""
    licence: str = ""
    """Licence of the source, carried in provenance and the datasheet."""
    url: str = ""
    """Where the source was obtained; provenance url of documents whose record has none (empty = file
    path)."""
    retrieved: str = ""
    """When the source was retrieved (e.g. 2024-05-01), carried in provenance."""
    id_key: str = "id"
    """For jsonl, parquet and csv: the field or column that holds the document id (missing = file:line)."""
    max_line_mb: float = 16.0
    """For jsonl, text and csv: a longer line (MiB) is quarantined as line_too_long without being held in
    memory."""
    pii: PiiSection = field(default_factory=PiiSection)
    """De-personalisation of this source: {policy: full | identifiers | none, pseudonymise, seed, allow,
    allow_files}; the default is policy identifiers (docs/pii.md)."""

    def __post_init__(self) -> None:
        formats = ("jsonl", "text", "parquet", "csv", "warc", "wikipedia", "pdf", "docx")
        if self.format not in formats:
            raise ValueError(f"format must be one of {', '.join(formats)}; got {self.format!r}")
        if self.max_line_mb <= 0:
            raise ValueError(f"max_line_mb must be positive, got {self.max_line_mb}")


@dataclass
class QualitySection:
    """Kazakh-tuned quality rules (data_prep/quality.py); defaults start from FineWeb-2's kaz_Cyrl values."""

    min_words: int = 50
    """Documents with fewer words are dropped (quality:too_few_words)."""
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    """Mean word length bounds, in characters (FineWeb-2 kaz_Cyrl: 3..12)."""
    max_mean_word_length: float = 12.0
    min_alpha_word_ratio: float = 0.694
    """Share of words that contain a letter (FineWeb-2 kaz_Cyrl non-alphabetic rule: 0.694)."""
    min_stop_words: int = 2
    """Distinct function words a real text contains (quality:stop_words): Kazakh ones (және, мен, бұл, ...),
    or for Russian and English documents (kept for a replay mixture) those languages' own."""
    max_duplicate_line_ratio: float = 0.304
    """Share of lines repeating another line (FineWeb-2 kaz_Cyrl: 0.304; repetition:dup_line_frac)."""
    min_line_punct_ratio: float = 0.176
    """Share of lines ending in terminal punctuation (FineWeb-2 kaz_Cyrl: 0.176)."""
    max_newline_ratio: float = 0.186
    """Newlines per word (FineWeb-2 kaz_Cyrl: 0.186); lists and menus have many."""
    max_duplicate_line_chars_ratio: float = 0.05
    """Characters in repeated lines over all characters (FineWeb: 0.01). 0.05 keeps forum threads, where
    a short '<user> жазды:' header repeats; pages built of repeated lines still fail."""
    remove_boilerplate: bool = True
    """Drop menu, share-bar, cookie and copyright lines before the rules look at the text."""
    url_blocklist: str = ""
    """Extra file of blocked domains (one per line), on top of the shipped default list."""


@dataclass
class EvalSetSource:
    name: str = ""
    """Name used in reject reasons (decontam:<name>); defaults to the file stem."""
    path: str = ""
    """A text file (one item per line) or JSONL (every string field) of an evaluation set."""


@dataclass
class DecontaminationSection:
    eval_sets: list[EvalSetSource] = field(default_factory=list)
    """Evaluation sets whose text must not appear in training data."""
    ngram: int = 8
    """Words per n-gram; a document sharing one n-gram with an eval set is rejected."""


@dataclass
class DedupSection:
    exact: bool = True
    """Drop documents whose case-, punctuation- and space-folded text repeats an earlier one (global)."""
    minhash: bool = True
    """Drop near duplicates with MinHash LSH (global), keeping one per cluster with its cluster size."""
    ngram: int = 5
    """Word n-gram size of the MinHash shingles (FineWeb: 5)."""
    buckets: int = 14
    """LSH bands (FineWeb: 14 buckets of 8 hashes: ~75% Jaccard similarity is caught)."""
    hashes_per_bucket: int = 8


@dataclass
class SlurmJob:
    """What a Slurm job asks for, one description for both Slurm users: prep's job arrays
    (prep.executor.slurm, run by datatrove's SlurmPipelineExecutor) and the batch scripts of `kazllm slurm
    submit` (the `slurm:` section, which extends it with how training runs its ranks)."""

    partition: str = ""
    """Partition (empty = the cluster's default; prep on Slurm needs one)."""
    account: str = ""
    """Account to charge (empty = your default)."""
    time: str = "24:00:00"
    """Wall-clock limit per job (HH:MM:SS or D-HH:MM:SS)."""
    cpus_per_task: int = 1
    """CPUs per task (--cpus-per-task; 0 = not requested)."""
    mem_per_cpu_gb: int = 2
    """Memory per CPU in GB (--mem-per-cpu; 0 = not requested)."""
    sbatch_args: dict[str, str] = field(default_factory=dict)
    """More #SBATCH options, e.g. {qos: high, exclusive: ""} -> --qos=high, --exclusive."""


@dataclass
class ExecutorSection:
    kind: str = "local"
    """local (datatrove LocalPipelineExecutor) or slurm (SlurmPipelineExecutor job arrays)."""
    tasks: int = 1
    """Parallel tasks for the per-document stages (input files are split across them)."""
    workers: int = 0
    """Local processes running a stage's tasks at once; 0 (the default) = one per CPU core, never more than
    the stage's tasks. (1 ran them one after another: measured on 0.5 GB, half the speed on 2 cores.)"""
    slurm: SlurmJob = field(default_factory=SlurmJob)
    """With kind slurm: each stage's job array (partition, account, time, cpus_per_task, mem_per_cpu_gb,
    sbatch_args). Written before as slurm_partition, slurm_time, ...: those keys still load."""

    def __post_init__(self) -> None:
        if self.kind not in ("local", "slurm"):
            raise ValueError(f"kind must be 'local' or 'slurm', got {self.kind!r}")
        if self.tasks < 1 or self.workers < 0:
            raise ValueError("tasks must be at least 1 and workers at least 0 (0 = one per CPU core)")

    def local_workers(self, tasks: int) -> int:
        """Processes for a local stage of `tasks` tasks."""
        return max(1, min(self.workers or os.cpu_count() or 1, tasks))


@dataclass
class PrepSection:
    inputs: list[InputSource] = field(default_factory=list)
    """Raw sources to read."""
    keep_languages: list[str] = field(default_factory=lambda: ["kk"])
    """Language labels to keep; everything else is rejected with reason language:<label>."""
    min_language_score: float = 0.5
    """Minimum language-ID confidence for a kept document."""
    drop_foreign_lines: bool = True
    """Remove lines of 40+ characters confidently in another language from kept documents."""
    transliterate_latin: bool = False
    """Convert Latin-script Kazakh (2017/2018/2021 alphabets, Wikipedia's) to Cyrillic before language ID."""
    quality: QualitySection = field(default_factory=QualitySection)
    mask_pii: bool = True
    """De-personalisation on (each input's pii.policy applies) or off (false: every source counts as policy
    none; an input asking for policy full beside it is an error). See docs/pii.md."""
    decontamination: DecontaminationSection = field(default_factory=DecontaminationSection)
    dedup: DedupSection = field(default_factory=DedupSection)
    executor: ExecutorSection = field(default_factory=ExecutorSection)
    shard_max_mb: int = 256
    """A kept-documents JSONL shard is closed and a new one started past this size."""

    def __post_init__(self) -> None:
        if not self.mask_pii:
            full = [f"inputs[{i}]" for i, s in enumerate(self.inputs) if s.pii.policy == "full"]
            if full:
                raise ValueError(
                    f"mask_pii is false (no de-personalisation) but {full[0]}.pii.policy is full: "
                    "drop one of the two"
                )

    def pii_policy(self, source: InputSource) -> str:
        """The de-personalisation policy applied to `source`: its pii.policy, or none when mask_pii is
        false."""
        return source.pii.policy if self.mask_pii else "none"


@dataclass
class TokenizerSection:
    vocab_size: int = 8000
    """Vocabulary size, special tokens included."""
    model_type: str = "bpe"
    """sentencepiece model type: bpe or unigram."""
    character_coverage: float = 1.0
    """Share of characters covered by pieces; the rest go to byte fallback (1.0 measured best: -0.006
    Kazakh tokens/word against 0.9995, docs/tokenizer.md)."""
    language_weights: dict[str, float] = field(
        default_factory=lambda: {"kk": 0.7, "ru": 0.15, "en": 0.1, "tr": 0.05}
    )
    """Share of the training sample per language (a document's metadata.language; `LANG=FILE` for --input).
    Renormalised over the languages present; text in languages not named here is left out. When no named
    language is present (e.g. plain files of unknown language), all text is used."""
    max_upsample: float = 1.0
    """How many times a language short of its share may be repeated to reach it (1 = never repeat)."""
    max_sentences: int = 2_000_000
    """Cap on training lines (paragraphs) in the sample."""
    max_bytes: int = 256_000_000
    """Cap on training bytes in the sample (UTF-8), shared among languages by language_weights. It bounds
    the stage's memory whatever the corpus size: sentencepiece peaks near 26x the sample (256 MB: 6.7 GB
    on 0.5-2 GB corpora, docs/scaling.md); raise it on a large-memory node (configs/national_8b_13b.yaml)."""
    max_piece_length: int = 16
    """Longest piece in characters (sentencepiece's max_sentencepiece_length)."""
    split_by_script: bool = False
    """Keep pieces inside one Unicode script (sentencepiece's split_by_unicode_script). False (the default)
    lets a piece join a word and its punctuation (`ды.`, `▁«Қ`): measured 1.65 -> 1.57 Kazakh tokens/word
    at 48k on unseen news."""
    split_by_whitespace: bool = False
    """Keep pieces inside one word. False (the default) allows pieces across a space (`▁және▁`): Kazakh
    1.57 -> 1.55 tokens/word at 48k. (Extension, tokenizer.extend_base, learns byte-level merges inside the
    base's own words and does not use these settings.)"""
    chat_tokens: list[str] = field(
        default_factory=lambda: [
            "<|system|>",
            "<|user|>",
            "<|assistant|>",
            "<|end|>",
            *(f"<|reserved_{i}|>" for i in range(4)),
        ]
    )
    """Reserved pieces given the ids right after pad (4, 5, ...), always one token wherever they appear."""
    parity_lines: int = 2000
    """Lines checked for identical ids between sentencepiece and the Hugging Face tokenizer."""
    # -- extending a base model's tokenizer (continued pretraining; data_prep/tokenizer_extend.py) --
    extend_base: str = ""
    """A base model's tokenizer to extend instead of training our own: a Hugging Face directory or a hub
    id (ORG/NAME or ORG/NAME@REVISION). `kazllm tokenizer train` then learns new byte-level BPE merges on
    prep/ text on top of the base's own, and writes the EXTENDED tokenizer as tokenizer/hf/ (every old id
    unchanged) with embedding_init.json for `kazllm model extend` / `model.init_from`."""
    max_new: int = 32000
    """With extend_base: at most this many new pieces (most frequent merges first; the set stays closed
    under its merges, so any cap gives a working tokenizer)."""
    extend_scripts: list[str] = field(default_factory=lambda: ["Cyrillic"])
    """With extend_base: a new piece must contain a letter of one of these Unicode scripts, so text in any
    other script (English, Chinese, code) keeps the base's ids exactly."""

    def __post_init__(self) -> None:
        if self.model_type not in ("bpe", "unigram"):
            raise ValueError(f"model_type must be 'bpe' or 'unigram', got {self.model_type!r}")
        if self.vocab_size < 300 + len(self.chat_tokens):
            raise ValueError(
                "vocab_size must be at least 300 + len(chat_tokens) (256 byte-fallback pieces + specials)"
            )
        if any(w < 0 for w in self.language_weights.values()) or not any(self.language_weights.values()):
            raise ValueError(f"language_weights must be >= 0 with one > 0, got {self.language_weights}")
        if self.max_upsample < 1:
            raise ValueError(f"max_upsample must be >= 1, got {self.max_upsample}")
        if self.max_sentences < 1 or self.max_bytes < 1:
            raise ValueError("max_sentences and max_bytes must be positive")
        if not 1 <= self.max_piece_length <= 64:
            raise ValueError(f"max_piece_length must be 1..64, got {self.max_piece_length}")
        if self.max_new < 1:
            raise ValueError(f"max_new must be >= 1, got {self.max_new}")
        if not self.extend_scripts:
            raise ValueError("extend_scripts must name at least one Unicode script (e.g. [Cyrillic])")
        bad = [t for t in self.chat_tokens if not t or any(c.isspace() for c in t)]
        if bad or len(set(self.chat_tokens)) != len(self.chat_tokens):
            raise ValueError(
                f"chat_tokens must be distinct, non-empty and without spaces, got {self.chat_tokens}"
            )


@dataclass
class PretokenizeSection:
    val_fraction: float = 0.05
    """Share of documents held out for validation loss (chosen by a hash of the document id)."""
    tokens_per_shard: int = 50_000_000
    """Tokens per shard file."""
    batch_size: int = 256
    """Documents per encode_batch call."""
    workers: int = 0
    """Worker processes encoding in parallel, each on one core (0 = every core this process may use)."""
    unit_mb: float = 64.0
    """Work unit size in MiB of kept JSONL. Units, not workers, name the shard files, so the output is the
    same for any number of workers; a rerun after an interruption redoes only unfinished units."""

    def __post_init__(self) -> None:
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        if self.tokens_per_shard < 1 or self.batch_size < 1 or self.workers < 0 or self.unit_mb <= 0:
            raise ValueError("tokens_per_shard and batch_size must be >= 1, workers >= 0, unit_mb > 0")


@dataclass
class ModelSection:
    preset: str = ""
    """A preset in configs/model/ (debug-tiny, 125m, 1b, 8b, 70b) or a path to a YAML of LlamaConfig fields.
    Empty = debug-tiny, or with init_from the checkpoint's own architecture (a preset given together with
    init_from must agree with the checkpoint's shape: `kazllm plan` uses it when the checkpoint is remote)."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """LlamaConfig fields that replace the preset's (e.g. {num_hidden_layers: 2})."""
    init_from: str = ""
    """Continue pretraining from these weights instead of a fresh init: a Hugging Face model directory or a
    hub id (ORG/NAME or ORG/NAME@REVISION) of a LlamaForCausalLM in safetensors (no remote code). When
    tokenizer/ holds a larger (extended) tokenizer, the embeddings are resized as `kazllm model extend`
    does."""


@dataclass
class WandbSection:
    enabled: bool = False
    """Log to Weights & Biases."""
    mode: str = "offline"
    """offline (default: no key or network needed) or online."""
    project: str = "kazllm"


@dataclass
class TrainSection:
    nproc: int = 1
    """Processes (ranks) to launch with torchrun when not already under a launcher."""
    zero_stage: int = 2
    """DeepSpeed ZeRO stage: 0, 1, 2 or 3."""
    precision: str = "auto"
    """auto (bf16 on GPU, fp32 on CPU), bf16 or fp32."""
    seq_len: int = 128
    """Tokens per training sequence."""
    micro_batch_size: int = 8
    """Sequences per rank per forward pass."""
    grad_accum: int = 1
    """Micro-batches per optimizer step."""
    steps: int = 100
    """Optimizer steps."""
    lr: float = 3e-3
    """Peak learning rate."""
    min_lr_ratio: float = 0.1
    """Final LR as a share of the peak (cosine decay)."""
    warmup_steps: int = 10
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    log_every: int = 5
    """Steps between metric lines."""
    schedule: str = "cosine"
    """LR schedule after linear warmup: cosine (decay to min_lr_ratio over the run) or wsd
    (warmup-stable-decay: constant peak, then a decay to min_lr_ratio over the last decay_fraction)."""
    decay_fraction: float = 0.2
    """wsd: share of train.steps spent decaying at the end."""
    decay_shape: str = "linear"
    """wsd: linear or 1-sqrt (Hägele et al. 2024) decay."""
    eval_every: int = 0
    """Steps between validation losses on the held-out shards (0 = only at the end)."""
    eval_sequences: int = 64
    """Validation windows (of seq_len tokens, spread evenly over the val split, the same every time)."""
    attn_implementation: str = "sdpa"
    """Attention kernel: sdpa (PyTorch), flash_attention_2 (needs flash-attn and a GPU) or eager."""
    activation_checkpointing: bool = False
    """Recompute each decoder layer's activations in backward (less memory, ~30% more compute)."""
    compile: bool = False
    """torch.compile every decoder layer (state-dict keys unchanged; first steps are slow)."""
    liger_kernel: bool = True
    """Liger fused kernels (RMSNorm, RoPE, SwiGLU, fused linear cross-entropy) when liger-kernel is
    installed and training runs on CUDA; skipped with a log line otherwise."""
    peak_tflops: float = 0.0
    """Peak dense TFLOP/s of one device for MFU (0 = known GPUs' bf16 figure, e.g. 989 for an H100 SXM;
    on CPU or an unknown GPU MFU is not reported unless this is set)."""
    deepspeed_config: str = ""
    """A DeepSpeed JSON merged over the one generated from this section (its keys win, except batch sizes,
    which must agree, and optimizer/scheduler, which are ours). Empty = the generated one only."""
    # -- checkpointing and preemption (kazllm/checkpoint.py) --
    save_every: int = 50
    """Steps between checkpoints (0 = only at the end); a preemption request (SIGUSR1/SIGTERM or a
    <run>/checkpoints/PREEMPT file) also saves, then exits with code 75 for the job script to requeue."""
    keep_last: int = 3
    """Published checkpoints kept in <run>/checkpoints/ (older ones are deleted after each save)."""
    resume: str = "auto"
    """auto: continue from the newest checkpoint whose checksums verify (fresh start when none);
    never: always start at step 0; or a path to a stepN checkpoint directory to start from."""
    wandb: WandbSection = field(default_factory=WandbSection)
    mixture: dict[str, float] = field(default_factory=dict)
    """Sampling weights of the training data by language ("kk") or source ("source:kk_wiki"); {} = natural
    proportions. Every (source, language) group in the shards must be covered (weight 0 leaves one out);
    a group that runs out is repeated (upsampled). See kazllm/data.py."""
    freeze_steps: int = 0
    """Continued pretraining: for the first N steps train only the embedding rows (input and output) of the
    tokens the extended tokenizer added, every other weight frozen; then all weights, with the LR schedule
    warming up again from step N (re-warm-up)."""
    eval_by_language: bool = True
    """Validation loss also per language of the val split (val_loss_kk, val_loss_en, ...), so forgetting of
    the base's languages shows in metrics.jsonl and the loss plot."""
    document_masking: bool = False
    """Reset position_ids at each document start in a packed sequence, so attention stays inside documents
    (the model must be called with use_cache=False for transformers to build the block mask)."""

    def __post_init__(self) -> None:
        # Checked here, before any rank starts: each a one-line ConfigError naming the key (train.<name>).
        if self.nproc < 1:
            raise ValueError(f"nproc must be >= 1 (ranks to launch), got {self.nproc}")
        for name in ("seq_len", "micro_batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive number, got {self.lr}")
        if not 0 <= self.min_lr_ratio <= 1:
            raise ValueError(f"min_lr_ratio must be in [0, 1], got {self.min_lr_ratio}")
        if self.weight_decay < 0 or self.grad_clip < 0 or self.peak_tflops < 0:
            raise ValueError("weight_decay, grad_clip and peak_tflops must be >= 0")
        for key, weight in self.mixture.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                raise ValueError(f"mixture weight of {key!r} must be a number >= 0, got {weight!r}")
        if self.mixture and not any(w > 0 for w in self.mixture.values()):
            raise ValueError("mixture needs at least one positive weight (or {} for natural proportions)")
        if self.zero_stage not in (0, 1, 2, 3):
            raise ValueError(f"zero_stage must be 0..3, got {self.zero_stage}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"precision must be auto, bf16 or fp32, got {self.precision!r}")
        if self.schedule not in ("cosine", "wsd"):
            raise ValueError(f"schedule must be cosine or wsd, got {self.schedule!r}")
        if self.decay_shape not in ("linear", "1-sqrt"):
            raise ValueError(f"decay_shape must be linear or 1-sqrt, got {self.decay_shape!r}")
        if not 0 < self.decay_fraction <= 1:
            raise ValueError(f"decay_fraction must be in (0, 1], got {self.decay_fraction}")
        if self.attn_implementation not in ("sdpa", "flash_attention_2", "eager"):
            raise ValueError(
                "attn_implementation must be sdpa, flash_attention_2 or eager, "
                f"got {self.attn_implementation!r}"
            )
        if self.eval_every < 0 or self.eval_sequences < 1:
            raise ValueError("eval_every must be >= 0 and eval_sequences >= 1")
        if self.steps < 1 or self.warmup_steps < 0 or self.log_every < 1:
            raise ValueError("steps and log_every must be >= 1, warmup_steps >= 0")
        if self.freeze_steps < 0 or self.freeze_steps >= self.steps:
            raise ValueError(
                f"freeze_steps must be in [0, steps), got {self.freeze_steps} with steps={self.steps}"
            )
        if self.save_every < 0:
            raise ValueError(f"save_every must be >= 0 (0 = only at the end), got {self.save_every}")
        if self.keep_last < 1:
            raise ValueError(f"keep_last must be >= 1, got {self.keep_last}")
        if not self.resume:
            raise ValueError("resume must be auto, never or a checkpoint directory")

    # World size is a method argument, not a field: it is train.nproc, a launcher's WORLD_SIZE, or a
    # plan's GPU count, depending on who asks.
    def global_batch(self, world_size: int) -> int:
        """Sequences per optimizer step over all ranks (DeepSpeed's train_batch_size; the loader's
        `consumed` grows by this much each step)."""
        return self.micro_batch_size * self.grad_accum * world_size

    def tokens_per_step(self, world_size: int) -> int:
        """Tokens per optimizer step over all ranks: the global batch of seq_len-token sequences."""
        return self.global_batch(world_size) * self.seq_len


@dataclass
class SlurmSection(SlurmJob):
    """Multi-node training jobs rendered from slurm/train_multinode.sbatch by `kazllm slurm submit`, and the
    single-node jobs of the other stages (slurm/stage.sbatch): a SlurmJob with training's defaults, plus how
    a job runs its ranks."""

    time: str = "48:00:00"
    """Wall-clock limit per attempt (HH:MM:SS or D-HH:MM:SS); the job requeues itself and resumes."""
    cpus_per_task: int = 0
    """CPUs per node task (0 = not requested; a DGX H100 has 112 cores)."""
    mem_per_cpu_gb: int = 0
    """Memory per CPU in GB (0 = not requested: the node's default)."""
    nodes: int = 1
    """Nodes per job; one srun task per node runs torchrun with `procs_per_node` ranks."""
    gpus_per_node: int = 8
    """GPUs requested per node (8 on a DGX H100); 0 for CPU-only nodes (gloo, as in the tests)."""
    procs_per_node: int = 0
    """Ranks per node (0 = gpus_per_node, or 1 on CPU-only nodes). World size = nodes x procs_per_node."""
    signal_seconds: int = 300
    """USR1 goes to the batch script this many seconds before the time limit: time to checkpoint."""
    rdzv_port: int = 29500
    """TCP port of the torchrun c10d rendezvous on the first node."""
    env: dict[str, str] = field(default_factory=dict)
    """Environment variables set in the job after the NCCL/InfiniBand defaults (e.g.
    {NCCL_IB_HCA: mlx5_0})."""
    setup: str = ""
    """Shell lines run before training on the batch host (module load ..., source venv/bin/activate)."""

    def __post_init__(self) -> None:
        if self.nodes < 1:
            raise ValueError(f"nodes must be >= 1, got {self.nodes}")
        if self.gpus_per_node < 0 or self.procs_per_node < 0:
            raise ValueError("gpus_per_node and procs_per_node must be >= 0")
        if self.signal_seconds < 0:
            raise ValueError(f"signal_seconds must be >= 0, got {self.signal_seconds}")


@dataclass
class PlanSection:
    """`kazllm plan`: time, GPU-hours and energy of a run, from FLOPs per token and an MFU figure."""

    tokens: float = 0.0
    """Training tokens (0 = train.steps x tokens per step at the planned world size)."""
    gpus: int = 0
    """GPUs (0 = slurm.nodes x slurm.gpus_per_node)."""
    gpu: str = "h100-sxm"
    """GPU type for the peak bf16 dense TFLOP/s and power: h100-sxm, h200, a100-80gb."""
    peak_tflops: float = 0.0
    """Peak TFLOP/s per GPU (0 = the GPU type's bf16 dense figure, 989 on an H100 SXM)."""
    mfu: float = 0.40
    """Model FLOPs utilisation assumed when no measured metrics are given (0.35-0.45 is typical for 8B)."""
    node_power_kw: float = 0.0
    """Power per node at full load, kW (0 = the GPU type's system figure: DGX H100 max 10.2 kW per 8 GPUs)."""
    pue: float = 1.0
    """Data-centre power usage effectiveness; energy at the wall = IT energy x pue."""

    def __post_init__(self) -> None:
        if not 0 < self.mfu <= 1:
            raise ValueError(f"mfu must be in (0, 1], got {self.mfu}")
        if self.tokens < 0 or self.gpus < 0 or self.peak_tflops < 0 or self.node_power_kw < 0:
            raise ValueError("tokens, gpus, peak_tflops and node_power_kw must be >= 0")
        if self.pue < 1:
            raise ValueError(f"pue must be >= 1, got {self.pue}")


@dataclass
class ExportSection:
    """`kazllm export` and `kazllm push`: the Hugging Face model directory and its model card."""

    model_name: str = "kazllm-model"
    """Name used in the model card (its title, and the repo name in its loading example)."""
    repo_id: str = ""
    """ORG/NAME the model is published as (the card's loading example; `kazllm push --repo` sets it too).
    Empty = kazllm/<model_name>."""
    license: str = ""
    """The model's licence as a Hub licence id (apache-2.0, cc-by-4.0, other, ...). Required for a push.
    Empty = `other`, with a licence note naming the licences of the training data it inherits."""
    dtype: str = "auto"
    """Weights dtype: auto (bf16 when training ran in bf16, i.e. on GPUs; else fp32), bf16 or fp32."""
    max_shard_size: str = "5GB"
    """Safetensors shard size; a larger model is split into shards with model.safetensors.index.json."""
    datasets: list[str] = field(default_factory=list)
    """Hub dataset ids of the training data, for the card's `datasets` metadata (e.g.
    kz-transformers/multidomain-kazakh-dataset)."""
    step: int = 0
    """Checkpoint to export: 0 = the newest that verifies, else that stepN (`kazllm export --step N`)."""

    def __post_init__(self) -> None:
        if self.dtype not in ("auto", "bf16", "fp32"):
            raise ValueError(f"dtype must be auto, bf16 or fp32, got {self.dtype!r}")
        if self.step < 0:
            raise ValueError(f"step must be >= 0, got {self.step}")
        if self.repo_id and not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", self.repo_id):
            raise ValueError(f"repo_id must be ORG/NAME, got {self.repo_id!r}")


@dataclass
class EvalSection:
    model: str = ""
    """Model directory or hub id ORG/NAME to evaluate (empty = this run's export/)."""
    revision: str = ""
    """Hub revision of a hub-id model: a branch, tag or commit sha (empty = main). The commit it resolves
    to is recorded in results.json."""
    trust_remote_code: bool = False
    """Let a hub model run its own Python code (auto_map). Off: kazllm never runs a checkpoint's code
    unasked."""
    tasks: list[str] = field(default_factory=lambda: ["sample_ppl_kk", "sample_mt_kk_en", "sample_qa_kk"])
    """Task names from eval/tasks/*.yaml, or paths to task YAML files."""
    limit: int = 0
    """Items per task (0 = all)."""
    batch_size: int = 8
    """Sequences per forward pass (scoring and generation)."""
    max_new_tokens: int = 0
    """Generation budget per item: 0 = each task's own max_new_tokens (else 48); a positive value
    overrides every task's (e.g. to keep a CPU smoke run short)."""
    device: str = "auto"
    """auto (cuda if available), cpu, cuda or cuda:N."""
    dtype: str = "auto"
    """auto (bf16 on GPU, fp32 on CPU), bf16, fp16 or fp32."""
    seed: int | None = None
    """Seed for few-shot sampling and torch (empty = run.seed)."""

    def __post_init__(self) -> None:
        if self.dtype not in ("auto", "bf16", "fp16", "fp32"):
            raise ValueError(f"dtype must be auto, bf16, fp16 or fp32, got {self.dtype!r}")
        if self.batch_size < 1 or self.limit < 0 or self.max_new_tokens < 0:
            raise ValueError("batch_size must be >= 1, limit and max_new_tokens >= 0")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")


@dataclass
class KazllmConfig:
    run: RunSection = field(default_factory=RunSection)
    prep: PrepSection = field(default_factory=PrepSection)
    tokenizer: TokenizerSection = field(default_factory=TokenizerSection)
    pretokenize: PretokenizeSection = field(default_factory=PretokenizeSection)
    model: ModelSection = field(default_factory=ModelSection)
    train: TrainSection = field(default_factory=TrainSection)
    slurm: SlurmSection = field(default_factory=SlurmSection)
    plan: PlanSection = field(default_factory=PlanSection)
    export: ExportSection = field(default_factory=ExportSection)
    eval: EvalSection = field(default_factory=EvalSection)

    # -- the run layout: data flows one way, each stage reading the previous stage's directory ----------
    @property
    def out_dir(self) -> Path:
        """run.out_dir as an absolute path: a relative one is relative to the current directory (where the
        command runs), unlike input paths, which are relative to the repository root (resolve_path)."""
        return Path(self.run.out_dir).expanduser().absolute()

    def stage_dir(self, stage: str) -> Path:
        """prep, tokenizer, shards, checkpoints, export or eval under the run directory."""
        return self.out_dir / stage


def resolve_path(path: str | Path) -> Path:
    """Relative input paths in configs (sources, eval sets, DeepSpeed JSON) are relative to the repository
    root in a checkout, so its configs work from any cwd; in an installed package (no checkout around it)
    to the current directory. run.out_dir is relative to the current directory: see KazllmConfig.out_dir."""
    p = Path(path).expanduser()
    return p if p.is_absolute() else (config_base() / p)


def config_base() -> Path:
    """The directory relative input paths start from (resolve_path)."""
    return REPO_ROOT if (REPO_ROOT / "pyproject.toml").is_file() else Path.cwd()


# ---------------------------------------------------------------------------------------------------
# Loading: dict -> typed tree with errors that name the key and the source.
# ---------------------------------------------------------------------------------------------------


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp: Any, key: str, source: str) -> Any:
    """Check `value` against the annotation `tp`; build nested dataclasses. Ints are accepted as floats."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' must be a mapping of {tp.__name__} fields, got {value!r}")
        return build_dataclass(tp, value, source, prefix=key + ".")
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key, source)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0])
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{source}: '{key}' must be a list, got {type(value).__name__} {value!r}")
        return [_coerce(v, item_tp, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: '{key}' must be a mapping, got {type(value).__name__} {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is bool and not isinstance(value, bool):
        raise ConfigError(f"{source}: '{key}' must be true or false, got {value!r}")
    if tp is int and isinstance(value, bool):
        raise ConfigError(f"{source}: '{key}' must be an integer, got {value!r}")
    if not isinstance(value, tp):
        raise ConfigError(f"{source}: '{key}' must be {_type_name(tp)}, got {type(value).__name__} {value!r}")
    return value


RENAMED_KEYS: dict[str, str] = {
    # prep.executor's own Slurm fields became one SlurmJob, the job description training's `slurm:` extends
    f"prep.executor.slurm_{name}": f"prep.executor.slurm.{name}"
    for name in ("partition", "time", "cpus_per_task", "mem_per_cpu_gb", "sbatch_args")
}
"""Keys that configs written by an earlier kazllm hold -> where they live now: they still load (in a YAML
file or on the command line), with a one-line notice on stderr."""


def _new_spelling(dotted: str, source: str) -> str:
    """`dotted` as the tree spells it now, with the notice when it was renamed."""
    new = RENAMED_KEYS.get(dotted)
    if new is None:
        return dotted
    print(
        f"warning: {source}: config key '{dotted}' is now '{new}' (the old spelling still loads; rename it)",
        file=sys.stderr,
        flush=True,
    )
    return new


def _move_renamed_keys(data: dict, source: str, prefix: str) -> dict:
    """`data` (the mapping under `prefix`) with its renamed keys moved to their new place."""
    old = [key for key in data if f"{prefix}{key}" in RENAMED_KEYS]
    if not old:
        return data
    moved = {key: value for key, value in data.items() if key not in old}
    for key in old:
        new = _new_spelling(f"{prefix}{key}", source)
        *parents, leaf = new.removeprefix(prefix).split(".")
        node = moved
        for part in parents:
            child = node.get(part, {})
            if not isinstance(child, dict):
                raise ConfigError(
                    f"{source}: '{prefix}{part}' must be a mapping (it holds '{new}'), got {child!r}"
                )
            node[part] = dict(child)  # a copy: the caller's mapping stays as it was read
            node = node[part]
        if leaf in node:
            raise ConfigError(f"{source}: '{prefix}{key}' and '{new}' are the same key: keep '{new}'")
        node[leaf] = data[key]
    return moved


def build_dataclass(cls: type, data: dict, source: str, prefix: str = "") -> Any:
    """Build `cls` from `data`, refusing unknown keys and mistyped values (renamed keys are moved)."""
    data = _move_renamed_keys(data, source, prefix)
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in hints:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else f" (known keys: {', '.join(names)})"
            raise ConfigError(f"{source}: unknown config key '{prefix}{key}'{hint}")
        kwargs[key] = _coerce(value, hints[key], prefix + key, source)
    try:
        return cls(**kwargs)
    except ValueError as e:  # __post_init__ value checks
        raise ConfigError(
            f"{source}: invalid value under '{prefix.rstrip('.') or cls.__name__}': {e}"
        ) from None


def _set_dotted(tree: dict, dotted: str, value: Any) -> None:
    node = tree
    parts = dotted.split(".")
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"command line: cannot set '{dotted}': '{part}' is not a section")
        node = child
    node[parts[-1]] = value


def parse_override(text: str) -> tuple[str, Any]:
    """``train.lr=3e-4`` -> ("train.lr", 0.0003). Values are parsed as YAML scalars/lists."""
    if "=" not in text:
        raise ConfigError(f"command line: override '{text}' must look like key.sub=value")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw != "" else ""
    except yaml.YAMLError:
        value = raw
    # YAML reads 3e-4 as a string (no dot); accept it as the float people mean.
    if isinstance(value, str):
        try:
            value = float(value) if any(c in value for c in "eE") and value[0] in "0123456789.-+" else value
        except ValueError:
            pass
    return key.strip(), value


def read_yaml_mapping(path: Path, not_a_mapping: str) -> dict:
    """A YAML file whose top level is a mapping; errors name the file (run, task and preset files alike)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: {not_a_mapping}")
    return data


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> KazllmConfig:
    """Defaults -> YAML file -> overrides, into a typed :class:`KazllmConfig`."""
    data: dict = {}
    source = "defaults"
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"config file not found: {path}")
        data = read_yaml_mapping(path, "the top level must be a mapping of sections")
        source = str(path)
    cfg = build_dataclass(KazllmConfig, data, source)
    if overrides:
        tree = dataclasses.asdict(cfg)
        for text in overrides:
            key, value = parse_override(text)
            key = _new_spelling(key, "command line")
            _check_key_exists(tree, key)
            _set_dotted(tree, key, value)
        cfg = build_dataclass(KazllmConfig, tree, "command line")
    return cfg


def _check_key_exists(tree: dict, dotted: str) -> None:
    node: Any = tree
    walked = []
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
            walked.append(part)
            continue
        if isinstance(node, dict) and walked == ["model", "overrides"]:
            return  # free-form LlamaConfig fields
        known = list(node) if isinstance(node, dict) else []
        close = difflib.get_close_matches(part, known, n=1)
        hint = f" (did you mean '{'.'.join(walked + [close[0]])}'?)" if close else ""
        raise ConfigError(f"command line: unknown config key '{dotted}'{hint}")


def config_to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)
