#!/usr/bin/env bash
# Installs a built Weft into a scratch prefix, then builds and runs an outside project against it twice:
# with CMake's find_package(weft CONFIG) and with pkg-config.
#   package_test.sh BUILD_DIR WORK_DIR
set -euo pipefail
build=$1
work=$2
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$work"
prefix="$work/prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null

echo "find_package(weft CONFIG):"
cmake -S "$here/consumer" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer"

echo "pkg-config:"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/x86_64-linux-gnu/pkgconfig"
# shellcheck disable=SC2046
c++ -o "$work/consumer-pc" "$here/consumer/main.cpp" $(pkg-config --cflags weft) $(pkg-config --libs weft)
"$work/consumer-pc"
