#!/usr/bin/env bash
# The npm dependency (ws) of the JavaScript ASP client of docs/ASP_INTEGRATION.md
# (docs/examples/asp-client), which the tests run against the gateway: npm ci only when
# package-lock.json changed. Idempotent and fast when done.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
APP="$REPO_ROOT/docs/examples/asp-client"
command -v npm >/dev/null || die "npm não encontrado: o cliente JavaScript de exemplo (docs/examples/asp-client) precisa do Node.js 20+"
want=$(sha256sum "$APP/package-lock.json" | cut -d' ' -f1)
have=$(cat "$APP/node_modules/.pabx-lock-sha256" 2>/dev/null || true)
[ "$want" = "$have" ] && exit 0
log "npm ci (docs/examples/asp-client)"
(cd "$APP" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
echo "$want" > "$APP/node_modules/.pabx-lock-sha256"
