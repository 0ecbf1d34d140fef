"""The prep engine: global dedup across tasks, decontamination, resume after a kill, writers that survive
lone surrogates, one console line per stage (datatrove's logging in files, or with -v), Slurm rendering and
a real Slurm run ending in its stats job, the datasheet and the line tools."""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
from datatrove.data import Document
from datatrove.pipeline.writers import JsonlWriter

from data_prep.pipeline import PrepJsonlWriter, run_prep
from kazllm.config import load_config
from kazllm.errors import InputError

from .conftest import REPO, run_kazllm

KK = [
    "Алматы — Қазақстанның ең ірі қаласы, ол Іле Алатауының етегінде орналасқан. Қалада көптеген "
    "университет, театр мен мұражай бар. Көктемде алма ағаштары гүлдеп, көшелер ерекше әдемі болады.",
    "Наурыз мейрамы көктемнің келуін білдіреді. Бұл күні адамдар наурыз көже әзірлеп, бір-біріне жақсы тілек "
    "айтады. Ауылдар мен қалаларда ойын-сауық, айтыс және ұлттық ойындар өтеді.",
    "Домбыра — қазақтың екі ішекті музыкалық аспабы. Күйшілер домбырамен халықтың тарихын, қуанышы мен "
    "қайғысын жеткізген. Бүгінде жастар арасында домбыра үйренушілер саны көбейіп келеді.",
    "Балқаш көлінің бір бөлігі тұщы, екінші бөлігі тұзды суға толы. Көлге Іле өзені құяды. Жағалауында балық "
    "аулау мен туризм дамыған, жазда мұнда демалушылар көп келеді.",
]


def _source_files(folder, docs_per_file: list[list[str]]):
    folder.mkdir(parents=True, exist_ok=True)
    for i, docs in enumerate(docs_per_file):
        rows = [json.dumps({"id": f"f{i}-{j}", "text": t}, ensure_ascii=False) for j, t in enumerate(docs)]
        (folder / f"part_{i}.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")


def _cfg(tmp_path, *overrides):
    return load_config(
        None,
        [
            f"run.out_dir={tmp_path / 'run'}",
            f"prep.inputs=[{{path: {tmp_path / 'src'}, format: jsonl, name: web}}]",
            "prep.quality.min_words=10",
            "prep.quality.min_alpha_word_ratio=0.5",
            *overrides,
        ],
    )


def _kept(cfg):
    return sorted(
        (json.loads(line)["id"], json.loads(line)["text"])
        for f in (cfg.stage_dir("prep") / "kept").glob("*.jsonl")
        for line in f.open(encoding="utf-8")
    )


def test_exact_and_near_duplicates_are_removed_across_tasks(tmp_path):
    # ~75 words with one changed: Jaccard of 5-gram shingles ~0.88, caught by 14x8 LSH with p ~0.998
    # (a 25-word document with one change, ~0.6, would be caught only ~20% of the time).
    long_doc = " ".join(KK[1:])
    near = long_doc.replace("жақсы тілек", "игі тілек")
    _source_files(tmp_path / "src", [[KK[0], long_doc], [KK[0].upper(), KK[2]], [near, KK[3]]])
    cfg = _cfg(tmp_path, "prep.executor.tasks=3", "prep.executor.workers=2")
    stats = run_prep(cfg)
    assert stats["balanced"] and stats["documents_kept"] == 4
    assert stats["rejected_by_reason"] == {"dedup:exact": 1, "dedup:near": 1}
    sizes = [
        json.loads(line)["metadata"].get("minhash_cluster_size", 1)
        for f in (cfg.stage_dir("prep") / "kept").glob("*.jsonl")
        for line in f.open(encoding="utf-8")
    ]
    assert sorted(sizes) == [1, 1, 1, 2]
    assert stats["near_duplicate_clusters"] == {"2": 1}


def test_decontamination_removes_documents_quoting_eval_sets(tmp_path):
    _source_files(tmp_path / "src", [[KK[0], KK[2], KK[3]]])
    eval_file = tmp_path / "test.kk"
    eval_file.write_text(
        "Домбыра — қазақтың екі ішекті музыкалық аспабы. Күйшілер домбырамен халықтың тарихын жеткізген.\n",
        encoding="utf-8",
    )
    cfg = _cfg(tmp_path, f"prep.decontamination.eval_sets=[{{name: mt_test, path: {eval_file}}}]")
    stats = run_prep(cfg)
    assert stats["rejected_by_reason"] == {"decontam:mt_test": 1}
    rejected = [
        json.loads(line) for line in (cfg.stage_dir("prep") / "rejected" / "decontam_00000.jsonl").open()
    ]
    assert (
        rejected[0]["id"] == "f0-1"
        and "домбыра қазақтың екі ішекті" in rejected[0]["metadata"]["decontam_match"]
    )


def test_datasheet_summarises_sources_volume_and_reasons(tmp_path):
    _source_files(tmp_path / "src", [[KK[0], KK[0], KK[1]]])
    cfg = _cfg(tmp_path)
    run_prep(cfg)
    sheet = json.loads((cfg.stage_dir("prep") / "datasheet.json").read_text(encoding="utf-8"))
    assert sheet["totals"]["documents_in"] == 3 and sheet["totals"]["documents_kept"] == 2
    assert sheet["volume"][0]["source"] == "web" and sheet["volume"][0]["language"] == "kk"
    text = (cfg.stage_dir("prep") / "datasheet.md").read_text(encoding="utf-8")
    assert "| dedup:exact | 1 |" in text and "## Sources" in text
    assert (
        "| 1_filter | 3 | 3 | 0 |" in text and "| 4_exact_filter | 3 | 2 | 1 |" in text
    )  # in = kept + rejected


# Runs the CLI and kills it with SIGKILL from inside, at one exact point of the run: the first time a file
# whose path ends in $KAZLLM_TEST_DIE_AT is opened (Python's audit hook sees every open). Polling from
# outside for a kill point raced the run: its last 0.4 s after stage 5's first completion could end
# before the poller looked again on a busy machine, leaving nothing to resume.
DIE_AT_OPEN = """
import os, runpy, signal, sys
target = os.environ["KAZLLM_TEST_DIE_AT"]
def die(event, args):
    if event == "open" and isinstance(args[0], (str, os.PathLike)) and os.fspath(args[0]).endswith(target):
        os.kill(os.getpid(), signal.SIGKILL)
sys.addaudithook(die)
sys.argv = ["kazllm", *sys.argv[1:]]
runpy.run_module("kazllm.cli", run_name="__main__")
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    ("die_at", "stage"),
    [
        (
            "logs/5_minhash_signatures/completions/00002",
            "5_minhash_signatures",
        ),  # task 2 done, not yet marked
        ("work/exact_deduped/00002.jsonl", "4_exact_filter"),  # inside task 2, as it starts writing
    ],
)
def test_a_killed_run_resumes_and_gives_the_same_output(tmp_path, die_at, stage):
    """kill -9 inside a stage after two of its four tasks finished; the rerun skips those and matches a
    clean run."""
    news = [
        json.loads(line)["text"]
        for line in (REPO / "data/sample/corpus/jsonl/kk_news.jsonl").open(encoding="utf-8")
    ]
    _source_files(tmp_path / "src", [news[i * 6 : i * 6 + 6] for i in range(4)])
    args = [
        "prep",
        f"run.out_dir={tmp_path / 'run'}",
        f"prep.inputs=[{{path: {tmp_path / 'src'}, format: jsonl, name: web}}]",
        # one worker: the tasks run in this process, where the kill hook (an audit hook) is installed
        "prep.quality.min_words=10",
        "prep.executor.tasks=4",
        "prep.executor.workers=1",
    ]
    with open(
        tmp_path / "killed.log", "wb"
    ) as log:  # not a pipe: the run's orphaned helpers would hold it open
        killed = subprocess.Popen(
            [sys.executable, "-c", DIE_AT_OPEN, *args],
            cwd=REPO,
            stdout=log,
            stderr=log,
            env={**os.environ, "KAZLLM_TEST_DIE_AT": die_at},
            start_new_session=True,
        )
        try:
            killed.wait(timeout=300)
        finally:
            try:  # what the kill left behind (datatrove's multiprocess manager) goes with its session
                os.killpg(killed.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert killed.returncode == -9, (tmp_path / "killed.log").read_text()[-2000:]
    logs = tmp_path / "run" / "prep" / "logs"
    assert sorted(f.name for f in (logs / stage / "completions").iterdir()) == ["00000", "00001"]
    assert not (tmp_path / "run" / "prep" / "stats.json").exists()
    resumed = run_kazllm(*args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert re.search(rf"^{stage} +4 tasks \(2 done before\)", resumed.stdout, re.M), resumed.stdout
    assert re.search(r"^1_filter +4 tasks \(4 done before\)", resumed.stdout, re.M), resumed.stdout
    clean = run_kazllm(*[a.replace(str(tmp_path / "run"), str(tmp_path / "clean")) for a in args])
    assert clean.returncode == 0
    first = _kept(load_config(None, [f"run.out_dir={tmp_path / 'run'}"]))
    second = _kept(load_config(None, [f"run.out_dir={tmp_path / 'clean'}"]))
    assert first == second and len(first) == 24
    # per-stage counts add the killed run's finished tasks to the resumed ones: the same as in one go
    stats = [
        json.loads((tmp_path / d / "prep" / "stats.json").read_text(encoding="utf-8"))
        for d in ("run", "clean")
    ]
    assert stats[0] == stats[1] and stats[0]["stages"]["1_filter"]["in"] == 24


def test_writers_replace_lone_surrogates_that_orjson_refuses(tmp_path):
    # A JSON escape such as \udc80 in the input, or a file name that is not UTF-8, gives Python strings
    # with lone surrogates; orjson, which datatrove's JsonlWriter uses, refuses them and would end the run.
    doc = Document(
        text="қала\udc80сы",
        id="x\ud800",
        metadata={"path": "/d/bad\udcff.jsonl", "k\udc80": ["\ud83d\ude00"]},
    )
    with (
        pytest.raises(TypeError, match="surrogates not allowed"),
        JsonlWriter(str(tmp_path / "stock"), compression=None) as w,
    ):
        w.write(Document(text=doc.text, id=doc.id, metadata=dict(doc.metadata)))
    with PrepJsonlWriter(tmp_path / "ours", "${rank}.jsonl") as w:
        w.write(Document(text="таза мәтін", id="clean", metadata={"source": "web"}))
        w.write(doc)
    rows = [
        json.loads(line)
        for line in (tmp_path / "ours" / "00000.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert rows[0] == {"text": "таза мәтін", "id": "clean", "metadata": {"source": "web"}}
    assert rows[1] == {
        "text": "қала\ufffdсы",
        "id": "x\ufffd",
        "metadata": {"path": "/d/bad\ufffd.jsonl", "k\ufffd": ["\U0001f600"]},
    }  # a pair is joined
    assert w.stats["documents_with_lone_surrogates"].total == 1


def test_input_with_lone_surrogates_runs_through_and_balances(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "esc.jsonl").write_text(
        '{"id": "e\\ud800", "text": "' + KK[0].replace("қаласы", "қала\\udc80сы") + '", "note": "\\udfff"}\n',
        encoding="utf-8",
    )
    (src / "bad\udcffname.jsonl").write_text(
        json.dumps({"id": "n", "text": KK[1]}, ensure_ascii=False) + "\n",
        encoding="utf-8",
        errors="surrogateescape",
    )  # the name is not UTF-8
    stats = run_prep(_cfg(tmp_path))
    assert stats["documents_in"] == 2 and stats["documents_kept"] == 2 and stats["balanced"]
    kept = [
        json.loads(line)
        for f in (tmp_path / "run" / "prep" / "kept").glob("*.jsonl")
        for line in f.open(encoding="utf-8")
    ]
    assert not any("\ud800" <= c <= "\udfff" for row in kept for c in json.dumps(row, ensure_ascii=False))


def test_prep_prints_one_line_per_stage_and_datatrove_logs_to_its_files(tmp_path):
    _source_files(tmp_path / "src", [[KK[0], KK[0]], [KK[1], "Қысқа мәтін."]])
    with (tmp_path / "src" / "part_1.jsonl").open("a", encoding="utf-8") as f:
        f.write('{"id": "broken", "text": "жарты\n')  # one record in, one unreadable reject
    args = [
        f"prep.inputs=[{{path: {tmp_path / 'src'}, format: jsonl, name: web}}]",
        "prep.quality.min_words=10",
        "prep.quality.min_alpha_word_ratio=0.5",
        "prep.executor.tasks=2",
        "prep.executor.workers=2",
    ]
    quiet = run_kazllm("prep", f"run.out_dir={tmp_path / 'quiet'}", *args)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "Stats:" not in quiet.stderr and "| INFO" not in quiet.stderr and "it/s]" not in quiet.stderr
    lines = quiet.stdout.splitlines()
    assert len(lines) == 10 and lines[-2].startswith("prep: 5 documents in, 2 kept, 3 rejected")
    assert re.fullmatch(r"1_filter +2 tasks +in 5 +kept 3 +rejected 2 +\d+\.\d s", lines[0]), lines[0]
    assert re.fullmatch(r"4_exact_filter +2 tasks +in 3 +kept 2 +rejected 1 +\d+\.\d s", lines[3]), lines[3]
    stats = json.loads((tmp_path / "quiet" / "prep" / "stats.json").read_text(encoding="utf-8"))
    assert stats["stages"]["1_filter"]["in"] == stats["documents_in"] == 5  # per record, as the readers count
    assert all(s["in"] == s["kept"] + s["rejected"] and s["balanced"] for s in stats["stages"].values())
    task_log = (tmp_path / "quiet" / "prep" / "logs" / "1_filter" / "logs" / "task_00001.log").read_text(
        encoding="utf-8"
    )
    assert "Processing done for rank=1" in task_log and "Stats: Task 1" in task_log
    verbose = run_kazllm("prep", "-v", f"run.out_dir={tmp_path / 'verbose'}", *args)
    untimed = [[re.sub(r"\d+\.\d s$", "", x) for x in r.stdout.splitlines()[:8]] for r in (quiet, verbose)]
    assert (
        verbose.returncode == 0 and untimed[0] == untimed[1]
    )  # the same stage lines, plus datatrove's logging:
    assert "Stats: All 2 tasks" in verbose.stderr and "Launching pipeline for rank=1" in verbose.stderr


def test_an_error_inside_a_quiet_task_still_reaches_the_console(tmp_path):
    script = f"""
from data_prep.pipeline import QuietLocalExecutor
def fail(data, rank, world_size):
    raise RuntimeError("a step failed in task " + str(rank))
QuietLocalExecutor([fail], tasks=1, logging_dir={str(tmp_path / "logs")!r}).run()
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "| ERROR" in result.stderr and "a step failed in task 0" in result.stderr
    assert "Launching pipeline" not in result.stderr  # INFO stays in the task's log file
    assert "Launching pipeline" in (tmp_path / "logs" / "logs" / "task_00000.log").read_text(encoding="utf-8")


def test_a_changed_config_starts_afresh(tmp_path):
    _source_files(tmp_path / "src", [[KK[0], KK[1]]])
    assert run_prep(_cfg(tmp_path))["documents_kept"] == 2
    with pytest.raises(
        InputError, match=r"prep kept 0 of 2 documents; reasons: \{'quality:too_few_words': 2\}"
    ):
        run_prep(_cfg(tmp_path, "prep.quality.min_words=1000"))  # not the previous run's kept output


def test_slurm_dry_run_prints_the_job_chain_without_submitting(tmp_path):
    _source_files(tmp_path / "src", [[KK[0]]])
    result = run_kazllm(
        "prep",
        "--executor",
        "slurm",
        "--dry-run",
        f"run.out_dir={tmp_path / 'run'}",
        f"prep.inputs=[{{path: {tmp_path / 'src'}}}]",
        "prep.executor.slurm.partition=cpu",
        "prep.executor.slurm.account=nlp",
        "prep.executor.tasks=8",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert out.count("#!/bin/bash") == 9 and "#SBATCH --partition=cpu" in out and "#SBATCH --array=0-7" in out
    assert out.count("#SBATCH --account=nlp") == 9  # the same SlurmJob fields as training's jobs
    assert "#SBATCH --array=0-13" in out  # one MinHash bucket per task
    assert "launch_pickled_pipeline" in out and "(after 1_filter)" in out
    assert (
        "# --- stage 9_finish: 1 task(s) (after 8_minhash_filter)" in out
    )  # stats.json, datasheet, manifest
    assert not (tmp_path / "run" / "prep" / "kept").exists()


def test_slurm_without_a_partition_is_a_clear_error(tmp_path):
    _source_files(tmp_path / "src", [[KK[0]]])
    result = run_kazllm(
        "prep",
        "--executor",
        "slurm",
        "--dry-run",
        f"prep.inputs=[{{path: {tmp_path / 'src'}}}]",
        f"run.out_dir={tmp_path}",
    )
    assert result.returncode == 2 and "prep.executor.slurm.partition is empty" in result.stderr


@pytest.mark.slow
def test_prep_on_slurm_ends_with_a_job_that_writes_stats_and_the_datasheet(slurm_cluster, tmp_path):
    long_doc = " ".join(KK[1:])
    _source_files(
        tmp_path / "src",
        [[KK[0], long_doc], [KK[0].upper(), KK[2]], [long_doc.replace("жақсы", "игі"), KK[3]]],
    )
    args = [
        f"prep.inputs=[{{path: {tmp_path / 'src'}, format: jsonl, name: web}}]",
        "prep.quality.min_words=10",
        "prep.quality.min_alpha_word_ratio=0.5",
        "prep.executor.tasks=2",
    ]
    local = run_kazllm("prep", f"run.out_dir={tmp_path / 'local'}", *args)
    assert local.returncode == 0, local.stderr[-2000:]
    submitted = subprocess.run(
        [
            sys.executable,
            "-m",
            "kazllm.cli",
            "prep",
            "--executor",
            "slurm",
            f"run.out_dir={tmp_path / 'slurm'}",
            *args,
            "prep.executor.slurm.partition=debug",
        ],
        cwd=REPO,
        env=slurm_cluster.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert submitted.returncode == 0, submitted.stderr[-2000:]
    assert "rerun" not in submitted.stdout
    finish = re.search(r"9_finish \(job (\d+)\)", submitted.stdout).group(1)
    prep = tmp_path / "slurm" / "prep"
    assert not (prep / "stats.json").exists()  # the jobs write it, not the submitting command
    deadline, state = time.monotonic() + 300, {}
    while time.monotonic() < deadline:
        state = slurm_cluster.job(finish)
        if state.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY"):
            break
        time.sleep(0.5)
    log = prep / "logs" / "slurm" / f"{finish}_0.out"
    log_text = log.read_text(errors="replace") if log.exists() else "(no job log)"
    assert state.get("JobState") == "COMPLETED", f"{state}\n{log_text[-3000:]}\n{slurm_cluster.log_tail()}"
    read = [
        json.loads((tmp_path / run / "prep" / name).read_text(encoding="utf-8"))
        for run in ("local", "slurm")
        for name in ("stats.json", "datasheet.json")
    ]
    assert (
        read[2] == read[0]
        and read[0]["documents_kept"] == 4
        and read[0]["stages"]["8_minhash_filter"]["rejected"] == 1
    )
    assert {**read[3], "created": ""} == {**read[1], "created": ""}
    assert (prep / "datasheet.md").is_file() and json.loads((prep / "manifest.json").read_text())[
        "documents_kept"
    ] == 4
    assert "8_minhash_filter" in log_text and "prep: 6 documents in, 4 kept, 2 rejected" in log_text


LINES = [
    "Қазақстан Орталық Азиядағы ең үлкен мемлекет болып табылады.",
    "Привет, как у тебя дела сегодня?",
    "Hello world, how are you today?",
]


@pytest.mark.parametrize(
    ("tool", "expected"),
    [
        ("langid", ["kk\t", "ru\t", "en\t"]),
        ("pii", LINES),
        ("normalize", LINES),
    ],
)
def test_line_tools_print_one_result_per_input_line(tool, expected):
    lines = "\n".join(LINES) + "\n"
    result = subprocess.run(
        [sys.executable, "-m", "kazllm.cli", "text", tool],
        input=lines,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    out = result.stdout.rstrip("\n").split("\n")
    assert len(out) == 3 and all(o.startswith(e) for o, e in zip(out, expected))


def test_line_tools_read_a_file_argument(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("Байланыс: +7 701 123 45 67\n\nХат: a.b@mail.kz\n", encoding="utf-8")
    result = run_kazllm("text", "pii", str(f))
    assert result.stdout == "Байланыс: <PHONE>\n\nХат: <EMAIL>\n"


def test_latin_script_kazakh_is_transliterated_when_asked(tmp_path):
    from data_prep.transliterate import cyrillic_to_latin

    cyrillic = " ".join(KK)
    _source_files(tmp_path / "src", [[cyrillic_to_latin(cyrillic, "2021")]])
    without = _cfg(tmp_path)
    with pytest.raises(InputError, match="prep kept 0 of 1"):  # Latin Kazakh is not Cyrillic kk
        run_prep(without)
    stats = run_prep(_cfg(tmp_path, "prep.transliterate_latin=true"))
    assert stats["documents_kept"] == 1 and stats["normalisation_repairs_in_kept"]["latin_kazakh"] > 0
    # The Latin alphabets write щ as "şş", so it comes back as "шш"; every other letter round-trips.
    assert _kept(_cfg(tmp_path))[0][1] == cyrillic.replace("щ", "шш")


def test_russian_and_ukrainian_paragraphs_inside_a_kazakh_document_are_removed_and_counted(tmp_path):
    russian = "Этот абзац написан по-русски и попал в казахскую статью при копировании с сайта новостей."
    # Ukrainian has і, a letter Kazakh has too: the line must still reach the model.
    ukrainian = "Цей абзац написано українською мовою і він потрапив до казахської статті з сайту новин."
    doc = "\n".join([KK[0], russian, KK[1], ukrainian, KK[2]])
    _source_files(tmp_path / "src", [[doc]])
    stats = run_prep(_cfg(tmp_path))
    assert stats["documents_kept"] == 1 and stats["foreign_lines_removed_from_kept"] == {"ru": 1, "uk": 1}
    assert _kept(_cfg(tmp_path))[0][1] == "\n".join([KK[0], KK[1], KK[2]])
    assert run_prep(_cfg(tmp_path, "prep.drop_foreign_lines=false"))["foreign_lines_removed_from_kept"] == {}
