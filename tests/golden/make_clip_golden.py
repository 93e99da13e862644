"""Writes the CLIP golden references (tests/clip_golden.rs reads them).

    python tests/golden/make_clip_golden.py [--out DIR]

DIR defaults to tests/golden/generated/clip. Everything is built offline from fixed seeds:

- a tiny byte-level BPE in CLIP's format (vocab.json + merges.txt learned here from a small
  Korean/English corpus, turned into tokenizer.json by transformers' CLIPTokenizer);
- two tiny random `CLIPModel`s (hidden_act quick_gelu, safetensors; gelu, pytorch_model.bin)
  with real 224x224 preprocessing (CLIPProcessor, preprocessor_config.json);
- two sentence-transformers multilingual-CLIP text encoders (clip-ViT-B-32-multilingual-v1's
  layout: Transformer, mean Pooling, Dense into the CLIP space): DistilBERT + Dense without
  bias (Identity), BERT + Dense with bias (Tanh);
- images of odd sizes and modes (RGB, RGBA, L, P PNGs; 4:2:0, 4:4:4 and greyscale JPEGs;
  one smaller than the crop), and two unreadable files.

Image preprocessing uses transformers' PIL backend (`CLIPImageProcessorPil`): transformers 5
picks torchvision when it is installed and PIL otherwise; the test stack installs Pillow and not
torchvision, and the processor is asked for backend="pil" explicitly so the reference stays the
PIL one either way. References: pixel_values (raw little-endian f32 files), get_text_features /
get_image_features from transformers, and the same through sentence-transformers.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import make_golden as mg  # noqa: E402  (sets the offline environment, seeds and threads)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
import transformers  # noqa: E402
from transformers import (  # noqa: E402
    BertConfig,
    BertModel,
    CLIPConfig,
    CLIPImageProcessorPil,
    CLIPModel,
    CLIPProcessor,
    CLIPTokenizer,
    DistilBertConfig,
    DistilBertModel,
)
import sentence_transformers  # noqa: E402
from sentence_transformers import SentenceTransformer  # noqa: E402
from sentence_transformers.sentence_transformer import modules as models  # noqa: E402

TEXTS = [
    "고양이 사진",
    "강아지 사진",
    "a photo of a cat",
    "A photo of a DOG on the grass!",
    "서울의 밤 풍경, night view of Seoul",
    "",
    "장마철에 비가 많이 온다 " * 20,  # past 77 tokens: truncated, eos kept last
]


def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


CLIP_PAT = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\w]+|[0-9]|[^\s\w]+""", re.IGNORECASE)


def learn_clip_bpe(corpus: list[str], merges_wanted: int) -> tuple[dict, list[str]]:
    """CLIP's vocabulary layout: 256 byte symbols, the same with </w>, the merges, then
    <|startoftext|> and <|endoftext|>."""
    b2u = bytes_to_unicode()
    words: dict[tuple, int] = {}
    for line in corpus:
        for w in CLIP_PAT.findall(line.lower()):
            sym = [b2u[b] for b in w.encode("utf-8")]
            sym[-1] += "</w>"
            words[tuple(sym)] = words.get(tuple(sym), 0) + 1
    merges: list[tuple[str, str]] = []
    for _ in range(merges_wanted):
        pairs: dict[tuple, int] = {}
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] = pairs.get((a, b), 0) + n
        if not pairs:
            break
        best = max(sorted(pairs), key=lambda p: pairs[p])
        merges.append(best)
        new_words = {}
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and (w[i], w[i + 1]) == best:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + n
        words = new_words
    vocab_list = list(b2u.values())
    vocab_list += [v + "</w>" for v in vocab_list]
    vocab_list += ["".join(m) for m in merges]
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    vocab_list = list(dict.fromkeys(vocab_list))
    return {t: i for i, t in enumerate(vocab_list)}, [f"{a} {b}" for a, b in merges]


def write_clip_tokenizer(d: Path, corpus: list[str]) -> CLIPTokenizer:
    vocab, merges = learn_clip_bpe(corpus, 300)
    d.mkdir(parents=True, exist_ok=True)
    mg.write_json(d / "vocab.json", vocab)
    (d / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    tok = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges], model_max_length=77)
    ids = tok("a photo of a cat")["input_ids"]
    assert ids[0] == vocab["<|startoftext|>"] and ids[-1] == vocab["<|endoftext|>"] and len(ids) < 16, ids
    return tok


def make_images(d: Path) -> list[dict]:
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)

    def pattern(w: int, h: int, seed: int) -> np.ndarray:
        y, x = np.mgrid[0:h, 0:w]
        r = (127 + 120 * np.sin(x / (3 + seed) + y / 11)).astype(np.float64)
        g = (255 * x / max(w - 1, 1)).astype(np.float64)
        b = (255 * ((x // 7 + y // 5) % 2)).astype(np.float64)
        img = np.stack([r, g, b], -1) + rng.normal(0, 18, (h, w, 3))
        return np.clip(img, 0, 255).astype(np.uint8)

    out = []

    def add(name: str, img: Image.Image, **save):
        img.save(d / name, **save)
        out.append({"name": name, "path": str(d / name), "size": list(img.size), "mode": img.mode})

    add("rgb-37x101.png", Image.fromarray(pattern(37, 101, 1)))
    rgba = np.concatenate([pattern(301, 199, 2), rng.integers(0, 256, (199, 301, 1), dtype=np.uint8)], -1)
    add("rgba-301x199.png", Image.fromarray(rgba, "RGBA"))
    add("grey-64x64.png", Image.fromarray(pattern(64, 64, 3)[..., 1]))
    add("palette-90x45.png", Image.fromarray(pattern(90, 45, 4)).convert("P", palette=Image.Palette.ADAPTIVE, colors=37))
    add("small-20x15.png", Image.fromarray(pattern(20, 15, 5)))
    add("square-224.png", Image.fromarray(pattern(224, 224, 6)))
    add("photo-250x171-420.jpg", Image.fromarray(pattern(250, 171, 7)), quality=90)
    add("photo-173x257-444.jpg", Image.fromarray(pattern(173, 257, 8)), quality=95, subsampling=0)
    add("grey-129x77.jpg", Image.fromarray(pattern(129, 77, 9)[..., 0]), quality=85)
    return out


def tiny_clip(d: Path, tok: CLIPTokenizer, act: str, seed: int, bin_weights: bool) -> None:
    vocab_size = len(tok.get_vocab())
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    bos = tok.convert_tokens_to_ids("<|startoftext|>")
    cfg = CLIPConfig(
        text_config=dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                         num_attention_heads=4, max_position_embeddings=77, hidden_act=act,
                         eos_token_id=eos, bos_token_id=bos, pad_token_id=eos),
        vision_config=dict(hidden_size=48, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                           image_size=224, patch_size=32, hidden_act=act),
        projection_dim=16,
    )
    torch.manual_seed(seed)
    model = CLIPModel(cfg).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if name == "logit_scale":
                continue
            if "layer_norm" in name or "layrnorm" in name or "layernorm" in name:
                p.copy_((1.0 if name.endswith("weight") else 0.0) + 0.1 * noise)
            elif name.endswith("bias"):
                p.copy_(0.1 * noise)
            else:
                p.copy_(0.2 * noise)
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(d))
    processor = CLIPProcessor(image_processor=CLIPImageProcessorPil(), tokenizer=tok)
    processor.save_pretrained(str(d))
    if bin_weights:
        # The hub's older layout: preprocessor_config.json beside the weights.
        combined = mg.read_json(d / "processor_config.json")
        mg.write_json(d / "preprocessor_config.json", combined["image_processor"])
        (d / "processor_config.json").unlink()
        sd = {k: v.contiguous() for k, v in model.state_dict().items()}
        torch.save(sd, str(d / "pytorch_model.bin"))
        (d / "model.safetensors").unlink()


def clip_reference(d: Path, images: list[dict], pixel_dir: Path) -> dict:
    model = CLIPModel.from_pretrained(str(d)).eval()
    processor = CLIPProcessor.from_pretrained(str(d), backend="pil")
    assert processor.image_processor.backend == "pil", processor.image_processor
    tok = processor.tokenizer
    enc = tok(TEXTS, padding=True, truncation=True, max_length=77, return_tensors="pt")
    ids = [[int(i) for i, m in zip(row, mask) if m] for row, mask in zip(enc["input_ids"], enc["attention_mask"])]
    assert max(len(r) for r in ids) == 77, "no text reaches 77 tokens"
    with torch.no_grad():
        text = model.get_text_features(**enc)
        text = text if isinstance(text, torch.Tensor) else text.pooler_output
        pixels = [processor(images=Image.open(im["path"]), return_tensors="pt")["pixel_values"] for im in images]
        batch = torch.cat(pixels)
        image = model.get_image_features(pixel_values=batch)
        image = image if isinstance(image, torch.Tensor) else image.pooler_output
        out = model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"], pixel_values=batch)
    pixel_dir.mkdir(parents=True, exist_ok=True)
    for im, px in zip(images, pixels):
        assert tuple(px.shape) == (1, 3, 224, 224), px.shape
        (pixel_dir / (im["name"] + ".f32")).write_bytes(px[0].numpy().astype("<f4").tobytes())
    # sentence-transformers over the same CLIPModel directory.
    st = SentenceTransformer(str(d), device="cpu")
    st_text = st.encode(TEXTS, convert_to_numpy=True, show_progress_bar=False)
    st_image = st.encode([Image.open(im["path"]) for im in images], convert_to_numpy=True, show_progress_bar=False)
    return {
        "input_ids": ids,
        "text_embeddings": mg.f64_list(text),
        "image_embeddings": mg.f64_list(image),
        "st_text_embeddings": mg.f64_list(torch.from_numpy(st_text)),
        "st_image_embeddings": mg.f64_list(torch.from_numpy(st_image)),
        "logits_per_image": mg.f64_list(out.logits_per_image),
        "logit_scale": float(model.logit_scale.detach().exp()),
    }


def multilingual(d: Path, arch: str, bias: bool, activation, seed: int) -> dict:
    tdir = d / "0_Transformer_src"
    vocab = mg.bert_vocab()
    mg.write_bert_tokenizer_files(tdir, vocab, do_lower_case=False, strip_accents=None, model_max_length=128)
    if arch == "distilbert":
        cfg = DistilBertConfig(vocab_size=len(vocab), dim=32, n_layers=2, n_heads=4, hidden_dim=40,
                               max_position_embeddings=128, activation="gelu")
        model = DistilBertModel(cfg)
    else:
        cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=40, max_position_embeddings=128)
        model = BertModel(cfg, add_pooling_layer=False)
    mg.randomize_(model, seed)
    model.save_pretrained(str(tdir))
    word = models.Transformer(str(tdir), max_seq_length=128)
    pool = models.Pooling(32, pooling_mode="mean")
    torch.manual_seed(seed)
    dense = models.Dense(32, 16, bias=bias, activation_function=activation)
    with torch.no_grad():
        dense.linear.weight.normal_(0, 0.3)
        if bias:
            dense.linear.bias.normal_(0, 0.1)
    st = SentenceTransformer(modules=[word, pool, dense], device="cpu")
    st.save(str(d))
    shutil.rmtree(tdir)
    st = SentenceTransformer(str(d), device="cpu")
    emb = st.encode(TEXTS, convert_to_numpy=True, show_progress_bar=False, batch_size=3)
    dense_cfg = mg.read_json(d / "2_Dense" / "config.json")
    return {"embeddings": mg.f64_list(torch.from_numpy(emb)), "dense_config": dense_cfg}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=HERE / "generated" / "clip")
    args = ap.parse_args()
    t0 = time.time()
    final = args.out.resolve()
    work = final.parent / (final.name + ".tmp")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)

    def final_path(p: Path) -> str:
        return str(final / Path(p).relative_to(work))

    corpus = mg.training_corpus() + TEXTS
    images = make_images(work / "images")
    (work / "bad").mkdir()
    png = (work / "images" / "rgb-37x101.png").read_bytes()
    (work / "bad" / "truncated.png").write_bytes(png[: len(png) // 2])
    (work / "bad" / "notes.jpg").write_text("not an image\n", encoding="utf-8")

    cases = []
    for name, act, seed, binw in [("tiny-clip", "quick_gelu", 11, False), ("tiny-clip-gelu-bin", "gelu", 12, True)]:
        d = work / "models" / name
        tok = write_clip_tokenizer(work / "tok-src", corpus)
        tiny_clip(d, tok, act, seed, binw)
        ref = clip_reference(d, images, work / "pixels" / name)
        cases.append({"name": name, "kind": "clip", "model_dir": final_path(d), "hidden_act": act,
                      "weights": "pytorch_model.bin" if binw else "model.safetensors", **ref})
    shutil.rmtree(work / "tok-src")
    for name, arch, bias, act, seed in [
        ("tiny-mclip-distilbert", "distilbert", False, torch.nn.Identity(), 21),
        ("tiny-mclip-bert-tanh", "bert", True, torch.nn.Tanh(), 22),
    ]:
        d = work / "models" / name
        ref = multilingual(d, arch, bias, act, seed)
        cases.append({"name": name, "kind": "mclip", "model_dir": final_path(d), "architecture": arch, **ref})

    manifest = {
        "version": 1,
        "generator": {
            "script": "tests/golden/make_clip_golden.py",
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "pillow": Image.__version__,
            "image_backend": "pil",
        },
        "texts": TEXTS,
        "images": [{**im, "path": final_path(Path(im["path"]))} for im in images],
        "bad_images": [final_path(work / "bad" / n) for n in ("truncated.png", "notes.jpg")],
        "cases": cases,
    }
    mg.write_json(work / "manifest.json", manifest)
    if final.exists():
        shutil.rmtree(final)
    work.rename(final)
    print(f"wrote {len(cases)} CLIP cases and {len(images)} images to {final} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
