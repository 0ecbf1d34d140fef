r"""`kazllm eval export-lm-eval`: every kazllm task as an lm-evaluation-harness (0.4) task YAML, so lm-eval
scores the same items with the same prompts and the same metrics, item for item.

    kazllm eval export-lm-eval --out lm_eval_tasks
    lm_eval --model hf --model_args pretrained=MODEL_DIR,add_bos_token=True,dtype=float32 \
        --include_path lm_eval_tasks --tasks kazllm_sample_kkmmlu --batch_size 1 --log_samples \
        --output_path out

How the scores stay identical (tests/test_eval_parity.py runs lm-eval on the exported files):

- the items come from kazllm itself: each YAML's `custom_dataset` is `load_dataset` below, which reads the
  task with eval.tasks (same files, same order, same seeded few-shot draw, examples not scored) and gives
  lm-eval a `test` split and a `fewshot` split holding exactly kazllm's examples, taken in order
  (sampler first_n);
- the prompts are rendered by kazllm (`kazllm_prompt`, `kazllm_target`); lm-eval joins them as kazllm does:
  description, then each example as prompt + " " + target + a blank line, then the prompt;
- multiple choice scores " " + each choice (`target_delimiter: " "`), acc and acc_norm (per character) as
  kazllm does; translation uses lm-eval's own chrf++ and bleu (sacrebleu defaults, as kazllm); QA's EM/F1
  call kazllm's Kazakh-aware normalisation (`process_qa`), so kazllm must be importable where lm_eval runs;
- BOS: kazllm puts BOS (else EOS) before every context; lm-eval needs `add_bos_token=True` in
  --model_args for that (its default depends on the tokenizer), and the tokenizer must add BOS when asked
  (a kazllm export's does: its post-processor prepends <s>);
- generation: greedy, stopped at the task's stop strings, max_gen_toks = the task's budget (kazllm caps it
  at half the model's context; so does this only where the model allows it), and --batch_size 1 on both
  sides for bit-identical text (left padding changes float rounding; a near-tie can flip a greedy token);
- perplexity (loglikelihood_rolling): run with `add_bos_token=False` (lm-eval scores a rolling text from its
  BOS prefix already); equal where each document fits one window (longer ones: lm-eval's windows are
  disjoint, kazllm's advance by half a window).
"""

from __future__ import annotations

from pathlib import Path

import yaml

from eval.tasks import LETTERS, TaskSpec, known_tasks, load_items, load_task, render

HELPER_MODULE = "kazllm_lm_eval"
HELPER_SOURCE = (
    '"""Written by `kazllm eval export-lm-eval`: lm-eval imports these through `!function` in the task '
    '''YAMLs.
kazllm must be importable here (pip install 'kazllm[eval]')."""

from eval.lm_eval_export import load_dataset, process_qa  # noqa: F401
'''
)
DEFAULT_MAX_NEW_TOKENS = 48  # eval.runner's default budget (kept equal by a test)


def _delimited(spec: TaskSpec, target: str) -> tuple[str, str]:
    """(target_delimiter, target text): lm-eval puts the delimiter between prompt and target."""
    return (" ", target[1:]) if target.startswith(" ") else ("", target)


def _rows(spec: TaskSpec, items: list[dict]) -> list[dict]:
    rows = []
    for it in items:
        row = {"index": it["index"]}
        if spec.type == "perplexity":
            row["kazllm_text"] = it["text"]
        else:
            row["kazllm_prompt"] = render(spec.prompt, it, spec.path)
            row["kazllm_target"] = (
                _delimited(spec, render(spec.target, it, spec.path))[1] if spec.target else ""
            )
        if spec.type == "multiple_choice":
            row["kazllm_choices"] = (
                list(LETTERS[: len(it["choices"])]) if spec.choices == "letters" else it["choices"]
            )
            row["kazllm_gold"] = it["gold"]
        elif spec.type == "qa_extractive":
            row["kazllm_answers"] = it["answers"]
        elif spec.type == "translation":
            row["kazllm_reference"] = it["target"]
        rows.append(row)
    return rows


def load_dataset(task_file: str, seed: int = 1234, **_metadata):
    """lm-eval's custom_dataset: kazllm's items of `task_file` as a DatasetDict (test, and fewshot when the
    task shows examples). lm-eval also passes its task metadata; it is ignored."""
    import datasets

    spec = load_task(task_file)
    shots, items = load_items(spec, seed)
    splits = {"test": datasets.Dataset.from_list(_rows(spec, items))}
    if shots:
        splits["fewshot"] = datasets.Dataset.from_list(_rows(spec, shots))
    return datasets.DatasetDict(splits)


def process_qa(doc: dict, results: list[str]) -> dict:
    """EM and F1 in percent with kazllm's Kazakh-aware normalisation (eval.metrics)."""
    from eval.metrics import exact_match, token_f1

    pred = results[0].strip()
    return {
        "exact_match": 100 * exact_match(pred, doc["kazllm_answers"]),
        "f1": 100 * token_f1(pred, doc["kazllm_answers"]),
    }


def _metric(name: str, aggregation: str | None = None) -> dict:
    return {"metric": name, **({"aggregation": aggregation} if aggregation else {}), "higher_is_better": True}


def task_config(spec: TaskSpec, seed: int) -> tuple[dict, dict]:
    """The lm-eval config of one task, and its `!function` fields (written as YAML tags)."""
    config: dict = {
        "task": f"kazllm_{spec.name}",
        "dataset_kwargs": {"task_file": spec.path, "seed": seed},
        "test_split": "test",
        "metadata": {"version": 1.0, "kazllm_task": spec.name},
    }
    functions = {"custom_dataset": f"{HELPER_MODULE}.load_dataset"}
    if spec.type == "perplexity":
        config |= {
            "output_type": "loglikelihood_rolling",
            "doc_to_text": "",
            "doc_to_target": "kazllm_text",
            "metric_list": [{"metric": m} for m in ("word_perplexity", "byte_perplexity", "bits_per_byte")],
        }
        return config, functions
    delimiter = _delimited(spec, spec.target)[0]
    config |= {
        "doc_to_text": "kazllm_prompt",
        "target_delimiter": delimiter,
        "fewshot_delimiter": "\n\n",
        "num_fewshot": spec.num_fewshot,
    }
    if spec.description:
        config["description"] = spec.description
    if spec.num_fewshot:
        config |= {"fewshot_split": "fewshot", "fewshot_config": {"sampler": "first_n"}}
    if spec.type == "multiple_choice":
        config |= {
            "output_type": "multiple_choice",
            "doc_to_choice": "kazllm_choices",
            "doc_to_target": "kazllm_gold",
            "metric_list": [_metric("acc", "mean"), _metric("acc_norm", "mean")],
        }
        return config, functions
    config |= {
        "output_type": "generate_until",
        "doc_to_target": "kazllm_target",
        "generation_kwargs": {
            "until": list(spec.stop),
            "do_sample": False,
            "max_gen_toks": spec.max_new_tokens or DEFAULT_MAX_NEW_TOKENS,
        },
    }
    if spec.type == "translation":
        # chrf++/bleu compare against doc_to_target: the reference itself;
        # examples still show the rendered target
        config["doc_to_target"] = "kazllm_reference"
        config.setdefault("fewshot_config", {})["doc_to_target"] = "kazllm_target"
        config["metric_list"] = [_metric("chrf++"), _metric("bleu")]
    else:
        config["metric_list"] = [_metric("exact_match", "mean"), _metric("f1", "mean")]
        functions["process_results"] = f"{HELPER_MODULE}.process_qa"
    return config, functions


def export_tasks(out_dir: Path, tasks: list[str] | None = None, seed: int = 1234) -> list[Path]:
    """Write kazllm_<task>.yaml for each task (default: every shipped task)
    and the helper module to out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"{HELPER_MODULE}.py").write_text(HELPER_SOURCE, encoding="utf-8")
    written = []
    for name in tasks or known_tasks():
        spec = load_task(name, check_files=False)  # the data is read when lm-eval builds the task
        config, functions = task_config(spec, seed)
        text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False, width=1000)
        text += "".join(f"{key}: !function {value}\n" for key, value in functions.items())
        path = out_dir / f"kazllm_{spec.name}.yaml"
        path.write_text(
            f"# kazllm task {spec.name} ({spec.path}), written by `kazllm eval export-lm-eval`\n" + text,
            encoding="utf-8",
        )
        written.append(path)
    return written
