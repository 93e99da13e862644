#!/usr/bin/env python3
"""BM25 peer timings: bm25s and rank_bm25 on a KLUE-MRC-schema parquet, one thread.

    .bigyo/venv/bin/python scripts/synth_corpus.py --out /tmp/synth10k.parquet --passages 10000
    .bigyo/venv/bin/python benches/bm25_peers.py --corpus /tmp/synth10k.parquet \\
        --queries 1000 --out /tmp/bm25_peers.json [--limit ROWS]

(Peers: pip install -r scripts/requirements-bench.txt.)

What is measured, for each peer:

* Passages: the distinct `context` values of the first `--limit` rows (all rows by
  default), in first-seen order.
* Queries: the first N distinct `question` values, cycled when there are fewer than N.
* Analyzer: `benches/bigram.py` (Hangul bigrams + lowercased words), the one bigyo's Rust
  BM25 uses. Passages are analysed once; that time is reported as `analyze_s`.
* `index_s`: analysing the passages + building the peer's index (`fit_s` is the
  library part alone), so it is comparable with an end-to-end index build.
* `qps`: queries / seconds, one query at a time. Each query's time covers analysing its
  text (`bigram_query`: deduplicated tokens), mapping tokens to the peer's vocabulary
  (unknown tokens dropped) and retrieving the top 10. 20 untimed warm-up queries first.
    - bm25s: BM25(method="lucene", k1=1.2, b=0.75), numpy backend, token ids looked up in
      its vocab_dict, retrieve([ids], k=10, n_threads=0).
    - rank_bm25: BM25Okapi(k1=1.2, b=0.75), get_scores + numpy argpartition/argsort for
      the top 10. It scores every passage in Python, so it gets min(N, 300) queries; the
      count used is reported as `queries`.
* `hit_at_10` (extra, outside the timing): share of timed queries whose own passage (the
  row's context) is among the 10 results - a sanity check that retrieval works.

Everything runs on one thread: OMP/MKL/OpenBLAS/numexpr threads are set to 1 before numpy
loads, bm25s gets n_threads=0 (sequential), and rank_bm25 is given pre-tokenised
documents so it never starts its multiprocessing pool.

Writes JSON {"passages": P, "queries": N, "peers": {"bm25s": {...}, "rank_bm25": {...}}}
to --out and a short summary to stderr.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
             "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from importlib.metadata import version  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bigram import bigram, bigram_query  # noqa: E402

K = 10
WARMUP = 20
RANK_BM25_CAP = 300


def load(corpus: Path, limit: int | None, n_queries: int):
    table = pq.read_table(corpus, columns=["context", "question"])
    if limit is not None:
        table = table.slice(0, limit)
    contexts = table.column("context").to_pylist()
    questions = table.column("question").to_pylist()

    passage_of: dict[str, int] = {}
    for c in contexts:
        passage_of.setdefault(c, len(passage_of))
    passages = list(passage_of)

    # First-seen distinct questions, each with the passage of the row it came from.
    qs: dict[str, int] = {}
    for q, c in zip(questions, contexts):
        if q and q not in qs:
            qs[q] = passage_of[c]
    distinct = list(qs.items())
    if not distinct:
        raise SystemExit("no questions in corpus")
    queries = [distinct[i % len(distinct)] for i in range(n_queries)]
    return passages, queries


def top10(scores: np.ndarray) -> np.ndarray:
    part = np.argpartition(scores, -K)[-K:]
    return part[np.argsort(-scores[part])]


def bench_bm25s(doc_tokens, queries):
    import bm25s

    t0 = time.perf_counter()
    model = bm25s.BM25(method="lucene", k1=1.2, b=0.75, backend="numpy")
    model.index(doc_tokens, show_progress=False)
    fit_s = time.perf_counter() - t0
    vocab = model.vocab_dict

    def run(text):
        ids = [vocab[t] for t in bigram_query(text) if t in vocab]
        docs, _scores = model.retrieve(
            [ids], k=K, n_threads=0, show_progress=False, backend_selection="numpy"
        )
        return docs[0]

    return "bm25s", version("bm25s"), fit_s, run, len(queries)


def bench_rank_bm25(doc_tokens, queries):
    from rank_bm25 import BM25Okapi

    t0 = time.perf_counter()
    model = BM25Okapi(doc_tokens, k1=1.2, b=0.75)
    fit_s = time.perf_counter() - t0
    idf = model.idf

    def run(text):
        toks = [t for t in bigram_query(text) if t in idf]
        return top10(model.get_scores(toks))

    return "rank_bm25", version("rank_bm25"), fit_s, run, min(len(queries), RANK_BM25_CAP)


def time_queries(run, queries, n):
    for text, _ in queries[:WARMUP]:
        run(text)
    results = []
    t0 = time.perf_counter()
    for text, _ in queries[:n]:
        results.append(run(text))
    dt = time.perf_counter() - t0
    hits = sum(int(gold in set(np.asarray(r).tolist())) for r, (_, gold) in zip(results, queries))
    return dt, hits / n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--corpus", required=True, type=Path, help="KLUE MRC schema parquet")
    ap.add_argument("--queries", required=True, type=int, help="number of timed queries N")
    ap.add_argument("--out", required=True, type=Path, help="JSON result file")
    ap.add_argument("--limit", type=int, help="read only the first ROWS rows")
    args = ap.parse_args(argv)
    if args.queries < 1:
        ap.error("--queries must be >= 1")

    # At least WARMUP entries so the warm-up has enough; timing uses the first N.
    passages, queries = load(args.corpus, args.limit, max(args.queries, WARMUP))
    if len(passages) < K:
        raise SystemExit(f"need at least {K} passages, got {len(passages)}")

    t0 = time.perf_counter()
    doc_tokens = [bigram(p) for p in passages]
    analyze_s = time.perf_counter() - t0
    n_tokens = sum(map(len, doc_tokens))

    result = {
        "passages": len(passages),
        "queries": args.queries,
        "corpus": str(args.corpus),
        "analyze_s": analyze_s,
        "doc_tokens": n_tokens,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "peers": {},
    }
    for bench in (bench_bm25s, bench_rank_bm25):
        name, ver, fit_s, run, n = bench(doc_tokens, queries)
        dt, hit = time_queries(run, queries, n)
        result["peers"][name] = {
            "version": ver,
            "index_s": analyze_s + fit_s,
            "fit_s": fit_s,
            "qps": n / dt,
            "queries": n,
            "query_s": dt,
            "hit_at_10": hit,
        }
        del run

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    print(
        f"{len(passages)} passages, {n_tokens} doc tokens, analysed in {analyze_s:.2f}s; "
        f"N={args.queries} queries; 1 thread",
        file=sys.stderr,
    )
    for name, r in result["peers"].items():
        print(
            f"  {name:<10} {r['version']:<8} index {r['index_s']:7.2f}s (fit {r['fit_s']:.2f}s)"
            f"  {r['qps']:9.1f} q/s over {r['queries']} queries  hit@10 {r['hit_at_10']:.3f}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
