#!/usr/bin/env bash
# Local stand-ins for the base images that services/Dockerfile, services/softphone/Dockerfile,
# compose/asterisk/Dockerfile, compose/docker-compose.yml and k8s/ name, for machines that
# reach Debian's and the language package registries but no image registry (issue 18). Each stand-in is made from Debian
# packages and tagged with exactly the name the Dockerfiles use, so the Dockerfiles stay the
# ones users build from the official images:
#   1. `debootstrap --variant=minbase SUITE` piped into `podman import` gives one plain
#      Debian image per suite (pabx-standin/debian:SUITE; debian:sid-slim is the sid one);
#   2. a short Containerfile per stand-in installs the Debian packages on top of it
#      (`podman build --network host`) and reproduces what the Dockerfiles rely on from the
#      official image (the node user uid 1000, redis's entrypoint, coturn's nobody user).
# The versions are Debian's, not the tag's (python 3.11.2 under python:3.11.11-slim-bookworm):
# each stand-in carries the label pabx.standin=<what it really is>. Images that Debian does
# not package (Grafana) are not made: docs/DEPLOY.md lists them.
#
# Usage: scripts/container-base-images.sh [list | list-not-made | NAME...]  (no NAME: all)
# The Debian mirror: DEBIAN_MIRROR, else the host's apt sources (scripts/lib.sh).
# A stand-in is rebuilt only when its recipe (this file's text for it) changes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

# name | Debian suite | what it is (label) -- the recipes are the standin_* functions below
STANDINS=(
  "python:3.11.11-slim-bookworm|bookworm|Debian bookworm python3 (3.11), python3-venv"
  "node:20.19.6-bookworm-slim|trixie|Debian trixie nodejs (20.19) and npm, user node (1000)"
  "debian:sid-slim|sid|Debian sid minbase"
  "redis:7.4.2-bookworm|bookworm|Debian bookworm redis-server (7.0), official entrypoint behaviour"
  "coturn/coturn:4.6.3|trixie|Debian trixie coturn (4.6.1), user nobody"
  "oliver006/redis_exporter:v1.67.0|trixie|Debian trixie prometheus-redis-exporter"
  "prom/prometheus:v3.1.0|trixie|Debian trixie prometheus (2.x), user nobody"
)
# what cannot be made from Debian packages (docs/DEPLOY.md says the same)
NOT_MADE=("grafana/grafana:11.4.0|Grafana is not packaged by Debian")

case "${1:-}" in
  list) for s in "${STANDINS[@]}"; do echo "${s%%|*}"; done; exit 0 ;;
  list-not-made) for s in "${NOT_MADE[@]}"; do echo "${s%%|*}"; done; exit 0 ;;
esac

PODMAN_COMPOSE=$(bash scripts/podman-setup.sh)
export PODMAN_COMPOSE

# ---------------------------------------------------------------- recipes (Containerfile bodies)
apt_in() {  # apt_in PKG... : the RUN line that installs Debian packages and drops the lists
  printf 'RUN apt-get update -qq \\\n && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends %s \\\n && apt-get clean && rm -rf /var/lib/apt/lists/*\n' "$*"
}

standin_python() {
  apt_in python3 python3-venv python-is-python3 ca-certificates
  cat <<'EOF'
ENV LANG=C.UTF-8
CMD ["python3"]
EOF
}

standin_node() {
  cat <<'EOF'
RUN groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node
EOF
  apt_in nodejs npm ca-certificates
  cat <<'EOF'
CMD ["node"]
EOF
}

standin_debian() { :; }

standin_redis() {
  # uid 999 as in the official image; its entrypoint: chown /data, drop to redis, and
  # --protected-mode no when no config file is given (the containers reach it by name)
  cat <<'EOF'
RUN groupadd --system --gid 999 redis && useradd --system --uid 999 --gid redis --home-dir /data redis
EOF
  apt_in redis-server redis-tools
  cat <<'EOF'
RUN mkdir -p /data && chown redis:redis /data \
 && printf '%s\n' '#!/bin/sh' 'set -e' \
    'case "$1" in -*|*.conf) set -- redis-server "$@" ;; esac' \
    'if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then' \
    '  find . \! -user redis -exec chown redis "{}" +' \
    '  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"' \
    'fi' \
    'if [ "$1" = redis-server ]; then' \
    '  case "$2" in *.conf) ;; *) shift; set -- redis-server --protected-mode no "$@" ;; esac' \
    '  umask 0077' \
    'fi' \
    'exec "$@"' > /usr/local/bin/docker-entrypoint.sh \
 && chmod 0755 /usr/local/bin/docker-entrypoint.sh
VOLUME /data
WORKDIR /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
EOF
}

standin_coturn() {
  apt_in coturn
  cat <<'EOF'
USER nobody:nogroup
EXPOSE 3478 3478/udp
ENTRYPOINT ["turnserver"]
EOF
}

standin_redis_exporter() {
  apt_in prometheus-redis-exporter
  cat <<'EOF'
USER 59000:59000
EXPOSE 9121
ENTRYPOINT ["/usr/bin/prometheus-redis-exporter"]
EOF
}

standin_prometheus() {
  # wget: the compose health check; the official image's paths and user
  apt_in prometheus wget
  cat <<'EOF'
RUN mkdir -p /prometheus && chown nobody:nogroup /prometheus
USER nobody:nogroup
WORKDIR /prometheus
VOLUME /prometheus
EXPOSE 9090
ENTRYPOINT ["/usr/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus"]
EOF
}

recipe() {  # recipe NAME : the stand-in's Containerfile body
  case "$1" in
    python:*) standin_python ;;
    node:*) standin_node ;;
    debian:*) standin_debian ;;
    redis:*) standin_redis ;;
    coturn/*) standin_coturn ;;
    oliver006/redis_exporter:*) standin_redis_exporter ;;
    prom/prometheus:*) standin_prometheus ;;
    *) die "sem receita para $1" ;;
  esac
}

# ---------------------------------------------------------------- the plain Debian images
SUITE_VERSION=2  # bump to rebuild every suite image
suite_image() { echo "localhost/pabx-standin/debian:$1"; }

image_label() {  # image_label IMAGE LABEL : the label's value, empty when the image is absent
  podman image inspect --format "{{index .Labels \"$2\"}}" "$1" 2>/dev/null || true
}

build_suite() {  # build_suite SUITE : debootstrap minbase | podman import, once
  local suite=$1 img mirror dir t0=$SECONDS
  img=$(suite_image "$suite")
  mirror=$(debian_mirror)
  if [ "$(image_label "$img" pabx.suite)" = "$suite-$SUITE_VERSION" ]; then return 0; fi
  dir=$(mktemp -d /var/tmp/pabx-standin-"$suite".XXXXXX)
  log "debootstrap --variant=minbase $suite de $mirror"
  if ! as_root debootstrap --variant=minbase "$suite" "$dir" "$mirror" >"$dir.log" 2>&1; then
    tail -20 "$dir.log" >&2; as_root rm -rf "$dir"; die "debootstrap $suite falhou (log: $dir.log)"
  fi
  # slim as Debian's own -slim images: no docs, man pages or translations from later installs;
  # no service starts inside an image build (policy-rc.d)
  as_root tee "$dir/etc/dpkg/dpkg.cfg.d/pabx-slim" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  # and, as Debian's images do (docker-clean), apt keeps no .deb after an install
  as_root tee "$dir/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf '#!/bin/sh\nexit 101\n' | as_root tee "$dir/usr/sbin/policy-rc.d" >/dev/null
  as_root chmod 0755 "$dir/usr/sbin/policy-rc.d"
  as_root find "$dir/usr/share/doc" -mindepth 2 -not -name copyright -not -type d -delete
  as_root rm -rf "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/var/lib/apt/lists/* \
    "$dir"/var/cache/apt/*.bin "$dir"/var/cache/apt/archives/*.deb "$dir"/var/log/*.log "$dir"/var/log/apt/*
  as_root tar -C "$dir" --numeric-owner -c . \
    | podman import --change 'CMD ["bash"]' --change "LABEL pabx.suite=$suite-$SUITE_VERSION" \
        --change "LABEL pabx.standin=\"Debian $suite minbase (debootstrap)\"" - "$img" >/dev/null
  as_root rm -rf "$dir" "$dir.log"
  log "imagem $img pronta em $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- the stand-ins
build_standin() {  # build_standin "NAME|SUITE|WHAT"
  local name suite what body hash ctx t0=$SECONDS
  IFS='|' read -r name suite what <<<"$1"
  body="FROM $(suite_image "$suite")
$(recipe "$name")
LABEL pabx.standin=\"$what\""
  hash=$(printf '%s\n%s\n' "$SUITE_VERSION" "$body" | sha256sum | cut -c1-16)
  if [ "$(image_label "$name" pabx.recipe)" = "$hash" ]; then
    log "$name: já construída"; return 0
  fi
  build_suite "$suite"
  ctx=$(mktemp -d)
  printf '%s\nLABEL pabx.recipe=%s\n' "$body" "$hash" > "$ctx/Containerfile"
  log "$name: construindo ($what)"
  if ! podman build --network host --pull=never -q -t "$name" -f "$ctx/Containerfile" "$ctx" >/dev/null; then
    rm -rf "$ctx"; die "$name: podman build falhou"
  fi
  rm -rf "$ctx"
  log "$name: pronta em $((SECONDS - t0)) s ($(podman image inspect --format '{{.Size}}' "$name" | numfmt --to=iec))"
}

wanted=("$@")
for s in "${STANDINS[@]}"; do
  name=${s%%|*}
  if [ ${#wanted[@]} -gt 0 ]; then
    hit=0
    for w in "${wanted[@]}"; do [ "$w" = "$name" ] && hit=1; done
    [ $hit = 1 ] || continue
  fi
  build_standin "$s"
done
for s in "${NOT_MADE[@]}"; do log "não feita: ${s%%|*} (${s#*|}; veja docs/DEPLOY.md)"; done
