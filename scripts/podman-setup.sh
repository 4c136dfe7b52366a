#!/usr/bin/env bash
# Podman for the container targets (issue 18): Debian's podman + runc, debootstrap for the
# local base images, and podman-compose from PyPI in its own virtualenv. Run by
# scripts/container-base-images.sh and scripts/test-containers.sh, never by `make bootstrap`:
# only the container targets pay for it. Idempotent; prints the podman-compose path.
#
# containers.conf: runc (crun refuses hybrid cgroups), cgroupfs (no systemd here) and
# default_ulimits at or below the host's own (without CAP_SYS_RESOURCE, raising the default
# limits fails), netavark with aardvark-dns (the compose services find each other by name;
# Debian's CNI setup has no DNS). A containers.conf written by someone else is kept if it
# already says runc.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

PODMAN_COMPOSE_VERSION=${PODMAN_COMPOSE_VERSION:-1.6.0}
CONF=/etc/containers/containers.conf
MARK="# written by pabx scripts/podman-setup.sh"

missing=()
command -v podman >/dev/null || missing+=(podman)
command -v runc >/dev/null || missing+=(runc)
command -v debootstrap >/dev/null || missing+=(debootstrap)
[ -x /usr/lib/podman/netavark ] || missing+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
# netavark 1.4 (bookworm) sets up the bridge networks with iptables, which it does not
# depend on: without it every container of a compose network fails to start
# ("netavark: No such file or directory")
command -v iptables >/dev/null || missing+=(iptables)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}" uidmap slirp4netns
command -v podman >/dev/null || die "podman não foi instalado"

# the limits a container may have: never above this shell's own hard limits
nofile=$(ulimit -Hn); nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=20000
[ "$nproc" = unlimited ] && nproc=4096
[ "$nofile" -gt 20000 ] && nofile=20000
[ "$nproc" -gt 4096 ] && nproc=4096
want="$MARK
[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]

[engine]
runtime = \"runc\"
cgroup_manager = \"cgroupfs\"
events_logger = \"file\"

[network]
network_backend = \"netavark\""
if [ ! -f "$CONF" ] || head -1 "$CONF" | grep -qxF "$MARK"; then
  if [ "$(cat "$CONF" 2>/dev/null)" != "$want" ]; then
    as_root mkdir -p "$(dirname "$CONF")"
    printf '%s\n' "$want" | as_root tee "$CONF" >/dev/null
    log "podman: $CONF escrito (runc, cgroupfs, ulimits nofile=$nofile nproc=$nproc)"
  fi
elif ! grep -Eq '^\s*runtime\s*=\s*"runc"' "$CONF"; then
  die "$CONF já existe e não usa runc; acrescente runtime = \"runc\" e cgroup_manager = \"cgroupfs\" em [engine] (veja docs/DEPLOY.md)"
fi

# podman-compose from PyPI, pinned, in its own virtualenv under the machine cache
pc_venv="$PABX_CACHE/podman-compose-$PODMAN_COMPOSE_VERSION"
if [ ! -f "$pc_venv/.ready" ]; then
  log "instalando podman-compose $PODMAN_COMPOSE_VERSION em $pc_venv"
  PY=$(python311 || command -v python3)
  rm -rf "$pc_venv"
  "$PY" -m venv "$pc_venv"
  "$pc_venv/bin/pip" install -q "podman-compose==$PODMAN_COMPOSE_VERSION"
  touch "$pc_venv/.ready"
fi
echo "$pc_venv/bin/podman-compose"
