#!/usr/bin/env bash
# Crash consistency: weftd is killed with SIGKILL at random points of a write storm, again and again. After each
# restart, every message weftd acknowledged is in the stream exactly once, at the offset its acknowledgement
# named, and `weft log verify` passes.
#
#   weftd_crash_test.sh WEFT WEFTD WEFTD_STORM [KILLS]
#
# KILLS defaults to 20 ($WEFTD_CRASH_KILLS overrides it). weftd_storm produce appends as fast as weftd
# acknowledges and records each acknowledged id at once; each round kills weftd once the round has seen a
# random number (0 to 1499) of new acknowledgements, so the kill lands anywhere: during recovery's aftermath,
# mid-batch, mid-group-commit, mid-roll (segments are small). weftd_storm check then reads the whole stream.
# Every wait is a deadline loop on a condition; only processes this script started are killed, by PID.
set -euo pipefail

WEFT=${1:?usage: weftd_crash_test.sh WEFT WEFTD WEFTD_STORM [KILLS]}
WEFTD=${2:?usage: weftd_crash_test.sh WEFT WEFTD WEFTD_STORM [KILLS]}
STORM=${3:?usage: weftd_crash_test.sh WEFT WEFTD WEFTD_STORM [KILLS]}
KILLS=${4:-${WEFTD_CRASH_KILLS:-20}}
readonly WEFT WEFTD STORM KILLS
readonly DEADLINE_S=20

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FAIL_FILES=("*.err" "*.out")
FAIL_BYTES=3000
POLL_S=0.02
make_work weftd-crash-test
readonly WORK
readonly DATA="$WORK/data"
readonly EP="ipc://$WORK/weftd.sock"
readonly ACKED="$WORK/acked.txt"
WEFTD_PID=

answers() { "$WEFT" stream ls --sidecar "$EP" --timeout 1 >/dev/null 2>&1; }
acked_count() { if [[ -f $ACKED ]]; then wc -l <"$ACKED" | tr -d ' '; else echo 0; fi; }
acked_at_least() { (($(acked_count) >= $1)) || is_gone "$2"; }

cat >"$WORK/weftd.conf" <<EOF
[stream.storm]
subjects = storm.>
fsync = always
segment-bytes = 256K
EOF

start_weftd() {
  "$WEFTD" --data-dir "$DATA" --endpoint "$EP" --config "$WORK/weftd.conf" --log-level warning \
    >>"$WORK/weftd.out" 2>>"$WORK/weftd.err" &
  WEFTD_PID=$!
  PIDS+=("$WEFTD_PID")
  wait_until answers || fail "weftd (round $round) does not answer within ${DEADLINE_S} s"
}

# check: every acknowledged message present exactly once; the log verifies. Accumulates the figures.
check() {
  "$STORM" check "$EP" storm "$ACKED" >"$WORK/check.out" 2>"$WORK/check.err" ||
    fail "round $round: $(cat "$WORK/check.out")"
  "$WEFT" log verify "$DATA/streams/storm" >"$WORK/verify.out" 2>&1 ||
    fail "round $round: weft log verify failed: $(cat "$WORK/verify.out")"
}

round=0
start_weftd
for ((round = 1; round <= KILLS; round++)); do
  before=$(acked_count)
  "$STORM" produce "$EP" storm.x "$ACKED" "r$round" 30 >/dev/null 2>>"$WORK/storm.err" &
  producer=$!
  PIDS+=("$producer")
  target=$((before + RANDOM % 1500))
  wait_until acked_at_least "$target" "$producer" || fail "round $round: no progress to $target acknowledgements"
  kill -KILL "$WEFTD_PID"
  wait "$WEFTD_PID" 2>/dev/null || true
  untrack "$WEFTD_PID"
  # The producer sees its requests time out and stops; it never retries, so nothing is appended twice.
  wait_until is_gone "$producer" || fail "round $round: the producer did not stop after weftd died"
  wait "$producer" || fail "round $round: the producer failed"
  untrack "$producer"
  start_weftd
  check
done

read -r stored acked lost duplicated < <(sed -n \
  's/^stored \([0-9]*\) .*acknowledged \([0-9]*\), lost \([0-9]*\), misplaced [0-9]*, duplicated \([0-9]*\).*/\1 \2 \3 \4/p' \
  "$WORK/check.out")
kill -TERM "$WEFTD_PID"
wait_until is_gone "$WEFTD_PID" || fail "weftd did not stop on SIGTERM"
status=0
wait "$WEFTD_PID" || status=$?
[[ $status -eq 0 ]] || fail "weftd exited $status on SIGTERM"
echo "weftd crash test: kills $KILLS, acknowledged $acked, present $stored, duplicates $duplicated, lost $lost" \
  "(present counts appends whose acknowledgement the kill cut off too)"
[[ $lost -eq 0 && $duplicated -eq 0 ]] || fail "lost $lost, duplicated $duplicated"
