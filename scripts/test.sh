#!/usr/bin/env bash
# `make test`: lint, types, then every test suite. `scripts/test.sh lint` stops after the gates;
# `scripts/test.sh unit` (`make test-unit`) runs only the unit tests (conftest.py): under a minute.
# Extra suites (non-Python, e.g. the softphone) hook in as scripts/test.d/*.sh.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"
PY="$VENV/bin/python"

if [ "${1:-}" = unit ]; then
  [ -x "$PY" ] || die "$PY não existe: rode make bootstrap (ou make test) uma vez"
  exec "$PY" -m pytest -m unit -q libs services tests
fi

log "ruff"
"$PY" -m ruff check .
"$PY" -m ruff format --check .
log "mypy --strict"
# the packages of this checkout, whatever the venv's editable installs point at; tests/support:
# the helper modules tests import by name (sipmsg, rtpphone)
MYPYPATH="$(printf '%s:' libs/*/src services/*/src)tests/support" && export MYPYPATH
"$PY" -m mypy --strict libs/asp/src libs/asp-debug/src libs/pipeline/src services/stt-worker/src \
  services/tts-worker/src services/llm-worker/src services/sip-edge/src
# test folders one at a time: they repeat module names (conftest, test_worker...)
for d in libs/asp/tests libs/asp-debug/tests libs/pipeline/tests services/stt-worker/tests \
  services/tts-worker/tests services/llm-worker/tests services/sip-edge/tests; do
  "$PY" -m mypy --strict "$d"
done
# the top-level tests, named by their path (tests.integration.agent.conftest...), with
# tests/support, bench/ and scripts/ by the names the tests and benches import them by
MYPYPATH="$MYPYPATH:bench:scripts" "$PY" -m mypy --strict --explicit-package-bases \
  conftest.py tests scripts $(ls bench/*.py | grep -v '^bench/drills.py$')
# bench/drills.py imports tests/support/drills.py by the same name: checked as bench.drills
"$PY" -m mypy --strict --explicit-package-bases bench/drills.py
[ "${1:-}" = lint ] && exit 0

# an open Redis on 127.0.0.1:6379 for the suites (make up's has ACL users: scripts/redis.sh)
PABX_REDIS_AUTH=off bash scripts/redis.sh start

log "pytest libs/asp (cobertura mínima 95 %)"
"$PY" -m pytest libs/asp --cov=asp --cov-report=term-missing:skip-covered --cov-fail-under=95 -q

for s in scripts/test.d/*.sh; do
  [ -e "$s" ] || continue
  log "suite $(basename "$s")"
  bash "$s"
done

log "pytest: bibliotecas, serviços e integração"
others=()
for d in libs/* services/* tests; do
  [ "$d" = libs/asp ] && continue
  if [ -n "$(find "$d" -name 'test_*.py' -not -path '*/node_modules/*' -print -quit)" ]; then
    others+=("$d")
  fi
done
if [ ${#others[@]} -gt 0 ]; then
  "$PY" -m pytest "${others[@]}" -q
fi
