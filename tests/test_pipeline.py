"""The prep engine: global dedup across tasks, decontamination, resume after a kill, Slurm rendering,
the datasheet and the line tools."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from data_prep.pipeline import run_prep
from kazllm.config import load_config
from kazllm.errors import InputError

from .conftest import REPO, run_kazllm

KK = [
    "Алматы — Қазақстанның ең ірі қаласы, ол Іле Алатауының етегінде орналасқан. Қалада көптеген университет, "
    "театр мен мұражай бар. Көктемде алма ағаштары гүлдеп, көшелер ерекше әдемі болады.",
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
    return load_config(None, [f"run.out_dir={tmp_path / 'run'}", f"prep.inputs=[{{path: {tmp_path / 'src'}, format: jsonl, name: web}}]",
                              "prep.quality.min_words=10", "prep.quality.min_alpha_word_ratio=0.5", *overrides])


def _kept(cfg):
    return sorted((json.loads(line)["id"], json.loads(line)["text"]) for f in (cfg.stage_dir("prep") / "kept").glob("*.jsonl")
                  for line in f.open(encoding="utf-8"))


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
    sizes = [json.loads(line)["metadata"].get("minhash_cluster_size", 1)
             for f in (cfg.stage_dir("prep") / "kept").glob("*.jsonl") for line in f.open(encoding="utf-8")]
    assert sorted(sizes) == [1, 1, 1, 2]
    assert stats["near_duplicate_clusters"] == {"2": 1}


def test_decontamination_removes_documents_quoting_eval_sets(tmp_path):
    _source_files(tmp_path / "src", [[KK[0], KK[2], KK[3]]])
    eval_file = tmp_path / "test.kk"
    eval_file.write_text("Домбыра — қазақтың екі ішекті музыкалық аспабы. Күйшілер домбырамен халықтың тарихын жеткізген.\n",
                         encoding="utf-8")
    cfg = _cfg(tmp_path, f"prep.decontamination.eval_sets=[{{name: mt_test, path: {eval_file}}}]")
    stats = run_prep(cfg)
    assert stats["rejected_by_reason"] == {"decontam:mt_test": 1}
    rejected = [json.loads(line) for line in (cfg.stage_dir("prep") / "rejected" / "decontam_00000.jsonl").open()]
    assert rejected[0]["id"] == "f0-1" and "домбыра қазақтың екі ішекті" in rejected[0]["metadata"]["decontam_match"]


def test_datasheet_summarises_sources_volume_and_reasons(tmp_path):
    _source_files(tmp_path / "src", [[KK[0], KK[0], KK[1]]])
    cfg = _cfg(tmp_path)
    run_prep(cfg)
    sheet = json.loads((cfg.stage_dir("prep") / "datasheet.json").read_text(encoding="utf-8"))
    assert sheet["totals"]["documents_in"] == 3 and sheet["totals"]["documents_kept"] == 2
    assert sheet["volume"][0]["source"] == "web" and sheet["volume"][0]["language"] == "kk"
    text = (cfg.stage_dir("prep") / "datasheet.md").read_text(encoding="utf-8")
    assert "| dedup:exact | 1 |" in text and "## Sources" in text


@pytest.mark.slow
def test_a_killed_run_resumes_and_gives_the_same_output(tmp_path):
    """kill -9 after the first stage has finished some tasks; the rerun skips them and matches a clean run."""
    news = [json.loads(line)["text"] for line in (REPO / "data/sample/corpus/jsonl/kk_news.jsonl").open(encoding="utf-8")]
    _source_files(tmp_path / "src", [news[i * 6 : i * 6 + 6] for i in range(4)])
    args = ["prep", f"run.out_dir={tmp_path / 'run'}", f"prep.inputs=[{{path: {tmp_path / 'src'}, format: jsonl, name: web}}]",
            "prep.quality.min_words=10", "prep.executor.tasks=4"]
    proc = subprocess.Popen([sys.executable, "-m", "kazllm.cli", *args], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    completions = tmp_path / "run" / "prep" / "logs" / "5_minhash_signatures" / "completions"
    deadline = time.time() + 120
    while time.time() < deadline and not (completions.is_dir() and any(completions.iterdir())):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert completions.is_dir(), "the run ended before it could be killed mid-way"
    resumed = run_kazllm(*args)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "Skipping" in resumed.stderr  # datatrove skipped finished tasks
    clean = run_kazllm(*[a.replace(str(tmp_path / "run"), str(tmp_path / "clean")) for a in args])
    assert clean.returncode == 0
    first = _kept(load_config(None, [f"run.out_dir={tmp_path / 'run'}"]))
    second = _kept(load_config(None, [f"run.out_dir={tmp_path / 'clean'}"]))
    assert first == second and len(first) == 24


def test_a_changed_config_starts_afresh(tmp_path):
    _source_files(tmp_path / "src", [[KK[0], KK[1]]])
    assert run_prep(_cfg(tmp_path))["documents_kept"] == 2
    with pytest.raises(InputError, match=r"prep kept 0 of 2 documents; reasons: \{'quality:too_few_words': 2\}"):
        run_prep(_cfg(tmp_path, "prep.quality.min_words=1000"))  # not the previous run's kept output


def test_slurm_dry_run_prints_the_job_chain_without_submitting(tmp_path):
    _source_files(tmp_path / "src", [[KK[0]]])
    result = run_kazllm("prep", "--executor", "slurm", "--dry-run", f"run.out_dir={tmp_path / 'run'}",
                        f"prep.inputs=[{{path: {tmp_path / 'src'}}}]", "prep.executor.slurm_partition=cpu",
                        "prep.executor.tasks=8")
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert out.count("#!/bin/bash") == 8 and "#SBATCH --partition=cpu" in out and "#SBATCH --array=0-7" in out
    assert "#SBATCH --array=0-13" in out  # one MinHash bucket per task
    assert "launch_pickled_pipeline" in out and "(after 1_filter)" in out
    assert not (tmp_path / "run" / "prep" / "kept").exists()


def test_slurm_without_a_partition_is_a_clear_error(tmp_path):
    _source_files(tmp_path / "src", [[KK[0]]])
    result = run_kazllm("prep", "--executor", "slurm", "--dry-run", f"prep.inputs=[{{path: {tmp_path / 'src'}}}]",
                        f"run.out_dir={tmp_path}")
    assert result.returncode == 2 and "slurm_partition is empty" in result.stderr


LINES = ["Қазақстан Орталық Азиядағы ең үлкен мемлекет болып табылады.", "Привет, как у тебя дела сегодня?",
         "Hello world, how are you today?"]


@pytest.mark.parametrize(("tool", "expected"), [
    ("langid", ["kk\t", "ru\t", "en\t"]),
    ("pii", LINES),
    ("normalize", LINES),
])
def test_line_tools_print_one_result_per_input_line(tool, expected):
    lines = "\n".join(LINES) + "\n"
    result = subprocess.run([sys.executable, "-m", "kazllm.cli", tool], input=lines, capture_output=True, text=True,
                            cwd=REPO, check=True)
    out = result.stdout.rstrip("\n").split("\n")
    assert len(out) == 3 and all(o.startswith(e) for o, e in zip(out, expected))


def test_line_tools_read_a_file_argument(tmp_path):
    f = tmp_path / "in.txt"
    f.write_text("Байланыс: +7 701 123 45 67\n\nХат: a.b@mail.kz\n", encoding="utf-8")
    result = run_kazllm("pii", str(f))
    assert result.stdout == "Байланыс: <PHONE>\n\nХат: <EMAIL>\n"


def test_latin_script_kazakh_is_transliterated_when_asked(tmp_path):
    from data_prep.normalize import cyrillic_to_latin

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
