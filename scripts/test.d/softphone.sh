#!/usr/bin/env bash
# The softphone's suites: npm ci (when stale), typecheck, Vitest, then the browser e2e in
# Debian's Chromium against the real Asterisk (loopback profile), holding the Asterisk lock
# for the whole e2e run. SOFTPHONE_E2E=0 skips the e2e, SOFTPHONE_UNIT=0 the unit suites;
# SOFTPHONE_E2E_PATTERN runs only the e2e scenarios whose name matches.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"
APP=services/softphone

bash scripts/softphone.sh deps
if [ "${SOFTPHONE_UNIT:-1}" != 0 ]; then
log "softphone: tsc --noEmit (strict)"
(cd "$APP" && npx tsc -p . --noEmit)
if grep -rn "console\.log" "$APP/src" "$APP/server" "$APP/e2e" >/dev/null; then
  grep -rn "console\.log" "$APP/src" "$APP/server" "$APP/e2e" >&2
  die "console.log esquecido no softphone"
fi
log "softphone: vitest"
(cd "$APP" && npx vitest run --reporter=dot)
fi

[ "${SOFTPHONE_E2E:-1}" = 0 ] && { log "softphone: e2e pulado (SOFTPHONE_E2E=0)"; exit 0; }
[ -x scripts/asterisk.sh ] || [ -f scripts/asterisk.sh ] || die "scripts/asterisk.sh ausente: o e2e do softphone precisa do Asterisk"
apt_install chromium sox
bash scripts/softphone.sh build

# Whole e2e under the Asterisk lock; Asterisk in the loopback profile. If an Asterisk of this
# clone was already up (make up), it is switched to the loopback profile for the run and back.
# An Asterisk of another clone (its `make up`) owns the fixed ports: wait for it to go,
# without holding the lock (its `asterisk.sh stop` takes the lock too).
foreign_asterisk() { ! pid_alive "$RUN_DIR/asterisk.pid" && ss -Hlun 'sport = :5160' | grep -q .; }
exec 9>/tmp/pabx-asterisk.lock
deadline=$((SECONDS + ${SOFTPHONE_E2E_WAIT_S:-900}))
while :; do
  log "softphone: esperando /tmp/pabx-asterisk.lock"
  flock -w 900 9 || die "outro processo segura /tmp/pabx-asterisk.lock há mais de 15 min"
  foreign_asterisk || break
  flock -u 9
  [ $SECONDS -ge $deadline ] && die "a porta UDP 5160 segue ocupada por um Asterisk de outro clone: $(ss -Hlunp 'sport = :5160' | head -1)"
  log "softphone: a porta 5160 está com o Asterisk de outro clone; tentando de novo em 10 s"
  sleep 10
done
export PABX_ASTERISK_LOCK_HELD=1
was_running=0
if pid_alive "$RUN_DIR/asterisk.pid"; then was_running=1; fi
agent_pids=(); agent_names=()
restore() {
  for pid in "${agent_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${agent_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$was_running" = 1 ]; then PABX_LOOPBACK=0 bash scripts/asterisk.sh install-config >/dev/null 2>&1 || true
  else bash scripts/asterisk.sh stop >/dev/null 2>&1 || true; fi
}
trap restore EXIT
if [ "$was_running" = 1 ]; then PABX_LOOPBACK=1 bash scripts/asterisk.sh install-config
else PABX_LOOPBACK=1 bash scripts/asterisk.sh start; fi
wait_for "WSS do Asterisk em 127.0.0.1:8189" 30 tcp_open 127.0.0.1 8189 \
  || { tail -30 "$RUN_DIR/asterisk.log" >&2; die "o Asterisk não abriu a porta 8189 (WSS)"; }
# The agent behind 2000 for the "1004 calls 2000" scenario: sip-edge registered to this
# Asterisk and the three workers with their fake engines, on a private redis-server (so a
# `make up` of this machine is not disturbed). Skipped when sip-edge is not installed.
free_port() { "$VENV/bin/python" -c 'from pipeline.testing import free_port; print(free_port())'; }
if pid_alive "$RUN_DIR/sip-edge.pid"; then
  export E2E_AGENT=1  # this clone's `make up` has sip-edge and the workers up
elif [ "${SOFTPHONE_AGENT:-1}" = 1 ] && [ -x "$VENV/bin/python" ] \
    && "$VENV/bin/python" -c 'import sip_edge, pjsua2' 2>/dev/null; then
  rport=$(free_port); mport=$(free_port); sport=$(free_port)
  mkdir -p "$RUN_DIR/softphone-agent"
  redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no \
    --dir "$RUN_DIR/softphone-agent" >/dev/null 2>&1 &
  agent_pids+=($!); agent_names+=(redis-server)
  wait_for "redis do agente" 10 tcp_open 127.0.0.1 "$rport" || die "redis-server do agente não subiu"
  export REDIS_URL="redis://127.0.0.1:$rport/0"
  for kind in stt llm tts; do
    STT_PROVIDER=fake LLM_PROVIDER=fake TTS_PROVIDER=fake TTS_FALLBACK=none METRICS_PORT=0 \
      WORKER_NAME="softphone-e2e-$kind" "$VENV/bin/python" -m "${kind}_worker" \
      >"$RUN_DIR/softphone-agent/$kind.log" 2>&1 &
    agent_pids+=($!); agent_names+=("${kind}_worker")
  done
  EXT_2000_PASSWORD=$(grep '^EXT_2000_PASSWORD=' compose/.env | cut -d= -f2-) \
    SIP_EDGE_REGISTRAR=127.0.0.1:5160 SIP_EDGE_SIP_PORT="$sport" SIP_EDGE_METRICS_PORT="$mport" \
    SIP_EDGE_METRICS_HOST=127.0.0.1 "$VENV/bin/python" -m sip_edge \
    >"$RUN_DIR/softphone-agent/sip-edge.log" 2>&1 &
  agent_pids+=($!); agent_names+=(sip-edge)
  registered() { bash scripts/asterisk.sh cli 'pjsip show contacts' 2>/dev/null | grep -q "2000/sip:"; }
  wait_for "sip-edge registrado como 2000" 60 registered \
    || { tail -20 "$RUN_DIR/softphone-agent/sip-edge.log" >&2; die "sip-edge não registrou no Asterisk"; }
  export E2E_AGENT=1
fi
# The screenshots of docs/img/softphone are rewritten only on request (UPDATE_SCREENSHOTS=1),
# so that a test run leaves the working tree as it found it.
if [ "${UPDATE_SCREENSHOTS:-0}" != 1 ]; then
  export E2E_SCREENSHOTS="${E2E_SCREENSHOTS:-$RUN_DIR/screenshots}"
fi
log "softphone: e2e (Chromium $(chromium --version 2>/dev/null | awk '{print $2}'))"
pattern=()
[ -n "${SOFTPHONE_E2E_PATTERN:-}" ] && pattern=(--test-name-pattern="$SOFTPHONE_E2E_PATTERN")
export E2E_RESTART_ASTERISK=1
# With the project's .venv (make test bootstraps it) the PJSUA2 phone scenario must run.
[ -x "$VENV/bin/python" ] && export E2E_REQUIRE_PJSUA=1 E2E_PYTHON="$VENV/bin/python"
# agent_deaths: the agent's processes (redis, workers, sip-edge) that are no longer running,
# each with the end of its log; returns 1 when one died.
agent_deaths() {
  local i st dead=0
  for i in "${!agent_pids[@]}"; do
    kill -0 "${agent_pids[$i]}" 2>/dev/null && continue
    dead=1; st=0
    wait "${agent_pids[$i]}" 2>/dev/null || st=$?
    log "softphone: ${agent_names[$i]} (pid ${agent_pids[$i]}) do agente morreu: status $st (>128: sinal $((st - 128)))"
  done
  if [ "$dead" = 1 ]; then
    for f in "$RUN_DIR"/softphone-agent/*.log; do
      [ -f "$f" ] && { log "fim de $f:"; tail -30 "$f" >&2; }
    done
    return 1
  fi
  return 0
}
if ! (cd "$APP" && node --test --test-concurrency=1 --test-reporter=spec "${pattern[@]}" e2e/softphone.e2e.mjs); then
  log "softphone: e2e falhou; fim do log do Asterisk ($RUN_DIR/asterisk.log):"
  tail -40 "$RUN_DIR/asterisk.log" >&2 || true
  if [ -s "$RUN_DIR/asterisk.log.1" ]; then
    log "softphone: log do Asterisk antes do último reinício ($RUN_DIR/asterisk.log.1):"
    tail -80 "$RUN_DIR/asterisk.log.1" >&2 || true
  fi
  agent_deaths || true
  exit 1
fi
# a service of the agent that died during the run is a failure even if no scenario saw it
agent_deaths || die "softphone: um processo do agente morreu durante o e2e (acima)"
