#!/usr/bin/env bash
# System tools of the PBX part (espeak-ng, sox, SIPp, openssl) and the Portuguese prompts,
# generated offline into compose/asterisk/sounds/gerados/ (ignored by git; regenerated when
# the generator changes). Quick when already done.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$REPO_ROOT"
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v sox >/dev/null || need+=(sox)
command -v sipp >/dev/null || need+=(sip-tester)
command -v openssl >/dev/null || need+=(openssl)
command -v debootstrap >/dev/null || command -v asterisk >/dev/null || need+=(debootstrap)
if [ ${#need[@]} -gt 0 ]; then
  for i in $(seq 60); do apt_install "${need[@]}" && break; _APT_UPDATED=0; sleep 5; done
fi
out=compose/asterisk/sounds/gerados
want=$(cat scripts/asterisk_prompts.py | sha256sum | cut -c1-16)
if [ "$(cat "$out/.stamp" 2>/dev/null)" != "$want" ]; then
  log "gerando os áudios da URA em português (espeak-ng) em $out"
  rm -rf "$out.tmp"
  python3 scripts/asterisk_prompts.py "$out.tmp"
  echo "$want" > "$out.tmp/.stamp"
  rm -rf "$out"; mv "$out.tmp" "$out"
fi
# The Asterisk runtime (Debian sid chroot where no system asterisk exists): built once per
# machine into $PABX_CACHE, a few minutes the first time, instant afterwards.
bash scripts/asterisk.sh build
