#!/usr/bin/env bash
# Installs what Weft needs to build, test and benchmark on Debian 12, if it is missing. Idempotent.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libboost-program-options-dev libboost-dev
  googletest libgtest-dev libxxhash-dev
  python3 python3-zmq python3-msgpack   # the interoperability test speaks the wire protocol from Python
  iproute2 nftables procps              # network-namespace tests and fault injection
  strace                                # weftd's fsync-failure test injects EIO with strace -e inject
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
