"""`kazllm quickstart`: the whole flow on the bundled Kazakh sample, then a summary table.

    prep -> tokenizer train -> pretokenize -> train (DeepSpeed, 2 CPU ranks) -> export -> eval

Each stage is the same code its own subcommand runs; this module only strings them together.
"""

from __future__ import annotations

import textwrap
import time

from kazllm.artifacts import read_json, read_metrics, write_json
from kazllm.cli.common import add_stage, load_run_config, print_dry_run
from kazllm.cli.prep import prep_reads
from kazllm.config import KazllmConfig

QUICKSTART_CONFIG = "configs/quickstart.yaml"
STAGES = ("prep", "tokenizer", "shards", "checkpoints", "export", "eval")
"""The stage directories the quickstart writes under run.out_dir, in order."""


def cmd_quickstart(args):
    cfg = load_run_config(args)
    if args.dry_run:
        bases = [x for x in (cfg.tokenizer.extend_base, cfg.model.init_from) if x]  # continued pretraining
        print_dry_run(
            "kazllm quickstart",
            reads=[*prep_reads(cfg), *bases],
            writes=[*(cfg.stage_dir(s) for s in STAGES), cfg.out_dir / "summary.json"],
            sources=len(cfg.prep.inputs),
            vocab_size=cfg.tokenizer.vocab_size,
            model=cfg.model.init_from or cfg.model.preset or "debug-tiny",
            ranks=cfg.train.nproc,
            steps=cfg.train.steps,
            eval_tasks=list(cfg.eval.tasks),
            eval_limit=cfg.eval.limit,
        )
        return
    run_quickstart(cfg)


def add_quickstart_parser(sub) -> None:
    add_stage(
        sub,
        "quickstart",
        cmd_quickstart,
        "run the whole flow on the bundled Kazakh sample",
        "prep -> tokenizer train -> pretokenize -> train (2 ranks, DeepSpeed) -> export -> eval\n"
        "on data/sample/, into runs/quickstart/, then print a summary table.",
        default_config=QUICKSTART_CONFIG,
    )


def _stage(name: str):
    print(f"\n=== {name} " + "=" * (60 - len(name)), flush=True)
    return time.perf_counter()


def run_quickstart(cfg: KazllmConfig) -> dict:
    """Every stage on `cfg`, in order, each timed; prints the summary table and returns the summary (also
    written to <run>/summary.json)."""
    from data_prep.pipeline import run_prep
    from data_prep.pretokenize import run_pretokenize
    from data_prep.tokenizer import run_tokenizer_train
    from eval.runner import headline_metrics, run_eval
    from kazllm.export import run_export
    from kazllm.model_card import update_model_card
    from kazllm.train import launch_training

    timings: dict[str, float] = {}
    t0 = _stage("prep")
    prep = run_prep(cfg)
    timings["prep"] = time.perf_counter() - t0
    print(f"{prep['documents_in']} in, {prep['documents_kept']} kept; rejected {prep['rejected_by_reason']}")

    t0 = _stage("tokenizer train")
    tok = run_tokenizer_train(cfg)
    timings["tokenizer"] = time.perf_counter() - t0
    print(f"vocab {tok['vocab_size']}, Kazakh tokens/word {tok['kk_tokens_per_word']}, parity OK")

    t0 = _stage("pretokenize")
    shards = run_pretokenize(cfg)
    timings["pretokenize"] = time.perf_counter() - t0

    t0 = _stage(f"train ({cfg.train.nproc} ranks, ZeRO-{cfg.train.zero_stage})")
    launch_training(cfg)
    timings["train"] = time.perf_counter() - t0
    train = read_json(cfg.stage_dir("checkpoints") / "manifest.json")["summary"]

    t0 = _stage("export")
    run_export(cfg)
    timings["export"] = time.perf_counter() - t0

    t0 = _stage("eval")
    # The quickstart evaluates the model it just exported, whatever eval.model says.
    results = run_eval(cfg, model=str(cfg.stage_dir("export")))
    timings["eval"] = time.perf_counter() - t0
    scores = headline_metrics(results)
    update_model_card(cfg.stage_dir("export"), results)  # the card's model-index = eval/results.json

    summary = {
        "documents_in": prep["documents_in"],
        "documents_kept": prep["documents_kept"],
        "rejected_by_reason": prep["rejected_by_reason"],
        "pii_masked": prep["pii_masked"],
        "vocab_size": tok["vocab_size"],
        "kk_tokens_per_word": tok["kk_tokens_per_word"],
        "train_tokens": shards["splits"]["train"]["tokens"],
        "val_tokens": shards["splits"]["val"]["tokens"],
        "first_loss": train["first_loss"],
        "last_loss": train["last_loss"],
        "val_loss": train["val_loss"],
        "val_loss_by_language": validation_by_language(cfg),
        "eval": scores,
        "model_dir": str(cfg.stage_dir("export")),
        "seconds": {k: round(v, 1) for k, v in timings.items()},
    }
    if tok.get("extended_from"):  # continued pretraining: say what was extended and from how much
        summary["extended_from"] = tok["extended_from"]["source"]
        summary["kk_tokens_per_word_base"] = tok["kk_tokens_per_word_base"]
    write_json(cfg.out_dir / "summary.json", summary)
    print(render_summary(summary))
    return summary


def validation_by_language(cfg: KazllmConfig) -> dict[str, list[float]]:
    """First and last validation loss per language (val_loss_<lang> in metrics.jsonl), when measured."""
    rows = [r for r in read_metrics(cfg.stage_dir("checkpoints") / "metrics.jsonl") if "val_loss" in r]
    langs = sorted({k.removeprefix("val_loss_") for r in rows for k in r if k.startswith("val_loss_")})
    out = {}
    for lang in langs:
        values = [r[f"val_loss_{lang}"] for r in rows if f"val_loss_{lang}" in r]
        out[lang] = [values[0], values[-1]]
    return out


def render_summary(s: dict) -> str:
    tpw = f"{s['kk_tokens_per_word']:.2f}"
    if s.get("extended_from"):
        tpw = f"{s['kk_tokens_per_word_base']:.2f} (base) -> {tpw} (extended {s['extended_from']})"
    rows = [
        ("documents in / kept", f"{s['documents_in']} / {s['documents_kept']}"),
        ("rejected by reason", ", ".join(f"{k} {v}" for k, v in s["rejected_by_reason"].items())),
        ("PII masked", ", ".join(f"{k} {v}" for k, v in s["pii_masked"].items()) or "none"),
        ("vocab size", str(s["vocab_size"])),
        ("Kazakh tokens per word", tpw),
        ("tokens train / val", f"{s['train_tokens']} / {s['val_tokens']}"),
        ("loss first -> last", f"{s['first_loss']:.3f} -> {s['last_loss']:.3f}"),
        ("validation loss", f"{s['val_loss']:.3f}" if s["val_loss"] is not None else "n/a"),
    ]
    for lang, (first, last) in (s.get("val_loss_by_language") or {}).items():
        rows.append((f"validation loss {lang}", f"{first:.3f} -> {last:.3f} (first -> last validation)"))
    for task, metrics in s["eval"].items():
        rows.append((f"eval {task}", ", ".join(f"{k} {v:.3f}" for k, v in metrics.items())))
    rows.append(("time (s)", ", ".join(f"{k} {v}" for k, v in s["seconds"].items())))
    rows.append(("model", s["model_dir"]))
    width, value_width = max(len(k) for k, _ in rows), 64
    line = "+" + "-" * (width + 2) + "+" + "-" * (value_width + 2) + "+"
    out = ["", "kazllm quickstart summary", line]
    for key, value in rows:  # long values wrap onto continuation lines instead of being cut
        for i, part in enumerate(textwrap.wrap(value, value_width, break_on_hyphens=False) or [""]):
            out.append(f"| {key if i == 0 else '':<{width}} | {part:<{value_width}} |")
    out.append(line)
    return "\n".join(out)
