#!/usr/bin/env bash
# First start of `docker compose up -d` (service init, image pabx/asterisk, rede do host):
# the same code as `make up` creates what is missing and keeps what exists:
#   - compose/.env: one random password per extension (scripts/asterisk.sh install-config)
#   - compose/certs/asterisk.{crt,key}: self-signed TLS pair (a user's own pair is kept)
#   - TURN_USERNAME/TURN_PASSWORD, GRAFANA_ADMIN_PASSWORD and ASP_GATEWAY_TOKEN in compose/.env
#   - REDIS_<USER>_PASSWORD in compose/.env: one Redis ACL user per service (scripts/redis_acl.py)
# then writes copies readable by the non-root services into the volume /secrets:
#   sip-edge.env and asp-gateway.env (uid 10001), turn.env (coturn, uid 65534), grafana-admin-password (uid 472),
#   certs/tls.crt + certs/tls.key (softphone, uid 10001),
#   redis/users.acl (the ACL file, password hashes only; redis, uid 999),
#   redis-<user>.env (REDIS_URL with that service's user and password; uid 10001) and
#   redis-exporter.json (the exporter's password map; uid 59000),
#   llm-keys.env (ANTHROPIC_API_KEY/OPENAI_API_KEY, from this service's environment, which
#   compose fills from compose/.env or the shell; llm-worker and post-call, uid 10001),
#   asterisk/asterisk.env + asterisk/asterisk.{crt,key} (Asterisk, uid 10002: only the lines
#   of compose/.env its configs use: extension and TURN passwords, PABX_*, the transfer list),
# and gives Asterisk's log folder (the host's .run/asterisk-log, read by fail2ban) to uid 10002.
set -euo pipefail
cd /opt/pabx
PABX_ASTERISK_LOCK_HELD=1 scripts/asterisk.sh install-config

env_file=compose/.env
ensure() {  # ensure NAME VALUE: appends NAME=VALUE when NAME has no value yet
  if ! grep -q "^$1=." "$env_file"; then
    sed -i "/^$1=\s*$/d" "$env_file"
    echo "$1=$2" >> "$env_file"
  fi
}
ensure TURN_USERNAME pabx
ensure TURN_PASSWORD "$(openssl rand -hex 16)"
ensure GRAFANA_ADMIN_PASSWORD "$(openssl rand -hex 12)"
ensure ASP_GATEWAY_TOKEN "$(openssl rand -hex 24)"
python3 scripts/redis_acl.py ensure "$env_file"

value() { grep "^$1=" "$env_file" | tail -1 | cut -d= -f2-; }
put() {  # put OWNER MODE DEST: stdin to DEST, atomically
  local tmp; tmp=$(mktemp "$3.XXXXXX")
  cat > "$tmp"; chown "$1:$1" "$tmp"; chmod "$2" "$tmp"; mv -f "$tmp" "$3"
}
mkdir -p /secrets/certs
chmod 0755 /secrets /secrets/certs
# REDIS_URL of each service: sip-edge (host network) reaches Redis's loopback port, the
# others the service `redis` on the internal network pabx-redis
redis_url() { python3 scripts/redis_acl.py url "$env_file" "$1" "$2"; }
{ printf 'EXT_2000_PASSWORD=%s\n' "$(value EXT_2000_PASSWORD)"
  printf 'REDIS_URL=%s\n' "$(redis_url sip-edge 127.0.0.1:6379)"; } | put 10001 0400 /secrets/sip-edge.env
{ printf 'ASP_GATEWAY_TOKEN=%s\n' "$(value ASP_GATEWAY_TOKEN)"
  printf 'REDIS_URL=%s\n' "$(redis_url asp-gateway redis:6379)"; } | put 10001 0400 /secrets/asp-gateway.env
for user in stt-worker llm-worker tts-worker postcall; do
  printf 'REDIS_URL=%s\n' "$(redis_url "$user" redis:6379)" | put 10001 0400 "/secrets/redis-$user.env"
done
mkdir -p /secrets/redis
chmod 0755 /secrets/redis
python3 scripts/redis_acl.py acl "$env_file" - | put 999 0400 /secrets/redis/users.acl
printf '{"redis://redis:6379": "%s"}\n' "$(python3 scripts/redis_acl.py password "$env_file" exporter)" \
  | put 59000 0400 /secrets/redis-exporter.json
printf 'ANTHROPIC_API_KEY=%s\nOPENAI_API_KEY=%s\n' "${ANTHROPIC_API_KEY:-}" "${OPENAI_API_KEY:-}" \
  | put 10001 0400 /secrets/llm-keys.env
printf 'TURN_USERNAME=%s\nTURN_PASSWORD=%s\n' "$(value TURN_USERNAME)" "$(value TURN_PASSWORD)" \
  | put 65534 0400 /secrets/turn.env
value GRAFANA_ADMIN_PASSWORD | tr -d '\n' | put 472 0400 /secrets/grafana-admin-password
put 10001 0444 /secrets/certs/tls.crt < compose/certs/asterisk.crt
# Asterisk (uid 10002, the image's user): its own copies, nothing of Redis or the LLM keys
mkdir -p /secrets/asterisk
chown 10002:10002 /secrets/asterisk; chmod 0750 /secrets/asterisk
grep -E '^(EXT_[0-9]+_PASSWORD|TURN_USERNAME|TURN_PASSWORD|AGENT_TRANSFER_ALLOWLIST|PABX_[A-Z0-9_]+)=' \
  "$env_file" | put 10002 0400 /secrets/asterisk/asterisk.env
put 10002 0444 /secrets/asterisk/asterisk.crt < compose/certs/asterisk.crt
put 10002 0400 /secrets/asterisk/asterisk.key < compose/certs/asterisk.key
# -R: logs an older, root Asterisk wrote there must stay writable by it
if [ -d /asterisk-log ]; then chown -R 10002:10002 /asterisk-log; chmod 0750 /asterisk-log; fi
put 10001 0400 /secrets/certs/tls.key < compose/certs/asterisk.key
echo "pabx init: senhas em compose/.env, certificado em compose/certs (nada foi sobrescrito)"
