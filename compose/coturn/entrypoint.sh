#!/bin/sh
# coturn with the TURN user the compose init service generated (volume pabx-secrets).
set -eu
. /run/pabx-secrets/turn.env
set -- -c /etc/coturn/turnserver.conf --user "$TURN_USERNAME:$TURN_PASSWORD"
if [ -n "${PABX_EXTERNAL_ADDRESS:-}" ]; then set -- "$@" "--external-ip=$PABX_EXTERNAL_ADDRESS"; fi
exec turnserver "$@"
