"""The datasheet of a prep run: prep/datasheet.md + prep/datasheet.json.

The training-data summary that the model card cites: sources and licences, documents, bytes and
estimated tokens in and out per source and language, reject reasons, normalisation repairs, PII
counts and near-duplicate clusters. Built from the files on disk (kept/ and rejected/), like stats.json.
"""

from __future__ import annotations

import time
from pathlib import Path

from kazllm.artifacts import write_json
from kazllm.config import KazllmConfig

# Bytes per token of a Llama-style tokenizer on Cyrillic text is ~4; the real count comes from
# `kazllm pretokenize` (shards/manifest.json). This is only the planning estimate.
BYTES_PER_TOKEN_ESTIMATE = 4.0


def write_datasheet(cfg: KazllmConfig, prep_dir: Path, stats: dict) -> dict:
    # stats["volume"] was counted while summarize() read kept/ and rejected/: no second pass here.
    rows = [{**row, "estimated_tokens_kept": int(row["bytes_kept"] / BYTES_PER_TOKEN_ESTIMATE)} for row in stats["volume"]]
    sources = [{"name": s.name or Path(s.path).name, "path": s.path, "format": s.format, "licence": s.licence or "unknown"}
               for s in cfg.prep.inputs]
    sheet = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sources": sources,
        "volume": rows,
        "totals": {"documents_in": stats["documents_in"], "documents_kept": stats["documents_kept"],
                   "bytes_kept": sum(r["bytes_kept"] for r in rows),
                   "estimated_tokens_kept": sum(r["estimated_tokens_kept"] for r in rows)},
        "rejected_by_reason": stats["rejected_by_reason"],
        "normalisation_repairs_in_kept": stats["normalisation_repairs_in_kept"],
        "foreign_lines_removed_from_kept": stats["foreign_lines_removed_from_kept"],
        "pii_masked": stats["pii_masked"],
        "near_duplicate_clusters": stats["near_duplicate_clusters"],
        "bytes_per_token_estimate": BYTES_PER_TOKEN_ESTIMATE,
    }
    write_json(prep_dir / "datasheet.json", sheet)
    (prep_dir / "datasheet.md").write_text(render_datasheet(sheet), encoding="utf-8")
    return sheet


def render_datasheet(sheet: dict) -> str:
    t = sheet["totals"]
    lines = [
        "# Datasheet: kazllm prep run", "",
        f"Created {sheet['created']}. {t['documents_kept']} of {t['documents_in']} documents kept, "
        f"{t['bytes_kept'] / 1e6:.2f} MB, about {t['estimated_tokens_kept']:,} tokens "
        f"(estimate at {sheet['bytes_per_token_estimate']} bytes/token; exact counts in shards/manifest.json).", "",
        "## Sources", "", "| source | format | licence | path |", "|---|---|---|---|",
        *[f"| {s['name']} | {s['format']} | {s['licence']} | `{s['path']}` |" for s in sheet["sources"]], "",
        "## Volume by source and language", "",
        "| source | language | docs in | docs kept | MB in | MB kept | est. tokens kept |", "|---|---|---|---|---|---|---|",
        *[f"| {r['source']} | {r['language']} | {r['documents_in']} | {r['documents_kept']} | {r['bytes_in'] / 1e6:.3f} "
          f"| {r['bytes_kept'] / 1e6:.3f} | {r['estimated_tokens_kept']:,} |" for r in sheet["volume"]], "",
        "## Rejected, by reason", "", "| reason | documents |", "|---|---|",
        *[f"| {k} | {v} |" for k, v in sheet["rejected_by_reason"].items()], "",
        "## Personal data masked (in kept documents)", "",
        ", ".join(f"{k}: {v}" for k, v in sheet["pii_masked"].items()) or "none", "",
        "## Normalisation repairs (in kept documents)", "",
        ", ".join(f"{k}: {v}" for k, v in sheet["normalisation_repairs_in_kept"].items()) or "none", "",
        "## Lines in other languages removed from kept documents", "",
        ", ".join(f"{k}: {v}" for k, v in sheet["foreign_lines_removed_from_kept"].items()) or "none", "",
        "## Near-duplicate clusters (kept representative: cluster size -> count)", "",
        ", ".join(f"size {k}: {v}" for k, v in sheet["near_duplicate_clusters"].items()) or "none", "",
    ]
    return "\n".join(lines)
