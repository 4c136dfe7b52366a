#!/bin/sh
# The build stage of every Python service image (services/Dockerfile): the image's venv
# ($VENV) with the project's libraries and the service, installed as `make up` installs
# them (their pyproject packages), plus any other requirement the image names.
#   sh scripts/container-venv.sh services/<name> [pip requirement...]
# Runs in the build stage's copy of the repository (WORKDIR /src), after
# `. scripts/container-build-env.sh` in the same RUN (a mirror's index, CA and pip.conf).
set -eu
service=$1
shift
python -m venv "$VENV"
"$VENV/bin/pip" install ./libs/asp ./libs/pipeline "./$service" "$@"
