"""A causal LM behind the three primitives every task is built from:

- `loglikelihood(context, continuation)` pairs (multiple choice),
- `generate_until(prompts, stop)` with batched greedy decoding and left padding (translation, QA),
- `text_nll(text)` summed over every token, in windows (perplexity, bits-per-byte).

Weights load from safetensors only and never with remote code.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from kazllm.errors import InputError


class CausalLM:
    def __init__(self, model: str, device: str = "auto", dtype: str = "auto", batch_size: int = 8):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if Path(model).exists() and not (Path(model) / "config.json").is_file():
            raise InputError(f"{model} is not a Hugging Face model directory (no config.json)")
        self.device = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                                   ("cpu" if device == "auto" else device))
        torch_dtype = {"auto": torch.bfloat16 if self.device.type == "cuda" else torch.float32,
                       "bf16": torch.bfloat16, "fp32": torch.float32, "fp16": torch.float16}[dtype]
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model, trust_remote_code=False)
            self.model = AutoModelForCausalLM.from_pretrained(
                model, dtype=torch_dtype, use_safetensors=True, trust_remote_code=False
            ).to(self.device).eval()
        except OSError as e:  # not a local directory and not reachable on the hub, or no safetensors
            raise InputError(f"cannot load model '{model}': {str(e).splitlines()[0]}") from None
        self.batch_size = batch_size
        # The token that starts a document: BOS where the model has one, else EOS (kazllm models see
        # documents separated by EOS in training).
        self.prefix_id = self.tokenizer.bos_token_id if self.tokenizer.bos_token_id is not None else self.tokenizer.eos_token_id
        self.pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.tokenizer.eos_token_id
        self.max_length = getattr(self.model.config, "max_position_embeddings", 2048)

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    # -- scoring -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def _score(self, sequences: list[list[int]], targets_from: list[int]) -> list[tuple[float, bool]]:
        """Sum of log p(token) for tokens at positions >= targets_from[i] of each sequence, and whether
        every one of them was the greedy choice. Batched, right-padded, longest first."""
        order = sorted(range(len(sequences)), key=lambda i: -len(sequences[i]))
        results: list[tuple[float, bool]] = [(0.0, False)] * len(sequences)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = len(sequences[idx[0]])
            batch = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
            for row, i in enumerate(idx):
                batch[row, : len(sequences[i])] = torch.tensor(sequences[i])
            logprobs = F.log_softmax(self.model(batch.to(self.device)).logits.float(), dim=-1).cpu()
            for row, i in enumerate(idx):
                seq = sequences[i]
                positions = torch.arange(targets_from[i], len(seq))
                target = torch.tensor(seq[targets_from[i]:])
                lp = logprobs[row, positions - 1]
                results[i] = (lp.gather(1, target[:, None]).sum().item(), bool((lp.argmax(-1) == target).all()))
        return results

    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """log p(continuation | context) for each pair, tokenised as lm-evaluation-harness does:
        the continuation's tokens are those of (context + continuation) past the context's tokens."""
        sequences, starts = [], []
        for context, continuation in requests:
            # A trailing space belongs to the continuation, so "Answer: X" tokenises like running text.
            n_space = len(context) - len(context.rstrip(" "))
            if n_space:
                context, continuation = context[:-n_space], context[-n_space:] + continuation
            ctx = [self.prefix_id] + self.encode(context)
            whole = [self.prefix_id] + self.encode(context + continuation)
            cont = whole[len(ctx):] or whole[-1:]
            seq = (ctx + cont)[-self.max_length:]
            sequences.append(seq)
            starts.append(len(seq) - len(cont))
        return self._score(sequences, starts)

    @torch.no_grad()
    def text_nll(self, text: str, window: int) -> tuple[float, int]:
        """Total negative log-likelihood (nats) of every token of `text`, and the token count.

        Windows of `window` tokens advance by half a window; each token is scored once, with at least
        half a window of context after the first window."""
        tokens = [self.prefix_id] + self.encode(text)
        window = min(window, self.max_length)
        total, scored, stride = 0.0, 1, max(1, window // 2)
        while scored < len(tokens):
            end = min(scored + stride, len(tokens)) if scored > 1 else min(window, len(tokens))
            begin = max(0, end - window)
            ids = torch.tensor(tokens[begin:end], device=self.device)[None]
            logprobs = F.log_softmax(self.model(ids).logits.float()[0], dim=-1)
            targets = ids[0, scored - begin :]
            total -= logprobs[scored - begin - 1 : end - begin - 1].gather(1, targets[:, None]).sum().item()
            scored = end
        return total, len(tokens) - 1

    # -- generation --------------------------------------------------------------------------------------
    @torch.no_grad()
    def generate_until(self, prompts: list[str], stop: list[str], max_new_tokens: int) -> list[str]:
        """Greedy continuations, cut at the first stop sequence. Left padding keeps the last prompt
        token next to the first generated one for every row of the batch."""
        outputs = [""] * len(prompts)
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            encoded = [([self.prefix_id] + self.encode(prompts[i]))[-(self.max_length - max_new_tokens):] for i in idx]
            width = max(len(e) for e in encoded)
            batch = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, ids in enumerate(encoded):
                batch[row, width - len(ids):] = torch.tensor(ids)
                mask[row, width - len(ids):] = 1
            generated = self.model.generate(
                input_ids=batch.to(self.device), attention_mask=mask.to(self.device), max_new_tokens=max_new_tokens,
                do_sample=False, pad_token_id=self.pad_id, eos_token_id=self.tokenizer.eos_token_id,
            )
            for row, i in enumerate(idx):
                text = self.tokenizer.decode(generated[row, width:], skip_special_tokens=True)
                for s in stop:
                    text = text.split(s)[0] if s else text
                outputs[i] = text.strip()
        return outputs
