#!/usr/bin/env bash
# sip-edge's audio tools and assets, made offline: espeak-ng (speech) and sox (resampling),
# used by its tests and VAD benchmark; and the short apology sip-edge plays when Redis is
# unreachable (SIP_EDGE_APOLOGY_WAV), rendered once into $PABX_CACHE/sip-edge/.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install espeak-ng sox
out="$PABX_CACHE/sip-edge"
text="Desculpe, estou com uma instabilidade. Um momento, por favor."
stamp=$(printf '%s' "$text" | sha256sum | cut -c1-12)
if [ "$(cat "$out/desculpa.stamp" 2>/dev/null)" != "$stamp" ]; then
  mkdir -p "$out"
  espeak-ng -v pt-br -s 160 -w "$out/desculpa-raw.wav" "$text"
  for rate in 8000 16000; do
    sox "$out/desculpa-raw.wav" -r "$rate" -c 1 -b 16 "$out/desculpa-$rate.wav"
  done
  rm -f "$out/desculpa-raw.wav"
  echo "$stamp" > "$out/desculpa.stamp"
fi
