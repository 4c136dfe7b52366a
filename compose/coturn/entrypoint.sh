#!/bin/sh
# coturn with the TURN user the compose init service generated (volume pabx-secrets).
# TURN_ALLOWED_PEER_IPS (comma separated addresses or a-b ranges) opens peers that
# turnserver.conf denies (every private and loopback range).
set -eu
. /run/pabx-secrets/turn.env
set -- -c /etc/coturn/turnserver.conf --user "$TURN_USERNAME:$TURN_PASSWORD"
if [ -n "${PABX_EXTERNAL_ADDRESS:-}" ]; then set -- "$@" "--external-ip=$PABX_EXTERNAL_ADDRESS"; fi
for peer in $(printf '%s' "${TURN_ALLOWED_PEER_IPS:-}" | tr ',' ' '); do
  set -- "$@" "--allowed-peer-ip=$peer"
done
exec turnserver "$@"
