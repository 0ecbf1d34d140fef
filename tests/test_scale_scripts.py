"""The corpus-scale tools, at a size a test can afford: the generator is seeded and plants what it says,
and the benchmark runs the whole flow on both sides and prints its verdict lines.

The source text is the bundled sample corpus (data/sample), written as the one-sentence-a-line kk.txt the
generator reads; the real runs use ../shared/data/text_mix (docs/scaling.md)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from scripts.make_scale_corpus import Shares, generate, jaccard, shingles  # noqa: E402


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """kk.txt (and ru/en for foreign junk) from the bundled sample: one sentence a line."""
    folder = tmp_path_factory.mktemp("source")
    texts = []
    for f in sorted((REPO / "data/sample/corpus/jsonl").glob("*.jsonl")):
        for line in f.open(encoding="utf-8", errors="replace"):
            # the sample holds a few broken records on purpose (the readers' quarantine is tested on them)
            try:
                texts.append(json.loads(line)["text"])
            except (ValueError, KeyError, TypeError):
                pass
    sentences = [s.strip() for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s.split()) >= 6]
    (folder / "kk.txt").write_text("\n".join(sentences) + "\n", encoding="utf-8")
    (folder / "ru.txt").write_text(
        "Это предложение написано по-русски для проверки генератора корпуса.\n" * 3, encoding="utf-8"
    )
    return folder


def test_the_corpus_is_seeded_and_plants_what_its_truth_file_says(source, tmp_path):
    shares = Shares(exact_dups=0.1, near_dups=0.1, pii=0.1, junk=0.1, jaccard=(0.9, 0.8))
    a = generate(tmp_path / "a", 0.002, seed=3, shares=shares, shard_mb=1, data=source, progress=False)
    generate(tmp_path / "b", 0.002, seed=3, shares=shares, shard_mb=1, data=source, progress=False)
    for name in ("corpus/part_00000.jsonl", "truth.jsonl"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert a["text_bytes"] >= 2_000_000 and a["shards"] >= 2
    docs = {
        json.loads(line)["id"]: json.loads(line)["text"]
        for f in sorted((tmp_path / "a" / "corpus").glob("*.jsonl"))
        for line in f.open(encoding="utf-8")
    }
    assert len(docs) == a["documents"]
    truth = [json.loads(line) for line in (tmp_path / "a" / "truth.jsonl").open(encoding="utf-8")]
    kinds = {t["kind"].split(":")[0] for t in truth}
    assert kinds == {"exact_dup", "near_dup", "pii", "junk"}
    for t in truth:
        if t["kind"] == "exact_dup":
            assert docs[t["id"]] == docs[t["of"]]
        if t["kind"] == "near_dup":
            assert jaccard(shingles(docs[t["id"]]), shingles(docs[t["of"]])) == pytest.approx(
                t["jaccard"], abs=1e-4
            )
            assert t["jaccard"] < 1.0
    plain = [text for i, text in docs.items() if i not in {t["id"] for t in truth}]
    assert len(set(plain)) == len(plain)  # recombined documents are all distinct


@pytest.mark.slow
def test_the_scale_benchmark_runs_both_sides_and_prints_its_verdicts(source, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "scripts/bench_scale.py",
            "--sizes",
            "0.001,0.002",
            "--work",
            str(tmp_path),
            "--data",
            str(source),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    lines = out.stdout.strip().splitlines()
    assert re.fullmatch(r"linearity \d+\.\d{3}", lines[-2]) and re.fullmatch(r"ratio \d+\.\d{3}", lines[-1])
    results = json.loads((tmp_path / "results.json").read_text())
    assert [r["size_gb"] for r in results] == [0.001, 0.002]
    for r in results:
        assert r["kazllm"]["prep"]["documents_kept"] > 0 and r["kazllm"]["prep"]["peak_rss_mb"] > 0
        assert set(r["datatrove"]["stages"]) >= {"1_filter", "5_minhash_filter"}
        assert r["dedup"]["near_pairs"] > 0
    # the curves of docs/scaling.md are drawn from the same results.json
    plotted = subprocess.run(
        [
            sys.executable,
            "scripts/plot_scale.py",
            "--results",
            str(tmp_path / "results.json"),
            "--out",
            str(tmp_path / "scale.png"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert plotted.returncode == 0, plotted.stderr[-2000:]
    assert (tmp_path / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
