#!/usr/bin/env bash
# Installs what is missing, builds Weft and runs every test:
#   1. a RelWithDebInfo build with -Werror: all unit, node and integration tests (ctest);
#   2. an AddressSanitizer + UndefinedBehaviorSanitizer build: the same tests again;
#   3. a ThreadSanitizer build of the threaded core: the node and queue tests;
#   4. an outside project that finds the installed library with find_package(weft) and pkg-config.
# Usage: scripts/test.sh [--quick]   (--quick: step 1 only)
# Build trees go under build/ (WEFT_BUILD_ROOT changes it). Exits non-zero on the first failure.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_root=${WEFT_BUILD_ROOT:-$root/build}
jobs=$(nproc)
quick=0
[ "${1:-}" = "--quick" ] && quick=1

"$root/scripts/setup-debian.sh"

step() { printf '\n=== %s ===\n' "$*"; }

# Line tables only (-g1) in every tree: sanitizer reports and backtraces keep file:line, and compiling takes
# about a third less time than with full debug information (measured on weft's sources: 10.3 s against 15.5 s
# of CPU for tools/weft/cmd_stream.cpp at -O2).
debug_flags=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_CXX_FLAGS_DEBUG="-g1")

configure_and_build() {  # DIR ARGS...
  local dir=$1
  shift
  cmake -S "$root" -B "$dir" -G Ninja -DWEFT_WARNINGS_AS_ERRORS=ON "${debug_flags[@]}" "$@" >/dev/null
  cmake --build "$dir" -j "$jobs"
}

run_tests() {  # DIR [CTEST ARGS...]
  local dir=$1
  shift
  ctest --test-dir "$dir" --output-on-failure -j "$jobs" --timeout 300 "$@"
}

step "build (RelWithDebInfo, -Werror)"
configure_and_build "$build_root/main" -DCMAKE_BUILD_TYPE=RelWithDebInfo
step "tests"
run_tests "$build_root/main"
[ $quick -eq 1 ] && exit 0

step "build with AddressSanitizer + UBSan"
configure_and_build "$build_root/asan" -DCMAKE_BUILD_TYPE=Debug -DWEFT_SANITIZE=address,undefined
step "tests under AddressSanitizer + UBSan"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_tests "$build_root/asan"

step "build the threaded core with ThreadSanitizer"
cmake -S "$root" -B "$build_root/tsan" -G Ninja -DWEFT_WARNINGS_AS_ERRORS=ON "${debug_flags[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DWEFT_SANITIZE=thread -DWEFT_BUILD_TOOLS=OFF -DWEFT_BUILD_EXAMPLES=OFF >/dev/null
cmake --build "$build_root/tsan" -j "$jobs" --target node_test queues_test
step "node and queue tests under ThreadSanitizer"
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$root/tests/tsan.supp" run_tests "$build_root/tsan" -R '^(Node|Transports|Malformed|FakeTransportNode|PublishQueue|SpscRing|OutboxRoom)'

step "install, then build an outside project against it"
"$root/tests/package/package_test.sh" "$build_root/main" "$build_root/package"

step "all tests passed"
