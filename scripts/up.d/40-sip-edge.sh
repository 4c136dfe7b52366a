#!/usr/bin/env bash
# sip-edge (extension 2000): start|stop|status. Registers to the Asterisk that `make up`
# started when compose/.env has EXT_2000_PASSWORD; otherwise answers direct calls only.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
METRICS_PORT=${SIP_EDGE_METRICS_PORT:-9091}
SIP_PORT=${SIP_EDGE_SIP_PORT:-5070}

start_service() {  # PIDFILE LOG, for module_service: sip-edge's settings, then the module
  if [ -f "$REPO_ROOT/compose/.env" ]; then
    set -a; source "$REPO_ROOT/compose/.env"; set +a
  fi
  apology="$PABX_CACHE/sip-edge/desculpa-{rate}.wav"
  export SIP_EDGE_APOLOGY_WAV=${SIP_EDGE_APOLOGY_WAV:-$apology}
  goodbye="$PABX_CACHE/sip-edge/despedida-{rate}.wav"
  export SIP_EDGE_GOODBYE_WAV=${SIP_EDGE_GOODBYE_WAV:-$goodbye}
  if [ -n "${EXT_2000_PASSWORD:-}" ]; then
    export SIP_EDGE_REGISTRAR=${SIP_EDGE_REGISTRAR:-127.0.0.1:5160}
  fi
  # the agent's line: loopback only, and INVITEs only from the Asterisk (the registrar's
  # host, 127.0.0.1); anything else gets 403 (services/sip-edge/README.md)
  export SIP_EDGE_SIP_BIND=${SIP_EDGE_SIP_BIND:-127.0.0.1}
  # speculative start, as compose and k8s ship it (docs/perf/voice-to-voice.md)
  export SIP_EDGE_SPECULATIVE_PAUSE_MS=${SIP_EDGE_SPECULATIVE_PAUSE_MS:-200}
  # Redis as its own ACL user (scripts/redis_acl.py; password in compose/.env)
  REDIS_URL=$(redis_url sip-edge); export REDIS_URL
  log "iniciando sip-edge (SIP udp/$SIP_EDGE_SIP_BIND:$SIP_PORT, registrar ${SIP_EDGE_REGISTRAR:-nenhum})"
  SIP_EDGE_SIP_PORT=$SIP_PORT SIP_EDGE_METRICS_PORT=$METRICS_PORT \
    start_module sip-edge sip_edge "$1" "$2" "$METRICS_PORT"
}

module_service sip-edge "$METRICS_PORT" \
  "sip:2000@127.0.0.1:$SIP_PORT  métricas http://127.0.0.1:$METRICS_PORT/metrics" "${1:-status}"
