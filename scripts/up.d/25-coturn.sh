#!/usr/bin/env bash
exec "$(dirname "$0")/../coturn.sh" "$@"
