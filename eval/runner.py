"""`kazllm eval`: run tasks on a model; write results.json, samples.jsonl and report.md.

    kazllm eval --config configs/quickstart.yaml
    kazllm eval --config configs/quickstart.yaml eval.model=runs/other/export eval.tasks=[sample_mt_kk_en]
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import torch
from tqdm import tqdm

from eval.lm import CausalLM
from eval.metrics import bits_per_byte, exact_match, token_f1, translation_scores
from eval.tasks import TaskSpec, load_task, read_documents, read_lines
from kazllm.artifacts import progress_interval, read_jsonl
from kazllm.errors import ConfigError

LETTERS = "ABCD"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _fewshot_prefix(spec: TaskSpec, shots: list[dict]) -> str:
    return "".join(spec.prompt.format(**s) + spec.target.format(**s) + "\n\n" for s in shots)


def _split(spec: TaskSpec, items: list[dict], limit: int) -> tuple[list[dict], list[dict]]:
    shots, rest = items[: spec.num_fewshot], items[spec.num_fewshot :]
    return shots, rest[:limit] if limit else rest


# -- task types ------------------------------------------------------------------------------------------
def run_perplexity(lm: CausalLM, spec: TaskSpec, limit: int) -> tuple[dict, list[dict]]:
    path = spec.data_path("path")
    docs = read_documents(path, spec.data.get("separator", ""))[: limit or None]
    window = spec.max_length or lm.max_length
    samples, nll, tokens, n_bytes, words = [], 0.0, 0, 0, 0
    for i, doc in enumerate(tqdm(docs, desc=spec.name, leave=False, mininterval=progress_interval())):
        doc_nll, doc_tokens = lm.text_nll(doc, window)
        b, w = len(doc.encode("utf-8")), len(doc.split())
        nll, tokens, n_bytes, words = nll + doc_nll, tokens + doc_tokens, n_bytes + b, words + w
        samples.append({"item": i, "prompt": doc[:200], "nll": doc_nll, "tokens": doc_tokens, "bytes": b,
                        "bits_per_byte": bits_per_byte(doc_nll, b)})
    import math

    metrics = {
        "bits_per_byte": bits_per_byte(nll, n_bytes),
        "token_perplexity": math.exp(nll / max(tokens, 1)),
        "word_perplexity": math.exp(nll / max(words, 1)),
        "tokens_per_byte": tokens / max(n_bytes, 1),
    }
    return metrics, samples


def run_translation(lm: CausalLM, spec: TaskSpec, limit: int, max_new_tokens: int) -> tuple[dict, list[dict]]:
    sources, targets = read_lines(spec.data_path("source")), read_lines(spec.data_path("target"))
    if len(sources) != len(targets):
        raise ConfigError(f"{spec.path}: source has {len(sources)} lines but target has {len(targets)}")
    items = [{"source": s, "target": t, "source_lang": spec.source_lang, "target_lang": spec.target_lang}
             for s, t in zip(sources, targets)]
    shots, items = _split(spec, items, limit)
    prefix = _fewshot_prefix(spec, shots)
    prompts = [prefix + spec.prompt.format(**it) for it in items]
    hyps = lm.generate_until(prompts, spec.stop, max_new_tokens)
    refs = [it["target"] for it in items]
    metrics, signatures = translation_scores(hyps, refs)
    samples = [{"item": i, "prompt": p, "prediction": h, "reference": r}
               for i, (p, h, r) in enumerate(zip(prompts, hyps, refs))]
    return {**metrics, "signatures": signatures}, samples


def run_qa_extractive(lm: CausalLM, spec: TaskSpec, limit: int, max_new_tokens: int) -> tuple[dict, list[dict]]:
    items = read_jsonl(spec.data_path("path"))
    for it in items:
        it["answer"] = it["answers"]["text"][0]
    shots, items = _split(spec, items, limit)
    prefix = _fewshot_prefix(spec, shots)
    prompts = [prefix + spec.prompt.format(**it) for it in items]
    preds = lm.generate_until(prompts, spec.stop, max_new_tokens)
    samples, em, f1 = [], 0.0, 0.0
    for i, (it, prompt, pred) in enumerate(zip(items, prompts, preds)):
        refs = it["answers"]["text"]
        e, f = exact_match(pred, refs), token_f1(pred, refs)
        em, f1 = em + e, f1 + f
        samples.append({"item": i, "id": it.get("id"), "prompt": prompt, "prediction": pred, "reference": refs,
                        "exact_match": e, "f1": f})
    n = max(len(items), 1)
    return {"exact_match": 100 * em / n, "f1": 100 * f1 / n}, samples


def _mc_items(spec: TaskSpec, raw: list[dict]) -> list[dict]:
    """Normalise Belebele and MMLU-style rows to {passage, question, choices, gold}."""
    items = []
    for row in raw:
        if spec.format == "belebele":
            choices = [row[f"mc_answer{k}"] for k in range(1, 5)]
            items.append({"passage": row["flores_passage"], "question": row["question"], "choices": choices,
                          "gold": int(row["correct_answer_num"]) - 1})
        elif spec.format == "mmlu":
            items.append({"passage": "", "question": row["question"], "choices": row["choices"],
                          "gold": LETTERS.index(row["answer"].strip().upper())})
        else:
            raise ConfigError(f"{spec.path}: multiple_choice format must be belebele or mmlu, got {spec.format!r}")
    for it in items:
        it.update({f"choice_{LETTERS[k]}": c for k, c in enumerate(it["choices"])})
    return items


def run_multiple_choice(lm: CausalLM, spec: TaskSpec, limit: int) -> tuple[dict, list[dict]]:
    items = _mc_items(spec, read_jsonl(spec.data_path("path")))
    shots, items = _split(spec, items, limit)
    for s in shots:
        s["answer_text"] = s["choices"][s["gold"]]
    prefix = _fewshot_prefix(spec, shots)
    requests = [(prefix + spec.prompt.format(**it), " " + choice) for it in items for choice in it["choices"]]
    scores = lm.loglikelihood(requests)
    samples, acc, acc_norm, k = [], 0, 0, 0
    for i, it in enumerate(items):
        lls = [scores[k + j][0] for j in range(len(it["choices"]))]
        k += len(it["choices"])
        lens = [len((" " + c).encode("utf-8")) for c in it["choices"]]
        pred = max(range(len(lls)), key=lambda j: lls[j])
        pred_norm = max(range(len(lls)), key=lambda j: lls[j] / lens[j])
        acc += pred == it["gold"]
        acc_norm += pred_norm == it["gold"]
        samples.append({"item": i, "prompt": requests[k - len(lls)][0], "choices": it["choices"], "loglikelihoods": lls,
                        "prediction": pred, "prediction_norm": pred_norm, "reference": it["gold"]})
    n = max(len(items), 1)
    return {"acc": acc / n, "acc_norm": acc_norm / n}, samples


# -- the runner ------------------------------------------------------------------------------------------
def evaluate(model: str, tasks: list[str], out_dir: Path, *, limit: int = 0, batch_size: int = 8,
             max_new_tokens: int = 48, device: str = "auto", dtype: str = "auto", seed: int = 1234,
             config: dict | None = None) -> dict:
    specs = [load_task(t) for t in tasks]  # all task files are checked before the model loads
    random.seed(seed)
    torch.manual_seed(seed)
    lm = CausalLM(model, device=device, dtype=dtype, batch_size=batch_size)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict = {"model": str(model), "model_sha256": _model_hash(Path(model)), "tasks": {},
                     "config": config or {}, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    with open(out_dir / "samples.jsonl", "w", encoding="utf-8") as samples_file:
        for spec in specs:
            start = time.perf_counter()
            if spec.type == "perplexity":
                metrics, samples = run_perplexity(lm, spec, limit)
            elif spec.type == "translation":
                metrics, samples = run_translation(lm, spec, limit, max_new_tokens)
            elif spec.type == "qa_extractive":
                metrics, samples = run_qa_extractive(lm, spec, limit, max_new_tokens)
            else:
                metrics, samples = run_multiple_choice(lm, spec, limit)
            data_hashes = {k: _sha256(spec.data_path(k)) for k in spec.data if k != "separator"}
            results["tasks"][spec.name] = {"type": spec.type, "n": len(samples), "metrics": metrics,
                                           "num_fewshot": spec.num_fewshot, "data_sha256": data_hashes,
                                           "seconds": round(time.perf_counter() - start, 2)}
            for s in samples:
                samples_file.write(json.dumps({"task": spec.name, **s}, ensure_ascii=False) + "\n")
    (out_dir / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    (out_dir / "report.md").write_text(render_report(results), encoding="utf-8")
    return results


def run_eval(cfg, model: str | None = None, tasks: list[str] | None = None, out_dir: Path | None = None) -> dict:
    """`kazllm eval` from a run config: the model defaults to eval.model, else the run's export/; the
    tasks to eval.tasks; the output to the run's eval/, where the resolved config is saved too."""
    from kazllm.config import config_to_dict, dump_config

    e = cfg.eval
    out_dir = out_dir or cfg.stage_dir("eval")
    dump_config(cfg, out_dir / "resolved_config.yaml")
    return evaluate(model or e.model or str(cfg.stage_dir("export")), tasks or e.tasks, out_dir, limit=e.limit,
                    batch_size=e.batch_size, max_new_tokens=e.max_new_tokens, device=e.device, seed=cfg.run.seed,
                    config=config_to_dict(e))


def _model_hash(model_dir: Path) -> str | None:
    files = sorted(model_dir.glob("*.safetensors")) if model_dir.is_dir() else []
    if not files:
        return None
    h = hashlib.sha256()
    for f in files:
        h.update(_sha256(f).encode())
    return h.hexdigest()


def headline_metrics(results: dict) -> dict[str, dict[str, float]]:
    """Numeric metrics per task (signatures and other strings left out)."""
    return {name: {k: v for k, v in t["metrics"].items() if isinstance(v, (int, float))}
            for name, t in results["tasks"].items()}


def render_report(results: dict) -> str:
    lines = [f"# Evaluation of `{results['model']}`", "", f"Created {results['created']}.", "",
             "| task | type | n | metric | value |", "|---|---|---|---|---|"]
    for name, scores in headline_metrics(results).items():
        t = results["tasks"][name]
        for metric, value in scores.items():
            lines.append(f"| {name} | {t['type']} | {t['n']} | {metric} | {value:.4f} |")
    sigs = [(n, t["metrics"]["signatures"]) for n, t in results["tasks"].items() if "signatures" in t["metrics"]]
    if sigs:
        lines += ["", "## sacrebleu signatures", ""]
        lines += [f"- {n} {metric}: `{sig}`" for n, s in sigs for metric, sig in s.items()]
    lines += ["", "Every item's prompt, prediction and reference is in samples.jsonl.", ""]
    return "\n".join(lines)
