#!/usr/bin/env bash
# Tools that sip-edge's tests and VAD benchmark use to make their audio offline:
# espeak-ng (speech) and sox (resampling, band-limiting).
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
apt_install espeak-ng sox
