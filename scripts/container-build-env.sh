# shellcheck shell=sh
# Sourced by the build stages of the Dockerfiles (`. scripts/container-build-env.sh`): the
# package index, find-links and CA bundle of a mirror or a corporate network, given at build
# time and never written into an image layer. Build secrets (files under /run/secrets, for
# anything with credentials):
#   ca        a CA bundle (PEM) trusted by pip, npm/node, Python's ssl and curl
#   pip_conf  a pip.conf (index-url with credentials, extra-index-url, find-links, cert)
#   npmrc     an .npmrc (registry, auth token)
#   docker build --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt --secret id=pip_conf,src=pip.conf ...
# Build arguments, for what has no credentials (declared in the build stages only, so they
# stay out of the final image and its history): PIP_INDEX_URL, PIP_EXTRA_INDEX_URL,
# PIP_FIND_LINKS, PIP_TRUSTED_HOST, NPM_CONFIG_REGISTRY; pip and npm read them as they are.
# docs/DEPLOY.md ("Construir atrás de um espelho") shows both.
if [ -s /run/secrets/ca ]; then
  export PIP_CERT=/run/secrets/ca SSL_CERT_FILE=/run/secrets/ca REQUESTS_CA_BUNDLE=/run/secrets/ca \
    CURL_CA_BUNDLE=/run/secrets/ca NODE_EXTRA_CA_CERTS=/run/secrets/ca
fi
if [ -s /run/secrets/pip_conf ]; then export PIP_CONFIG_FILE=/run/secrets/pip_conf; fi
if [ -s /run/secrets/npmrc ]; then export NPM_CONFIG_USERCONFIG=/run/secrets/npmrc; fi
