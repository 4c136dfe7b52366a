#!/usr/bin/env bash
# Builds the PJSUA2 Python binding from source without the 4-call wall of the PyPI wheels
# (pjproject defines PJSUA_MAX_CALLS as 4; see docs/perf/sip-edge.md) and leaves a wheel in
# $PABX_CACHE/wheels, named after the pjproject version and a hash of this build's
# configuration. Prints the wheel's path on stdout. A second run finds the wheel and returns
# at once.
#
# Source: Debian's `asterisk` source package (sid) carries pjproject as its
# orig-Xpjproject tarball; `apt-get source` fetches it through a private apt list, so the
# system's apt configuration is left alone. PJSUA2_SOURCE_TARBALL=/path/to/pjproject.tar.*
# builds from a tarball you already have instead.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

WHEELS="$PABX_CACHE/wheels"
WORK="$PABX_CACHE/build/pjsua2"
mkdir -p "$WHEELS" "$WORK"

PY=$(python311) || die "Python 3.11 não encontrado"

# --- the configuration; every byte of it goes into the cache key -----------------------------
CONFIG_SITE='/* sip-edge: lift the PJSUA limits that cap a process at 4 calls. */
#define PJSUA_MAX_CALLS 512
#define PJSUA_MAX_PLAYERS 512
#define PJSUA_MAX_RECORDERS 512
#define PJSUA_MAX_CONF_PORTS 2048
#define PJSIP_MAX_TSX_COUNT ((64*1024)-1)
#define PJSIP_MAX_DIALOG_COUNT ((64*1024)-1)
#define PJ_IOQUEUE_MAX_HANDLES 4096
#define PJMEDIA_HAS_VIDEO 0
#define PJMEDIA_RESAMPLE_IMP PJMEDIA_RESAMPLE_SPEEX
'
CONFIGURE_FLAGS=(--disable-shared --disable-sound --disable-video --enable-epoll
  --with-external-srtp --with-external-speex --with-external-gsm --enable-speex-resample
  --disable-resample --disable-ilbc-codec --disable-g7221-codec --disable-libwebrtc
  --disable-libyuv --disable-upnp --disable-opencore-amr --disable-silk --disable-bcg729)
BUILD_DEPS=(swig libsrtp2-dev libspeex-dev libspeexdsp-dev libgsm1-dev libopus-dev libssl-dev
  uuid-dev gcc g++ make pkg-config xz-utils)
PY_TAG=$("$PY" -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
CFG_HASH=$(printf '%s\n' "$CONFIG_SITE" "${CONFIGURE_FLAGS[*]}" "$PY_TAG" "wheel-layout-1" \
  | sha256sum | cut -c1-12)

existing=$(ls "$WHEELS"/pjsua2-*+pabx.${CFG_HASH}-*.whl 2>/dev/null | sort -V | tail -1 || true)
if [ -n "$existing" ] && [ "${PJSUA2_REBUILD:-0}" != 1 ]; then
  echo "$existing"; exit 0
fi

# Python.h for the SWIG module: the official python images carry it, Debian's python3 does not
"$PY" -c 'import os, sys, sysconfig; sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' \
  || BUILD_DEPS+=(python3-dev)
apt_install "${BUILD_DEPS[@]}"

# --- source -----------------------------------------------------------------------------------
tarball=${PJSUA2_SOURCE_TARBALL:-}
if [ -z "$tarball" ]; then
  tarball=$(ls "$WORK"/src/*.orig-Xpjproject.tar.* 2>/dev/null | sort -V | tail -1 || true)
fi
if [ -z "$tarball" ]; then
  log "baixando o código do pjproject (pacote-fonte asterisk do Debian sid)"
  apt_dir="$WORK/apt"
  mkdir -p "$apt_dir/lists/partial" "$WORK/src"
  mirror=${PJSUA2_DEBIAN_MIRROR:-$(debian_mirror)}
  echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror sid main" \
    > "$apt_dir/sid-src.list"
  apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sid-src.list" -o "Dir::Etc::SourceParts=/nonexistent"
    -o "Dir::State::Lists=$apt_dir/lists" -o Acquire::Check-Valid-Until=false
    -o APT::Sandbox::User=root -qq)
  apt-get "${apt_opts[@]}" update >&2
  # apt checks every file against the signed Sources index.
  (cd "$WORK/src" && apt-get "${apt_opts[@]}" source --download-only asterisk >&2)
  tarball=$(ls "$WORK"/src/*.orig-Xpjproject.tar.* | sort -V | tail -1)
  rm -f "$WORK"/src/*.orig.tar.* "$WORK"/src/*.orig-X{amr,mp3,opus}.tar.*
fi
[ -f "$tarball" ] || die "tarball do pjproject não encontrado: $tarball"

# --- build ------------------------------------------------------------------------------------
tree="$WORK/tree"
rm -rf "$tree"; mkdir -p "$tree"
log "compilando pjproject de $(basename "$tarball") (cerca de 3 min em 2 núcleos)"
tar -xf "$tarball" -C "$tree" --strip-components=1
cd "$tree"
PJ_VERSION=$(sed -n 's/^export PJ_VERSION_\(MAJOR\|MINOR\|REV\) *:= *\([0-9]*\).*/\2/p' version.mak \
  | paste -sd. | sed 's/\.$//')
[ -n "$PJ_VERSION" ] || die "versão do pjproject não encontrada em version.mak"
printf '%s' "$CONFIG_SITE" > pjlib/include/pj/config_site.h
# Debian strips BDSound's sources but the makefile still lists this one.
[ -f pjmedia/src/pjmedia-audiodev/bdimad_dev.c ] || : > pjmedia/src/pjmedia-audiodev/bdimad_dev.c
jobs=$(( $(nproc) < 2 ? 1 : 2 ))
{
  CFLAGS="-fPIC -O2" CXXFLAGS="-fPIC -O2" ./configure "${CONFIGURE_FLAGS[@]}"
  make dep
  make -j"$jobs" lib
  make -C pjsip-apps/src/swig/python PYTHON_EXE="$PY"
} > "$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; die "falha na compilação; log em $WORK/build.log"; }

so=$(find pjsip-apps/src/swig/python/build -name '_pjsua2*.so' | head -1)
pyfile=$(find pjsip-apps/src/swig/python/build -name 'pjsua2.py' | head -1)
[ -n "$so" ] && [ -n "$pyfile" ] || die "o binding Python não foi gerado; log em $WORK/build.log"

# --- wheel (plain zip + metadata; no build backend needed) -----------------------------------
version="$PJ_VERSION+pabx.$CFG_HASH"
"$PY" - "$so" "$pyfile" "$version" "$PY_TAG" "$WHEELS" "$(sha256sum "$tarball" | cut -c1-64)" <<'EOF'
import base64, hashlib, os, sys, sysconfig, zipfile
so, pyfile, version, tag, outdir, src_sha = sys.argv[1:]
plat = sysconfig.get_platform().replace("-", "_").replace(".", "_")
name = f"pjsua2-{version}-{tag}-{tag}-{plat}.whl"
dist = f"pjsua2-{version}.dist-info"
files = {
    os.path.basename(so): open(so, "rb").read(),
    "pjsua2.py": open(pyfile, "rb").read(),
    f"{dist}/METADATA": (
        "Metadata-Version: 2.1\nName: pjsua2\nVersion: " + version + "\n"
        "Summary: PJSUA2 SWIG binding built without the 4-call limit (PJSUA_MAX_CALLS 512)\n"
        "License: GPL-2.0-or-later\n"
        f"Description: built by scripts/build-pjsua2.sh from pjproject source sha256 {src_sha}\n"
    ).encode(),
    f"{dist}/WHEEL": (
        "Wheel-Version: 1.0\nGenerator: pabx-build-pjsua2\nRoot-Is-Purelib: false\n"
        f"Tag: {tag}-{tag}-{plat}\n"
    ).encode(),
}
record = []
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{dist}/RECORD,,")
files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
tmp = os.path.join(outdir, name + ".tmp")
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
    for path, data in files.items():
        z.writestr(path, data)
os.replace(tmp, os.path.join(outdir, name))
print(os.path.join(outdir, name))
EOF
cd /; rm -rf "$tree"
