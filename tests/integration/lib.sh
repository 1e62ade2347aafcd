# shellcheck shell=bash
# The helpers the integration scripts share (tests/integration/*_test.sh, tests/netns/*_test.sh). Sourced, never
# run: each script keeps its own `set` options, usage line, DEADLINE_S and the helpers only it needs.
#
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"   # from tests/netns/: .../../integration/lib.sh
#   make_work weft-cli-test                           # WORK, PIDS=(), the EXIT/TERM/INT traps
#
# Globals it reads (set by the script):
#   WEFT        the weft binary (start)
#   DEADLINE_S  seconds any one wait may take (wait_until, finish, endpoint_of)
#   POLL_S      seconds between two looks at a condition; 0.05 unless the script sets it
#   FAIL_FILES  globs under WORK that fail prints, in order; (*.out *.err) unless the script sets it
#   FAIL_BYTES  how much of each (2000), FAIL_FROM = head or tail (tail): which end of it
#   ALL_CASES   the cases run_cases runs when given none; PASS_LABEL the word before a passed case (PASS)
# Globals it sets:
#   WORK        a fresh temporary directory, removed on exit (make_work)
#   PIDS        every background process started through spawn/start/track, killed on exit
#   PID         the last process spawn/start started
#   STATUS      an exit status: finish and run set it, expect_status checks it
#   ENDPOINT    what endpoint_of read
#   DUPLICATES  what check_delivery counted
#
# Helpers:
#   make_work PREFIX          WORK=$(mktemp -d .../PREFIX.XXXXXX), PIDS=(); traps: EXIT runs cleanup, TERM exits
#                             143 and INT 130 through it, so that a SIGTERM (timeout(1), a CI runner, CTest >= 3.27
#                             with TIMEOUT_SIGNAL_NAME) or Ctrl-C leaves nothing behind. (CTest's own default on a
#                             timeout is SIGKILL for the whole process tree, which no trap sees.)
#   cleanup                   SIGKILLs and reaps every PID in PIDS, runs the script's on_cleanup if it defines
#                             one (namespaces, nested runs), removes WORK; the EXIT trap
#   skip MESSAGE...           prints "SKIP: MESSAGE" and exits 77, which CTest counts as skipped
#   fail MESSAGE...           prints "FAIL: MESSAGE" and the end of each FAIL_FILES file on stderr, exits 1
#   wait_until CMD...         runs CMD until it succeeds (0) or DEADLINE_S passes (1)
#   track PID, untrack PID    adds PID to PIDS, so that cleanup kills it; takes a reaped one out again (its
#                             number may be reused)
#   spawn NAME CMD...         CMD in the background, stdin from WORK/NAME.in if there is one, stdout to NAME.out,
#                             stderr to NAME.err; sets PID, tracked
#   start NAME ARGS...        spawn NAME "$WEFT" ARGS...
#   run NAME CMD...           CMD in the foreground, out/err to NAME.out/NAME.err; sets STATUS, never fails
#   pause SECONDS             sleeps in the background and waits for it, so that TERM or INT ends it at once; for
#                             the length of a fault, never to synchronise
#   is_gone PID               true once the process has exited
#   finish PID NAME [SECONDS] waits up to SECONDS (DEADLINE_S) for PID to exit (fails naming NAME if it does
#                             not), reaps it quietly and untracks it; sets STATUS
#   kill_now PID              SIGKILLs PID, reaps it quietly (bash would announce the kill) and untracks it
#   expect_status WANT NAME   fails unless STATUS is WANT
#   has_line FILE PATTERN     grep -q PATTERN in WORK/FILE (false while it does not exist)
#   has_listening_line NAME   NAME.err has a "listening on" line
#   endpoint_of NAME          waits for NAME's first "listening on ENDPOINT" line; sets ENDPOINT
#   lines_in FILE...          how many lines the files hold together (0 for missing ones)
#   has_lines N FILE...       they hold at least N lines
#   check_delivery NAME SENT FILE...  prints "NAME: sent= received= unique= duplicates= lost=" for the lines
#                             1..SENT and fails unless every one arrived and nothing else; sets DUPLICATES
#   json_field FILE KEY       KEY of the JSON object on FILE's last line (pub --json's result)
#   now_ms                    the wall clock in milliseconds
#   run_cases [CASE...]       for each CASE (ALL_CASES without any): case_setup, test_CASE, "PASS: CASE"; an
#                             unknown CASE exits 1. case_setup removes *.out and *.err; case_teardown does
#                             nothing; a script redefines either after sourcing this file.
#
# Every helper works under `set -e` as well as without it.

make_work() {
  WORK=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  PIDS=()
  trap cleanup EXIT
  trap 'exit 143' TERM
  trap 'exit 130' INT
}

cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    { kill -9 "$pid" && wait "$pid"; } 2>/dev/null || true
  done
  if declare -F on_cleanup >/dev/null; then on_cleanup || true; fi
  rm -rf "$WORK"
}

skip() {
  echo "SKIP: $*"
  exit 77
}

fail() {
  echo "FAIL: $*" >&2
  local globs=("*.out" "*.err") glob f
  [[ -n ${FAIL_FILES+set} ]] && globs=("${FAIL_FILES[@]}")
  for glob in "${globs[@]}"; do
    for f in "$WORK"/$glob; do
      [[ -s $f ]] && { echo "--- ${f##*/}" >&2; "${FAIL_FROM:-tail}" -c "${FAIL_BYTES:-2000}" "$f" >&2; echo >&2; }
    done
  done
  exit 1
}

wait_until() {
  local deadline=$((SECONDS + DEADLINE_S))
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep "${POLL_S:-0.05}"
  done
}

track() { PIDS+=("$1"); }
untrack() {
  local pid kept=()
  for pid in "${PIDS[@]}"; do [[ $pid == "$1" ]] || kept+=("$pid"); done
  PIDS=("${kept[@]}")
}

spawn() {
  local name=$1 input=/dev/null
  shift
  [[ -f $WORK/$name.in ]] && input=$WORK/$name.in
  "$@" <"$input" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PID=$!
  PIDS+=("$PID")
}

start() {
  local name=$1
  shift
  spawn "$name" "$WEFT" "$@"
}

run() {
  local name=$1
  shift
  STATUS=0
  "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || STATUS=$?
}

pause() {
  sleep "$1" &
  local pid=$!
  track "$pid"
  wait "$pid"
  untrack "$pid"
}

is_gone() { ! kill -0 "$1" 2>/dev/null; }

# remove_orphan_namespaces TAG_PREFIX: deletes the namespaces named TAG_PREFIX<pid>... left by an earlier run
# of a test whose process <pid> is gone (CTest SIGKILLs a test that overruns its timeout, and no trap runs
# then). A namespace whose creator still runs is another run's, and is left alone.
remove_orphan_namespaces() {
  local prefix=$1 ns pid
  while read -r ns _; do
    [[ $ns =~ ^${prefix}([0-9]+)[a-z]+$ ]] || continue
    pid=${BASH_REMATCH[1]}
    kill -0 "$pid" 2>/dev/null && continue
    ip netns del "$ns" 2>/dev/null && echo "removed namespace $ns, left by an earlier run (PID $pid is gone)" >&2
  done < <(ip netns list 2>/dev/null)
}

finish() {
  local limit=${3:-$DEADLINE_S}
  local deadline=$((SECONDS + limit))
  until is_gone "$1"; do
    ((SECONDS < deadline)) || fail "$2 did not exit within $limit s"
    sleep "${POLL_S:-0.05}"
  done
  STATUS=0
  wait "$1" 2>/dev/null || STATUS=$?  # quiet: bash would announce a process killed with a signal
  untrack "$1"
}

kill_now() {
  { kill -9 "$1" && wait "$1"; } 2>/dev/null || true
  untrack "$1"
}

expect_status() { [[ $STATUS -eq $1 ]] || fail "$2 exited $STATUS, expected $1"; }

has_line() { grep -qs -- "$2" "$WORK/$1"; }

has_listening_line() { grep -qs '^listening on ' "$WORK/$1.err"; }
endpoint_of() {
  wait_until has_listening_line "$1" || fail "$1 printed no 'listening on' line"
  # shellcheck disable=SC2034  # for the caller
  ENDPOINT=$(sed -n 's/^listening on //p' "$WORK/$1.err" | head -n 1)
}

lines_in() { cat "$@" 2>/dev/null | wc -l; }
has_lines() {
  local want=$1
  shift
  (($(lines_in "$@") >= want))
}

check_delivery() {
  local name=$1 sent=$2
  shift 2
  local received unique duplicates lost
  received=$(cat "$@" | wc -l)
  unique=$(cat "$@" | sort -u | wc -l)
  duplicates=$((received - unique))
  lost=$(comm -23 <(seq 1 "$sent" | sort) <(cat "$@" | sort -u) | wc -l)
  echo "$name: sent=$sent received=$received unique=$unique duplicates=$duplicates lost=$lost"
  ((lost == 0)) || fail "$name lost $lost message(s)"
  ((unique == sent)) || fail "$name: $unique unique, expected $sent (something unexpected arrived)"
  # shellcheck disable=SC2034  # for the caller
  DUPLICATES=$duplicates
}

json_field() {
  python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])[sys.argv[2]])' "$1" "$2"
}

now_ms() { date +%s%3N; }

case_setup() { rm -f "$WORK"/*.out "$WORK"/*.err; }
case_teardown() { :; }

run_cases() {
  (($# > 0)) || set -- "${ALL_CASES[@]}"
  local name
  for name in "$@"; do
    declare -F "test_$name" >/dev/null || { echo "no such case: $name" >&2; exit 1; }
    case_setup
    "test_$name"
    case_teardown
    echo "${PASS_LABEL:-PASS}: $name"
  done
}
