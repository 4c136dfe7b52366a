#!/usr/bin/env bash
# `make up` / `make down` / `make status`: runs scripts/up.d/*.sh in order (stop: reverse
# order). Each of those takes start|stop|status; start is idempotent and returns once the
# component is healthy, printing where it runs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
action=${1:-start}
mapfile -t parts < <(ls scripts/up.d/*.sh 2>/dev/null | sort)
case "$action" in
  start)
    for p in "${parts[@]}"; do bash "$p" start; done
    echo
    log "sistema no ar. Componentes:"
    for p in "${parts[@]}"; do bash "$p" status || true; done
    log "pare tudo com: make down";;
  stop)
    for ((i=${#parts[@]}-1; i>=0; i--)); do bash "${parts[$i]}" stop; done;;
  status)
    rc=0
    for p in "${parts[@]}"; do bash "$p" status || rc=1; done
    exit $rc;;
  *) die "uso: $0 start|stop|status";;
esac
