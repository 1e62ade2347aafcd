#!/usr/bin/env bash
# The live demo: installs what is missing, builds Weft, then on loopback runs a telemetry publisher for two
# hosts and two subscribers, one human-readable with a pattern, one as JSON, for about five seconds. Prints
# what each subscriber saw and the publishers' counters, and stops every process it started (by PID).
# Usage: scripts/demo.sh [ROUNDS]   (five rounds a second; default 25)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${WEFT_BUILD_ROOT:-$root/build}/main
rounds=${1:-25}

"$root/scripts/setup-debian.sh"
echo "building into $build ..."
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target weft_cli telemetry_publisher telemetry_subscriber >/dev/null

work=$(mktemp -d /tmp/weft-demo.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# wait_for_line FILE REGEX: the first matching line, waiting up to 10 s for it to appear.
wait_for_line() {
  local deadline=$((SECONDS + 10))
  until grep -m1 -E "$2" "$1" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      echo "demo: gave up waiting for '$2' in $1" >&2
      cat "$1" >&2
      exit 1
    fi
    sleep 0.05
  done
}

# Two publishers, each on a free port: the hosts "web1" and "db1".
endpoints=()
for host in web1 db1; do
  "$build/examples/telemetry_publisher" "tcp://127.0.0.1:*" "$host" "$rounds" >"$work/pub-$host.out" 2>&1 &
  pids+=($!)
  endpoints+=("$(wait_for_line "$work/pub-$host.out" 'publishing' | sed -E 's/.* on (tcp:[^ ]+).*/\1/')")
done
connects=()
for ep in "${endpoints[@]}"; do connects+=(--connect "$ep"); done

echo
echo "== weft sub 'telemetry.*.cpu' (every host's cpu, human-readable) =="
"$build/tools/weft" sub "${connects[@]}" --timeout 8 'telemetry.*.cpu' &
pids+=($!)
"$build/tools/weft" sub "${connects[@]}" --timeout 8 --json 'telemetry.>' >"$work/json.out" 2>/dev/null &
pids+=($!)

# The publishers run for ROUNDS/5 seconds; wait for them to finish.
for i in 0 1; do wait "${pids[$i]}" || true; done
sleep 0.5  # let the last messages print
echo
echo "== weft sub --json 'telemetry.>' saw $(wc -l <"$work/json.out") messages; the first two: =="
head -n 2 "$work/json.out"
echo
for host in web1 db1; do
  echo "== publisher $host: $(tail -n 1 "$work/pub-$host.out") =="
done
echo
# A demo that shows nothing must not look like a success.
if [ "$(wc -l <"$work/json.out")" -eq 0 ]; then
  echo "demo: the subscribers received nothing; something is wrong (see the lines above)" >&2
  exit 1
fi
echo "Next: 'weft --help', examples/, and docs/wire-protocol.md."
