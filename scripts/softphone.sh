#!/usr/bin/env bash
# The WebRTC softphone (services/softphone):
#   softphone.sh deps     npm ci when node_modules is missing or older than package-lock.json
#   softphone.sh build    deps + vite build when the sources changed since the last build
#   softphone.sh cert     the TLS pair it serves with (compose/certs/: Asterisk's when present)
#   softphone.sh start    build if needed, serve dist/ over HTTPS on :3000 (idempotent)
#   softphone.sh stop     stop what start started
#   softphone.sh status   print where it is served
# Environment: SOFTPHONE_PORT (3000).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

APP="$REPO_ROOT/services/softphone"
CERT_DIR="$REPO_ROOT/compose/certs"
PIDFILE="$RUN_DIR/softphone.pid"
LOGFILE="$RUN_DIR/softphone.log"
PORT="${SOFTPHONE_PORT:-3000}"

need_node() {
  command -v node >/dev/null || die "Node.js 20.19+ não encontrado (instale o pacote nodejs 20 da NodeSource)"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' \
    || die "Node.js $(node --version) é antigo: o softphone (Vite 8) precisa de 20.19 ou mais novo"
}

deps() {
  need_node
  local want have=""
  want=$(sha256sum "$APP/package-lock.json" | cut -d' ' -f1)
  [ -f "$APP/node_modules/.pabx-lock-sha256" ] && have=$(cat "$APP/node_modules/.pabx-lock-sha256")
  [ "$want" = "$have" ] && return 0
  log "npm ci (services/softphone)"
  (cd "$APP" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" > "$APP/node_modules/.pabx-lock-sha256"
}

src_hash() {
  (cd "$APP" && find src index.html vite.config.ts tsconfig.json package-lock.json -type f \
    | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
}

build() {
  deps
  local want; want=$(src_hash)
  [ -f "$APP/dist/.pabx-src-sha256" ] && [ "$(cat "$APP/dist/.pabx-src-sha256")" = "$want" ] && return 0
  log "vite build (services/softphone)"
  (cd "$APP" && npx tsc -p . --noEmit && npx vite build --logLevel error)
  echo "$want" > "$APP/dist/.pabx-src-sha256"
}

# cert: prints "CERT KEY". Reuses Asterisk's pair (the browser then accepts one certificate
# for both :3000 and :8189); otherwise generates the softphone's own, once.
cert() {
  mkdir -p "$CERT_DIR"
  if [ -s "$CERT_DIR/asterisk.crt" ] && [ -s "$CERT_DIR/asterisk.key" ]; then
    echo "$CERT_DIR/asterisk.crt $CERT_DIR/asterisk.key"; return 0
  fi
  if ! [ -s "$CERT_DIR/softphone.crt" ] || ! [ -s "$CERT_DIR/softphone.key" ]; then
    log "gerando certificado TLS autoassinado do softphone em $CERT_DIR"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=pabx.local" \
      -addext "subjectAltName=DNS:localhost,DNS:pabx.local,IP:127.0.0.1" \
      -keyout "$CERT_DIR/softphone.key" -out "$CERT_DIR/softphone.crt" 2>/dev/null
    chmod 600 "$CERT_DIR/softphone.key"
  fi
  echo "$CERT_DIR/softphone.crt $CERT_DIR/softphone.key"
}

serving() { tcp_open 127.0.0.1 "$PORT"; }

start() {
  if pid_alive "$PIDFILE" && serving; then return 0; fi
  build
  local c k
  read -r c k < <(cert)
  if serving; then die "a porta $PORT já está em uso por outro processo"; fi
  SOFTPHONE_PORT="$PORT" SOFTPHONE_CERT="$c" SOFTPHONE_KEY="$k" \
    setsid node "$APP/server/serve.mjs" </dev/null >"$LOGFILE" 2>&1 &
  echo $! > "$PIDFILE"
  if ! wait_for "softphone na porta $PORT" 20 serving; then
    tail -5 "$LOGFILE" >&2 || true
    stop_pidfile softphone "$PIDFILE"
    die "o softphone não subiu; veja $LOGFILE"
  fi
}

status() {
  if pid_alive "$PIDFILE" && serving; then
    echo "  softphone  https://localhost:$PORT/  (ramais 1004/1005, senhas em compose/.env)"
  else
    echo "  softphone  parado"; return 1
  fi
}

case "${1:-status}" in
  deps) deps;;
  build) build;;
  cert) cert;;
  start) start;;
  stop) stop_pidfile softphone "$PIDFILE";;
  status) status;;
  *) die "uso: $0 deps|build|cert|start|stop|status";;
esac
