#!/usr/bin/env bash
# Creates the files the kustomize secretGenerator reads (k8s/base/secrets/, git-ignored):
#   extensions.env  EXT_<ramal>_PASSWORD (random, like scripts/asterisk.sh), TURN_*
#   llm.env         ANTHROPIC_API_KEY / OPENAI_API_KEY from the environment (may be empty)
#   asp-gateway.env ASP_GATEWAY_TOKEN (random; compose/.env's when there is one)
#   redis.env       REDIS_<USER>_PASSWORD, one per Redis ACL user (scripts/redis_acl.py; random,
#                   compose/.env's when there are some); redis-users.acl, the ACL file (hashes)
#   tls.crt/.key    self-signed pair (replace with your own)
# and, from those, what each pod mounts as a file (issue 15: secrets as files, not
# environment variables; one Secret per service, holding only what that service needs),
# rewritten on every run (run it again after editing a file above, then restart the pods):
#   services/<service>.env  sip-edge (EXT_2000_PASSWORD, REDIS_URL), asp-gateway
#                   (ASP_GATEWAY_TOKEN, REDIS_URL), stt-worker, tts-worker (REDIS_URL),
#                   llm-worker, postcall (REDIS_URL and the LLM API keys): REDIS_URL with
#                   that service's Redis user and password
#   services/keda-redis.env  REDIS_EXPORTER_PASSWORD only (KEDA's TriggerAuthentication)
# An existing file is kept; delete it to generate it again. Usage:
#   scripts/k8s-secrets.sh [DIR]        (DIR defaults to k8s/base/secrets)
# With compose/.env present, its extension passwords are reused (same phones keep working).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
dir=${1:-$REPO_ROOT/k8s/base/secrets}
mkdir -p "$dir"
umask 077

from_compose() { [ -f "$REPO_ROOT/compose/.env" ] && grep "^$1=." "$REPO_ROOT/compose/.env" | tail -1 | cut -d= -f2- || true; }

if [ ! -f "$dir/extensions.env" ]; then
  {
    for e in 1001 1002 1003 1004 1005 2000; do
      v=$(from_compose "EXT_${e}_PASSWORD"); echo "EXT_${e}_PASSWORD=${v:-$(openssl rand -hex 12)}"
    done
    echo "TURN_USERNAME=pabx"
    echo "TURN_PASSWORD=$(openssl rand -hex 16)"
  } > "$dir/extensions.env"
  log "criado $dir/extensions.env"
fi
if [ ! -f "$dir/llm.env" ]; then
  printf 'ANTHROPIC_API_KEY=%s\nOPENAI_API_KEY=%s\n' "${ANTHROPIC_API_KEY:-}" "${OPENAI_API_KEY:-}" > "$dir/llm.env"
  log "criado $dir/llm.env"
fi
if [ ! -f "$dir/asp-gateway.env" ]; then
  v=$(from_compose ASP_GATEWAY_TOKEN)
  echo "ASP_GATEWAY_TOKEN=${v:-$(openssl rand -hex 24)}" > "$dir/asp-gateway.env"
  log "criado $dir/asp-gateway.env"
fi
if [ ! -f "$dir/redis.env" ]; then  # compose/.env's Redis passwords when there are some
  for name in $(python3 "$REPO_ROOT/scripts/redis_acl.py" names); do
    v=$(from_compose "$name"); if [ -n "$v" ]; then echo "$name=$v"; fi
  done > "$dir/redis.env"
  log "criado $dir/redis.env"
fi
python3 "$REPO_ROOT/scripts/redis_acl.py" ensure "$dir/redis.env" 2>/dev/null  # the missing ones
python3 "$REPO_ROOT/scripts/redis_acl.py" acl "$dir/redis.env" "$dir/redis-users.acl"
if [ ! -s "$dir/tls.crt" ] || [ ! -s "$dir/tls.key" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=${PABX_TLS_CN:-pabx.local}" \
    -addext "subjectAltName=DNS:${PABX_TLS_CN:-pabx.local},DNS:localhost,IP:127.0.0.1" \
    -keyout "$dir/tls.key" -out "$dir/tls.crt" 2>/dev/null
  log "criado certificado autoassinado $dir/tls.crt (CN ${PABX_TLS_CN:-pabx.local})"
fi

# --- what each pod mounts (derived; rewritten) ------------------------------------------
mkdir -p "$dir/services"
redis_host=redis.pabx.svc.cluster.local:6379
value() { grep "^$2=" "$dir/$1" | tail -1 | cut -d= -f2- || true; }
url() { echo "REDIS_URL=$(python3 "$REPO_ROOT/scripts/redis_acl.py" url "$dir/redis.env" "$1" "$redis_host")"; }
{ echo "EXT_2000_PASSWORD=$(value extensions.env EXT_2000_PASSWORD)"; url sip-edge; } > "$dir/services/sip-edge.env"
{ echo "ASP_GATEWAY_TOKEN=$(value asp-gateway.env ASP_GATEWAY_TOKEN)"; url asp-gateway; } > "$dir/services/asp-gateway.env"
for s in stt-worker tts-worker; do url "$s" > "$dir/services/$s.env"; done
for s in llm-worker postcall; do { url "$s"; grep -E '^[A-Z_]+_API_KEY=' "$dir/llm.env" || true; } > "$dir/services/$s.env"; done
echo "REDIS_EXPORTER_PASSWORD=$(value redis.env REDIS_EXPORTER_PASSWORD)" > "$dir/services/keda-redis.env"
