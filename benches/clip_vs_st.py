#!/usr/bin/env python3
"""Image-embedding throughput on the CPU: bigyo (`similar --image ... --format json`) vs
sentence-transformers (SentenceTransformer over the same CLIPModel directory), same images,
same threads, in one run. Writes the `clip-images` section of BENCHMARKS.md.

The model is made here (no weights can be downloaded): a CLIPModel whose vision tower has
openai/clip-vit-base-patch32's shapes (768 wide, 12 layers, 32x32 patches, 224x224) with random
weights, and a tiny text tower; random weights cost what trained ones cost, but say nothing of
quality. Both sides decode, preprocess (PIL backend in transformers) and embed.

Usage: make bench   (or: .bigyo/venv/bin/python benches/clip_vs_st.py --threads 2)
"""
import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
sys.path.insert(0, str(ROOT / "tests" / "golden"))
from benchfile import cpu_label, update_section  # noqa: E402


def build(work: Path, count: int) -> tuple[Path, list[Path]]:
    import make_clip_golden as g
    import numpy as np
    import torch
    from PIL import Image
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor

    tok = g.write_clip_tokenizer(work / "tok", g.mg.training_corpus())
    eos = tok.convert_tokens_to_ids("<|endoftext|>")
    cfg = CLIPConfig(
        text_config=dict(vocab_size=len(tok.get_vocab()), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, eos_token_id=eos, pad_token_id=eos),
        vision_config=dict(),  # CLIPVisionConfig's defaults: ViT-B/32
        projection_dim=512,
    )
    torch.manual_seed(0)
    model = CLIPModel(cfg).eval()
    d = work / "clip-b32-random"
    model.save_pretrained(str(d))
    CLIPProcessor(image_processor=CLIPImageProcessorPil(), tokenizer=tok).save_pretrained(str(d))
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        w, h = int(rng.integers(300, 800)), int(rng.integers(300, 800))
        img = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        p = work / "images" / f"img{i:03d}.{'jpg' if i % 2 else 'png'}"
        p.parent.mkdir(exist_ok=True)
        img.save(p)
        paths.append(p)
    return d, paths


def run_st(model_dir, paths, threads, repeats):
    import torch
    from PIL import Image
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    st = SentenceTransformer(str(model_dir), device="cpu")
    st.encode([Image.open(p) for p in paths[:4]], show_progress_bar=False)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        st.encode([Image.open(p) for p in paths], batch_size=16, show_progress_bar=False)
        best = min(best, time.perf_counter() - t)
    return best


def run_bigyo(binary, model_dir, paths, threads, repeats):
    best = float("inf")
    for _ in range(repeats):
        # fp32 like sentence-transformers (`--dtype auto` would pick bf16 on an AMX CPU).
        cmd = [str(binary), "--device", "cpu", "--dtype", "f32", "--threads", str(threads),
               "--clip", str(model_dir),
               "similar", "--format", "json", "a photo"]
        for p in paths:
            cmd += ["--image", str(p)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        best = min(best, json.loads(out.strip().splitlines()[-1])["timing"]["image_seconds"])
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--images", type=int, default=48)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    binary = ROOT / "target" / "release" / "bigyo"
    with tempfile.TemporaryDirectory() as tmp:
        model_dir, paths = build(Path(tmp), args.images)
        st = run_st(model_dir, paths, args.threads, args.repeats)
        ours = run_bigyo(binary, model_dir, paths, args.threads, args.repeats)
    cpu = cpu_label()
    n = len(paths)
    text = f"""## CLIP image embedding on the CPU ({cpu["model"]})

ISA: {cpu["flags"]}; {cpu["load"]}. {n} images (random pixels, 300-800 px a side, half PNG,
half JPEG), a CLIPModel with openai/clip-vit-base-patch32's vision tower shapes and random
weights (made by the script; no weights can be downloaded), fp32 on both sides, {args.threads}
threads, best of {args.repeats}; decode + preprocess (PIL-exact bicubic on both sides) + vision
tower + projection, model load excluded. The machine was shared with other builds while this
ran: only the ratio of the two rows, measured in the same run, means anything.

| | images/s | seconds |
|---|---|---|
| bigyo (`similar --image`, batches of 16) | {n / ours:.1f} | {ours:.2f} |
| sentence-transformers {__import__('sentence_transformers').__version__} (batch 16) | {n / st:.1f} | {st:.2f} |

bigyo / sentence-transformers throughput in this run: {st / ours:.2f}x.
"""
    update_section(Path(args.out), "clip-images", text)
    print(text)


if __name__ == "__main__":
    main()
