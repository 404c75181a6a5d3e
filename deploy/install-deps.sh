#!/bin/sh
# Installs every Debian package rs needs to build, test and run.
# Idempotent; needs root (or sudo). Used by the README's set-up command and by .ci/run.
set -eu
PKGS="build-essential cmake pkg-config
      libzmq3-dev libsodium-dev libprotobuf-c-dev protobuf-c-compiler libev-dev libsqlite3-dev
      libjansson-dev libmicrohttpd-dev libcriterion-dev clang iproute2 procps python3 systemd
      libyaml-dev libcurl4-openssl-dev curl prometheus groff-base lintian chromium"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing" >&2
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    # shellcheck disable=SC2086
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi
