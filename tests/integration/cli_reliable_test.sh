#!/usr/bin/env bash
# At-least-once delivery through the CLI, as real processes over loopback tcp: `weft pub --reliable`,
# `weft sub --durable/--queue`, `weft req`/`weft reply`, `weft dlq --data-dir`, and faults (SIGKILL of a queue
# member and of a durable subscriber mid-stream, SIGSTOP of a queue member past its ack wait; as root, a 2 s
# nftables cut inside a network namespace). Faults between two network namespaces: tests/netns/.
#
#   cli_reliable_test.sh WEFT_BINARY [CASE...]
#
# Runs the named cases (all of them without names); CTest registers each case as its own test. Every wait is
# a deadline loop on a condition (a "listening on" line, output, a process exit); no fixed ports; cleanup
# kills only the processes this script started. Fault cases print sent/received/unique/duplicates/lost.
set -u -o pipefail

WEFT=${1:?usage: cli_reliable_test.sh WEFT_BINARY [CASE...]}
shift
readonly WEFT
readonly DEADLINE_S=15

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FAIL_FILES=("*.err" "*.json")
make_work weft-reliable-test
NESTED=  # the netfault case's run of this script in a namespace of its own

# A timeout ends that run through its own TERM trap, so its processes go too.
on_cleanup() { [[ -z $NESTED ]] || { kill -TERM "$NESTED" && wait "$NESTED"; } 2>/dev/null; }

case_setup() { rm -rf "$WORK"/*.out "$WORK"/*.err "$WORK"/*.json "$WORK/data"; }

# start_pub NAME INPUT ARGS...: `weft pub ARGS` reading INPUT (one message per line), result JSON in NAME.json.
start_pub() {
  local name=$1 input=$2
  shift 2
  "$WEFT" pub "$@" <"$input" >"$WORK/$name.json" 2>"$WORK/$name.err" &
  PID=$!
  track "$PID"
}

test_help() {
  local verb
  for verb in req reply; do
    "$WEFT" "$verb" --help >"$WORK/help.out" 2>&1 || fail "weft $verb --help exited $?"
    grep -q "^usage: weft $verb" "$WORK/help.out" || fail "no usage line in weft $verb --help"
    grep -q 'Examples:' "$WORK/help.out" || fail "no examples in weft $verb --help"
  done
  "$WEFT" pub --help >"$WORK/pub.help" || fail "pub --help exited $?"
  "$WEFT" sub --help >"$WORK/sub.help" || fail "sub --help exited $?"
  "$WEFT" --help >"$WORK/weft.help" || fail "weft --help exited $?"
  grep -q -- '--reliable' "$WORK/pub.help" || fail "pub --help does not explain --reliable"
  grep -q -- '--control-bind' "$WORK/pub.help" || fail "pub --help does not explain --control-bind"
  grep -q -- '--durable' "$WORK/sub.help" || fail "sub --help does not explain --durable"
  grep -q -- '--queue' "$WORK/sub.help" || fail "sub --help does not explain --queue"
  grep -q '^  req ' "$WORK/weft.help" || fail "weft --help does not list req"
  grep -q '^  reply ' "$WORK/weft.help" || fail "weft --help does not list reply"
}

expect_usage_error() {  # expect_usage_error MESSAGE ARGS...
  local message=$1
  shift
  "$WEFT" "$@" >/dev/null 2>"$WORK/usage.err"
  local status=$?
  ((status == 2)) || fail "weft $* exited $status, expected 2"
  grep -qF -- "$message" "$WORK/usage.err" || fail "weft $*: expected '$message', got: $(cat "$WORK/usage.err")"
}

test_usage_errors() {
  local any='tcp://127.0.0.1:*'
  expect_usage_error "--persist needs --data-dir" pub --bind "$any" --reliable --persist a.b hi
  expect_usage_error "--persist and --data-dir need --reliable" pub --bind "$any" --persist a.b hi
  expect_usage_error "--outbox-policy must be block, reject or drop-oldest" pub --bind "$any" --reliable \
    --outbox-policy sometimes a.b hi
  expect_usage_error "--timeout must be more than 0" pub --bind "$any" --reliable --timeout 0 a.b hi
  expect_usage_error "give --durable or --queue, not both" sub --bind "$any" --durable d --queue q a.b
  expect_usage_error "--max-deliver must be at least 1" sub --bind "$any" --queue q --max-deliver 0 a.b
  expect_usage_error "give the DATA of the request" req --connect "$any" a.b
  expect_usage_error "give the SUBJECT" req --connect "$any"
  expect_usage_error "subject 'a.*'" req --connect "$any" 'a.*' hi
  expect_usage_error "--timeout must be more than 0" req --connect "$any" --timeout 0 a.b hi
  expect_usage_error "give the DATA to answer with, or --exec CMD" reply --bind "$any" a.b
  expect_usage_error "give DATA or --exec CMD, not both" reply --bind "$any" --exec cat a.b hi
  expect_usage_error "give the PATTERN" reply --bind "$any"
}

# Every message of a reliable pub reaches a durable subscriber and is acknowledged; pub says so in JSON.
test_durable() {
  seq 1 500 >"$WORK/input"
  start_pub pub "$WORK/input" --bind 'tcp://127.0.0.1:*' --reliable --json --wait "$DEADLINE_S" --timeout 10 \
    orders.new
  local pub=$PID
  endpoint_of pub
  start sub sub --connect "$ENDPOINT" --durable audit --raw 'orders.>'
  local sub=$PID
  finish "$pub" pub
  expect_status 0 pub
  [[ $(json_field "$WORK/pub.json" acknowledged) -eq 500 ]] || fail "pub: not 500 acknowledged"
  [[ $(json_field "$WORK/pub.json" unacknowledged) -eq 0 ]] || fail "pub: some unacknowledged"
  grep -q '^acknowledged 500 of 500 messages' "$WORK/pub.err" || fail "no reliable summary from pub"
  kill "$sub"
  finish "$sub" sub
  check_delivery durable 500 "$WORK/sub.out"
  ((DUPLICATES == 0)) || fail "a durable subscriber printed $DUPLICATES duplicate(s) without any fault"
  grep -q '^acknowledged 500, ' "$WORK/sub.err" || fail "no reliable summary from sub"
}

# Without a consumer to acknowledge in time, pub --reliable fails and says how many were not acknowledged.
test_unacknowledged() {
  seq 1 5 >"$WORK/input"
  # A durable subscriber whose stdout is full cannot print, so it never acknowledges (it naks and stops).
  start_pub pub "$WORK/input" --bind 'tcp://127.0.0.1:*' --reliable --json --wait "$DEADLINE_S" --timeout 1 t.x
  local pub=$PID
  endpoint_of pub
  "$WEFT" sub --connect "$ENDPOINT" --durable stuck --raw t.x >/dev/full 2>"$WORK/sub.err" &
  PIDS+=("$!")
  finish "$pub" pub
  expect_status 1 pub
  grep -q 'message(s) were not acknowledged' "$WORK/pub.err" || fail "pub did not say what was not acknowledged"
  [[ $(json_field "$WORK/pub.json" acknowledged) -eq 0 ]] || fail "pub: something was acknowledged"
}

# A queue group of three: each message is printed by exactly one member, and every member takes a share.
test_queue() {
  seq 1 3000 >"$WORK/input"
  start_pub pub "$WORK/input" --bind 'tcp://127.0.0.1:*' --reliable --json --consumers 3 --wait "$DEADLINE_S" \
    --timeout 10 jobs.resize
  local pub=$PID
  endpoint_of pub
  local w workers=()
  for w in 1 2 3; do
    start "w$w" sub --connect "$ENDPOINT" --queue resize --max-in-flight 32 --raw 'jobs.>'
    workers+=("$PID")
  done
  finish "$pub" pub
  expect_status 0 pub
  for w in "${workers[@]}"; do kill "$w"; done
  for w in "${workers[@]}"; do finish "$w" worker; done
  check_delivery queue 3000 "$WORK"/w?.out
  ((DUPLICATES == 0)) || fail "a queue group handled $DUPLICATES message(s) twice without any fault"
  for w in 1 2 3; do
    echo "queue: member $w handled $(lines_in "$WORK/w$w.out")"
    (($(lines_in "$WORK/w$w.out") > 0)) || fail "member $w took no share"
  done
}

# One of three queue members is killed with SIGKILL mid-stream: what it held goes to the others, nothing lost.
test_queue_kill() {
  seq 1 3000 >"$WORK/input"
  start_pub pub "$WORK/input" --bind 'tcp://127.0.0.1:*' --reliable --json --consumers 3 --wait "$DEADLINE_S" \
    --timeout 12 --rate 600 jobs.thumb
  local pub=$PID
  endpoint_of pub
  local w workers=()
  for w in 1 2 3; do
    start "w$w" sub --connect "$ENDPOINT" --queue thumbs --ack-wait 1 --max-in-flight 32 --raw 'jobs.>'
    workers+=("$PID")
  done
  wait_until has_lines 200 "$WORK/w1.out" || fail "member 1 handled fewer than 200"
  kill_now "${workers[0]}"
  finish "$pub" pub
  expect_status 0 pub
  for w in "${workers[@]:1}"; do kill "$w"; done
  for w in "${workers[@]:1}"; do finish "$w" worker; done
  echo "queue_kill: killed member handled $(lines_in "$WORK/w1.out") before SIGKILL;" \
    "pub redelivered $(json_field "$WORK/pub.json" redelivered)"
  check_delivery queue_kill 3000 "$WORK"/w?.out
}

# One of two queue members is stopped (SIGSTOP) past its 1 s ack wait, for 2 s (under the 3 s after which the
# publisher counts a silent member gone), then resumed (SIGCONT). What it held was redelivered to the other
# meanwhile; once resumed it prints what it held and acknowledges late: the publisher refuses those
# acknowledgements as stale, and the member says so in its summary. Nothing lost.
test_queue_stop() {
  seq 1 3000 >"$WORK/input"
  start_pub pub "$WORK/input" --bind 'tcp://127.0.0.1:*' --reliable --json --consumers 2 --wait "$DEADLINE_S" \
    --timeout 20 --rate 500 jobs.render
  local pub=$PID
  endpoint_of pub
  local w workers=()
  for w in 1 2; do
    start "w$w" sub --connect "$ENDPOINT" --queue render --ack-wait 1 --max-in-flight 32 --raw 'jobs.>'
    workers+=("$PID")
  done
  wait_until has_lines 200 "$WORK/w1.out" || fail "member 1 handled fewer than 200"
  kill -STOP "${workers[0]}"
  local at_stop
  at_stop=$(lines_in "$WORK/w1.out")
  pause 2  # the length of the stop, past the ack wait: not a synchronisation
  kill -CONT "${workers[0]}"
  finish "$pub" pub
  expect_status 0 pub
  for w in "${workers[@]}"; do kill "$w"; done
  for w in "${workers[@]}"; do finish "$w" worker; done
  local refused both
  refused=$(sed -n 's/.*, \([0-9,]*\) acknowledgement(s) refused as late$/\1/p' "$WORK/w1.err" | tr -d ,)
  both=$(comm -12 <(sort -u "$WORK/w1.out") <(sort -u "$WORK/w2.out") | wc -l)
  echo "queue_stop: member 1 printed $at_stop before SIGSTOP and $(($(lines_in "$WORK/w1.out") - at_stop)) after" \
    "SIGCONT, member 2 $(lines_in "$WORK/w2.out"); ${refused:-?} late acknowledgement(s) refused;" \
    "$both message(s) printed by both; pub redelivered $(json_field "$WORK/pub.json" redelivered)"
  [[ -n $refused ]] || fail "member 1 printed no summary of refused acknowledgements"
  ((refused >= 1)) || fail "no late acknowledgement of the stopped member was refused"
  local stale
  stale=$(json_field "$WORK/pub.json" stale_acks)
  [[ $stale =~ ^[0-9]+$ ]] && ((stale >= refused)) ||
    fail "pub --json says stale_acks=${stale:-none}, the member had $refused refused"
  ((both >= 1)) || fail "nothing the stopped member held was handled by the other member"
  check_delivery queue_stop 3000 "$WORK"/w?.out
}

# A durable subscriber killed with SIGKILL mid-stream and started again under the same name gets what it
# missed: the publisher's outbox kept it.
test_durable_restart() {
  seq 1 2000 >"$WORK/input"
  start_pub pub "$WORK/input" --bind 'tcp://127.0.0.1:*' --reliable --json --wait "$DEADLINE_S" --timeout 14 \
    --rate 500 ledger.x
  local pub=$PID
  endpoint_of pub
  start s1 sub --connect "$ENDPOINT" --durable ledger --ack-wait 1 --raw 'ledger.>'
  wait_until has_lines 300 "$WORK/s1.out" || fail "the first subscriber printed fewer than 300"
  kill_now "$PID"
  local at_kill
  at_kill=$(lines_in "$WORK/s1.out")
  # The subscriber stays down while the publisher goes on (an outage of about 1 s, not a synchronisation).
  pause 1
  start s2 sub --connect "$ENDPOINT" --durable ledger --ack-wait 1 --raw 'ledger.>'
  local s2=$PID
  finish "$pub" pub
  expect_status 0 pub
  kill "$s2"
  finish "$s2" s2
  echo "durable_restart: first run printed $at_kill, the second $(lines_in "$WORK/s2.out")"
  (($(lines_in "$WORK/s2.out") > 0)) || fail "the restarted subscriber got nothing"
  check_delivery durable_restart 2000 "$WORK/s1.out" "$WORK/s2.out"
}

# A durable subscriber killed with SIGKILL a third of the way into an unthrottled stream of 100,000 messages
# (WEFT_FAULT_COUNT to change it; about 5 s in a RelWithDebInfo build) and started again at once under the same
# name: nothing lost; what it printed but had not acknowledged comes again (duplicates, up to its credit).
test_stream_kill() {
  local count=${WEFT_FAULT_COUNT:-100000}
  seq 1 "$count" >"$WORK/input"
  local started=$SECONDS
  start_pub pub "$WORK/input" --bind 'tcp://127.0.0.1:*' --reliable --json --wait "$DEADLINE_S" --timeout 60 \
    stream.x
  local pub=$PID
  endpoint_of pub
  start s1 sub --connect "$ENDPOINT" --durable stream --ack-wait 1 --raw 'stream.>'
  wait_until has_lines $((count / 3)) "$WORK/s1.out" || fail "the first subscriber printed fewer than $((count / 3))"
  kill_now "$PID"
  local at_kill
  at_kill=$(lines_in "$WORK/s1.out")
  ((at_kill < count)) || fail "the stream was over before the kill"
  start s2 sub --connect "$ENDPOINT" --durable stream --ack-wait 1 --raw 'stream.>'
  local s2=$PID
  finish "$pub" pub 90
  expect_status 0 pub
  kill "$s2"
  finish "$s2" s2
  echo "stream_kill: the first run printed $at_kill of $count before SIGKILL, the second $(lines_in "$WORK/s2.out");" \
    "pub redelivered $(json_field "$WORK/pub.json" redelivered), took $(json_field "$WORK/pub.json" seconds) s;" \
    "$((SECONDS - started)) s in all"
  check_delivery stream_kill "$count" "$WORK/s1.out" "$WORK/s2.out"
}

# A publisher with a disk outbox killed with SIGKILL mid-stream while its durable subscriber is down too:
# started again with the same --data-dir (and no new input), it sends every unacknowledged message again.
test_persist_restart() {
  seq 1 3000 >"$WORK/input"
  start s1 sub --bind 'tcp://127.0.0.1:*' --durable keep --raw 'keep.>'
  local s1=$PID
  endpoint_of s1
  start_pub p1 "$WORK/input" --connect "$ENDPOINT" --reliable --persist --data-dir "$WORK/data" --rate 500 \
    --wait "$DEADLINE_S" --timeout 30 keep.x
  local p1=$PID
  wait_until has_lines 200 "$WORK/s1.out" || fail "the first subscriber printed fewer than 200"
  kill_now "$s1"
  pause 1  # the publisher goes on alone for a while, its outbox growing (not a synchronisation)
  kill_now "$p1"
  start s2 sub --bind 'tcp://127.0.0.1:*' --durable keep --raw 'keep.>'
  local s2=$PID
  endpoint_of s2
  start_pub p2 /dev/null --connect "$ENDPOINT" --reliable --persist --data-dir "$WORK/data" --json \
    --wait "$DEADLINE_S" --timeout 10 keep.x
  finish "$PID" p2
  expect_status 0 p2
  kill "$s2"
  finish "$s2" s2
  local restored highest
  restored=$(json_field "$WORK/p2.json" restored)
  highest=$(cat "$WORK/s1.out" "$WORK/s2.out" | sort -n | tail -n 1)
  echo "persist_restart: the first publisher got $highest out before SIGKILL; the second restored $restored" \
    "from disk; the second subscriber printed $(lines_in "$WORK/s2.out")"
  ((restored > 0)) || fail "nothing was restored from the disk outbox"
  # Every message up to the last one delivered arrived: the restored ones filled what the first run left.
  check_delivery persist_restart "$highest" "$WORK/s1.out" "$WORK/s2.out"
}

# Request/reply: fixed data, a command's output, and no responders said at once.
test_reqreply() {
  start fixed reply --bind 'tcp://127.0.0.1:*' svc.time 'it is noon'
  endpoint_of fixed
  local fixed_ep=$ENDPOINT
  start upper reply --bind 'tcp://127.0.0.1:*' --count 2 --exec 'printf "%s:" "$WEFT_SUBJECT"; tr a-z A-Z' 'svc.>'
  local upper=$PID
  endpoint_of upper
  local upper_ep=$ENDPOINT
  [[ $("$WEFT" req --connect "$fixed_ep" --wait "$DEADLINE_S" svc.time 'what time?' 2>"$WORK/req.err") == \
    'it is noon' ]] || fail "req got the wrong reply"
  [[ $("$WEFT" req --connect "$upper_ep" --wait "$DEADLINE_S" svc.upper hello 2>>"$WORK/req.err") == \
    'svc.upper:HELLO' ]] || fail "req got the wrong reply from --exec"
  [[ $("$WEFT" req --connect "$upper_ep" --wait "$DEADLINE_S" svc.lower 'two words' 2>>"$WORK/req.err") == \
    'svc.lower:TWO WORDS' ]] || fail "req got the wrong second reply from --exec"
  finish "$upper" upper
  expect_status 0 upper
  grep -q '^answered 2 requests' "$WORK/upper.err" || fail "no reply summary"
  # Nobody subscribes to this subject: an answer at once, not a timeout.
  local started=$SECONDS
  "$WEFT" req --connect "$fixed_ep" --wait 0.5 --timeout 30 nobody.home hi >/dev/null 2>"$WORK/req.err"
  STATUS=$?
  expect_status 1 req
  grep -q 'no responders' "$WORK/req.err" || fail "req did not say 'no responders'"
  ((SECONDS - started < 10)) || fail "no responders took as long as a timeout"
  # A responder that never answers: a timeout.
  start mute sub --bind 'tcp://127.0.0.1:*' quiet.svc
  endpoint_of mute
  "$WEFT" req --connect "$ENDPOINT" --wait "$DEADLINE_S" --timeout 0.5 quiet.svc hi >/dev/null 2>"$WORK/req.err"
  STATUS=$?
  expect_status 1 req
  grep -qi 'timeout\|no reply' "$WORK/req.err" || fail "req did not report the timeout"
}

# A message no consumer can handle lands in the publisher's dead-letter queue after --max-deliver;
# `weft dlq --data-dir` shows it.
test_dlq() {
  printf 'poison\n' >"$WORK/input"
  start_pub pub "$WORK/input" --bind 'tcp://127.0.0.1:*' --reliable --json --data-dir "$WORK/data" \
    --wait "$DEADLINE_S" --timeout 10 bill.x
  local pub=$PID
  endpoint_of pub
  # Its stdout is full: it cannot print, so it naks; with --max-deliver 1 that is the last attempt.
  "$WEFT" sub --connect "$ENDPOINT" --queue billing --max-deliver 1 --raw 'bill.>' >/dev/full 2>"$WORK/sub.err" &
  PIDS+=("$!")
  finish "$pub" pub
  expect_status 1 pub
  [[ $(json_field "$WORK/pub.json" dead_lettered) -eq 1 ]] || fail "pub did not dead-letter the message"
  "$WEFT" dlq ls --data-dir "$WORK/data" >"$WORK/dlq.out" 2>&1 || fail "weft dlq ls exited $?"
  grep -q '1 dead letter' "$WORK/dlq.out" || fail "dlq ls: $(cat "$WORK/dlq.out")"
  "$WEFT" dlq show --data-dir "$WORK/data" >"$WORK/dlq.out" 2>&1 || fail "weft dlq show exited $?"
  grep -q 'poison' "$WORK/dlq.out" || fail "dlq show does not show the payload: $(cat "$WORK/dlq.out")"
}

# The network drops every packet of the publisher's ports (its data port and its control channel, which carries
# at-least-once deliveries and acknowledgements), both ways, for 2 s in the middle of a reliable
# stream to a durable subscriber: once it heals, nothing acknowledged is missing and nothing is lost. Runs in a
# network namespace of its own (unshare -n), so the nftables rule touches no other traffic; needs root.
test_netfault() {
  if [[ $(id -u) -ne 0 ]] || ! command -v nft >/dev/null || ! command -v unshare >/dev/null ||
    ! command -v ip >/dev/null || ! command -v ss >/dev/null; then
    skip "netfault needs root, nft, unshare, ip and ss"
  fi
  # In the background, so that a TERM for this script ends the wait at once (and on_cleanup passes it on).
  unshare -n bash "$0" "$WEFT" netfault_in_namespace &
  NESTED=$!
  local status=0
  wait "$NESTED" || status=$?
  NESTED=
  ((status == 0)) || fail "the case failed in its namespace"
}

test_netfault_in_namespace() {
  ip link set lo up || fail "cannot bring lo up in the namespace"
  seq 1 2000 >"$WORK/input"
  start_pub pub "$WORK/input" --bind 'tcp://127.0.0.1:*' --reliable --json --wait "$DEADLINE_S" --timeout 14 \
    --rate 500 net.x
  local pub=$PID
  endpoint_of pub
  start sub sub --connect "$ENDPOINT" --durable netcut --ack-wait 1 --raw 'net.>'
  local sub=$PID
  wait_until has_lines 300 "$WORK/sub.out" || fail "the subscriber printed fewer than 300 before the cut"
  # Every tcp port the publisher listens on: the data port it printed and its control channel.
  local ports
  ports=$(ss -Hltnp | grep "pid=$pub," | awk '{print $4}' | sed 's/.*://' | sort -u | paste -sd, -)
  [[ $ports == *,* ]] || fail "expected the publisher's data and control ports, found '$ports'"
  nft add table inet weft_fault &&
    nft add chain inet weft_fault out '{ type filter hook output priority 0; policy accept; }' &&
    nft add rule inet weft_fault out tcp dport "{ $ports }" drop &&
    nft add rule inet weft_fault out tcp sport "{ $ports }" drop || fail "cannot install the nftables rules"
  local at_cut
  at_cut=$(lines_in "$WORK/sub.out")
  pause 2  # the length of the cut, not a synchronisation
  local during=$(($(lines_in "$WORK/sub.out") - at_cut))
  nft delete table inet weft_fault || fail "cannot remove the nftables rules"
  finish "$pub" pub
  expect_status 0 pub
  kill "$sub"
  finish "$sub" sub
  echo "netfault: $at_cut printed before the 2 s cut of ports $ports, $during during it;" \
    "pub redelivered $(json_field "$WORK/pub.json" redelivered)"
  check_delivery netfault 2000 "$WORK/sub.out"
}

ALL_CASES=(help usage_errors durable unacknowledged queue queue_kill queue_stop durable_restart stream_kill
           persist_restart reqreply dlq netfault)
[[ -x $WEFT ]] || { echo "not an executable: $WEFT" >&2; exit 1; }
run_cases "$@"
