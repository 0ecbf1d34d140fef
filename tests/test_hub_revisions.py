"""Hub ids with revisions wherever a model or tokenizer is read, resolved offline from a filled HF cache."""

import json
import os
import subprocess
import sys

import pytest
import yaml

from .conftest import REPO
from .hub_cache import fill_hf_cache

MAIN = "1111111111111111111111111111111111111111"
V1 = "2222222222222222222222222222222222222222"


def run_offline(cache, *args, **env):
    """The real CLI with huggingface_hub offline and pointed at `cache`; no proxy, no endpoint reachable."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(cache),
        "HF_ENDPOINT": "http://127.0.0.1:9",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "kazllm.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )


@pytest.fixture(scope="module")
def hub_cache(exported_run, tmp_path_factory):
    """org/kazllm-tiny in the cache: main at MAIN, tag v1 at V1
    (the same files: what differs is the commit)."""
    cache = tmp_path_factory.mktemp("hf_cache")
    export = exported_run.stage_dir("export")
    fill_hf_cache(cache, "org/kazllm-tiny", export, MAIN)
    fill_hf_cache(cache, "org/kazllm-tiny", export, V1, refs=("v1",))
    return cache


@pytest.mark.parametrize("revision, commit", [("main", MAIN), ("v1", V1), (V1, V1)])
def test_eval_by_hub_id_and_revision_records_the_commit_it_resolved_to(hub_cache, tmp_path, revision, commit):
    out = tmp_path / "ev"
    result = run_offline(
        hub_cache,
        "eval",
        "--model",
        "org/kazllm-tiny",
        "--revision",
        revision,
        "--tasks",
        "sample_ppl_kk",
        "--limit",
        "2",
        "--out",
        str(out),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    ident = results["model_identity"]
    assert (results["model"], results["revision"]) == ("org/kazllm-tiny", commit)
    assert (ident["hub_id"], ident["revision_requested"], ident["revision"]) == (
        "org/kazllm-tiny",
        revision,
        commit,
    )
    assert len(ident["sha256"]) == 64 and "model.safetensors" in ident["files_sha256"]
    saved = yaml.safe_load((out / "resolved_config.yaml").read_text())["eval"]
    assert (saved["model"], saved["revision"], saved["tasks"]) == (
        "org/kazllm-tiny",
        revision,
        ["sample_ppl_kk"],
    )
    manifest = json.loads((out / "manifest.json").read_text())
    assert (
        manifest["model_identity"]["revision"] == commit and "files_sha256" not in manifest["model_identity"]
    )


def test_an_unknown_revision_or_a_revision_on_a_directory_is_a_one_line_error(
    hub_cache, exported_run, tmp_path
):
    unknown = run_offline(
        hub_cache,
        "eval",
        "--model",
        "org/kazllm-tiny",
        "--revision",
        "v9",
        "--tasks",
        "sample_ppl_kk",
        "--out",
        str(tmp_path / "a"),
    )
    assert unknown.returncode == 2 and "Traceback" not in unknown.stderr
    assert (
        "--model: 'org/kazllm-tiny@v9' is neither a local directory nor reachable on the hub"
        in unknown.stderr
    )
    local = run_offline(
        hub_cache,
        "eval",
        "--model",
        str(exported_run.stage_dir("export")),
        "--revision",
        "main",
        "--tasks",
        "sample_ppl_kk",
        "--out",
        str(tmp_path / "b"),
    )
    assert local.returncode == 2 and "a revision applies to hub ids only" in local.stderr
    both = run_offline(
        hub_cache,
        "eval",
        "--model",
        "org/kazllm-tiny@main",
        "--revision",
        "v1",
        "--tasks",
        "sample_ppl_kk",
        "--out",
        str(tmp_path / "c"),
    )
    assert both.returncode == 2 and "names a revision and --revision v1 names another" in both.stderr


def test_a_model_that_needs_its_own_code_is_refused_unless_asked(hub_cache, exported_run, tmp_path):
    src = tmp_path / "remote"
    src.mkdir()
    for f in exported_run.stage_dir("export").iterdir():
        (src / f.name).write_bytes(f.read_bytes())
    config = json.loads((src / "config.json").read_text())
    # a model type transformers does not implement: only the repo's own modeling file could load it
    config |= {
        "model_type": "evil-llm",
        "architectures": ["EvilForCausalLM"],
        "auto_map": {
            "AutoConfig": "modeling_evil.EvilConfig",
            "AutoModelForCausalLM": "modeling_evil.EvilForCausalLM",
        },
    }
    (src / "config.json").write_text(json.dumps(config))
    (src / "modeling_evil.py").write_text("raise SystemExit('remote code ran')\n")
    fill_hf_cache(hub_cache, "org/needs-code", src, MAIN)
    result = run_offline(
        hub_cache,
        "eval",
        "--model",
        "org/needs-code",
        "--tasks",
        "sample_ppl_kk",
        "--out",
        str(tmp_path / "ev"),
    )
    assert "remote code ran" not in result.stdout + result.stderr
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert "cannot load model 'org/needs-code': the repository holds custom code" in result.stderr
    assert "pass --trust-remote-code" in result.stderr


def test_tokenizer_extend_reads_a_hub_base_at_a_revision_and_records_its_commit(
    qwen2_tokenizer_dir, tmp_path
):
    cache = tmp_path / "cache"
    fill_hf_cache(cache, "Qwen/Qwen2-tok", qwen2_tokenizer_dir, V1, refs=("v1",))
    text = tmp_path / "kk.txt"
    text.write_text("Қазақстан Республикасы — тәуелсіз мемлекет.\nҚазақ тілі мемлекеттік тіл.\n" * 50)
    result = run_offline(
        cache,
        "tokenizer",
        "extend",
        "--base",
        "Qwen/Qwen2-tok",
        "--revision",
        "v1",
        "--input",
        f"kk={text}",
        "--out",
        str(tmp_path / "ext"),
        "--max-new",
        "20",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    base = json.loads((tmp_path / "ext" / "extend_manifest.json").read_text())["base"]
    assert (base["repo_id"], base["revision"]) == ("Qwen/Qwen2-tok", V1)


def test_model_init_from_a_hub_id_at_a_revision_resolves_offline_to_its_commit(
    tiny_qwen_base, tmp_path, monkeypatch
):
    """model.init_from=ORG/NAME@REV reads the cache like huggingface_hub does; the plan carries the commit
    that checkpoints/init_from.json then records."""
    import huggingface_hub.constants

    from kazllm.config import load_config
    from kazllm.train import plan_init_from

    fill_hf_cache(tmp_path / "cache", "org/tiny-qwen", tiny_qwen_base, V1, refs=("main", "v1"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    (tmp_path / "run" / "tokenizer").mkdir(parents=True)
    (tmp_path / "run" / "tokenizer" / "hf").symlink_to(tiny_qwen_base)  # the base's own tokenizer: no resize
    for spec in ("org/tiny-qwen@v1", "org/tiny-qwen", f"org/tiny-qwen@{V1}"):
        cfg = load_config(None, [f"run.out_dir={tmp_path / 'run'}", f"model.init_from={spec}"])
        plan = plan_init_from(cfg)
        assert (plan.base.repo_id, plan.base.revision, plan.resize) == ("org/tiny-qwen", V1, False)
