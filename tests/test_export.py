"""`kazllm export` as downstream teams meet it: the manifest's contract, the tokenizer giving training's ids
(BOS first, one BOS in a chat), checkpoint choice, dtype, sharding, file modes, an export that appears only
when its logits check passed, and a load with the transformers 4.x line in a throwaway venv."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from data_prep.pretokenize import is_validation
from kazllm import export
from kazllm.artifacts import file_table
from kazllm.config import load_config
from kazllm.errors import KazllmError
from kazllm.shards import TokenShardReader

from .conftest import run_kazllm

CHAT = [
    {"role": "system", "content": "Қысқа жауап бер."},
    {"role": "user", "content": "Қазақстанның астанасы қай қала?"},
]


def readable_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def training_documents(cfg, limit: int | None = None) -> list[tuple[str, list[int]]]:
    """(text, ids) of kept documents, ids being what training saw for that text: its shard document minus the
    closing EOS (shards keep corpus order within each split)."""
    shards = cfg.stage_dir("shards")
    readers = {s: TokenShardReader(shards, s) for s in ("train", "val")}
    seen, out = {"train": 0, "val": 0}, []
    for f in sorted((cfg.stage_dir("prep") / "kept").glob("*.jsonl")):
        for line in f.open(encoding="utf-8"):
            doc = json.loads(line)
            split = "val" if is_validation(doc["id"], cfg.pretokenize.val_fraction) else "train"
            tokens = readers[split].document(seen[split]).tolist()
            seen[split] += 1
            assert tokens[-1] == readers[split].eos_id
            out.append((doc["text"], tokens[:-1]))
            if limit and len(out) == limit:
                return out
    return out


def chat_ids(tokenizer, messages) -> list[int]:
    out = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    return list(out["input_ids"] if hasattr(out, "keys") else out)  # 5.x returns a BatchEncoding, 4.x a list


def new_run(exported_run, out: Path, *overrides: str):
    """A run directory sharing exported_run's stages up to its checkpoints (read only) with an export of its
    own, so these tests never touch the session's export/; returns (config file, overrides, cfg)."""
    out.mkdir(parents=True, exist_ok=True)
    for stage in ("prep", "tokenizer", "shards", "checkpoints"):
        (out / stage).symlink_to(exported_run.stage_dir(stage))
    config = exported_run.stage_dir("prep") / "resolved_config.yaml"
    args = [f"run.out_dir={out}", "export.license=apache-2.0", *overrides]
    return config, args, load_config(config, args)


def export_ok(config: Path, args: list[str], *extra: str) -> None:
    result = run_kazllm("export", "--config", str(config), *args, *extra)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


# ---------------------------------------------------------------------------------------------------
# The session's export (trained 4 steps on CPU, ZeRO-2, exported with the defaults)
# ---------------------------------------------------------------------------------------------------


def test_manifest_names_checkpoint_dtype_logits_check_and_the_checksum_of_every_file(exported_run):
    export_dir = exported_run.stage_dir("export")
    manifest = json.loads((export_dir / "manifest.json").read_text())
    assert (manifest["stage"], manifest["checkpoint"], manifest["step"]) == ("export", "checkpoints/step4", 4)
    assert manifest["dtype"] == "float32"  # auto: the run trained in fp32 (CPU)
    check = manifest["logits_check"]
    assert (
        check["passed"] is True
        and 0 <= check["max_abs_diff"] <= check["tolerance"] == export.LOGITS_TOLERANCE
    )
    assert manifest["max_logit_diff"] == check["max_abs_diff"]  # kept for readers of the first version
    assert manifest["sharded"] is False and manifest["bos_id"] == 1
    assert manifest["files"] == file_table(export_dir)
    assert {"README.md", "resolved_config.yaml", "model.safetensors", "tokenizer.json"} <= set(
        manifest["files"]
    )
    assert set(manifest["files"]) == {p.name for p in export_dir.iterdir()} - {"manifest.json"}
    assert json.loads((export_dir / "config.json").read_text())["dtype"] == "float32"
    for name in [*manifest["files"], "manifest.json"]:  # safetensors alone would be 0600
        assert (export_dir / name).stat().st_mode & 0o777 == readable_mode(), name
    assert not (export_dir.parent / "export.tmp").exists() and not (export_dir.parent / "export.old").exists()


def test_tokenizer_config_loads_outside_transformers_5_with_the_models_context(exported_run):
    from transformers import AutoTokenizer

    export_dir = exported_run.stage_dir("export")
    config = json.loads((export_dir / "tokenizer_config.json").read_text())
    context = json.loads((export_dir / "config.json").read_text())["max_position_embeddings"]
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"  # not 5.x's TokenizersBackend
    assert config["model_max_length"] == context == 1024
    assert config["add_bos_token"] is True and config["add_eos_token"] is False
    assert not {"backend", "is_local", "local_files_only", "split_special_tokens"} & set(config)
    tokenizer = AutoTokenizer.from_pretrained(str(export_dir))
    assert tokenizer.model_max_length == 1024 and tokenizer.bos_token_id == 1


def test_tokenizer_gives_every_document_the_ids_training_saw(exported_run):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(exported_run.stage_dir("export")))
    docs = training_documents(exported_run)
    assert len(docs) > 100 and all(ids[0] == 1 for _, ids in docs)
    texts = [text for text, _ in docs]
    assert tokenizer(texts)["input_ids"] == [ids for _, ids in docs]
    # eval/lm.py puts the BOS itself before text encoded without special tokens: the same ids, one BOS
    plain = tokenizer(texts[:20], add_special_tokens=False)["input_ids"]
    assert [[tokenizer.bos_token_id, *ids] for ids in plain] == [ids for _, ids in docs[:20]]


def test_text_that_spells_a_special_token_keeps_training_ids_with_split_special_tokens(exported_run):
    """Training encoded a literal "</s>" as text; the export parses it as EOS (chat templates need their own
    "<s>" parsed), and `split_special_tokens=True` gives training's ids."""
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(exported_run.stage_dir("export")))
    text = "Мәтін </s> <s> соңы."
    training = Tokenizer.from_file(str(exported_run.stage_dir("tokenizer") / "hf" / "tokenizer.json"))
    training.encode_special_tokens = True  # as data_prep/pretokenize.py encodes
    assert tokenizer(text, split_special_tokens=True).input_ids == [
        1,
        *training.encode(text, add_special_tokens=False).ids,
    ]
    assert 2 in tokenizer(text).input_ids


def test_chat_template_starts_with_one_bos_and_ends_on_the_assistant_turn(exported_run):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(exported_run.stage_dir("export")))
    text = tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, tokenize=False)
    assert text == (
        "<s><|system|>\nҚысқа жауап бер.<|end|>\n<|user|>\nҚазақстанның астанасы қай қала?<|end|>\n"
        "<|assistant|>\n"
    )
    ids = chat_ids(tokenizer, CHAT)
    chat = json.loads((exported_run.stage_dir("tokenizer") / "manifest.json").read_text())["chat_tokens"]
    assert ids[0] == tokenizer.bos_token_id and ids.count(tokenizer.bos_token_id) == 1
    assert ids.count(chat["<|end|>"]) == 2 and chat["<|assistant|>"] in ids[-3:]
    with pytest.raises(Exception, match="chat roles are system, user and assistant"):
        tokenizer.apply_chat_template([{"role": "tool", "content": "x"}], tokenize=False)


# ---------------------------------------------------------------------------------------------------
# Choosing, converting, sharding, failing
# ---------------------------------------------------------------------------------------------------


def test_step_picks_that_checkpoint_and_a_missing_or_corrupted_one_names_the_available(
    exported_run, tmp_path
):
    config, args, cfg = new_run(exported_run, tmp_path)
    export_ok(config, args, "--step", "2")
    manifest = json.loads((cfg.stage_dir("export") / "manifest.json").read_text())
    assert (manifest["checkpoint"], manifest["step"]) == ("checkpoints/step2", 2)

    missing = run_kazllm("export", "--config", str(config), *args, "--step", "3")
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().splitlines()[-1].endswith("has no step3 (available: step2, step4)")
    assert json.loads((cfg.stage_dir("export") / "manifest.json").read_text())["step"] == 2  # untouched

    # A corrupted checkpoint: a copy of the run's checkpoints with one byte of step2 flipped.
    (tmp_path / "checkpoints").unlink()
    shutil.copytree(exported_run.stage_dir("checkpoints"), tmp_path / "checkpoints")
    weights = next((tmp_path / "checkpoints" / "step2").glob("*optim_states.pt"))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 1
    weights.write_bytes(bytes(data))
    corrupted = run_kazllm("export", "--config", str(config), *args, "export.step=2")
    assert corrupted.returncode == 2 and "Traceback" not in corrupted.stderr
    assert (
        "step2 fails its checksum verification" in corrupted.stderr
        and "available: step2, step4" in corrupted.stderr
    )


def test_bf16_export_past_the_shard_size_has_an_index_and_loads_with_auto_classes(exported_run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config, args, cfg = new_run(exported_run, tmp_path, "export.dtype=bf16", "export.max_shard_size=1MB")
    export_ok(config, args)
    export_dir = cfg.stage_dir("export")
    manifest = json.loads((export_dir / "manifest.json").read_text())
    index = json.loads((export_dir / "model.safetensors.index.json").read_text())
    shards = sorted(set(index["weight_map"].values()))
    assert len(shards) > 1 and shards[0] == f"model-00001-of-{len(shards):05d}.safetensors"
    assert not (export_dir / "model.safetensors").exists()
    assert manifest["sharded"] is True and set(shards) <= set(manifest["files"])
    assert manifest["dtype"] == "bfloat16" and manifest["logits_check"]["passed"] is True
    assert json.loads((export_dir / "config.json").read_text())["dtype"] == "bfloat16"

    model = AutoModelForCausalLM.from_pretrained(str(export_dir))
    assert model.dtype == torch.bfloat16
    full = AutoModelForCausalLM.from_pretrained(str(exported_run.stage_dir("export")))
    for name, tensor in full.state_dict().items():  # the fp32 export, rounded: nothing else differs
        assert torch.equal(model.state_dict()[name], tensor.to(torch.bfloat16)), name
    ids = AutoTokenizer.from_pretrained(str(export_dir))("Қазақстан", return_tensors="pt").input_ids
    assert model.generate(ids, max_new_tokens=4, do_sample=False).shape[1] > ids.shape[1]


def test_a_failed_logits_check_keeps_the_previous_export_and_leaves_no_temporary_folder(
    exported_run, tmp_path, monkeypatch
):
    """The check really runs and really fails: a tolerance below zero rejects even identical logits."""
    _, _, cfg = new_run(exported_run, tmp_path)
    export.run_export(cfg)
    before = file_table(cfg.stage_dir("export"), exclude=())
    monkeypatch.setattr(export, "LOGITS_TOLERANCE", -1.0)
    failed = r"export check failed: checkpoints/step4 .*\(tolerance -1\); the previous export/ is unchanged"
    with pytest.raises(KazllmError, match=failed) as e:
        export.run_export(cfg)
    assert "\n" not in str(e.value)
    assert file_table(cfg.stage_dir("export"), exclude=()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoints",
        "export",
        "prep",
        "shards",
        "tokenizer",
    ]


def test_a_bad_shard_size_is_a_one_line_error_before_any_work(exported_run, tmp_path):
    config, args, cfg = new_run(exported_run, tmp_path, "export.max_shard_size=5 gigs")
    result = run_kazllm("export", "--config", str(config), *args)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "export.max_shard_size='5 gigs'" in result.stderr and not cfg.stage_dir("export").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "zero, nproc, precision, dtype", [(3, 2, "bf16", torch.bfloat16), (0, 1, "fp32", torch.float32)]
)
def test_zero3_and_zero0_checkpoints_export_the_weights_deepspeed_gathers(
    sample_run, tmp_path, zero, nproc, precision, dtype
):
    """ZeRO-3 (2 ranks, bf16: export.dtype auto gives bf16) goes through DeepSpeed's lazy gather one parameter
    at a time, ZeRO-0 through the model-states file: both give DeepSpeed's own eager gather, in the
    export dtype."""
    from safetensors.torch import load_file

    for stage in ("prep", "tokenizer", "shards"):
        (tmp_path / stage).symlink_to(sample_run.stage_dir(stage))
    config = sample_run.stage_dir("prep") / "resolved_config.yaml"
    args = [
        f"run.out_dir={tmp_path}",
        "train.steps=2",
        "train.warmup_steps=1",
        f"train.nproc={nproc}",
        f"train.zero_stage={zero}",
        f"train.precision={precision}",
        "train.micro_batch_size=2",
        "train.eval_every=0",
        "export.license=apache-2.0",
    ]
    for command in ("train", "export"):
        result = run_kazllm(command, "--config", str(config), *args)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    manifest = json.loads((tmp_path / "export" / "manifest.json").read_text())
    assert manifest["dtype"] == export.DTYPE_NAMES[dtype] and manifest["logits_check"]["passed"] is True
    ckpt = tmp_path / "checkpoints"
    if zero == 0:
        states = torch.load(
            ckpt / "step2" / "mp_rank_00_model_states.pt", map_location="cpu", weights_only=False
        )
        reference = states["module"]
    else:
        from deepspeed.utils.zero_to_fp32 import get_fp32_state_dict_from_zero_checkpoint

        reference = get_fp32_state_dict_from_zero_checkpoint(str(ckpt), tag="step2")
    saved = load_file(tmp_path / "export" / "model.safetensors")
    assert set(saved) == set(reference) - {"lm_head.weight"}  # tied to the embeddings
    for name, tensor in saved.items():
        assert tensor.dtype == dtype and torch.equal(tensor, reference[name].to(dtype)), name


# ---------------------------------------------------------------------------------------------------
# transformers 4.x, in a throwaway venv
# ---------------------------------------------------------------------------------------------------

TF4_SPEC = "transformers<5"
TF4_PROBE = """
import json, sys, torch, transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
request = json.load(open(sys.argv[1]))
out = {"version": transformers.__version__}
for name, path in request["exports"].items():
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, torch_dtype="auto").eval()
    ids = [tokenizer(text).input_ids for text in request["texts"]]
    with torch.no_grad():
        logits = model(torch.tensor([ids[0]])).logits[0].float()
    out[name] = {"class": type(tokenizer).__name__, "ids": ids, "dtype": str(model.dtype), \
"logits": logits.tolist(),
                 "chat": list(tokenizer.apply_chat_template(request["chat"], add_generation_prompt=True))}
print(json.dumps(out))
"""


def tf4_python() -> Path:
    """Python of a venv with the newest transformers 4.x, its tokenizers and safetensors, and this torch (CPU
    wheel here). Built once into ~/.cache/kazllm-tf4 (KAZLLM_TF4_VENV to move it) and used when its `complete`
    marker, written last, is there (an interrupted build is rebuilt); skips the test when pip
    cannot install."""
    root = Path(os.environ.get("KAZLLM_TF4_VENV") or Path.home() / ".cache" / "kazllm-tf4")
    torch_version = torch.__version__.split("+")[0]
    venv = root / f"py{sys.version_info.major}{sys.version_info.minor}-torch{torch_version}"
    python, marker = venv / "bin" / "python", venv / "complete"
    if marker.is_file():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)
    for step in (
        [sys.executable, "-m", "venv", str(venv)],
        [str(python), "-m", "pip", "install", "-q", f"torch=={torch_version}", TF4_SPEC],
    ):
        result = subprocess.run(step, capture_output=True, text=True, timeout=900)
        if result.returncode != 0:
            pytest.skip(
                f"cannot build a transformers 4.x venv ({' '.join(step[-2:])}): "
                f"{(result.stderr.strip().splitlines() or ['?'])[-1][:200]}"
            )
    marker.write_text(
        subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True, text=True).stdout
    )
    return python


@pytest.mark.slow
def test_transformers_4_loads_the_export_with_the_same_ids_chat_and_logits(exported_run, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    python = tf4_python()
    built = time.perf_counter() - t0
    config, args, cfg = new_run(
        exported_run, tmp_path / "bf16", "export.dtype=bf16", "export.max_shard_size=1MB"
    )
    export_ok(config, args)
    exports = {"fp32": str(exported_run.stage_dir("export")), "bf16_sharded": str(cfg.stage_dir("export"))}
    docs = training_documents(exported_run, limit=30)
    texts = [text for text, _ in docs]
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"exports": exports, "texts": texts, "chat": CHAT}, ensure_ascii=False))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    t1 = time.perf_counter()
    result = subprocess.run(
        [str(python), "-c", TF4_PROBE, str(request)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    old = json.loads(result.stdout.strip().splitlines()[-1])
    print(f"transformers {old['version']}: venv {built:.1f} s, load and run {time.perf_counter() - t1:.1f} s")
    assert old["version"].startswith("4.")
    for name, path in exports.items():
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path).eval()
        assert old[name]["class"] == "PreTrainedTokenizerFast"
        assert old[name]["ids"] == [ids for _, ids in docs] == tokenizer(texts)["input_ids"]
        assert old[name]["chat"] == chat_ids(tokenizer, CHAT) and old[name]["chat"].count(1) == 1
        assert old[name]["dtype"] == str(model.dtype)
        with torch.no_grad():
            logits = model(torch.tensor([docs[0][1]])).logits[0].float()
        # The same torch runs both (measured: identical logits, fp32 and bf16); the margin is one bf16
        # rounding step, should another 4.x order an operation differently.
        rtol = 0.0 if model.dtype == torch.float32 else 2**-7
        assert torch.allclose(torch.tensor(old[name]["logits"]), logits, atol=1e-4, rtol=rtol), name
