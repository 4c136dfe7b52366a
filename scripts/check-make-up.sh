#!/usr/bin/env bash
# Acceptance check of `make up` (issues 4 and 5): make up, a phone registered as 1001 dials
# 2000 and its speech appears as an utterance in Redis (tests/acceptance/check_make_up.py),
# then make down. Holds /tmp/pabx-asterisk.lock the whole time, so that no test run starts
# its own Asterisk while this one owns the fixed ports.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
hold_asterisk_lock
rc=0
trap 'make down || true' EXIT
make up
"$VENV/bin/python" tests/acceptance/check_make_up.py || rc=$?
exit $rc
