# Shared helpers for the project's shell scripts. Source it; do not run it.
# shellcheck shell=bash
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT
export VENV="${VENV:-$REPO_ROOT/.venv}"
export RUN_DIR="${RUN_DIR:-$REPO_ROOT/.run}"
# Machine-wide cache shared by clones (Asterisk chroot, built wheels, assembled models).
export PABX_CACHE="${PABX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/pabx}"
mkdir -p "$RUN_DIR" "$PABX_CACHE"

log() { printf '\033[1;34m[pabx]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[pabx] erro:\033[0m %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else die "precisa de root para: $*"; fi
}

_APT_UPDATED=0
# apt_install PKG... : installs the Debian packages that are missing, nothing else.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  if [ "$_APT_UPDATED" = 0 ]; then as_root apt-get update -qq >/dev/null; _APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# tcp_open HOST PORT : true when something accepts TCP connections there.
tcp_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# wait_for DESCRIPTION TIMEOUT_S COMMAND... : polls COMMAND every 0.2 s.
wait_for() {
  local what=$1 timeout=$2; shift 2
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    [ $SECONDS -ge $deadline ] && { log "tempo esgotado esperando $what"; return 1; }
    sleep 0.2
  done
}

# http_ready PORT : true when 127.0.0.1:PORT answers GET /ready with success.
http_ready() { curl -fsS "http://127.0.0.1:$1/ready" >/dev/null 2>&1; }

# start_module NAME MODULE PIDFILE LOG PORT : `python -m MODULE` of the venv in the
# background (output in LOG, pid in PIDFILE); dies, with the end of LOG, when it is not
# ready (http_ready PORT) within 30 s.
start_module() {
  local name=$1 module=$2 pidfile=$3 logfile=$4 port=$5
  nohup "$VENV/bin/python" -m "$module" >"$logfile" 2>&1 &
  echo $! >"$pidfile"
  wait_for "$name" 30 http_ready "$port" || {
    tail -20 "$logfile" >&2
    die "$name não subiu; veja $logfile"
  }
}

# module_service NAME METRICS_PORT STATUS ACTION : start|stop|status of a service of
# `make up` that runs as a Python module (scripts/up.d), its pid and log in
# $RUN_DIR/NAME.pid and NAME.log. start: nothing when it runs already; else the calling
# script's `start_service PIDFILE LOG` (the service's settings, then start_module). status:
# STATUS (where it answers) when it runs and is ready on METRICS_PORT, else "parado", status 1.
module_service() {
  local name=$1 port=$2 status=$3 pidfile="$RUN_DIR/$1.pid"
  case "${4:-status}" in
    start)
      if pid_alive "$pidfile"; then return 0; fi
      start_service "$pidfile" "$RUN_DIR/$name.log";;
    stop)
      stop_pidfile "$name" "$pidfile";;
    status)
      if pid_alive "$pidfile" && http_ready "$port"; then
        printf '  %-10s %s\n' "$name" "$status"
      else
        printf '  %-10s parado\n' "$name"; return 1
      fi;;
    *) die "uso: $0 start|stop|status";;
  esac
}

# hold_asterisk_lock: takes /tmp/pabx-asterisk.lock on fd 9 for the rest of the calling
# script (waiting up to 10 min), so that no test run starts its own Asterisk while this one
# owns the fixed ports; what the script runs (make up, asterisk.sh) then does not take it again.
hold_asterisk_lock() {
  exec 9>/tmp/pabx-asterisk.lock
  flock -w 600 9 || die "outro processo segura /tmp/pabx-asterisk.lock há mais de 10 min"
  export PABX_ASTERISK_LOCK_HELD=1
}

# pid_alive PIDFILE : true when the pidfile names a running process.
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pidfile NAME PIDFILE : TERM, wait up to 10 s, then KILL; removes the pidfile.
stop_pidfile() {
  local name=$1 pidfile=$2 pid
  if pid_alive "$pidfile"; then
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$pid" 2>/dev/null || true
    log "$name parado"
  fi
  rm -f "$pidfile"
}

# redis_url USER : the REDIS_URL a service of `make up` uses: REDIS_URL when the environment
# or compose/.env sets one (an operator's own Redis), else the ACL user USER's URL
# (scripts/redis.sh url; the password comes from compose/.env).
redis_url() {
  if [ -n "${REDIS_URL:-}" ]; then echo "$REDIS_URL"; else bash "$REPO_ROOT/scripts/redis.sh" url "$1"; fi
}

python311() {
  local c
  for c in python3.11 /usr/bin/python3.11 python3; do
    if command -v "$c" >/dev/null && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  return 1
}

# debian_mirror [APT_DIR] : the Debian mirror to debootstrap from or fetch sources through,
# never a host written in the repository: $DEBIAN_MIRROR, else the first Debian archive URI of
# the host's apt sources (APT_DIR, default /etc/apt: deb822 .sources files, then
# sources.list); dies with a clear message when neither exists (set DEBIAN_MIRROR).
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "${DEBIAN_MIRROR%/}"; return 0; fi
  local apt=${1:-/etc/apt} m="" f
  for f in "$apt"/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    m=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\// && $i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$m" ] && break
  done
  if [ -z "$m" ]; then
    m=$(cat "$apt"/sources.list "$apt"/sources.list.d/*.list 2>/dev/null \
      | awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:\/\//) { if ($i !~ /security/) print $i; break } }' \
      | head -1)
  fi
  [ -n "$m" ] || die "nenhum espelho Debian: defina DEBIAN_MIRROR (ex.: DEBIAN_MIRROR=http://<espelho>/debian); $apt não tem fontes do apt"
  echo "${m%/}"
}
