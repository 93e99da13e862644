#!/usr/bin/env python3
"""The Milvus backend against bigyo's in-process indexes, same run, written into BENCHMARKS.md.

    .bigyo/venv/bin/python benches/milvus_bench.py [--passages 1000] [--bin target/release/bigyo]

1. Builds (once) a deterministic synthetic KLUE-schema corpus of N passages
   (scripts/synth_corpus.py) under target/bench/, one question per passage.
2. Starts `milvus-lite server` (the test server, PyPI milvus-lite) on a free loopback port
   with a fresh data directory.
3. Index throughput: `bigyo index --backend milvus://...` (MiniLM embeds every passage, the
   analyzer's terms go up, Milvus builds FLAT + BM25) vs the local start-up of the same
   session (`bigyo eval --no-cache`: MiniLM embeds every passage, tantivy builds BM25).
4. Per-query time: `bigyo eval --json` over every question, locally and with `--backend`
   (panes dense, bm25, hybrid, and hybrid:server on the backend); a pane's time is its
   end-to-end mean per question (query encoding, amortised over the batch, included in the
   dense and fused panes), from eval's q/s.
5. Start-up to the first answer: `bigyo search Q` wall time, local (no cache: embeds the
   corpus) vs backend (loads the encoder only).
6. Replaces the "milvus" section of BENCHMARKS.md.

Threads: bigyo runs with --threads 2; milvus-lite runs on the same machine and competes for
the same cores, so the backend numbers include a local server's CPU time, not a network hop.
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benches"))
from benchfile import cpu_label, update_section  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def minilm():
    manifest = json.loads((ROOT / "tests/golden/generated/manifest.json").read_text())
    return next(c["model_dir"] for c in manifest["cases"] if c["name"] == "minilm")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--passages", type=int, default=1000)
    ap.add_argument("--bin", default=os.environ.get("BIGYO_BIN", str(ROOT / "target/release/bigyo")))
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()

    work = ROOT / "target/bench"
    work.mkdir(parents=True, exist_ok=True)
    corpus = work / f"synth{args.passages}.parquet"
    if not corpus.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts/synth_corpus.py"), "--out", str(corpus),
                        "--passages", str(args.passages)], check=True)
    model = minilm()
    cpu = cpu_label()
    home = Path(tempfile.mkdtemp(prefix="bigyo-milvus-bench-"))
    env = dict(os.environ, HF_HOME=str(home / "hf"), HF_ENDPOINT="http://127.0.0.1:9",
               BIGYO_CACHE_DIR=str(home / "cache"), BIGYO_CONFIG_DIR=str(home / "config"),
               BIGYO_DATA_DIR=str(home / "data"))
    port = free_port()
    lite = subprocess.Popen([str(ROOT / ".bigyo/venv/bin/milvus-lite"), "server", "--data-dir",
                             str(home / "milvus"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    backend = f"milvus://127.0.0.1:{port}/bench"
    base = [args.bin, "--device", "cpu", "--threads", "2", "--data", str(corpus), "--model", model,
            "--reranker", "none"]

    def run(extra):
        started = time.perf_counter()
        out = subprocess.run(base + extra, env=env, capture_output=True, text=True)
        secs = time.perf_counter() - started
        if out.returncode != 0:
            sys.exit(f"{' '.join(extra)} failed:\n{out.stderr}")
        return out.stdout, secs

    try:
        deadline = time.time() + 120
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit("milvus-lite did not start in 120 s")
                time.sleep(0.5)
        time.sleep(2)
        out, index_secs = run(["index", "--backend", backend, "--drop"])
        m = re.search(r"in ([\d.]+) s \(([\d.]+) passages/s, embedding ([\d.]+) s\)", out)
        index_inner, index_rate, index_embed = (float(x) for x in m.groups())
        panes_local = "dense,bm25,hybrid"
        local, local_secs = run(["--no-cache", "--panes", panes_local, "eval", "--json"])
        local = json.loads(local.strip().splitlines()[-1])
        remote, remote_secs = run(["--backend", backend, "--panes", panes_local + ",hybrid:server",
                                   "eval", "--json"])
        remote = json.loads(remote.strip().splitlines()[-1])
        query = "장마 기간에 내린 비의 양은?"
        _, search_local = run(["--no-cache", "--panes", panes_local, "search", query, "--format", "json"])
        _, search_remote = run(["--backend", backend, "--panes", panes_local, "search", query,
                                "--format", "json"])
    finally:
        lite.terminate()
        try:
            lite.wait(timeout=20)
        except subprocess.TimeoutExpired:
            lite.kill()
        shutil.rmtree(home, ignore_errors=True)

    emb = local["embedding"]
    n_q = local["corpus"]["questions"]
    ms = lambda report, pane: 1000.0 / report["methods"][pane]["qps"]
    rows = []
    for pane, title in [("dense", "dense (MiniLM, exact)"), ("bm25", "BM25 (bigram)"),
                        ("hybrid", "hybrid (bigyo's RRF)")]:
        rows.append(f"| {title} | {ms(local, pane):.2f} ms | {ms(remote, pane):.2f} ms | "
                    f"{local['methods'][pane]['mrr@10']:.4f} | {remote['methods'][pane]['mrr@10']:.4f} |")
    rows.append(f"| hybrid:server (Milvus's RRF) | - | {ms(remote, 'hybrid:server'):.2f} ms | - | "
                f"{remote['methods']['hybrid:server']['mrr@10']:.4f} |")
    text = f"""## Milvus backend vs in-process ({args.passages} passages, {cpu['kind']})

`benches/milvus_bench.py`: synthetic KLUE-schema corpus of {args.passages} passages
(`scripts/synth_corpus.py`), MiniLM-L6 (384-d), bigram BM25, `--threads 2`, CPU only;
milvus-lite {'3.2.2'} (`milvus-lite server`) on loopback on the same machine, FLAT index.
CPU: {cpu['model']} ({cpu['flags']}); {cpu['load']}.

| indexing | in-process | Milvus backend |
|---|---|---|
| passages/s (embed + index) | {args.passages / emb['seconds']:.1f} (embedding {emb['seconds']:.1f} s; BM25 alongside) | {index_rate:.1f} (`bigyo index` {index_inner:.1f} s, of which embedding {index_embed:.1f} s; process {index_secs:.1f} s) |
| `bigyo search` start-up to answer | {search_local:.1f} s (embeds the corpus, no cache) | {search_remote:.1f} s (encoder only) |

Per query, end-to-end mean over {n_q} questions (`bigyo eval`; query encoding amortised over
the batch; the Milvus columns include gRPC to the local server):

| pane | in-process | Milvus | MRR@10 in-process | MRR@10 Milvus |
|---|---|---|---|---|
{chr(10).join(rows)}

Whole `bigyo eval` runs: in-process {local_secs:.1f} s (embedding included), backend {remote_secs:.1f} s.
"""
    update_section(Path(args.out), f"milvus-{cpu['slug']}", text)
    print(text)


if __name__ == "__main__":
    main()
