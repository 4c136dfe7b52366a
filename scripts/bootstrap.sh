#!/usr/bin/env bash
# Creates or updates .venv with every package of the repository installed editable,
# then runs scripts/setup.d/*.sh (system packages, generated assets). Idempotent and
# quick when nothing changed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

PY=$(python311) || { apt_install python3 python3-venv python3-dev; PY=$(python311) || die "Python 3.11 não encontrado"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "criando $VENV com $PY"
  "$PY" -m venv "$VENV" || { apt_install python3-venv; "$PY" -m venv "$VENV"; }
fi

packages=()
for d in libs/* services/*; do
  if [ -f "$d/pyproject.toml" ]; then packages+=("$d"); fi
done
stamp_src=$(cat requirements-dev.txt "${packages[@]/%//pyproject.toml}" | sha256sum | cut -c1-16)
stamp="$VENV/.pabx-stamp"
if [ "$(cat "$stamp" 2>/dev/null)" != "$stamp_src" ]; then
  log "instalando pacotes Python em $VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  editable=()
  for p in "${packages[@]}"; do editable+=(-e "$p"); done
  "$VENV/bin/python" -m pip install -q -r requirements-dev.txt "${editable[@]}"
  echo "$stamp_src" > "$stamp"
fi

for s in scripts/setup.d/*.sh; do
  [ -e "$s" ] || continue
  bash "$s"
done
