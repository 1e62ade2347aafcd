#!/usr/bin/env bash
# At-least-once pub/sub throughput through the CLI (`weft bench --patterns reliable` measures the library itself,
# beside raw libzmq; this script measures the verbs): `weft pub --reliable` to one
# `weft sub --durable` (stdout to /dev/null) over loopback tcp, at 128 B and 1 KiB; the time is from the first
# publish to the last acknowledgement (pub's --json "seconds"). docs/performance.md has the figures.
#
#   bench/reliable_cli.sh WEFT_BINARY [COUNT]
set -eu -o pipefail
WEFT=${1:?usage: reliable_cli.sh WEFT_BINARY [COUNT]}
COUNT=${2:-50000}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/weft-reliable-bench.XXXXXX")
SUB=
cleanup() {
  [[ -n $SUB ]] && kill "$SUB" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
for size in 128 1024; do
  "$WEFT" pub --bind 'tcp://127.0.0.1:*' --reliable --json --wait 10 --timeout 60 --size "$size" --count "$COUNT" \
    bench.x >"$WORK/pub.json" 2>"$WORK/pub.err" &
  pub=$!
  deadline=$((SECONDS + 10))
  until grep -qs '^listening on ' "$WORK/pub.err"; do
    ((SECONDS < deadline)) || { echo "pub did not start" >&2; exit 1; }
    sleep 0.05
  done
  endpoint=$(sed -n 's/^listening on //p' "$WORK/pub.err" | head -n 1)
  "$WEFT" sub --connect "$endpoint" --durable bench --raw --quiet 'bench.>' >/dev/null &
  SUB=$!
  wait "$pub"
  kill "$SUB"
  wait "$SUB" || true
  SUB=
  python3 - "$WORK/pub.json" "$size" <<'PY'
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
print(f"{sys.argv[2]:>5} B: {r['acknowledged']} of {r['sent']} acknowledged in {r['seconds']:.2f} s, "
      f"{r['acknowledged'] / r['seconds']:,.0f} msg/s")
PY
done
