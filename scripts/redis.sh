#!/usr/bin/env bash
# Redis for the project: uses the one answering on REDIS_HOST:REDIS_PORT, or starts one.
#   redis.sh start   start one unless something answers; record it in .run/ when we started it
#   redis.sh stop    stop only the Redis that start started
#   redis.sh status  print where Redis answers
#   redis.sh url USER  print the REDIS_URL of that ACL user (scripts/redis_acl.py USERS)
# PABX_REDIS_AUTH: `acl` (default, `make up`): one ACL user per service, passwords generated
# on the first start in compose/.env (REDIS_<USER>_PASSWORD, never committed), the ACL file
# (hashes only) in .run/redis/users.acl, the default user off: a client without a password
# runs nothing. `off` (`make test`): an open Redis on loopback for the test suites.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
HOST=${REDIS_HOST:-127.0.0.1}
PORT=${REDIS_PORT:-6379}
AUTH=${PABX_REDIS_AUTH:-acl}
PIDFILE="$RUN_DIR/redis.pid"
ENV_FILE="$REPO_ROOT/compose/.env"
ACL_FILE="$RUN_DIR/redis/users.acl"
acl() { python3 "$REPO_ROOT/scripts/redis_acl.py" "$@"; }

# redis_reply [USER PASSWORD]: the reply to PING (after AUTH when given), or nothing.
redis_reply() {
  { exec 3<>"/dev/tcp/$HOST/$PORT"; } 2>/dev/null || return 0
  local line=""
  if [ $# -eq 2 ]; then
    printf 'AUTH %s %s\r\n' "$1" "$2" >&3
    read -r -t 2 line <&3 || true
    [[ "$line" == "+OK"* ]] || { exec 3>&-; printf '%s' "${line%$'\r'}"; return 0; }
  fi
  printf 'PING\r\n' >&3
  read -r -t 2 line <&3 || true
  exec 3>&-
  printf '%s' "${line%$'\r'}"
}
redis_ping() { [[ "$(redis_reply)" == "+PONG"* ]]; }              # open Redis
redis_answers() { [ -n "$(redis_reply)" ]; }                     # open or asking a password
ops_ping() { [[ "$(redis_reply ops "$(acl password "$ENV_FILE" ops)")" == "+PONG"* ]]; }

start_server() {  # start_server [redis-server options...]
  command -v redis-server >/dev/null || apt_install redis-server
  log "iniciando redis-server em $HOST:$PORT${1:+ (ACL: um usuário por serviço)}"
  mkdir -p "$RUN_DIR/redis"
  # REDIS_MAXMEMORY: bound on Redis's memory; noeviction keeps every key of a live call
  # (writes are refused at the bound instead). docs/DEPLOY.md, "Memória do Redis".
  redis-server --daemonize yes --bind "$HOST" --port "$PORT" --save "" --appendonly no \
    --maxmemory "${REDIS_MAXMEMORY:-512mb}" --maxmemory-policy noeviction \
    --dir "$RUN_DIR/redis" --pidfile "$PIDFILE" --logfile "$RUN_DIR/redis.log" "$@"
  wait_for "Redis" 10 redis_answers || die "Redis não respondeu; veja $RUN_DIR/redis.log"
}

start_acl() {
  acl ensure "$ENV_FILE"
  acl acl "$ENV_FILE" "$ACL_FILE"
  if ops_ping; then  # ours (or one with the same users): it rereads the file
    REDISCLI_AUTH=$(acl password "$ENV_FILE" ops) redis-cli -h "$HOST" -p "$PORT" --user ops \
      ACL LOAD >/dev/null 2>&1 || true
    pid_alive "$PIDFILE" || rm -f "$PIDFILE"
    return
  fi
  if redis_ping; then
    # an open Redis: the one `make test` (or an older `make up`) started is replaced; one
    # that is not ours (a system Redis) is used as it is, without authentication, as make up
    # did before the ACL: loudly, so the operator knows (redis.sh url gives open URLs then)
    if ! pid_alive "$PIDFILE"; then
      log "AVISO: um Redis sem senha que não é do make up já responde em $HOST:$PORT; os serviços vão usá-lo SEM autenticação. Para um usuário por serviço (docs/DEPLOY.md 9.8), pare esse Redis ou escolha outra porta (REDIS_PORT)."
      return 0
    fi
    log "o Redis de $HOST:$PORT não pede senha: reiniciando-o com ACL"
    stop_pidfile redis "$PIDFILE"
  elif redis_answers; then
    die "o Redis em $HOST:$PORT pede senha e a do usuário ops de compose/.env (REDIS_OPS_PASSWORD) não serve"
  fi
  start_server --aclfile "$ACL_FILE"
  wait_for "Redis com ACL" 10 ops_ping || die "o usuário ops não autentica; veja $RUN_DIR/redis.log"
}

start_open() {
  if redis_ping; then pid_alive "$PIDFILE" || rm -f "$PIDFILE"; return; fi
  redis_answers && die "o Redis em $HOST:$PORT pede senha (o de make up): os testes precisam de um aberto; rode make down antes"
  start_server
}

case "${1:-status}" in
  start)
    case "$AUTH" in
      acl) start_acl;;
      off) start_open;;
      *) die "PABX_REDIS_AUTH=$AUTH: use acl ou off";;
    esac;;
  stop)
    stop_pidfile redis "$PIDFILE";;
  status)
    if redis_answers; then
      who="já existente"; pid_alive "$PIDFILE" && who="iniciado por make up (pid $(cat "$PIDFILE"))"
      how="sem senha"; redis_ping || how="ACL: redis-cli --user ops --askpass, senha REDIS_OPS_PASSWORD em compose/.env"
      echo "  redis      redis://$HOST:$PORT  ($who; $how)"
    else
      echo "  redis      parado"; exit 1
    fi;;
  url)
    [ -n "${2:-}" ] || die "uso: $0 url USUÁRIO"
    # an open Redis (make test's, or a system one make up found): no user, no password
    if [ "$AUTH" = off ] || redis_ping; then echo "redis://$HOST:$PORT/0"; else acl url "$ENV_FILE" "$2" "$HOST:$PORT"; fi;;
  *) die "uso: $0 start|stop|status|url USUÁRIO";;
esac
