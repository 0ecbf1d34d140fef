"""A causal LM behind the three primitives every task is built from.

- `loglikelihood(context, continuation)` pairs (multiple choice),
- `generate_until(prompts, stop)` with batched greedy decoding and left padding (translation, QA),
- `text_nll(text)` summed over every token, in windows (perplexity, bits-per-byte).

Weights load from safetensors only, and with the model's own code (remote code) only when asked for.
"""

from __future__ import annotations

import inspect

import torch
import torch.nn.functional as F

from kazllm.errors import InputError

DTYPES = {
    "auto": None,
    "float32": torch.float32,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
    "fp32": torch.float32,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def _has_accelerate() -> bool:
    import importlib.util

    return importlib.util.find_spec("accelerate") is not None


class CausalLM:
    """`model`: a local Hugging Face directory or a hub id (safetensors weights only, no remote code).
    `device`: auto, cpu, cuda or cuda:N. auto loads with device_map="auto" (accelerate): the layers are
    spread over every visible GPU, so a model larger than one GPU's memory fits on a node (what does not fit
    in GPU memory goes to CPU memory); without a GPU everything lands on the CPU. `dtype`: auto (bfloat16
    on CUDA, float32 on CPU), float32, bfloat16 or float16. `batch_size`: contexts (or prompts) per forward
    pass."""

    def __init__(
        self,
        model: str,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 8,
        revision: str = "",
        trust_remote_code: bool = False,
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from kazllm.hub import resolve_pretrained

        if dtype not in DTYPES:
            raise InputError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        if device not in ("auto", "cpu") and not device.startswith("cuda"):
            raise InputError(f"device must be auto, cpu, cuda or cuda:N, got {device!r}")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise InputError(f"device {device} requested but torch sees no CUDA device")
        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
        torch_dtype = DTYPES[dtype] or (torch.bfloat16 if cuda else torch.float32)
        # device auto shards through accelerate when it is installed (kazllm[eval] does not require it; one
        # device needs no sharding); an explicit device keeps the whole model on that one device.
        device_map = "auto" if device == "auto" and _has_accelerate() else None
        if device == "auto" and device_map is None and torch.cuda.device_count() > 1:
            raise InputError("--device auto over several GPUs needs accelerate (pip install accelerate)")
        load_kwargs = {"device_map": device_map} if device_map else {}
        # A hub id resolves through huggingface_hub (the cache, offline too) to a snapshot named after its
        # commit: `resolved.revision` is the sha results.json records, whatever branch or tag was asked for.
        self.resolved = resolve_pretrained(model, "--model", revision=revision, remote_code=trust_remote_code)
        path = str(self.resolved.path)
        if not (self.resolved.path / "config.json").is_file():
            raise InputError(f"{model} is not a Hugging Face model directory (no config.json)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
            self.model = AutoModelForCausalLM.from_pretrained(
                path,
                dtype=torch_dtype,
                use_safetensors=True,
                trust_remote_code=trust_remote_code,
                **load_kwargs,
            )
        except OSError as e:  # no safetensors weights, or an incomplete snapshot
            raise InputError(f"cannot load model '{model}': {str(e).splitlines()[0]}") from None
        except (
            ValueError
        ) as e:  # e.g. a config with auto_map (the model's own code) without trust_remote_code
            first = str(e).strip().splitlines()[0]
            if "custom code" in first or "trust_remote_code" in first:
                first = (
                    "the repository holds custom code that must run to load it; pass --trust-remote-code "
                    "(eval.trust_remote_code=true) only if you trust that code"
                )
            raise InputError(f"cannot load model '{model}': {first[:300]}") from None
        if device_map:
            # Inputs go where the embeddings are; accelerate's hooks move activations between the shards.
            self.device = self.model.get_input_embeddings().weight.device
            placed = sorted({str(d) for d in (getattr(self.model, "hf_device_map", None) or {}).values()})
            self.device_used = f"{self.device} (device_map=auto: {', '.join(placed) or self.device})"
        else:
            self.device = torch.device(("cuda" if cuda else "cpu") if device == "auto" else device)
            self.model.to(self.device)
            self.device_used = str(self.device)
        self.model.eval()
        self.batch_size = batch_size
        # The token that starts a document: BOS where the model has one, else EOS (kazllm models see
        # documents separated by EOS in training).
        self.prefix_id = (
            self.tokenizer.bos_token_id
            if self.tokenizer.bos_token_id is not None
            else self.tokenizer.eos_token_id
        )
        self.pad_id = (
            self.tokenizer.pad_token_id
            if self.tokenizer.pad_token_id is not None
            else self.tokenizer.eos_token_id
        )
        self.max_length = getattr(self.model.config, "max_position_embeddings", 2048)
        # transformers' causal LMs take logits_to_keep (positions to project onto the vocabulary); older or
        # custom classes may not, and then every position is projected and the wanted ones picked.
        self._keeps_logits = "logits_to_keep" in inspect.signature(self.model.forward).parameters
        # Where the logits come out: the last shard's device under device_map=auto, else self.device.
        head = self.model.get_output_embeddings()
        self._head_device = head.weight.device if head is not None else self.device

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    # -- scoring -----------------------------------------------------------------------------------------
    def _forward(self, input_ids: torch.Tensor, keep: torch.Tensor, **kwargs):
        """The model on `input_ids`, returning float32 log-probabilities only at the positions where the
        boolean `keep` [batch, seq] is True, flattened to [n_true, vocab] in row-major order. The vocabulary
        projection and softmax of every other position (most of them: the context) is never computed."""
        if self._keeps_logits:
            out = self.model(input_ids=input_ids, logits_to_keep=keep.to(self._head_device), **kwargs)
            logits = out.logits.reshape(-1, out.logits.shape[-1])
        else:  # a model without logits_to_keep: project everything, then select
            out = self.model(input_ids=input_ids, **kwargs)
            logits = out.logits[keep.to(out.logits.device)]
        return F.log_softmax(logits.float(), dim=-1), out

    def _encode_pairs(self, requests: list[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
        """lm-evaluation-harness's split of each pair: a trailing space moves to the continuation (so " X"
        tokenises as running text), context + continuation is encoded whole, and the continuation is what
        lies past the context's own tokens (the tokeniser may merge across the boundary; this is what
        lm-eval scores too). Each distinct context is encoded once, and all texts in one batched call."""
        pairs = []
        for context, continuation in requests:
            n_space = len(context) - len(context.rstrip())
            if n_space:
                context, continuation = context[:-n_space], context[-n_space:] + continuation
            pairs.append((context, context + continuation))
        contexts = list(dict.fromkeys(c for c, _ in pairs))
        ctx_ids = dict(zip(contexts, self._encode_many(contexts)))
        wholes = self._encode_many([w for _, w in pairs])
        encoded = []
        for (context, _), whole in zip(pairs, wholes):
            ctx = [self.prefix_id] + ctx_ids[context]
            encoded.append((ctx, ([self.prefix_id] + whole)[len(ctx) :]))
        return encoded

    def _encode_many(self, texts: list[str]) -> list[list[int]]:
        return self.tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []

    @torch.inference_mode()
    def loglikelihood(self, requests: list[tuple[str, str]]) -> list[tuple[float, bool]]:
        """log p(continuation | context) for each pair, and whether every continuation token is the greedy
        choice; tokenised as lm-evaluation-harness does (`_encode_pairs`), with the model's BOS (else EOS)
        before every context.

        Each distinct context runs through the model once, whatever the number of its continuations:
        contexts are sorted longest first and batched with right padding; the logits of a context's last
        token score every continuation's first token. Continuations of more than one token then run as
        one batch on top of their context's key/value cache (the shared prefix is not recomputed).
        Only the scored positions are projected onto the vocabulary."""
        encoded = self._encode_pairs(requests)
        results: list[tuple[float, bool]] = [(0.0, False)] * len(requests)
        groups: dict[tuple[int, ...], list[int]] = {}
        too_long = []
        for i, (ctx, cont) in enumerate(encoded):
            if not cont:
                raise InputError(f"empty continuation after tokenisation: {requests[i][1]!r}")
            if len(ctx) + len(cont) > self.max_length + 1:  # the last token is never fed
                too_long.append(i)
            else:
                groups.setdefault(tuple(ctx), []).append(i)
        contexts = sorted(groups, key=len, reverse=True)
        for start in range(0, len(contexts), self.batch_size):
            self._score_contexts(contexts[start : start + self.batch_size], groups, encoded, results)
        for i in too_long:
            results[i] = self._score_full(*encoded[i])
        return results

    def _score_contexts(self, contexts, groups, encoded, results) -> None:
        """One batch of distinct contexts (longest first, right-padded) and all their requests."""
        width = len(contexts[0])
        lengths = torch.tensor([len(c) for c in contexts])
        ids = torch.full((len(contexts), width), self.pad_id, dtype=torch.long)
        for row, ctx in enumerate(contexts):
            ids[row, : len(ctx)] = torch.tensor(ctx)
        keep = torch.zeros_like(ids, dtype=torch.bool)
        keep[torch.arange(len(contexts)), lengths - 1] = True
        multi = [(row, i) for row, ctx in enumerate(contexts) for i in groups[ctx] if len(encoded[i][1]) > 1]
        last, out = self._forward(ids.to(self.device), keep, use_cache=bool(multi))
        last = last.cpu()
        for row, ctx in enumerate(contexts):
            for i in groups[ctx]:
                tok = encoded[i][1][0]
                results[i] = (last[row, tok].item(), bool(last[row].argmax() == tok))
        cache = getattr(out, "past_key_values", None)
        if multi and cache is None:  # a model that returns no cache: one full pass per such request
            for _, i in multi:
                results[i] = self._score_full(*encoded[i])
        elif multi:
            rest = self._score_continuations(multi, ids, lengths, cache, encoded)
            for i, (lp, greedy) in rest.items():
                results[i] = (results[i][0] + lp, results[i][1] and greedy)

    def _score_continuations(self, multi, ctx_ids, lengths, cache, encoded) -> dict[int, tuple[float, bool]]:
        """Tokens 2..n of each continuation, all rows in one forward on the cached contexts. The context
        rows were right-padded: the attention mask hides those pads, and positions continue from each
        context's real length."""
        rows = torch.tensor([row for row, _ in multi])
        conts = [encoded[i][1] for _, i in multi]
        width = max(len(c) for c in conts) - 1
        ids = torch.full((len(multi), width), self.pad_id, dtype=torch.long)
        keep = torch.zeros_like(ids, dtype=torch.bool)
        for r, cont in enumerate(conts):
            ids[r, : len(cont) - 1] = torch.tensor(cont[:-1])
            keep[r, : len(cont) - 1] = True
        cache.reorder_cache(rows.to(self.device))
        ctx_mask = (torch.arange(ctx_ids.shape[1])[None] < lengths[:, None]).long()[rows]
        mask = torch.cat([ctx_mask, torch.ones_like(ids)], dim=1)
        positions = lengths[rows][:, None] + torch.arange(width)[None]
        logprobs, _ = self._forward(
            ids.to(self.device),
            keep,
            past_key_values=cache,
            attention_mask=mask.to(self.device),
            position_ids=positions.to(self.device),
        )
        logprobs = logprobs.cpu()
        at, rest = 0, {}
        for (_, i), cont in zip(multi, conts):
            lp = logprobs[at : at + len(cont) - 1]
            target = torch.tensor(cont[1:])
            at += len(cont) - 1
            rest[i] = (lp.gather(1, target[:, None]).sum().item(), bool((lp.argmax(-1) == target).all()))
        return rest

    def _score_full(self, ctx: list[int], cont: list[int]) -> tuple[float, bool]:
        """One pair in one forward of its own; a pair longer than the model's window is cut as
        lm-evaluation-harness cuts it: its last max_length + 1 tokens, all but the last fed."""
        seq = (ctx + cont)[-(self.max_length + 1) :]
        ids = torch.tensor(seq[:-1])[None]
        keep = torch.zeros_like(ids, dtype=torch.bool)
        keep[0, -len(cont) :] = True
        lp, _ = self._forward(ids.to(self.device), keep)
        target = torch.tensor(cont)
        lp = lp.cpu()
        return lp.gather(1, target[:, None]).sum().item(), bool((lp.argmax(-1) == target).all())

    @torch.inference_mode()
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
            ids = torch.tensor(tokens[begin:end])[None]
            keep = torch.zeros_like(ids, dtype=torch.bool)
            keep[0, scored - begin - 1 : end - begin - 1] = True  # only the positions that predict new tokens
            logprobs, _ = self._forward(ids.to(self.device), keep)
            targets = ids[0, scored - begin :].to(logprobs.device)
            total -= logprobs.gather(1, targets[:, None]).sum().item()
            scored = end
        return total, len(tokens) - 1

    # -- generation --------------------------------------------------------------------------------------
    @torch.inference_mode()
    def generate_until(self, prompts: list[str], stop: list[str], max_new_tokens: int) -> list[str]:
        """Greedy continuations, cut at the first stop sequence. Left padding keeps the last prompt
        token next to the first generated one for every row of the batch."""
        outputs = [""] * len(prompts)
        order = sorted(range(len(prompts)), key=lambda i: -len(prompts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            encoded = [
                ([self.prefix_id] + self.encode(prompts[i]))[-(self.max_length - max_new_tokens) :]
                for i in idx
            ]
            width = max(len(e) for e in encoded)
            batch = torch.full((len(idx), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for row, ids in enumerate(encoded):
                batch[row, width - len(ids) :] = torch.tensor(ids)
                mask[row, width - len(ids) :] = 1
            generated = self.model.generate(
                input_ids=batch.to(self.device),
                attention_mask=mask.to(self.device),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=self.pad_id,
                eos_token_id=self.tokenizer.eos_token_id,
            )
            for row, i in enumerate(idx):
                text = self.tokenizer.decode(generated[row, width:], skip_special_tokens=True)
                for s in stop:
                    text = text.split(s)[0] if s else text
                outputs[i] = text.strip()
        return outputs
