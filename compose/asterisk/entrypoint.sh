#!/usr/bin/env bash
# Container entrypoint: the native runner's install-config (passwords into compose/.env when
# missing, self-signed certificate, prompts, rendered configs), then Asterisk in the
# foreground as PID 1's child. Same code path as `make up`.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/asterisk.sh install-config
conf="${RUN_DIR:-$PWD/.run}/asterisk/etc/asterisk.conf"
exec asterisk -C "$conf" -f -U root -G root "$@"
