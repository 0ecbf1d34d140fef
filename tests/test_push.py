"""`kazllm push`: the dry-run plan, a real push to a local fake Hub (tests/hub_server.py), the refusals.

The real CLI runs in a subprocess with HF_ENDPOINT pointing at the fake hub and fake HF_TOKEN /
WANDB_API_KEY values, which must reach the hub's Authorization header and nothing else: no output,
no file under the test's directory (HF_HOME included). No test contacts a network.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from kazllm import __version__
from kazllm.artifacts import file_sha256, iter_jsonl
from kazllm.errors import InputError
from kazllm.model_card import card_text_for_repo
from tests.conftest import REPO, run_kazllm
from tests.hub_server import FakeHub

FAKE_HF_TOKEN = "hf_FAKEpushTest0123456789abcdefXYZ"
FAKE_WANDB_KEY = "wandbFAKEpushTest0123456789abcdef"
REPO_ID = "kazllm-test/tiny-kk"


def push_env(tmp_path: Path, endpoint: str, *, offline: bool = False, token: bool = True) -> dict:
    env = {
        **os.environ,
        "HF_ENDPOINT": endpoint,
        "HF_HUB_OFFLINE": "1" if offline else "0",
        "HF_HUB_DISABLE_XET": "1",  # the fake hub speaks the classic LFS protocol, not Xet
        "HF_HOME": str(tmp_path / "hf_home"),
        "WANDB_API_KEY": FAKE_WANDB_KEY,
    }
    env.pop("HF_TOKEN", None)
    if token:
        env["HF_TOKEN"] = FAKE_HF_TOKEN
    return env


def run_push(*args: str, env: dict) -> subprocess.CompletedProcess:
    """`run_kazllm` with an environment: the real CLI in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "kazllm.cli", "push", *map(str, args)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_no_secrets(result: subprocess.CompletedProcess, root: Path) -> None:
    for secret in (FAKE_HF_TOKEN, FAKE_WANDB_KEY):
        assert secret not in result.stdout and secret not in result.stderr
        leaked = [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
        assert not leaked, f"{secret[:8]}… written to {leaked}"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def export_copy(exported_run, tmp_path: Path) -> Path:
    """A private copy of the fixture's export/ (tests change files; the session fixture stays intact)."""
    dst = tmp_path / "run" / "export"
    shutil.copytree(exported_run.stage_dir("export"), dst)
    return dst


def prep_copy(sample_run, tmp_path: Path) -> Path:
    src, dst = sample_run.stage_dir("prep"), tmp_path / "run" / "prep"
    shutil.copytree(src / "kept", dst / "kept")
    for name in ("manifest.json", "datasheet.md", "datasheet.json", "resolved_config.yaml"):
        shutil.copy(src / name, dst / name)
    return dst


def edit_manifest(export_dir: Path, change) -> None:
    manifest = json.loads((export_dir / "manifest.json").read_text(encoding="utf-8"))
    change(manifest)
    (export_dir / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def edit_card(export_dir: Path, **metadata) -> None:
    from huggingface_hub import ModelCard

    card = ModelCard.load(export_dir / "README.md")
    for key, value in metadata.items():
        setattr(card.data, key, value)  # None: left out when the card is saved
    card.save(export_dir / "README.md")


# ---------------------------------------------------------------------------------------------------
# Model repo
# ---------------------------------------------------------------------------------------------------


def test_push_help_says_what_is_pushed_and_where_the_token_comes_from():
    result = run_kazllm("push", "--help")
    assert result.returncode == 0
    for words in ("--export", "--prep", "HF_TOKEN", "contacts nothing", "sha256", "licence"):
        assert words in result.stdout


def test_dry_run_lists_every_file_with_its_sha256_and_contacts_nothing(exported_run, tmp_path):
    export = export_copy(exported_run, tmp_path)
    with FakeHub() as hub:  # reachable and online: any request at all would be recorded
        result = run_push(
            "--export", export, "--repo", REPO_ID, "--dry-run", env=push_env(tmp_path, hub.endpoint)
        )
        assert result.returncode == 0, result.stderr
        assert hub.requests == []
    lines = result.stdout.splitlines()
    files = sorted(p for p in export.rglob("*") if p.is_file())
    assert {"manifest.json", "resolved_config.yaml", "model.safetensors", "README.md"} <= {
        p.name for p in files
    }
    # the card is listed as it will be pushed: its loading example naming REPO_ID (nothing was rewritten)
    card_now, card_pushed = card_text_for_repo(export, REPO_ID)
    assert card_now == (export / "README.md").read_text(encoding="utf-8") and REPO_ID in card_pushed
    assert "README.md: a push first rewrites its loading example" in result.stdout
    for path in files:
        row = [line.split() for line in lines if line.split()[:1] == [path.relative_to(export).as_posix()]]
        assert len(row) == 1, path
        data = card_pushed.encode() if path.name == "README.md" else path.read_bytes()
        assert row[0][-1] == hashlib.sha256(data).hexdigest() and row[0][-2] == f"{len(data):,}"
    assert f"{len(files)} files" in result.stdout
    assert f"model repo {REPO_ID}, revision main" in result.stdout
    assert f"checkpoint step4 (kazllm {__version__})" in result.stdout
    # offline, with the endpoint on a closed port: the same plan
    offline = run_push(
        "--export",
        export,
        "--repo",
        REPO_ID,
        "--dry-run",
        env=push_env(tmp_path, f"http://127.0.0.1:{closed_port()}", offline=True),
    )
    assert offline.returncode == 0, offline.stderr
    assert offline.stdout == result.stdout
    assert_no_secrets(result, tmp_path)


def test_push_lands_every_file_byte_identical_in_one_commit_on_the_branch(exported_run, tmp_path):
    export = export_copy(exported_run, tmp_path)
    with FakeHub() as hub:
        result = run_push(
            "--export",
            export,
            "--repo",
            REPO_ID,
            "--revision",
            "run-4steps",
            "--private",
            env=push_env(tmp_path, hub.endpoint),
        )
    assert result.returncode == 0, result.stderr[-3000:]
    repo = hub.repos[("model", REPO_ID)]
    assert repo.private
    assert [c.summary for c in repo.branches["main"]] == ["initial commit"]
    initial, commit = repo.branches["run-4steps"]  # exactly one commit on top of the repo's first
    assert initial is repo.branches["main"][0]
    run = Path(exported_run.run.out_dir).name
    assert commit.summary == f"kazllm export: run {run}, checkpoint step4 (kazllm {__version__})"
    local = {p.relative_to(export).as_posix(): p.read_bytes() for p in export.rglob("*") if p.is_file()}
    assert sorted(commit.added) == sorted(local)
    assert {name: commit.files[name] for name in local} == local
    assert "model.safetensors" in commit.lfs_paths and "config.json" not in commit.lfs_paths
    assert commit.oid in result.stdout
    # the token went where huggingface_hub sends it, and nowhere else
    assert hub.authorizations and set(hub.authorizations) == {f"Bearer {FAKE_HF_TOKEN}"}
    assert_no_secrets(result, tmp_path)


def test_push_refuses_before_contacting_anything(exported_run, tmp_path):
    export = export_copy(exported_run, tmp_path)
    edit_card(export, license=None)
    with FakeHub() as hub:
        result = run_push("--export", export, "--repo", REPO_ID, env=push_env(tmp_path, hub.endpoint))
        assert hub.requests == []
    assert result.returncode == 2
    assert result.stderr.startswith("kazllm: error:") and len(result.stderr.strip().splitlines()) == 1
    assert "no licence" in result.stderr and "export.license" in result.stderr
    assert_no_secrets(result, tmp_path)


def test_push_without_a_token_fails_in_one_line(exported_run, tmp_path):
    export = export_copy(exported_run, tmp_path)
    with FakeHub() as hub:
        result = run_push(
            "--export", export, "--repo", REPO_ID, env=push_env(tmp_path, hub.endpoint, token=False)
        )
    assert result.returncode == 2
    error = [line for line in result.stderr.splitlines() if line.startswith("kazllm: error:")]
    assert len(error) == 1 and "create repo" in error[0] and "401" in error[0]
    assert hub.repos == {}


def _set(key, value):
    return lambda m: m.update({key: value})


def _drop(*keys):
    return lambda m: [m.pop(k, None) for k in keys]


@pytest.mark.parametrize(
    "change, expected",
    [
        (
            lambda d: edit_manifest(d, lambda m: m["logits_check"].update(passed=False)),
            "logits check did not pass",
        ),
        (lambda d: edit_manifest(d, _drop("logits_check", "max_logit_diff")), "records no logits check"),
        (
            lambda d: edit_manifest(d, lambda m: (_drop("logits_check")(m), _set("max_logit_diff", 1e-3)(m))),
            "max_logit_diff 0.001 > 1e-05",
        ),
        (lambda d: edit_card(d, license=None), "the model card has no licence"),
        (
            lambda d: edit_card(d, license="other", license_name="training-data-licences"),
            "licence is the placeholder",
        ),
        (
            lambda d: (d / "config.json").write_text((d / "config.json").read_text() + " "),
            "config.json: changed after export",
        ),
        (lambda d: (d / "notes.txt").write_text("hi"), "notes.txt: not in manifest.json's file table"),
        (lambda d: (d / "tokenizer.json").unlink(), "tokenizer.json: listed in manifest.json but missing"),
    ],
    ids=[
        "logits-failed",
        "no-logits-check",
        "legacy-diff-too-large",
        "no-licence",
        "placeholder-licence",
        "changed-file",
        "extra-file",
        "missing-file",
    ],
)
def test_plan_refuses(exported_run, tmp_path, change, expected):
    from kazllm.push import plan_export_push

    export = export_copy(exported_run, tmp_path)
    change(export)
    with pytest.raises(InputError) as info:
        plan_export_push(export, REPO_ID)
    assert expected in str(info.value) and "\n" not in str(info.value)


def test_plan_accepts_an_updated_card_and_a_legacy_manifest(exported_run, tmp_path):
    from kazllm.push import plan_export_push, render_plan

    export = export_copy(exported_run, tmp_path)
    with open(export / "README.md", "a", encoding="utf-8") as f:
        f.write(
            "\n## Evaluation\n\n| task | metric | value |\n|---|---|---|\n| sample_ppl_kk | bpb | 3.1 |\n"
        )
    plan = plan_export_push(export, REPO_ID, "main")
    assert plan.revision is None and any("README.md differs" in note for note in plan.notes)
    readme = next(f for f in plan.files if f.path_in_repo == "README.md")
    assert readme.sha256 == hashlib.sha256(card_text_for_repo(export, REPO_ID)[1].encode()).hexdigest()

    # an export written before the checksum table (today's runs): max_logit_diff and a list of names
    def legacy(manifest):
        manifest.update(
            max_logit_diff=manifest.pop("logits_check")["max_abs_diff"], files=sorted(manifest["files"])
        )

    edit_manifest(export, legacy)
    plan = plan_export_push(export, REPO_ID, "dev-1")
    assert plan.revision == "dev-1" and any("no checksums" in note for note in plan.notes)
    assert "revision dev-1 (created from main if new)" in render_plan(plan)
    with pytest.raises(InputError, match="--revision"):
        plan_export_push(export, REPO_ID, "a" * 40)
    with pytest.raises(InputError, match="--repo"):
        plan_export_push(export, "no-namespace", None)


# ---------------------------------------------------------------------------------------------------
# Dataset repo from prep/
# ---------------------------------------------------------------------------------------------------


def test_push_prep_dry_run_then_push_publishes_every_kept_document(sample_run, tmp_path):
    import pyarrow.parquet as pq
    from huggingface_hub import DatasetCard

    prep = prep_copy(sample_run, tmp_path)
    kept = list(iter_jsonl(sorted((prep / "kept").glob("*.jsonl"))))
    with FakeHub() as hub:
        env = push_env(tmp_path, hub.endpoint)
        dry = run_push("--prep", prep, "--repo", "kazllm-test/kk-corpus", "--dry-run", env=env)
        assert dry.returncode == 0, dry.stderr
        assert hub.requests == []
        staged = sorted(p for p in (prep / "hub_dataset").rglob("*") if p.is_file())
        names = [p.relative_to(prep / "hub_dataset").as_posix() for p in staged]
        assert names == ["README.md", "data/train-00000-of-00001.parquet", "datasheet.json"]
        for path, name in zip(staged, names):
            assert f"{name} " in dry.stdout and file_sha256(path) in dry.stdout
        result = run_push("--prep", prep, "--repo", "kazllm-test/kk-corpus", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    commit = hub.repos[("dataset", "kazllm-test/kk-corpus")].head("main")
    assert commit.summary.startswith("kazllm prep: run ") and f"{len(kept)} documents" in commit.summary
    assert {n: commit.files[n] for n in names} == {n: p.read_bytes() for n, p in zip(names, staged)}
    assert "data/train-00000-of-00001.parquet" in commit.lfs_paths
    table = pq.read_table(io.BytesIO(commit.files["data/train-00000-of-00001.parquet"]))
    assert table.column("id").to_pylist() == [r["id"] for r in kept]
    assert table.column("text").to_pylist() == [r["text"] for r in kept]
    assert set(table.column("language").to_pylist()) == {r["metadata"]["language"] for r in kept}
    assert "path" not in table.column_names  # where each file sat on the prep machine is not published
    card = DatasetCard(commit.files["README.md"].decode())
    assert card.data.license == "cc0-1.0" and card.data.task_categories == ["text-generation"]
    assert card.data.configs[0]["data_files"][0]["path"] == "data/train-*.parquet"
    assert card.data.size_categories == ["n<1K"] and card.data.language == ["kk"]
    assert "Datasheet" in card.text and "<IIN>" in card.text
    assert_no_secrets(result, tmp_path)


def test_prep_is_sharded_by_size_and_refused_with_an_unknown_licence(sample_run, tmp_path):
    import pyarrow.parquet as pq

    from kazllm.push import plan_prep_push

    prep = prep_copy(sample_run, tmp_path)
    kept = list(iter_jsonl(sorted((prep / "kept").glob("*.jsonl"))))
    plan = plan_prep_push(prep, "kazllm-test/kk-corpus", shard_bytes=200_000)
    shards = [f for f in plan.files if f.path_in_repo.startswith("data/")]
    n = len(shards)
    assert n > 1 and [f.path_in_repo for f in shards] == [
        f"data/train-{i:05d}-of-{n:05d}.parquet" for i in range(n)
    ]
    ids = [i for f in shards for i in pq.read_table(f.local_path).column("id").to_pylist()]
    assert ids == [r["id"] for r in kept]
    manifest = json.loads((prep / "manifest.json").read_text(encoding="utf-8"))
    manifest["inputs"][1]["licence"] = "unknown"
    (prep / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(InputError, match="kk_literature have no licence"):
        plan_prep_push(prep, "kazllm-test/kk-corpus")
