#!/usr/bin/env bash
# Bootstrap for the WebRTC softphone: Debian's Chromium and sox (browser e2e) and the npm
# dependencies (npm ci only when package-lock.json changed). Idempotent and fast when done.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install chromium sox
bash "$REPO_ROOT/scripts/softphone.sh" deps
