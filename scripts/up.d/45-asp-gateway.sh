#!/usr/bin/env bash
# asp-gateway (ASP over WebSocket, :8765): start|stop|status. The token clients present is
# ASP_GATEWAY_TOKEN in compose/.env, generated on the first start like the other secrets.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
PORT=${ASP_GATEWAY_PORT:-8765}
METRICS_PORT=${ASP_GATEWAY_METRICS_PORT:-9092}
ENV_FILE="$REPO_ROOT/compose/.env"

ensure_token() {  # ASP_GATEWAY_TOKEN in compose/.env, generated when it has no value
  touch "$ENV_FILE"; chmod 600 "$ENV_FILE"
  if ! grep -q "^ASP_GATEWAY_TOKEN=." "$ENV_FILE"; then
    sed -i "/^ASP_GATEWAY_TOKEN=\s*$/d" "$ENV_FILE"
    echo "ASP_GATEWAY_TOKEN=$(openssl rand -hex 24)" >> "$ENV_FILE"
    log "ASP_GATEWAY_TOKEN gerado em compose/.env"
  fi
}

start_service() {  # PIDFILE LOG, for module_service: asp-gateway's settings, then the module
  ensure_token
  set -a; source "$ENV_FILE"; set +a
  REDIS_URL=$(redis_url asp-gateway); export REDIS_URL  # its own ACL user
  log "iniciando asp-gateway (ws :$PORT, métricas :$METRICS_PORT)"
  ASP_GATEWAY_PORT=$PORT ASP_GATEWAY_METRICS_PORT=$METRICS_PORT \
    start_module asp-gateway sip_edge.gateway "$1" "$2" "$METRICS_PORT"
}

scheme=ws
if [ -n "${ASP_GATEWAY_TLS_CERT:-}" ]; then scheme=wss; fi
module_service asp-gateway "$METRICS_PORT" "$scheme://127.0.0.1:$PORT/ (token: \
ASP_GATEWAY_TOKEN em compose/.env)  métricas http://127.0.0.1:$METRICS_PORT/metrics" "${1:-status}"
