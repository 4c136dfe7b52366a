#!/usr/bin/env bash
# Container entrypoint: the native runner's install-config (passwords into PABX_ENV_FILE when
# missing, self-signed certificate, prompts, rendered configs), then Asterisk in the
# foreground as PID 1's child. Same code path as `make up`.
# Least privilege (issue 15): the image runs as Asterisk's own user (uid 10002, USER in the
# Dockerfile; k8s runAsUser), which owns everything Asterisk writes (RUN_DIR). Started as root
# anyway (docker run --user 0), Asterisk's files go to that user and Asterisk drops root at
# start with -U/-G: it never serves calls as root.
set -euo pipefail
cd "$(dirname "$0")/../.."
run="${RUN_DIR:-$PWD/.run}"
conf="$run/asterisk/etc/asterisk.conf"
# RUN_DIR outlives the container (compose: the volume asterisk-run; k8s: the pod's emptyDir):
# install-config writes asterisk.conf only when missing, so drop the one an older image wrote
rm -f "$conf"
scripts/asterisk.sh install-config
if [ "$(id -u)" = 0 ]; then
  chown -R asterisk:asterisk "$run/asterisk"
  exec asterisk -C "$conf" -f -U asterisk -G asterisk "$@"
fi
exec asterisk -C "$conf" -f "$@"
