#!/bin/sh
# Container entrypoint of the images that need generated secrets: loads the env files the
# compose init service writes (PABX_ENV_FILES, space separated; missing files are skipped,
# as in Kubernetes where the Secret arrives as environment variables), then runs the command.
set -eu
for f in ${PABX_ENV_FILES:-}; do
  if [ -r "$f" ]; then set -a; . "$f"; set +a; fi
done
exec "$@"
