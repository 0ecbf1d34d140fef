"""kazllm.checkpoint on plain files: atomic publish, checksums, fallback, pruning, RNG state, stop markers.

The end-to-end behaviour with real DeepSpeed ranks (kill -9, SIGUSR1, world-size change) is in test_resume.py.
"""

import os
import random
import signal
import time

import numpy as np
import pytest
import torch

from kazllm import checkpoint as ckpt
from kazllm.artifacts import read_json
from kazllm.config import load_config
from kazllm.errors import ConfigError

from .conftest import process_group_of_one


def _save(ckpt_dir, step, payload=b"weights"):
    """What save_checkpoint does on one rank: files into stepN.tmp, checksums, publish."""
    tmp = ckpt_dir / f"step{step}.tmp"
    (tmp / "sub").mkdir(parents=True)
    (tmp / "model_states.pt").write_bytes(payload + bytes([step]))
    (tmp / "sub" / "optim_states.pt").write_bytes(b"adam" * 100 + bytes([step]))
    names = ckpt.checkpoint_files(tmp)
    return ckpt.publish(
        ckpt_dir, tmp, ckpt.step_tag(step), {"step": step, "sha256": ckpt.hash_files(tmp, names)}
    )


def test_publish_renames_the_finished_directory_and_moves_latest_last(tmp_path):
    path = _save(tmp_path, 2)
    assert path == tmp_path / "step2" and not (tmp_path / "step2.tmp").exists()
    assert (tmp_path / "latest").read_text().strip() == "step2"
    meta = read_json(path / ckpt.META_FILE)
    assert set(meta["sha256"]) == {"model_states.pt", "sub/optim_states.pt"}  # every file, nested ones too
    assert ckpt.verify_checkpoint(path) == []


def test_republishing_a_step_replaces_it(tmp_path):
    _save(tmp_path, 4, b"old")
    _save(tmp_path, 4, b"new")
    assert (tmp_path / "step4" / "model_states.pt").read_bytes().startswith(b"new")
    assert ckpt.verify_checkpoint(tmp_path / "step4") == []
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("step")] == ["step4"]


def test_a_flipped_byte_is_named_and_the_previous_checkpoint_is_used(tmp_path):
    _save(tmp_path, 2)
    _save(tmp_path, 4)
    victim = tmp_path / "step4" / "sub" / "optim_states.pt"
    data = bytearray(victim.read_bytes())
    data[10] ^= 0xFF
    victim.write_bytes(bytes(data))
    problems = ckpt.verify_checkpoint(tmp_path / "step4")
    assert problems == [f"{victim}: sha256 mismatch (corrupted)"]
    warnings = []
    assert ckpt.find_latest_good(tmp_path, warn=warnings.append) == tmp_path / "step2"
    assert len(warnings) == 1 and "step4" in warnings[0] and "optim_states.pt" in warnings[0]


def test_missing_files_and_metadata_make_a_checkpoint_unusable(tmp_path):
    _save(tmp_path, 2)
    _save(tmp_path, 4)
    (tmp_path / "step4" / "model_states.pt").unlink()
    assert ckpt.verify_checkpoint(tmp_path / "step4") == [
        f"{tmp_path / 'step4' / 'model_states.pt'}: file missing"
    ]
    (tmp_path / "step2" / ckpt.META_FILE).unlink()
    assert "unreadable checkpoint metadata" in ckpt.verify_checkpoint(tmp_path / "step2")[0]
    assert ckpt.find_latest_good(tmp_path, warn=lambda m: None) is None


def test_an_unfinished_save_is_not_a_checkpoint_and_is_cleaned(tmp_path):
    _save(tmp_path, 2)
    (tmp_path / "step4.tmp").mkdir()  # a crash during the save of step 4
    (tmp_path / "step4.tmp" / "model_states.pt").write_bytes(b"half")
    assert [p.name for p in ckpt.published_checkpoints(tmp_path)] == ["step2"]
    assert ckpt.find_latest_good(tmp_path) == tmp_path / "step2"
    assert ckpt.remove_stale_tmp(tmp_path) == ["step4.tmp"]
    assert not (tmp_path / "step4.tmp").exists()


def test_checkpoints_sort_by_step_number_not_by_name(tmp_path):
    for step in (9, 10, 100):
        _save(tmp_path, step)
    assert [p.name for p in ckpt.published_checkpoints(tmp_path)] == ["step9", "step10", "step100"]
    assert ckpt.find_latest_good(tmp_path) == tmp_path / "step100"


def test_prune_keeps_the_newest_k(tmp_path):
    for step in (2, 4, 6, 8):
        _save(tmp_path, step)
    (tmp_path / ckpt.UNIVERSAL_DIR / "step2").mkdir(parents=True)  # a conversion cache goes with its source
    assert ckpt.prune(tmp_path, keep_last=2) == ["step2", "step4"]
    assert [p.name for p in ckpt.published_checkpoints(tmp_path)] == ["step6", "step8"]
    assert not (tmp_path / ckpt.UNIVERSAL_DIR / "step2").exists()


def test_prune_never_deletes_the_checkpoint_latest_names(tmp_path):
    for step in (2, 4):
        _save(tmp_path, step)
    (tmp_path / "latest").write_text("step2\n")
    assert ckpt.prune(tmp_path, keep_last=1) == []
    assert (tmp_path / "step2").is_dir()


def test_rng_state_round_trips_through_json(tmp_path):
    from kazllm.artifacts import write_json

    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    write_json(tmp_path / "rng.json", ckpt.rng_state())
    expected = (random.random(), np.random.rand(), torch.rand(3))
    random.seed(7), np.random.seed(7), torch.manual_seed(7)
    ckpt.set_rng_state(read_json(tmp_path / "rng.json"))
    got = (random.random(), np.random.rand(), torch.rand(3))
    assert got[0] == expected[0] and got[1] == expected[1] and torch.equal(got[2], expected[2])


def test_stop_file_counts_only_when_touched_during_this_process(tmp_path):
    assert not ckpt.stop_requested_by_file(tmp_path)
    stop = tmp_path / ckpt.PREEMPT_FILE
    stop.touch()
    assert ckpt.stop_requested_by_file(tmp_path)
    assert not ckpt.remove_stale_preempt(tmp_path) and stop.exists()
    old = ckpt.PROCESS_START - 3600
    os.utime(stop, (old, old))  # left behind by an earlier attempt of the job
    assert not ckpt.stop_requested_by_file(tmp_path)
    assert ckpt.remove_stale_preempt(tmp_path) and not stop.exists()


def test_preempted_record_belongs_to_the_attempt_that_wrote_it(tmp_path):
    before = time.time()
    (tmp_path / ckpt.PREEMPT_FILE).touch()
    ckpt.write_preempted(tmp_path, 12, "SIGUSR1")
    assert not (tmp_path / ckpt.PREEMPT_FILE).exists()  # the request was served
    assert ckpt.preempted_since(tmp_path, before) == {
        "step": 12,
        "reason": "SIGUSR1",
        "time": pytest.approx(before, abs=60),
    }
    assert ckpt.preempted_since(tmp_path, time.time() + 1) is None  # a later attempt ignores it
    ckpt.clear_preemption_markers(tmp_path)
    assert ckpt.preempted_since(tmp_path, 0) is None


def test_model_shape_differences_name_the_key():
    saved = {"hidden_size": 128, "num_hidden_layers": 4, "use_cache": True}
    assert ckpt.model_shape_differences(saved, {**saved, "use_cache": False}) == []
    assert ckpt.model_shape_differences(saved, {**saved, "hidden_size": 256}) == [
        "hidden_size: checkpoint 128, config 256"
    ]


@pytest.mark.parametrize(
    "override, message", [("train.keep_last=0", "keep_last"), ("train.save_every=-1", "save_every")]
)
def test_checkpoint_settings_are_checked(override, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, [override])


def test_preemption_signals_only_record_the_request_while_installed():
    before = signal.getsignal(signal.SIGUSR1)
    with ckpt.PreemptionSignals() as signals:
        assert signals.reason is None
        os.kill(os.getpid(), signal.SIGUSR1)  # what Slurm sends before the time limit: no exit, a flag
        deadline = time.monotonic() + 5
        while signals.reason is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert signals.reason == "SIGUSR1"
    assert signal.getsignal(signal.SIGUSR1) is before  # leaving the block puts the old handler back
    assert ckpt.PreemptionSignals().reason is None  # one never installed never fires


# --- the seam: save_checkpoint(engine, dir, TrainState) / load_checkpoint(engine, path) -------------------


@pytest.fixture(scope="module")
def tiny_run():
    """A debug-tiny DeepSpeed engine (ZeRO-2, CPU) in a process group of one, as `kazllm train` builds it."""
    from kazllm.config import ModelSection
    from kazllm.engine import build_engine, deepspeed_config
    from kazllm.model import build_llama_config

    with process_group_of_one() as device:
        cfg = load_config(
            None,
            [
                "train.zero_stage=2",
                "train.micro_batch_size=2",
                "train.steps=10",
                "train.warmup_steps=2",
                "train.keep_last=2",
            ],
        )
        model_config = build_llama_config(ModelSection(), 300, 1, 2, 0)
        engine = build_engine(
            model_config,
            cfg.train,
            deepspeed_config(cfg.train, 1, cuda=False),
            device,
            7,
            log=lambda msg: None,
        )
        yield engine, cfg, model_config


def _step(engine) -> float:
    """One optimizer step on a fixed batch; its loss."""
    from kazllm.engine import causal_lm_loss

    window = torch.randint(0, 300, (2, 17), generator=torch.Generator().manual_seed(1))
    loss = causal_lm_loss(engine, {"input_ids": window[:, :-1], "labels": window[:, 1:]})
    engine.backward(loss)
    engine.step()
    return loss.item()


def _weights(engine) -> dict[str, torch.Tensor]:
    return {name: p.detach().clone() for name, p in engine.module.named_parameters()}


def test_a_train_state_round_trips_and_training_repeats_the_steps_after_the_save(tiny_run, tmp_path):
    """The trainer hands over a TrainState, never itself; loading gives the same state back, and the engine
    continues exactly as it did after the save (weights, Adam moments and LR schedule restored)."""
    engine, cfg, model_config = tiny_run
    _step(engine)
    state = ckpt.TrainState(step=3, loader={"consumed": 12, "seed": 7}, rng=ckpt.rng_state())
    path = ckpt.save_checkpoint(engine, tmp_path, state, cfg=cfg, model_config=model_config)
    assert path == tmp_path / "step3" and ckpt.verify_checkpoint(path) == []
    meta = read_json(path / ckpt.META_FILE)
    assert (meta["step"], meta["loader"], meta["world_size"]) == (3, state.loader, 1)
    assert meta["global_batch"] == cfg.train.global_batch(1) == 2
    assert read_json(path / ckpt.rng_file(0)) == state.rng

    after_save = [_step(engine) for _ in range(2)], _weights(engine)
    loaded = ckpt.load_checkpoint(engine, path, ckpt_dir=tmp_path, train=cfg.train, model_config=model_config)
    assert loaded.state == state
    assert loaded.saved_world_size == 1 and not loaded.via_universal
    after_load = [_step(engine) for _ in range(2)], _weights(engine)
    assert after_load[0] == after_save[0]
    assert all(torch.equal(after_load[1][name], w) for name, w in after_save[1].items())


def test_a_checkpoint_of_another_model_is_refused_before_anything_loads(tiny_run, tmp_path):
    from kazllm.config import ModelSection
    from kazllm.errors import InputError
    from kazllm.model import build_llama_config

    engine, cfg, model_config = tiny_run
    state = ckpt.TrainState(step=1, loader={"consumed": 2})
    path = ckpt.save_checkpoint(engine, tmp_path, state, cfg=cfg, model_config=model_config)
    other = build_llama_config(ModelSection(overrides={"hidden_size": 96}), 300, 1, 2, 0)
    with pytest.raises(InputError, match="saved for another model .*hidden_size: checkpoint"):
        ckpt.load_checkpoint(engine, path, ckpt_dir=tmp_path, train=cfg.train, model_config=other)
