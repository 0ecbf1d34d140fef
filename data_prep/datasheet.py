"""The datasheet of a prep run: prep/datasheet.md + prep/datasheet.json.

The training-data summary that the model card cites: sources and licences, documents, bytes and
estimated tokens in and out per source and language, reject reasons, normalisation repairs, the
de-personalisation policy of each source with what it masked (per kind, per source) and near-duplicate
clusters, and documents in / kept / rejected per pipeline stage. Built from the files on disk (kept/,
rejected/ and the stages' datatrove stats), like stats.json.
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
    rows = [
        {**row, "estimated_tokens_kept": int(row["bytes_kept"] / BYTES_PER_TOKEN_ESTIMATE)}
        for row in stats["volume"]
    ]
    sources = [
        {
            "name": s.name or Path(s.path).name,
            "path": s.path,
            "format": s.format,
            "licence": s.licence or "unknown",
            "pii": _pii_settings(cfg, s),
        }
        for s in cfg.prep.inputs
    ]
    pii_by_source = {
        src: {"policy": row.get("pii_policy", "unknown"), "masked": row.get("pii_masked", {})}
        for src, row in stats["by_source"].items()
    }
    sheet = {
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "sources": sources,
        "volume": rows,
        "totals": {
            "documents_in": stats["documents_in"],
            "documents_kept": stats["documents_kept"],
            "bytes_kept": sum(r["bytes_kept"] for r in rows),
            "estimated_tokens_kept": sum(r["estimated_tokens_kept"] for r in rows),
        },
        "rejected_by_reason": stats["rejected_by_reason"],
        "stages": {
            name: {k: row[k] for k in ("in", "kept", "rejected")}
            for name, row in stats.get("stages", {}).items()
        },
        "normalisation_repairs_in_kept": stats["normalisation_repairs_in_kept"],
        "foreign_lines_removed_from_kept": stats["foreign_lines_removed_from_kept"],
        "pii_masked": stats["pii_masked"],
        "pii_masked_by_source": pii_by_source,
        "near_duplicate_clusters": stats["near_duplicate_clusters"],
        "bytes_per_token_estimate": BYTES_PER_TOKEN_ESTIMATE,
    }
    write_json(prep_dir / "datasheet.json", sheet)
    (prep_dir / "datasheet.md").write_text(render_datasheet(sheet), encoding="utf-8")
    return sheet


def _pii_settings(cfg: KazllmConfig, source) -> dict:
    """A source's de-personalisation as applied: its policy, pseudonyms, and how many names it may keep."""
    from data_prep.deidentify import read_allow_list

    p, policy = source.pii, cfg.prep.pii_policy(source)
    full = policy == "full"
    return {
        "policy": policy,
        "pseudonymise": full and p.pseudonymise,
        "allow_list_names": len(read_allow_list(p.allow, p.allow_files)) if full else 0,
        "allow_files": list(p.allow_files) if full else [],
    }


def describe_pii(pii: dict) -> str:
    """`full (pseudonyms; 12 names allowed)` for a source's datasheet pii settings."""
    extra = ["pseudonyms"] if pii.get("pseudonymise") else []
    if pii.get("allow_list_names"):
        n = pii["allow_list_names"]
        extra.append(f"{n} name{'s' * (n != 1)} allowed")
    return pii["policy"] + (f" ({'; '.join(extra)})" if extra else "")


def _pii_lines(sheet: dict) -> list[str]:
    by_source = sheet.get("pii_masked_by_source") or {}
    return [
        "| source | policy | masked |",
        "|---|---|---|",
        *[
            f"| {src} | {row['policy']} | "
            f"{', '.join(f'{k}: {v}' for k, v in row['masked'].items()) or 'none'} |"
            for src, row in by_source.items()
        ],
    ]


def render_datasheet(sheet: dict) -> str:
    t = sheet["totals"]
    lines = [
        "# Datasheet: kazllm prep run",
        "",
        f"Created {sheet['created']}. {t['documents_kept']} of {t['documents_in']} documents kept, "
        f"{t['bytes_kept'] / 1e6:.2f} MB, about {t['estimated_tokens_kept']:,} tokens "
        f"(estimate at {sheet['bytes_per_token_estimate']} bytes/token; "
        "exact counts in shards/manifest.json).",
        "",
        "## Sources",
        "",
        "| source | format | licence | PII policy | path |",
        "|---|---|---|---|---|",
        *[
            f"| {s['name']} | {s['format']} | {s['licence']} | {describe_pii(s['pii'])} | `{s['path']}` |"
            for s in sheet["sources"]
        ],
        "",
        "PII policy (docs/pii.md): full = identifiers and person names masked, identifiers = IIN/BIN, "
        "phones, e-mails, IBANs, cards, IPs and the like masked, names kept, none = nothing masked.",
        "",
        "## Volume by source and language",
        "",
        "| source | language | docs in | docs kept | MB in | MB kept | est. tokens kept |",
        "|---|---|---|---|---|---|---|",
        *[
            f"| {r['source']} | {r['language']} | {r['documents_in']} | {r['documents_kept']} "
            f"| {r['bytes_in'] / 1e6:.3f} | {r['bytes_kept'] / 1e6:.3f} | {r['estimated_tokens_kept']:,} |"
            for r in sheet["volume"]
        ],
        "",
        "## Rejected, by reason",
        "",
        "| reason | documents |",
        "|---|---|",
        *[f"| {k} | {v} |" for k, v in sheet["rejected_by_reason"].items()],
        "",
        "## Documents per stage (in = kept + rejected)",
        "",
        "| stage | in | kept | rejected |",
        "|---|---|---|---|",
        *[
            f"| {name} | {row['in']} | {row['kept']} | {row['rejected']} |"
            for name, row in sheet.get("stages", {}).items()
        ],
        "",
        "## Personal data masked (in kept documents)",
        "",
        "All sources: " + (", ".join(f"{k}: {v}" for k, v in sheet["pii_masked"].items()) or "none") + ".",
        "",
        *_pii_lines(sheet),
        "",
        "## Normalisation repairs (in kept documents)",
        "",
        ", ".join(f"{k}: {v}" for k, v in sheet["normalisation_repairs_in_kept"].items()) or "none",
        "",
        "## Lines in other languages removed from kept documents",
        "",
        ", ".join(f"{k}: {v}" for k, v in sheet["foreign_lines_removed_from_kept"].items()) or "none",
        "",
        "## Near-duplicate clusters (kept representative: cluster size -> count)",
        "",
        ", ".join(f"size {k}: {v}" for k, v in sheet["near_duplicate_clusters"].items()) or "none",
        "",
    ]
    return "\n".join(lines)
