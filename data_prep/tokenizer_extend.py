"""`kazllm tokenizer extend`: add our Kazakh pieces to an existing BPE tokenizer, keeping every old id.

    kazllm tokenizer extend --base llama3_tokenizer/ --add runs/x/tokenizer --out extended/ --eval-text kk=news.kk

Why vocabulary + merges, not added tokens: added tokens are cut out of the text before pre-tokenisation,
so "қазақ" would also be found inside "қазақстандық" and words would break in the wrong places. A new
BPE merge is used by the model's own algorithm, inside words, only where the merge order leads to it.

Each of our pieces (most frequent first, as sentencepiece's BPE ordered them) is written in the base's
surface form (GPT-2 byte characters for a ByteLevel base, "▁"-words for a sentencepiece-style base).
We run the base's BPE (with the merges added so far) on it; when that yields exactly two parts, one merge
of those parts makes the new piece reachable. Letters the base never formed (Kazakh қ as two bytes, or
only as <0xNN> bytes in a sentencepiece-style base) are added first, so that pieces over them qualify. Pieces the base's pre-tokenizer would split (punctuation
inside, several words) can never be produced and are skipped.

embedding_init.json maps each new id to the old ids the base tokenizer used for the same text;
`init_new_embeddings(model, path)` gives the new rows the mean of those rows.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from data_prep.tokenizer_report import BYTE_PIECE, load_lines, measure, resolve_hf_dir
from kazllm.artifacts import read_json, reset_user_out_dir, write_json
from kazllm.errors import InputError, KazllmError


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by ByteLevel pre-tokenizers."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def _has_type(node, name: str) -> bool:
    if isinstance(node, dict):
        return node.get("type") == name or any(_has_type(v, name) for v in node.values())
    if isinstance(node, list):
        return any(_has_type(v, name) for v in node)
    return False


class BaseBPE:
    """The base tokenizer's BPE model as plain Python data, for planning merges."""

    def __init__(self, tokenizer_json: dict):
        model = tokenizer_json["model"]
        if model.get("type") != "BPE":
            raise InputError(f"tokenizer extend needs a BPE base tokenizer, got model type {model.get('type')!r}")
        self.byte_level = _has_type(tokenizer_json.get("pre_tokenizer"), "ByteLevel")
        self.byte_fallback = bool(model.get("byte_fallback"))
        self.vocab: dict[str, int] = dict(model["vocab"])
        self.merges_as_strings = bool(model["merges"]) and isinstance(model["merges"][0], str)
        pairs = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        self.ranks: dict[tuple[str, str], int] = {p: i for i, p in enumerate(pairs)}
        self.byte_map = bytes_to_unicode()

    def surface(self, text: str) -> str:
        """How the base writes `text` (spaces included) inside its vocabulary."""
        if self.byte_level:
            return "".join(self.byte_map[b] for b in text.encode("utf-8"))
        return text.replace(" ", "▁")

    def symbols(self, surface: str, vocab: dict[str, int] | None = None) -> list[str]:
        """Initial BPE symbols; for a sentencepiece-style base, unknown characters become <0xNN> bytes."""
        if self.byte_level:
            return list(surface)
        vocab = self.vocab if vocab is None else vocab
        out = []
        for ch in surface:
            if ch in vocab or not self.byte_fallback:
                out.append(ch)
            else:
                out.extend(f"<0x{b:02X}>" for b in ch.encode("utf-8"))
        return out

    def segment(self, surface: str, ranks: dict[tuple[str, str], int] | None = None,
                vocab: dict[str, int] | None = None) -> list[str]:
        """Plain BPE: merge the adjacent pair of lowest rank until none is left."""
        ranks = self.ranks if ranks is None else ranks
        parts = self.symbols(surface, vocab)
        while len(parts) > 1:
            best = min(range(len(parts) - 1), key=lambda i: ranks.get((parts[i], parts[i + 1]), 1 << 62))
            if (parts[best], parts[best + 1]) not in ranks:
                break
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        return parts


def our_pieces(our_json: dict) -> list[str]:
    """Our word pieces as text ("▁" -> space), most frequent first; bytes, specials and multi-word pieces left out."""
    special = {t["content"] for t in our_json.get("added_tokens", [])}
    out = []
    for piece, _ in sorted(our_json["model"]["vocab"].items(), key=lambda kv: kv[1]):
        text = piece.replace("▁", " ")
        if piece in special or BYTE_PIECE.fullmatch(piece) or not text.strip() or " " in text.strip():
            continue
        out.append(text)
    return out


def plan_extension(base_json: dict, our_json: dict, max_new: int | None = None) -> tuple[dict, dict]:
    """New vocab entries and merges for the base; returns (new tokenizer.json, embedding-init mapping)."""
    from tokenizers import Tokenizer

    bpe = BaseBPE(base_json)
    base_tok = Tokenizer.from_str(json.dumps(base_json))
    pre = base_tok.pre_tokenizer
    used_ids = list(bpe.vocab.values()) + [t["id"] for t in base_json.get("added_tokens", [])]
    next_id = max(used_ids) + 1
    base_size = next_id
    ranks = dict(bpe.ranks)
    vocab = dict(bpe.vocab)
    new_merges: list[tuple[str, str]] = []
    mapping: dict[str, list[int]] = {}
    skipped = {"not one pre-token": 0, "needs more than one merge": 0, "unknown symbol": 0}
    for text in our_pieces(our_json):
        if max_new is not None and len(mapping) >= max_new:
            break
        surface = bpe.surface(text)
        if surface in vocab:
            continue
        if pre is not None and [p for p, _ in pre.pre_tokenize_str(text)] != [surface]:
            skipped["not one pre-token"] += 1
            continue
        if bpe.byte_level:
            # a letter the base never merged from its bytes (e.g. Kazakh қ in an English/Russian tokenizer)
            # gets that merge first, so that our pieces over it are one merge away
            for ch in dict.fromkeys(text):
                char_surface = bpe.surface(ch)
                char_parts = bpe.segment(char_surface, ranks)
                if len(char_parts) == 2 and char_surface not in vocab and (max_new is None or len(mapping) < max_new):
                    ranks[(char_parts[0], char_parts[1])] = len(ranks)
                    new_merges.append((char_parts[0], char_parts[1]))
                    vocab[char_surface] = next_id
                    mapping[str(next_id)] = [bpe.vocab[p] for p in bpe.segment(char_surface)]
                    next_id += 1
        else:
            # a letter the base only knows as bytes (e.g. Kazakh letters in an English tokenizer) becomes a
            # vocabulary entry of its own: BPE uses a known character before falling back to bytes
            for ch in dict.fromkeys(surface):
                if ch not in vocab and bpe.byte_fallback and (max_new is None or len(mapping) < max_new):
                    vocab[ch] = next_id
                    mapping[str(next_id)] = [bpe.vocab[p] for p in bpe.symbols(ch)]
                    next_id += 1
        if surface in vocab:
            continue
        parts = bpe.segment(surface, ranks, vocab)
        if len(parts) != 2 or any(p not in vocab for p in parts):
            skipped["needs more than one merge"] += 1
            continue
        old_parts = bpe.segment(surface)
        if any(p not in bpe.vocab for p in old_parts):
            skipped["unknown symbol"] += 1
            continue
        ranks[(parts[0], parts[1])] = len(ranks)
        new_merges.append((parts[0], parts[1]))
        vocab[surface] = next_id
        mapping[str(next_id)] = [bpe.vocab[p] for p in old_parts]
        next_id += 1
    out = json.loads(json.dumps(base_json))
    out["model"]["vocab"] = vocab
    out["model"]["merges"] += [f"{a} {b}" if bpe.merges_as_strings else [a, b] for a, b in new_merges]
    info = {"base_vocab_size": base_size, "vocab_size": next_id, "added": len(mapping), "skipped": skipped,
            "base_kind": "byte-level BPE" if bpe.byte_level else "sentencepiece-style BPE", "new": mapping}
    return out, info


def check_old_ids(base_json: dict, new_json: dict) -> None:
    old = dict(base_json["model"]["vocab"]) | {t["content"]: t["id"] for t in base_json.get("added_tokens", [])}
    new = dict(new_json["model"]["vocab"]) | {t["content"]: t["id"] for t in new_json.get("added_tokens", [])}
    moved = [(tok, i, new.get(tok)) for tok, i in old.items() if new.get(tok) != i]
    if moved:
        raise KazllmError(f"extend changed {len(moved)} old ids, e.g. {moved[:5]}")


def extend_tokenizer(base_dir: Path, add_dir: Path, out_dir: Path, eval_files: list[str] | None = None,
                     max_new: int | None = None) -> dict:
    from transformers import AutoTokenizer

    base_dir, add_dir = resolve_hf_dir(base_dir), resolve_hf_dir(add_dir)
    base_json = json.loads((base_dir / "tokenizer.json").read_text(encoding="utf-8"))
    our_json = json.loads((add_dir / "tokenizer.json").read_text(encoding="utf-8"))
    new_json, info = plan_extension(base_json, our_json, max_new)
    check_old_ids(base_json, new_json)
    reset_user_out_dir(out_dir, "extend_manifest.json", keep=(base_dir, add_dir))
    shutil.copytree(base_dir, out_dir, dirs_exist_ok=True)
    (out_dir / "tokenizer.model").unlink(missing_ok=True)  # a sentencepiece file would no longer match
    (out_dir / "tokenizer.json").write_text(json.dumps(new_json, ensure_ascii=False), encoding="utf-8")
    write_json(out_dir / "embedding_init.json", {k: info[k] for k in ("base_vocab_size", "vocab_size", "new")})
    old_tok, new_tok = AutoTokenizer.from_pretrained(str(base_dir)), AutoTokenizer.from_pretrained(str(out_dir))
    if not new_tok.is_fast:
        raise KazllmError(f"{out_dir}: the extended tokenizer did not load as a fast tokenizer")
    fertility = []
    for spec in eval_files or []:
        lang, path, lines = load_lines(spec)
        before, after = measure(old_tok, lines), measure(new_tok, lines)
        # the new tokenizer must spell every line exactly as the old one does
        for line, ids in zip(lines, new_tok(lines, add_special_tokens=False)["input_ids"]):
            if new_tok.decode(ids) != old_tok.decode(old_tok(line, add_special_tokens=False)["input_ids"]):
                raise KazllmError(f"extended tokenizer decodes {line[:60]!r} differently from the base")
        fertility.append({"language": lang, "file": str(path), "before": before["tokens_per_word"],
                          "after": after["tokens_per_word"]})
    result = {k: v for k, v in info.items() if k != "new"} | {"base": str(base_dir), "added_from": str(add_dir),
                                                              "fertility": fertility}
    write_json(out_dir / "extend_manifest.json", result)
    return result


def init_new_embeddings(model, mapping_path: str | Path) -> int:
    """Resize a transformers model's input/output embeddings to the extended vocabulary and set each new
    row to the mean of the rows of its old sub-tokens. Returns how many rows were set."""
    import torch

    mapping = read_json(mapping_path)
    if model.get_input_embeddings().weight.shape[0] < mapping["vocab_size"]:
        model.resize_token_embeddings(mapping["vocab_size"], mean_resizing=False)
    emb = model.get_input_embeddings().weight
    out = model.get_output_embeddings()
    tied = out is None or out.weight.data_ptr() == emb.data_ptr()
    with torch.no_grad():
        for new_id, old_ids in mapping["new"].items():
            emb[int(new_id)] = emb[old_ids].mean(dim=0)
            if not tied:
                out.weight[int(new_id)] = out.weight[old_ids].mean(dim=0)
    return len(mapping["new"])
