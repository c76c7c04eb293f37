#!/usr/bin/env bash
# Install every Debian package the build, the demo and the tests need. Idempotent.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config git
  libuv1-dev libhiredis-dev libmsgpack-dev libjansson-dev
  check libsubunit-dev
  redis-server
  clang libclang-rt-14-dev
  libpng-dev libcurl4-openssl-dev libopenblas-dev libpcre2-dev libmicrohttpd-dev libwebp-dev
  libjpeg62-turbo-dev
  libutf8proc-dev zlib1g-dev
  systemd
  python3
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
