#!/usr/bin/env python3
"""Structure checks for bigyo's sources: long functions and import cycles.

    scripts/check_structure.py [--root src] [--max-lines 100]

Prints two sections and exits with status 1 when either finds something:

- "functions over N lines": every non-test `fn` whose body, from the `fn` line to its closing
  brace, spans more than N lines (test code: files under a `tests` folder, `tests.rs`, and items
  marked `#[cfg(test)]`, is skipped).
- "import cycles": groups of files that reach each other through `crate::`, `super::` or
  `self::` paths (in `use` items or written inline), directly or round a loop, with the edges
  that close each loop and the line that makes each edge. A file's own submodule declarations
  and bare child paths (`pub use config::X` in a `mod.rs`) do not count, and neither does text
  in comments: a rustdoc link such as [`super::cpu`] is documentation, not an import.

Standard library only, so it runs anywhere Python 3.8+ does.
"""

import argparse
import collections
import os
import re
import sys


def blank_comments_and_literals(text):
    """The source with comments removed and string/char literal contents blanked.

    Newlines are kept, so line numbers still match the file. Handles nested block comments,
    raw strings (r"..", r#".."#, br".."), byte strings, escapes, and tells char literals
    ('a', '\\n', '}') from lifetimes ('a).
    """
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
            continue
        if text.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    if text[i] == "\n":
                        out.append("\n")
                    i += 1
            continue
        raw = re.match(r'b?r(#*)"', text[i:i + 260]) if c in "br" else None
        if raw and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            close = '"' + raw.group(1)
            j = text.find(close, i + raw.end())
            j = n if j < 0 else j + len(close)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
            continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j + 1
            continue
        if c == "'":
            char = re.match(r"'(\\(x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]+\}|.)|[^\\'\n])'", text[i:i + 16])
            if char:
                out.append("' '")
                i += char.end()
                continue
        out.append(c)
        i += 1
    return "".join(out)


def matching_brace(code, open_at):
    """Index of the `}` closing the `{` at `open_at` (code already blanked)."""
    depth = 0
    for k in range(open_at, len(code)):
        if code[k] == "{":
            depth += 1
        elif code[k] == "}":
            depth -= 1
            if depth == 0:
                return k
    return len(code) - 1


def test_spans(code):
    """(start, end) offsets of items marked `#[cfg(test)]`."""
    spans = []
    for m in re.finditer(r"#\[cfg\(test\)\]", code):
        brace, semi = code.find("{", m.end()), code.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            spans.append((m.start(), semi if semi >= 0 else m.end()))
        else:
            spans.append((m.start(), matching_brace(code, brace)))
    return spans


def module_path(root, path):
    parts = os.path.relpath(path, root)[:-3].split(os.sep)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return "::".join(["crate"] + parts)


def is_test_file(root, path):
    rel = os.path.relpath(path, root).split(os.sep)
    return "tests" in rel[:-1] or rel[-1] == "tests.rs" or "snapshots" in rel


def long_functions(path, code, spans, max_lines):
    found = []
    for m in re.finditer(r"\bfn\s+(\w+)", code):
        if any(a <= m.start() <= b for a, b in spans):
            continue
        brace, semi = code.find("{", m.end()), code.find(";", m.end())
        if brace < 0 or (0 <= semi < brace):
            continue  # a declaration without a body (trait item, extern)
        end = matching_brace(code, brace)
        first = code.count("\n", 0, m.start()) + 1
        lines = code.count("\n", m.start(), end) + 1
        if lines > max_lines:
            found.append((lines, path, first, m.group(1)))
    return found


def use_tree_paths(tree):
    """Every full path named by one `use` tree: `a::{b, c::{d as e, *}}` -> a::b, a::c::d, a::c."""
    tree = re.sub(r"\s+", "", tree)
    brace = tree.find("{")
    if brace < 0:
        path = re.sub(r"as\w+$", "", tree.replace("::*", ""))
        return [path.rstrip(":")] if path else []
    prefix, inner = tree[:brace], tree[brace + 1:tree.rfind("}")]
    items, depth, start = [], 0, 0
    for k, ch in enumerate(inner):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(inner[start:k])
            start = k + 1
    items.append(inner[start:])
    paths = []
    for item in items:
        if item == "self":
            paths.append(prefix.rstrip(":"))
        elif item:
            paths += [prefix + p for p in use_tree_paths(item)]
    return paths


def resolve(me, path):
    """`crate::`/`super::`/`self::` path -> absolute path, or None for other paths."""
    parts = path.split("::")
    if parts[0] == "crate":
        return parts
    if parts[0] not in ("super", "self"):
        return None
    base = me.split("::")
    # `self` of src/a/b.rs is crate::a::b; `super` of both src/a/b.rs and src/a/mod.rs is crate::a.
    while parts and parts[0] in ("super", "self"):
        if parts.pop(0) == "super":
            base = base[:-1]
    return base + parts


def imports(me, code, spans, modules):
    """{module: first line} for every other module of the crate this file refers to."""
    refs = []
    for m in re.finditer(r"\buse\s+([^;]*);", code):
        refs += [(m.start(), p) for p in use_tree_paths(m.group(1))]
    for m in re.finditer(r"\b(?:crate|super|self)(?:\s*::\s*\w+)+", code):
        refs.append((m.start(), re.sub(r"\s+", "", m.group(0))))
    edges = {}
    for at, path in refs:
        if any(a <= at <= b for a, b in spans):
            continue
        parts = resolve(me, path)
        if not parts:
            continue
        for k in range(len(parts), 1, -1):
            target = "::".join(parts[:k])
            if target in modules:
                if target != me:
                    line = code.count("\n", 0, at) + 1
                    edges[target] = min(edges.get(target, line), line)
                break
    return edges


def cycles(edges):
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                group = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    group.append(w)
                    if w == v:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default="src", help="source folder (default: src)")
    parser.add_argument("--max-lines", type=int, default=100, help="longest function allowed")
    args = parser.parse_args()
    if not os.path.isdir(args.root):
        sys.exit(f"check_structure: {args.root} is not a folder (run from the repository root)")

    files = sorted(
        os.path.join(d, f) for d, _, fs in os.walk(args.root) for f in fs if f.endswith(".rs")
    )
    modules = {module_path(args.root, p): p for p in files}
    long, edges = [], collections.defaultdict(dict)
    for path in files:
        with open(path, encoding="utf-8") as f:
            code = blank_comments_and_literals(f.read())
        spans = test_spans(code)
        me = module_path(args.root, path)
        if not is_test_file(args.root, path):
            long += long_functions(path, code, spans, args.max_lines)
        for target, line in imports(me, code, spans, modules).items():
            edges[me][target] = line

    long.sort(key=lambda f: (-f[0], f[1]))
    print(f"functions over {args.max_lines} lines: {len(long) or 'none'}")
    for lines, path, line, name in long:
        print(f"  {lines:4}  {name}  ({path}:{line})")

    groups = cycles(edges)
    print(f"import cycles: {len(groups) or 'none'}")
    for group in groups:
        print("  " + " <-> ".join(group))
        for a in group:
            for b in sorted(edges[a]):
                if b in group:
                    print(f"      {a} -> {b}  ({modules[a]}:{edges[a][b]})")
    return 1 if long or groups else 0


if __name__ == "__main__":
    sys.exit(main())
