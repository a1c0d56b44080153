#!/usr/bin/env bash
# Installs the Debian 12 packages oncemq needs to build, test and benchmark.
# Safe to re-run: when everything is present it only checks and returns.
set -euo pipefail

packages=(
  build-essential g++ cmake ninja-build clang libclang-rt-14-dev clang-format
  libasio-dev librdkafka-dev libsqlite3-dev libhiredis-dev libpq-dev libmariadb-dev
  nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev
  zlib1g-dev libzstd-dev liblz4-dev libsnappy-dev
  libgtest-dev libgmock-dev libbenchmark-dev libssl-dev redis-server postgresql mariadb-server
  kcat procps curl python3
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
