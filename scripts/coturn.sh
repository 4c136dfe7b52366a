#!/usr/bin/env bash
# coturn (TURN/STUN for WebRTC), natively, with the same turnserver.conf as the compose
# service; the TURN user is generated on first run into compose/.env, as the compose init does.
#   coturn.sh start|stop|status
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
PIDFILE="$RUN_DIR/coturn.pid"
LOG="$RUN_DIR/coturn.log"
ENV_FILE=compose/.env

ensure() {  # ensure NAME VALUE: appends NAME=VALUE when NAME has no value yet
  touch "$ENV_FILE"
  if ! grep -q "^$1=." "$ENV_FILE"; then
    sed -i "/^$1=\s*$/d" "$ENV_FILE"
    echo "$1=$2" >> "$ENV_FILE"
  fi
}
value() { grep "^$1=" "$ENV_FILE" | tail -1 | cut -d= -f2- || true; }
listening() { ss -Hlun 2>/dev/null | grep -q ':3478 '; }
# up: the pidfile names a live turnserver and it listens (turnserver rewrites its own
# pidfile a moment after it binds: the status right after start read it empty)
up() { pid_alive "$PIDFILE" && listening; }

case "${1:-status}" in
  start)
    pid_alive "$PIDFILE" && exit 0
    command -v turnserver >/dev/null || apt_install coturn
    ensure TURN_USERNAME pabx
    ensure TURN_PASSWORD "$(openssl rand -hex 16)"
    chmod 600 "$ENV_FILE"
    args=(-c compose/coturn/turnserver.conf --user "$(value TURN_USERNAME):$(value TURN_PASSWORD)"
          --pidfile "$PIDFILE")
    [ -n "${PABX_EXTERNAL_ADDRESS:-}" ] && args+=("--external-ip=$PABX_EXTERNAL_ADDRESS")
    # peers turnserver.conf denies (private, loopback) that the operator opens
    allowed=${TURN_ALLOWED_PEER_IPS:-$(value TURN_ALLOWED_PEER_IPS)}
    for peer in ${allowed//,/ }; do args+=("--allowed-peer-ip=$peer"); done
    log "iniciando coturn (udp/tcp 3478)"
    setsid turnserver "${args[@]}" >>"$LOG" 2>&1 &
    echo $! > "$PIDFILE"
    wait_for "coturn" 15 up || die "coturn não subiu; veja $LOG";;
  stop)
    stop_pidfile coturn "$PIDFILE";;
  status)
    if up; then
      echo "  coturn     turn:127.0.0.1:3478 (usuário em compose/.env)"
    else
      echo "  coturn     parado"; exit 1
    fi;;
  *) die "uso: $0 start|stop|status";;
esac
