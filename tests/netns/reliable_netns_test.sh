#!/usr/bin/env bash
# At-least-once delivery between two "hosts": network namespaces this test creates and removes, joined by a veth
# pair with 10.x addresses (the machine's own network is not touched). A `weft pub --reliable` in one streams
# to a `weft sub --durable` in the other while nftables, inside the subscriber's namespace, breaks the link:
#
#   cut    every packet dropped both ways for 5 s in the middle of the stream, then healed
#   loss   30% of the packets dropped at random, both ways, for 20 s of the stream
#
#   reliable_netns_test.sh WEFT_BINARY CASE
#
# Each case prints sent, received, unique, duplicates and lost, and fails unless lost = 0 (duplicates are
# allowed: at least once). Needs root, `ip netns` and nftables; exits 77 (skipped) without them. Every wait is a
# deadline loop on a condition; the only pauses are the fault windows themselves. Names carry the PID, so
# parallel runs do not collide; the trap removes the namespaces and kills only the processes started here.
set -u -o pipefail

WEFT=${1:?usage: reliable_netns_test.sh WEFT_BINARY CASE}
CASE=${2:?usage: reliable_netns_test.sh WEFT_BINARY CASE}
readonly WEFT CASE
readonly DEADLINE_S=15

# shellcheck source=../integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
FAIL_FILES=("*.err" "pub.out")
[[ $(id -u) -eq 0 ]] || skip "needs root (it creates network namespaces and nftables rules)"
command -v ip >/dev/null || skip "no ip command (iproute2)"
command -v nft >/dev/null || skip "no nft command (nftables)"
[[ -x $WEFT ]] || { echo "not an executable: $WEFT" >&2; exit 1; }

remove_orphan_namespaces wr
readonly TAG="wr$$"          # every name carries the test's PID
readonly NS_PUB="${TAG}pub"  # the publisher's host
readonly NS_SUB="${TAG}sub"  # the subscriber's host, where the faults are made
readonly NET="10.$((150 + $$ % 50)).$(($$ / 50 % 250))"
make_work weft-reliable-netns
on_cleanup() {
  ip netns del "$NS_PUB" 2>/dev/null
  ip netns del "$NS_SUB" 2>/dev/null
}

# start_in NAME NAMESPACE ARGS...: `weft ARGS` in NAMESPACE in the background (`ip netns exec` execs it, so PID
# is weft's own), stdin from NAME.in if present, stdout to NAME.out, stderr to NAME.err; sets PID.
start_in() {
  local name=$1 ns=$2
  shift 2
  spawn "$name" ip netns exec "$ns" "$WEFT" "$@"
}

# The two hosts: eth0 in each, the ends of one veth pair, at $NET.1 (publisher) and $NET.2 (subscriber).
make_hosts() {
  ip netns add "$NS_PUB" 2>/dev/null || skip "cannot create network namespaces"
  ip netns add "$NS_SUB" || fail "ip netns add $NS_SUB"
  ip -n "$NS_PUB" link add eth0 type veth peer name eth0 netns "$NS_SUB" || skip "no veth support"
  local ns n=1
  for ns in "$NS_PUB" "$NS_SUB"; do
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$NET.$n/24" dev eth0
    ip -n "$ns" link set eth0 up
    n=$((n + 1))
  done
  ip netns exec "$NS_SUB" nft add table inet weft_probe 2>/dev/null &&
    ip netns exec "$NS_SUB" nft delete table inet weft_probe || skip "nftables does not work in a namespace"
  can_ping() { ip netns exec "$NS_SUB" ping -c 1 -W 1 "$NET.1" >/dev/null 2>&1; }
  command -v ping >/dev/null && { wait_until can_ping || fail "the hosts cannot reach each other"; }
}

# fault RULE: drops the packets RULE (an nftables statement prefix) selects on the subscriber's eth0, both
# ways; heal removes it.
fault() {
  ip netns exec "$NS_SUB" nft -f - <<EOF || fail "cannot install the nftables rules"
table inet weft_fault {
  chain in { type filter hook input priority 0; policy accept; iifname "eth0" $1 drop; }
  chain out { type filter hook output priority 0; policy accept; oifname "eth0" $1 drop; }
}
EOF
}
heal() { ip netns exec "$NS_SUB" nft delete table inet weft_fault || fail "cannot remove the nftables rules"; }
dropped_packets() {  # the packets the fault rules dropped so far, both ways
  ip netns exec "$NS_SUB" nft list table inet weft_fault 2>/dev/null |
    awk '{ for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) } END { print n + 0 }'
}

# start_stream NAME COUNT RATE TIMEOUT: a reliable publisher on the publisher's host and a durable subscriber on
# the other; returns once the subscriber printed its first 300. The subscriber's --max-deliver is high: every
# ack wait that runs out while the link is bad counts as a delivery, and with the default of 5 a lossy link
# dead-letters messages the subscriber never had a fair chance to acknowledge (the publisher counts that as a
# failure, not a loss; this test is about loss).
start_stream() {
  local name=$1 count=$2 rate=$3 timeout=$4
  seq 1 "$count" >"$WORK/pub.in"
  start_in pub "$NS_PUB" pub --bind "tcp://$NET.1:*" --reliable --json --wait "$DEADLINE_S" --timeout "$timeout" \
    --rate "$rate" "net.$name"
  PUB=$PID
  endpoint_of pub
  start_in sub "$NS_SUB" sub --connect "$ENDPOINT" --control-bind "tcp://$NET.2:*" --durable "$name" --ack-wait 1 \
    --max-deliver 1000 --raw 'net.>'
  SUB=$PID
  wait_until has_lines 300 "$WORK/sub.out" || fail "the subscriber printed fewer than 300 before the fault"
}

# end_stream NAME COUNT SECONDS: waits up to SECONDS for the publisher to have every message acknowledged,
# stops the subscriber and checks what it printed.
end_stream() {
  local name=$1 count=$2 seconds=$3
  finish "$PUB" pub "$seconds"
  expect_status 0 pub
  kill "$SUB"
  finish "$SUB" sub
  echo "$name: pub redelivered $(json_field "$WORK/pub.out" redelivered), acknowledged" \
    "$(json_field "$WORK/pub.out" acknowledged) in $(json_field "$WORK/pub.out" seconds) s; sub: $(tail -n 1 "$WORK/sub.err")"
  check_delivery "$name" "$count" "$WORK/sub.out"
}

# Every packet between the hosts dropped for 5 s: longer than the 3 s after which the publisher counts the
# subscriber gone and the subscriber registers again, and than the 1 s ack wait.
test_cut() {
  local count=2500
  start_stream cut "$count" 250 30
  local at_cut started=$SECONDS
  at_cut=$(lines_in "$WORK/sub.out")
  fault "counter"
  pause 5  # the length of the cut, not a synchronisation
  local during=$(($(lines_in "$WORK/sub.out") - at_cut)) dropped
  dropped=$(dropped_packets)
  heal
  local healed=$SECONDS
  more() { (($(lines_in "$WORK/sub.out") > at_cut + during)); }
  wait_until more || fail "nothing arrived within ${DEADLINE_S} s of healing the cut"
  echo "cut: $at_cut printed before the 5 s cut, $during during it ($dropped packets dropped);" \
    "the stream went on $((SECONDS - healed)) s after healing"
  end_stream cut "$count" 60
  echo "cut: $((SECONDS - started)) s from the cut to the end"
}

# 30% of the packets between the hosts dropped at random, both ways, for 20 s of the stream.
test_loss() {
  local count=2500
  start_stream loss "$count" 100 60
  local at_start started=$SECONDS
  at_start=$(lines_in "$WORK/sub.out")
  fault "numgen random mod 100 < 30 counter"
  pause 20  # the length of the lossy period, not a synchronisation
  local during=$(($(lines_in "$WORK/sub.out") - at_start)) dropped
  dropped=$(dropped_packets)
  heal
  echo "loss: $at_start printed before 20 s of 30% loss, $during during it ($dropped packets dropped)"
  end_stream loss "$count" 90
  echo "loss: $((SECONDS - started)) s from the start of the loss to the end"
}

case_setup() { make_hosts; }
run_cases "$CASE"
