#!/usr/bin/env bash
# Debian packages of the security tests (issue 15):
#   fail2ban: fail2ban-regex runs the shipped Asterisk filter (compose/fail2ban/) over a
#             security.log written by real failed REGISTERs (tests/integration/pbx/test_fail2ban.py);
#   coturn:   the real turnserver with compose/coturn/turnserver.conf refuses private and
#             loopback peers (tests/integration/turn/test_coturn_peers.py; make up uses it too).
# The tests only run the binaries; on a host with systemd, Debian's packages also enable their
# own services (fail2ban with its sshd jail), as any install of them does.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
missing=()
command -v fail2ban-regex >/dev/null || missing+=(fail2ban)
command -v turnserver >/dev/null || missing+=(coturn)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
