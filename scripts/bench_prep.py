"""Benchmark: kazllm's per-document prep stage vs datatrove's stock filter steps, same documents, same cores.

    python scripts/bench_prep.py [--docs 4000] [--tasks 2]

Documents: real Kazakh, Russian and English text from ../shared/data/text_mix (20 lines per document).
- reference: datatrove's stock GopherRepetitionFilter + GopherQualityFilter + FineWebQualityFilter at
  FineWeb-2's kaz_Cyrl thresholds. datatrove's own Kazakh word tokenizer (Stanza) downloads a model at
  run time and cannot run offline, so the stock steps are given kazllm's Kazakh word tokenizer.
- ours: kazllm's whole filter stage: read -> normalise -> language ID (kk/ky/tt/ba/ru/...) -> quality
  (three Kazakh-tuned filters + boilerplate) -> PII masking, i.e. more work per document. `--pii-policy full`
  adds person names (data_prep/pii_names.py) to the identifiers on every kept document.
Both read the same JSONL with the same reader and write kept documents as JSONL, with datatrove's
LocalPipelineExecutor, `--tasks` tasks on as many worker processes; each side runs `--repeats` times,
interleaved, and its best time counts. Prints docs/s and MB/s per core for both, then
`ratio <ours/reference throughput>` as the last line.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data" / "text_mix"  # --data overrides
sys.path.insert(0, str(REPO))

# FineWeb-2 kaz_Cyrl thresholds (datatrove examples/fineweb-2 configs).
KAZ = dict(
    line_punct_thr=0.176,
    dup_line_frac=0.304,
    new_line_ratio=0.186,
    min_avg_word_length=3,
    max_avg_word_length=12,
    max_non_alpha_words_ratio=0.694,
)


def make_documents(n_docs: int, out: Path, data: Path = SHARED) -> int:
    """Interleave kk/ru/en documents of 20 lines each; returns total bytes."""
    sources = {
        lang: (data / f"{lang}.txt").read_text(encoding="utf-8").split("\n") for lang in ("kk", "ru", "en")
    }
    total, rows, i = 0, [], 0
    while len(rows) < n_docs:
        for lang, weight in (("kk", 6), ("ru", 2), ("en", 2)):
            lines = sources[lang]
            for _ in range(weight):
                start = (i * 20) % max(1, len(lines) - 20)
                text = "\n".join(lines[start : start + 20])
                rows.append(json.dumps({"id": f"{lang}-{i}", "text": text}, ensure_ascii=False))
                total += len(text.encode("utf-8"))
                i += 1
    out.write_text("\n".join(rows[:n_docs]) + "\n", encoding="utf-8")
    return total


def reference_pipeline(src: Path, out: Path):
    from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter

    from data_prep.kk_words import KazakhWordTokenizer
    from data_prep.quality import KAZAKH_STOP_WORDS

    tok = KazakhWordTokenizer()
    return [
        JsonlReader(str(src)),
        GopherRepetitionFilter(dup_line_frac=KAZ["dup_line_frac"], language=tok),
        GopherQualityFilter(
            min_avg_word_length=KAZ["min_avg_word_length"],
            max_avg_word_length=KAZ["max_avg_word_length"],
            max_non_alpha_words_ratio=KAZ["max_non_alpha_words_ratio"],
            stop_words=list(KAZAKH_STOP_WORDS),
            language=tok,
        ),
        FineWebQualityFilter(
            line_punct_thr=KAZ["line_punct_thr"], new_line_ratio=KAZ["new_line_ratio"], language=tok
        ),
        JsonlWriter(str(out), output_filename="${rank}.jsonl", compression=None),
    ]


def our_pipeline(src: Path, out: Path, run_dir: Path, pii_policy: str = "identifiers"):
    from data_prep.pipeline import filter_stage
    from kazllm.config import load_config

    cfg = load_config(
        None,
        [
            f"run.out_dir={run_dir}",
            f"prep.inputs=[{{path: {src}, format: jsonl, name: bench, pii: {{policy: {pii_policy}}}}}]",
        ],
    )
    return filter_stage(cfg, cfg.stage_dir("prep"), out)


def timed(pipeline, tasks: int, logs: Path) -> float:
    from datatrove.executor import LocalPipelineExecutor

    start = time.perf_counter()
    LocalPipelineExecutor(
        pipeline=pipeline, tasks=tasks, workers=tasks, logging_dir=str(logs), skip_completed=False
    ).run()
    return time.perf_counter() - start


def count_lines(folder: Path) -> int:
    return sum(sum(1 for _ in f.open(encoding="utf-8")) for f in folder.glob("*.jsonl"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=8000)
    parser.add_argument("--tasks", type=int, default=2, help="tasks = worker processes = cores used")
    parser.add_argument("--data", type=Path, default=SHARED, help="folder with kk.txt, ru.txt, en.txt")
    parser.add_argument(
        "--repeats", type=int, default=3, help="runs per side, interleaved; the best time counts"
    )
    parser.add_argument(
        "--pii-policy",
        default="identifiers",
        choices=("identifiers", "full"),
        help="kazllm's PII policy for every document (full adds the person-name tagger)",
    )
    args = parser.parse_args()
    if not args.data.is_dir():
        sys.exit(f"needs {args.data} (the shared text_mix corpus; see --data)")
    work = Path(tempfile.mkdtemp(prefix="bench_prep_"))
    try:
        src = work / "src"
        src.mkdir()
        # One file per task so both pipelines split the work the same way.
        total_bytes = 0
        for t in range(args.tasks):
            total_bytes += make_documents(args.docs // args.tasks, src / f"part_{t}.jsonl", args.data)
        mb = total_bytes / 1e6
        results: dict[str, tuple[float, int]] = {}
        for repeat in range(args.repeats):  # interleaved, so a noisy moment hits both sides alike
            for name, build in (
                ("datatrove stock", lambda o: reference_pipeline(src, o)),
                ("kazllm", lambda o: our_pipeline(src, o, o.with_name(o.name + "_run"), args.pii_policy)),
            ):
                out = work / f"{name.replace(' ', '_')}_{repeat}"
                seconds = timed(build(out), args.tasks, work / f"logs_{out.name}")
                best = results.get(name, (float("inf"), 0))[0]
                results[name] = (min(best, seconds), count_lines(out))
        for name, (seconds, kept) in results.items():
            print(
                f"{name:16s} {args.docs / seconds:9.0f} docs/s  {mb / seconds / args.tasks:6.2f} MB/s/core  "
                f"kept {kept}/{args.docs}  ({seconds:.2f} s, {args.tasks} cores, {mb:.1f} MB)"
            )
        print(f"ratio {results['datatrove stock'][0] / results['kazllm'][0]:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
