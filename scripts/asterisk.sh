#!/usr/bin/env bash
# Native Asterisk runner, used by `make up` (scripts/up.d/20-asterisk.sh) and by the tests.
#   asterisk.sh start            install the configs and start Asterisk; returns once
#                                `pjsip show endpoints` answers (idempotent)
#   asterisk.sh stop             stop the Asterisk that start started
#   asterisk.sh status           print where Asterisk answers
#   asterisk.sh cli CMD...       run one CLI command (asterisk -rx) on the running Asterisk
#   asterisk.sh console          interactive CLI (asterisk -rvvv): live logs, pjsip logger
#   asterisk.sh install-config   (re)install the configs and sounds, then reload if running
#   asterisk.sh build            only prepare the runtime (the chroot when needed)
# Runtime: the system `asterisk` where one is installed, otherwise a Debian sid chroot built
# once in $PABX_CACHE/asterisk-sid (Debian 12 has no asterisk package).
# Environment:
#   PABX_LOOPBACK=1   test/loopback profile: WebRTC media bound to 127.0.0.1 and ICE host
#                     candidates mapped to 127.0.0.1 (browser tests on one machine)
#   PABX_TZ           time zone of *60 (default America/Sao_Paulo)
#   PABX_ASTERISK_MODE=system|chroot   force a runtime (default: system when present)
#   PABX_EXTRA_CONFIG_DIR  more *.conf files to install (tests: the SBC example)
#   PABX_RING_TIMEOUT, PABX_URA_TIMEOUT, PABX_EXTERNAL_ADDRESS, PABX_LOCAL_NET,
#   PABX_STUN_ADDR, PABX_TURN_ADDR: see compose/.env.example
# Every command that starts or changes Asterisk holds /tmp/pabx-asterisk.lock unless the
# caller already holds it (PABX_ASTERISK_LOCK_HELD=1), so that two clones never fight over
# the fixed ports.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CHROOT_VERSION="sid-asterisk-1"   # bump to rebuild the chroot everywhere
CHROOT_PACKAGES="asterisk asterisk-core-sounds-en-gsm asterisk-modules"
CHROOT="$PABX_CACHE/asterisk-sid"
MARKER="$CHROOT/.pabx-chroot-version"
PIDFILE="$RUN_DIR/asterisk.pid"
LOGFILE="$RUN_DIR/asterisk.log"
CONF_SRC="$REPO_ROOT/compose/asterisk/config"
SOUNDS_SRC="$REPO_ROOT/compose/asterisk/sounds"
GEN_SOUNDS="${PABX_GENERATED_SOUNDS:-$SOUNDS_SRC/gerados}"   # the image keeps them elsewhere
# the passwords and the TLS pair; the container points these at its secret files (compose:
# the init service's copies for Asterisk's user; k8s: the mounted Secrets)
ENV_FILE="${PABX_ENV_FILE:-$REPO_ROOT/compose/.env}"
CERT_DIR="${PABX_CERT_DIR:-$REPO_ROOT/compose/certs}"
EXTENSIONS="1001 1002 1003 1004 1005 2000"

# apt_install_retry PKG...: apt_install, waiting while another apt/dpkg holds the lock.
apt_install_retry() {
  local i
  for i in $(seq 60); do
    if apt_install "$@"; then return 0; fi
    _APT_UPDATED=0
    sleep 5
  done
  die "não foi possível instalar: $*"
}

mode() {
  if [ -n "${PABX_ASTERISK_MODE:-}" ]; then echo "$PABX_ASTERISK_MODE"
  elif command -v asterisk >/dev/null 2>&1; then echo system
  else echo chroot; fi
}

# debian_mirror (scripts/lib.sh): DEBIAN_MIRROR or the host's apt sources.

# build_chroot: debootstrap into a temporary folder next to the final one, install the
# packages, then rename: a half-built chroot is never taken for a good one.
build_chroot() {
  [ "$(cat "$MARKER" 2>/dev/null)" = "$CHROOT_VERSION" ] && return 0
  exec 8>"$PABX_CACHE/.asterisk-sid.build.lock"
  flock 8
  [ "$(cat "$MARKER" 2>/dev/null)" = "$CHROOT_VERSION" ] && return 0
  apt_install_retry debootstrap
  local tmp="$CHROOT.tmp.$$" mirror t0=$SECONDS
  mirror=$(debian_mirror)
  log "construindo o chroot Debian sid do Asterisk em $CHROOT (uma vez; alguns minutos) a partir de $mirror"
  rm -rf "$CHROOT".tmp.*
  as_root debootstrap --variant=minbase sid "$tmp" "$mirror" >"$PABX_CACHE/asterisk-sid.debootstrap.log" 2>&1 \
    || die "debootstrap falhou; veja $PABX_CACHE/asterisk-sid.debootstrap.log"
  as_root chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get -qq -o Acquire::Check-Valid-Until=false update
  as_root chroot "$tmp" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $CHROOT_PACKAGES >>"$PABX_CACHE/asterisk-sid.debootstrap.log" 2>&1 \
    || die "apt-get install no chroot falhou; veja $PABX_CACHE/asterisk-sid.debootstrap.log"
  as_root chroot "$tmp" apt-get clean
  # Debian's package starts nothing inside a chroot; make sure no daemon was left running.
  echo "$CHROOT_VERSION" > "$tmp/.pabx-chroot-version"
  if [ -d "$CHROOT" ]; then
    umount_proc "$CHROOT"
    rm -rf "$CHROOT.old"; mv "$CHROOT" "$CHROOT.old"; rm -rf "$CHROOT.old"
  fi
  mv "$tmp" "$CHROOT"
  log "chroot pronto em $((SECONDS - t0)) s"
}

umount_proc() {
  if mountpoint -q "$1/proc" 2>/dev/null; then as_root umount -l "$1/proc" || true; fi
}


# ---------------------------------------------------------------- secrets and certificate
# ensure_env: compose/.env holds one generated password per extension (never committed):
# the built-in ones, and every @EXT_<n>_PASSWORD@ of the configs (an extension added by the
# docs/ASTERISK.md recipe gets its own) unless the environment already gives it.
# A complete ENV_FILE is only read, never touched: in a container it is a read-only secret file.
ensure_env() {
  local e extra missing=""
  extra=$(cat "$CONF_SRC"/*.conf ${PABX_EXTRA_CONFIG_DIR:+"$PABX_EXTRA_CONFIG_DIR"/*.conf} 2>/dev/null \
    | grep -o '@EXT_[0-9]*_PASSWORD@' | sed 's/@EXT_\([0-9]*\)_PASSWORD@/\1/' | sort -u || true)
  for e in $extra; do
    case " $EXTENSIONS " in *" $e "*) continue;; esac
    [ -n "$(printenv "EXT_${e}_PASSWORD" || true)" ] && continue
    grep -qs "^EXT_${e}_PASSWORD=." "$ENV_FILE" || missing="$missing $e"
  done
  for e in $EXTENSIONS; do
    grep -qs "^EXT_${e}_PASSWORD=." "$ENV_FILE" || { missing="$missing $e"; ENV_CREATED=1; }
  done
  # ours and writable (not a read-only secret mount): private, as it always was
  if [ -O "$ENV_FILE" ] && [ -w "$ENV_FILE" ]; then chmod 600 "$ENV_FILE"; fi
  [ -n "$missing" ] || return 0
  touch "$ENV_FILE" 2>/dev/null && [ -w "$ENV_FILE" ] \
    || die "$ENV_FILE não tem a senha dos ramais$missing e não pode ser escrito: gere-as no Secret (scripts/k8s-secrets.sh) ou no compose/.env"
  chmod 600 "$ENV_FILE"
  for e in $missing; do
    sed -i "/^EXT_${e}_PASSWORD=\s*$/d" "$ENV_FILE"
    echo "EXT_${e}_PASSWORD=$(openssl rand -hex 12)" >> "$ENV_FILE"
  done
}

# ensure_cert: self-signed certificate for WSS; a user's own pair in compose/certs/ is kept.
ensure_cert() {
  mkdir -p "$CERT_DIR"
  [ -s "$CERT_DIR/asterisk.crt" ] && [ -s "$CERT_DIR/asterisk.key" ] && return 0
  log "gerando certificado TLS autoassinado em $CERT_DIR"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=pabx.local" \
    -addext "subjectAltName=DNS:localhost,DNS:pabx.local,IP:127.0.0.1" \
    -keyout "$CERT_DIR/asterisk.key" -out "$CERT_DIR/asterisk.crt" 2>/dev/null
  chmod 600 "$CERT_DIR/asterisk.key"
}

host_ip() {
  ip -4 route get 1.1.1.1 2>/dev/null | awk '{for (i=1;i<NF;i++) if ($i=="src") {print $(i+1); exit}}' \
    || true
}

# ---------------------------------------------------------------- layout per runtime
# ROOT: the filesystem Asterisk sees ("" for the system one). ETC/KEYS/SOUNDS: paths as
# Asterisk sees them.
layout() {
  if [ "$(mode)" = chroot ]; then
    ROOT="$CHROOT"; AST_ETC=/etc/asterisk; AST_KEYS=/etc/asterisk/keys; AST_SOUNDS=/var/lib/pabx/sounds
    AST_CONF=/etc/asterisk/asterisk.conf
  else
    ROOT=""; local base="$RUN_DIR/asterisk"
    AST_ETC="$base/etc"; AST_KEYS="$base/etc/keys"; AST_SOUNDS="$base/sounds"
    AST_CONF="$base/etc/asterisk.conf"
  fi
}

ast() {  # ast ARGS...: runs asterisk with this runtime's files
  if [ "$(mode)" = chroot ]; then as_root chroot "$CHROOT" asterisk "$@"
  else asterisk -C "$AST_CONF" "$@"; fi
}

cli() { ast -rx "$*" 2>/dev/null; }

answers() {  # (no `| grep -q`: with pipefail its early exit would fail the pipeline)
  local out
  out=$(cli "pjsip show endpoints") || return 1
  [[ "$out" == *"Endpoint:"* ]]
}

# ---------------------------------------------------------------- configuration
install_config() {
  layout
  ensure_env
  ensure_cert
  [ -f "$GEN_SOUNDS/.stamp" ] || bash "$REPO_ROOT/scripts/setup.d/30-asterisk-prompts.sh"
  local etc="$ROOT$AST_ETC"
  mkdir -p "$etc" "$ROOT$AST_KEYS" "$ROOT$AST_SOUNDS"
  if [ -z "$ROOT" ] && [ ! -f "$AST_CONF" ]; then
    # private asterisk.conf for a system Asterisk: our etc/run/log/spool, its modules and data
    # ("[directories](!)" in Debian's file is a template: make it a real section)
    sed -e 's#^\[directories\].*#[directories]#' \
        -e "s#^astetcdir.*#astetcdir => $AST_ETC#" \
        -e "s#^astrundir.*#astrundir => $RUN_DIR/asterisk/run#" \
        -e "s#^astlogdir.*#astlogdir => $RUN_DIR/asterisk/log#" \
        -e "s#^astspooldir.*#astspooldir => $RUN_DIR/asterisk/spool#" \
        -e "s#^astvarlibdir.*#astvarlibdir => $RUN_DIR/asterisk/lib#" \
        -e "s#^astdbdir.*#astdbdir => $RUN_DIR/asterisk/lib#" \
        -e "s#^astcachedir.*#astcachedir => $RUN_DIR/asterisk/cache#" \
        /etc/asterisk/asterisk.conf > "$AST_CONF"
    mkdir -p "$RUN_DIR"/asterisk/{run,log,spool,lib,cache}
  fi
  # -f: a copy from an earlier start is read-only (the key is 0400) and RUN_DIR outlives the
  # container (compose's asterisk-run volume): replace it instead of failing to open it
  cp -f "$CERT_DIR/asterisk.crt" "$CERT_DIR/asterisk.key" "$ROOT$AST_KEYS/"
  # generated prompts first, then the user's own files (same name: the user's wins)
  cp -f "$GEN_SOUNDS"/*.wav "$ROOT$AST_SOUNDS/"
  compgen -G "$SOUNDS_SRC/*.wav" >/dev/null && cp -f "$SOUNDS_SRC"/*.wav "$ROOT$AST_SOUNDS/"
  compgen -G "$SOUNDS_SRC/*.gsm" >/dev/null && cp -f "$SOUNDS_SRC"/*.gsm "$ROOT$AST_SOUNDS/"
  if [ -n "$ROOT" ]; then
    # the chroot is ours: only our files (and Debian's asterisk.conf) so no sample config
    # of an unloaded module adds noise
    find "$etc" -maxdepth 1 -type f ! -name asterisk.conf -delete
  fi
  local hip; hip=$(host_ip)
  PABX_HOST_IP="$hip" KEYS_DIR="$AST_KEYS" SOUNDS_DIR="$AST_SOUNDS" \
    python3 "$REPO_ROOT/scripts/asterisk_render.py" "$ENV_FILE" "$CONF_SRC" "$etc" \
    "${PABX_EXTRA_CONFIG_DIR:-}"
  # a reload of a running Asterisk reads these as its own user
  [ -n "$ROOT" ] && own_asterisk_files
  return 0
}

# own_asterisk_files: the chroot's Asterisk folders, configuration and keys belong to the
# user Asterisk runs as (the TLS key stays mode 600, readable by that user only).
own_asterisk_files() {
  as_root mkdir -p "$CHROOT"/var/{lib,log,spool,run,cache}/asterisk
  as_root chroot "$CHROOT" chown -R asterisk:asterisk \
    /var/lib/asterisk /var/log/asterisk /var/spool/asterisk /var/run/asterisk \
    /var/cache/asterisk /etc/asterisk
}

# ---------------------------------------------------------------- lifecycle
start() {
  if answers; then
    # ours, or (chroot shared by the clones of this machine) another clone's: reuse it with
    # this clone's configuration; `stop` only ever stops what this clone started
    pid_alive "$PIDFILE" || { rm -f "$PIDFILE"; log "usando o Asterisk já em execução"; }
    install_config; cli "core reload" >/dev/null; return 0
  fi
  [ "$(mode)" = chroot ] && build_chroot
  if [ -n "$(ss -Hlun 'sport = :5160')" ]; then
    die "a porta UDP 5160 já está em uso por outro processo (outro Asterisk?): $(ss -Hlunp 'sport = :5160' | head -1)"
  fi
  install_config
  [ "${PABX_LOOPBACK:-0}" = 1 ] && forget_registrations
  rm -f "$PIDFILE"
  local t0=$SECONDS
  if [ "$(mode)" = chroot ]; then
    mountpoint -q "$CHROOT/proc" || as_root mount -t proc proc "$CHROOT/proc"
    mkdir -p "$CHROOT/var/run/asterisk" "$CHROOT/var/log/asterisk" "$CHROOT/var/spool/asterisk"
    # debootstrap leaves no /etc/hosts: Asterisk then asks DNS for this machine's name on
    # every new channel, and concurrent lookups stall calls by 5 s. The host's, plus its name.
    { cat /etc/hosts 2>/dev/null || echo "127.0.0.1 localhost"
      grep -qw "$(hostname)" /etc/hosts 2>/dev/null || echo "127.0.1.1 $(hostname)"
    } | as_root tee "$CHROOT/etc/hosts" >/dev/null
    # least privilege (issue 15): Asterisk starts as root in the chroot and runs as its own
    # user (-U/-G, the Debian package's "asterisk"); its folders and keys are that user's
    own_asterisk_files
    rm -f "$CHROOT/var/run/asterisk/asterisk.ctl" "$CHROOT/var/run/asterisk/asterisk.pid"
    keep_previous_log
    ( close_inherited_fds; exec setsid chroot "$CHROOT" asterisk -f -U asterisk -G asterisk ) \
      </dev/null >"$LOGFILE" 2>&1 &
  else
    rm -f "$RUN_DIR/asterisk/run/asterisk.ctl"
    keep_previous_log
    ( close_inherited_fds; exec setsid asterisk -C "$AST_CONF" -f -U root -G root ) \
      </dev/null >"$LOGFILE" 2>&1 &
  fi
  echo $! > "$PIDFILE"
  if ! wait_for "Asterisk (pjsip show endpoints)" 60 answers_or_dead || ! answers; then
    tail -20 "$LOGFILE" >&2 || true
    stop
    die "Asterisk não subiu; veja $LOGFILE"
  fi
  log "Asterisk pronto em $((SECONDS - t0)) s"
}

# forget_registrations: the test profile starts with no phone registered. Asterisk keeps
# registrations in its astdb across restarts (the chroot's is shared by every clone of the
# machine), so without this a run would start with the contacts that the previous run's phones
# and sip-edges left behind, pointing at ports where nothing listens any more. Only a fresh
# process gets here (a running Asterisk is reused as it is), and `make up`'s profile keeps
# its registrations, as a PBX should.
forget_registrations() {
  local db
  if [ "$(mode)" = chroot ]; then db="$CHROOT/var/lib/asterisk/astdb.sqlite3"
  else db="$RUN_DIR/asterisk/lib/astdb.sqlite3"; fi
  [ -f "$db" ] || return 0
  as_root python3 - "$db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n = db.execute("DELETE FROM astdb WHERE key LIKE '/registrar/%'").rowcount
db.commit()
if n:
    print(f"[pabx] perfil de teste: {n} registro(s) de uma execução anterior esquecido(s)", file=sys.stderr)
PY
}

# close_inherited_fds: in the subshell that becomes Asterisk, close every descriptor but
# 0-2. A lock held by whoever called us (`flock /tmp/pabx-asterisk.lock ...`, or our own fds
# 8 and 9) must not live on in the daemon, or the lock is never released.
# keep_previous_log: a restart keeps the last run's console log as asterisk.log.1, so a
# failure right after a restart (the softphone e2e restarts Asterisk) still has it.
keep_previous_log() { [ -s "$LOGFILE" ] && mv -f "$LOGFILE" "$LOGFILE.1"; return 0; }

close_inherited_fds() {
  local fd
  for fd in $(ls /proc/$BASHPID/fd); do
    [ "$fd" -gt 2 ] && [ "$fd" != 255 ] && eval "exec $fd>&-" 2>/dev/null
  done
  return 0
}

answers_or_dead() { answers || ! pid_alive "$PIDFILE"; }

stop() {
  layout
  # a stale pidfile (reboot) may name an unrelated process: only ever stop an asterisk
  if pid_alive "$PIDFILE" && [ "$(cat "/proc/$(cat "$PIDFILE")/comm" 2>/dev/null)" != asterisk ]; then
    rm -f "$PIDFILE"
  fi
  if pid_alive "$PIDFILE"; then
    cli "core stop now" >/dev/null || true
    for _ in $(seq 50); do pid_alive "$PIDFILE" || break; sleep 0.2; done
  fi
  stop_pidfile asterisk "$PIDFILE"
  # another clone's chroot Asterisk (started -U asterisk since issue 15; -U root before) keeps /proc
  [ "$(mode)" = chroot ] && ! pgrep -f "^asterisk -f -U " >/dev/null 2>&1 && umount_proc "$CHROOT"
  return 0
}

status() {
  layout
  if answers; then
    local who="já existente"
    pid_alive "$PIDFILE" && who="iniciado por este clone, pid $(cat "$PIDFILE"), runtime $(mode)"
    echo "  asterisk   SIP udp/5160 · WSS wss://127.0.0.1:8189/ws · RTP 10000-10299  ($who)"
    echo "             senhas dos ramais: $ENV_FILE · CLI: scripts/asterisk.sh cli 'pjsip show endpoints'"
  else
    echo "  asterisk   parado"; return 1
  fi
}

with_lock() {
  [ "${PABX_ASTERISK_LOCK_HELD:-0}" = 1 ] || hold_asterisk_lock
  "$@"
}

layout
case "${1:-status}" in
  build) [ "$(mode)" = chroot ] && build_chroot; true;;
  start) with_lock start;;
  stop) with_lock stop;;
  status) status;;
  cli) shift; layout; ast -rx "$*";;
  console) layout; ast -rvvv;;
  install-config)
    with_lock install_config
    if answers; then cli "core reload" >/dev/null; log "configuração recarregada"; fi;;
  *) die "uso: $0 start|stop|status|cli COMANDO|console|install-config|build";;
esac
