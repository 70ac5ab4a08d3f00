#!/bin/sh
# Installs the Debian packages chatd needs to build, test and run its browser suite.
# Non-interactive; safe to run again. Pass --runtime-only for the runtime libraries alone.
set -eu
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

BUILD="build-essential pkg-config libmicrohttpd-dev libcurl4-openssl-dev libcjson-dev libutf8proc-dev libhiredis-dev check"
TEST="curl openssl valgrind python3 redis-server nginx tmux chromium unicode-data fonts-noto-cjk fonts-noto-color-emoji clang libclang-rt-14-dev llvm-14"

if [ "${1:-}" = "--runtime-only" ]; then
    PKGS="libmicrohttpd12 libcurl4 libcjson1 libutf8proc2 libhiredis0.14 ca-certificates"
else
    PKGS="$BUILD $TEST"
fi

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Node.js may come from Debian (nodejs + npm) or from a vendor package that bundles npm.
command -v npm >/dev/null 2>&1 || missing="$missing nodejs npm"
if [ -n "$missing" ]; then
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends $missing
fi
