#!/usr/bin/env bash
# Interop test: Weft (interop_node, public API only) against python_peer.py, a peer written from
# docs/wire-protocol.md with plain pyzmq and msgpack. Both directions, over tcp and ipc, after the peer has
# checked the document's own hex examples.
#
#   interop_test.sh INTEROP_NODE PYTHON_PEER WIRE_PROTOCOL_MD [COUNT]
#
# Exit status: 0 passed, 1 failed, 77 skipped (python3 lacks pyzmq or msgpack: Debian's python3-zmq and
# python3-msgpack). WEFT_PYTHON names the interpreter to use, if not python3.
set -uo pipefail

if [[ $# -lt 3 ]]; then
  echo "usage: $0 INTEROP_NODE PYTHON_PEER WIRE_PROTOCOL_MD [COUNT]" >&2
  exit 2
fi
node_bin=$1
peer=$2
doc=$3
count=${4:-1000}

python=
for candidate in "${WEFT_PYTHON:-}" python3 /usr/bin/python3; do
  if [[ -n $candidate ]] && "$candidate" -c 'import zmq, msgpack' 2>/dev/null; then
    python=$candidate
    break
  fi
done
if [[ -z $python ]]; then
  echo "SKIP: the interop test needs python3 with pyzmq and msgpack (apt-get install python3-zmq python3-msgpack)"
  exit 77
fi

workdir=$(mktemp -d "${TMPDIR:-/tmp}/weft-interop.XXXXXX")
node_pid=""  # the interop_node this script started and has not yet waited for: the only process it may kill
cleanup() {
  if [[ -n $node_pid ]]; then
    kill "$node_pid" 2>/dev/null
    wait "$node_pid" 2>/dev/null
  fi
  rm -rf "$workdir"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL $1"
  failures=$((failures + 1))
}

# run NAME MODE ENDPOINT: starts interop_node in MODE (publish or receive) bound at ENDPOINT, reads the endpoint
# it prints, runs the Python peer against it, then waits for the node.
run() {
  local name=$1 mode=$2 endpoint=$3
  local in_fifo=$workdir/$name.in out_fifo=$workdir/$name.out log=$workdir/$name.log
  mkfifo "$in_fifo" "$out_fifo"
  "$node_bin" "$mode" "$endpoint" "$count" <"$in_fifo" >"$out_fifo" 2>"$log" &
  node_pid=$!
  local to_node from_node
  exec {to_node}>"$in_fifo" {from_node}<"$out_fifo"

  local bound="" stream="" peer_rc=1
  if ! read -r -t 20 -u "$from_node" bound stream || [[ -z $bound ]]; then
    echo "interop_node printed no endpoint within 20 s"
  elif [[ $mode == publish ]]; then
    "$python" "$peer" subscribe --endpoint "$bound" --count "$count" --stream "$stream"
    peer_rc=$?
  else
    "$python" "$peer" publish --endpoint "$bound" --count "$count"
    peer_rc=$?
  fi
  [[ $peer_rc -eq 0 ]] || kill "$node_pid" 2>/dev/null
  exec {to_node}>&- {from_node}<&-  # a publishing node stays up until its stdin closes: the subscriber is done
  wait "$node_pid"
  local node_rc=$?
  node_pid=""
  sed 's/^/  /' "$log"
  if [[ $peer_rc -eq 0 && $node_rc -eq 0 ]]; then
    echo "ok   $name"
  else
    fail "$name (python peer exit $peer_rc, interop_node exit $node_rc)"
  fi
}

echo "python: $python ($("$python" -c 'import zmq, msgpack; print("pyzmq", zmq.__version__, "libzmq",
  zmq.zmq_version(), "msgpack", ".".join(map(str, msgpack.version)))'))"
if "$python" "$peer" selftest --doc "$doc"; then echo "ok   document examples"; else fail "document examples"; fi
run weft-to-python-tcp publish "tcp://127.0.0.1:*"
run python-to-weft-tcp receive "tcp://127.0.0.1:*"
run weft-to-python-ipc publish "ipc://$workdir/w2p.ipc"
run python-to-weft-ipc receive "ipc://$workdir/p2w.ipc"

if [[ $failures -ne 0 ]]; then
  echo "$failures interop check(s) failed"
  exit 1
fi
echo "all interop checks passed"
