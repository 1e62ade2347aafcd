#!/usr/bin/env bash
# Discovery across network namespaces: "hosts" this test creates and removes, joined by veth pairs to a bridge
# that lives in a namespace of its own (the machine's own network is not touched), with 10.x addresses.
#
#   discovery_netns_test.sh WEFT_BINARY
#
# 1. `weft sub` on host A and `weft pub` on host B, with no endpoint given, find each other by multicast and the
#    message arrives (convergence time printed);
# 2. a third host C sees both with `weft peers`, and a fourth, D, with no multicast route, through a seed;
# 3. cutting B's link expires it on A within the expiry time, and restoring the link brings it back with
#    messages flowing again;
# 4. B's publisher killed with SIGKILL expires, and started again is admitted and heard (times printed).
# Needs root and `ip netns`; exits 77 (skipped) without them. Bounded: about 10 s on a quiet machine, 60 s at most.
set -u -o pipefail

WEFT=${1:?usage: discovery_netns_test.sh WEFT_BINARY}
readonly WEFT
readonly DEADLINE_S=15
readonly INTERVAL=0.2  # beacon interval, seconds: expiry after 3.5 of them

# shellcheck source=../integration/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"
[[ $(id -u) -eq 0 ]] || skip "not root"
command -v ip >/dev/null || skip "no ip command"
[[ -x $WEFT ]] || { echo "not an executable: $WEFT" >&2; exit 1; }

remove_orphan_namespaces wd
readonly TAG="wd$$"                      # every name carries the test's PID
readonly SW="${TAG}sw"                   # the namespace that holds the bridge
readonly HOSTS=(a b c d)  # d has no multicast route: it joins through a seed
readonly NET="10.$((200 + $$ % 50)).$(($$ / 50 % 250))"
make_work weft-netns
on_cleanup() {
  local h
  for h in "${HOSTS[@]}"; do ip netns del "${TAG}$h" 2>/dev/null; done
  ip netns del "$SW" 2>/dev/null
}

# The network: a bridge in $SW, and per host a namespace with eth0 (a veth to the bridge) at $NET.N/24.
ip netns add "$SW" 2>/dev/null || skip "cannot create network namespaces"
ip -n "$SW" link add br0 type bridge || skip "no bridge support"
ip -n "$SW" link set br0 up
ip -n "$SW" link set lo up
n=1
for h in "${HOSTS[@]}"; do
  ns="${TAG}$h"
  ip netns add "$ns" || fail "ip netns add $ns"
  ip -n "$SW" link add "port-$h" type veth peer name eth0 netns "$ns" || skip "no veth support"
  ip -n "$SW" link set "port-$h" master br0 up
  ip -n "$ns" link set lo up
  ip -n "$ns" addr add "$NET.$n/24" dev eth0
  ip -n "$ns" link set eth0 up
  [[ $h == d ]] || ip -n "$ns" route add 224.0.0.0/4 dev eth0
  n=$((n + 1))
done

CLUSTER="netns-$$"
disc=(--cluster "$CLUSTER" --interface eth0 --beacon-interval "$INTERVAL")
start_on() {  # start_on NAME HOST ARGS...: weft ARGS in the host's namespace, in the background; sets PID
  local name=$1 host=$2
  shift 2
  spawn "$name" ip netns exec "${TAG}$host" "$WEFT" "$@"
}

# 1. Two hosts, no endpoint: convergence and delivery.
t0=$(now_ms)
start_on sub a sub "${disc[@]}" --raw 'n.>'
start_on pub b pub "${disc[@]}" --name pub-b --wait "$DEADLINE_S" --rate 10 --count 100000 n.x from-b
PUB=$PID
wait_until has_line sub.out '^from-b$' || fail "A did not receive B's messages"
echo "time: sub on A and pub on B started to first message delivered: $(($(now_ms) - t0)) ms"

# 2. A third host sees both, at their 10.x addresses.
ip netns exec "${TAG}c" "$WEFT" peers "${disc[@]}" --min 2 --wait "$DEADLINE_S" --json >"$WORK/peers.out" \
  2>"$WORK/peers.err" || fail "weft peers on C found fewer than 2 peers"
grep -q "\"connected\":\"tcp://$NET.2:" "$WORK/peers.out" || fail "C does not reach B at $NET.2"
grep -q "\"connected\":\"tcp://$NET.1:" "$WORK/peers.out" || fail "C does not reach A at $NET.1"
# 2b. Host D, without multicast, learns the cluster from one seed (A's host, the shared port) and gossip.
t0=$(now_ms)
ip netns exec "${TAG}d" "$WEFT" peers --cluster "$CLUSTER" --beacon-interval "$INTERVAL" --no-multicast \
  --seed "$NET.1" --min 2 --wait "$DEADLINE_S" --json >"$WORK/seeded.out" 2>"$WORK/seeded.err" ||
  fail "weft peers on D (seed only) found fewer than 2 peers"
echo "time: D, seed only, saw A and B after $(($(now_ms) - t0)) ms"
grep -q "\"connected\":\"tcp://$NET.2:" "$WORK/seeded.out" || fail "D does not reach B at $NET.2"

# 3. Cut B's link: A expires it; restore it: B is back and its messages flow again.
start_on watch a peers "${disc[@]}" --watch --json
wait_until has_line watch.out '"event":"joined".*"name":"pub-b"' || fail "A's watcher did not see B join"
t0=$(now_ms)
ip -n "$SW" link set port-b down
wait_until has_line watch.out '"event":"left","reason":"expired".*"name":"pub-b"' || fail "B did not expire on A"
echo "time: B's link cut to B expired on A: $(($(now_ms) - t0)) ms (interval ${INTERVAL} s, expiry 3.5 intervals)"
lines_before=$(wc -l <"$WORK/sub.out")
t0=$(now_ms)
ip -n "$SW" link set port-b up
rejoined() { [[ $(grep -c '"event":"joined".*"name":"pub-b"' "$WORK/watch.out") -ge 2 ]]; }
wait_until rejoined || fail "B did not come back on A after its link was restored"
echo "time: B's link restored to B re-admitted on A: $(($(now_ms) - t0)) ms"
more_lines() { [[ $(wc -l <"$WORK/sub.out") -gt $((lines_before + 2)) ]]; }
wait_until more_lines || fail "B's messages did not flow again"
echo "time: B's link restored to messages flowing again: $(($(now_ms) - t0)) ms"

# 4. B's publisher killed with SIGKILL and started again (a new node id and incarnation): expired, re-admitted,
#    and its messages reach A.
kill_now "$PUB"
t0=$(now_ms)
expired_twice() { [[ $(grep -c '"event":"left","reason":"expired".*"name":"pub-b"' "$WORK/watch.out") -ge 2 ]]; }
wait_until expired_twice || fail "the killed publisher did not expire on A"
echo "time: B's publisher killed to expired on A: $(($(now_ms) - t0)) ms"
t0=$(now_ms)
start_on pub2 b pub "${disc[@]}" --name pub-b --wait "$DEADLINE_S" --rate 10 --count 100000 n.x again-b
wait_until has_line sub.out '^again-b$' || fail "A did not receive the restarted publisher's messages"
echo "time: B's publisher restarted to its first message on A: $(($(now_ms) - t0)) ms"
echo "PASS: discovery across network namespaces"
