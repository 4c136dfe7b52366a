#!/usr/bin/env bash
# Voice-to-voice benchmark at the caller (issue 5): make up (offline defaults), then
# bench/voice_to_voice.py (a PJSUA2 phone as 1001 asks Kokoro-spoken Portuguese questions to
# extension 2000), then make down, even on failure. Holds /tmp/pabx-asterisk.lock the whole
# time. The load average is sampled every 30 s into .run/bench-v2v-load.txt.
#   scripts/bench-voice-to-voice.sh [--turns 40] [--turns-per-call 5] [--calls 1|2] [--json FILE]
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
hold_asterisk_lock
mkdir -p "$RUN_DIR"
load_log="$RUN_DIR/bench-v2v-load.txt"
: >"$load_log"
sampler=""
cleanup() {
  [[ -n "$sampler" ]] && kill "$sampler" 2>/dev/null || true
  make down || true
}
trap cleanup EXIT
make up
(while true; do uptime >>"$load_log"; sleep 30; done) &
sampler=$!
rc=0
"$VENV/bin/python" bench/voice_to_voice.py "$@" || rc=$?
log "load average durante a medição: $load_log"
cat "$load_log"
exit $rc
