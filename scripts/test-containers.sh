#!/usr/bin/env bash
# `make test-containers` (issue 18): builds the base-image stand-ins and every image of the
# repository with podman, brings compose/docker-compose.yml up with podman-compose as shipped,
# runs each health check until every service is healthy (or CONTAINERS_HEALTH_TIMEOUT_S
# passes), reports each service's state, then takes the stack down (volumes kept).
# Not part of `make test` (tens of minutes on 2 cores); docs/DEPLOY.md has its last result.
#
# The stack runs inside a network namespace made for the run: the compose file's host network
# (asterisk, sip-edge, coturn) is that namespace's, so this machine's own ports (a clone's
# `make up`, its Redis on 6379) are untouched, and nothing is reachable from outside.
# A copy of compose/ is used, so the clone's compose/.env and compose/certs are left alone.
# podman 4.3 runs no health check by itself (no systemd timers: the "unable to get systemd
# connection" errors of `up` are that) and podman-compose ignores
# `condition: service_healthy` before podman 4.6: this script runs the checks
# (`podman healthcheck run`), and `restart: unless-stopped` restarts a service that started
# before its dependency was ready.
#
# Once healthy, scripts/container_calls.py (a PJSUA2 phone inside the namespace, the project's
# venv: PABX_PYTHON, default .venv/bin/python) calls *43 and 2000, and
# services/softphone/e2e/smoke-up.mjs loads the softphone from its container in a headless
# Chromium, registers 1004 and calls *43; CONTAINERS_CALLS=0 skips both.
# CONTAINERS_SKIP_BUILD=1: use the images already built. Report: .run/containers/report.txt
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

OUT="$RUN_DIR/containers"
HEALTH_TIMEOUT=${CONTAINERS_HEALTH_TIMEOUT_S:-420}
mkdir -p "$OUT"
REPORT="$OUT/report.txt"
t_start=$SECONDS
PODMAN_COMPOSE=$(bash scripts/podman-setup.sh)

if [ "${CONTAINERS_SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/container-base-images.sh
  bash scripts/container-build.sh
  # the dangling layers of earlier builds; a layer still held by the working container of
  # a build that was interrupted cannot go, and that is no reason to stop the run
  podman image prune -f >/dev/null 2>&1 ||
    log "aviso: podman image prune: camadas presas a contêineres de construções interrompidas (podman ps -a --external; buildah rm --all)"
fi
t_built=$SECONDS

# --- image hygiene: no compiler, package cache, project test file or secret in a final image ---
hygiene() {  # hygiene IMAGE : prints what should not be there
  podman run --rm --network none --no-healthcheck --user 0 --entrypoint sh "$1" -c '
    for c in gcc cc g++ c++ cmake make swig; do p=$(command -v $c) && echo "compiler: $p"; done
    for d in /root/.cache /root/.npm /opt/pabx/.cache /tmp /var/cache/apt/archives; do
      [ -d "$d" ] && [ -n "$(find "$d" -mindepth 1 -not -name partial -not -name lock 2>/dev/null | head -1)" ] && echo "cache: $d"
    done
    find / -xdev \( -name "*.key" -o -name "*.pem" -o -name ".env" -o -name "pip.conf" -o -name ".npmrc" \) \
      -not -path "/etc/ssl/*" -not -path "/usr/share/*" -not -path "*/site-packages/*/certifi/*" \
      -not -path "*/site-packages/pip/_vendor/*" -not -path "/usr/lib/*" 2>/dev/null | sed "s/^/secret? /"
    for pkg in asp pipeline sip_edge stt_worker llm_worker tts_worker; do
      find / -xdev -path "*/site-packages/$pkg/*" \( -name "test_*.py" -o -name conftest.py \) 2>/dev/null | sed "s/^/test file: /"
    done
    [ -d /opt/pabx/softphone ] && find /opt/pabx/softphone \( -name "*.test.*" -o -name node_modules \) | sed "s/^/test file: /"
    true' 2>&1 | head -20
}

hygiene_bad=0  # each image checked once, before the run
: >"$OUT/hygiene.txt"
for img in $(podman images --filter reference='pabx/*' --format '{{.Repository}}:{{.Tag}}' | sort -u); do
  found=$(hygiene "$img")
  if [ -n "$found" ]; then hygiene_bad=1; printf '%s\n%s\n' "$img:" "$found" >>"$OUT/hygiene.txt"; fi
done
[ $hygiene_bad = 0 ] && log "imagens limpas (sem compilador, cache, teste ou segredo)" \
  || log "higiene: veja $OUT/hygiene.txt"

# --- the run directory: a copy of compose/ beside an empty .run/ (the ../.run mount) --------
run_dir="$OUT/run"
rm -rf "$run_dir/compose"
mkdir -p "$run_dir/.run/asterisk-log"
cp -r compose "$run_dir/compose"
rm -rf "$run_dir/compose/.env" "$run_dir/compose/certs"

NS="pabx-ct-$$"
# nsenter, not `ip netns exec`: that one remounts /sys, and runc then finds no cgroup mount
ip netns add "$NS"
in_ns() { nsenter --net="/run/netns/$NS" "$@"; }
in_ns ip link set lo up
pc() { (cd "$run_dir/compose" && in_ns "$PODMAN_COMPOSE" -f docker-compose.yml "$@"); }
cleanup() {
  pc down >>"$OUT/compose-down.log" 2>&1 || true
  in_ns podman network rm -f pabx >/dev/null 2>&1 || true  # its bridge lives in the namespace
  ip netns delete "$NS" 2>/dev/null || true
}
trap cleanup EXIT
# and one non-loopback address, as a server has: coturn needs one to relay from ("Cannot
# configure any meaningful IP listener address" with loopback alone). A veth pair with both
# ends in the namespace (this kernel has no dummy interfaces); 192.0.2.0/24 is TEST-NET-1
# (RFC 5737): routed nowhere, and the namespace has no route out anyway.
in_ns ip link add pabx-ext type veth peer name pabx-ext-peer
in_ns ip addr add 192.0.2.10/24 dev pabx-ext
in_ns ip link set pabx-ext up
in_ns ip link set pabx-ext-peer up

log "podman-compose up -d (rede do host = namespace $NS; log: $OUT/compose-up.log)"
t_up=$SECONDS
pc up -d >"$OUT/compose-up.log" 2>&1 || log "podman-compose up saiu com erro (veja $OUT/compose-up.log)"

# --- health: run every check until all pass ------------------------------------------------
declare -A state since
wait_healthy() {  # runs the checks until every container passes or the limit; fills state/since
  mapfile -t containers < <(podman ps -a --filter label=io.podman.compose.project=pabx --format '{{.Names}}' | sort)
  [ ${#containers[@]} -gt 0 ] || die "nenhum contêiner do projeto pabx (veja $OUT/compose-up.log)"
  state=(); since=()
  local deadline=$((SECONDS + HEALTH_TIMEOUT)) pending c status has_check rc started up_s
  while :; do
    pending=0
    for c in "${containers[@]}"; do
      [ -n "${since[$c]:-}" ] && continue
      status=$(podman inspect --format '{{.State.Status}}' "$c" 2>/dev/null || echo missing)
      has_check=$(podman inspect --format '{{if .Config.Healthcheck}}yes{{end}}' "$c" 2>/dev/null || true)
      if [ "$status" = exited ]; then
        rc=$(podman inspect --format '{{.State.ExitCode}}' "$c")
        state[$c]="exited rc=$rc"
        # a one-shot service (init) is done; a long-running one may be restarted: keep waiting
        [[ "$c" == *init* ]] && since[$c]=$((SECONDS - t_up)) || pending=1
      elif [ "$status" = running ] && [ -n "$has_check" ]; then
        # from inside the namespace: an exec into a host-network container runs in the
        # caller's network namespace (runc joins none), and its ports are in $NS
        if in_ns podman healthcheck run "$c" >/dev/null 2>&1; then
          state[$c]=healthy; since[$c]=$((SECONDS - t_up))
        else
          state[$c]="running, unhealthy"; pending=1
        fi
      elif [ "$status" = running ]; then
        # no health check: running for 20 s without a restart (a crash loop is "running"
        # for a moment between its restarts)
        started=$(podman inspect --format '{{.State.StartedAt}}' "$c" 2>/dev/null || true)
        up_s=$(($(date +%s) - $(date -d "${started% [A-Z]*}" +%s 2>/dev/null || date +%s)))
        if [ "$up_s" -ge 20 ]; then
          state[$c]="running (no health check)"; since[$c]=$((SECONDS - t_up))
        else
          state[$c]="running ${up_s} s (no health check)"; pending=1
        fi
      else
        state[$c]=$status; pending=1
      fi
    done
    [ $pending = 0 ] && break
    [ $SECONDS -ge $deadline ] && break
    sleep 5
  done
}
wait_healthy

report() {  # report TITLE : the state of each container, appended to $REPORT
  echo "$1"
  echo "build: $((t_built - t_start)) s; health wait: $((SECONDS - t_up)) s (limit $HEALTH_TIMEOUT s)"
  printf '%-28s %-30s %s\n' container state "seconds after up"
  for c in "${containers[@]}"; do
    printf '%-28s %-30s %s\n' "$c" "${state[$c]:-?}" "${since[$c]:--}"
  done
}
check_healthy() {  # check_healthy : dies naming the containers that did not pass
  local c unhealthy=()
  for c in "${containers[@]}"; do
    podman logs --tail 40 "$c" >"$OUT/logs-$c.txt" 2>&1 || true
    case "${state[$c]:-}" in healthy | "running (no health check)" | "exited rc=0") ;; *) unhealthy+=("$c") ;; esac
  done
  [ ${#unhealthy[@]} -eq 0 ] || die "não ficaram saudáveis: ${unhealthy[*]} (logs em $OUT/logs-*.txt)"
}
{
  report "make test-containers $(date -u +%FT%TZ) on $(hostname) ($(nproc) cores)"
  echo "images:"
  podman images --filter reference='pabx/*' --format '{{.Repository}}:{{.Tag}} {{.Size}}'
} | tee "$REPORT"
check_healthy
log "todos os serviços saudáveis em $((SECONDS - t_up)) s"

# --- calls through the stack: a PJSUA2 phone (the host's, with the project's venv) inside the
# namespace, registered with the generated password, calls *43 and 2000 ---------------------
if [ "${CONTAINERS_CALLS:-1}" = 1 ]; then
  py=${PABX_PYTHON:-$REPO_ROOT/.venv/bin/python}
  [ -x "$py" ] || die "sem Python com pjsua2 para as ligações ($py; make bootstrap ou PABX_PYTHON)"
  pypath=$(printf '%s:' "$REPO_ROOT"/libs/*/src "$REPO_ROOT"/services/*/src)$REPO_ROOT/tests/support
  log "ligações pela pilha: *43 e 2000 (log: $OUT/calls.txt)"
  t_calls=$SECONDS
  if in_ns env PYTHONPATH="$pypath" "$py" scripts/container_calls.py "$run_dir/compose/.env" \
    >"$OUT/calls.txt" 2>&1; then
    calls_ok=1
  else
    calls_ok=0
  fi
  { echo "calls ($((SECONDS - t_calls)) s):"; grep -E '^(OK|FAIL)' "$OUT/calls.txt"; } | tee -a "$REPORT"
  [ $calls_ok = 1 ] || die "as ligações pela pilha falharam (veja $OUT/calls.txt)"
  # the softphone from its container in a headless Chromium (Debian's, playwright-core from
  # services/softphone's npm ci): registers 1004 over the compose Asterisk's WSS, calls *43
  chromium=${E2E_CHROMIUM:-/usr/bin/chromium}
  [ -x "$chromium" ] || die "sem Chromium para o softphone ($chromium; apt-get install chromium ou E2E_CHROMIUM)"
  [ -d services/softphone/node_modules/playwright-core ] \
    || die "sem playwright-core em services/softphone/node_modules (scripts/softphone.sh deps)"
  log "softphone do contêiner no Chromium: registra 1004, liga *43 (log: $OUT/softphone.txt)"
  t_calls=$SECONDS
  if in_ns env SMOKE_ENV_FILE="$run_dir/compose/.env" E2E_CHROMIUM="$chromium" \
    node services/softphone/e2e/smoke-up.mjs >"$OUT/softphone.txt" 2>&1; then
    echo "softphone ($((SECONDS - t_calls)) s): $(tail -1 "$OUT/softphone.txt")" | tee -a "$REPORT"
  else
    tail -5 "$OUT/softphone.txt" >&2
    die "o softphone do contêiner não registrou ou não ouviu o *43 (veja $OUT/softphone.txt)"
  fi
fi

# --- down and up again: what must survive does (Redis AOF, the generated secrets) ----------
redis_cli() {  # as the operator's ACL user where compose/.env has one, else the default user
  local pw
  pw=$(sed -n 's/^REDIS_OPS_PASSWORD=//p' "$run_dir/compose/.env" | tail -1)
  if [ -n "$pw" ]; then podman exec -e REDISCLI_AUTH="$pw" pabx-redis redis-cli --user ops "$@"
  else podman exec pabx-redis redis-cli "$@"; fi
}
stamp="test-containers-$RANDOM-$(date +%s)"
[ "$(redis_cli set pabx:test-containers:persist "$stamp")" = OK ] || die "SET no Redis falhou"
secrets() {  # the generated passwords: compose/.env and the copies in the volume
  sha256sum <"$run_dir/compose/.env"
  podman run --rm --no-healthcheck --network none --user 0 -v pabx_pabx-secrets:/s:ro \
    --entrypoint cat redis:7.4.2-bookworm /s/sip-edge.env /s/certs/tls.key | sha256sum
}
before=$(secrets)
sleep 2  # appendfsync everysec
log "podman-compose down; up -d (volumes mantidos)"
pc down >>"$OUT/compose-down.log" 2>&1
t_up=$SECONDS
pc up -d >>"$OUT/compose-up.log" 2>&1 || log "podman-compose up saiu com erro (veja $OUT/compose-up.log)"
wait_healthy
report "after down + up" | tee -a "$REPORT"
check_healthy
got=$(redis_cli get pabx:test-containers:persist)
[ "$got" = "$stamp" ] || die "a chave escrita antes do down sumiu do Redis (AOF): '$got'"
[ "$(secrets)" = "$before" ] || die "as senhas ou o certificado mudaram depois do down/up"
echo "down + up: Redis AOF and the generated secrets kept" | tee -a "$REPORT"

[ $hygiene_bad = 0 ] || { cat "$OUT/hygiene.txt" >&2; die "todos saudáveis, mas as imagens têm o que não deviam (acima)"; }
log "ok: todos saudáveis, dados mantidos no down/up; total $((SECONDS - t_start)) s"
