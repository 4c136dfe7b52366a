# The two commands of the README: `make up` and `make test`.
# Every target is a thin wrapper over scripts/ so that Dockerfiles and CI run the same code.
SHELL := /bin/bash

.PHONY: up down status test test-unit test-containers bootstrap lint bench clean

up: bootstrap
	@scripts/up.sh start

down:
	@scripts/up.sh stop

status:
	@scripts/up.sh status

bootstrap:
	@scripts/bootstrap.sh

test: bootstrap
	@scripts/test.sh

# Only the unit tests (no Redis, Asterisk, process or model: conftest.py), under a minute;
# no bootstrap, so it needs the .venv of an earlier make bootstrap/up/test.
test-unit:
	@scripts/test.sh unit

# Builds every image with podman and runs the compose stack until it is healthy (issue 18):
# tens of minutes, not part of `make test`; docs/DEPLOY.md records its last result.
test-containers:
	@scripts/test-containers.sh

lint: bootstrap
	@scripts/test.sh lint

bench: bootstrap
	@.venv/bin/python bench/asp_codec.py

clean: down
	rm -rf .venv .run
