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
restore() {
  if [ "$was_running" = 1 ]; then PABX_LOOPBACK=0 bash scripts/asterisk.sh install-config >/dev/null 2>&1 || true
  else bash scripts/asterisk.sh stop >/dev/null 2>&1 || true; fi
}
trap restore EXIT
if [ "$was_running" = 1 ]; then PABX_LOOPBACK=1 bash scripts/asterisk.sh install-config
else PABX_LOOPBACK=1 bash scripts/asterisk.sh start; fi
wait_for "WSS do Asterisk em 127.0.0.1:8189" 30 tcp_open 127.0.0.1 8189 \
  || { tail -30 "$RUN_DIR/asterisk.log" >&2; die "o Asterisk não abriu a porta 8189 (WSS)"; }
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
if ! (cd "$APP" && node --test --test-concurrency=1 --test-reporter=spec "${pattern[@]}" e2e/softphone.e2e.mjs); then
  log "softphone: e2e falhou; fim do log do Asterisk ($RUN_DIR/asterisk.log):"
  tail -40 "$RUN_DIR/asterisk.log" >&2 || true
  exit 1
fi
