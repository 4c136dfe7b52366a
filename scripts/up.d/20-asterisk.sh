#!/usr/bin/env bash
# make up / make down / make status for the Asterisk PABX (scripts/asterisk.sh).
set -euo pipefail
here="$(dirname "$0")"
"$here/../asterisk.sh" "$@"
if [ "${1:-}" = start ]; then
  source "$here/../lib.sh"
  log "Asterisk no ar: SIP udp/5160, WSS 8189 (/ws). Senhas dos ramais em $REPO_ROOT/compose/.env"
fi
