"""BENCHMARKS.md is made of sections, each written by one bench script between markers
`<!-- section:NAME -->` and `<!-- /section:NAME -->`; a script replaces only its own.

Also a command for benches that are not Python: `... | python benches/benchfile.py NAME FILE`
writes the section NAME of FILE from standard input (`{cpu}` in NAME: this CPU's kind)."""
import os
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


def cpu_label():
    """The CPU as `lscpu` names it, the ISA flags that matter, and a short kind for the
    section name (one section per kind of CPU: numbers from other machines are kept)."""
    info = open("/proc/cpuinfo").read()
    field = lambda name: next((l.split(":", 1)[1].strip() for l in info.splitlines()
                               if l.split(":")[0].strip() == name), "")
    flags = set(field("flags").split())
    wanted = [f for f in ["avx2", "fma", "avx512f", "avx512_bf16", "amx_bf16", "amx_int8"] if f in flags]
    vendor = field("vendor_id")
    if vendor == "GenuineIntel":
        kind, slug = ("Intel with AMX", "intel-amx") if "amx_bf16" in flags else ("Intel", "intel")
    elif vendor == "AuthenticAMD":
        kind, slug = "AMD", "amd"
    else:
        kind, slug = (vendor or os.uname().machine), (vendor or os.uname().machine).lower()
    load = f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores when the run started"
    return {"model": field("model name") or "unknown CPU", "flags": " ".join(wanted), "kind": kind, "slug": slug,
            "load": load}


if __name__ == "__main__":
    # A `{cpu}` in the name becomes the CPU kind's slug: one section per kind of CPU.
    name, path = sys.argv[1].replace("{cpu}", cpu_label()["slug"]), Path(sys.argv[2])
    text = sys.stdin.read()
    if not text.strip():
        sys.exit(f"benchfile.py: nothing on standard input for section {name}; {path} left as it was")
    update_section(path, name, text)
