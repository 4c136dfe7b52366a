#!/usr/bin/env bash
# make up/down/status: the WebRTC softphone on https://localhost:3000 (see scripts/softphone.sh).
set -euo pipefail
exec bash "$(dirname "$0")/../softphone.sh" "${1:-status}"
