#!/usr/bin/env bash
# Installs llama-cpp-python built for any x86-64 CPU with AVX2, never for the build machine's own CPU.
#
# llama.cpp has no Linux wheels on PyPI, so pip compiles it, and by default with -march=native (GGML_NATIVE):
# a wheel built on a CPU with AVX-512/AMX dies with SIGILL on one without, and pip's wheel cache hands that wheel
# to every later install whatever CMAKE_ARGS say. So the wheel is built here with pip's cache off and explicit
# flags, and kept in a folder of our own whose name is derived from the version and the flags.
#
# Usage: scripts/install_llamacpp.sh PIP   (PIP: the pip of the target environment, e.g. .venv/bin/pip)
set -euo pipefail

PIP=${1:?usage: install_llamacpp.sh PIP}
VERSION=0.3.36
# AVX2 + FMA + F16C is the baseline (x86-64-v3); AVX-512 and AMX stay off (their other variants are off by default).
FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX512=OFF"
FLAGS="$FLAGS -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF"

key=$(printf '%s %s' "$VERSION" "$FLAGS" | sha256sum | cut -c1-12)
dir="${XDG_CACHE_HOME:-$HOME/.cache}/frontline-assist/llama-cpp-python-$VERSION-avx2-$key"

if ! compgen -G "$dir/llama_cpp_python-$VERSION-*.whl" >/dev/null; then
  echo "Building llama-cpp-python $VERSION for any AVX2 CPU (a few minutes, once per machine)..."
  tmp="$dir.tmp.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  CMAKE_ARGS="$FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PIP" wheel -q --no-cache-dir --no-deps --no-binary llama-cpp-python "llama-cpp-python==$VERSION" -w "$tmp"
  rm -rf "$dir"
  mv "$tmp" "$dir"
fi
"$PIP" install -q --no-cache-dir --no-deps "$dir"/llama_cpp_python-"$VERSION"-*.whl
