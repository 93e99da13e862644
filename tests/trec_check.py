"""Scores bigyo's TREC run files with pytrec_eval (trec_eval's own C code) for tests/judgments.rs.

usage: trec_check.py QRELS RUN_DIR [--relevance-level N] [--exp-gain]

Prints one JSON object: per run file (method), the means over the queries in both the qrels and
the run of ndcg_cut_10, recip_rank on the run cut at 10, recall_1/5/10, the number of queries,
`ties`: adjacent lines of one query whose scores are equal as f32 (trec_eval holds scores as
C floats and would order those by docid, not as bigyo ranked them), and `near_ties`: adjacent
lines whose scores differ by at most 4 f32 ulps (ties bigyo broke by nudging).

--exp-gain rewrites each grade g as 2^g - 1 before scoring, so trec_eval's linear-gain
ndcg_cut gives the exponential-gain nDCG of Burges et al. (ranx's ndcg_burges).
"""
import argparse
import json
import math
import pathlib
import sys

import numpy
import pytrec_eval


def read_qrels(path, exp_gain):
    qrels = {}
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        cols = line.split()
        if not cols:
            continue
        qid, _, doc, grade = cols
        g = int(grade)
        qrels.setdefault(qid, {})[doc] = (2**g - 1) if exp_gain else g
    return qrels


def read_run(path):
    run = {}
    lines = {}
    for line in pathlib.Path(path).read_text(encoding="utf-8").splitlines():
        qid, _, doc, rank, score, _ = line.split()
        run.setdefault(qid, {})[doc] = float(score)
        lines.setdefault(qid, []).append((int(rank), float(score)))
    return run, lines


def trec_order(docs):
    # trec_eval's comp_sim_docno: score descending, then docno descending (strcmp).
    return sorted(docs.items(), key=lambda kv: (kv[1], kv[0]), reverse=True)


def f32_below(x):
    return float(numpy.nextafter(numpy.float32(x), numpy.float32(-numpy.inf)))


def tie_counts(lines):
    ties = near = 0
    for rows in lines.values():
        rows.sort()
        for (_, a), (_, b) in zip(rows, rows[1:]):
            a, b = float(numpy.float32(a)), float(numpy.float32(b))
            if a == b:
                ties += 1
                continue
            x = a
            for _ in range(4):
                x = f32_below(x)
            if x <= b < a:
                near += 1
    return ties, near


def mean(values):
    return sum(values) / len(values) if values else 0.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("qrels")
    ap.add_argument("run_dir")
    ap.add_argument("--relevance-level", type=int, default=1)
    ap.add_argument("--exp-gain", action="store_true")
    args = ap.parse_args()
    qrels = read_qrels(args.qrels, args.exp_gain)
    out = {}
    for path in sorted(pathlib.Path(args.run_dir).glob("*.trec")):
        run, lines = read_run(path)
        cut = {q: dict(trec_order(d)[:10]) for q, d in run.items()}
        full = pytrec_eval.RelevanceEvaluator(
            qrels, {"ndcg_cut.10", "recall.1,5,10"}, relevance_level=args.relevance_level
        ).evaluate(run)
        rr = pytrec_eval.RelevanceEvaluator(
            qrels, {"recip_rank"}, relevance_level=args.relevance_level
        ).evaluate(cut)
        queries = sorted(full)
        ties, near = tie_counts(lines)
        out[path.stem] = {
            "queries": len(queries),
            "ndcg_cut_10": mean([full[q]["ndcg_cut_10"] for q in queries]),
            "recip_rank_10": mean([rr[q]["recip_rank"] for q in queries]),
            "recall_1": mean([full[q]["recall_1"] for q in queries]),
            "recall_5": mean([full[q]["recall_5"] for q in queries]),
            "recall_10": mean([full[q]["recall_10"] for q in queries]),
            "ties": ties,
            "near_ties": near,
        }
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
