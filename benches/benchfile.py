"""BENCHMARKS.md is made of sections, each written by one bench script between markers
`<!-- section:NAME -->` and `<!-- /section:NAME -->`; a script replaces only its own.

Also a command for benches that are not Python: `... | python benches/benchfile.py NAME FILE`
writes the section NAME of FILE from standard input."""
import sys
from pathlib import Path

HEADER = "# Benchmarks\n\nEach section is written by `make bench`; numbers are from one run on the machine named.\n"


def update_section(path: Path, name: str, text: str) -> None:
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    block = f"{start}\n{text.strip()}\n{end}\n"
    old = path.read_text(encoding="utf-8") if path.exists() else HEADER
    if start in old and end in old:
        before, rest = old.split(start, 1)
        _, after = rest.split(end, 1)
        new = before + block + after.lstrip("\n")
    else:
        new = old.rstrip("\n") + "\n\n" + block
    path.write_text(new, encoding="utf-8")


if __name__ == "__main__":
    name, path = sys.argv[1], Path(sys.argv[2])
    text = sys.stdin.read()
    if not text.strip():
        sys.exit(f"benchfile.py: nothing on standard input for section {name}; {path} left as it was")
    update_section(path, name, text)
