#!/usr/bin/env bash
# sip-edge's audio tools and assets, made offline: espeak-ng (speech) and sox (resampling),
# used by its tests and VAD benchmark; and sip-edge's own clips, rendered once into
# $PABX_CACHE/sip-edge/ so they play with the TTS (or Redis) down: the short apology
# (SIP_EDGE_APOLOGY_WAV) and the goodbye at the maximum call length (SIP_EDGE_GOODBYE_WAV).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install espeak-ng sox
out="$PABX_CACHE/sip-edge"
# render NAME TEXT: NAME-8000.wav and NAME-16000.wav (mono PCM16), redone when TEXT changes
render() {
  local name=$1 text=$2 stamp
  stamp=$(printf '%s' "$text" | sha256sum | cut -c1-12)
  if [ "$(cat "$out/$name.stamp" 2>/dev/null)" != "$stamp" ]; then
    mkdir -p "$out"
    espeak-ng -v pt-br -s 160 -w "$out/$name-raw.wav" "$text"
    for rate in 8000 16000; do
      sox "$out/$name-raw.wav" -r "$rate" -c 1 -b 16 "$out/$name-$rate.wav"
    done
    rm -f "$out/$name-raw.wav"
    echo "$stamp" > "$out/$name.stamp"
  fi
}
# the apology: Redis unreachable, or no answer within SIP_EDGE_NO_ANSWER_S (a late answer
# still plays, hence "um momento")
render desculpa "Desculpe, estou com uma instabilidade. Um momento, por favor."
# the goodbye at the maximum call length (SIP_EDGE_MAX_CALL_S, SIP_EDGE_GOODBYE_WAV)
render despedida "Esta ligação chegou ao tempo máximo. Obrigado por ligar, até logo."
