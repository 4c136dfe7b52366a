#!/usr/bin/env bash
# Builds the project's images with podman, as compose/docker-compose.yml names them
# (issue 18), on top of the base images that scripts/container-base-images.sh made or that
# the registry gives. Records each image's build time and size in .run/containers/images.tsv.
#
# Usage: scripts/container-build.sh [NAME...]   NAME: asterisk sip-edge stt-worker llm-worker
#        tts-worker softphone stt-worker-cuda (no NAME: all but stt-worker-cuda)
# A mirror or corporate network (docs/DEPLOY.md): PIP_INDEX_URL, PIP_EXTRA_INDEX_URL,
# PIP_FIND_LINKS (URLs, not local folders), PIP_TRUSTED_HOST, NPM_CONFIG_REGISTRY and
# DEBIAN_MIRROR go in as build args when set; the CA bundle (CONTAINER_CA_BUNDLE, else
# PIP_CERT, SSL_CERT_FILE), a pip.conf (CONTAINER_PIP_CONF) and an .npmrc
# (CONTAINER_NPMRC) as build secrets, never into an image layer.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

PREFIX=${PABX_IMAGE_PREFIX:-pabx}
VERSION=${PABX_VERSION:-0.1.0}
OUT="$RUN_DIR/containers"
mkdir -p "$OUT"

dockerfile() {
  case "$1" in
    asterisk) echo compose/asterisk/Dockerfile ;;
    stt-worker-cuda) echo services/stt-worker/Dockerfile.cuda ;;
    sip-edge | stt-worker | llm-worker | tts-worker | softphone) echo "services/$1/Dockerfile" ;;
    *) die "imagem desconhecida: $1" ;;
  esac
}
tag() {
  case "$1" in
    stt-worker-cuda) echo "$PREFIX/stt-worker:$VERSION-cuda" ;;
    *) echo "$PREFIX/$1:$VERSION" ;;
  esac
}

# docker format: the OCI format has no HEALTHCHECK, and podman would drop the images' own
build_opts=(--format docker --network host --pull=never)
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_TRUSTED_HOST NPM_CONFIG_REGISTRY DEBIAN_MIRROR; do
  # a local folder cannot be reached from inside the build: only URLs go in
  if [ -n "${!v:-}" ] && [[ "${!v}" != /* && "${!v}" != file:* ]]; then build_opts+=(--build-arg "$v=${!v}"); fi
done
ca=${CONTAINER_CA_BUNDLE:-${PIP_CERT:-${SSL_CERT_FILE:-}}}
[ -n "$ca" ] && [ -f "$ca" ] && build_opts+=(--secret "id=ca,src=$ca")
[ -n "${CONTAINER_PIP_CONF:-}" ] && build_opts+=(--secret "id=pip_conf,src=$CONTAINER_PIP_CONF")
[ -n "${CONTAINER_NPMRC:-}" ] && build_opts+=(--secret "id=npmrc,src=$CONTAINER_NPMRC")

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(asterisk sip-edge stt-worker llm-worker tts-worker softphone)
failed=()
for n in "${names[@]}"; do
  t0=$SECONDS
  log "podman build $(tag "$n") ($(dockerfile "$n"); log: $OUT/build-$n.log)"
  if podman build "${build_opts[@]}" -f "$(dockerfile "$n")" -t "$(tag "$n")" . >"$OUT/build-$n.log" 2>&1; then
    size=$(podman image inspect --format '{{.Size}}' "$(tag "$n")")
    printf '%s\t%s\t%s\t%s\n' "$(tag "$n")" "$((SECONDS - t0))" "$size" "$(date -u +%FT%TZ)" >>"$OUT/images.tsv"
    log "$(tag "$n"): $((SECONDS - t0)) s, $(numfmt --to=iec "$size")"
  else
    tail -25 "$OUT/build-$n.log" >&2
    log "$(tag "$n"): FALHOU em $((SECONDS - t0)) s"
    failed+=("$n")
  fi
done
# dangling layers of earlier builds: `podman image prune -f` once no build runs (test-containers.sh)
[ ${#failed[@]} -eq 0 ] || die "imagens que não construíram: ${failed[*]}"
