#!/usr/bin/env bash
# `weft pub`, `weft sub` and `weft peers` finding each other by discovery, as real processes, with no endpoint
# given. Everything stays on this host: beacons by multicast on 127.0.0.1 (--interface), a cluster name and a
# beacon port of the test's own, so that runs at once do not meet. Skipped (77) where multicast does not loop
# back on 127.0.0.1.
#
#   cli_discovery_test.sh WEFT_BINARY [CASE...]
#
# Every wait is a deadline loop on a condition; cleanup kills only the processes this script started.
set -u -o pipefail

WEFT=${1:?usage: cli_discovery_test.sh WEFT_BINARY [CASE...]}
shift
readonly WEFT
readonly DEADLINE_S=15

# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FAIL_FROM="head"
make_work weft-disc-test

# A free UDP port (the kernel's pick, released at once) and a multicast check on loopback.
free_udp_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
multicast_on_loopback() {
  python3 - "$(free_udp_port)" <<'PY'
import socket, sys
port = int(sys.argv[1]); group = "239.255.76.58"
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); r.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
r.bind(("", port))
r.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton(group) + socket.inet_aton("127.0.0.1"))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton("127.0.0.1"))
s.sendto(b"weft?", (group, port)); r.settimeout(1); r.recvfrom(16)
PY
}

CLUSTER="cli-$$-$RANDOM"
PORT=$(free_udp_port)
# The flags every process of a case shares: its own cluster and port, loopback only, fast beacons.
disc() { echo --cluster "$CLUSTER" --discovery-port "$PORT" --interface 127.0.0.1 --beacon-interval 0.1; }

# Each case ends the processes it started (SIGTERM): the next one must not meet them.
case_teardown() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  PIDS=()
}

test_help() {
  "$WEFT" peers --help >"$WORK/help.out" || fail "peers --help exited $?"
  for want in '--watch' '--json' '--cluster' '--seed' 'AGE' 'STATE' 'Examples'; do
    grep -q -- "$want" "$WORK/help.out" || fail "peers --help does not mention $want"
  done
  # (Into files first: grep -q closing the pipe early would fail the pipeline.)
  "$WEFT" pub --help >"$WORK/pub-help.out" && grep -q -- '--no-discovery' "$WORK/pub-help.out" ||
    fail "pub --help does not mention --no-discovery"
  "$WEFT" sub --help >"$WORK/sub-help.out" && grep -q 'Discovery:' "$WORK/sub-help.out" ||
    fail "sub --help does not explain discovery"
  "$WEFT" --help >"$WORK/weft-help.out" && grep -q '^  peers ' "$WORK/weft-help.out" ||
    fail "weft --help does not list peers"
}

expect_usage_error() {  # expect_usage_error PATTERN ARGS...
  local pattern=$1
  shift
  "$WEFT" "$@" >"$WORK/usage.out" 2>"$WORK/usage.err"
  STATUS=$?
  [[ $STATUS -eq 2 ]] || fail "weft $* exited $STATUS, expected 2"
  grep -q -- "$pattern" "$WORK/usage.err" || fail "weft $*: stderr does not match '$pattern'"
}

test_usage_errors() {
  expect_usage_error "--no-discovery contradicts" sub --no-discovery --cluster x 'a.>'
  expect_usage_error "--cluster must be 1 to 64" sub --cluster "$(printf 'x%.0s' {1..65})" 'a.>'
  expect_usage_error "--discovery-port must be" pub --discovery-port 0 a.b hi
  expect_usage_error "--beacon-interval must be" peers --beacon-interval 0.001
  expect_usage_error "--no-multicast needs at least one --seed" peers --no-multicast
  expect_usage_error "--min must be 0 or more" peers --min -1
  expect_usage_error "unrecognised option '--no-discovery'" peers --no-discovery
  "$WEFT" peers --cluster x --seed 'not a seed:x' --wait 0 >"$WORK/bad.out" 2>"$WORK/bad.err"
  STATUS=$?
  [[ $STATUS -ne 0 ]] || fail "a malformed --seed was accepted"
  grep -q 'seed' "$WORK/bad.err" || fail "the error does not name the seed"
}

# A subscriber and a publisher with no endpoint: they find each other and the message arrives.
test_pubsub() {
  local t0
  t0=$(now_ms)
  start sub sub $(disc) --count 1 'disc.>'
  local sub=$PID
  wait_until has_line sub.err '^discovering peers in cluster' || fail "sub does not say it discovers"
  "$WEFT" pub $(disc) --wait "$DEADLINE_S" disc.hello 'found you' 2>"$WORK/pub.err" || fail "pub exited $?"
  finish "$sub" sub
  [[ $STATUS -eq 0 ]] || fail "sub exited $STATUS"
  grep -qx 'found you' "$WORK/sub.out" || fail "the message did not arrive"
  echo "time: sub start to message delivered: $(($(now_ms) - t0)) ms"
}

# weft peers: the table and --json name the running nodes; --min returns as soon as they are there.
test_peers() {
  start a sub $(disc) --name node-a 'x.>'
  start b pub $(disc) --name node-b --wait 100 --rate 2 --count 100000 x.y hi
  local t0
  t0=$(now_ms)
  "$WEFT" peers $(disc) --min 2 --wait "$DEADLINE_S" >"$WORK/table.out" 2>"$WORK/table.err" || fail "peers exited $?"
  echo "time: weft peers saw 2 peers after $(($(now_ms) - t0)) ms"
  head -n 1 "$WORK/table.out" | grep -Eq '^NAME +ID +HOST +AGE +STATE +ENDPOINTS$' || fail "no table header"
  grep -Eq '^node-a +[0-9a-f]{16} +.* alive +tcp://127\.0\.0\.1:[0-9]+' "$WORK/table.out" || fail "node-a missing"
  grep -Eq '^node-b +[0-9a-f]{16} ' "$WORK/table.out" || fail "node-b missing"
  "$WEFT" peers $(disc) --min 2 --wait "$DEADLINE_S" --json >"$WORK/json.out" 2>"$WORK/json.err" ||
    fail "peers --json exited $?"
  python3 - "$WORK/json.out" <<'PY' || fail "peers --json is wrong"
import json, sys
peers = [json.loads(line) for line in open(sys.argv[1])]
names = sorted(p["name"] for p in peers)
assert names == ["node-a", "node-b"], names
for p in peers:
    assert set(p) == {"name", "id", "incarnation", "host", "endpoints", "connected", "same_host", "age_ms", "state"}, p
    assert p["state"] == "alive" and p["same_host"] is True and len(p["id"]) == 16, p
    assert any(e["kind"] == "publish" for e in p["endpoints"]), p
    assert p["connected"].startswith("tcp://127.0.0.1:"), p
PY
  # Another cluster on the same port sees none of them.
  "$WEFT" peers --cluster "other-$CLUSTER" --discovery-port "$PORT" --interface 127.0.0.1 --beacon-interval 0.1 \
    --wait 0.5 --min 1 >"$WORK/other.out" 2>"$WORK/other.err" && fail "another cluster saw peers"
  true
}

# --watch --json: joins and leaves as they happen; a killed node expires, a restarted one joins, and messages
# flow again to a subscriber that stayed.
test_expiry_restart() {
  start watch peers $(disc) --watch --json
  start sub sub $(disc) --name the-sub --raw 'r.>'
  start pub1 pub $(disc) --name the-pub --wait 100 --rate 20 --count 100000 r.x one
  local pub1=$PID
  wait_until has_line sub.out '^one$' || fail "the first publisher's messages did not arrive"
  wait_until has_line watch.out '"event":"joined".*"name":"the-pub"' || fail "no joined event for the-pub"
  local t0
  t0=$(now_ms)
  kill_now "$pub1"
  wait_until has_line watch.out '"event":"left","reason":"expired".*"name":"the-pub"' || fail "the-pub did not expire"
  echo "time: killed publisher expired after $(($(now_ms) - t0)) ms (beacon interval 100 ms, expiry 3.5 intervals)"
  t0=$(now_ms)
  start pub2 pub $(disc) --name the-pub --wait 100 --rate 20 --count 100000 r.x two
  wait_until has_line sub.out '^two$' || fail "the restarted publisher's messages did not arrive"
  echo "time: restarted publisher to its first message delivered: $(($(now_ms) - t0)) ms"
  [[ $(grep -c '"event":"joined".*"name":"the-pub"' "$WORK/watch.out") -ge 2 ]] || fail "no second joined event"
}

ALL_CASES=(help usage_errors pubsub peers expiry_restart)
[[ -x $WEFT ]] || { echo "not an executable: $WEFT" >&2; exit 1; }
multicast_on_loopback 2>/dev/null || skip "multicast does not loop back on 127.0.0.1 here"
run_cases "$@"
