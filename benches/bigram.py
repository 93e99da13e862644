#!/usr/bin/env python3
"""The bigram analyzer shared by the BM25 peer benchmark and bigyo's Rust BM25.

    from bigram import bigram, bigram_query
    bigram("서울에서 1946년에 MIT를")  # ['서울', '울에', '에서', '1946', '년에', 'mit', '를']

    python benches/bigram.py   # run the self-checks

Definition (the Rust side implements exactly this):

* Walk the text's characters (Unicode code points). A character is
  - "Hangul" if in U+AC00-U+D7A3, U+1100-U+11FF, U+3130-U+318F, U+A960-U+A97F or
    U+D7B0-U+D7FF;
  - else "word" if Python's `ch.isalnum()` (letters/digits of any other script, CJK
    ideographs included);
  - else a separator.
* Maximal runs of one class form runs; separator runs yield nothing.
* A Hangul run of length 1 yields that character; of length L >= 2 the L-1 overlapping
  character bigrams.
* A word run yields the whole run lowercased with `str.lower()`.
* Tokens come in text order with duplicates kept (documents). `bigram_query` drops
  repeats, keeping first-seen order (queries).

`bigram` uses one regular expression; `bigram_reference` is the literal character walk.
The checks below assert that they agree. (Python's `re` `\\w` is documented as
"str.isalnum() or '_'", so `[^\\W_]` is exactly `isalnum`.)
"""

from __future__ import annotations

import re

_HANGUL_RANGES = [
    (0xAC00, 0xD7A3),
    (0x1100, 0x11FF),
    (0x3130, 0x318F),
    (0xA960, 0xA97F),
    (0xD7B0, 0xD7FF),
]
_HANGUL_CLASS = "".join(f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in _HANGUL_RANGES)
# Group 1: a Hangul run. Group 2: a run of isalnum characters that are not Hangul.
_RUNS = re.compile(f"([{_HANGUL_CLASS}]+)|([^\\W_{_HANGUL_CLASS}]+)")


def is_hangul(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _HANGUL_RANGES)


def bigram(text: str) -> list[str]:
    """Document tokens: Hangul character bigrams plus lowercased other-script words."""
    out: list[str] = []
    for m in _RUNS.finditer(text):
        run = m.group(1)
        if run is not None:
            if len(run) == 1:
                out.append(run)
            else:
                out.extend(run[i : i + 2] for i in range(len(run) - 1))
        else:
            out.append(m.group(2).lower())
    return out


def bigram_query(text: str) -> list[str]:
    """Query tokens: `bigram(text)` with repeats removed, first-seen order kept."""
    return list(dict.fromkeys(bigram(text)))


def bigram_reference(text: str) -> list[str]:
    """The same analyzer written as the literal character walk (slow; for checking)."""

    def cls(ch: str) -> int:
        if is_hangul(ch):
            return 1
        if ch.isalnum():
            return 2
        return 0

    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = cls(text[i])
        j = i + 1
        while j < n and cls(text[j]) == c:
            j += 1
        run = text[i:j]
        if c == 1:
            if len(run) == 1:
                out.append(run)
            else:
                out.extend(run[k : k + 2] for k in range(len(run) - 1))
        elif c == 2:
            out.append(run.lower())
        i = j
    return out


if __name__ == "__main__":
    examples = {
        "서울에서 1946년에 MIT를": ["서울", "울에", "에서", "1946", "년에", "mit", "를"],
        "장마": ["장마"],
        "비": ["비"],
        "🙂 ok!": ["ok"],
    }
    for text, want in examples.items():
        assert bigram(text) == want, (text, bigram(text), want)
        assert bigram_reference(text) == want, (text, bigram_reference(text), want)
    assert bigram_query("장마 장마철 장마") == ["장마", "마철"]
    # Edge cases: underscore is a separator; CJK ideographs and other scripts are words;
    # compatibility jamo are Hangul; Hangul next to digits splits runs.
    extra = ["snake_case", "漢字テスト", "ㅋㅋㅋ", "ÄÖÜ straße", "x²+y", "3.14", "Ⅻ세기", ""]
    for text in extra:
        assert bigram(text) == bigram_reference(text), (text, bigram(text))

    # Agreement on every character of the Basic Multilingual Plane and beyond, in runs.
    import sys

    for block in range(0, 0x30000, 512):
        s = "".join(chr(c) for c in range(block, block + 512) if not 0xD800 <= c <= 0xDFFF)
        assert bigram(s) == bigram_reference(s), hex(block)
        spaced = " ".join(s)
        assert bigram(spaced) == bigram_reference(spaced), hex(block)
    print("bigram: OK", file=sys.stderr)
