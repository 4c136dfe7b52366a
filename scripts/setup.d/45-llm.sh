#!/usr/bin/env bash
# llm-worker's offline pieces: the local model files (scripts/assemble-llm.sh) and the
# llama-cpp-python runtime. PyPI only has its source, which takes ~5 min to compile on
# 2 cores, so the built wheel is kept in $PABX_CACHE/wheels and reused by every clone.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"

LLAMA_VERSION=0.3.36
WHEELS="$PABX_CACHE/wheels"
mkdir -p "$WHEELS"

bash scripts/assemble-llm.sh all

installed=$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || true)
[ "$installed" = "$LLAMA_VERSION" ] && exit 0

exec 9>"$WHEELS/.llama-cpp-python.lock"
flock 9
wheel=$(ls "$WHEELS"/llama_cpp_python-"$LLAMA_VERSION"-*.whl 2>/dev/null | head -1 || true)
if [ -z "$wheel" ]; then
  apt_install cmake gcc g++ make
  log "compilando llama-cpp-python==$LLAMA_VERSION (~5 min em 2 núcleos; fica em $WHEELS)"
  tmp=$(mktemp -d "$WHEELS/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  "$VENV/bin/python" -m pip wheel -q --no-deps --disable-pip-version-check \
    "llama-cpp-python==$LLAMA_VERSION" -w "$tmp"
  built=$(ls "$tmp"/llama_cpp_python-"$LLAMA_VERSION"-*.whl)
  mv -f "$built" "$WHEELS/"
  wheel="$WHEELS/$(basename "$built")"
fi
log "instalando $(basename "$wheel")"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "$wheel"
