#!/bin/sh
# The final stage of every Python service image (services/Dockerfile): installs the
# Debian packages the image needs at run time, if any (no apt lists left in the layer),
# and adds the user the service runs as (uid 10001, the owner compose/init and k8s/ give
# each service's secrets). Bind-mounted by the RUN that calls it (not in the image):
#   RUN --mount=type=bind,source=scripts/container-runtime.sh,target=/tmp/container-runtime.sh \
#       sh /tmp/container-runtime.sh [debian package...]
set -eu
if [ "$#" -gt 0 ]; then
  apt-get update
  apt-get install -y --no-install-recommends "$@"
  rm -rf /var/lib/apt/lists/*
fi
useradd --system --uid 10001 --home-dir /opt/pabx --shell /usr/sbin/nologin pabx
