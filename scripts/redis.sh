#!/usr/bin/env bash
# Redis for the project: uses the one answering on REDIS_HOST:REDIS_PORT, or starts one.
#   redis.sh start   start one unless something answers; record it in .run/ when we started it
#   redis.sh stop    stop only the Redis that start started
#   redis.sh status  print where Redis answers
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HOST=${REDIS_HOST:-127.0.0.1}
PORT=${REDIS_PORT:-6379}
PIDFILE="$RUN_DIR/redis.pid"

redis_ping() {
  { exec 3<>"/dev/tcp/$HOST/$PORT"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  local line=""
  read -r -t 2 line <&3 || true
  exec 3>&-
  [[ "$line" == "+PONG"* ]]
}

case "${1:-status}" in
  start)
    if redis_ping; then
      pid_alive "$PIDFILE" || rm -f "$PIDFILE"
    else
      command -v redis-server >/dev/null || apt_install redis-server
      log "iniciando redis-server em $HOST:$PORT"
      mkdir -p "$RUN_DIR/redis"
      # REDIS_MAXMEMORY: bound on Redis's memory; noeviction keeps every key of a live call
      # (writes are refused at the bound instead). docs/DEPLOY.md, "Memória do Redis".
      redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save "" --appendonly no \
        --maxmemory "${REDIS_MAXMEMORY:-512mb}" --maxmemory-policy noeviction \
        --dir "$RUN_DIR/redis" --pidfile "$PIDFILE" --logfile "$RUN_DIR/redis.log"
      wait_for "Redis" 10 redis_ping || die "Redis não respondeu; veja $RUN_DIR/redis.log"
    fi;;
  stop)
    stop_pidfile redis "$PIDFILE";;
  status)
    if redis_ping; then
      who="já existente"; pid_alive "$PIDFILE" && who="iniciado por make up (pid $(cat "$PIDFILE"))"
      echo "  redis      redis://$HOST:$PORT  ($who)"
    else
      echo "  redis      parado"; exit 1
    fi;;
  *) die "uso: $0 start|stop|status";;
esac
