#!/usr/bin/env bash
# llm-worker's offline pieces: the local model files (scripts/assemble-llm.sh) and the
# llama-cpp-python runtime. PyPI only has its source, which takes ~5 min to compile on
# 2 cores, so the built wheel is kept in $PABX_CACHE/wheels and reused by every clone.
#
# The build targets a fixed CPU level, never the build host's own (-march=native): a
# native build of llama.cpp on a host whose CPU advertises AMX/AVX-512 died with SIGILL in
# the first decode on that very host, and an image built on one host must run on others.
# LLAMA_CPU picks the level: x86-64-v3 (default on x86_64: AVX2, FMA, F16C, BMI2 - every
# x86 server CPU since ~2015), x86-64-v2 (SSE4.2 only, older CPUs), native (this host only,
# at your own risk); aarch64 always builds for the armv8-a baseline.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

LLAMA_VERSION=0.3.36
case "$(uname -m)" in
  x86_64) LLAMA_CPU=${LLAMA_CPU:-x86-64-v3} ;;
  *) LLAMA_CPU=baseline ;;
esac
case "$LLAMA_CPU" in
  x86-64-v3) cmake_args="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON" ;;
  x86-64-v2) cmake_args="-DGGML_NATIVE=OFF -DGGML_AVX=OFF -DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF" ;;
  native) cmake_args="-DGGML_NATIVE=ON" ;;
  baseline) cmake_args="-DGGML_NATIVE=OFF" ;;
  *) die "LLAMA_CPU=$LLAMA_CPU desconhecido (use x86-64-v3, x86-64-v2 ou native)" ;;
esac
WHEELS="$PABX_CACHE/wheels/llama-$LLAMA_CPU"
MARK="$VENV/.llama-cpp-python"
mkdir -p "$WHEELS"

bash scripts/assemble-llm.sh all

[ "$(cat "$MARK" 2>/dev/null || true)" = "$LLAMA_VERSION $LLAMA_CPU" ] && exit 0

exec 9>"$WHEELS/.llama-cpp-python.lock"
flock 9
wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  apt_install cmake gcc g++ make
  log "compilando llama-cpp-python==$LLAMA_VERSION para $LLAMA_CPU (~5 min em 2 núcleos; fica em $WHEELS)"
  tmp=$(mktemp -d "$WHEELS/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  # --no-cache-dir: pip's own wheel cache would hand back a build made with other flags.
  CMAKE_ARGS="$cmake_args" "$VENV/bin/python" -m pip wheel -q --no-deps --no-cache-dir \
    --no-binary llama-cpp-python --disable-pip-version-check \
    "llama-cpp-python==$LLAMA_VERSION" -w "$tmp"
  built=$(ls "$tmp"/llama_cpp_python-"$LLAMA_VERSION"-*.whl)
  mv -f "$built" "$WHEELS/"
  wheel="$WHEELS/$(basename "$built")"
fi
log "instalando $(basename "$wheel") ($LLAMA_CPU)"
"$VENV/bin/python" -m pip uninstall -q -y llama-cpp-python 2>/dev/null || true
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "$wheel"
echo "$LLAMA_VERSION $LLAMA_CPU" >"$MARK"
