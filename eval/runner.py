"""`kazllm eval`: run tasks on a model (or score a system's output file); write results.json,
samples.jsonl, report.md, resolved_config.yaml and manifest.json.

    kazllm eval --model runs/quickstart/export --tasks sample_mt_kk_en,sample_kkmmlu --out runs/ev1
    kazllm eval --model gpt2 --tasks ntrex_kk_en --limit 100 --dtype bf16 --device cuda --out runs/ev2
    kazllm eval --tasks ntrex_kk_en --hypotheses my_mt_system.txt --out runs/mt   # no model needed
    kazllm eval --tasks kazqad --predictions api_model.jsonl --out runs/api
        # {"index": 0, "prediction": ".."}
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import platform
import time
from pathlib import Path

from tqdm import tqdm

from eval.metrics import (
    N_BOOTSTRAP,
    Z95,
    bits_per_byte,
    exact_match,
    mean_stderr,
    token_f1,
    translation_scores,
)
from eval.report import headline_metrics, render_report  # noqa: F401  (headline_metrics: quickstart's import)
from eval.tasks import LETTERS, TaskSpec, fewshot_prefix, load_items, load_task, read_lines, render
from kazllm.artifacts import file_sha256, progress_interval, write_json
from kazllm.errors import InputError


# -- task types ------------------------------------------------------------------------------------------
def run_perplexity(lm, spec: TaskSpec, items: list[dict]) -> tuple[dict, list[dict]]:
    window = spec.max_length or lm.max_length
    samples, nll, tokens, n_bytes, words = [], 0.0, 0, 0, 0
    for it in tqdm(items, desc=spec.name, leave=False, mininterval=progress_interval()):
        doc = it["text"]
        doc_nll, doc_tokens = lm.text_nll(doc, window)
        b, w = len(doc.encode("utf-8")), len(doc.split())
        nll, tokens, n_bytes, words = nll + doc_nll, tokens + doc_tokens, n_bytes + b, words + w
        samples.append(
            {
                "index": it["index"],
                "prompt": doc[:200],
                "nll": doc_nll,
                "tokens": doc_tokens,
                "bytes": b,
                "score": {"bits_per_byte": bits_per_byte(doc_nll, b)},
            }
        )
    metrics = {
        "bits_per_byte": bits_per_byte(nll, n_bytes),
        "token_perplexity": math.exp(nll / max(tokens, 1)),
        "word_perplexity": math.exp(nll / max(words, 1)),
        "tokens_per_byte": tokens / max(n_bytes, 1),
    }
    return metrics, samples


def score_translation(
    items: list[dict], prompts: list[str], hyps: list[str]
) -> tuple[dict, dict, list[dict]]:
    """Corpus chrF++ and BLEU with signatures and sacrebleu's bootstrap intervals (`extra`), and per-sentence
    scores for samples.jsonl."""
    from sacrebleu.metrics import CHRF

    refs = [it["target"] for it in items]
    metrics, signatures, confidence = translation_scores(hyps, refs, n_bootstrap=N_BOOTSTRAP)
    chrf = CHRF(word_order=2)
    samples = [
        {
            "index": it["index"],
            "prompt": p,
            "prediction": h,
            "reference": r,
            "score": {"chrf++": round(chrf.sentence_score(h, [r]).score, 4)},
        }
        for it, p, h, r in zip(items, prompts, hyps, refs)
    ]
    return metrics, {"signatures": signatures, "confidence": confidence}, samples


# Metrics that are a mean over items, and the factor from the per-item score to the metric
# (EM/F1 are percent).
MEAN_METRICS = {"acc": 1.0, "acc_norm": 1.0, "exact_match": 100.0, "f1": 100.0}


def mean_uncertainty(metrics: dict, samples: list[dict]) -> dict:
    """For each mean metric: lm-evaluation-harness' standard error of the per-item scores (in the metric's
    units) and the 95% interval mean ± 1.96 stderr."""
    out: dict = {"stderr": {}, "confidence": {}}
    for name in metrics:
        if name in MEAN_METRICS:
            se = mean_stderr([s["score"][name] for s in samples])
            if se is not None:
                se *= MEAN_METRICS[name]
                out["stderr"][name] = se
                out["confidence"][name] = {"ci95": Z95 * se, "method": "normal: 1.96 x stderr"}
    return out


DEFAULT_MAX_NEW_TOKENS = 48


def _budget(lm, spec: TaskSpec, run_value: int) -> int:
    """The run's budget if set (it overrides every task), else the task's, else 48; at most half the
    model's context, so the prompt keeps room."""
    return min(run_value or spec.max_new_tokens or DEFAULT_MAX_NEW_TOKENS, lm.max_length // 2)


def _in_chunks(fn, spec: TaskSpec, requests: list, chunk: int) -> list:
    """fn over the requests in chunks of `chunk` (many batches each, so the wrapper still sorts by
    length), with a progress bar."""
    out: list = []
    with tqdm(total=len(requests), desc=spec.name, leave=False, mininterval=progress_interval()) as bar:
        for start in range(0, len(requests), chunk):
            out += fn(requests[start : start + chunk])
            bar.update(min(chunk, len(requests) - start))
    return out


def _generate(lm, spec: TaskSpec, prompts: list[str], max_new_tokens: int) -> list[str]:
    budget = _budget(lm, spec, max_new_tokens)
    return _in_chunks(lambda ps: lm.generate_until(ps, spec.stop, budget), spec, prompts, 16 * lm.batch_size)


def run_translation(lm, spec: TaskSpec, shots, items, max_new_tokens: int) -> tuple[dict, dict, list[dict]]:
    prefix = fewshot_prefix(spec, shots)
    prompts = [prefix + render(spec.prompt, it, spec.path) for it in items]
    hyps = _generate(lm, spec, prompts, max_new_tokens)
    return score_translation(items, prompts, hyps)


def run_qa_extractive(lm, spec: TaskSpec, shots, items, max_new_tokens: int) -> tuple[dict, list[dict]]:
    prefix = fewshot_prefix(spec, shots)
    prompts = [prefix + render(spec.prompt, it, spec.path) for it in items]
    return score_qa(items, prompts, _generate(lm, spec, prompts, max_new_tokens))


def score_qa(items: list[dict], prompts: list[str], preds: list[str]) -> tuple[dict, list[dict]]:
    """EM and F1 (percent) of answers given as text, from a model or a --predictions file."""
    samples, em, f1 = [], 0.0, 0.0
    for it, prompt, pred in zip(items, prompts, preds):
        e, f = exact_match(pred, it["answers"]), token_f1(pred, it["answers"])
        em, f1 = em + e, f1 + f
        samples.append(
            {
                "index": it["index"],
                "id": it.get("id"),
                "prompt": prompt,
                "prediction": pred,
                "reference": it["answers"],
                "score": {"exact_match": e, "f1": f},
            }
        )
    n = max(len(items), 1)
    return {"exact_match": 100 * em / n, "f1": 100 * f1 / n}, samples


def run_multiple_choice(lm, spec: TaskSpec, shots, items) -> tuple[dict, list[dict]]:
    """lm-evaluation-harness' scheme (0.4): each choice (the answer's text, or its letter with
    `choices: letters`) is scored as the continuation " " + choice of the prompt; acc takes the highest
    log-likelihood, acc_norm the highest per character of the choice (without the space)."""
    prefix = fewshot_prefix(spec, shots)
    prompts = [prefix + render(spec.prompt, it, spec.path) for it in items]
    conts = [
        list(LETTERS[: len(it["choices"])]) if spec.choices == "letters" else it["choices"] for it in items
    ]
    requests = [(p, " " + c) for p, cs in zip(prompts, conts) for c in cs]
    scores = _in_chunks(lm.loglikelihood, spec, requests, 64 * lm.batch_size)
    samples, acc, acc_norm, k = [], 0, 0, 0
    for it, prompt, cs in zip(items, prompts, conts):
        lls = [scores[k + j][0] for j in range(len(cs))]
        k += len(cs)
        # max() keeps the first of equal scores, like lm-eval's numpy.argmax
        pred = max(range(len(lls)), key=lambda j: lls[j])
        pred_norm = max(range(len(lls)), key=lambda j: lls[j] / len(cs[j]) if cs[j] else -math.inf)
        acc += pred == it["gold"]
        acc_norm += pred_norm == it["gold"]
        samples.append(
            {
                "index": it["index"],
                "prompt": prompt,
                "choices": cs,
                "loglikelihoods": lls,
                "prediction": pred,
                "prediction_norm": pred_norm,
                "reference": it["gold"],
                "score": {"acc": float(pred == it["gold"]), "acc_norm": float(pred_norm == it["gold"])},
            }
        )
    n = max(len(items), 1)
    return {"acc": acc / n, "acc_norm": acc_norm / n}, samples


def score_choices(spec: TaskSpec, items: list[dict], picks: list[int]) -> tuple[dict, list[dict]]:
    """acc of choices made elsewhere (a --predictions file): no log-likelihoods, so no acc_norm."""
    samples = [
        {
            "index": it["index"],
            "prompt": render(spec.prompt, it, spec.path),
            "choices": it["choices"],
            "prediction": k,
            "reference": it["gold"],
            "score": {"acc": float(k == it["gold"])},
        }
        for it, k in zip(items, picks)
    ]
    return {"acc": sum(s["score"]["acc"] for s in samples) / max(len(samples), 1)}, samples


def read_predictions(path: str, spec: TaskSpec, items: list[dict]) -> list:
    """A --predictions file, one JSON object a line: {"index": N, "prediction": "text"} for QA, {"index": N,
    "choice": K} (0-based) for multiple choice; N as in samples.jsonl. Returns the values in item order.
    A bad line, an index that is missing, repeated or not an item is a one-line error naming file and line."""
    key = "choice" if spec.type == "multiple_choice" else "prediction"
    by_index = {it["index"]: it for it in items}
    seen: dict[int, tuple[int, object]] = {}
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{where}: not JSON ({e.msg})") from None
            index = row.get("index") if isinstance(row, dict) else None
            if not isinstance(index, int) or isinstance(index, bool):
                raise InputError(
                    f'{where}: needs an integer "index" (as in samples.jsonl), got {line.strip()[:80]}'
                )
            value = row.get(key)
            if index in seen:
                raise InputError(f"{where}: index {index} again (first on line {seen[index][0]})")
            if index not in by_index:
                span = f"{items[0]['index']}..{items[-1]['index']}" if items else "none"
                raise InputError(
                    f"{where}: index {index} is not an item of task '{spec.name}' (indices {span})"
                )
            if key == "choice":
                n_choices = len(by_index[index]["choices"])
                if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < n_choices:
                    raise InputError(
                        f'{where}: "choice" must be an integer 0..{n_choices - 1} (0-based), got {value!r}'
                    )
            elif not isinstance(value, str):
                raise InputError(f'{where}: "prediction" must be the answer text, got {value!r}')
            seen[index] = (lineno, value)
    missing = [i for i in by_index if i not in seen]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise InputError(
            f"{path}: no prediction for index {missing[0]}{more} of task '{spec.name}' ({len(items)} items)"
        )
    return [seen[it["index"]][1] for it in items]


def prompts_sha256(samples: list[dict]) -> str:
    """One hash of every prompt the task showed (template, description and few-shot examples included):
    two runs with equal hashes asked the same questions."""
    h = hashlib.sha256()
    for s in samples:
        h.update(str(s.get("prompt", "")).encode("utf-8") + b"\0")
    return h.hexdigest()


# -- provenance ------------------------------------------------------------------------------------------
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".gguf")


def weights_identity(path: Path) -> dict:
    """sha256 of every weight file of a model directory and of their list (one hash for the whole model)."""
    files = {f.name: file_sha256(f) for f in sorted(path.iterdir()) if f.suffix in WEIGHT_SUFFIXES}
    combined = hashlib.sha256("\n".join(f"{k} {v}" for k, v in files.items()).encode()).hexdigest()
    return {"sha256": combined, "files_sha256": files}


def model_identity(resolved) -> dict:
    """What was evaluated: a local directory's path, or a hub id with the revision asked for and the commit
    it resolved to (kazllm.hub.ResolvedModel); the weights' sha256 either way."""
    ident: dict = {"path": str(resolved.path)}
    if resolved.repo_id:
        ident |= {
            "hub_id": resolved.repo_id,
            "revision_requested": resolved.source.partition("@")[2] or "main",
            "revision": resolved.revision,
        }
    return ident | weights_identity(resolved.path)


def output_file_identity(kind: str, path: str) -> dict:
    """A system's output file (kind: hypotheses or predictions) and its sha256."""
    return {kind: str(Path(path).resolve()), "sha256": file_sha256(path)}


def data_identity(spec: TaskSpec) -> dict:
    ident: dict = {"files_sha256": {str(p): file_sha256(p) for p in spec.data_files()}}
    if spec.dataset.path:
        ds = spec.dataset
        ident["dataset"] = {"path": ds.path, "name": ds.name, "split": ds.split, "revision": ds.revision}
        local = spec.resolve(ds.path, "dataset.path")
        if local.is_dir():  # a save_to_disk directory: hash its arrow files
            ident["files_sha256"].update({str(p): file_sha256(p) for p in sorted(local.rglob("*.arrow"))})
    return ident


def versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("kazllm", "torch", "transformers", "sacrebleu", "datasets"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


# -- the runner ------------------------------------------------------------------------------------------
def _output_file_task(specs: list[TaskSpec], kind: str, path: str) -> list[TaskSpec]:
    """The one task a system's output file answers, with no few-shot examples: every item is scored and
    the few-shot files are not needed at all."""
    types = ("translation",) if kind == "hypotheses" else ("qa_extractive", "multiple_choice")
    if len(specs) != 1 or specs[0].type not in types:
        what = "one translation task" if kind == "hypotheses" else "one qa_extractive or multiple_choice task"
        raise InputError(f"--{kind} scores {what}: give exactly one with --tasks")
    if not Path(path).is_file():
        raise InputError(f"--{kind} file not found: {path}")
    spec = dataclasses.replace(specs[0], num_fewshot=0, fewshot_data={}, fewshot_split="")
    spec.data_files()  # the references (and sources) must be there
    return [spec]


def evaluate(
    model: str | None,
    tasks: list[str],
    out_dir: Path,
    *,
    limit: int = 0,
    batch_size: int = 8,
    max_new_tokens: int = 0,
    device: str = "auto",
    dtype: str = "auto",
    seed: int = 1234,
    hypotheses: str | None = None,
    predictions: str | None = None,
    config: dict | None = None,
    revision: str = "",
    trust_remote_code: bool = False,
) -> dict:
    """Run `tasks` on `model` into out_dir, or score a system's output file for one task: `hypotheses`
    (one translation a line) or `predictions` (JSONL answers or choices for QA or multiple choice).
    `model` is a directory or a hub id (with `revision`: a branch, tag or commit)."""
    if hypotheses and predictions:
        raise InputError("give --hypotheses (translation) or --predictions (QA, multiple choice), not both")
    output_file = (
        ("hypotheses", hypotheses) if hypotheses else ("predictions", predictions) if predictions else None
    )
    specs = [load_task(t, check_files=not output_file) for t in tasks]
    started, timings = time.perf_counter(), {}
    lm = None
    if output_file:
        specs = _output_file_task(specs, *output_file)
    # Every task's items are read before the model loads: a bad file or dataset fails in seconds.
    loaded = [(spec, *load_items(spec, seed, limit)) for spec in specs]
    timings["load_data"] = round(time.perf_counter() - started, 2)
    if hypotheses:
        hyps, n_refs = read_lines(Path(hypotheses)), len(loaded[0][2])
        if len(hyps) != n_refs:
            raise InputError(
                f"{hypotheses} has {len(hyps)} lines but task '{specs[0].name}' has {n_refs} references"
                + (f" (--limit {limit})" if limit else "")
            )
    if predictions:
        answers = read_predictions(predictions, specs[0], loaded[0][2])
    if output_file:
        ident = output_file_identity(*output_file)
    else:
        if not model:
            raise InputError(
                "no model: give --model DIR_OR_HUB_ID (or eval.model), or --hypotheses / --predictions FILE"
            )
        import torch

        from eval.lm import CausalLM

        torch.manual_seed(seed)
        t0 = time.perf_counter()
        lm = CausalLM(
            model,
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            revision=revision,
            trust_remote_code=trust_remote_code,
        )
        timings["load_model"] = round(time.perf_counter() - t0, 2)
        ident = model_identity(lm.resolved)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "model": str(model or f"{output_file[0]}:{output_file[1]}"),
        "model_identity": ident,
        "model_sha256": ident.get("sha256") if not output_file else None,
        "revision": ident.get("revision"),
        "tasks": {},
        "seed": seed,
        "config": {
            "limit": limit,
            "batch_size": batch_size,
            "max_new_tokens": max_new_tokens,
            "device": device,
            "dtype": dtype,
            "device_used": lm.device_used if lm else None,
            **(config or {}),
        },
        "versions": versions(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "timings": timings,
    }
    with open(out_dir / "samples.jsonl", "w", encoding="utf-8") as samples_file:
        for spec, shots, items in loaded:
            start = time.perf_counter()
            extra: dict = {}
            if hypotheses:
                metrics, extra, samples = score_translation(items, [it["source"] for it in items], hyps)
            elif predictions and spec.type == "qa_extractive":
                metrics, samples = score_qa(
                    items, [render(spec.prompt, it, spec.path) for it in items], answers
                )
            elif predictions:
                metrics, samples = score_choices(spec, items, answers)
            elif spec.type == "perplexity":
                metrics, samples = run_perplexity(lm, spec, items)
            elif spec.type == "translation":
                metrics, extra, samples = run_translation(lm, spec, shots, items, max_new_tokens)
            elif spec.type == "qa_extractive":
                metrics, samples = run_qa_extractive(lm, spec, shots, items, max_new_tokens)
            else:
                metrics, samples = run_multiple_choice(lm, spec, shots, items)
            spread = mean_uncertainty(metrics, samples)
            results["tasks"][spec.name] = {
                "type": spec.type,
                "task_file": spec.path,
                "n": len(samples),
                "metrics": metrics,
                **({"stderr": spread["stderr"]} if spread["stderr"] else {}),
                "confidence": {**spread["confidence"], **extra.get("confidence", {})},
                **({"signatures": extra["signatures"]} if extra.get("signatures") else {}),
                "num_fewshot": len(shots),
                "fewshot_indices": [s["index"] for s in shots],
                "prompts_sha256": prompts_sha256(samples),
                "data": data_identity(spec),
                "seconds": round(time.perf_counter() - start, 2),
            }
            for s in samples:
                samples_file.write(json.dumps({"task": spec.name, **s}, ensure_ascii=False) + "\n")
    timings["total"] = round(time.perf_counter() - started, 2)
    write_json(out_dir / "results.json", results)
    (out_dir / "report.md").write_text(render_report(results), encoding="utf-8")
    return results


def run_eval(
    cfg,
    model: str | None = None,
    tasks: list[str] | None = None,
    out_dir: Path | None = None,
    hypotheses: str | None = None,
    predictions: str | None = None,
) -> dict:
    """`kazllm eval` from a run config: the model defaults to eval.model, else the run's export/; the
    tasks to eval.tasks; the output to the run's eval/, where the resolved config and a manifest go too."""
    from kazllm.artifacts import write_stage_manifest
    from kazllm.config import config_to_dict

    out_dir = Path(out_dir or cfg.stage_dir("eval"))
    if not (hypotheses or predictions):
        model = model or cfg.eval.model or str(cfg.stage_dir("export"))
    # The saved config says what ran (the --model and --tasks given), not the defaults they replaced.
    e = dataclasses.replace(cfg.eval, model=model or "", tasks=list(tasks or cfg.eval.tasks))
    seed = cfg.run.seed if e.seed is None else e.seed
    results = evaluate(
        model,
        e.tasks,
        out_dir,
        limit=e.limit,
        batch_size=e.batch_size,
        max_new_tokens=e.max_new_tokens,
        device=e.device,
        dtype=e.dtype,
        seed=seed,
        hypotheses=hypotheses,
        predictions=predictions,
        config={"eval": config_to_dict(e)},
        revision=e.revision,
        trust_remote_code=e.trust_remote_code,
    )
    # out_dir may be a --out of the user's, not the run's eval/; created: the time results.json records
    write_stage_manifest(
        dataclasses.replace(cfg, eval=e),
        "eval",
        stage_dir=out_dir,
        created=results["created"],
        model=results["model"],
        model_identity={k: v for k, v in results["model_identity"].items() if k != "files_sha256"},
        tasks=list(results["tasks"]),
        outputs=["results.json", "samples.jsonl", "report.md"],
    )
    return results
