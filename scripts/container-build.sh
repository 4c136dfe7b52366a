#!/usr/bin/env bash
# Builds the project's images with podman, as compose/docker-compose.yml names them
# (issue 18), on top of the base images that scripts/container-base-images.sh made or that
# the registry gives. Records each image's build time and size in .run/containers/images.tsv.
#
# Usage: scripts/container-build.sh [NAME...]   NAME: asterisk sip-edge stt-worker llm-worker
#        tts-worker softphone stt-worker-cuda (no NAME: all but stt-worker-cuda)
#        scripts/container-build.sh --recipe NAME   prints the Dockerfile and target of NAME
# The Python services' images are targets of services/Dockerfile (--target NAME); softphone
# and asterisk have their own Dockerfiles.
# A mirror or corporate network (docs/DEPLOY.md): PIP_INDEX_URL, PIP_EXTRA_INDEX_URL,
# PIP_FIND_LINKS, PIP_TRUSTED_HOST (from the environment, else the host's `pip config`),
# NPM_CONFIG_REGISTRY and DEBIAN_MIRROR go in as build args when set, and the local folders
# among the pip ones are bind-mounted read-only into the build's RUN steps; the CA bundle (CONTAINER_CA_BUNDLE, else
# PIP_CERT, SSL_CERT_FILE), a pip.conf (CONTAINER_PIP_CONF) and an .npmrc
# (CONTAINER_NPMRC) as build secrets, never into an image layer.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

PREFIX=${PABX_IMAGE_PREFIX:-pabx}
VERSION=${PABX_VERSION:-0.1.0}
OUT="$RUN_DIR/containers"
mkdir -p "$OUT"

# recipe NAME: the Dockerfile and, for services/Dockerfile, the target that builds the image
recipe() {
  case "$1" in
    asterisk) echo compose/asterisk/Dockerfile ;;
    softphone) echo services/softphone/Dockerfile ;;
    sip-edge | stt-worker | stt-worker-cuda | llm-worker | tts-worker) echo "services/Dockerfile $1" ;;
    *) die "imagem desconhecida: $1" ;;
  esac
}
if [ "${1:-}" = --recipe ]; then recipe "$2"; exit 0; fi
tag() {
  case "$1" in
    stt-worker-cuda) echo "$PREFIX/stt-worker:$VERSION-cuda" ;;
    *) echo "$PREFIX/$1:$VERSION" ;;
  esac
}

# docker format: the OCI format has no HEALTHCHECK, and podman would drop the images' own
build_opts=(--format docker --network host --pull=never)

# pip's settings: the environment's PIP_*, else the host's pip configuration (`pip config`),
# so that a machine whose pip uses a mirror or local indexes builds with the same ones
host_pip() {  # host_pip KEY : the host's pip setting (global.KEY), empty when unset
  local py
  py=$(command -v python3 || true)
  [ -n "$py" ] || return 0
  "$py" -m pip config get "global.$1" 2>/dev/null || true
}
[ -n "${PIP_INDEX_URL:-}" ] || PIP_INDEX_URL=$(host_pip index-url)
[ -n "${PIP_EXTRA_INDEX_URL:-}" ] || PIP_EXTRA_INDEX_URL=$(host_pip extra-index-url)
[ -n "${PIP_FIND_LINKS:-}" ] || PIP_FIND_LINKS=$(host_pip find-links)
[ -n "${PIP_TRUSTED_HOST:-}" ] || PIP_TRUSTED_HOST=$(host_pip trusted-host)

# a local folder (/path or file:///path) used as an index or find-links is bind-mounted
# read-only at the same path into the RUN steps (podman build --volume): it is there while
# pip runs and in no image layer. Other values (URLs) go in as they are.
declare -A mounted=()
mount_local() {  # mount_local VALUE... : bind-mount the local folders among the values
  local item dir
  for item in "$@"; do
    case "$item" in
      file://*) dir=${item#file://} ;;
      /*) dir=$item ;;
      *) continue ;;
    esac
    [ -d "$dir" ] || die "pasta local do pip não existe: $dir"
    # an index's pages link to files beside it (.../simple/NAME/ -> ../../files/...):
    # mount the folder above .../simple
    dir=${dir%/}
    [ "${dir##*/}" = simple ] && dir=${dir%/simple}
    if [ -z "${mounted[$dir]:-}" ]; then
      build_opts+=(--volume "$dir:$dir:ro")
      mounted[$dir]=1
    fi
  done
}
for v in PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS PIP_TRUSTED_HOST NPM_CONFIG_REGISTRY DEBIAN_MIRROR; do
  [ -n "${!v:-}" ] || continue
  case "$v" in
    PIP_INDEX_URL | PIP_EXTRA_INDEX_URL | PIP_FIND_LINKS)
      read -r -a items <<<"${!v}"
      mount_local "${items[@]}"
      ;;
    *) if [[ "${!v}" == /* || "${!v}" == file:* ]]; then
      log "$v=${!v} ignorada: uma pasta local só vale para o pip"; continue
    fi ;;
  esac
  build_opts+=(--build-arg "$v=${!v}")
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
  read -r file target <<<"$(recipe "$n")"
  log "podman build $(tag "$n") ($file${target:+ --target $target}; log: $OUT/build-$n.log)"
  if podman build "${build_opts[@]}" -f "$file" ${target:+--target "$target"} -t "$(tag "$n")" . \
    >"$OUT/build-$n.log" 2>&1; then
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
