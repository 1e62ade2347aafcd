#!/usr/bin/env bash
# A failed fsync stops acknowledgements: weftd runs under `strace -e inject=fdatasync:error=EIO`, restricted
# (-P) to one stream's segment file, from its second fdatasync on (the first is recovery's, at start). Appends
# to that stream are refused ("stream failed"), the failure is logged loudly, the fdatasync is never retried,
# the other stream goes on, and a restart recovers the stream.
#
#   weftd_fsync_eio_test.sh WEFT WEFTD
#
# Exits 77 (skipped) when strace is missing or ptrace is not allowed. Every wait is a deadline loop on a
# condition; only processes this script started are killed, by PID.
set -euo pipefail

WEFT=${1:?usage: weftd_fsync_eio_test.sh WEFT WEFTD}
WEFTD=${2:?usage: weftd_fsync_eio_test.sh WEFT WEFTD}
readonly WEFT WEFTD
readonly DEADLINE_S=15

if ! command -v strace >/dev/null 2>&1; then
  echo "SKIP: strace is not installed (Debian: apt-get install strace)" >&2
  exit 77
fi
if ! strace -f -qq -o /dev/null true 2>/dev/null; then
  echo "SKIP: ptrace is not allowed here" >&2
  exit 77
fi

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FAIL_FILES=("*.out" "*.err" "strace.log")
FAIL_BYTES=3000
make_work weftd-eio-test
readonly WORK
readonly DATA="$WORK/data"
readonly EP="ipc://$WORK/weftd.sock"
export WEFT_SIDECAR="$EP"
answers() { "$WEFT" stream ls --timeout 1 >/dev/null 2>&1; }

# stop PID: SIGTERM and wait for the exit.
stop() {
  kill -TERM "$1"
  wait_until is_gone "$1" || fail "process $1 did not exit within ${DEADLINE_S} s of SIGTERM"
  wait "$1" 2>/dev/null || true  # weftd under strace is strace's child, not ours
  untrack "$1"
}

cat >"$WORK/weftd.conf" <<EOF
[stream.good]
subjects = good.>
fsync = always

[stream.bad]
subjects = bad.>
fsync = always
EOF
WEFTD_ARGS=(--data-dir "$DATA" --endpoint "$EP" --config "$WORK/weftd.conf")

# 1. One message in each stream, with no fault: the segment files exist and hold data.
"$WEFTD" "${WEFTD_ARGS[@]}" 2>"$WORK/weftd1.err" &
pid=$!
PIDS+=("$pid")
wait_until answers || fail "weftd does not answer"
run pub1 "$WEFT" stream pub good.x 'before'
[[ $STATUS -eq 0 ]] || fail "a first append to good failed"
run pub2 "$WEFT" stream pub bad.x 'before'
[[ $STATUS -eq 0 ]] || fail "a first append to bad failed"
stop "$pid"
segment=$(find "$DATA/streams/bad" -name '*.log' | sort | tail -n 1)
[[ -f $segment ]] || fail "no segment file in $DATA/streams/bad"

# 2. weftd again, under strace: every fdatasync of bad's segment fails with EIO.
strace -f -qq -o "$WORK/strace.log" -P "$segment" -e trace=fdatasync -e inject=fdatasync:error=EIO:when=2+ \
  "$WEFTD" "${WEFTD_ARGS[@]}" 2>"$WORK/weftd.err" &
tracer=$!
PIDS+=("$tracer")
wait_until answers || fail "weftd under strace does not answer"
weftd_pid=$("$WEFT" stream status | sed -n 's/^weftd .*, pid \([0-9]*\),.*/\1/p')
[[ -n $weftd_pid ]] || fail "weft stream status does not give weftd's pid"
PIDS+=("$weftd_pid")

run good "$WEFT" stream pub good.x 'fine'
[[ $STATUS -eq 0 ]] || fail "an append to the healthy stream failed"
run doomed "$WEFT" stream pub bad.x 'doomed'
[[ $STATUS -ne 0 ]] || fail "an append whose fdatasync failed was acknowledged"
grep -qi 'stream failed\|fdatasync\|input/output' "$WORK/doomed.err" || fail "the refusal does not say why"
run again "$WEFT" stream pub bad.x 'again'
[[ $STATUS -ne 0 ]] || fail "the failed stream acknowledged a later append"
grep -qi 'stream failed' "$WORK/again.err" || fail "a later append is not refused as 'stream failed'"
injected=$(grep -c 'INJECTED' "$WORK/strace.log" || true)
[[ $injected -eq 1 ]] || fail "fdatasync failed $injected times: it must be tried once and never retried"
grep -q 'FAILED' "$WORK/weftd.err" || fail "weftd did not report the failure loudly"
run info "$WEFT" stream info bad
grep -q '^health: *ok' "$WORK/info.out" && fail "stream info says the failed stream is healthy"
run good2 "$WEFT" stream pub good.x 'still fine'
[[ $STATUS -eq 0 ]] || fail "the healthy stream stopped acknowledging too"
stop "$weftd_pid"
wait_until is_gone "$tracer" || fail "strace did not exit after weftd"
wait "$tracer" || true
untrack "$tracer"

# 3. A restart without the fault recovers the stream: what was acknowledged is there, and it takes appends.
"$WEFTD" "${WEFTD_ARGS[@]}" 2>"$WORK/weftd3.err" &
pid=$!
PIDS+=("$pid")
wait_until answers || fail "weftd does not answer after the restart"
run info3 "$WEFT" stream info bad
grep -q '^health: *ok' "$WORK/info3.out" || fail "the stream did not recover on restart"
run first "$WEFT" sub --stream bad --from first --count 1 --raw --timeout "$DEADLINE_S"
[[ $(cat "$WORK/first.out") == before ]] || fail "the acknowledged message was lost"
run pub3 "$WEFT" stream pub bad.x 'after'
[[ $STATUS -eq 0 ]] || fail "the recovered stream refuses appends"
run goodn "$WEFT" stream info good
grep -q '^messages: *3$' "$WORK/goodn.out" || fail "the healthy stream does not hold its 3 messages"
stop "$pid"
echo "ok: fdatasync EIO injected once; acknowledgements stopped for that stream only; recovered on restart"
