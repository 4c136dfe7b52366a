#!/usr/bin/env bash
# Installs into .venv the PJSUA2 binding built by scripts/build-pjsua2.sh (cached in
# $PABX_CACHE/wheels; the first run compiles pjproject, about 3-8 min on 2 cores). It replaces
# the PyPI wheels `pjsua2-python` / `pjsua2-pybind11` when present: they import as the same
# module `pjsua2` but cap a process at 4 simultaneous calls.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
PY="$VENV/bin/python"

wheel=$(bash "$REPO_ROOT/scripts/build-pjsua2.sh")
want=$(basename "$wheel" | cut -d- -f2)
have=$("$PY" - <<'PYEOF'
from importlib import metadata
others = []
for name in ("pjsua2-python", "pjsua2-pybind11"):
    try:
        metadata.version(name)
        others.append(name)
    except metadata.PackageNotFoundError:
        pass
try:
    print(metadata.version("pjsua2") if not others else "replace:" + " ".join(others))
except metadata.PackageNotFoundError:
    print("replace:" + " ".join(others))
PYEOF
)
[ "$have" = "$want" ] && exit 0
others=${have#replace:}
if [ "$have" != "$others" ] && [ -n "$others" ]; then
  log "removendo $others (limitado a 4 chamadas por processo)"
  # shellcheck disable=SC2086
  "$PY" -m pip uninstall -q -y $others
fi
log "instalando pjsua2 $want em $VENV"
"$PY" -m pip install -q --no-deps --force-reinstall "$wheel"
"$PY" -c 'import pjsua2' || die "pjsua2 instalado mas não importa"
