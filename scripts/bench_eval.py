"""Log-likelihood scoring throughput: eval.lm.CausalLM against lm-evaluation-harness's HFLM.

Both score the same (context, continuation) requests -- the bundled multiple-choice fixtures
(Belebele-format and KazMMLU-style, lm-evaluation-harness prompts) repeated -- with the same tiny random
Llama, the same tokenizer, batch size and torch threads, in one process, interleaved, best of N. The
per-request log-likelihoods must agree to 1e-4 and every item's chosen answer must be identical, else the
script fails. The last line is `ratio <ours / lm-eval items per second>`.

    PYTHONPATH=. HF_HUB_OFFLINE=1 python scripts/bench_eval.py --repeat 4 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
QA = REPO / "data" / "sample" / "eval" / "qa"
LETTERS = "ABCD"


def build_tiny_model(
    out_dir: Path, *, hidden: int = 64, layers: int = 2, heads: int = 4, vocab: int = 1000, seed: int = 0
) -> Path:
    """A seeded random LlamaForCausalLM with a throwaway sentencepiece tokenizer (trained on the bundled
    Kazakh sample texts, exported the way `kazllm tokenizer` exports), saved as safetensors in out_dir."""
    import sentencepiece as spm
    from transformers import LlamaConfig, LlamaForCausalLM

    from data_prep.tokenizer import SPECIAL_TOKENS, export_hf_tokenizer

    out_dir.mkdir(parents=True, exist_ok=True)
    from kazllm.artifacts import iter_jsonl

    corpus = REPO / "data" / "sample" / "corpus"
    texts = [(corpus / "kk_literature.txt").read_text(encoding="utf-8")]
    if vocab > 2000:  # the literature text alone is too small for larger vocabularies
        texts += [rec["text"] for rec in iter_jsonl(sorted(corpus.glob("jsonl/kk_*.jsonl")))]
    lines = [ln for t in texts for ln in t.split("\n") if ln.strip()]
    specials = {f"{k}_id": i for k, (i, _) in SPECIAL_TOKENS.items()}
    specials |= {f"{k}_piece": p for k, (_, p) in SPECIAL_TOKENS.items()}
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines),
        model_prefix=str(out_dir / "spm"),
        vocab_size=vocab,
        byte_fallback=True,
        normalization_rule_name="identity",
        remove_extra_whitespaces=False,
        minloglevel=2,
        num_threads=1,
        **specials,
    )
    export_hf_tokenizer(out_dir / "spm.model", out_dir)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 4,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=heads,
        max_position_embeddings=1024,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=3,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(str(out_dir), safe_serialization=True)
    return out_dir


def mc_items() -> list[dict]:
    """Both bundled MC fixtures in lm-evaluation-harness's prompt formats: its belebele template (letters
    as choices), and MMLU-style questions with the answer texts as choices."""
    items = []
    for line in (QA / "kk_belebele.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        answers = [r[f"mc_answer{k}"] for k in range(1, 5)]
        prompt = (
            f"P: {r['flores_passage']}\nQ: {r['question'].strip()}\n"
            + "".join(f"{LETTERS[k]}: {a}\n" for k, a in enumerate(answers))
            + "Answer:"
        )
        items.append(
            {
                "context": prompt,
                "choices": list(LETTERS),
                "gold": int(r["correct_answer_num"]) - 1,
                "delimiter": " ",
                "task": "belebele",
            }
        )
    for line in (QA / "kk_mmlu.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        items.append(
            {
                "context": f"Сұрақ: {r['question']}\nЖауап:",
                "choices": r["choices"],
                "gold": LETTERS.index(r["answer"]),
                "delimiter": " ",
                "task": "kkmmlu",
            }
        )
    return items


def requests_of(items: list[dict]) -> list[tuple[str, str]]:
    return [(it["context"], it["delimiter"] + c) for it in items for c in it["choices"]]


def choices_of(items: list[dict], scores: list[float]) -> list[int]:
    picks, k = [], 0
    for it in items:
        lls = scores[k : k + len(it["choices"])]
        k += len(it["choices"])
        picks.append(max(range(len(lls)), key=lambda j: lls[j]))
    return picks


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeat", type=int, default=4, help="copies of the fixture items (default 4)")
    ap.add_argument(
        "--rounds", type=int, default=3, help="interleaved timing rounds; best of each (default 3)"
    )
    ap.add_argument("--batch-size", type=int, default=8, help="batch size for both (default 8)")
    ap.add_argument("--hidden", type=int, default=256, help="model width (default 256: ~5M parameters)")
    ap.add_argument("--layers", type=int, default=4, help="model depth (default 4)")
    ap.add_argument("--vocab", type=int, default=8000, help="tokenizer size (default 8000, kazllm's default)")
    ap.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads for both")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from eval.lm import CausalLM

    with tempfile.TemporaryDirectory() as tmp:
        model_dir = build_tiny_model(
            Path(tmp) / "model", hidden=args.hidden, layers=args.layers, vocab=args.vocab
        )
        ours = CausalLM(str(model_dir), device="cpu", dtype="float32", batch_size=args.batch_size)
        # add_bos_token: our tokenizer adds no BOS by itself; CausalLM puts BOS before every context, and
        # this makes lm-eval do the same.
        theirs = HFLM(
            pretrained=str(model_dir),
            device="cpu",
            dtype="float32",
            batch_size=args.batch_size,
            add_bos_token=True,
        )
        n_params = sum(p.numel() for p in ours.model.parameters())
        all_items = mc_items()
        subsets = {
            task: [it for it in all_items if it["task"] == task] * args.repeat
            for task in ("belebele", "kkmmlu")
        }
        # With this Kazakh tokenizer " A" is two tokens ("▁", "A"), so lm-eval scores each letter with its own
        # pass over the passage. Where choices are single tokens its logits cache shares the context too:
        # the same items with no delimiter ("Answer:A") measure that case.
        subsets["belebele_1tok"] = [{**it, "delimiter": ""} for it in subsets["belebele"]]
        systems = {
            "lm-eval": lambda reqs: [
                s
                for s, _ in theirs.loglikelihood(
                    [Instance(request_type="loglikelihood", doc={}, arguments=r, idx=0) for r in reqs],
                    disable_tqdm=True,
                )
            ],
            "ours": lambda reqs: [s for s, _ in ours.loglikelihood(reqs)],
        }
        best = {(sub, name): float("inf") for sub in subsets for name in systems}
        scores = {}
        for _ in range(args.rounds):
            for sub, items in subsets.items():
                reqs = requests_of(items)
                for name, fn in systems.items():
                    start = time.perf_counter()
                    scores[sub, name] = fn(reqs)
                    best[sub, name] = min(best[sub, name], time.perf_counter() - start)

    print(
        f"model: LlamaForCausalLM {n_params / 1e6:.1f}M params, hidden {args.hidden}, {args.layers} layers, "
        f"vocab {args.vocab}, float32, cpu, {args.threads} threads, batch size {args.batch_size} for both"
    )
    ok = True
    for sub, items in subsets.items():
        diff = max(abs(a - b) for a, b in zip(scores[sub, "ours"], scores[sub, "lm-eval"]))
        same = choices_of(items, scores[sub, "ours"]) == choices_of(items, scores[sub, "lm-eval"])
        ok = ok and diff <= 1e-4 and same
        n_req = sum(len(it["choices"]) for it in items)
        cont_tokens = [len(c) for _, c in ours._encode_pairs(requests_of(items))]
        print(
            f"{sub}: {len(items)} items, {n_req} requests, {sum(cont_tokens) / len(cont_tokens):.1f} "
            f"tokens per continuation; max |loglik difference| {diff:.1e}; identical per-item choices: {same}"
        )
        for name in systems:
            t = best[sub, name]
            print(
                f"  {name:8s} best of {args.rounds}: {t:7.3f} s {len(items) / t:8.1f} items/s "
                f"{n_req / t:8.1f} requests/s"
            )
        print(f"  ratio {sub}: {best[sub, 'lm-eval'] / best[sub, 'ours']:.2f}")
    if not ok:
        raise SystemExit("scores differ from lm-evaluation-harness: the ratio would be meaningless")
    total = {name: sum(best[sub, name] for sub in subsets) for name in systems}
    n_items = sum(len(items) for items in subsets.values())
    print(
        f"all subsets: {n_items} items; lm-eval {n_items / total['lm-eval']:.1f} items/s, "
        f"ours {n_items / total['ours']:.1f} items/s"
    )
    print(f"ratio {total['lm-eval'] / total['ours']:.2f}")


if __name__ == "__main__":
    main()
