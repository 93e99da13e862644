#!/usr/bin/env python3
"""Validate the bundled sample corpus and write its parquet copy.

assets/sample/klue_mrc_sample.jsonl is the source of truth: one KLUE MRC row per line,
edited by hand. The parquet file next to it is derived from it and is what bigyo embeds.

    python scripts/sample_corpus.py check     # validate the JSONL; the parquet must match it
    python scripts/sample_corpus.py parquet   # validate, then rewrite the parquet from the JSONL

`answer_start` counts Unicode code points (Python str indices), as KLUE MRC does.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections import Counter
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "sample"
JSONL = SAMPLE / "klue_mrc_sample.jsonl"
PARQUET = SAMPLE / "klue_mrc_sample.parquet"

FIELDS = {
    "title": str,
    "context": str,
    "news_category": str,
    "source": str,
    "guid": str,
    "is_impossible": bool,
    "question_type": int,
    "question": str,
    "answers": dict,
}
CATEGORIES = {"사회", "경제", "IT과학", "생활문화", "세계", "스포츠", "정치"}
SOURCES = {"hankyung", "acrofan", "wikipedia"}
CONTEXT_CHARS = (250, 700)


def canonical(row: dict) -> str:
    """The one way a row is written: key order as in FIELDS, Hangul unescaped."""
    return json.dumps(row, ensure_ascii=False, separators=(", ", ": "))


def problems_in(lines: list[str]) -> list[str]:
    out: list[str] = []
    rows = []
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            out.append(f"line {n}: not JSON ({e})")
            continue
        where = f"line {n} ({row.get('guid')})"
        if list(row) != list(FIELDS):
            out.append(f"{where}: fields {list(row)}, expected {list(FIELDS)}")
            continue
        bad = [k for k, t in FIELDS.items() if type(row[k]) is not t]
        if bad:
            out.append(f"{where}: wrong type for {bad}")
            continue
        if canonical(row) != line:
            out.append(f"{where}: not written canonically (rewrite it with json.dumps as in canonical())")
        rows.append((where, row))

    for i, (where, r) in enumerate(rows, 1):
        ctx, a = r["context"], r["answers"]
        if r["guid"] != f"bigyo-sample-{i:04d}":
            out.append(f"{where}: guid should be bigyo-sample-{i:04d} (unique, in row order)")
        for k in ("title", "context", "question"):
            if not r[k].strip() or not unicodedata.is_normalized("NFC", r[k]):
                out.append(f"{where}: {k} is empty or not NFC")
        if r["news_category"] not in CATEGORIES or r["source"] not in SOURCES:
            out.append(f"{where}: unknown news_category or source")
        if not CONTEXT_CHARS[0] <= len(ctx) <= CONTEXT_CHARS[1]:
            out.append(f"{where}: context has {len(ctx)} characters, outside {CONTEXT_CHARS}")
        if list(a) != ["answer_start", "text"] or len(a["answer_start"]) != len(a["text"]):
            out.append(f"{where}: answers must be {{answer_start: [..], text: [..]}} of equal length")
            continue
        expected = (3, 0) if r["is_impossible"] else (r["question_type"], 1)
        if r["question_type"] not in (1, 2, 3) or (r["question_type"], len(a["text"])) != expected:
            out.append(f"{where}: is_impossible rows are type 3 with no answer; others type 1/2 with one")
        for s, t in zip(a["answer_start"], a["text"]):
            if type(s) is not int or type(t) is not str or not t or t != t.strip():
                out.append(f"{where}: answer {t!r} at {s!r} is malformed")
            elif not (0 <= s and ctx[s : s + len(t)] == t):
                out.append(f"{where}: context[{s}:{s + len(t)}] is not {t!r}")

    # One passage: one title, one byte-identical context, its rows in one block.
    titles: dict[str, str] = {}
    for where, r in rows:
        if titles.setdefault(r["title"], r["context"]) != r["context"]:
            out.append(f"{where}: another row with this title has a different context")
    contexts = [r["context"] for _, r in rows]
    blocks = sum(1 for i, c in enumerate(contexts) if i == 0 or c != contexts[i - 1])
    if blocks != len(set(contexts)):
        out.append("the rows of a passage are not contiguous")
    if len(set(contexts)) != len(titles):
        out.append(f"{len(set(contexts))} distinct contexts but {len(titles)} distinct titles")
    per_passage = Counter(r["context"] for _, r in rows)
    if any(not 1 <= c <= 3 for c in per_passage.values()):
        out.append("every passage has one to three questions")
    return out


def table(lines: list[str]):
    import pyarrow as pa

    answers = pa.struct([("answer_start", pa.list_(pa.int32())), ("text", pa.list_(pa.string()))])
    types = {bool: pa.bool_(), int: pa.int32(), str: pa.string(), dict: answers}
    schema = pa.schema([(k, types[t]) for k, t in FIELDS.items()])
    return pa.Table.from_pylist([json.loads(line) for line in lines], schema=schema)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] not in ("check", "parquet"):
        print(f"usage: {Path(argv[0]).name} check|parquet", file=sys.stderr)
        return 2
    import pyarrow.parquet as pq

    lines = JSONL.read_text(encoding="utf-8").splitlines()
    problems = problems_in(lines)
    if not problems:
        rows = table(lines)
        if argv[1] == "parquet":
            # One row group, snappy: deterministic bytes for the same rows and pyarrow.
            pq.write_table(rows, PARQUET, compression="snappy", row_group_size=len(lines))
            print(f"wrote {PARQUET.name}")
        elif not PARQUET.exists() or not pq.read_table(PARQUET).equals(rows):
            problems.append(f"{PARQUET.name} does not hold the JSONL's rows; run `parquet`")
    for p in problems:
        print(f"{JSONL.name}: {p}", file=sys.stderr)
    if problems:
        return 1
    qtypes = Counter(json.loads(line)["question_type"] for line in lines)
    passages = len({json.loads(line)["context"] for line in lines})
    print(f"{argv[1]}: OK, {len(lines)} questions over {passages} passages, question_type {dict(sorted(qtypes.items()))}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
