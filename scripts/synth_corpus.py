#!/usr/bin/env python3
"""Build a deterministic synthetic Korean corpus in the KLUE MRC schema, for benchmarks.

The bundled sample (assets/sample/klue_mrc_sample.jsonl, ~67 passages) is too small to
time retrieval on. This script recombines its sentences into as many passages as asked:

    python scripts/synth_corpus.py --out /tmp/synth10k.parquet --passages 10000
    python scripts/synth_corpus.py --out synth.parquet --passages 500 --seed 3 \\
        --questions-per 2 --jsonl synth.jsonl

Each synthetic passage is:
  * 3-6 sentences, each taken from a *different* sample passage (seeded RNG), with
  * one made-up sentence inserted at a random position that names a unique invented
    entity (it carries the passage number i) and a number n unique across the corpus,
    e.g. "가온 1234번 관측소에 남은 기록은 모두 58213건이었다." - so no two contexts
    are equal;
  * a title recombined from the first half of one sample title and the second half of
    another;
  * `--questions-per` question rows (default 1) asking for that number. The answer text
    is the number's digits, `answer_start` its Python code-point offset in `context`
    (checked: context[start:start+len(text)] == text). With more questions per passage
    than a template has phrasings (3), phrasings repeat.

Rows for one passage are contiguous and share byte-identical title/context, as in KLUE
MRC. news_category and source are copied from the passage that gave the first sentence.
guid is "bigyo-synth-{i:06d}" (with "-q{j}" for the j-th extra question), is_impossible
is False, question_type is 2 (question worded close to the passage).

Output: parquet written with pyarrow (exact KLUE MRC schema, snappy, one table); with
`--jsonl PATH` the same rows as UTF-8 JSON lines (ensure_ascii=False). The same
arguments always give the same bytes of content. 10,000 passages take about a second.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets" / "sample" / "klue_mrc_sample.jsonl"

SCHEMA = pa.schema(
    [
        pa.field("title", pa.string()),
        pa.field("context", pa.string()),
        pa.field("news_category", pa.string()),
        pa.field("source", pa.string()),
        pa.field("guid", pa.string()),
        pa.field("is_impossible", pa.bool_()),
        pa.field("question_type", pa.int32()),
        pa.field("question", pa.string()),
        pa.field(
            "answers",
            pa.struct(
                [
                    pa.field("answer_start", pa.list_(pa.int32())),
                    pa.field("text", pa.list_(pa.string())),
                ]
            ),
        ),
    ]
)

# Sentence ends: a period followed by whitespace ("...했다. 다음" / "... 1.7배. 다음").
SENTENCE_END = re.compile(r"(?<=\.)\s+")

# Made-up name parts. Names are built from these plus the passage number, so they are
# unique and describe nothing real.
PLACE_HEADS = ["가온", "누리", "다솜", "라온", "마루", "바다솔", "새벽", "솔빛", "아라", "하늬",
               "한결", "해나", "별가람", "온새미", "미리내", "가람", "너울", "도담", "여울", "초롱"]
NAME_HEADS = ["푸른", "은빛", "초록", "하얀", "너른", "맑은", "고운", "붉은", "환한", "깊은"]
NAME_TAILS = ["나래", "모둠", "씨앗", "물결", "들녘", "바람", "징검", "등대", "노을", "샘터",
              "오름", "두레", "나루", "고개", "마당"]


def has_final(word: str) -> bool:
    """True when the last character is a Hangul syllable with a final consonant (받침)."""
    ch = word[-1]
    return "\uac00" <= ch <= "\ud7a3" and (ord(ch) - 0xAC00) % 28 != 0


# Templates: (sentence, [question phrasings]). Fields: {place}, {name}, {i}, {n}, and the
# particles that follow {name}: {name_eun_josa} (은/는) and {name_i_josa} (이/가).
# The answer is always the digits of {n}; each sentence has {n} exactly once.
TEMPLATES = [
    (
        "{place} {i}번 관측소에 남은 기록은 모두 {n}건이었다.",
        ["{place} {i}번 관측소에 남은 기록은 모두 몇 건인가?",
         "{place} {i}번 관측소의 기록 건수는?",
         "{i}번 관측소가 있는 {place}에는 기록이 몇 건 남았나?"],
    ),
    (
        "시민 모임 '{name}'{name_eun_josa} 창립 {i}주년 행사에 회원 {n}명을 초청했다.",
        ["'{name}'{name_i_josa} 창립 {i}주년 행사에 초청한 회원은 몇 명인가?",
         "시민 모임 '{name}'의 창립 {i}주년 행사 초청 인원은?",
         "창립 {i}주년을 맞은 '{name}'{name_eun_josa} 회원 몇 명을 불렀나?"],
    ),
    (
        "{name} 연구소가 {i}차 시험에서 얻은 측정값은 {n}점으로 집계됐다.",
        ["{name} 연구소의 {i}차 시험 측정값은 얼마인가?",
         "{name} 연구소가 {i}차 시험에서 얻은 값은?",
         "{i}차 시험에서 {name} 연구소가 집계한 측정값은 얼마였나?"],
    ),
    (
        "{place}의 {name} 도서관은 {i}번째 기증 행사에서 책 {n}권을 받았다.",
        ["{place} {name} 도서관이 {i}번째 기증 행사에서 받은 책은 몇 권인가?",
         "{name} 도서관의 {i}번째 기증 행사에서 들어온 책의 수는?",
         "{i}번째 기증 행사 때 {place}의 {name} 도서관에 들어온 책은 몇 권이었나?"],
    ),
    (
        "실험 위성 {name}-{i}호는 발사 뒤 지상국과 {n}차례 교신했다.",
        ["실험 위성 {name}-{i}호가 지상국과 교신한 횟수는?",
         "{name}-{i}호 위성은 발사 뒤 몇 차례 교신했나?",
         "발사 뒤 {name}-{i}호가 지상국과 나눈 교신은 몇 차례인가?"],
    ),
    (
        "{place} {i}구역 마을 축제에는 관람객 {n}명이 다녀갔다.",
        ["{place} {i}구역 마을 축제를 찾은 관람객은 몇 명인가?",
         "{place} {i}구역 축제의 관람객 수는?",
         "마을 축제가 열린 {place} {i}구역에 다녀간 사람은 몇 명이었나?"],
    ),
]


def load_sample(path: Path):
    """Distinct sample passages (first-seen order): list of (row, [sentences])."""
    passages, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            if row["context"] in seen:
                continue
            seen.add(row["context"])
            sentences = [s for s in SENTENCE_END.split(row["context"].strip()) if s]
            passages.append((row, sentences))
    return passages


def recombine_title(rng: random.Random, titles: list[str]) -> str:
    a, b = rng.sample(titles, 2)
    wa, wb = a.replace('"', "").split(), b.replace('"', "").split()
    head = wa[: (len(wa) + 1) // 2]
    tail = wb[len(wb) // 2 :]
    return " ".join(head + tail)


def build_rows(n_passages: int, seed: int, questions_per: int):
    sample = load_sample(SAMPLE)
    if len(sample) < 6:
        raise SystemExit(f"{SAMPLE} has only {len(sample)} distinct passages; need >= 6")
    titles = list(dict.fromkeys(row["title"] for row, _ in sample))
    rng = random.Random(seed)
    # Unique numbers: drawn without replacement, never shorter than 3 digits.
    numbers = rng.sample(range(100, 100 + max(100_000, 20 * n_passages)), n_passages)

    cols = {f.name: [] for f in SCHEMA}
    for i in range(n_passages):
        k = rng.randint(3, 6)
        picks = rng.sample(range(len(sample)), k)
        sentences = [rng.choice(sample[p][1]) for p in picks]
        first_row = sample[picks[0]][0]

        sent_tpl, q_tpls = TEMPLATES[rng.randrange(len(TEMPLATES))]
        name = rng.choice(NAME_HEADS) + rng.choice(NAME_TAILS)
        fields = {
            "place": rng.choice(PLACE_HEADS),
            "name": name,
            "name_eun_josa": "은" if has_final(name) else "는",
            "name_i_josa": "이" if has_final(name) else "가",
            "i": i + 1,
            "n": numbers[i],
        }
        unique = sent_tpl.format(**fields)
        # Where {n} lands in the sentence (format the text before it; str.index could
        # hit the same digits inside {i}).
        in_sentence = len(sent_tpl.split("{n}")[0].format(**fields))
        pos = rng.randint(0, k)
        sentences.insert(pos, unique)

        context = " ".join(sentences)
        answer = str(numbers[i])
        # Code-point offset of the number inside the unique sentence, then in context.
        start = sum(len(s) + 1 for s in sentences[:pos]) + in_sentence
        if context[start : start + len(answer)] != answer:
            raise AssertionError(f"passage {i}: bad answer_start {start}")

        title = recombine_title(rng, titles)
        for j in range(questions_per):
            cols["title"].append(title)
            cols["context"].append(context)
            cols["news_category"].append(first_row["news_category"])
            cols["source"].append(first_row["source"])
            cols["guid"].append(f"bigyo-synth-{i + 1:06d}" + (f"-q{j}" if j else ""))
            cols["is_impossible"].append(False)
            cols["question_type"].append(2)
            cols["question"].append(q_tpls[j % len(q_tpls)].format(**fields))
            cols["answers"].append({"answer_start": [start], "text": [answer]})
    return cols


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="parquet file to write")
    ap.add_argument("--passages", required=True, type=int, help="number of passages")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--questions-per", type=int, default=1, help="question rows per passage")
    ap.add_argument("--jsonl", type=Path, help="also write the rows as JSON lines here")
    args = ap.parse_args(argv)
    if args.passages < 1 or args.questions_per < 1:
        ap.error("--passages and --questions-per must be >= 1")

    t0 = time.perf_counter()
    cols = build_rows(args.passages, args.seed, args.questions_per)
    table = pa.Table.from_pydict(cols, schema=SCHEMA)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, args.out, compression="snappy")
    if args.jsonl:
        names = SCHEMA.names
        with open(args.jsonl, "w", encoding="utf-8") as f:
            for r in range(table.num_rows):
                f.write(json.dumps({c: cols[c][r] for c in names}, ensure_ascii=False))
                f.write("\n")
    dt = time.perf_counter() - t0
    print(
        f"wrote {args.out} ({table.num_rows} rows, {args.passages} passages, "
        f"seed {args.seed}) in {dt:.2f}s" + (f"; jsonl {args.jsonl}" if args.jsonl else ""),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
